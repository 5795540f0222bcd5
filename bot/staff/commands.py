"""The colleagues' commands in the staff group and the buttons on a ticket's card.

In a ticket's topic a command acts on that ticket; anywhere else it takes the ticket's number
first (`/close 12 reason`). Every change goes through the ticket service, which writes it, its
audit event and whatever the customer and the card must show in one transaction; a handler here
only answers the colleague (a short reply, or the button's answer).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.conversation import TRANSIENT
from bot.services import Services
from bot.staff.callbacks import StaffCb
from bot.staff.context import StaffContext
from bot.unit import current_unit
from storage.outbox import Notice
from tickets import reports
from tickets.models import Category, Priority, Status, Ticket, TransitionError
from tickets.service import AlreadyClaimed, ConcurrentChange, TicketNotFound, TicketService

log = logging.getLogger(__name__)

# What a customer might type in a private chat, too: refused there (see bot.dialogs.start).
STAFF_COMMANDS = ("claim", "unclaim", "close", "reopen", "note", "prio", "wait", "queue",
                  "stats", "back", "ticket")
TICKET_ACTIONS = ("claim", "unclaim", "wait", "close", "reopen", "prio")
PRIORITY_WORDS = {
    "low": Priority.LOW, "laag": Priority.LOW,
    "normal": Priority.NORMAL, "normaal": Priority.NORMAL,
    "high": Priority.HIGH, "hoog": Priority.HIGH,
    "urgent": Priority.URGENT, "spoed": Priority.URGENT,
}
# /ticket [category]: the words a colleague may type (Dutch and English).
CATEGORY_WORDS = {
    "vraag": Category.QUESTION, "question": Category.QUESTION,
    "opzegging": Category.CANCELLATION, "opzeggen": Category.CANCELLATION,
    "cancellation": Category.CANCELLATION, "cancel": Category.CANCELLATION,
    "betaling": Category.PAYMENT_ARRANGEMENT, "betalingsregeling": Category.PAYMENT_ARRANGEMENT,
    "payment": Category.PAYMENT_ARRANGEMENT,
    "per-ongeluk": Category.ACCIDENTAL_CANCELLATION, "spoed": Category.ACCIDENTAL_CANCELLATION,
    "accidental": Category.ACCIDENTAL_CANCELLATION,
}
MAX_ID = 2**63 - 1  # SQLite INTEGER
QUEUE_PAGE = 20
MAX_QUEUE_PAGE = 10_000
STATS_DAYS = 30
MAX_STATS_DAYS = 3650
_TICKET_NUMBER = re.compile(r"#?(\d+)")


def refuse_in_private(text: str, user_id: int) -> None:
    """A customer typed a command in their private chat: when it is a staff command, log it
    (they get the ordinary "unknown command" answer; nothing acts on a ticket)."""
    command = text.split(maxsplit=1)[0][1:].partition("@")[0].lower() if text.strip() else ""
    if command in STAFF_COMMANDS:
        log.warning("refused the staff command /%s from user %s in a private chat", command,
                    user_id)


def ticket_number(word: str) -> int | None:
    """`12` or `#12` as a ticket id within SQLite's range; None otherwise."""
    found = _TICKET_NUMBER.fullmatch(word.strip())
    if found is None or len(found.group(1)) > 19:
        return None
    number = int(found.group(1))
    return number if 1 <= number <= MAX_ID else None


def topic_link(chat_id: int, topic_id: int | None) -> str | None:
    """https://t.me/c/<chat id without -100>/<topic id>: opens the topic for a member."""
    if topic_id is None:
        return None
    internal = str(-chat_id)
    return f"https://t.me/c/{internal.removeprefix('100')}/{topic_id}"


@dataclass(frozen=True)
class Outcome:
    """What an action on a ticket came to: `key` names the reply (the template
    staff/commands/<key> for a command, the label staff_commands.answer.<key> for a button)."""

    key: str
    ticket: Ticket
    extra: dict[str, Any] = field(default_factory=dict)


async def perform(service: TicketService, ticket: Ticket, action: str, colleague: str, *,
                  value: str = "", source: tuple[int, int] | None = None) -> Outcome:
    """One colleague's action on a ticket, through the ticket service."""
    actor = f"colleague:{colleague}"
    try:
        if action == "claim":
            if ticket.assignee == colleague:
                return Outcome("already_yours", ticket)
            return Outcome("claimed", await service.claim(ticket.id, colleague))
        if action == "unclaim":
            if ticket.assignee is None:
                return Outcome("not_claimed", ticket)
            return Outcome("unclaimed", await service.unclaim(ticket.id, colleague),
                           {"previous": ticket.assignee})
        if action == "close":
            if ticket.status == Status.CLOSED:
                if source is not None and await service.closed_by(ticket.id, source):
                    return Outcome("closed", ticket, {"reason": value})  # a redelivery
                return Outcome("already_closed", ticket)
            closed = await service.close(ticket.id, colleague, value or None, source=source)
            return Outcome("closed", closed, {"reason": value})
        if action == "reopen":
            if ticket.status != Status.CLOSED:
                return Outcome("not_closed", ticket)
            return Outcome("reopened", await service.set_status(ticket.id, Status.OPEN,
                                                                actor=actor))
        if action == "wait":
            if ticket.status == Status.WAITING_ON_CUSTOMER:
                return Outcome("already_waiting", ticket)
            return Outcome("waiting", await service.set_status(
                ticket.id, Status.WAITING_ON_CUSTOMER, actor=actor))
        if action == "prio":
            return Outcome("priority_set", await service.set_priority(
                ticket.id, Priority(value), actor=actor))
    except AlreadyClaimed as claimed:
        return Outcome("already_claimed", ticket, {"assignee": claimed.assignee})
    except TransitionError:
        return Outcome("forbidden", await service.store.get(ticket.id), {"action": action})
    except ConcurrentChange:
        return Outcome("changed", ticket)
    except TicketNotFound:
        return Outcome("unknown_ticket", ticket, {"number": ticket.id})
    raise ValueError(f"unknown action {action!r}")


@dataclass
class Desk:
    """One colleague's turn in the staff group: the texts in the colleagues' language."""

    bot: Bot
    services: Services
    staff: StaffContext

    @property
    def lang(self) -> str:
        return self.services.config.languages.default

    def text(self, template: str, /, **context: Any) -> str:
        return self.services.texts.render(self.lang, f"staff/commands/{template}", **context)

    def label(self, key: str, /, **context: Any) -> str:
        return self.services.texts.label(self.lang, f"staff_commands.{key}", **context)

    def outcome_text(self, outcome: Outcome) -> str:
        return self.text(outcome.key, ticket=outcome.ticket, **outcome.extra)

    def outcome_label(self, outcome: Outcome) -> str:
        return self.label(f"answer.{outcome.key}", id=outcome.ticket.id,
                          status=self.label(f"status.{outcome.ticket.status}"),
                          priority=self.label(f"priority.{outcome.ticket.priority}"),
                          assignee=outcome.extra.get("assignee", ""))

    async def reply(self, message: Message, text: str,
                    rows: Sequence[Sequence[tuple[str, str]]] = ()) -> None:
        """Answer in the topic the command came from; when Telegram cannot be reached in
        time, the answer waits in the outbox (with the update) instead of being lost."""
        markup = _markup(rows)
        try:
            await message.answer(text, reply_markup=markup)
        except TRANSIENT as error:
            log.warning("Telegram did not take a reply in the staff group (%s); it waits in "
                        "the outbox", type(error).__name__)
            notice = Notice(message.chat.id, text, tuple(tuple(row) for row in rows),
                            thread_id=self.staff.topic_id)
            unit = current_unit.get()
            if unit is not None and unit.open:
                unit.later.append(notice)
            else:
                await self.services.outbox.put(notice)

    def priority_rows(self, ticket: Ticket) -> list[list[tuple[str, str]]]:
        """The priority chooser: one row, the current priority marked."""
        return [[(self.label("prio.current" if priority == ticket.priority else "prio.other",
                             priority=self.label(f"priority.{priority}")),
                  StaffCb(action="prio", ticket=ticket.id, value=str(priority)).pack())
                 for priority in reversed(Priority)]]

    async def queue(self, page: int) -> tuple[str, list[list[tuple[str, str]]]]:
        """A page of the queue (open tickets, by priority then age) and its paging buttons."""
        total = await reports.open_count(self.services.database)
        pages = max(1, math.ceil(total / QUEUE_PAGE))
        page = min(max(page, 0), pages - 1)
        tickets = await self.services.tickets.list(
            statuses=reports.OPEN_STATUSES, limit=QUEUE_PAGE, offset=page * QUEUE_PAGE)
        now = self.services.now()
        entries = [{"ticket": ticket,
                    "link": topic_link(self.staff.chat_id, ticket.topic_id),
                    "age": reports.Span.of(
                        (now - datetime.fromisoformat(ticket.created_at)).total_seconds())}
                   for ticket in tickets]
        text = self.text("queue", entries=entries, total=total, page=page + 1, pages=pages,
                         first=page * QUEUE_PAGE + 1)
        paging: list[tuple[str, str]] = []
        if page > 0:
            paging.append((self.label("queue.previous"),
                           StaffCb(action="queue", value=str(page - 1)).pack()))
        if page + 1 < pages:
            paging.append((self.label("queue.next"),
                           StaffCb(action="queue", value=str(page + 1)).pack()))
        return text, [paging] if paging else []


def _markup(rows: Sequence[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup | None:
    filled = [[InlineKeyboardButton(text=label, callback_data=data) for label, data in row]
              for row in rows if row]
    return InlineKeyboardMarkup(inline_keyboard=filled) if filled else None


def _without_chooser(markup: InlineKeyboardMarkup | None) -> list[list[InlineKeyboardButton]]:
    """A keyboard's rows without the priority chooser's row."""
    rows = markup.inline_keyboard if markup is not None else []
    return [row for row in rows
            if not any((button.callback_data or "").startswith("st:prio:") and
                       not (button.callback_data or "").endswith(":") for button in row)]


async def _ticket_of(desk: Desk, message: Message, command: CommandObject
                     ) -> tuple[Ticket | None, str]:
    """The ticket a command is about (the topic's, else the number it starts with) and the
    rest of its arguments; None after telling the colleague what was missing."""
    args = (command.args or "").strip()
    if desk.staff.topic_id is not None:
        ticket = await desk.services.tickets.by_topic(desk.staff.topic_id)
        if ticket is not None:
            return ticket, args
    first, _, rest = args.partition(" ")
    if not _TICKET_NUMBER.fullmatch(first):
        await desk.reply(message, desk.text("which_ticket", command=command.command))
        return None, ""
    number = ticket_number(first)
    if number is None:
        await desk.reply(message, desk.text("unknown_ticket", number=first))
        return None, ""
    try:
        ticket = await desk.services.tickets.get(number)
    except TicketNotFound:
        await desk.reply(message, desk.text("unknown_ticket", number=first))
        return None, ""
    return ticket, rest.strip()


def router() -> Router:
    commands = Router(name="staff_commands")

    def desk(bot: Bot, services: Services, staff: StaffContext) -> Desk:
        return Desk(bot, services, staff)

    @commands.message(Command("claim", "unclaim", "reopen", "wait", "close"))
    async def on_simple(message: Message, command: CommandObject, bot: Bot,
                        services: Services, staff: StaffContext) -> None:
        """`rest`: the close reason (the other actions take none)."""
        here = desk(bot, services, staff)
        ticket, rest = await _ticket_of(here, message, command)
        if ticket is None:
            return
        outcome = await perform(services.ticket_service, ticket, command.command.lower(),
                                staff.name, value=rest,
                                source=(message.chat.id, message.message_id))
        log.info("ticket=%d /%s by %s: %s", ticket.id, command.command, staff.colleague.id,
                 outcome.key)
        await here.reply(message, here.outcome_text(outcome))

    @commands.message(Command("note"))
    async def on_note(message: Message, command: CommandObject, bot: Bot,
                      services: Services, staff: StaffContext) -> None:
        here = desk(bot, services, staff)
        ticket, text = await _ticket_of(here, message, command)
        if ticket is None:
            return
        if not text:
            await here.reply(message, here.text("note_empty", ticket=ticket))
            return
        await services.ticket_service.internal_note(
            ticket.id, staff.name, text, source=(message.chat.id, message.message_id))
        log.info("ticket=%d internal note by %s", ticket.id, staff.colleague.id)
        await here.reply(message, here.text("noted", ticket=ticket))

    @commands.message(Command("back"))
    async def on_back(message: Message, command: CommandObject, bot: Bot,
                      services: Services, staff: StaffContext) -> None:
        """A live chat goes back to the bot (both sides are told, by the notifier)."""
        here = desk(bot, services, staff)
        ticket, _ = await _ticket_of(here, message, command)
        if ticket is None:
            return
        if not ticket.live:
            await here.reply(message, here.text("not_live", ticket=ticket))
            return
        await services.ticket_service.end_live_chat(ticket.id,
                                                    actor=f"colleague:{staff.name}")
        log.info("ticket=%d /back by %s", ticket.id, staff.colleague.id)

    @commands.message(Command("ticket"))
    async def on_hand_off(message: Message, command: CommandObject, bot: Bot,
                          services: Services, staff: StaffContext) -> None:
        """A live chat becomes a queued ticket for follow-up, with its transcript."""
        here = desk(bot, services, staff)
        ticket, word = await _ticket_of(here, message, command)
        if ticket is None:
            return
        if ticket.category != Category.LIVE_CHAT:
            await here.reply(message, here.text("not_live", ticket=ticket))
            return
        category = CATEGORY_WORDS.get(word.lower().strip(), None) if word else Category.QUESTION
        if category is None:
            await here.reply(message, here.text("category_unknown", ticket=ticket, word=word,
                                                words=sorted(CATEGORY_WORDS)))
            return
        await services.ticket_service.hand_off(ticket.id, actor=f"colleague:{staff.name}",
                                               category=category)
        log.info("ticket=%d /ticket %s by %s", ticket.id, category, staff.colleague.id)

    @commands.message(Command("prio"))
    async def on_priority(message: Message, command: CommandObject, bot: Bot,
                          services: Services, staff: StaffContext) -> None:
        here = desk(bot, services, staff)
        ticket, word = await _ticket_of(here, message, command)
        if ticket is None:
            return
        if not word:
            await here.reply(message, here.text("priority_choose", ticket=ticket),
                             here.priority_rows(ticket))
            return
        priority = PRIORITY_WORDS.get(word.lower())
        if priority is None:
            await here.reply(message, here.text("priority_unknown", ticket=ticket, word=word))
            return
        outcome = await perform(services.ticket_service, ticket, "prio", staff.name,
                                value=str(priority))
        await here.reply(message, here.outcome_text(outcome))

    @commands.message(Command("queue"))
    async def on_queue(message: Message, bot: Bot, services: Services,
                       staff: StaffContext) -> None:
        here = desk(bot, services, staff)
        text, rows = await here.queue(0)
        await here.reply(message, text, rows)

    @commands.message(Command("stats"))
    async def on_stats(message: Message, command: CommandObject, bot: Bot,
                       services: Services, staff: StaffContext) -> None:
        here = desk(bot, services, staff)
        word = (command.args or "").strip()
        days = int(word) if word.isdecimal() and len(word) <= 4 else None
        if word and (days is None or not 1 <= days <= MAX_STATS_DAYS):
            await here.reply(message, here.text("stats_usage", word=word,
                                                most=MAX_STATS_DAYS))
            return
        stats = await reports.stats(services.database, now=services.now(),
                                    days=days or STATS_DAYS)
        await here.reply(message, here.text("stats", stats=stats))

    @commands.callback_query(StaffCb.filter(F.action == "queue"))
    async def on_queue_page(query: CallbackQuery, callback_data: StaffCb, bot: Bot,
                            services: Services, staff: StaffContext) -> None:
        here = desk(bot, services, staff)
        value = callback_data.value
        if not (value.isdecimal() and len(value) <= 5 and int(value) <= MAX_QUEUE_PAGE) \
                or not isinstance(query.message, Message):
            await _stale(query, here, "a queue page out of range")
            return
        text, rows = await here.queue(int(value))
        await query.answer()
        try:
            await query.message.edit_text(text, reply_markup=_markup(rows))
        except TelegramBadRequest as error:
            if "not modified" not in error.message:
                log.info("could not show queue page %s (%s)", value, error.message)

    @commands.callback_query(StaffCb.filter(F.action.in_(TICKET_ACTIONS)))
    async def on_ticket_button(query: CallbackQuery, callback_data: StaffCb, bot: Bot,
                               services: Services, staff: StaffContext) -> None:
        here = desk(bot, services, staff)
        action, value = callback_data.action, callback_data.value
        if not 1 <= callback_data.ticket <= MAX_ID:
            await _stale(query, here, "a ticket id out of range")
            return
        if action == "prio" and value and value not in tuple(Priority):
            await _stale(query, here, "an unknown priority")
            return
        try:
            ticket = await services.tickets.get(callback_data.ticket)
        except TicketNotFound:
            await _stale(query, here, f"no ticket {callback_data.ticket}")
            return
        if action == "prio" and not value:
            await _toggle_chooser(query, here, ticket)
            return
        outcome = await perform(services.ticket_service, ticket, action, staff.name,
                                value=value)
        log.info("ticket=%d button %s by %s: %s", ticket.id, action, staff.colleague.id,
                 outcome.key)
        await query.answer(here.outcome_label(outcome))
        if action == "prio":
            await _drop_chooser(query)

    @commands.callback_query(F.data.startswith(f"{StaffCb.__prefix__}:"))
    async def on_forged(query: CallbackQuery, bot: Bot, services: Services,
                        staff: StaffContext) -> None:
        await _stale(query, desk(bot, services, staff), "unreadable or unknown")

    return commands


async def _stale(query: CallbackQuery, desk: Desk, why: str) -> None:
    log.warning("refused a staff button from user %s (%s): %r", query.from_user.id, why,
                (query.data or "")[:64])
    await query.answer(desk.label("answer.stale"))


async def _toggle_chooser(query: CallbackQuery, desk: Desk, ticket: Ticket) -> None:
    """The card's priority button shows (or hides again) a row with the four priorities."""
    await query.answer()
    if not isinstance(query.message, Message):
        return
    current = query.message.reply_markup
    rows = _without_chooser(current)
    if current is None or len(rows) == len(current.inline_keyboard):
        rows = rows + [[InlineKeyboardButton(text=label, callback_data=data)
                        for label, data in row] for row in desk.priority_rows(ticket)]
    await _set_rows(query.message, rows)


async def _drop_chooser(query: CallbackQuery) -> None:
    if not isinstance(query.message, Message):
        return
    await _set_rows(query.message, _without_chooser(query.message.reply_markup))


async def _set_rows(message: Message, rows: list[list[InlineKeyboardButton]]) -> None:
    try:
        await message.edit_reply_markup(
            reply_markup=InlineKeyboardMarkup(inline_keyboard=rows) if rows else None)
    except TelegramBadRequest as error:
        if "not modified" not in error.message:
            log.info("could not change the buttons of message %s (%s)", message.message_id,
                     error.message)
    except TRANSIENT as error:  # cosmetic: the card is redrawn when the ticket changes
        log.info("could not change the buttons of message %s (%s)", message.message_id,
                 type(error).__name__)
