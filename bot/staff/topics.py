"""A forum topic per ticket in the staff group, opened with the ticket's card.

The outbox worker (bot/delivery.py) calls the desk for everything that goes into a ticket's
topic. The topic is created the first time the ticket needs it — with its card, and closed
if the ticket is — and recreated the same way when it was deleted (`gone`), so items that
waited in the outbox meanwhile are delivered into the new topic, in order. All of it goes
through the worker's rate-limited `call`: the group's 20 messages a minute hold for topics and
cards too, and the staff group's items go out one at a time, so no topic is created twice.

A crash between Telegram creating a topic and the ticket storing it leaves at most one extra
(empty) topic, like the outbox's at-most-one duplicate.

Card and topic name are rendered when they go out, from the ticket as it is then: a card
edit that waited behind a rate limit shows the latest state, never an older one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import (
    CloseForumTopic,
    CreateForumTopic,
    EditForumTopic,
    EditMessageText,
    ReopenForumTopic,
    SendMessage,
)
from aiogram.methods.base import TelegramMethod
from aiogram.types import ForumTopic, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.types import Message as TelegramMessage

from bot import telegram_html
from bot.staff.callbacks import StaffCb
from bot.staff.words import FieldWords
from bot.texts import Texts, clip
from knowledge.dates import format_date
from storage.database import Database
from storage.outbox import OutboxItem
from tickets.models import Priority, Status, Ticket
from tickets.service import TicketService
from tickets.store import TicketStore

log = logging.getLogger(__name__)

Call = Callable[[int, TelegramMethod[Any]], Awaitable[Any]]
TOPIC_NAME_LIMIT = 128
NOT_MODIFIED = ("topic_not_modified", "message is not modified")
CARD_GONE = ("message to edit not found", "message can't be edited")
OPEN = (Status.OPEN, Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER)
# Topic icon colours Telegram allows, by priority (blue, green, yellow, red).
ICON_COLORS = {Priority.LOW: 0x6FB9F0, Priority.NORMAL: 0x8EEE98,
               Priority.HIGH: 0xFFD67E, Priority.URGENT: 0xFB6F5F}


def topic_link(chat_id: int, thread_id: int) -> str:
    """A link colleagues can tap to open a topic (private supergroups: t.me/c/…)."""
    internal = str(chat_id).removeprefix("-100")
    return f"https://t.me/c/{internal}/{thread_id}"


class TopicDesk:
    def __init__(self, staff_chat_id: int, service: TicketService, texts: Texts,
                 lang: str) -> None:
        self.chat_id = staff_chat_id
        self.service = service
        self.texts = texts
        self.lang = lang
        self.words = FieldWords(texts, lang)

    @property
    def store(self) -> TicketStore:
        return self.service.store

    @property
    def database(self) -> Database:
        return self.service.database

    # --- what the worker asks ---------------------------------------------------------------

    async def thread_for(self, ticket_id: int, call: Call) -> int:
        """The ticket's topic, created (with its card) when it has none."""
        ticket = await self.store.get(ticket_id)
        thread = ticket.topic_id
        if thread is None:
            created: ForumTopic = await call(self.chat_id, CreateForumTopic(
                chat_id=self.chat_id, name=self.name(ticket),
                icon_color=ICON_COLORS[ticket.priority]))
            thread = created.message_thread_id
            await self.service.set_topic(ticket.id, thread)
            log.info("ticket %d: topic %d created", ticket.id, thread)
            if ticket.status == Status.CLOSED:
                await self._quietly(call, CloseForumTopic(chat_id=self.chat_id,
                                                          message_thread_id=thread))
            ticket = await self.store.get(ticket_id)
        if ticket.card_message_id is None:
            await self._send_card(ticket, thread, call)
        return thread

    async def deliver(self, item: OutboxItem, call: Call) -> int | None:
        """Items of kind `card` and `topic`; the message id or thread id it concerns."""
        if item.ticket_id is None:
            raise ValueError("a card or topic item without its ticket")
        had_card = (await self.store.get(item.ticket_id)).card_message_id is not None
        thread = await self.thread_for(item.ticket_id, call)
        ticket = await self.store.get(item.ticket_id)
        if item.kind == "card":
            if had_card and ticket.card_message_id is not None:
                await self._edit_card(ticket, thread, call)
            return ticket.card_message_id
        await self._quietly(call, EditForumTopic(
            chat_id=self.chat_id, message_thread_id=thread, name=self.name(ticket)))
        if item.payload.get("close") and ticket.status == Status.CLOSED:
            await self._quietly(call, CloseForumTopic(chat_id=self.chat_id,
                                                      message_thread_id=thread))
        elif item.payload.get("reopen") and ticket.status != Status.CLOSED:
            await self._quietly(call, ReopenForumTopic(chat_id=self.chat_id,
                                                       message_thread_id=thread))
        return thread

    async def gone(self, ticket_id: int, reason: str) -> None:
        """Its topic was deleted: forget it, so the next try creates a new one."""
        log.warning("ticket %d: its topic is gone (%s); it will be recreated", ticket_id,
                    reason)
        await self.service.topic_lost(ticket_id, reason)

    async def refused(self, item: OutboxItem, reason: str, *, rejected: bool = False) -> None:
        """Telegram refused a message to a customer for good (blocked), or rejected it as
        written: kept on the ticket and told in its topic (the worker's `on_refused`)."""
        if item.ticket_id is None or item.chat_id == self.chat_id:
            return
        await self.service.undelivered(item.ticket_id, reason, rejected=rejected,
                                       message_id=item.thread_message_id)

    # --- the card and the name ----------------------------------------------------------------

    def name(self, ticket: Ticket) -> str:
        mark = self.label(f"staff.mark.{ticket.status}")
        if ticket.priority == Priority.URGENT and ticket.status != Status.CLOSED:
            mark = self.label("staff.mark.urgent") + mark
        name = self.label("staff.topic", id=ticket.id, mark=mark, subject=ticket.subject)
        return clip(" ".join(name.split()), TOPIC_NAME_LIMIT)

    async def card(self, ticket: Ticket) -> tuple[str, InlineKeyboardMarkup]:
        others = [other for other in await self.store.list(
            statuses=OPEN, customer_id=ticket.customer.telegram_id, limit=11)
            if other.id != ticket.id][:10]
        text = self.texts.render(
            self.lang, "staff/card", ticket=ticket,
            mark=self.label(f"staff.mark.{ticket.status}"),
            category=self.label(f"staff.category.{ticket.category}"),
            status=self.label(f"staff.status.{ticket.status}"),
            priority=self.label(f"staff.priority.{ticket.priority}"),
            urgent=ticket.priority == Priority.URGENT,
            fields=self.words.fields(ticket.fields),
            others=others,
            other_status={other.id: self.label(f"staff.status.{other.status}")
                          for other in others},
            opened=self._moment(ticket.created_at),
        )
        return telegram_html.split(text)[0], self.buttons(ticket)  # the card is one message

    def buttons(self, ticket: Ticket) -> InlineKeyboardMarkup:
        def button(action: str, label: str, value: str = "") -> InlineKeyboardButton:
            return InlineKeyboardButton(text=label, callback_data=StaffCb(
                action=action, ticket=ticket.id, value=value).pack())

        if ticket.status == Status.CLOSED:
            return InlineKeyboardMarkup(inline_keyboard=[
                [button("reopen", self.label("staff.button.reopen"))]])
        first = [button("unclaim", self.label("staff.button.unclaim")) if ticket.assignee
                 else button("claim", self.label("staff.button.claim"))]
        if ticket.status != Status.WAITING_ON_CUSTOMER:
            first.append(button("wait", self.label("staff.button.wait")))
        first.append(button("close", self.label("staff.button.close")))
        # The priority button opens a chooser on the card (bot/staff/commands.py).
        priority = button("prio", self.label(
            "staff.button.prio", priority=self.label(f"staff.priority.{ticket.priority}")))
        return InlineKeyboardMarkup(inline_keyboard=[first, [priority]])

    def label(self, key: str, /, **context: Any) -> str:
        return self.texts.label(self.lang, key, **context)

    def _moment(self, stamp: str) -> str:
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError:
            return stamp
        return format_date(moment.date(), self.lang)

    # --- Telegram ---------------------------------------------------------------------------

    async def _send_card(self, ticket: Ticket, thread: int, call: Call) -> None:
        text, markup = await self.card(ticket)
        sent: TelegramMessage = await call(self.chat_id, SendMessage(
            chat_id=self.chat_id, message_thread_id=thread, text=text, reply_markup=markup))
        await self.store.set_card(ticket.id, sent.message_id)

    async def _edit_card(self, ticket: Ticket, thread: int, call: Call) -> None:
        text, markup = await self.card(ticket)
        try:
            await call(self.chat_id, EditMessageText(
                chat_id=self.chat_id, message_id=ticket.card_message_id, text=text,
                reply_markup=markup))
        except TelegramBadRequest as error:
            reason = error.message.lower()
            if any(marker in reason for marker in NOT_MODIFIED):
                return
            if not any(marker in reason for marker in CARD_GONE):
                raise
            log.info("ticket %d: its card is gone (%s); sending it anew", ticket.id,
                     error.message)
            await self._send_card(ticket, thread, call)

    async def _quietly(self, call: Call, method: TelegramMethod[Any]) -> None:
        """A topic change that may already be so ("not modified" is success)."""
        try:
            await call(self.chat_id, method)
        except TelegramBadRequest as error:
            if not any(marker in error.message.lower() for marker in NOT_MODIFIED):
                raise
