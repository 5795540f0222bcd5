"""A customer who floods (50 messages in a second) is slowed down politely: one short note,
nothing stored twice, and what was a real answer to the current question is still taken."""

from __future__ import annotations

import asyncio

from aiogram.fsm.storage.base import StorageKey

from bot.config import FloodConfig
from tests.client import TelegramUser
from tests.conftest import Balie

SLOW_DOWN = "Je stuurt veel berichten snel na elkaar"


async def flood(user: TelegramUser, texts: list[str]) -> None:
    """Send `texts` at once (as fast as Telegram takes them), then wait until all are handled."""
    update_ids = []
    for text in texts:
        shown = user.tg.record_message(user.id, text=text, sender=user.user, kind="text",
                                       extra={"text": text})
        update_ids.append(user.tg.push_update({"message": dict(shown.raw)}))
    for update_id in update_ids:
        await user._wait(update_id)


def notes(user: TelegramUser) -> int:
    return sum(SLOW_DOWN in text for text in user.texts())


async def test_fifty_messages_in_a_second_get_one_note_and_the_answer_is_taken(
    anna: TelegramUser, balie: Balie
) -> None:
    await anna.send("/start")
    await anna.press("Betalingsregeling aanvragen")
    before = len(anna.bot_messages())
    await flood(anna, ["hallo?"] * 30 + ["anna@voorbeeld.nl"] + ["hallo?"] * 19)

    assert notes(anna) == 1
    sent = len(anna.bot_messages()) - before
    assert sent < 30  # not one answer per message
    assert balie.app is not None
    data = await balie.app.storage.get_data(
        StorageKey(bot_id=balie.app.bot.id, chat_id=anna.id, user_id=anna.id))
    assert data["values"]["email"] == "anna@voorbeeld.nl"  # the real answer was not lost
    assert data["step"] == "invoice_number"
    assert "factuurnummer" in anna.last_text()  # and the customer sees where they are


async def test_a_flood_of_questions_is_not_answered_fifty_times(
    anna: TelegramUser, balie: Balie
) -> None:
    await anna.send("/start")
    await flood(anna, ["Hoe zeg ik mijn hosting op?"] * 50)
    assert notes(anna) == 1
    rows = await balie.services.database.fetchall(
        "SELECT COUNT(*) AS n FROM questions WHERE customer_id = ?", (anna.id,))
    assert rows[0]["n"] == FloodConfig().messages - 1  # before the flood (and /start), once
    updates = await balie.services.database.fetchall(
        "SELECT COUNT(*) AS n FROM questions WHERE customer_id = ? GROUP BY update_id "
        "HAVING n > 1", (anna.id,))
    assert updates == []  # nothing stored twice


async def test_after_the_flood_everything_is_answered_again(
    anna: TelegramUser, balie: Balie
) -> None:
    """A flood is over once the customer was quiet for the window: the next question is
    answered as usual (the window is pinned short here)."""
    await balie.stop()
    balie.flood = {"messages": 5, "seconds": 1}
    await balie.start()
    await anna.send("/start")
    await flood(anna, ["hallo"] * 12)
    assert notes(anna) == 1
    await asyncio.sleep(2.1)
    shown = await anna.send("Hoe zeg ik mijn hosting op?")
    assert shown and SLOW_DOWN not in shown[-1].plain
    await flood(anna, ["hallo"] * 12)
    assert notes(anna) == 2  # a new flood, a new note
