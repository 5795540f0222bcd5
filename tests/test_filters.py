"""Synchronous filters (`F.…`) are checked in the event loop's thread, not handed to a worker
thread for every update (bot.filters), and still decide exactly as before."""

from __future__ import annotations

import asyncio
import re
import sys
from typing import Any

import pytest
from aiogram import F, Router
from aiogram.dispatcher.event.handler import CallableObject
from aiogram.types import Chat, Message, User

from bot.filters import InlineFilter, handler_objects, inline_sync_filters
from tests.client import TelegramUser
from tests.conftest import Balie


def test_every_filter_of_the_running_bot_is_awaited_directly(balie: Balie) -> None:
    assert balie.app is not None
    filters = [f for handler in handler_objects(balie.app.dispatcher)
               for f in handler.filters or ()]
    assert any(isinstance(f, InlineFilter) for f in filters)  # F.chat.type == "private", …
    assert all(f.awaitable for f in filters)
    assert inline_sync_filters(balie.app.dispatcher) == 0  # nothing left to change


async def test_a_customer_walk_makes_no_thread_hop_for_a_filter(
    balie: Balie, anna: TelegramUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops: list[Any] = []
    to_thread = asyncio.to_thread

    async def counted(func: Any, /, *args: Any, **kwargs: Any) -> Any:
        if sys._getframe(1).f_code is CallableObject.call.__code__:
            hops.append(func)
        return await to_thread(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    await anna.send("/start")
    await anna.press("Dienst opzeggen")
    await anna.send("hoe zeg ik mijn hosting op")
    await anna.send("asdf")
    assert "Wat wil je opzeggen?" in anna.last_text()
    assert hops == []


def _message(text: str | None, chat_type: str = "private") -> Message:
    return Message(message_id=1, date=0, chat=Chat(id=5, type=chat_type), text=text,
                   from_user=User(id=5, is_bot=False, first_name="A"))


def _plain_filter(message: Message, services: object) -> bool:
    return services == "given" and message.text == "ja"


@pytest.mark.parametrize(("text", "chat_type"), [("ja", "private"), ("nee", "private"),
                                                  (None, "private"), ("ja", "group")])
async def test_an_inlined_filter_decides_as_aiogram_would(text: str | None,
                                                         chat_type: str) -> None:
    router = Router()

    @router.message(F.chat.type == "private", F.text.regexp(r"^j").as_("found"), _plain_filter)
    async def handler(message: Message) -> None: ...

    [registered] = router.message.handlers
    message = _message(text, chat_type)

    async def decided() -> tuple[bool, dict[str, Any]]:
        passed, data = await registered.check(message, services="given", bot=None)
        return passed, {key: value.group(0) if isinstance(value, re.Match) else value
                        for key, value in data.items()}

    expected = await decided()
    assert inline_sync_filters(router) == 3
    assert await decided() == expected
