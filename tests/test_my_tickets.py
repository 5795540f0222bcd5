"""Mijn tickets end to end: the list, a thread (paged), reply and close; the rating after a
colleague closed a ticket (5, and 1 with what went wrong: stored, in the topic, in /stats);
a reply to a closed ticket within and after `reopen_days`; "which ticket is this about?"
both ways; forged callback data refused. The customer and a colleague on the fake Bot API,
the real bot long-polling it, the clock pinned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.dialogs.my_tickets import MyTicketsCb, rating_buttons
from knowledge.dates import format_date
from tests.client import TelegramUser
from tests.conftest import STAFF_CHAT_ID, Balie
from tests.fakeapi import FakeTelegram
from tickets.models import Author, Category, Customer, Status, Ticket

ANNA = Customer(1001, "Anna", "anna", "nl", "anna@example.nl")
JOHN = Customer(1002, "John", "john", "en", "john@example.com")


@pytest.fixture
def kees(balie: Balie, tg: FakeTelegram) -> TelegramUser:
    tg.set_member(STAFF_CHAT_ID, 2001, "member")
    return balie.user(2001, "Kees", "nl", username="kees")


async def file(balie: Balie, subject: str, customer: Customer = ANNA,
               category: Category = Category.QUESTION) -> Ticket:
    ticket, _ = await balie.services.ticket_service.open_ticket(
        category=category, customer=customer, subject=subject)
    await balie.settled()
    return ticket


async def three_tickets(balie: Balie) -> tuple[Ticket, Ticket, Ticket]:
    """A closed one (oldest), one a colleague is on, one still open (newest)."""
    service = balie.services.ticket_service
    closed = await file(balie, "Factuur klopt niet", category=Category.PAYMENT_ARRANGEMENT)
    await service.claim(closed.id, "Kees")
    await service.colleague_replied(closed.id, "Kees", "De factuur is gecorrigeerd.")
    await service.close(closed.id, "Kees")
    busy = await file(balie, "Opzegging voorbeeld.nl", category=Category.CANCELLATION)
    await service.claim(busy.id, "Kees")
    waiting = await file(balie, "Vraag over DNS")
    await balie.settled()
    return closed, busy, waiting


def stamp_of(balie: Balie, ticket: Ticket) -> str:
    """"1 december 2026 10:49": the last activity as the list shows it."""
    moment = datetime.fromisoformat(ticket.updated_at).astimezone(ZoneInfo("Europe/Amsterdam"))
    return f"{format_date(moment.date(), 'nl')} {moment:%H:%M}"


async def test_my_tickets_lists_three_tickets_in_different_states(
    anna: TelegramUser, balie: Balie,
) -> None:
    closed, busy, waiting = await three_tickets(balie)
    store = balie.services.tickets
    closed, busy, waiting = [await store.get(t.id) for t in (closed, busy, waiting)]
    await anna.send("/start")
    assert "🎫 Mijn tickets" in anna.buttons()
    await anna.press("🎫 Mijn tickets")
    shown = anna.last_text()
    print(shown)
    print(anna.button_rows())
    assert shown == f"""🎫 Mijn tickets

#{waiting.id} Vraag over DNS
open, een collega pakt het op · laatst bijgewerkt {stamp_of(balie, waiting)}

#{busy.id} Opzegging voorbeeld.nl
een collega is ermee bezig · laatst bijgewerkt {stamp_of(balie, busy)}

#{closed.id} Factuur klopt niet
gesloten · laatst bijgewerkt {stamp_of(balie, closed)}

Kies een ticket om het te lezen, te beantwoorden of te sluiten."""
    assert anna.button_rows() == [[f"#{waiting.id} Vraag over DNS"],
                                  [f"#{busy.id} Opzegging voorbeeld.nl"],
                                  [f"#{closed.id} Factuur klopt niet"], ["☰ Menu"]]
    # The same list from the command, the deep link and typed words.
    for typed in ("/tickets", "/start tickets", "mijn tickets"):
        await anna.send(typed)
        assert anna.last_text() == shown, typed


async def test_the_list_is_paged_and_empty_says_so(
    anna: TelegramUser, john: TelegramUser, balie: Balie,
) -> None:
    await john.send("/tickets")
    assert "You have no tickets with us yet" in john.last_text()
    for number in range(7):
        await file(balie, f"Vraag {number}")
    await anna.send("/tickets")
    assert "(pagina 1 van 2)" in anna.last_text()
    assert "Vraag 6" in anna.last_text() and "Vraag 1" not in anna.last_text()
    await anna.press("Oudere ›")
    assert "(pagina 2 van 2)" in anna.last_text()
    assert "Vraag 1" in anna.last_text() and "Vraag 0" in anna.last_text()
    assert "Vraag 6" not in anna.last_text()
    await anna.press("‹ Nieuwere")
    assert "Vraag 6" in anna.last_text()


async def test_read_a_thread_paged_without_internal_notes(
    anna: TelegramUser, balie: Balie,
) -> None:
    service = balie.services.ticket_service
    ticket = await file(balie, "Mail werkt niet")
    await service.claim(ticket.id, "Kees de Vries")
    for number in range(1, 4):
        await service.customer_wrote(ticket.id, ANNA.telegram_id, f"Klant bericht {number}")
        await service.colleague_replied(ticket.id, "Kees de Vries", f"Antwoord {number}")
    await service.internal_note(ticket.id, "Kees de Vries", "GEHEIM: klant belt vaak")
    await balie.settled()

    await anna.send("/tickets")
    await anna.press(f"#{ticket.id} Mail werkt niet")
    text = anna.last_text()
    assert text.startswith(f"🎫 Ticket #{ticket.id} · Mail werkt niet\n"
                           "Status: een collega is ermee bezig")
    assert "Berichten, pagina 1 van 2 (de nieuwste eerst)" in text
    # The newest five, oldest of them first; the note never.
    assert "Antwoord 3" in text and "Klant bericht 2" in text and "Klant bericht 1" not in text
    assert text.index("Klant bericht 2") < text.index("Antwoord 3")
    assert "Kees ·" in text and "Jij ·" in text and "de Vries" not in text
    assert "GEHEIM" not in text
    assert anna.button_rows() == [["✏️ Reageren", "✅ Sluiten"], ["Oudere berichten ›"],
                                  ["‹ Mijn tickets"]]
    await anna.press("Oudere berichten ›")
    text = anna.last_text()
    assert "Berichten, pagina 2 van 2" in text and "Klant bericht 1" in text
    assert "Antwoord 3" not in text and "GEHEIM" not in text
    await anna.press("‹ Nieuwere berichten")
    assert "Antwoord 3" in anna.last_text()
    await anna.press("‹ Mijn tickets")
    assert anna.last_text().startswith("🎫 Mijn tickets")


async def test_reply_from_the_ticket_goes_to_it_and_its_topic(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    service = balie.services.ticket_service
    ticket = await file(balie, "Mail werkt niet")
    await service.claim(ticket.id, "Kees")
    await service.set_status(ticket.id, Status.WAITING_ON_CUSTOMER, actor="colleague:Kees")
    await balie.settled()
    await anna.send("/tickets")
    await anna.press(f"#{ticket.id} Mail werkt niet")
    assert "Status: wacht op jouw antwoord" in anna.last_text()
    await anna.press("✏️ Reageren")
    assert f"Typ je bericht voor ticket #{ticket.id}" in anna.last_text()
    await anna.send("Het is de mailbox info@voorbeeld.nl")
    await balie.settled()
    assert anna.last_text() == (f"✉️ Toegevoegd aan ticket #{ticket.id}. "
                                "Onze collega's zien het.")
    stored = await balie.services.tickets.get(ticket.id, full=True)
    assert stored.status == Status.IN_PROGRESS  # back with the colleague who waited for it
    assert stored.messages[-1].author == Author.CUSTOMER
    assert stored.messages[-1].text == "Het is de mailbox info@voorbeeld.nl"
    assert stored.topic_id is not None
    assert "Het is de mailbox info@voorbeeld.nl" in \
        tg.chat(STAFF_CHAT_ID, stored.topic_id)[-1].plain
    # The next message is not another reply: it asks which ticket it is about.
    await anna.send("hoe zeg ik mijn hosting op")
    assert anna.last_text().startswith("Gaat dit over je ticket")
    assert len((await balie.services.tickets.get(ticket.id, full=True)).messages) == 1


async def test_cancel_a_reply_and_close_a_ticket_after_confirming(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    ticket = await file(balie, "Vraag over DNS")
    await anna.send("/tickets")
    await anna.press(f"#{ticket.id} Vraag over DNS")
    await anna.press("✏️ Reageren")
    await anna.press("✖ Annuleren")
    assert anna.last_text().startswith(f"🎫 Ticket #{ticket.id}")
    assert await balie.services.tickets.count_customer_thread(ticket.id) == 0

    await anna.press("✅ Sluiten")
    assert anna.last_text().startswith(f"Ticket #{ticket.id} (Vraag over DNS) sluiten?")
    await anna.press("Nee, terug")
    assert (await balie.services.tickets.get(ticket.id)).status == Status.OPEN
    await anna.press("✅ Sluiten")
    await anna.press("Ja, sluiten")
    await balie.settled()
    stored = await balie.services.tickets.get(ticket.id, full=True)
    assert stored.status == Status.CLOSED
    assert stored.events[-1].actor == "customer"
    text = anna.last_text()
    assert text.startswith(f"✅ Je hebt ticket #{ticket.id} gesloten.")
    assert "Status: gesloten" in text and "Dit ticket is gesloten. Reageer je binnen 7 dagen" \
        in text
    assert anna.button_rows() == [["✏️ Reageren"], ["‹ Mijn tickets"]]
    # Closed by the customer: no rating asked.
    assert not any("★" in label for label in anna.buttons())


async def close_by_colleague(balie: Balie, anna: TelegramUser, subject: str) -> Ticket:
    service = balie.services.ticket_service
    ticket = await file(balie, subject)
    await service.claim(ticket.id, "Kees")
    await service.colleague_replied(ticket.id, "Kees", "Opgelost, toch?")
    await service.close(ticket.id, "Kees", "klant geholpen")
    await balie.settled()
    closed = anna.last_message()
    assert f"Ticket #{ticket.id} ({subject}) is afgesloten" in closed.plain
    assert "Geef een cijfer van 1 tot 5" in closed.plain
    assert closed.labels == ["1 ★", "2 ★", "3 ★", "4 ★", "5 ★"]
    return await balie.services.tickets.get(ticket.id)


async def test_rating_five_after_a_colleague_closed_it(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    ticket = await close_by_colleague(balie, anna, "Mail werkt niet")
    await anna.press("5 ★")
    await balie.settled()
    assert (await balie.services.tickets.get(ticket.id)).rating == 5
    assert anna.callback_answers()[-1] == "Bedankt voor je 5 ★"
    assert anna.last_text() == "🙏 Bedankt voor je beoordeling!"
    assert not any("★" in label for row in anna.button_rows() for label in row)
    assert ticket.topic_id is not None
    assert tg.chat(STAFF_CHAT_ID, ticket.topic_id)[-1].plain == \
        "⭐ Anna beoordeelde dit ticket met 5 van 5."
    stored = await balie.services.tickets.get(ticket.id, full=True)
    assert stored.status == Status.CLOSED
    assert [e.detail for e in stored.events if e.action == "rating"] == \
        [{"from": None, "to": 5}]


async def test_rating_one_asks_what_went_wrong(
    anna: TelegramUser, kees: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    ticket = await close_by_colleague(balie, anna, "Mail werkt niet")
    await anna.press("1 ★")
    assert anna.last_text().startswith(f"Dat spijt ons. Wat ging er mis met ticket #{ticket.id}?")
    await anna.send("Het duurde een week voor iemand reageerde")
    await balie.settled()
    assert anna.last_text().startswith("🙏 Dank je wel. We hebben het aan het ticket toegevoegd")
    stored = await balie.services.tickets.get(ticket.id, full=True)
    assert stored.rating == 1
    assert stored.status == Status.CLOSED  # the comment does not reopen it
    assert stored.messages[-1].author == Author.CUSTOMER
    assert stored.messages[-1].text == "Het duurde een week voor iemand reageerde"
    assert stored.as_json(full=True)["messages"][-1]["text"] == \
        "Het duurde een week voor iemand reageerde"  # what `balie tickets show` prints
    assert ticket.topic_id is not None
    topic = [m.plain for m in tg.chat(STAFF_CHAT_ID, ticket.topic_id)]
    assert "⭐ Anna beoordeelde dit ticket met 1 van 5." in topic
    assert topic[-1] == ("💬 Anna over de beoordeling (1 van 5), wat er misging:\n"
                         "Het duurde een week voor iemand reageerde")

    await kees.send("/stats", chat_id=STAFF_CHAT_ID)
    stats = kees.last_text(STAFF_CHAT_ID)
    assert "Beoordeling: 1,0 van 5 (1★ 1)" in stats
    assert (f"Wat er misging (beoordeling 1–2):\n• #{ticket.id} (1★): "
            "Het duurde een week voor iemand reageerde") in stats


async def test_a_low_rating_without_a_comment(anna: TelegramUser, balie: Balie) -> None:
    ticket = await close_by_colleague(balie, anna, "Mail werkt niet")
    await anna.press("2 ★")
    await anna.press("Overslaan")
    assert anna.last_text() == "🙏 Bedankt. Je beoordeling is bewaard."
    await anna.send("hoe zeg ik mijn hosting op")  # a question again, no comment
    stored = await balie.services.tickets.get(ticket.id, full=True)
    assert stored.rating == 2
    assert [m.author for m in stored.messages] == [Author.COLLEAGUE, Author.NOTE]


async def test_reply_to_a_closed_ticket_within_reopen_days_reopens_it(
    anna: TelegramUser, balie: Balie,
) -> None:
    ticket = await close_by_colleague(balie, anna, "Mail werkt niet")
    await anna.send("/tickets")
    await anna.press(f"#{ticket.id} Mail werkt niet")
    await anna.press("✏️ Reageren")
    assert "Het ticket is gesloten: binnen 7 dagen" in anna.last_text()
    await anna.send("Het werkt toch weer niet")
    await balie.settled()
    assert anna.last_text() == (f"✉️ Toegevoegd aan ticket #{ticket.id}; het ticket is weer "
                                "geopend. Onze collega's zien het.")
    stored = await balie.services.tickets.get(ticket.id, full=True)
    assert stored.status == Status.OPEN
    assert stored.messages[-1].text == "Het werkt toch weer niet"


async def test_reply_to_a_ticket_closed_longer_ago_starts_a_linked_one(
    anna: TelegramUser, balie: Balie,
) -> None:
    ticket = await close_by_colleague(balie, anna, "Mail werkt niet")
    long_ago = (datetime.now(UTC) - timedelta(days=10)).isoformat(timespec="seconds")
    async with balie.services.database.transaction() as connection:
        await connection.execute("UPDATE tickets SET closed_at = ? WHERE id = ?",
                                 (long_ago, ticket.id))
    await anna.send("/tickets")
    await anna.press(f"#{ticket.id} Mail werkt niet")
    await anna.press("✏️ Reageren")
    await anna.send("Het werkt toch weer niet")
    await balie.settled()
    follow_up = max(await balie.services.tickets.list(), key=lambda each: each.id)
    assert follow_up.id != ticket.id and follow_up.linked_ticket_id == ticket.id
    assert anna.last_text() == (f"✉️ Toegevoegd aan ticket #{follow_up.id}, een vervolg op "
                                f"ticket #{ticket.id} (dat was al langer gesloten). Onze "
                                "collega's zien het.")
    assert (await balie.services.tickets.get(ticket.id)).status == Status.CLOSED
    messages = (await balie.services.tickets.get(follow_up.id, full=True)).messages
    assert [m.text for m in messages] == ["Het werkt toch weer niet"]


async def test_free_text_asks_which_ticket_and_goes_to_it(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    _, busy, waiting = await three_tickets(balie)
    await anna.send("Is het al gelukt?")
    assert anna.last_text() == ("Gaat dit over je ticket waar een collega mee bezig is, of is "
                                "het iets nieuws?\n\nIs het al gelukt?")
    # The open ticket nobody is on yet is not offered; the closed one neither.
    assert anna.button_rows() == [[f"Over #{busy.id} Opzegging voorbeeld.nl"],
                                  ["🆕 Iets nieuws"]]
    assert await balie.services.tickets.count_customer_thread(busy.id) == 0  # not attached
    await anna.press(f"Over #{busy.id}")
    await balie.settled()
    assert anna.last_text() == f"✉️ Toegevoegd aan ticket #{busy.id}. Onze collega's zien het."
    messages = (await balie.services.tickets.get(busy.id, full=True)).messages
    assert [(m.author, m.text) for m in messages] == [(Author.CUSTOMER, "Is het al gelukt?")]
    topic = (await balie.services.tickets.get(busy.id)).topic_id
    assert topic is not None and "Is het al gelukt?" in tg.chat(STAFF_CHAT_ID, topic)[-1].plain
    assert await balie.services.tickets.count_customer_thread(waiting.id) == 0
    # The question's buttons are gone: a second press does nothing.
    await anna.press_data(MyTicketsCb(action="about", ticket=busy.id).pack())
    assert anna.callback_answers()[-1] == "Deze knop hoort bij een eerder bericht. Hier ben je nu:"
    assert len((await balie.services.tickets.get(busy.id, full=True)).messages) == 1


async def test_free_text_about_something_new_gets_the_knowledge_base(
    anna: TelegramUser, balie: Balie,
) -> None:
    service = balie.services.ticket_service
    first = await file(balie, "Opzegging voorbeeld.nl")
    second = await file(balie, "Factuur klopt niet")
    await service.claim(first.id, "Kees")
    await service.claim(second.id, "Kees")
    await service.set_status(second.id, Status.WAITING_ON_CUSTOMER, actor="colleague:Kees")
    await balie.settled()
    await anna.send("hoe zeg ik mijn hosting op")
    assert anna.last_text().startswith("Gaat dit over een van je tickets")
    assert anna.button_rows() == [[f"Over #{second.id} Factuur klopt niet"],
                                  [f"Over #{first.id} Opzegging voorbeeld.nl"],
                                  ["🆕 Iets nieuws"]]
    await anna.press("🆕 Iets nieuws")
    assert "Hoe zeg ik mijn dienst op?" in anna.last_text()
    for ticket in (first, second):
        assert await balie.services.tickets.count_customer_thread(ticket.id) == 0


async def test_forged_callback_data_never_reaches_another_customers_ticket(
    anna: TelegramUser, john: TelegramUser, balie: Balie,
) -> None:
    johns = await file(balie, "John's secret invoice", customer=JOHN)
    await balie.services.ticket_service.claim(johns.id, "Kees")
    await balie.services.ticket_service.close(johns.id, "Kees")
    mine = await file(balie, "Vraag over DNS")
    await balie.settled()
    await anna.send("/tickets")
    stale = "Deze knop hoort bij een eerder bericht. Hier ben je nu:"
    for action in ("open", "reply", "close", "closeok", "about", "rate", "skip"):
        seen = await anna.press_data(MyTicketsCb(action=action, ticket=johns.id,
                                                 stars=5).pack())
        assert anna.callback_answers()[-1] == stale, action
        assert not any("secret" in m.plain for m in seen), action
    for forged in ("mt:open:99999999999999999999:0:0", "mt:open:-1:0:0", "mt:rate:1:0:9",
                   "mt:nonsense:1:0:0", f"mt:open:{mine.id}:abc:0"):
        await anna.press_data(forged)
        assert anna.callback_answers()[-1] == stale, forged
    stored = await balie.services.tickets.get(johns.id, full=True)
    assert stored.rating is None and stored.status == Status.CLOSED
    assert stored.messages == ()
    # A message typed after the forged "reply" does not land on John's ticket.
    await anna.send("hoe zeg ik mijn hosting op")
    assert (await balie.services.tickets.get(johns.id, full=True)).messages == ()
    assert "Hoe zeg ik mijn dienst op?" in anna.last_text()


def test_every_my_tickets_button_fits_telegram_s_64_bytes(balie: Balie) -> None:
    biggest = 2**63 - 1
    for action in ("list", "open", "reply", "close", "closeok", "about", "new", "rate",
                   "skip"):
        data = MyTicketsCb(action=action, ticket=biggest, page=10_000, stars=5).pack()
        assert len(data.encode()) <= 64, data
    texts = balie.services.texts
    for lang in ("nl", "en"):
        [row] = rating_buttons(texts, lang, biggest)
        assert len(row) == 5
        assert all(len(data.encode()) <= 64 for _, data in row)


async def test_in_english_a_photo_as_the_reply(
    john: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    ticket = await file(balie, "Mail is down", customer=JOHN)
    await balie.services.ticket_service.claim(ticket.id, "Kees")
    await balie.settled()
    await john.send("my tickets")
    assert john.last_text().startswith(f"🎫 My tickets\n\n#{ticket.id} Mail is down\n"
                                       "a colleague is on it · last activity ")
    await john.press(f"#{ticket.id} Mail is down")
    assert "Status: a colleague is on it" in john.last_text()
    assert "No messages yet." in john.last_text()
    await john.press("✏️ Reply")
    await john.send_photo("the error I get")
    await balie.settled()
    assert john.last_text() == f"✉️ Added to ticket #{ticket.id}. Our colleagues can see it."
    [message] = (await balie.services.tickets.get(ticket.id, full=True)).messages
    assert (message.author, message.text, message.media) == \
        (Author.CUSTOMER, "the error I get", "photo")
    await john.send("/tickets")
    await john.press(f"#{ticket.id} Mail is down")
    assert "You ·" in john.last_text() and "📎" in john.last_text()
