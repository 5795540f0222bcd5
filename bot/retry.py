"""Telegram faults lose nothing: requests are retried after 429 and on 5xx / dropped connections.

Two callers do not want the session to wait inside a request:

- the outbox worker (bot/delivery.py) schedules its own retries in the database, so a slow or
  rate-limited chat never holds anybody up; it runs its requests under `without_retries()`;
- `answerCallbackQuery` is cosmetic and expires after about 15 seconds: it gets one quick
  retry at most and, when it still fails, is logged and reported as done, so a handler is never
  stuck on (or aborted by) the answer before it writes what the customer asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramEntityTooLarge,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import AnswerCallbackQuery, GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from pydantic import ValidationError

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)

no_retry: ContextVar[bool] = ContextVar("balie_no_retry", default=False)
"""True while the caller schedules retries itself (the outbox worker): one attempt per call."""


@contextlib.contextmanager
def without_retries() -> Iterator[None]:
    """Requests made inside this block (and tasks started from it) are tried once."""
    token = no_retry.set(True)
    try:
        yield
    finally:
        no_retry.reset(token)


def is_transient(error: BaseException) -> bool:
    """A fault that passes by itself: 5xx, a dropped connection or timeout, or a proxy's HTML
    error page (nginx's 502 arrives as text/html, which aiogram cannot decode as JSON).

    A response that *is* JSON but does not fit aiogram's types is not transient: the request
    may well have succeeded, and repeating it would only repeat the message.
    """
    if isinstance(error, TelegramEntityTooLarge):  # a subclass of the network error; 413
        return False
    if isinstance(error, (TelegramServerError, TelegramNetworkError)):
        return True
    if isinstance(error, ClientDecodeError):
        return not isinstance(error.original, ValidationError)
    return False


def describe(error: BaseException) -> str:
    """One short line for logs and the outbox (never a whole HTML page)."""
    if isinstance(error, ClientDecodeError):
        kind = "not JSON" if not isinstance(error.original, ValidationError) else "unexpected JSON"
        return f"{error.message} ({kind}: {str(error.data)[:80]!r})"
    if isinstance(error, TelegramAPIError):
        return f"{type(error).__name__}: {error.message}"
    return f"{type(error).__name__}: {error}"


class RetryMiddleware(BaseRequestMiddleware):
    """Waits as long as Telegram asks (429) and backs off on server or network errors.

    getUpdates is left to the polling loop, which has its own back-off; the outbox worker's
    requests (`no_retry`) to the worker; answerCallbackQuery gets `callback_attempts` quick tries.
    """

    def __init__(self, attempts: int = 5, base_delay: float = 0.5, max_delay: float = 60.0,
                 *, callback_attempts: int = 2, callback_max_delay: float = 0.5) -> None:
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.callback_attempts = callback_attempts
        self.callback_max_delay = callback_max_delay
        # aiogram parses every answer as `Response[method.__returning__]`; pydantic keeps such a
        # class only while something refers to it, so without these references it builds the
        # class anew for most requests (a tenth of the bot's CPU in a burst).
        self._response_models: dict[Any, Any] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in self._response_models:
            self._response_models[returning] = Response[returning]  # type: ignore[valid-type]
        if isinstance(method, GetUpdates) or no_retry.get():
            return await make_request(bot, method)
        if isinstance(method, AnswerCallbackQuery):
            return await self._answer_callback(make_request, bot, method)
        for attempt in range(1, self.attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if attempt == self.attempts or error.retry_after > self.max_delay:
                    raise  # waiting less than Telegram asks would only hit the limit again
                delay: float = float(error.retry_after)
                reason: Any = "429"
            except (TelegramServerError, TelegramNetworkError, ClientDecodeError) as error:
                if attempt == self.attempts or not is_transient(error):
                    raise
                delay = min(self.base_delay * 2 ** (attempt - 1), self.max_delay)
                reason = type(error).__name__
            log.warning("%s failed (%s); retry %d/%d in %.1fs", method.__api_method__, reason,
                        attempt, self.attempts - 1, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _answer_callback(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """A callback answer is cosmetic: a quick retry at most, never a long wait, never an
        exception that would stop the handler before it does what the customer asked."""
        for attempt in range(1, self.callback_attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                delay: float = float(error.retry_after)
                failure: BaseException = error
            except (TelegramAPIError, ClientDecodeError) as error:
                delay = self.base_delay if is_transient(error) else float("inf")
                failure = error
            if attempt == self.callback_attempts or delay > self.callback_max_delay:
                break
            await asyncio.sleep(delay)
        expired = "query is too old" in str(failure) or "query ID is invalid" in str(failure)
        level = logging.WARNING if expired or is_transient(failure) or isinstance(
            failure, TelegramRetryAfter) else logging.ERROR  # ERROR: our request was wrong
        log.log(level, "answerCallbackQuery gave up (%s); the button press itself is handled",
                describe(failure))
        return cast("Response[TelegramType]", True)  # the session returns the result itself
