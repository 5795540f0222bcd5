"""Talk to a colleague, end to end: a live chat in office hours (picked up, and not picked up
in time), outside office hours and on a Dutch public holiday, relay both ways, /stop and
/back, the /ticket hand-off with its transcript, and the unanswered question filed as a
ticket. The customer and two colleagues on the fake Bot API; the clock pinned."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.services import Services
from tests.client import TelegramUser
from tests.conftest import STAFF_CHAT_ID, Balie
from tests.fakeapi import FakeTelegram
from tickets.models import Author, Category, Priority, Status, Ticket

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MONDAY_MORNING = datetime(2026, 11, 30, 10, 0, tzinfo=AMSTERDAM)
MONDAY_EVENING = datetime(2026, 11, 30, 18, 30, tzinfo=AMSTERDAM)
CHRISTMAS = datetime(2026, 12, 25, 10, 0, tzinfo=AMSTERDAM)  # a Friday, a public holiday


def at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(Services, "now", lambda self: moment)


@pytest.fixture
def kees(balie: Balie, tg: FakeTelegram) -> TelegramUser:
    tg.set_member(STAFF_CHAT_ID, 2001, "member")
    return balie.user(2001, "Kees", "nl", username="kees")


@pytest.fixture
def office_open(monkeypatch: pytest.MonkeyPatch) -> None:
    at(monkeypatch, MONDAY_MORNING)


async def live_ticket(balie: Balie) -> Ticket:
    [ticket] = [t for t in await balie.services.tickets.list()
                if t.category == Category.LIVE_CHAT]
    await balie.settled()
    return await balie.services.tickets.get(ticket.id, full=True)


async def start_chat(anna: TelegramUser, balie: Balie, question: str) -> Ticket:
    await anna.send("/start medewerker")
    assert "Ik haal er een collega bij. Waar gaat het over?" in anna.last_text()
    await anna.send(question)
    ticket = await live_ticket(balie)
    assert ticket.live and ticket.priority == Priority.HIGH
    assert f"Ik haal er een collega bij (ticket #{ticket.id})" in anna.last_text()
    return ticket


def topic_texts(tg: FakeTelegram, ticket: Ticket) -> list[str]:
    return [m.plain for m in tg.chat(STAFF_CHAT_ID, ticket.topic_id)]


@pytest.mark.usefixtures("office_open")
async def test_a_live_chat_in_office_hours_picked_up_by_a_colleague(
    anna: TelegramUser, kees: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    ticket = await start_chat(anna, balie, "Mijn site is traag sinds de verhuizing")
    # The colleagues see it: a line in General, the topic with its card, the question.
    assert any(f"Livechat #{ticket.id}" in m.plain and "Anna wacht op een collega" in m.plain
               for m in tg.chat(STAFF_CHAT_ID) if m.thread_id is None)
    shown = topic_texts(tg, ticket)
    assert "Livechat" in shown[0] and "🚨" not in shown[0]
    assert "Mijn site is traag sinds de verhuizing" in shown[1]

    # Kees picks it up with the card's button: the customer is told who is there.
    await kees.press("Oppakken", chat_id=STAFF_CHAT_ID, thread_id=ticket.topic_id)
    await balie.settled()
    assert "Kees is er nu" in anna.last_text()

    # Both ways: the colleague's words without the reply hint of a ticket, the customer's
    # plain messages (no reply needed) into the topic, media included.
    await kees.send("Hoi Anna! Welk domein gaat het om?", chat_id=STAFF_CHAT_ID,
                    thread_id=ticket.topic_id)
    await balie.settled()
    assert anna.last_text() == "💬 Kees: Hoi Anna! Welk domein gaat het om?"
    await anna.send("voorbeeld.nl")
    await anna.send_photo("zo ziet het eruit")
    await balie.settled()
    assert "voorbeeld.nl" in topic_texts(tg, ticket)[-2]
    assert tg.chat(STAFF_CHAT_ID, ticket.topic_id)[-1].kind == "photo"
    # /help still works and is not relayed.
    before = len(tg.chat(STAFF_CHAT_ID, ticket.topic_id))
    await anna.send("/help")
    await balie.settled()
    assert len(tg.chat(STAFF_CHAT_ID, ticket.topic_id)) == before

    # /back: the colleague hands the customer back to the bot; both sides are told.
    await kees.send("/back", chat_id=STAFF_CHAT_ID, thread_id=ticket.topic_id)
    await balie.settled()
    assert "Kees heeft de chat beëindigd" in anna.last_text()
    assert "de klant praat weer met de bot" in topic_texts(tg, ticket)[-1]
    await anna.send("hoe zeg ik mijn hosting op")
    await balie.settled()
    assert "hoe zeg ik mijn hosting op" not in " ".join(topic_texts(tg, ticket))
    stored = await balie.services.tickets.get(ticket.id, full=True)
    assert not stored.live and stored.assignee == "Kees"
    assert [(m.author, m.text) for m in stored.messages] == [
        (Author.CUSTOMER, "Mijn site is traag sinds de verhuizing"),
        (Author.COLLEAGUE, "Hoi Anna! Welk domein gaat het om?"),
        (Author.CUSTOMER, "voorbeeld.nl"),
        (Author.CUSTOMER, "zo ziet het eruit"),
    ]


@pytest.mark.usefixtures("office_open")
async def test_nobody_picks_it_up_in_time_and_it_is_left_as_a_ticket(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    ticket = await start_chat(anna, balie, "Kan iemand meekijken naar mijn DNS?")
    assert balie.app is not None
    watch = balie.app.live_watch
    assert await watch.sweep(datetime.now(UTC) + timedelta(minutes=4)) == []  # not yet
    assert await watch.sweep(datetime.now(UTC) + timedelta(minutes=6)) == [ticket.id]
    assert await watch.sweep(datetime.now(UTC) + timedelta(minutes=9)) == []  # told once
    await balie.settled()
    text = anna.last_text()
    assert "binnen 5 minuten een collega te vinden" in text and f"ticket #{ticket.id}" in text
    assert anna.buttons() == ["📝 Laat het als ticket staan", "⏳ Ik wacht nog even"]
    await anna.send("Nog steeds iemand?")  # nothing they write meanwhile is lost
    await anna.press("Laat het als ticket staan")
    await balie.settled()
    assert f"Je vraag staat als ticket #{ticket.id} in de wachtrij" in anna.last_text()
    stored = await balie.services.tickets.get(ticket.id, full=True)
    assert not stored.live and stored.category == Category.QUESTION
    assert stored.priority == Priority.NORMAL and stored.status == Status.OPEN
    assert [m.text for m in stored.messages] == ["Kan iemand meekijken naar mijn DNS?",
                                                 "Nog steeds iemand?"]
    assert any("De klant laat de vraag als ticket achter" in text
               for text in topic_texts(tg, stored))
    # Back with the bot: a question gets the knowledge base again.
    await anna.send("hoe zeg ik mijn hosting op")
    assert "hoe zeg ik mijn hosting op" not in " ".join(topic_texts(tg, stored))


@pytest.mark.usefixtures("office_open")
async def test_the_customer_stops_the_chat(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    ticket = await start_chat(anna, balie, "Vraagje over mijn factuur")
    await anna.send("/stop")
    await balie.settled()
    assert any(f"Wat je schreef blijft bewaard bij ticket #{ticket.id}" in m.plain
               for m in anna.messages())
    assert "De klant heeft de chat beëindigd" in topic_texts(tg, ticket)[-1]
    assert not (await balie.services.tickets.get(ticket.id)).live


@pytest.mark.usefixtures("office_open")
async def test_a_colleague_hands_the_chat_off_as_a_ticket_with_the_transcript(
    anna: TelegramUser, kees: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    ticket = await start_chat(anna, balie, "Ik wil mijn hosting opzeggen maar het lukt niet")
    await kees.send("/claim", chat_id=STAFF_CHAT_ID, thread_id=ticket.topic_id)
    await kees.send("Ik zoek het uit en kom erop terug.", chat_id=STAFF_CHAT_ID,
                    thread_id=ticket.topic_id)
    await anna.send("Top, dank je")
    await kees.send("/ticket opzegging", chat_id=STAFF_CHAT_ID, thread_id=ticket.topic_id)
    await balie.settled()
    stored = await balie.services.tickets.get(ticket.id, full=True)
    assert stored.category == Category.CANCELLATION and stored.priority == Priority.NORMAL
    assert not stored.live and stored.assignee == "Kees"
    assert [m.text for m in stored.messages] == [
        "Ik wil mijn hosting opzeggen maar het lukt niet", "Ik zoek het uit en kom erop terug.",
        "Top, dank je"]
    assert (f"Kees heeft je vraag als ticket #{ticket.id} in de wachtrij gezet"
            in anna.last_text())
    assert any("Kees zet de chat als ticket in de wachtrij" in t for t in topic_texts(tg, stored))
    assert tg.topics(STAFF_CHAT_ID)[stored.topic_id or 0].name.startswith(f"#{ticket.id} 🟡")
    # Handed off already: /ticket again says so and changes nothing.
    await kees.send("/ticket vraag", chat_id=STAFF_CHAT_ID, thread_id=ticket.topic_id)
    assert "is geen lopende livechat (het is al een gewoon ticket)" in kees.last_text(
        STAFF_CHAT_ID, ticket.topic_id)
    assert (await balie.services.tickets.get(ticket.id)).category == Category.CANCELLATION


@pytest.mark.usefixtures("office_open")
async def test_an_unknown_kind_of_ticket_is_explained(
    anna: TelegramUser, kees: TelegramUser, balie: Balie,
) -> None:
    ticket = await start_chat(anna, balie, "Hallo?")
    await kees.send("/ticket appeltaart", chat_id=STAFF_CHAT_ID, thread_id=ticket.topic_id)
    assert "„appeltaart” is geen soort ticket" in kees.last_text(STAFF_CHAT_ID, ticket.topic_id)
    assert (await balie.services.tickets.get(ticket.id)).live


async def test_outside_office_hours_the_question_is_left_as_a_ticket(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    # Saturday 28 November 2026, 10:00 (the suite's pinned moment): closed until Monday.
    await anna.send("/start")
    await anna.press("Medewerker spreken")
    text = anna.last_text()
    assert "ze zijn er weer maandag 30 november om 9:00" in text
    await anna.press("Laat een vraag achter")
    await anna.send("Waarom is mijn factuur hoger dan vorige maand?")
    await balie.settled()
    [ticket] = await balie.services.tickets.list()
    assert ticket.category == Category.QUESTION and not ticket.live
    assert ticket.subject == "Vraag: Waarom is mijn factuur hoger dan vorige maand?"
    assert f"ticket #{ticket.id} klaar" in anna.last_text()
    assert "vanaf maandag 30 november 9:00" in anna.last_text()
    full = await balie.services.tickets.get(ticket.id, full=True)
    assert [m.text for m in full.messages] == ["Waarom is mijn factuur hoger dan vorige maand?"]
    # Anything typed next is for the bot again, not for the ticket.
    await anna.send("dank je")
    assert len((await balie.services.tickets.get(ticket.id, full=True)).messages) == 1


async def test_in_the_evening_colleagues_are_back_tomorrow(
    anna: TelegramUser, balie: Balie, monkeypatch: pytest.MonkeyPatch,
) -> None:
    at(monkeypatch, MONDAY_EVENING)
    await anna.send("/start medewerker")
    assert "ze zijn er weer morgen om 9:00" in anna.last_text()


async def test_on_a_public_holiday_colleagues_are_back_after_it(
    anna: TelegramUser, john: TelegramUser, balie: Balie, monkeypatch: pytest.MonkeyPatch,
) -> None:
    at(monkeypatch, CHRISTMAS)  # Friday 25 December; Saturday 26th Boxing Day, then Sunday
    await anna.send("/start medewerker")
    assert "ze zijn er weer maandag 28 december om 9:00" in anna.last_text()
    await john.send("/start medewerker")
    assert "they are back on Monday, December 28 at 9:00" in john.last_text()


async def test_an_unanswered_question_is_filed_as_a_ticket_from_the_chat(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    await anna.send("Wat kost een vps met 64 GB geheugen?")
    assert "Maak een ticket aan" in anna.buttons()
    assert "Spreek een collega" in anna.buttons()
    no_answer = anna.last_message()
    assert no_answer is not None
    [file_it] = [data for row in no_answer.buttons for label, data in row
                 if label == "Maak een ticket aan"]
    await anna.press("Maak een ticket aan")
    await balie.settled()
    [ticket] = await balie.services.tickets.list()
    assert ticket.category == Category.QUESTION
    assert f"ticket #{ticket.id} klaar" in anna.last_text()
    full = await balie.services.tickets.get(ticket.id, full=True)
    assert [m.text for m in full.messages] == ["Wat kost een vps met 64 GB geheugen?"]
    assert full.fields["last_question"] == "Wat kost een vps met 64 GB geheugen?"
    # A second press of the same (old) button files nothing more.
    await anna.press_data(file_it, message_id=no_answer.message_id)
    await balie.settled()
    assert len(await balie.services.tickets.list()) == 1


@pytest.mark.usefixtures("office_open")
async def test_answering_a_live_chat_picks_it_up(
    anna: TelegramUser, kees: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    """A colleague who just answers (no claim first) has the chat: the customer hears who is
    there, and is never told that nobody came."""
    ticket = await start_chat(anna, balie, "Is er iemand?")
    await kees.send("Ja, ik ben er!", chat_id=STAFF_CHAT_ID, thread_id=ticket.topic_id)
    await balie.settled()
    told = [m.plain for m in anna.messages() if m.from_bot]
    assert "Kees is er nu" in told[-2] and told[-1] == "💬 Kees: Ja, ik ben er!"
    assert (await balie.services.tickets.get(ticket.id)).assignee == "Kees"
    assert balie.app is not None
    assert await balie.app.live_watch.sweep(datetime.now(UTC) + timedelta(hours=1)) == []


@pytest.mark.usefixtures("office_open")
async def test_a_menu_button_during_a_chat_ends_it_first(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    await anna.send("/start")
    menu = anna.last_message()  # an older menu, still there to be pressed
    assert menu is not None
    [deadlines] = [data for row in menu.buttons for label, data in row if "Opzegtermijn" in label]
    await anna.send("/menu")
    await anna.press("Medewerker spreken")
    await anna.send("Kan ik iets vragen?")
    ticket = await live_ticket(balie)
    assert ticket.live
    await anna.press_data(deadlines, message_id=menu.message_id)  # mid-chat
    await balie.settled()
    assert not (await balie.services.tickets.get(ticket.id)).live
    assert any("Je praat weer met mij, de bot" in m.plain for m in anna.messages())
    assert "De klant heeft de chat beëindigd" in topic_texts(tg, ticket)[-1]
    await anna.send("15 maart 2027")
    await balie.settled()
    assert "15 maart 2027" not in " ".join(topic_texts(tg, ticket))


@pytest.mark.usefixtures("office_open")
async def test_closing_a_live_chat_ends_it(
    anna: TelegramUser, kees: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    ticket = await start_chat(anna, balie, "Even een vraag")
    await kees.send("/close", chat_id=STAFF_CHAT_ID, thread_id=ticket.topic_id)
    await balie.settled()
    stored = await balie.services.tickets.get(ticket.id)
    assert stored.status == Status.CLOSED and not stored.live
    await anna.send("hoe zeg ik mijn hosting op")  # for the bot again, no new ticket
    await balie.settled()
    assert len(await balie.services.tickets.list()) == 1


async def test_the_live_chat_memory_keeps_a_change_made_while_it_was_read(
    balie: Balie, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reload of who is chatting live that read the table before a chat opened, and
    returns after, must not be kept: else that customer's messages go to the bot."""
    from tickets.models import Customer

    store = balie.services.tickets
    service = balie.services.ticket_service
    database = store.database
    read = database.fetchall
    gate = asyncio.Event()

    async def slow_reload(sql: str, params: tuple[object, ...] = ()) -> list:  # type: ignore[type-arg]
        rows = await read(sql, params)
        if "DISTINCT customer_id" in sql:
            await gate.wait()  # what it read is older than the commit below
        return rows

    monkeypatch.setattr(database, "fetchall", slow_reload)
    customer = Customer(7001, "Klant", None, "nl")
    store._forget_live()
    reading = asyncio.ensure_future(store.is_live(customer.telegram_id))
    await asyncio.sleep(0.05)  # the reload has read the table
    ticket = await service.open_live_chat(customer=customer, question="hallo", context={})
    gate.set()
    assert await reading is False  # it read before the chat opened
    assert await store.is_live(customer.telegram_id)  # and that old answer was not kept
    await service.end_live_chat(ticket.id, actor="customer")
    assert not await store.is_live(customer.telegram_id)


async def test_a_clock_that_moves_on_between_looks_still_finds_the_office_open(
    anna: TelegramUser, balie: Balie, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real clock differs at every call: "open now" compares one moment, not two."""
    ticks = iter(range(1_000_000))
    monkeypatch.setattr(Services, "now", lambda self: MONDAY_MORNING + timedelta(
        microseconds=next(ticks)))
    await anna.send("/start medewerker")
    assert "Ik haal er een collega bij. Waar gaat het over?" in anna.last_text()


async def test_without_a_staff_group_the_question_is_left_as_a_ticket(console: object) -> None:
    """`balie console` (no staff group): nobody could see a live chat, so none is offered."""
    shown = await console.chat("/start medewerker\nKan ik mijn factuur per post krijgen?\n")  # type: ignore[attr-defined]
    assert "Ik haal er een collega bij" not in shown
    assert "ik zet hem als ticket klaar" in shown and "ticket #1 klaar" in shown
