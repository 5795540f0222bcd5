"""A customer who floods (more than `limit` messages within `window` seconds, by Telegram's
send time, so a backlog handled after a restart is no flood) is slowed down politely: one
short note per flood, and while it lasts only what can be a real answer is handled — a text
typed at a form's text step, once (the same text again is not taken twice). Questions, small
talk, stickers and commands sent in the flood get no answer each; the note says so.

State is in memory and per process: after a restart a flood simply starts counting again.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Message, TelegramObject

from bot.conversation import Conversation
from bot.dialog import Dialogs
from bot.forms import SUMMARY, load_run

log = logging.getLogger(__name__)

LIMIT = 20  # messages
WINDOW = 10  # seconds
KEPT = 10_000  # customers remembered before the quiet ones are forgotten


@dataclass
class _Sender:
    sent: deque[float]  # send times of the last `limit + 1` messages
    noted_at: float | None = None  # when the flood's note was sent
    last_text: str | None = None  # the last text taken during the flood


class ThrottleMiddleware(BaseMiddleware):
    def __init__(self, limit: int = LIMIT, window: float = WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._senders: dict[int, _Sender] = {}

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        conv: Conversation | None = data.get("conv")
        if not isinstance(event, Message) or conv is None:
            return await handler(event, data)
        sender = self._sender(conv.user.id)
        sent_at = event.date.timestamp()
        sender.sent.append(sent_at)
        flooding = (len(sender.sent) > self.limit
                    and sent_at - sender.sent[0] < self.window)
        if not flooding:
            if sender.noted_at is not None and sent_at - sender.noted_at >= self.window:
                sender.noted_at, sender.last_text = None, None  # that flood is over
            return await handler(event, data)
        if sender.noted_at is None:
            sender.noted_at = sent_at
            log.info("customer is flooding; slowing down")
            await conv.say(conv.t("start/slow_down"))
        if await self._real_answer(event, conv, data.get("dialogs"), sender):
            return await handler(event, data)
        return None

    async def _real_answer(self, message: Message, conv: Conversation,
                           dialogs: Dialogs | None, sender: _Sender) -> bool:
        """A text at a form's text step, not the same as the one taken just before."""
        text = message.text
        if text is None or text.startswith("/") or dialogs is None:
            return False
        run = await load_run(conv, dialogs.registry)
        if run is None or run.step == SUMMARY or run.form.step(run.step).kind != "text":
            return False
        if text == sender.last_text:
            return False
        sender.last_text = text
        return True

    def _sender(self, user_id: int) -> _Sender:
        sender = self._senders.get(user_id)
        if sender is None:
            if len(self._senders) >= KEPT:  # forget the longest quiet
                oldest = min(self._senders, key=lambda key: self._senders[key].sent[-1])
                del self._senders[oldest]
            sender = self._senders[user_id] = _Sender(deque(maxlen=self.limit + 1))
        return sender
