"""Presses whose data is not a button of the message they came from (forged, or a second tap
after the first changed the message) change nothing: found by tests/test_generated_input.py."""

from __future__ import annotations

from tests.client import TelegramUser

STALE = "Deze knop hoort bij een eerder bericht. Hier ben je nu:"


async def test_a_forged_menu_press_on_the_menu_changes_nothing(anna: TelegramUser) -> None:
    await anna.send("/menu")
    menu = anna.last_message()
    before = [(m.message_id, m.text, m.buttons) for m in anna.bot_messages()]
    shown = await anna.press_data("m:menu", message_id=menu.message_id)
    assert shown == [] and anna.callback_answers()[-1] == STALE
    assert [(m.message_id, m.text, m.buttons) for m in anna.bot_messages()] == before
    assert anna.tg.calls_to("editMessageText") == [] or all(
        call.ok for call in anna.tg.calls_to("editMessageText"))


async def test_a_second_tap_on_a_menu_entry_does_not_start_it_again(anna: TelegramUser) -> None:
    await anna.send("/start")
    menu = anna.last_message()
    stale_raw = dict(menu.raw)  # the message as it was when both taps were made
    data = next(data for row in menu.buttons for label, data in row
                if "Betalingsregeling" in label)
    await anna.press("Betalingsregeling aanvragen")
    await anna.send("anna@voorbeeld.nl")
    assert "factuurnummer" in anna.last_text()
    query = {"id": anna.tg.new_callback_query_id(), "from": anna.user,
             "chat_instance": f"ci{anna.id}", "data": data,
             "message": {**dict(anna.tg.message(anna.id, menu.message_id).raw)}}
    assert stale_raw != query["message"]  # the first tap changed the message
    update_id = anna.tg.push_update({"callback_query": query})
    await anna._wait(update_id)
    assert anna.callback_answers()[-1] == STALE
    assert "factuurnummer" in anna.last_text()  # still where she was
