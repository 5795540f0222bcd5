"""The outbox worker: delivers what ticket operations wrote to the outbox, records what
Telegram answered, and retries what could not go out yet.

- Per chat strictly in order: a chat has at most one item in flight, always its oldest pending
  one (`Outbox.due`); chats are served concurrently, so one slow or rate-limited chat holds up
  nobody else. The worker never holds a customer's lock: it only reads and marks outbox rows.
- Within Telegram's limits: about one message a second per chat (3 in any 3 s), 20 a minute
  per group and 30 a second overall (sliding windows, see `RateLimit`); a 429 waits as long as
  Telegram asks.
- Passing faults (5xx, dropped connections, a proxy's HTML 502) are retried with jittered
  exponential back-off and no deadline: Telegram down for an hour means delivery an hour later.
- Permanent refusals (blocked, chat or topic gone) are marked failed with the reason and handed
  to `on_refused` (the staff side recreates a deleted topic); a request Telegram rejects as
  malformed is marked failed, logged as an error (repeating it would never succeed) and handed
  to `on_refused` with ``rejected=True``, so a ticket's message that never went out is known.
- At least once: an item is marked sent after Telegram accepted it, so a crash in between
  sends it once more on the next start.

Requests run under `without_retries()`: the session's RetryMiddleware would wait inside the
call, which is exactly what must not happen here; the retry is a row in the database instead.

Wiring (composition, bot/app.py)::

    worker = OutboxWorker(bot, outbox, on_refused=staff_side.refused)
    worker.attach(dispatcher, drain_timeout=10)  # started on startup, drained on shutdown
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.methods import CopyMessage, EditMessageReplyMarkup, EditMessageText, SendMessage
from aiogram.methods.base import TelegramMethod, TelegramType
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.retry import describe, is_transient, without_retries
from storage.outbox import Outbox, OutboxItem

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher

log = logging.getLogger(__name__)

class OnRefused(Protocol):
    """Told of an item Telegram will not deliver: refused for the recipient (blocked, gone),
    or ``rejected`` as written (malformed)."""

    def __call__(self, item: OutboxItem, reason: str, *, rejected: bool = False
                 ) -> Awaitable[None]: ...

TOPIC_RETRIES = 5  # a topic that is gone again and again (no rights?) fails in the end


class Topics(Protocol):
    """The staff group's topics (bot/staff/topics.py): what goes into a ticket's topic."""

    async def thread_for(self, ticket_id: int, call: Call) -> int: ...

    async def deliver(self, item: OutboxItem, call: Call) -> int | None: ...

    async def gone(self, ticket_id: int, reason: str) -> None: ...


Call = Callable[[int, TelegramMethod[Any]], Awaitable[Any]]
Outcome = Literal["sent", "retry", "failed"]

# Telegram's words for "this recipient cannot be reached until a person does something".
REFUSALS = (
    "chat not found", "message thread not found", "topic_deleted", "topic_closed",
    "not enough rights", "have no rights", "need administrator rights", "peer_id_invalid",
    "group chat was deactivated", "chat_write_forbidden",
)
NOT_MODIFIED = "message is not modified"
TOPIC_GONE = ("message thread not found", "topic_deleted", "topic_id_invalid")
GONE = ("message to edit not found", "message can't be edited")


@dataclass(frozen=True)
class Limits:
    """(count, seconds): at most `count` requests in any window of `seconds`.

    Telegram: about one message a second in a chat (short bursts allowed: a confirmation and
    an edit need not wait for each other), 20 a minute in a group, 30 a second overall.
    """

    per_chat: tuple[int, float] = (3, 3.0)
    per_group: tuple[int, float] = (20, 60.0)
    overall: tuple[int, float] = (30, 1.0)

    @classmethod
    def none(cls) -> Limits:
        """No waiting at all: for the console, which talks to no Telegram."""
        return cls(per_chat=(1_000_000, 1.0), per_group=(1_000_000, 1.0),
                   overall=(1_000_000, 1.0))


@dataclass(frozen=True)
class Backoff:
    """Passing faults: `base` doubling per attempt up to `cap`, times a jitter in [½, 1]."""

    base: float = 0.5
    cap: float = 300.0

    def delay(self, attempts: int, rng: Callable[[], float]) -> float:
        ceiling = min(self.cap, self.base * 2.0 ** min(max(attempts, 0), 30))
        return ceiling * (0.5 + 0.5 * rng())


class RateLimit:
    """At most `count` requests in any window of `per` seconds, as a log of the last `count`
    request times. A shared limit is taken with `reserve()` (the next free slot, claimed at
    once: no lock needed, it does not await); a chat's own limit, which only its one delivery
    in flight uses, with `next_free()` before and `take()` at the moment the request goes."""

    def __init__(self, count: int, per: float, clock: Callable[[], float]) -> None:
        self.count = count
        self.per = per
        self.clock = clock
        self._slots: deque[float] = deque()  # the last `count` request times, oldest first

    def next_free(self, now: float) -> float:
        return now if len(self._slots) < self.count else max(now, self._slots[0] + self.per)

    def take(self, at: float) -> None:
        self._slots.append(at)
        if len(self._slots) > self.count:
            self._slots.popleft()

    def reserve(self) -> float:
        """Claim the next free slot; the seconds to wait for it."""
        now = self.clock()
        at = self.next_free(now)
        self.take(at)
        return at - now

    def idle(self) -> bool:
        return not self._slots or self._slots[-1] + self.per < self.clock()


class OutboxWorker:
    """Started and stopped with the dispatcher (`attach`), or driven by hand (`deliver_due`)."""

    def __init__(
        self,
        bot: Bot,
        outbox: Outbox,
        *,
        on_refused: OnRefused | None = None,
        topics: Topics | None = None,
        limits: Limits = Limits(),
        backoff: Backoff = Backoff(),
        concurrency: int = 8,
        max_chats: int = 64,
        idle_poll: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.bot = bot
        self.outbox = outbox
        self.on_refused = on_refused
        self.topics = topics
        self.limits = limits
        self.backoff = backoff
        self.max_chats = max_chats  # chats with an item in flight at once
        self.idle_poll = idle_poll  # look at the table this often even without a wakeup
        self.clock = clock
        self.sleep = sleep
        self.rng = rng
        self.attempts = 0  # deliveries tried since start (for tests and logs)
        self._requests = asyncio.Semaphore(concurrency)  # HTTP requests in flight at once
        self._overall = RateLimit(*limits.overall, clock)
        self._chat_limits: dict[int, list[RateLimit]] = {}
        self._busy: dict[int, asyncio.Task[None]] = {}  # chat id -> its delivery in flight
        self._finished_count = 0  # deliveries finished, so a reader notices one it missed
        self._loop: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    def attach(self, dispatcher: Dispatcher, *, drain_timeout: float = 10.0) -> None:
        """Start with the dispatcher's startup, stop (draining) with its shutdown."""

        async def on_startup() -> None:
            await self.start()

        async def on_shutdown() -> None:
            await self.stop(drain_timeout)

        dispatcher.startup.register(on_startup)
        dispatcher.shutdown.register(on_shutdown)

    async def start(self) -> None:
        if self._loop is None or self._loop.done():
            self._loop = asyncio.create_task(self._run(), name="outbox-worker")
            log.info("outbox worker started (%d pending)", await self.outbox.pending_count())

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Take no new rounds; deliver what is due for at most `drain_timeout` seconds; what
        is still in flight then is cancelled and stays pending for the next start."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        try:
            await asyncio.wait_for(self.deliver_due(), timeout=max(0.0, drain_timeout))
        except TimeoutError:
            log.warning("outbox: %d deliveries still in flight after %.1fs; they stay pending",
                        len(self._busy), drain_timeout)
        except Exception:
            log.exception("outbox: draining failed")
        in_flight = list(self._busy.values())
        for task in in_flight:
            task.cancel()
        if in_flight:
            await asyncio.wait(in_flight, timeout=5.0)
        log.info("outbox worker stopped (%d pending)", await self.outbox.pending_count())

    async def deliver_due(self) -> int:
        """Deliver everything that is due now, each chat in order, until nothing due is left;
        return how many deliveries were tried (sent, failed or rescheduled)."""
        before = self.attempts
        while True:
            finished = self._finished_count
            await self._fill()
            if self._busy:
                await asyncio.wait(list(self._busy.values()), return_when=asyncio.FIRST_COMPLETED)
            elif self._finished_count == finished:  # (one finishing while we read: look again)
                return self.attempts - before

    async def _run(self) -> None:
        while True:
            self.outbox.wakeup.clear()  # before looking, so a commit meanwhile wakes us again
            finished = self._finished_count
            try:
                await self._fill()
                timeout = await self._until_next()
            except Exception:
                log.exception("outbox: cannot read the outbox; trying again shortly")
                timeout = 5.0
            if self._finished_count == finished:  # else a chat became free while we read
                await self._wait(timeout)

    async def _until_next(self) -> float | None:
        """Seconds until the next chat not in flight has an item due (None: only a delivery
        finishing or a new item can bring work)."""
        if len(self._busy) >= self.max_chats:
            return None
        at = await self.outbox.next_attempt(excluding=self._busy.keys())
        if at is None:
            return self.idle_poll
        seconds = (at - datetime.now(UTC)).total_seconds() + 0.002  # stamps are in ms
        return min(max(seconds, 0.0), self.idle_poll)

    async def _wait(self, timeout: float | None) -> None:
        wakeup = asyncio.create_task(self.outbox.wakeup.wait())
        try:
            await asyncio.wait([wakeup, *self._busy.values()], timeout=timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            wakeup.cancel()

    async def _fill(self) -> None:
        """Start a delivery for each chat whose oldest pending item is due and that has none
        in flight."""
        free = self.max_chats - len(self._busy)
        if free <= 0:
            return
        for item in await self.outbox.due(limit=free, excluding=self._busy.keys()):
            if item.chat_id in self._busy:
                continue  # started while we were reading
            task = asyncio.create_task(self._deliver_in_turn(item), name=f"outbox-{item.id}")
            self._busy[item.chat_id] = task
            task.add_done_callback(functools.partial(self._finished, item.chat_id))
        if len(self._chat_limits) > 4 * self.max_chats:
            for chat_id in [chat for chat, limits in self._chat_limits.items()
                            if chat not in self._busy and all(lim.idle() for lim in limits)]:
                del self._chat_limits[chat_id]

    def _finished(self, chat_id: int, _task: asyncio.Task[None]) -> None:
        self._busy.pop(chat_id, None)
        self._finished_count += 1

    async def _deliver_in_turn(self, item: OutboxItem) -> None:
        try:
            await self.deliver(item)
        except Exception:
            # The database failed us (the item could not even be rescheduled): keep the chat
            # busy for a while, so a broken disk does not turn into a resend loop.
            log.exception("outbox item %d (ticket %s): delivery bookkeeping failed", item.id,
                          item.ticket_id)
            await self.sleep(self.backoff.delay(item.attempts, self.rng))

    # ------------------------------------------------------------------ one item

    async def deliver(self, item: OutboxItem) -> Outcome:
        """One attempt at one item (within the rate limits) and its bookkeeping."""
        self.attempts += 1
        with without_retries():
            try:
                message_id = await self._attempt(item)
            except Exception as error:
                return await self._fault(item, error)
        await settle(self.outbox.mark_sent(item.id, message_id))
        log.debug("outbox item %d (ticket %s) sent to %d", item.id, item.ticket_id,
                  item.chat_id)
        return "sent"

    async def _attempt(self, item: OutboxItem) -> int | None:
        if item.kind in ("topic", "card") or item.to_topic:
            if self.topics is None or item.ticket_id is None:
                raise NoWorkspace("no staff group to deliver this into")
            if item.kind in ("topic", "card"):
                return await self.topics.deliver(item, self._call)
            item = replace(item, thread_id=await self.topics.thread_for(item.ticket_id,
                                                                        self._call))
        payload = item.payload
        if item.kind == "send":
            return await self._send(item)
        if item.kind == "edit":
            try:
                await self._call(item.chat_id, EditMessageText(
                    chat_id=item.chat_id, message_id=payload["message_id"], text=payload["text"],
                    reply_markup=keyboard(payload.get("buttons"))))
            except TelegramBadRequest as error:
                reason = error.message.lower()
                if NOT_MODIFIED in reason:
                    return int(payload["message_id"])
                if not any(gone in reason for gone in GONE):
                    raise
                log.info("outbox item %d: %s; sending it anew", item.id, error.message)
                return await self._send(item)
            return int(payload["message_id"])
        if item.kind == "drop_buttons":
            try:
                await self._call(item.chat_id, EditMessageReplyMarkup(
                    chat_id=item.chat_id, message_id=payload["message_id"], reply_markup=None))
            except TelegramBadRequest as error:  # gone, too old, or no buttons: all done
                log.info("outbox item %d: buttons not dropped (%s); counts as done", item.id,
                         error.message)
            return int(payload["message_id"])
        if item.kind == "copy":
            copied = await self._call(item.chat_id, CopyMessage(
                chat_id=item.chat_id, from_chat_id=payload["from_chat_id"],
                message_id=payload["message_id"], message_thread_id=item.thread_id,
                caption=payload.get("caption")))
            return copied.message_id
        raise ValueError(f"unknown outbox kind {item.kind!r}")

    async def _send(self, item: OutboxItem) -> int:
        message = await self._call(item.chat_id, SendMessage(
            chat_id=item.chat_id, text=item.payload["text"], message_thread_id=item.thread_id,
            reply_markup=keyboard(item.payload.get("buttons"))))
        return message.message_id

    async def _call(self, chat_id: int, method: TelegramMethod[TelegramType]) -> TelegramType:
        """One request, once, after the chat's and the bot's rate limits allow it."""
        own = self._limits_of(chat_id)
        now = self.clock()
        at = max(limit.next_free(now) for limit in own)
        if at > now:
            await self.sleep(at - now)
        async with self._requests:
            wait = self._overall.reserve()
            if wait > 0:
                await self.sleep(wait)
            sent_at = self.clock()  # the chat's limits count when it really went
            for limit in own:
                limit.take(sent_at)
            return await self.bot(method)

    def _limits_of(self, chat_id: int) -> list[RateLimit]:
        limits = self._chat_limits.get(chat_id)
        if limits is None:
            windows = [self.limits.per_chat]
            if chat_id < 0:  # groups, supergroups and channels
                windows.append(self.limits.per_group)
            limits = self._chat_limits[chat_id] = [
                RateLimit(count, per, self.clock) for count, per in windows]
        return limits

    async def _fault(self, item: OutboxItem, error: Exception) -> Outcome:
        reason = describe(error)
        where = f"outbox item {item.id} (ticket {item.ticket_id}, chat {item.chat_id})"
        if isinstance(error, TelegramRetryAfter):
            log.warning("%s: Telegram asks to wait %ds", where, error.retry_after)
            await settle(self.outbox.retry_later(item.id, reason, float(error.retry_after)))
            return "retry"
        if self.topics is not None and item.ticket_id is not None \
                and (item.to_topic or item.kind in ("topic", "card")) and topic_gone(error):
            await self.topics.gone(item.ticket_id, reason)
            if item.attempts + 1 < TOPIC_RETRIES:
                await settle(self.outbox.retry_later(item.id, reason, 0.0))
                return "retry"
        if is_transient(error):
            delay = self.backoff.delay(item.attempts, self.rng)
            log.warning("%s: %s; retry %d in %.1fs", where, reason, item.attempts + 1, delay)
            await settle(self.outbox.retry_later(item.id, reason, delay))
            return "retry"
        if refused(error):
            log.warning("%s refused: %s", where, reason)
            await settle(self.outbox.mark_failed(item.id, reason))
            await self._hand_over(item, reason)
            return "failed"
        if isinstance(error, NoWorkspace):
            log.warning("%s: %s", where, error)
            await settle(self.outbox.mark_failed(item.id, str(error)))
            return "failed"
        if isinstance(error, (TelegramBadRequest, TelegramNotFound, TelegramEntityTooLarge,
                              ClientDecodeError,  # here: JSON that does not fit
                              KeyError, TypeError, ValueError)):  # a malformed payload
            log.error("%s rejected, it will never go out as written: %s", where, reason)
            await settle(self.outbox.mark_failed(item.id, reason))
            await self._hand_over(item, reason, rejected=True)
            return "failed"
        # 401 (token revoked), 409 or an error of our own: someone can fix it, keep the item.
        delay = self.backoff.delay(item.attempts, self.rng)
        log.error("%s: unexpected %s; retry in %.1fs", where, reason, delay,
                  exc_info=not isinstance(error, TelegramAPIError))
        await settle(self.outbox.retry_later(item.id, reason, delay))
        return "retry"

    async def _hand_over(self, item: OutboxItem, reason: str, *, rejected: bool = False
                         ) -> None:
        if self.on_refused is None:
            return
        try:
            await self.on_refused(await self.outbox.get(item.id) or item, reason,
                                  rejected=rejected)
        except Exception:
            log.exception("outbox item %d: the refusal handler failed", item.id)


class NoWorkspace(RuntimeError):
    """An item for a ticket's topic while no staff group is configured."""


def topic_gone(error: BaseException) -> bool:
    """Telegram says the topic is not there (deleted, or never was)."""
    return isinstance(error, TelegramBadRequest) and any(
        marker in error.message.lower() for marker in TOPIC_GONE)


async def settle(bookkeeping: Awaitable[None]) -> None:
    """Write what Telegram answered even when the worker is being stopped: a cancellation
    waits for the write, so an item that went out is not left pending (and sent twice)."""
    write = asyncio.ensure_future(bookkeeping)
    try:
        await asyncio.shield(write)
    except asyncio.CancelledError:
        await write
        raise


def refused(error: BaseException) -> bool:
    """Telegram will not deliver to this recipient until a person acts (unblock, recreate the
    topic, re-add the bot)."""
    if isinstance(error, (TelegramForbiddenError, TelegramMigrateToChat)):
        return True
    if isinstance(error, TelegramBadRequest):
        reason = error.message.lower()
        return any(marker in reason for marker in REFUSALS)
    return False


def keyboard(rows: Iterable[Iterable[Any]] | None) -> InlineKeyboardMarkup | None:
    """The outbox's buttons ([[label, callback_data], …] per row) as an inline keyboard."""
    built = [[InlineKeyboardButton(text=str(label), callback_data=str(data))
              for label, data in row] for row in rows or ()]
    built = [row for row in built if row]
    return InlineKeyboardMarkup(inline_keyboard=built) if built else None
