"""The colleagues' workspace end to end: a topic per ticket with its card, kept in step with
the ticket; relay both ways (text and media); a deleted topic recreated with nothing lost; a
blocked customer marked; a burst of tickets under the group's limits. One customer and two
colleagues on the fake Bot API, the real bot long-polling it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest

from tests.client import TelegramUser
from tests.conftest import STAFF_CHAT_ID, Balie
from tests.fakeapi import FakeTelegram, ShownMessage
from tests.test_cancellation import to_summary
from tickets.models import Author, Category, Customer, Priority, Status, Ticket

ANNA = Customer(1001, "Anna", "anna", "nl", "anna@example.nl")


@pytest.fixture
def kees(balie: Balie, tg: FakeTelegram) -> TelegramUser:
    tg.set_member(STAFF_CHAT_ID, 2001, "member")
    return balie.user(2001, "Kees", "nl", username="kees")


@pytest.fixture
def sanne(balie: Balie, tg: FakeTelegram) -> TelegramUser:
    tg.set_member(STAFF_CHAT_ID, 2002, "member")
    return balie.user(2002, "Sanne", "nl", username="sanne")


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def file_cancellation(anna: TelegramUser, balie: Balie) -> Ticket:
    await to_summary(anna, service="Hostingpakket", domain="voorbeeld.nl",
                     renewal="15 maart 2027", email="anna@example.nl")
    await anna.press("Dien opzegverzoek in")
    ticket = max(await balie.services.tickets.list(), key=lambda each: each.id)
    assert ticket.category == Category.CANCELLATION
    await balie.settled()
    return await balie.services.tickets.get(ticket.id)


def card_of(tg: FakeTelegram, ticket: Ticket) -> ShownMessage:
    assert ticket.card_message_id is not None
    card = tg.message(STAFF_CHAT_ID, ticket.card_message_id)
    assert card is not None and not card.deleted
    return card


async def test_a_filed_ticket_gets_its_topic_and_card(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    ticket = await file_cancellation(anna, balie)
    assert ticket.topic_id is not None
    topic = tg.topics(STAFF_CHAT_ID)[ticket.topic_id]
    assert topic.name == f"#{ticket.id} 🔴 Opzegging voorbeeld.nl"
    [card] = tg.chat(STAFF_CHAT_ID, ticket.topic_id)
    assert card.message_id == ticket.card_message_id
    text = card.plain
    assert f"Ticket #{ticket.id} · Opzegging" in text
    assert "Status: open · prioriteit: normaal · nog niemand opgepakt" in text
    assert "👤 Anna · @anna · Nederlands · anna@example.nl" in text
    # Every field in words and dates, none raw.
    assert "Wat: hostingpakket" in text
    assert "Verlengdatum: 15 maart 2027" in text
    assert "Opzeggen uiterlijk: 15 februari 2027" in text
    assert "Wanneer: einde van de termijn" in text
    assert "Reden: prijs" in text
    assert "Toelichting: Te duur geworden" in text
    assert "Domein verhuizen: nee" in text
    for raw in ("None", "True", "False", "renewal_date", "end_of_term", "2027-03-15"):
        assert raw not in text
    assert "Geen andere open tickets" in text
    assert card.labels == ["🙋 Oppakken", "⏳ Wacht op klant", "✅ Sluiten",
                           "⚑ Prioriteit: normaal"]
    # The customer has the confirmation; nothing of the staff side reached them.
    assert f"ticket #{ticket.id}" in anna.last_text()


async def test_the_card_lists_the_customers_other_open_tickets(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    service = balie.services.ticket_service
    older, _ = await service.open_ticket(category=Category.QUESTION, customer=ANNA,
                                         subject="Vraag over facturen")
    ticket = await file_cancellation(anna, balie)
    text = card_of(tg, ticket).plain
    assert f"#{older.id} Vraag over facturen (open)" in text


async def test_a_ticket_s_life_in_its_topic_and_in_the_customer_s_chat(
    anna: TelegramUser, kees: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    ticket = await file_cancellation(anna, balie)
    service = balie.services.ticket_service
    topic = ticket.topic_id
    assert topic is not None

    await service.claim(ticket.id, "Kees")
    await balie.settled()
    assert tg.topics(STAFF_CHAT_ID)[topic].name == f"#{ticket.id} 🟡 Opzegging voorbeeld.nl"
    assert "behandelaar: Kees" in card_of(tg, ticket).plain
    assert card_of(tg, ticket).labels[0] == "↩️ Loslaten"
    assert "Kees heeft je ticket" in anna.last_text()

    # A colleague's text and photo reach the customer, signed.
    await kees.send("Hoi Anna, ik zet de opzegging voor je klaar.", chat_id=STAFF_CHAT_ID,
                    thread_id=topic)
    await balie.settled()
    reply = anna.last_message()
    assert reply is not None
    assert "Kees · ticket #" in reply.plain and "ik zet de opzegging" in reply.plain
    await kees.send_photo("Zo ziet het klantenpanel eruit", chat_id=STAFF_CHAT_ID,
                          thread_id=topic)
    await balie.settled()
    photo = anna.last_message()
    assert photo is not None and photo.kind == "photo"
    assert "Kees" in photo.plain and "Zo ziet het klantenpanel eruit" in photo.plain

    # The customer answers by replying to the colleague's message: it appears in the topic.
    await anna.send("Dank je, graag per 15 maart.", reply_to=reply.message_id)
    await balie.settled()
    assert "Toegevoegd aan ticket" in anna.last_text()
    in_topic = tg.chat(STAFF_CHAT_ID, topic)[-1]
    assert "Anna" in in_topic.plain and "Dank je, graag per 15 maart." in in_topic.plain

    # Waiting for the customer, then closed: topic renamed and closed, card and customer told.
    await service.set_status(ticket.id, Status.WAITING_ON_CUSTOMER, actor="colleague:Kees")
    await balie.settled()
    assert tg.topics(STAFF_CHAT_ID)[topic].name.startswith(f"#{ticket.id} ⏳")
    assert "wachten we op jouw antwoord" in anna.last_text()
    await service.set_status(ticket.id, Status.CLOSED, actor="colleague:Kees")
    await balie.settled()
    assert tg.topics(STAFF_CHAT_ID)[topic].closed
    assert tg.topics(STAFF_CHAT_ID)[topic].name.startswith(f"#{ticket.id} ✅")
    assert card_of(tg, ticket).labels == ["🔄 Heropenen"]
    assert "is afgesloten" in anna.last_text()

    # A colleague writing in the closed topic is told; nothing reaches the customer.
    before = len(anna.messages())
    answer = await kees.send("Nog een vraag?", chat_id=STAFF_CHAT_ID, thread_id=topic)
    assert any("is gesloten" in m.plain and "🔄 Heropenen" in m.labels for m in answer)
    await balie.settled()
    assert len(anna.messages()) == before

    # The thread holds everything, in order, with who wrote it and the Telegram ids.
    full = await balie.services.tickets.get(ticket.id, full=True)
    authors = [(m.author, m.author_name, m.media) for m in full.messages]
    assert authors == [(Author.COLLEAGUE, "Kees", None), (Author.COLLEAGUE, "Kees", "photo"),
                       (Author.CUSTOMER, "Anna", None)]
    assert all(m.source is not None for m in full.messages)
    copies = await balie.services.outbox.copies_of(full.messages[0].id)
    assert [c.message_id for c in copies] == [reply.message_id]


async def test_the_customer_s_media_reaches_the_topic(
    anna: TelegramUser, kees: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    ticket = await file_cancellation(anna, balie)
    assert ticket.topic_id is not None
    await kees.send("Kun je een schermafbeelding sturen?", chat_id=STAFF_CHAT_ID,
                    thread_id=ticket.topic_id)
    await balie.settled()
    reply = anna.last_message()
    assert reply is not None
    await anna.send_photo("Hier is hij", reply_to=reply.message_id)
    await balie.settled()
    shown = tg.chat(STAFF_CHAT_ID, ticket.topic_id)[-1]
    assert shown.kind == "photo" and "Hier is hij" in shown.plain and "Anna" in shown.plain


async def test_long_messages_and_captions_arrive_whole_both_ways(
    anna: TelegramUser, kees: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    """Nothing is clipped on the way: a text as long as Telegram allows, with the heading in
    front, becomes two messages; a caption too long with the heading becomes the media with
    the heading and the text after it. Emoji count double, as Telegram counts them."""
    ticket = await file_cancellation(anna, balie)
    topic = ticket.topic_id
    assert topic is not None
    long_text = "Regel " + "😀 " * 1360 + "het einde."  # 2,736 characters, 4,096 UTF-16 units
    caption = "Bijschrift " + "é" * 1000 + " slot."  # fits alone, not with the heading
    await kees.send(long_text, chat_id=STAFF_CHAT_ID, thread_id=topic)
    await kees.send_photo(caption, chat_id=STAFF_CHAT_ID, thread_id=topic)
    await balie.settled()
    shown = anna.messages()[-4:]
    assert [m.kind for m in shown] == ["text", "text", "photo", "text"]
    assert "Kees · ticket #" in shown[0].plain and shown[1].plain.endswith(
        "het einde.\n\nAntwoorden? Reageer op dit bericht (vegen of ‘Beantwoorden’).")
    assert "".join(m.plain for m in shown[:2]).count("😀") == 1360
    assert "Kees · ticket #" in shown[2].plain and "Bijschrift" not in shown[2].plain
    assert caption in shown[3].plain

    await anna.send(long_text, reply_to=shown[1].message_id)  # a reply to the second part
    await anna.send_photo(caption, reply_to=shown[2].message_id)
    await balie.settled()
    in_topic = tg.chat(STAFF_CHAT_ID, topic)[-4:]
    assert [m.kind for m in in_topic] == ["text", "text", "photo", "text"]
    assert "".join(m.plain for m in in_topic[:2]).count("😀") == 1360
    assert in_topic[1].plain.endswith("het einde.") and caption in in_topic[3].plain
    full = await balie.services.tickets.get(ticket.id, full=True)
    assert [m.text for m in full.messages] == [long_text, caption, long_text, caption]
    assert [m.author for m in full.messages] == [Author.COLLEAGUE] * 2 + [Author.CUSTOMER] * 2
    assert await balie.services.outbox.pending_count() == 0
    assert not await balie.services.outbox.listing(states=("failed",))


async def test_an_edit_by_the_colleague_follows_to_the_customer(
    anna: TelegramUser, kees: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    ticket = await file_cancellation(anna, balie)
    assert ticket.topic_id is not None
    await kees.send("Je opzegging gaat in per 15 maart 2026.", chat_id=STAFF_CHAT_ID,
                    thread_id=ticket.topic_id)
    sent = tg.chat(STAFF_CHAT_ID, ticket.topic_id)[-1]
    assert not sent.from_bot
    await balie.settled()
    copy = anna.last_message()
    assert copy is not None and "15 maart 2026" in copy.plain
    await kees.edit(sent.message_id, "Je opzegging gaat in per 15 maart 2027.",
                    chat_id=STAFF_CHAT_ID)
    await balie.settled()
    edited = tg.message(anna.id, copy.message_id)
    assert edited is not None and "15 maart 2027" in edited.plain
    full = await balie.services.tickets.get(ticket.id, full=True)
    assert full.messages[-1].text == "Je opzegging gaat in per 15 maart 2027."
    assert any(e.action == "message_edited" and "2026" in e.detail["before"]
               for e in full.events)


async def test_an_edit_of_a_reply_split_in_two_changes_both_parts(
    anna: TelegramUser, kees: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    ticket = await file_cancellation(anna, balie)
    await kees.send("Even kijken.", chat_id=STAFF_CHAT_ID, thread_id=ticket.topic_id)
    await balie.settled()
    before = len(anna.bot_messages())
    long = "woord " * 700 + "EINDE-ORIGINEEL"  # 4,215 characters with the heading: two parts
    await kees.send(long, chat_id=STAFF_CHAT_ID, thread_id=ticket.topic_id)
    sent = tg.chat(STAFF_CHAT_ID, ticket.topic_id)[-1]
    await balie.settled()
    parts = anna.bot_messages()[before:]
    assert len(parts) == 2 and parts[1].plain.count("EINDE-ORIGINEEL") == 1

    await kees.edit(sent.message_id, "Nieuw begin " + long.replace("ORIGINEEL", "NIEUW"),
                    chat_id=STAFF_CHAT_ID)
    await balie.settled()
    now = [tg.message(anna.id, part.message_id) for part in parts]
    assert all(m is not None and m.edits == 1 for m in now)
    text = "".join(m.plain for m in now if m is not None)
    assert now[0] is not None and "Nieuw begin woord" in now[0].plain
    assert len(re.findall(r"\bwoord\b", text)) == 700
    assert "EINDE-NIEUW" in text and "ORIGINEEL" not in text
    assert len(anna.bot_messages()) == before + 2  # nothing sent anew


async def test_a_deleted_topic_is_recreated_and_nothing_is_lost(
    anna: TelegramUser, kees: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    ticket = await file_cancellation(anna, balie)
    old_topic = ticket.topic_id
    assert old_topic is not None
    await kees.send("Welk domein bedoel je precies?", chat_id=STAFF_CHAT_ID, thread_id=old_topic)
    await balie.settled()
    question = anna.last_message()
    assert question is not None
    tg.delete_topic(STAFF_CHAT_ID, old_topic)
    await anna.send("voorbeeld.nl, en ook shop.voorbeeld.nl", reply_to=question.message_id)
    await anna.send("En nog iets: graag een bevestiging per mail.",
                    reply_to=question.message_id)
    await balie.settled()
    ticket = await balie.services.tickets.get(ticket.id)
    assert ticket.topic_id is not None and ticket.topic_id != old_topic
    shown = tg.chat(STAFF_CHAT_ID, ticket.topic_id)
    assert shown[0].message_id == ticket.card_message_id  # the card first, then in order
    assert "voorbeeld.nl, en ook shop.voorbeeld.nl" in shown[1].plain
    assert "graag een bevestiging per mail" in shown[2].plain
    assert len(shown) == 3
    events = (await balie.services.tickets.get(ticket.id, full=True)).events
    assert [e.detail.get("to") for e in events if e.action == "topic"] == [
        old_topic, None, ticket.topic_id]


async def test_a_customer_who_blocked_the_bot_is_marked_on_the_ticket_and_in_the_topic(
    anna: TelegramUser, kees: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    ticket = await file_cancellation(anna, balie)
    assert ticket.topic_id is not None
    tg.block(anna.id)
    await kees.send("Is het gelukt?", chat_id=STAFF_CHAT_ID, thread_id=ticket.topic_id)
    await balie.settled()
    await until(lambda: "Niet bezorgd bij de klant" in tg.chat(
        STAFF_CHAT_ID, ticket.topic_id)[-1].plain)
    assert "anna@example.nl" in tg.chat(STAFF_CHAT_ID, ticket.topic_id)[-1].plain
    full = await balie.services.tickets.get(ticket.id, full=True)
    # Two messages could not reach her: that Kees picked it up (he answered it) and his answer.
    events = [e for e in full.events if e.action == "undelivered"]
    assert len(events) == 2 and all("blocked" in e.detail["reason"] for e in events)
    failed = await balie.services.outbox.listing(states=("failed",))
    assert [(f.chat_id, f.ticket_id) for f in failed] == [(anna.id, ticket.id)] * 2
    assert events[-1].detail["message"] == full.messages[-1].id


async def test_a_reply_telegram_rejects_as_written_is_marked_and_told_in_the_topic(
    anna: TelegramUser, kees: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    ticket = await file_cancellation(anna, balie)
    assert ticket.topic_id is not None
    await kees.send("/claim", chat_id=STAFF_CHAT_ID, thread_id=ticket.topic_id)
    await balie.settled()
    seen = len(tg.chat(anna.id))
    tg.fail_next("sendMessage", status=400, description="Bad Request: can't parse entities")
    await kees.send("Is het gelukt?", chat_id=STAFF_CHAT_ID, thread_id=ticket.topic_id)
    await balie.settled()
    await until(lambda: "Niet bezorgd bij de klant" in tg.chat(
        STAFF_CHAT_ID, ticket.topic_id)[-1].plain)
    told = tg.chat(STAFF_CHAT_ID, ticket.topic_id)[-1].plain
    assert "zoals het is" in told and "parse entities" in told and "geblokkeerd" not in told
    assert len(tg.chat(anna.id)) == seen  # she got nothing, and nothing is retried
    full = await balie.services.tickets.get(ticket.id, full=True)
    [event] = [e for e in full.events if e.action == "undelivered"]
    assert event.detail["rejected"] is True
    assert event.detail["message"] == full.messages[-1].id
    assert full.messages[-1].text == "Is het gelukt?"


async def test_colleagues_can_answer_anonymously(
    tg: FakeTelegram, tmp_path: object,
) -> None:
    from pathlib import Path

    from bot.app import build_app
    from bot.config import Config
    from tests.conftest import TOKEN

    config = Config.model_validate({
        "telegram": {"token": TOKEN, "api_base": tg.api_base, "staff_chat_id": STAFF_CHAT_ID},
        "storage": {"database": str(Path(str(tmp_path)) / "anon.sqlite3")},
        "staff": {"anonymous": True},
    })
    app = await build_app(config)
    try:
        notifier = app.services.ticket_service.notifier
        assert notifier.signature("colleague:Kees", "nl") == "medewerker"  # type: ignore[attr-defined]
        assert notifier.signature("colleague:Kees", "en") == "colleague"  # type: ignore[attr-defined]
    finally:
        await app.close()


async def test_a_burst_of_tickets_under_the_group_s_limits_loses_nothing(
    balie: Balie, tg: FakeTelegram,
) -> None:
    """100 tickets at once while the group answers 429 now and then: every ticket gets one
    topic and one card, in the order the tickets were filed."""
    service = balie.services.ticket_service
    tg.fail_next_flood("createForumTopic", retry_after=1, times=2)
    tg.fail_next_flood("sendMessage", retry_after=1, times=2)
    assert balie.app is not None
    # Telegram's own pace (a second per message in a chat) would take a minute here: the
    # fake's 429s are the limit this test is about.
    balie.app.worker.limits = type(balie.app.worker.limits)(per_chat=(1000, 1.0),
                                                            per_group=(1000, 60.0))
    for n in range(100):
        await service.open_ticket(category=Category.QUESTION, subject=f"Vraag {n}",
                                  customer=Customer(5000 + n, f"Klant {n}", None, "nl"),
                                  priority=Priority.NORMAL)
    await until(lambda: len(tg.topics(STAFF_CHAT_ID)) == 100, timeout=60)
    await balie.settled(30)
    tickets = sorted(await balie.services.tickets.list(limit=100), key=lambda t: t.id)
    topics = tg.topics(STAFF_CHAT_ID)
    assert len(topics) == 100
    assert sorted(t.topic_id or 0 for t in tickets) == sorted(topics)
    assert [t.topic_id for t in tickets] == sorted(t.topic_id or 0 for t in tickets)
    for ticket in tickets:
        assert topics[ticket.topic_id or 0].name == f"#{ticket.id} 🔴 {ticket.subject}"
        assert [m.message_id for m in tg.chat(STAFF_CHAT_ID, ticket.topic_id)] == [
            ticket.card_message_id]
