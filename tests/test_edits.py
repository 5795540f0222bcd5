"""Edited messages (issue 11): an edit of the last answer typed re-takes it, as if the new text
had been typed; an edit of anything older keeps what was answered and says so briefly."""

from __future__ import annotations

from typing import Any

from aiogram.fsm.storage.base import StorageKey

from bot.app import App
from tests.client import TelegramUser
from tests.conftest import Balie


async def form_values(balie: Balie, user: TelegramUser) -> dict[str, Any]:
    app: App | None = balie.app
    assert app is not None
    key = StorageKey(bot_id=app.bot.id, chat_id=user.id, user_id=user.id)
    data = await app.storage.get_data(key)
    return dict(data.get("values", {}))


async def open_payment(user: TelegramUser) -> None:
    await user.send("/start")
    await user.press("Betalingsregeling aanvragen")
    assert "e-mailadres" in user.last_text()


def last_own_id(user: TelegramUser) -> int:
    return user.own_messages()[-1].message_id


async def test_editing_the_answer_just_given_re_takes_it(anna: TelegramUser, balie: Balie) -> None:
    await open_payment(anna)
    await anna.send("anna@voorbeeld.nl")
    assert "factuurnummer" in anna.last_text()
    email = last_own_id(anna)

    await anna.edit(email, "anna@example.org")
    assert "factuurnummer" in anna.last_text() and "Stap 2 van" in anna.last_text()
    assert (await form_values(balie, anna))["email"] == "anna@example.org"
    await anna.send("2026001234")
    assert "bedrag" in anna.last_text()


async def test_editing_a_refused_answer_re_takes_it(anna: TelegramUser, balie: Balie) -> None:
    await open_payment(anna)
    await anna.send("anna apenstaartje voorbeeld")
    assert "e-mailadres" in anna.last_text() and "Stap 1 van" in anna.last_text()
    await anna.edit(last_own_id(anna), "anna@voorbeeld.nl")
    assert "factuurnummer" in anna.last_text()
    assert (await form_values(balie, anna))["email"] == "anna@voorbeeld.nl"


async def test_editing_an_older_answer_keeps_it_and_says_so(
    anna: TelegramUser, balie: Balie
) -> None:
    await open_payment(anna)
    await anna.send("anna@voorbeeld.nl")
    email = last_own_id(anna)
    await anna.send("2026001234")
    assert "bedrag" in anna.last_text()

    shown = await anna.edit(email, "iemand@anders.nl")
    assert len([m for m in shown if m.from_bot and m.edits == 0]) == 1  # one short message
    text = anna.last_text()
    assert "eerder bericht aangepast" in text and "E-mailadres blijft zoals het was" in text
    assert "bedrag" in text  # where we were, with its buttons
    assert "Overslaan" in anna.buttons()
    assert (await form_values(balie, anna))["email"] == "anna@voorbeeld.nl"


async def test_an_edit_after_a_button_press_is_older(anna: TelegramUser, balie: Balie) -> None:
    """The amount's answer is followed by the proposal's buttons: the typed amount is no
    longer the latest answer once a later step was answered by a press."""
    await open_payment(anna)
    await anna.send("anna@voorbeeld.nl")
    await anna.send("2026001234")
    await anna.press("Overslaan")  # no amount
    assert "reden" in anna.last_text()
    await anna.edit(last_own_id(anna), "2026009999")
    assert "blijft zoals het was" in anna.last_text() and "reden" in anna.last_text()
    assert (await form_values(balie, anna))["invoice_number"] == "2026001234"


async def test_an_edit_outside_a_dialog_gets_a_note(john: TelegramUser) -> None:
    await john.send("/start")
    await john.send("hello")
    await john.edit(last_own_id(john), "hello there")
    assert "You edited a message" in john.last_text()


async def test_english_note_for_an_older_answer(john: TelegramUser) -> None:
    await john.send("/start")
    await john.press("payment arrangement")
    await john.send("john@example.com")
    email = last_own_id(john)
    await john.send("2026001234")
    await john.edit(email, "other@example.com")
    assert "Your answer for E-mail address stays as it was" in john.last_text()


async def test_edits_are_asked_of_telegram(balie: Balie) -> None:
    """allowed_updates comes from the handlers: registering one for edits is enough."""
    assert balie.app is not None
    assert "edited_message" in (balie.app.intake.allowed_updates or [])
