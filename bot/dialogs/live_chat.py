"""Talk to a colleague: a live chat through the ticket's topic in the staff group, or, outside
office hours, the question left as a ticket.

- During office hours (`[office_hours]`, the provider's time zone, public holidays closed) the
  customer's question opens a `live_chat` ticket; from then on everything they send goes to
  it — to the colleague — and not to the knowledge base, until they type /stop (or /menu,
  /start), the colleague types /back, or the colleague hands it off as a queued ticket
  (/ticket). The ticket itself says whether the chat is live (`Ticket.live`), so a restart
  or a colleague's command changes it in one place.
- Nobody picks it up within `live_chat_wait_minutes`: the customer is told so honestly, once,
  and offered to leave it as a ticket (`LiveChatWatch`); nothing they wrote is lost.
- Outside office hours: when the colleagues are back, in words ("morgen om 9:00"), and the
  question left as a ticket right away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from aiogram import Dispatcher, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from pydantic import Field

from bot.conversation import Conversation, keyboard, message_of
from bot.dialog import Dialog, Dialogs
from bot.media import RELAYED, media_of
from bot.menu import MenuCb, MenuEntry
from bot.services import Services
from knowledge.dates import format_weekday_date
from storage.outbox import Notice
from tickets.models import Category, Status, Ticket
from tickets.service import subject_of

log = logging.getLogger(__name__)

MAX_ID = 2**63 - 1
SWEEP_EVERY = 15.0  # seconds between looks for live chats nobody picked up
# Commands that end a live chat before they do what they always do.
LEAVING = ("stop", "menu", "start")


class LiveCb(CallbackData, prefix="lc"):
    """ask: leave a question as a ticket; ticket: leave the unanswered live chat as a ticket;
    wait: keep waiting for a colleague."""

    action: str
    ticket: Annotated[int, Field(ge=0, le=MAX_ID)] = 0


class LiveStates(StatesGroup):
    question = State()  # the next message is the question (data: mode live|ticket)


# --- office hours ----------------------------------------------------------------------------


def office(services: Services, lang: str) -> dict[str, Any]:
    """Whether colleagues are at work now, and else when they are back, in words."""
    now = services.now()
    opening = services.next_opening(now)
    if opening is not None and opening == now:
        return {"open": True, "back_when": None, "back_day": None, "back_time": None}
    if opening is None:
        return {"open": False, "back_when": None, "back_day": None, "back_time": None}
    days = (opening.date() - now.date()).days
    return {
        "open": False,
        "back_when": {0: "today", 1: "tomorrow"}.get(days),
        "back_day": format_weekday_date(opening.date(), lang).removesuffix(
            f", {opening.year}").removesuffix(f" {opening.year}"),
        "back_time": f"{opening.hour}:{opening.minute:02d}",
    }


# --- starting ----------------------------------------------------------------------------------


async def start(conv: Conversation, edit: Message | None) -> None:
    """The menu entry and the deep link `medewerker`: ask the question (the chat or the
    ticket comes after it)."""
    await offer(conv, edit=edit)


async def offer(conv: Conversation, *, edit: Message | None, question: str | None = None,
                context: dict[str, Any] | None = None) -> None:
    """In office hours: fetch a colleague (with `question` at once, else ask it first).
    Outside: say when they are back and offer to leave the question as a ticket."""
    hours = office(conv.services, conv.lang)
    if not conv.services.config.telegram.staff_chat_id:
        # No staff group (the console, a bot not set up yet): nobody could see a live chat,
        # so the question is left as a ticket, which `balie tickets` shows.
        if question is not None:
            await file_question(conv, question, context or {}, source=None)
            return
        await conv.state.set_state(LiveStates.question)
        await conv.state.set_data({"mode": "ticket", "context": context or {}})
        await conv.show(conv.t("live_chat/ask_ticket"), edit=edit)
        return
    if hours["open"]:
        if question is not None:
            await open_chat(conv, question, context or {}, source=None)
            return
        await conv.state.set_state(LiveStates.question)
        await conv.state.set_data({"mode": "live", "context": context or {}})
        await conv.show(conv.t("live_chat/ask"), edit=edit)
        return
    await conv.state.set_state(None)
    await conv.state.set_data({"asked": question, "context": context or {}}
                              if question is not None else {})
    rows = [[(conv.t.label("live_chat.ask_ticket"), LiveCb(action="ask").pack())],
            [(conv.t.label("live_chat.menu"), MenuCb(key="menu").pack())]]
    await conv.show(conv.t("live_chat/closed", **hours), keyboard(rows), edit=edit)


async def context_of(conv: Conversation) -> dict[str, Any]:
    """What the customer last did in the bot, for the colleague: their last question and the
    article it got."""
    last = await conv.services.questions.last(conv.user.id)
    if last is None:
        return {}
    text, article = last
    context: dict[str, Any] = {"last_question": text}
    if article:
        context["article"] = article
    return context


async def open_chat(conv: Conversation, question: str, context: dict[str, Any], *,
                    source: tuple[int, int] | None, media: str | None = None) -> None:
    context = {**await context_of(conv), **context}
    key = f"live:{conv.chat_id}:{source[1]}" if source else None

    def confirm(ticket: Ticket) -> list[Notice]:
        return conv.notices(conv.t("live_chat/waiting", ticket=ticket))

    await conv.state.clear()
    await conv.services.ticket_service.open_live_chat(
        customer=conv.customer(), question=question, context=context, source=source,
        media=media, idempotency_key=key, confirm=confirm)


async def file_question(conv: Conversation, question: str, context: dict[str, Any], *,
                        source: tuple[int, int] | None, media: str | None = None,
                        key: str | None = None) -> None:
    """The question as a `question` ticket (outside office hours, or nobody could answer);
    `key` (else the message it came in) files it once however often it is asked."""
    context = {**await context_of(conv), **context}
    hours = office(conv.services, conv.lang)
    key = key or (f"question:{conv.chat_id}:{source[1]}" if source else None)

    def confirm(ticket: Ticket) -> list[Notice]:
        return conv.notices(conv.t("live_chat/filed", ticket=ticket, **hours))

    await conv.state.clear()
    service = conv.services.ticket_service
    async with conv.services.database.transaction():
        ticket, created = await service.open_ticket(
            category=Category.QUESTION, customer=conv.customer(),
            subject=subject_of(f"Vraag: {question.strip()}", "Vraag"), fields=context,
            idempotency_key=key, confirm=confirm)
        if created and question:
            await service.customer_wrote(ticket.id, conv.user.id, question,
                                         author_name=conv.customer().name, source=source,
                                         media=media)


# --- the live chat ------------------------------------------------------------------------------


async def live_ticket(message: Message, services: Services) -> dict[str, Any] | bool:
    """Filter: this customer is chatting live (their messages go to the colleague)."""
    if message.from_user is None or message.chat.type != "private":
        return False
    ticket = await services.tickets.live_chat_of(message.from_user.id)
    return {"live": ticket} if ticket is not None else False


def router() -> Router:
    live = Router(name="live_chat")

    @live.message(live_ticket)
    async def on_live(message: Message, conv: Conversation, live: Ticket,
                      dialogs: Dialogs) -> None:
        """Everything the customer sends while chatting goes to the colleague (one look at
        the database per message, through the partial index on live tickets)."""
        text = message.text or ""
        if text.startswith("/"):
            command = text.split()[0][1:].split("@")[0].lower()
            if command not in LEAVING:
                raise SkipHandler()  # /help, /taal … work as always during a chat
            await conv.services.ticket_service.end_live_chat(live.id, actor="customer")
            await conv.say(conv.t("live_chat/stopped", ticket=live))
            if command != "stop":
                raise SkipHandler()  # /menu and /start also do what they always do
            from bot.dialogs.start import show_menu

            await show_menu(conv, dialogs.menu)
            return
        if str(getattr(message.content_type, "value", message.content_type)) not in RELAYED:
            await conv.say(conv.t("live_chat/cannot_relay"))
            return
        await conv.services.ticket_service.customer_wrote(
            live.id, conv.user.id, message.text or message.caption or "",
            author_name=conv.customer().name, source=(message.chat.id, message.message_id),
            media=media_of(message))

    @live.message(StateFilter(LiveStates.question), F.text.startswith("/"))
    async def on_command_instead(message: Message) -> None:
        raise SkipHandler()  # the start router's commands

    @live.message(StateFilter(LiveStates.question), F.content_type.in_(RELAYED))
    async def on_question(message: Message, conv: Conversation) -> None:
        data = await conv.state.get_data()
        question = message.text or message.caption or ""
        source = (message.chat.id, message.message_id)
        if data.get("mode") == "live" and office(conv.services, conv.lang)["open"]:
            await open_chat(conv, question, data.get("context", {}), source=source,
                            media=media_of(message))
        else:
            await file_question(conv, question, data.get("context", {}), source=source,
                                media=media_of(message))

    @live.callback_query(LiveCb.filter())
    async def on_press(query: CallbackQuery, callback_data: LiveCb,
                       conv: Conversation) -> None:
        services = conv.services
        if callback_data.action == "ask":
            await query.answer()
            data = await conv.state.get_data()
            asked = data.get("asked")
            if isinstance(asked, str) and asked:
                pressed = message_of(query)
                await conv.drop_buttons(pressed.message_id if pressed else None)
                await file_question(conv, asked, data.get("context", {}), source=None)
                return
            await conv.state.set_state(LiveStates.question)
            await conv.state.set_data({"mode": "ticket"})
            await conv.show(conv.t("live_chat/ask_ticket"), edit=message_of(query))
            return
        ticket = await services.tickets.get_for_customer(callback_data.ticket, conv.user.id) \
            if callback_data.ticket else None
        if ticket is None or callback_data.action not in ("ticket", "wait"):
            await query.answer(conv.t.label("form.stale"))
            return
        await query.answer()
        edit = message_of(query)
        await conv.drop_buttons(edit.message_id if edit else None)
        if callback_data.action == "wait" or not ticket.live:
            if ticket.live:
                await conv.say(conv.t("live_chat/kept_waiting"))
            return
        await services.ticket_service.hand_off(ticket.id, actor="customer")

    return live


# --- nobody picked it up ---------------------------------------------------------------------


class LiveChatWatch:
    """Every few seconds: live chats nobody picked up within `live_chat_wait_minutes` get
    their customer told, once (through the outbox, with the change)."""

    def __init__(self, services: Services, every: float = SWEEP_EVERY) -> None:
        self.services = services
        self.every = every
        self._task: asyncio.Task[None] | None = None

    def attach(self, dispatcher: Dispatcher) -> None:
        async def on_startup() -> None:
            self._task = asyncio.create_task(self._run(), name="live-chat-watch")

        async def on_shutdown() -> None:
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

        dispatcher.startup.register(on_startup)
        dispatcher.shutdown.register(on_shutdown)

    async def sweep(self, now: datetime | None = None) -> list[int]:
        """Tell the customers of unanswered live chats; the tickets told."""
        wait = timedelta(minutes=self.services.config.office_hours.live_chat_wait_minutes)
        cutoff = ((now or datetime.now(UTC)) - wait).astimezone(UTC)
        told = []
        for ticket in await self.services.tickets.unanswered_live_chats(
                cutoff.isoformat(timespec="seconds")):
            if ticket.status != Status.CLOSED and \
                    await self.services.ticket_service.live_chat_unanswered(ticket.id):
                told.append(ticket.id)
        if told:
            log.info("live chats nobody picked up in time: %s", told)
        return told

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.sweep()
            except Exception:
                log.exception("live chat watch: could not look at the live chats")


async def on_leave(conv: Conversation) -> None:
    """The customer goes elsewhere in the bot (a menu button, another dialog): a live chat
    ends first, and both sides are told, so what they type next is not sent to a colleague."""
    ticket = await conv.services.tickets.live_chat_of(conv.user.id)
    if ticket is not None:
        await conv.services.ticket_service.end_live_chat(ticket.id, actor="customer")
        await conv.say(conv.t("live_chat/stopped", ticket=ticket))


ENTRIES = (MenuEntry("colleague", 60, start, deep_links=("medewerker", "colleague")),)
DIALOG = Dialog("live_chat", router, entries=ENTRIES, on_leave=on_leave)
