"""The session's RetryMiddleware: what it retries, what it leaves to the outbox worker, and
why a callback answer never holds a handler up."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.exceptions import ClientDecodeError, TelegramServerError
from pydantic import BaseModel, ValidationError

from bot.retry import RetryMiddleware, is_transient, without_retries
from tests.fakeapi import FakeTelegram, make_bot

ANNA = 1001


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.add_user(ANNA, "Anna")
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    bot = make_bot(tg)
    bot.session.middleware(RetryMiddleware(base_delay=0.01))
    yield bot
    await bot.session.close()


async def test_nginx_html_502_is_retried_like_a_server_error(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next_html("sendMessage", status=502, times=2)

    await bot.send_message(ANNA, "hallo")

    assert [call.status for call in tg.calls_to("sendMessage")] == [502, 502, 200]
    assert [message.text for message in tg.chat(ANNA)] == ["hallo"]


async def test_without_retries_a_request_is_tried_once(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("sendMessage", status=502, description="Bad Gateway", times=3)

    with without_retries(), pytest.raises(TelegramServerError):
        await bot.send_message(ANNA, "hallo")

    assert len(tg.calls_to("sendMessage")) == 1


async def test_a_failing_callback_answer_is_retried_once_and_reported_done(
        tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("answerCallbackQuery", status=502, description="Bad Gateway", times=5)

    assert await bot.answer_callback_query("cq1") is True

    assert len(tg.calls_to("answerCallbackQuery")) == 2


async def test_a_callback_answer_never_waits_for_a_flood_limit(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next_flood("answerCallbackQuery", retry_after=30)

    assert await bot.answer_callback_query("cq1", text="Opgeslagen") is True

    assert len(tg.calls_to("answerCallbackQuery")) == 1  # no 30 s wait, no second try


async def test_an_expired_callback_answer_does_not_raise(
        tg: FakeTelegram, bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    assert await bot.answer_callback_query("unknown-query") is True
    [record] = [r for r in caplog.records if "answerCallbackQuery" in r.getMessage()]
    assert record.levelno == logging.WARNING


def test_a_json_answer_of_the_wrong_shape_is_not_transient() -> None:
    class Shape(BaseModel):
        ok: bool

    try:
        Shape.model_validate({"ok": "maybe"})
    except ValidationError as mismatch:
        assert not is_transient(ClientDecodeError("Failed to deserialize object", mismatch, {}))
    assert is_transient(ClientDecodeError("Failed to decode object", ValueError("<html>"), ""))
