"""The outbox worker (minimal stand-in; replaced by the full worker)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from storage.outbox import Outbox, OutboxItem

log = logging.getLogger(__name__)


def _markup(payload: dict[str, object]) -> InlineKeyboardMarkup | None:
    rows = payload.get("buttons") or []
    keyboard = [[InlineKeyboardButton(text=label, callback_data=data) for label, data in row]
                for row in rows]  # type: ignore[attr-defined]
    return InlineKeyboardMarkup(inline_keyboard=keyboard) if keyboard else None


class OutboxWorker:
    def __init__(self, bot: Bot, outbox: Outbox,
                 on_refused: Callable[[OutboxItem, str], Awaitable[None]] | None = None) -> None:
        self.bot = bot
        self.outbox = outbox
        self.on_refused = on_refused
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self, drain_timeout: float = 5.0) -> None:
        self._stopping = True
        self.outbox.wakeup.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, drain_timeout)

    async def _run(self) -> None:
        while not self._stopping:
            delivered = await self.deliver_due()
            if delivered:
                continue
            self.outbox.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.outbox.wakeup.wait(), 0.5)

    async def deliver_due(self) -> int:
        items = await self.outbox.due()
        for item in items:
            await self._deliver(item)
        return len(items)

    async def _deliver(self, item: OutboxItem) -> None:
        payload = item.payload
        try:
            if item.kind == "edit":
                try:
                    result = await self.bot.edit_message_text(
                        text=str(payload["text"]), chat_id=item.chat_id,
                        message_id=int(payload["message_id"]), reply_markup=_markup(payload))
                except TelegramBadRequest as error:
                    if "not modified" in error.message:
                        await self.outbox.mark_sent(item.id, int(payload["message_id"]))
                        return
                    result = await self.bot.send_message(
                        item.chat_id, str(payload["text"]), reply_markup=_markup(payload),
                        message_thread_id=item.thread_id)
            elif item.kind == "drop_buttons":
                with contextlib.suppress(TelegramBadRequest):
                    await self.bot.edit_message_reply_markup(
                        chat_id=item.chat_id, message_id=int(payload["message_id"]))
                await self.outbox.mark_sent(item.id)
                return
            else:
                result = await self.bot.send_message(
                    item.chat_id, str(payload["text"]), reply_markup=_markup(payload),
                    message_thread_id=item.thread_id)
        except TelegramRetryAfter as error:
            await self.outbox.retry_later(item.id, "429", error.retry_after)
        except (TelegramForbiddenError, TelegramBadRequest) as error:
            await self.outbox.mark_failed(item.id, error.message)
            if self.on_refused is not None:
                await self.on_refused(item, error.message)
        except Exception as error:
            await self.outbox.retry_later(item.id, type(error).__name__, 1.0)
        else:
            message_id = getattr(result, "message_id", None)
            await self.outbox.mark_sent(item.id, message_id)
