"""Mijn tickets (product.md §2.6): the customer's own tickets, newest first; one ticket's
thread (paged, never the internal notes) with reply and close; the 1-5 rating after a
colleague closed a ticket (a 1 or 2 asks what went wrong); and "which ticket is this
about?" when a customer with a ticket a colleague is on just writes.

Every ticket id in a button is range-checked by its callback data and looked up as this
customer's own (`TicketStore.get_for_customer`) before anything is shown or done: forged data
gets "this button belongs to an earlier message", never another customer's ticket.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from pydantic import Field

from bot.conversation import Button, Conversation, keyboard, message_of
from bot.dialog import Dialog, Dialogs
from bot.forms import leave
from bot.media import RELAYED, media_of
from bot.menu import MenuCb, MenuEntry
from bot.services import Services
from bot.texts import Texts
from storage.outbox import Notice
from tickets.models import Author, Status, Ticket
from tickets.models import Message as TicketMessage
from tickets.service import ConcurrentChange, TicketNotFound

log = logging.getLogger(__name__)

PAGE = 5  # tickets per page of the list
THREAD_PAGE = 5  # messages per page of a thread
SUBJECT_CLIP = 40  # characters of a subject on a button
WHICH_LIMIT = 3  # tickets offered by "which ticket is this about?"
LOW_RATING = 2  # this or lower asks what went wrong
ACTIVE = (Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER)  # a colleague is on it
TYPED_ENTRY = re.compile(r"^\s*(mijn|my)\s+tickets?\s*[.!?]*\s*$", re.IGNORECASE)


Action = Literal["list", "open", "reply", "close", "closeok", "about", "new", "rate", "skip"]


class MyTicketsCb(CallbackData, prefix="mt"):
    """A press in "Mijn tickets". `ticket` 0: none; `page`: of the list, or of the thread."""

    action: Action
    # Beyond SQLite's integers is no press of ours: it never reaches SQL.
    ticket: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    page: Annotated[int, Field(ge=0, le=10_000)] = 0
    stars: Annotated[int, Field(ge=0, le=5)] = 0


class MyTicketsStates(StatesGroup):
    replying = State()  # the next message goes to `ticket`
    which = State()  # asked which ticket `text` is about
    explaining = State()  # asked what went wrong after a low rating of `ticket`


def rating_buttons(texts: Texts, lang: str, ticket_id: int) -> tuple[tuple[Button, ...], ...]:
    """The 1-5 buttons under the "closed" notice (bot/notices.py puts them there)."""
    return (tuple((texts.label(lang, "my_tickets.stars", stars=stars),
                   MyTicketsCb(action="rate", ticket=ticket_id, stars=stars).pack())
                  for stars in range(1, 6)),)


# --- the list ----------------------------------------------------------------------------------


async def start(conv: Conversation, edit: Message | None) -> None:
    await show_list(conv, 0, edit=edit)


ENTRIES = (MenuEntry("tickets", 70, start, deep_links=("tickets", "mijntickets")),)


def _pages(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))


def _status(conv: Conversation, ticket: Ticket) -> str:
    return conv.t.label(f"my_tickets.status.{ticket.status}")


def _local(conv: Conversation, stamp: str) -> tuple[date, str]:
    """A stored moment (UTC) as the day and time in the provider's time zone."""
    moment = datetime.fromisoformat(stamp).astimezone(ZoneInfo(conv.services.config.rules.timezone))
    return moment.date(), moment.strftime("%H:%M")


async def show_list(conv: Conversation, page: int, *, edit: Message | None) -> None:
    store = conv.services.tickets
    total = await store.count_for_customer(conv.user.id)
    menu = [(conv.t.label("my_tickets.menu"), MenuCb(key="menu").pack())]
    if total == 0:
        await conv.show(conv.t("my_tickets/empty"), keyboard([menu]), edit=edit)
        return
    pages = _pages(total, PAGE)
    page = min(page, pages - 1)
    tickets = await store.for_customer(conv.user.id, limit=PAGE, offset=page * PAGE)
    items = []
    rows: list[list[Button]] = []
    for ticket in tickets:
        day, time = _local(conv, ticket.updated_at)
        items.append({"ticket": ticket, "status": _status(conv, ticket), "day": day,
                      "time": time})
        rows.append([(conv.t.label("my_tickets.open", id=ticket.id,
                                   subject=_short(ticket.subject)),
                      MyTicketsCb(action="open", ticket=ticket.id).pack())])
    rows.append(_nav(conv, "list", 0, page, pages))
    rows.append(menu)
    await conv.show(conv.t("my_tickets/list", items=items, page=page + 1, pages=pages,
                           total=total), keyboard(rows), edit=edit)


def _short(text: str) -> str:
    return text if len(text) <= SUBJECT_CLIP else text[:SUBJECT_CLIP - 1].rstrip() + "…"


def _nav(conv: Conversation, action: Literal["list", "open"], ticket: int, page: int,
         pages: int) -> list[Button]:
    """Paging: the list goes forward in time backwards (page 0 is the newest), so does the
    thread; "older" is the next page."""
    row: list[Button] = []
    if page > 0:
        row.append((conv.t.label(f"my_tickets.newer_{action}"),
                    MyTicketsCb(action=action, ticket=ticket, page=page - 1).pack()))
    if page + 1 < pages:
        row.append((conv.t.label(f"my_tickets.older_{action}"),
                    MyTicketsCb(action=action, ticket=ticket, page=page + 1).pack()))
    return row


# --- one ticket --------------------------------------------------------------------------------


def _who(conv: Conversation, message: TicketMessage) -> str:
    if message.author == Author.CUSTOMER:
        return conv.t.label("my_tickets.you")
    if message.author == Author.COLLEAGUE:
        name = message.author_name.split()
        if conv.services.config.staff.anonymous or not name:
            return conv.t.label("staff.anonymous")
        return name[0]
    return conv.t.label("my_tickets.bot")


async def show_ticket(conv: Conversation, ticket: Ticket, page: int, *,
                      edit: Message | None, closed_now: bool = False) -> None:
    store = conv.services.tickets
    total = await store.count_customer_thread(ticket.id)
    pages = _pages(total, THREAD_PAGE)
    page = min(page, pages - 1)
    newest_first = await store.customer_thread(ticket.id, limit=THREAD_PAGE,
                                               offset=page * THREAD_PAGE)
    messages = []
    for message in reversed(newest_first):
        day, time = _local(conv, message.created_at)
        messages.append({"who": _who(conv, message), "text": message.text,
                         "media": message.media, "day": day, "time": time,
                         "mine": message.author == Author.CUSTOMER})
    day, time = _local(conv, ticket.updated_at)
    closed = ticket.status == Status.CLOSED
    rows: list[list[Button]] = [[
        (conv.t.label("my_tickets.reply"), MyTicketsCb(action="reply", ticket=ticket.id).pack()),
    ]]
    if not closed:
        rows[0].append((conv.t.label("my_tickets.close"),
                        MyTicketsCb(action="close", ticket=ticket.id).pack()))
    rows.append(_nav(conv, "open", ticket.id, page, pages))
    rows.append([(conv.t.label("my_tickets.back"), MyTicketsCb(action="list").pack())])
    await conv.show(conv.t(
        "my_tickets/ticket", ticket=ticket, status=_status(conv, ticket), day=day, time=time,
        messages=messages, page=page + 1, pages=pages, closed=closed, closed_now=closed_now,
        reopen_days=conv.services.config.rules.reopen_days), keyboard(rows), edit=edit)


def forwarded(conv: Conversation, before: Ticket, *, buttons: Sequence[Sequence[Button]] = (),
              edit: Message | None = None) -> Callable[[Ticket], list[Notice]]:
    """Where the customer's message landed (the ticket, reopened, or a follow-up that links
    it), for `customer_wrote(confirm=…)`: told through the outbox, written with the message."""

    def notices(ticket: Ticket) -> list[Notice]:
        text = conv.t("tickets/forwarded", ticket=ticket,
                      follow_up=before.id if ticket.id != before.id else None,
                      reopened=ticket.id == before.id and before.status == Status.CLOSED)
        return conv.notices(text, buttons, edit=edit.message_id if edit else None)

    return notices


def _back(conv: Conversation) -> list[list[Button]]:
    return [[(conv.t.label("my_tickets.back"), MyTicketsCb(action="list").pack())]]


# --- "which ticket is this about?" ------------------------------------------------------------


async def active_tickets(message: Message, services: Services) -> dict[str, Any] | bool:
    """Filter: the customer has tickets a colleague is on (newest first, at most three)."""
    if message.from_user is None:
        return False
    tickets = await services.tickets.list(statuses=ACTIVE, customer_id=message.from_user.id)
    if not tickets:
        return False
    newest = sorted(tickets, key=lambda ticket: ticket.id, reverse=True)[:WHICH_LIMIT]
    return {"active_tickets": newest}


def _not_command(message: Message) -> bool:
    return not (message.text or "").startswith("/")


async def ask_which(conv: Conversation, text: str, source: int, tickets: list[Ticket]) -> None:
    rows: list[list[Button]] = [
        [(conv.t.label("my_tickets.about", id=ticket.id, subject=_short(ticket.subject)),
          MyTicketsCb(action="about", ticket=ticket.id).pack())]
        for ticket in tickets]
    rows.append([(conv.t.label("my_tickets.something_new"), MyTicketsCb(action="new").pack())])
    shown = await conv.say(conv.t("my_tickets/which", text=text, tickets=tickets),
                           keyboard(rows))
    await conv.state.set_state(MyTicketsStates.which)
    await conv.state.set_data({"text": text, "source": source,
                               "tickets": [ticket.id for ticket in tickets],
                               "message_id": shown.message_id if shown else None})


# --- the router --------------------------------------------------------------------------------


def router() -> Router:
    mine = Router(name="my-tickets")

    @mine.message(Command("tickets"))
    async def on_command(message: Message, conv: Conversation) -> None:
        await leave(conv)
        await show_list(conv, 0, edit=None)

    @mine.message(StateFilter(None), F.text.regexp(TYPED_ENTRY))
    async def on_typed(message: Message, conv: Conversation) -> None:
        await show_list(conv, 0, edit=None)

    @mine.message(StateFilter(MyTicketsStates.replying), F.content_type.in_(RELAYED),
                  _not_command)
    async def on_reply(message: Message, conv: Conversation) -> None:
        data = await conv.state.get_data()
        before = await conv.services.tickets.get_for_customer(int(data.get("ticket", 0)),
                                                              conv.user.id)
        await leave(conv)
        if before is None:
            await show_list(conv, 0, edit=None)
            return
        await conv.services.ticket_service.customer_wrote(
            before.id, conv.user.id, message.text or message.caption or "",
            author_name=conv.customer().name, source=(message.chat.id, message.message_id),
            media=media_of(message), confirm=forwarded(conv, before, buttons=_back(conv)))

    @mine.message(StateFilter(MyTicketsStates.explaining), F.text, _not_command)
    async def on_explained(message: Message, conv: Conversation) -> None:
        data = await conv.state.get_data()
        await leave(conv)
        try:
            await conv.services.ticket_service.rating_explained(
                int(data.get("ticket", 0)), conv.user.id, message.text or "",
                author_name=conv.customer().name, source=(message.chat.id, message.message_id),
                confirm=lambda ticket: conv.notices(conv.t("my_tickets/explained")))
        except TicketNotFound:
            return

    @mine.message(StateFilter(MyTicketsStates.which), F.text, _not_command)
    async def on_more_text(message: Message, conv: Conversation, dialogs: Dialogs) -> None:
        """They wrote again instead of choosing: the question is asked about both."""
        data = await conv.state.get_data()
        await leave(conv)
        tickets = [ticket for ticket_id in data.get("tickets", [])
                   if (ticket := await conv.services.tickets.get_for_customer(
                       int(ticket_id), conv.user.id)) is not None]
        text = f"{data.get('text', '')}\n{message.text or ''}".strip()
        if tickets:
            await ask_which(conv, text, int(data.get("source", message.message_id)), tickets)
        else:
            await answer_as_usual(conv, dialogs, text)

    @mine.message(StateFilter(None), F.text, _not_command, active_tickets)
    async def on_free_text(message: Message, conv: Conversation,
                           active_tickets: list[Ticket]) -> None:
        await ask_which(conv, message.text or "", message.message_id, active_tickets)

    @mine.callback_query(MyTicketsCb.filter())
    async def on_press(query: CallbackQuery, callback_data: MyTicketsCb,
                       conv: Conversation, dialogs: Dialogs) -> None:
        edit = message_of(query)
        action = callback_data.action
        if action == "list":
            await query.answer()
            if await conv.state.get_state() in (MyTicketsStates.replying.state,
                                                MyTicketsStates.which.state):
                await conv.state.clear()
            await show_list(conv, callback_data.page, edit=edit)
            return
        ticket = None
        if callback_data.ticket:
            ticket = await conv.services.tickets.get_for_customer(callback_data.ticket,
                                                                  conv.user.id)
        if ticket is None and action != "new":
            if callback_data.ticket:
                log.warning("refused a my-tickets button for ticket %s from user %s",
                            callback_data.ticket, conv.user.id)
            await query.answer(conv.t.label("form.stale"))
            return
        if action == "new":
            handled = await _new(conv, query, dialogs, edit)
        else:
            handled = await PRESSES[action](conv, query, callback_data, ticket, edit)
        if not handled:
            await query.answer(conv.t.label("form.stale"))

    return mine


# --- what each press does (True: handled; False: a stale press) --------------------------------


async def _open(conv: Conversation, query: CallbackQuery, data: MyTicketsCb,
                ticket: Ticket | None, edit: Message | None) -> bool:
    assert ticket is not None
    if await conv.state.get_state() == MyTicketsStates.replying.state:
        await conv.state.clear()  # "cancel" on the reply prompt
    await query.answer()
    await show_ticket(conv, ticket, data.page, edit=edit)
    return True


async def _reply(conv: Conversation, query: CallbackQuery, data: MyTicketsCb,
                 ticket: Ticket | None, edit: Message | None) -> bool:
    assert ticket is not None
    await query.answer()
    await leave(conv)
    await _ask(conv, MyTicketsStates.replying, ticket.id,
               conv.t("my_tickets/reply_prompt", ticket=ticket,
                      closed=ticket.status == Status.CLOSED,
                      reopen_days=conv.services.config.rules.reopen_days),
               "my_tickets.cancel", "open", edit=edit)
    return True


async def _ask(conv: Conversation, state: State, ticket_id: int, text: str, label: str,
               action: Action, *, edit: Message | None = None) -> None:
    """Ask for a text about a ticket (`state` takes it), with one button (`label` → `action`):
    a reply, or what went wrong after a low rating."""
    button = [[(conv.t.label(label), MyTicketsCb(action=action, ticket=ticket_id).pack())]]
    shown = await conv.show(text, keyboard(button), edit=edit)
    await conv.state.set_state(state)
    await conv.state.set_data({"ticket": ticket_id,
                               "message_id": shown.message_id if shown else None})


async def _close(conv: Conversation, query: CallbackQuery, data: MyTicketsCb,
                 ticket: Ticket | None, edit: Message | None) -> bool:
    assert ticket is not None
    if ticket.status == Status.CLOSED:
        return False
    await query.answer()
    rows = [[(conv.t.label("my_tickets.close_yes"),
              MyTicketsCb(action="closeok", ticket=ticket.id).pack()),
             (conv.t.label("my_tickets.close_no"),
              MyTicketsCb(action="open", ticket=ticket.id).pack())]]
    await conv.show(conv.t("my_tickets/close_confirm", ticket=ticket), keyboard(rows),
                    edit=edit)
    return True


async def _close_confirmed(conv: Conversation, query: CallbackQuery, data: MyTicketsCb,
                           ticket: Ticket | None, edit: Message | None) -> bool:
    assert ticket is not None
    if ticket.status == Status.CLOSED:
        return False
    try:
        ticket = await conv.services.ticket_service.set_status(ticket.id, Status.CLOSED,
                                                               actor="customer")
    except ConcurrentChange:
        return False
    await query.answer()
    await show_ticket(conv, ticket, 0, edit=edit, closed_now=True)
    return True


async def _about(conv: Conversation, query: CallbackQuery, data: MyTicketsCb,
                 ticket: Ticket | None, edit: Message | None) -> bool:
    assert ticket is not None
    if await conv.state.get_state() != MyTicketsStates.which.state:
        return False
    asked = await conv.state.get_data()
    if ticket.id not in asked.get("tickets", []):
        return False
    await conv.state.clear()
    await query.answer()
    await conv.services.ticket_service.customer_wrote(
        ticket.id, conv.user.id, str(asked.get("text", "")), author_name=conv.customer().name,
        source=(conv.chat_id, int(asked.get("source", 0))),
        confirm=forwarded(conv, ticket, buttons=_back(conv), edit=edit))
    return True


async def answer_as_usual(conv: Conversation, dialogs: Dialogs, text: str) -> None:
    """What the bot does with free text outside a dialog: the knowledge base, else the menu."""
    answer = dialogs.registry.answer
    if answer is not None and await answer(conv, text):
        return
    from bot.dialogs.start import show_menu

    await show_menu(conv, dialogs.menu, intro="start/not_understood")


async def _new(conv: Conversation, query: CallbackQuery, dialogs: Dialogs,
               edit: Message | None) -> bool:
    if await conv.state.get_state() != MyTicketsStates.which.state:
        return False
    text = str((await conv.state.get_data()).get("text", ""))
    await conv.state.clear()
    await query.answer()
    await conv.drop_buttons(edit.message_id if edit else None)
    await answer_as_usual(conv, dialogs, text)
    return True


async def _rate(conv: Conversation, query: CallbackQuery, data: MyTicketsCb,
                ticket: Ticket | None, edit: Message | None) -> bool:
    assert ticket is not None
    if ticket.status != Status.CLOSED or not 1 <= data.stars <= 5:
        return False
    try:
        await conv.services.ticket_service.rated(ticket.id, conv.user.id, data.stars)
    except ConcurrentChange:  # two stars tapped at once: the first one counts
        await query.answer()
        return True
    await query.answer(conv.t.label("my_tickets.rated", stars=data.stars))
    await conv.drop_buttons(edit.message_id if edit else None)
    if data.stars > LOW_RATING or await conv.state.get_state() is not None:
        # Inside a dialog it carries on: a thank-you, and no question that would end it.
        await conv.say(conv.t("my_tickets/rated", stars=data.stars))
        return True
    await _ask(conv, MyTicketsStates.explaining, ticket.id,
               conv.t("my_tickets/what_went_wrong", ticket=ticket, stars=data.stars),
               "my_tickets.skip", "skip")
    return True


async def _skip(conv: Conversation, query: CallbackQuery, data: MyTicketsCb,
                ticket: Ticket | None, edit: Message | None) -> bool:
    if await conv.state.get_state() != MyTicketsStates.explaining.state:
        return False
    await conv.state.clear()
    await query.answer()
    await conv.show(conv.t("my_tickets/rated", stars=0), None, edit=edit)
    return True


PRESSES = {"open": _open, "reply": _reply, "close": _close, "closeok": _close_confirmed,
           "about": _about, "rate": _rate, "skip": _skip}  # "new" needs the dialogs

DIALOG = Dialog("my_tickets", router, entries=ENTRIES)
