"""The foundation end to end: the real bot over HTTP against the fake Bot API."""

from __future__ import annotations

import logging

import pytest

from bot import logs
from bot.dialogs.question import QuestionCb
from tests.client import TelegramUser
from tests.conftest import TOKEN, Balie
from tests.fakeapi import FakeTelegram


async def test_start_greets_and_shows_the_menu_in_dutch(anna: TelegramUser) -> None:
    await anna.send("/start")
    assert "Hoi Anna" in anna.last_text()
    assert "❓ Vraag stellen" in anna.buttons()


async def test_english_customer_gets_english(john: TelegramUser) -> None:
    await john.send("/start")
    assert "Hi John" in john.last_text()
    assert "❓ Ask a question" in john.buttons()


async def test_commands_are_registered_per_language(balie: Balie, tg: FakeTelegram) -> None:
    calls = tg.calls_to("setMyCommands")
    by_language = {call.params.get("language_code"): call.params["commands"] for call in calls}
    assert set(by_language) >= {None, "nl", "en"}
    assert {c["command"] for c in by_language["nl"]} >= {"start", "menu", "help", "stop", "taal"}
    assert by_language["nl"][0]["description"] != by_language["en"][0]["description"]


async def test_help_and_unknown_command(anna: TelegramUser) -> None:
    await anna.send("/help")
    assert "/stop" in anna.last_text() and "/taal" in anna.last_text()
    await anna.send("/doesnotexist")
    assert "ken ik niet" in anna.last_text()


async def test_language_switch_is_remembered_across_restart(
    anna: TelegramUser, balie: Balie
) -> None:
    await anna.send("/taal")
    await anna.press("English")
    assert "continue in English" in anna.last_text()
    await balie.restart()
    await anna.send("/menu")
    assert "How can I help you?" in anna.last_text()


async def test_stop_without_dialog(anna: TelegramUser) -> None:
    await anna.send("/stop")
    assert "niets om te stoppen" in anna.last_text()


async def test_sticker_gets_a_clear_answer(anna: TelegramUser) -> None:
    await anna.send_sticker()
    assert "alleen tekst" in anna.last_text()


async def test_forged_button_data_is_refused_politely(
    anna: TelegramUser, john: TelegramUser, balie: Balie
) -> None:
    await anna.send("hoe zeg ik mijn hosting op")
    [(question_id, feedback)] = await balie.services.database.fetchall(
        "SELECT id, feedback FROM questions WHERE customer_id = ?", (anna.id,))
    assert feedback is None
    await john.send("/start")
    johns_chat = [(m.message_id, m.text, m.buttons) for m in john.bot_messages()]
    # Well-formed buttons, but about Anna's question: John may not use them.
    forged = [QuestionCb(action="show", question=question_id, article="opzeggen-hoe").pack(),
              QuestionCb(action="nothelp", question=question_id,
                         article="opzeggen-hoe").pack(),
              QuestionCb(action="helped", question=question_id, article="opzeggen-hoe").pack()]
    for data in forged:
        await john.press_data(data)
        assert john.seen_since_last_action() == [], data  # nothing sent, nothing edited
    stale = "This button is from an earlier message. You are here now:"
    assert john.callback_answers() == [stale] * len(forged)
    assert [(m.message_id, m.text, m.buttons) for m in john.bot_messages()] == johns_chat
    [(feedback,)] = await balie.services.database.fetchall(
        "SELECT feedback FROM questions WHERE id = ?", (question_id,))
    assert feedback is None  # Anna's question is untouched
    # Data no button of ours ever carried is answered too (a spinner never stays).
    await john.press_data("m:" + "x" * 40)
    await john.press_data("garbage")
    assert len(john.callback_answers()) == len(forged) + 2
    assert "How do I cancel" not in " ".join(john.texts())


async def test_deep_link_opens_question_prompt(anna: TelegramUser) -> None:
    await anna.send("/start vraag")
    assert "eigen woorden" in anna.last_text()


async def test_hostile_and_huge_text_is_answered(anna: TelegramUser, tg: FakeTelegram) -> None:
    await anna.send("<b>hoi</b> & <script>alert(1)</script>")
    await anna.send("x" * 10_000)
    assert anna.last_text()
    assert all(call.ok for call in tg.calls if call.method == "sendMessage")


async def test_retry_after_429_delivers_the_message(anna: TelegramUser, tg: FakeTelegram) -> None:
    tg.fail_next_flood("sendMessage", retry_after=1)
    await anna.send("/help")
    assert "/stop" in anna.last_text()
    failed = [call for call in tg.calls_to("sendMessage") if not call.ok]
    assert len(failed) == 1


async def test_server_error_and_dropped_connection_are_retried(
    anna: TelegramUser, tg: FakeTelegram
) -> None:
    tg.fail_next("sendMessage", status=502, description="Bad Gateway")
    tg.drop_next("sendMessage")
    await anna.send("/help")
    assert "/stop" in anna.last_text()


async def test_a_failing_update_gets_an_apology_not_silence(
    anna: TelegramUser, tg: FakeTelegram, balie: Balie
) -> None:
    tg.fail_next("sendMessage", status=400, description="Bad Request: chat is being migrated")
    await anna.send("/help")
    assert "Er ging bij mij iets mis" in anna.last_text()
    await anna.send("/help")
    assert "/stop" in anna.last_text()


async def test_a_customer_who_blocked_the_bot_breaks_nothing(
    anna: TelegramUser, tg: FakeTelegram
) -> None:
    await anna.send("/start")
    tg.block(anna.id)
    await anna.send("/help")
    tg.unblock(anna.id)
    await anna.send("/help")
    assert "/stop" in anna.last_text()
    assert [call.status for call in tg.calls_to("sendMessage")].count(403) == 1


async def test_logs_carry_no_token_and_no_customer_text(
    anna: TelegramUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await anna.send("mijn wachtwoord is Geheim123 en mijn iban NL00BANK0123456789")
    await anna.send("/start opzeggen")
    await anna.press("Ander product")
    await anna.send("Geheim product XYZ")
    logged = caplog.text
    assert "Geheim" not in logged and "NL00BANK" not in logged
    assert TOKEN not in logged and TOKEN.split(":")[1] not in logged


def test_log_filter_masks_tokens_and_adds_the_update_id() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "calling %s",
                               (f"/bot{TOKEN}/getMe",), None)
    token = logs.update_id.set(77)
    try:
        logs.ContextFilter().filter(record)
    finally:
        logs.update_id.reset(token)
    assert TOKEN not in record.getMessage() and "<token>" in record.getMessage()
    assert record.update == "update=77 "  # type: ignore[attr-defined]
