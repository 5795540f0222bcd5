"""Logging with the update id in context; never the token, never a customer's message at INFO."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

update_id: ContextVar[int | None] = ContextVar("update_id", default=None)
_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]{20,}")


class ContextFilter(logging.Filter):
    """Adds `update` to every record and masks anything shaped like a bot token."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = update_id.get()
        record.update = f"update={current} " if current is not None else ""
        if isinstance(record.msg, str) and _TOKEN.search(record.msg):
            record.msg = _TOKEN.sub("<token>", record.msg)
        if record.args:
            record.args = tuple(
                _TOKEN.sub("<token>", arg) if isinstance(arg, str) else arg
                for arg in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        return True


def setup(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(update)s%(message)s")
    )
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.INFO)


class UpdateContextMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        token = update_id.set(event.update_id if isinstance(event, Update) else None)
        try:
            return await handler(event, data)
        finally:
            update_id.reset(token)
