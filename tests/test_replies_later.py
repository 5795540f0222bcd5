"""A reply Telegram does not take in time is not lost and not replaced by an apology: it waits
in the outbox, written with the step it belongs to, and arrives when Telegram takes it."""

from __future__ import annotations

from tests.client import TelegramUser
from tests.conftest import Balie
from tests.fakeapi import FakeTelegram


async def test_a_reply_refused_with_a_long_429_arrives_through_the_outbox(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    await anna.send("/start")
    await anna.press("Dienst opzeggen")
    await anna.press("Hostingpakket")
    assert "welke domeinnaam" in anna.last_text()
    # Longer than the bot waits inside a handler (60 s): the reply goes to the outbox.
    tg.fail_next_flood("sendMessage", retry_after=120)
    await anna.send("voorbeeld.nl")
    assert "volgende contractperiode" in anna.last_text()  # delivered by the outbox worker
    assert not any("iets mis" in text for text in anna.texts())  # no apology
    [item] = await balie.services.outbox.listing(states=("sent",))
    assert item.chat_id == anna.id and item.kind == "send"
    data = await balie.services.database.fetchone("SELECT data FROM fsm_state")
    assert data is not None and '"step": "renewal_date"' in data["data"]
    await anna.send("15 maart 2027")  # the next answer lands on the next step
    assert "15 februari 2027" in anna.last_text()
