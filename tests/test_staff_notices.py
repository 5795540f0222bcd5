"""A new ticket reaches the staff group through the outbox — its topic and card — also when
Telegram refuses the first tries."""

from __future__ import annotations

import asyncio

from tests.client import TelegramUser
from tests.conftest import STAFF_CHAT_ID, Balie
from tests.fakeapi import FakeTelegram
from tests.test_cancellation import to_summary


async def test_the_topic_and_card_wait_out_server_errors(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    await to_summary(anna, service="Hostingpakket", domain="voorbeeld.nl",
                     renewal="15 maart 2027")
    tg.fail_all(502, methods=["createForumTopic", "sendMessage"])
    await anna.press("Dien opzegverzoek in")
    [ticket] = await balie.services.tickets.list()
    [waiting] = await balie.services.outbox.listing(states=("pending",))
    assert waiting.chat_id == STAFF_CHAT_ID and waiting.ticket_id == ticket.id
    assert waiting.kind == "card" and waiting.to_topic
    assert tg.topics(STAFF_CHAT_ID) == {}
    tg.heal()
    for _ in range(1000):  # the worker's back-off: the first retry within a second or two
        if (await balie.services.tickets.get(ticket.id)).card_message_id is not None:
            break
        await asyncio.sleep(0.01)
    ticket = await balie.services.tickets.get(ticket.id)
    assert list(tg.topics(STAFF_CHAT_ID)) == [ticket.topic_id]  # one topic, not one per try
    [card] = tg.chat(STAFF_CHAT_ID, ticket.topic_id)
    assert f"Ticket #{ticket.id}" in card.plain
    assert f"ticket #{ticket.id}" in anna.last_text()
