"""The colleagues' commands and the card's buttons, end to end: two colleagues (Piet, Kees) in
the staff group's topics, over the fake Bot API, through the real Dispatcher.

Tickets are filed with a silent ticket service (no announcement, no topic from the outbox) and
get a topic from the test, so each test controls what the group shows; the commands themselves
go through the bot's own ticket service."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from bot.app import build_app
from bot.delivery import Limits
from bot.staff.callbacks import StaffCb
from bot.staff.context import check_staff_group
from tests.client import TelegramUser
from tests.conftest import NOW, STAFF_CHAT_ID, Balie
from tests.fakeapi import FakeTelegram, make_bot
from tickets import reports
from tickets.feedback import CancellationFeedback, FeedbackStore
from tickets.models import Author, Category, Customer, Priority, Status, Ticket
from tickets.service import TicketService

RELAXED = Limits(per_chat=(1000, 1.0), per_group=(1000, 1.0), overall=(1000, 1.0))
LINK_PREFIX = "https://t.me/c/1234567890/"


@pytest.fixture
async def balie(tg: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                ) -> AsyncIterator[Balie]:
    """The bot, with the group's rate limit relaxed: these tests are about the commands."""
    monkeypatch.setattr("tests.conftest.build_app",
                        functools.partial(build_app, delivery_limits=RELAXED))
    running = Balie(tg, tmp_path / "balie.sqlite3")
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
def piet(balie: Balie, tg: FakeTelegram) -> TelegramUser:
    tg.set_member(STAFF_CHAT_ID, 2001, "member")
    return balie.user(2001, "Piet", "nl", username="piet")


@pytest.fixture
def kees(balie: Balie, tg: FakeTelegram) -> TelegramUser:
    tg.set_member(STAFF_CHAT_ID, 2002, "administrator")
    return balie.user(2002, "Kees", "nl", username="kees")


def silent(balie: Balie) -> TicketService:
    return TicketService(balie.services.tickets, balie.services.outbox)


async def file(balie: Balie, tg: FakeTelegram, subject: str = "Opzegging voorbeeld.nl", *,
               category: Category = Category.CANCELLATION,
               priority: Priority = Priority.NORMAL, topic: bool = True,
               customer: int = 1001) -> tuple[Ticket, int | None]:
    """A ticket of customer `customer`; with `topic`, as the bot files it: its topic and
    card created (so what a command changes edits the card, and adds nothing to the topic)."""
    tg.add_user(customer, "Anna", None, "anna", "nl")
    service = balie.services.ticket_service if topic else silent(balie)
    ticket, _ = await service.open_ticket(
        category=category, customer=Customer(customer, "Anna", "anna", "nl", "anna@example.nl"),
        subject=subject, fields={"service": "domain", "domain": "voorbeeld.nl"},
        priority=priority)
    if not topic:
        return ticket, None
    await balie.settled()
    ticket = await balie.services.tickets.get(ticket.id)
    assert ticket.topic_id is not None
    return ticket, ticket.topic_id


async def fetch(balie: Balie, ticket_id: int) -> Ticket:
    return await balie.services.tickets.get(ticket_id, full=True)


async def execute(balie: Balie, sql: str, *params: object) -> None:
    async with balie.services.database.transaction() as connection:
        await connection.execute(sql, params)


def card(tg: FakeTelegram, ticket: Ticket, thread: int | None) -> int:
    """A card with the buttons the staff card has (the topic module draws the real one)."""
    buttons = [[("Oppakken", StaffCb(action="claim", ticket=ticket.id).pack()),
                ("Wacht op klant", StaffCb(action="wait", ticket=ticket.id).pack())],
               [("Prioriteit", StaffCb(action="prio", ticket=ticket.id).pack()),
                ("Sluiten", StaffCb(action="close", ticket=ticket.id).pack())],
               [("Heropenen", StaffCb(action="reopen", ticket=ticket.id).pack())]]
    markup = {"inline_keyboard": [[{"text": label, "callback_data": data} for label, data in row]
                                  for row in buttons]}
    return tg.record_message(STAFF_CHAT_ID, text=f"Ticket #{ticket.id}", thread_id=thread,
                             buttons=buttons, reply_markup=markup).message_id


# --- commands in a ticket's topic ----------------------------------------------------------


async def test_every_command_in_a_topic_acts_on_its_ticket(
    balie: Balie, tg: FakeTelegram, piet: TelegramUser,
) -> None:
    ticket, topic = await file(balie, tg)
    here = {"chat_id": STAFF_CHAT_ID, "thread_id": topic}

    await piet.send("/claim", **here)
    assert piet.last_text(**here) == f"✋ Ticket #{ticket.id} is nu van jou (Piet)."
    assert (await fetch(balie, ticket.id)).assignee == "Piet"
    await piet.send("/claim", **here)
    assert piet.last_text(**here) == f"Ticket #{ticket.id} is al van jou."

    await piet.send("/note belde klant, <b>komt</b> erop terug", **here)
    assert "Notitie bij #" in piet.last_text(**here)

    await piet.send("/prio hoog", **here)
    assert "Prioriteit van ticket" in piet.last_text(**here) and "hoog" in piet.last_text(**here)
    await piet.send("/prio urgent", **here)
    await piet.send("/prio heel erg", **here)
    assert "„heel erg” is geen prioriteit" in piet.last_text(**here)

    await piet.send("/wait", **here)
    assert "wacht nu op de klant" in piet.last_text(**here)
    await piet.send("/unclaim", **here)
    assert "terug" in piet.last_text(**here) and "was van Piet" in piet.last_text(**here)

    await piet.send("/close opgezegd in het panel", **here)
    assert piet.last_text(**here) == (f"✅ Ticket #{ticket.id} is gesloten. Reden (intern): "
                                      "opgezegd in het panel")
    await piet.send("/wait", **here)
    assert piet.last_text(**here) == (f"Dat kan niet: ticket #{ticket.id} is gesloten. Open "
                                      "het eerst weer met /reopen.")
    await piet.send("/claim", **here)
    assert "is gesloten" in piet.last_text(**here)
    await piet.send("/reopen", **here)
    assert piet.last_text(**here) == f"🔓 Ticket #{ticket.id} is weer open."
    await piet.send("/reopen", **here)
    assert "is niet gesloten (het is open)" in piet.last_text(**here)

    stored = await fetch(balie, ticket.id)
    assert stored.status == Status.OPEN and stored.priority == Priority.URGENT
    assert stored.assignee is None
    notes = [(m.author, m.author_name, m.text) for m in stored.messages]
    assert notes == [("note", "Piet", "belde klant, <b>komt</b> erop terug"),
                     ("note", "Piet", "opgezegd in het panel")]
    closing = [e for e in stored.events if e.action == "status" and e.detail["to"] == "closed"]
    assert closing[0].detail["reason"] == "opgezegd in het panel"
    assert closing[0].actor == "colleague:Piet"
    # The customer is told what concerns them, and none of the notes.
    told = [m.plain for m in tg.chat(1001) if m.from_bot]
    assert not any("belde klant" in text or "opgezegd in het panel" in text for text in told)
    assert [next(word for word in ("opgepakt", "wachten we", "afgesloten", "weer geopend")
                 if word in text) for text in told] == [
        "opgepakt", "wachten we", "afgesloten", "weer geopend"]


async def test_a_close_handled_again_after_a_restart_says_it_closed_the_ticket(
    balie: Balie, tg: FakeTelegram, piet: TelegramUser,
) -> None:
    """Killed after the close was written and before its answer went out: the same /close
    handled again finds its own close and answers as the first time; another /close is told
    the ticket was already closed."""
    ticket, topic = await file(balie, tg)
    here = {"chat_id": STAFF_CHAT_ID, "thread_id": topic}
    await piet.send("/close dubbel", **here)
    closed = f"✅ Ticket #{ticket.id} is gesloten. Reden (intern): dubbel"
    assert piet.last_text(**here) == closed
    [command] = [m for m in tg.chat(STAFF_CHAT_ID, topic) if m.text == "/close dubbel"]

    await piet.redeliver(command.message_id, chat_id=STAFF_CHAT_ID)
    assert piet.last_text(**here) == closed
    await piet.send("/close dubbel", **here)
    assert piet.last_text(**here) == f"Ticket #{ticket.id} is al gesloten."
    events = (await balie.services.tickets.get(ticket.id, full=True)).events
    closes = [e for e in events if e.action == "status" and e.detail["to"] == "closed"]
    assert len(closes) == 1 and closes[0].detail["source"] == [STAFF_CHAT_ID, command.message_id]


async def test_outside_a_topic_a_command_asks_for_the_number_and_accepts_it(
    balie: Balie, tg: FakeTelegram, piet: TelegramUser,
) -> None:
    ticket, _ = await file(balie, tg, topic=False)
    general = {"chat_id": STAFF_CHAT_ID}
    n = ticket.id

    def last_general() -> str:  # the General topic (cards live in the tickets' topics)
        return [m.plain for m in tg.chat(STAFF_CHAT_ID) if m.thread_id is None][-1]

    await piet.send("/close", **general)
    assert "Over welk ticket? Geef het nummer mee, bijvoorbeeld /close 12" in last_general()
    for command, answer in [
        (f"/claim {n}", "is nu van jou (Piet)"),
        (f"/prio #{n} spoed", "spoed"),
        (f"/prio {n} hoog", "hoog"),
        (f"/note {n} via de telefoon", "Notitie bij"),
        (f"/note {n}", "Wat is de notitie?"),
        (f"/wait {n}", "wacht nu op de klant"),
        (f"/unclaim {n}", "terug"),
        (f"/unclaim {n}", "is van niemand"),
        (f"/close {n} dubbel", "is gesloten. Reden (intern): dubbel"),
        (f"/close {n}", "is al gesloten"),
        (f"/reopen {n}", "is weer open"),
        ("/claim 999", "Ticket 999 bestaat niet"),
        ("/claim 99999999999999999999999", "bestaat niet"),
        ("/claim twaalf", "Over welk ticket?"),
        ("/note even bellen", "Over welk ticket?"),
    ]:
        await piet.send(command, **general)
        assert answer in last_general(), command
    stored = await fetch(balie, n)
    assert stored.status == Status.OPEN and stored.priority == Priority.HIGH
    assert [m.text for m in stored.messages] == ["via de telefoon", "dubbel"]


async def test_a_topic_that_is_no_ticket_asks_for_the_number(
    balie: Balie, tg: FakeTelegram, piet: TelegramUser,
) -> None:
    ticket, _ = await file(balie, tg, topic=False)
    other = tg.add_topic(STAFF_CHAT_ID, "Koffie")
    await piet.send("/claim", chat_id=STAFF_CHAT_ID, thread_id=other)
    assert "Over welk ticket?" in piet.last_text(STAFF_CHAT_ID, other)
    await piet.send(f"/claim {ticket.id}", chat_id=STAFF_CHAT_ID, thread_id=other)
    assert (await fetch(balie, ticket.id)).assignee == "Piet"


async def test_claimed_by_someone_else_names_them(
    balie: Balie, tg: FakeTelegram, piet: TelegramUser, kees: TelegramUser,
) -> None:
    ticket, topic = await file(balie, tg)
    here = {"chat_id": STAFF_CHAT_ID, "thread_id": topic}
    await piet.send("/claim", **here)
    await kees.send("/claim", **here)
    assert kees.last_text(**here) == f"Ticket #{ticket.id} is al van Piet."
    assert (await fetch(balie, ticket.id)).assignee == "Piet"


# --- the card's buttons -------------------------------------------------------------------


async def test_the_cards_buttons(
    balie: Balie, tg: FakeTelegram, piet: TelegramUser,
) -> None:
    ticket, topic = await file(balie, tg)
    message = card(tg, ticket, topic)
    here = {"chat_id": STAFF_CHAT_ID, "message_id": message}

    await piet.press("Oppakken", **here)
    assert piet.callback_answers()[-1] == f"Ticket #{ticket.id} is nu van jou."
    await piet.press("Wacht op klant", **here)
    assert piet.callback_answers()[-1] == f"Ticket #{ticket.id} wacht nu op de klant."

    await piet.press("Prioriteit", **here)  # the chooser: one row more on the card
    rows = [[label for label, _ in row] for row in tg.message(STAFF_CHAT_ID, message).buttons]
    assert rows[-1] == ["🔴 spoed", "🟠 hoog", "› ⚪ normaal ‹", "🔵 laag"]
    await piet.press("Prioriteit", **here)  # pressed again: hidden again
    assert len(tg.message(STAFF_CHAT_ID, message).buttons) == 3
    await piet.press("Prioriteit", **here)
    await piet.press("🔴 spoed", **here)
    assert piet.callback_answers()[-1] == f"Prioriteit van #{ticket.id}: 🔴 spoed."
    assert len(tg.message(STAFF_CHAT_ID, message).buttons) == 3

    await piet.press("Sluiten", **here)
    assert piet.callback_answers()[-1] == f"Ticket #{ticket.id} is gesloten."
    await piet.press("Wacht op klant", **here)
    assert piet.callback_answers()[-1] == f"Dat kan niet: ticket #{ticket.id} is gesloten."
    await piet.press("Heropenen", **here)
    assert piet.callback_answers()[-1] == f"Ticket #{ticket.id} is weer open."

    stored = await fetch(balie, ticket.id)
    assert (stored.status, stored.priority, stored.assignee) == (
        Status.OPEN, Priority.URGENT, "Piet")


async def test_two_colleagues_press_claim_at_once_and_one_wins(
    balie: Balie, tg: FakeTelegram, piet: TelegramUser, kees: TelegramUser,
) -> None:
    ticket, topic = await file(balie, tg)
    message = card(tg, ticket, topic)
    await asyncio.gather(piet.press("Oppakken", chat_id=STAFF_CHAT_ID, message_id=message),
                         kees.press("Oppakken", chat_id=STAFF_CHAT_ID, message_id=message))
    winner = (await fetch(balie, ticket.id)).assignee
    assert winner in ("Piet", "Kees")
    won, lost = (piet, kees) if winner == "Piet" else (kees, piet)
    assert won.callback_answers() == [f"Ticket #{ticket.id} is nu van jou."]
    assert lost.callback_answers() == [f"Ticket #{ticket.id} is al van {winner}."]
    claims = [e for e in (await fetch(balie, ticket.id)).events if e.action == "assignee"]
    assert len(claims) == 1


@pytest.mark.parametrize("data", [
    "st:claim:99999999999999999999:",  # beyond SQLite's 64 bits
    "st:claim:-3:",
    "st:claim:0:",
    "st:claim:abc:",
    "st:explode:1:",
    "st:prio:1:extreme",
    "st:claim:4242:",  # no such ticket
    "st:queue::-1",
    "st:queue::99999999",
    "st:",
])
async def test_a_forged_staff_button_is_answered_and_changes_nothing(
    balie: Balie, tg: FakeTelegram, piet: TelegramUser, data: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticket, topic = await file(balie, tg)
    message = card(tg, ticket, topic)
    before = await fetch(balie, ticket.id)
    with caplog.at_level(logging.WARNING):
        await piet.press_data(data.replace(":1:", f":{ticket.id}:"), message,
                              chat_id=STAFF_CHAT_ID)
    assert piet.callback_answers() == ["Deze knop werkt niet (meer)."]
    assert await fetch(balie, ticket.id) == before
    assert "refused a staff button" in caplog.text


# --- who may act --------------------------------------------------------------------------


async def test_a_non_member_is_refused(
    balie: Balie, tg: FakeTelegram, caplog: pytest.LogCaptureFixture,
) -> None:
    ticket, topic = await file(balie, tg)
    message = card(tg, ticket, topic)
    tg.set_member(STAFF_CHAT_ID, 3001, "left")
    mallory = balie.user(3001, "Mallory", "nl")
    before = await fetch(balie, ticket.id)
    with caplog.at_level(logging.WARNING):
        shown = await mallory.send("/claim", chat_id=STAFF_CHAT_ID, thread_id=topic)
        await mallory.send(f"/close {ticket.id}", chat_id=STAFF_CHAT_ID)
        await mallory.press("Oppakken", chat_id=STAFF_CHAT_ID, message_id=message)
    assert shown == [] and mallory.seen_since_last_action() == []
    assert mallory.callback_answers() == [
        "Alleen leden van de medewerkersgroep behandelen tickets."]
    assert await fetch(balie, ticket.id) == before
    assert caplog.text.count("not a member of the group") == 3
    # Asked once: the answer is remembered for a while.
    asked = [c for c in tg.calls_to("getChatMember") if c.params.get("user_id") == 3001]
    assert len(asked) == 1


async def test_a_restricted_member_acts_and_a_kicked_one_does_not(
    balie: Balie, tg: FakeTelegram,
) -> None:
    ticket, topic = await file(balie, tg)
    tg.set_member(STAFF_CHAT_ID, 3002, "restricted")
    tg.set_member(STAFF_CHAT_ID, 3003, "kicked")
    restricted = balie.user(3002, "Rita", "nl")
    kicked = balie.user(3003, "Karel", "nl")
    await kicked.send("/claim", chat_id=STAFF_CHAT_ID, thread_id=topic)
    assert (await fetch(balie, ticket.id)).assignee is None
    await restricted.send("/claim", chat_id=STAFF_CHAT_ID, thread_id=topic)
    assert (await fetch(balie, ticket.id)).assignee == "Rita"


async def test_a_customer_sending_staff_commands_in_private_is_refused(
    balie: Balie, tg: FakeTelegram, anna: TelegramUser, caplog: pytest.LogCaptureFixture,
) -> None:
    ticket, topic = await file(balie, tg)
    before = await fetch(balie, ticket.id)
    with caplog.at_level(logging.WARNING):
        for command in ("/claim", f"/close {ticket.id}", "/queue", "/stats", "/note hoi"):
            await anna.send(command)
            assert anna.last_text().startswith("Dat commando ken ik niet."), command
        await anna.press_data(StaffCb(action="claim", ticket=ticket.id).pack())
    assert anna.callback_answers() == ["Deze knop hoort bij een eerder bericht. Hier ben je nu:"]
    assert await fetch(balie, ticket.id) == before
    assert caplog.text.count("refused the staff command") == 5
    assert "refused a staff button from user 1001 in a private chat" in caplog.text
    assert [m.message_id for m in tg.chat(STAFF_CHAT_ID, topic)] == [before.card_message_id]


async def test_a_staff_command_in_the_middle_of_a_dialog_is_refused_too(
    balie: Balie, tg: FakeTelegram, anna: TelegramUser, caplog: pytest.LogCaptureFixture,
) -> None:
    await anna.send("/start opzeggen")
    with caplog.at_level(logging.WARNING):
        await anna.send("/queue")
    assert "refused the staff command /queue from user 1001" in caplog.text
    assert not any("Wachtrij" in m.plain for m in tg.chat(1001))


def test_staff_buttons_fit_in_callback_data() -> None:
    longest = [StaffCb(action="prio", ticket=2**63 - 1, value="urgent"),
               StaffCb(action="unclaim", ticket=2**63 - 1),
               StaffCb(action="queue", value="10000")]
    assert all(len(button.pack().encode()) <= 64 for button in longest)


# --- /queue -------------------------------------------------------------------------------


async def test_queue_by_priority_then_age_paged_beyond_twenty(
    balie: Balie, tg: FakeTelegram, piet: TelegramUser,
) -> None:
    filed = []
    for number in range(25):
        priority = (Priority.URGENT if number in (20, 21) else Priority.HIGH if number == 5
                    else Priority.LOW if number == 0 else Priority.NORMAL)
        filed.append(await file(balie, tg, f"Vraag {number + 1}", category=Category.QUESTION,
                                priority=priority, topic=number != 3))
    done, _ = await file(balie, tg, "Al gesloten")
    await silent(balie).close(done.id, "Kees")
    await balie.services.ticket_service.claim(filed[20][0].id, "Kees")
    for age, (ticket, _) in enumerate(filed):  # oldest first; the clock says NOW
        created = (NOW - timedelta(hours=3 * (25 - age), minutes=7)).astimezone(UTC)
        await execute(balie, "UPDATE tickets SET created_at = ? WHERE id = ?",
                      created.isoformat(timespec="seconds"), ticket.id)

    await piet.send("/queue", chat_id=STAFF_CHAT_ID)
    page = piet.last_message(STAFF_CHAT_ID)
    lines = page.plain.splitlines()
    print(page.plain)
    assert lines[0] == "📋 Wachtrij: 25 open tickets · pagina 1 van 2"
    assert len(lines) == 21
    ids = [ticket.id for ticket, _ in filed]
    assert lines[1].startswith(f"🔴 #{ids[20]} Vraag 21 · in behandeling (Kees) · ")
    assert lines[2].startswith(f"🔴 #{ids[21]} Vraag 22 · open · ")
    assert lines[3].startswith(f"🟠 #{ids[5]} Vraag 6 · open · 2 d 12 u")
    assert lines[4].startswith(f"⚪ #{ids[1]} Vraag 2 · open · 3 d 0 u")
    assert f'<a href="{LINK_PREFIX}{filed[20][1]}">#{ids[20]}</a>' in page.text
    assert f"#{ids[3]}</a>" not in page.text and f"#{ids[3]} Vraag 4" in page.plain  # no topic
    assert page.labels == ["Volgende ›"]

    await piet.press("Volgende ›", chat_id=STAFF_CHAT_ID)
    page = piet.last_message(STAFF_CHAT_ID)
    print(page.plain)
    lines = page.plain.splitlines()
    assert lines[0] == "📋 Wachtrij: 25 open tickets · pagina 2 van 2"
    assert len(lines) == 6 and lines[-1].startswith(f"🔵 #{ids[0]} Vraag 1 · open · 3 d 3 u")
    assert f"#{done.id}" not in page.plain
    assert page.labels == ["‹ Vorige"]
    await piet.press("‹ Vorige", chat_id=STAFF_CHAT_ID)
    assert "pagina 1 van 2" in piet.last_text(STAFF_CHAT_ID)
    assert len([m for m in tg.chat(STAFF_CHAT_ID) if m.from_bot and "Wachtrij" in m.plain]) == 1


async def test_an_empty_queue_says_so(balie: Balie, piet: TelegramUser) -> None:
    await piet.send("/queue", chat_id=STAFF_CHAT_ID)
    assert piet.last_text(STAFF_CHAT_ID) == "📋 Wachtrij: 0 open tickets\nNiets in de wachtrij. 🎉"
    assert piet.last_message(STAFF_CHAT_ID).labels == []


# --- the start-up check --------------------------------------------------------------------


async def test_the_start_up_check_says_what_the_staff_group_lacks(
    tg: FakeTelegram, caplog: pytest.LogCaptureFixture,
) -> None:
    bot = make_bot(tg)
    try:
        with caplog.at_level(logging.INFO, logger="bot.staff.context"):
            assert "the bot is not an administrator" in (
                await check_staff_group(bot, STAFF_CHAT_ID) or "")
            tg.set_member(STAFF_CHAT_ID, bot.id, "administrator")
            assert await check_staff_group(bot, STAFF_CHAT_ID) is None
            tg.add_supergroup(-1009, "No topics", forum=False)
            tg.set_member(-1009, bot.id, "administrator")
            assert "topics are turned off" in (await check_staff_group(bot, -1009) or "")
            assert "cannot reach the staff group" in (await check_staff_group(bot, -1008) or "")
        assert len(caplog.records) == 4
    finally:
        await bot.session.close()


async def test_start_up_logs_the_staff_group_check(
    tg: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.staff.context"):
        running = Balie(tg, tmp_path / "balie.sqlite3")
        await running.start()
        await running.stop()
    [line] = [r.getMessage() for r in caplog.records if r.name == "bot.staff.context"]
    assert f"staff group {STAFF_CHAT_ID} is not ready for tickets" in line


# --- /stats -------------------------------------------------------------------------------


async def seed_statistics(balie: Balie, tg: FakeTelegram) -> None:
    """36 tickets of two days ago (and one of 40 days ago), replies, closes, ratings and the
    cancellation guide's reasons."""
    service = silent(balie)
    opened = (NOW - timedelta(days=2)).astimezone(UTC)
    plan = [  # category, priority, how many: (open, in progress, waiting, closed)
        (Category.CANCELLATION, Priority.NORMAL, (3, 2, 1, 6)),
        (Category.PAYMENT_ARRANGEMENT, Priority.NORMAL, (4, 0, 0, 4)),
        (Category.ACCIDENTAL_CANCELLATION, Priority.URGENT, (0, 2, 0, 2)),
        (Category.QUESTION, Priority.LOW, (5, 0, 0, 5)),
        (Category.LIVE_CHAT, Priority.NORMAL, (2, 0, 0, 0)),
    ]
    closed: list[int] = []
    replied = 0
    for category, priority, counts in plan:
        for status, count in zip(Status, counts, strict=True):
            for _ in range(count):
                ticket, _ = await file(balie, tg, f"{category} {status}", category=category,
                                       priority=priority, topic=False)
                await execute(balie, "UPDATE tickets SET created_at = ? WHERE id = ?",
                              opened.isoformat(timespec="seconds"), ticket.id)
                if status == Status.IN_PROGRESS:
                    await service.claim(ticket.id, "Piet")
                elif status == Status.WAITING_ON_CUSTOMER:
                    await service.set_status(ticket.id, status, actor="colleague:Piet")
                elif status == Status.CLOSED:
                    await service.close(ticket.id, "Kees")
                    closed.append(ticket.id)
                if replied < 9 and status != Status.OPEN:  # replies after 10, 20 … 90 minutes
                    replied += 1
                    message = await service.colleague_replied(ticket.id, "Piet", "Hallo!") \
                        if status != Status.CLOSED else None
                    if message is None:  # closed already: the reply is written as it was
                        await balie.services.tickets.add_message(
                            ticket.id, Author.COLLEAGUE, "Hallo!", author_name="Piet")
                    await execute(
                        balie, "UPDATE ticket_messages SET created_at = ? WHERE ticket_id = ?",
                        (opened + timedelta(minutes=10 * replied)).isoformat(
                            timespec="seconds"), ticket.id)
    for hours, ticket_id in enumerate(closed, start=1):  # closed after 1 … 17 hours
        await execute(balie, "UPDATE tickets SET closed_at = ? WHERE id = ?",
                      (opened + timedelta(hours=hours)).isoformat(timespec="seconds"),
                      ticket_id)
    for rating, ticket_id in zip((5, 5, 4, 3, 5), closed, strict=False):
        await balie.services.tickets.rate(ticket_id, rating, actor="customer")
    old, _ = await file(balie, tg, "Van lang geleden", topic=False)
    await execute(balie, "UPDATE tickets SET created_at = ? WHERE id = ?",
                  (NOW - timedelta(days=40)).astimezone(UTC).isoformat(timespec="seconds"),
                  old.id)
    feedback = FeedbackStore(balie.services.database)
    reasons = ["price"] * 4 + ["moving"] * 3 + [None] * 2 + ["quality"]
    for number, reason in enumerate(reasons):
        await feedback.record(CancellationFeedback(
            run_id=f"run-{number}", customer_id=1001, language="nl", service="hosting",
            cancellation_type="end_of_term", reason=reason, reason_text=None, route="panel"))


async def test_stats_with_a_few_dozen_tickets(
    balie: Balie, tg: FakeTelegram, piet: TelegramUser,
) -> None:
    await seed_statistics(balie, tg)
    await piet.send("/stats", chat_id=STAFF_CHAT_ID)
    shown = piet.last_text(STAFF_CHAT_ID)
    print(shown)
    assert shown == """📊 Statistiek, afgelopen 30 dagen: 36 tickets
• Opzegging: 12 (open 3, in behandeling 2, wacht op klant 1, gesloten 6)
• Vraag: 10 (open 5, gesloten 5)
• Betalingsregeling: 8 (open 4, gesloten 4)
• Per ongeluk direct opgezegd: 4 (in behandeling 2, gesloten 2)
• Livechat: 2 (open 2)

Redenen van opzeggen (opzeghulp)
• prijs: 4
• overstap naar andere provider: 3
• niet opgegeven: 2
• kwaliteit of snelheid: 1

Eerste antwoord van een collega: mediaan 50 min (9 tickets)
Tot sluiten: mediaan 9 u 0 min (17 gesloten)
Beoordeling: 4,4 van 5 (5★ 3, 4★ 1, 3★ 1)"""

    await piet.send("/stats 60", chat_id=STAFF_CHAT_ID)
    assert piet.last_text(STAFF_CHAT_ID).startswith(
        "📊 Statistiek, afgelopen 60 dagen: 37 tickets\n• Opzegging: 13 (open 4,")
    await piet.send("/stats veel", chat_id=STAFF_CHAT_ID)
    assert piet.last_text(STAFF_CHAT_ID).startswith("„veel” is geen aantal dagen.")


async def test_stats_read_through_the_indexes(balie: Balie) -> None:
    database = balie.services.database
    for sql in (f"SELECT category, status, COUNT(*) FROM tickets WHERE {reports._IN_WINDOW} "
                "GROUP BY category, status",
                "SELECT COALESCE(reason, 'none'), COUNT(*) FROM cancellation_feedback "
                "WHERE created_at >= ? GROUP BY 1"):
        plan = " ".join(row["detail"] for row in await database.fetchall(
            f"EXPLAIN QUERY PLAN {sql}", ("2026-01-01",)))
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
        assert "SCAN tickets" not in plan, plan


async def test_stats_without_tickets(balie: Balie, piet: TelegramUser) -> None:
    await piet.send("/stats 7", chat_id=STAFF_CHAT_ID)
    assert piet.last_text(STAFF_CHAT_ID) == """📊 Statistiek, afgelopen 7 dagen: 0 tickets

Redenen van opzeggen (opzeghulp): nog geen

Eerste antwoord van een collega: nog geen
Tot sluiten: nog niets gesloten
Beoordeling: nog geen"""


# --- balie tickets show -------------------------------------------------------------------


async def test_tickets_show_reads_like_the_ticket(
    balie: Balie, tg: FakeTelegram, piet: TelegramUser, monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = balie.services.ticket_service
    tg.add_user(1001, "Anna", "de Vries", "anna", "nl")
    ticket, _ = await silent(balie).open_ticket(
        category=Category.CANCELLATION, customer=Customer(1001, "Anna de Vries", "anna", "nl",
                                                          "anna@example.nl"),
        subject="Opzegging voorbeeld.nl", priority=Priority.HIGH,
        fields={"service": "both", "domain": "voorbeeld.nl", "renewal_date": "2027-03-15",
                "cancel_by": "2027-02-15", "transfer": True, "cancellation_type": "end_of_term",
                "reason": "price", "reason_text": None, "email": "anna@example.nl"})
    await service.customer_wrote(ticket.id, 1001, "Lukt het <vóór> maart?",
                                 author_name="Anna de Vries")
    await service.claim(ticket.id, "Piet")
    await service.colleague_replied(ticket.id, "Piet", "Ja, dat lukt.")
    await service.internal_note(ticket.id, "Piet", "verhuiscode gestuurd")
    await service.set_priority(ticket.id, Priority.URGENT, actor="colleague:Piet")
    await service.close(ticket.id, "Piet", "klant tevreden")
    folder = Path(str(balie.database)).parent
    await balie.stop()
    config = folder / "config.toml"
    config.write_text(f'[storage]\ndatabase = "{balie.database}"\n', encoding="utf-8")

    from click.testing import CliRunner

    from bot.cli import main

    result = await asyncio.to_thread(
        CliRunner().invoke, main, ["tickets", "show", str(ticket.id), "--config", str(config)])
    assert result.exit_code == 0, result.output
    shown = result.stdout
    print(shown)
    lines = shown.splitlines()
    assert lines[0] == f"Ticket #{ticket.id}: Opzegging voorbeeld.nl"
    assert lines[1] == "Opzegging · gesloten · prioriteit spoed · bij Piet"
    assert lines[2] == ("Klant: Anna de Vries (@anna) · Telegram-id 1001 · taal nl · "
                        "anna@example.nl")
    # In the words of the card in the topic (one vocabulary, staff/labels.toml).
    for line in ["• Wat: hosting en domeinnaam", "• Verlengdatum: 15 maart 2027",
                 "• Opzeggen uiterlijk: 15 februari 2027",
                 "• Domein verhuizen: ja", "• Wanneer: einde van de termijn",
                 "• Reden: prijs", "• Toelichting: onbekend"]:
        assert line in lines, line
    thread = [line.split("] ", 1)[1] for line in lines if line.startswith("[")]
    # When the outbox created the ticket's topic depends on timing; that it did, does not.
    topics = [line for line in thread if "medewerkersgroep" in line]
    assert len(topics) == 1 and topics[0].startswith("bot: topic ")
    thread = [line for line in thread if line not in topics]
    assert thread[:4] == ["klant Anna de Vries: Lukt het <vóór> maart?",
                          "Piet (medewerker): Ja, dat lukt.",
                          "interne notitie van Piet: verhuiscode gestuurd",
                          "interne notitie van Piet: klant tevreden"]
    assert thread[4:] == [
        "klant: ticket geopend (Opzegging, prioriteit hoog)",
        "klant: bericht van klant",
        "Piet: opgepakt door Piet",
        "Piet: status open → in behandeling",
        "Piet: bericht van medewerker",
        "Piet: bericht van interne notitie",
        "Piet: prioriteit hoog → spoed",
        "Piet: bericht van interne notitie",
        "Piet: status in behandeling → gesloten, reden: klant tevreden",
    ]


async def test_prio_without_a_word_offers_the_chooser(
    balie: Balie, tg: FakeTelegram, piet: TelegramUser,
) -> None:
    ticket, topic = await file(balie, tg)
    await piet.send("/prio", chat_id=STAFF_CHAT_ID, thread_id=topic)
    assert piet.last_text(STAFF_CHAT_ID, topic) == f"Welke prioriteit krijgt ticket #{ticket.id}?"
    await piet.press("🟠 hoog", chat_id=STAFF_CHAT_ID, thread_id=topic)
    assert piet.callback_answers() == [f"Prioriteit van #{ticket.id}: 🟠 hoog."]
    assert piet.last_message(STAFF_CHAT_ID, topic).buttons == []
    assert (await fetch(balie, ticket.id)).priority == Priority.HIGH


class CountingBot:
    """Answers getChatMember from a table and counts the questions."""

    def __init__(self, statuses: dict[int, str]) -> None:
        self.statuses = statuses
        self.asked: list[int] = []

    async def get_chat_member(self, chat_id: int, user_id: int) -> object:
        from aiogram.types import ChatMemberLeft, ChatMemberMember, User

        self.asked.append(user_id)
        user = User(id=user_id, is_bot=False, first_name="X")
        if self.statuses.get(user_id) == "member":
            return ChatMemberMember(user=user)
        return ChatMemberLeft(user=user)


async def test_membership_is_cached_briefly_and_for_a_bounded_number_of_users() -> None:
    from bot.staff.context import Membership

    now = [0.0]
    bot = CountingBot({1: "member", 2: "member"})
    members = Membership(STAFF_CHAT_ID, ttl=60, size=2, clock=lambda: now[0])
    assert await members.is_member(bot, 1)  # type: ignore[arg-type]
    assert await members.is_member(bot, 1)  # type: ignore[arg-type]
    assert not await members.is_member(bot, 3)  # type: ignore[arg-type]
    assert bot.asked == [1, 3]
    bot.statuses[1] = "left"
    now[0] = 61.0  # the answer about user 1 has expired: asked again, and now refused
    assert not await members.is_member(bot, 1)  # type: ignore[arg-type]
    assert await members.is_member(bot, 2)  # type: ignore[arg-type]
    assert not await members.is_member(bot, 3)  # type: ignore[arg-type]  # 3 was dropped
    assert bot.asked == [1, 3, 1, 2, 3]
