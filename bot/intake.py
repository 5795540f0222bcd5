"""Long polling with durable intake.

aiogram's own polling confirms an update (the next getUpdates' offset) before its handler has
finished, so a crash loses what the customer just typed. Here every batch is written to the
inbox before the next getUpdates confirms it; each update is then handled from the inbox and
marked done in the same transaction as the conversation state it changed (`UnitMiddleware`).
An update fetched or handled twice has no second effect: the inbox keys on `update_id`.

Updates are handled one at a time per chat, in order, with a bound on how many chats are
handled at once; a customer who sends a burst waits for their own updates, not everybody.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import json
import logging
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.exceptions import TelegramUnauthorizedError
from aiogram.methods import GetUpdates
from aiogram.types import TelegramObject, Update
from aiogram.utils.backoff import Backoff, BackoffConfig

from bot.fsm import SQLiteStorage
from bot.unit import UpdateUnit, current_unit
from storage.database import Database
from storage.inbox import Inbox, InboxUpdate
from storage.outbox import Outbox

log = logging.getLogger(__name__)

POLL_BACKOFF = BackoffConfig(min_delay=0.5, max_delay=30.0, factor=1.6, jitter=0.1)
MAX_ATTEMPTS = 3  # an update that was being handled during this many crashes is set aside


class UnitMiddleware(BaseMiddleware):
    """Inside aiogram's per-customer lock: the update's state changes and its "done" are
    committed together when the handler returns; when it raises, nothing it changed in the
    conversation is kept and the update is marked failed."""

    def __init__(self, database: Database, storage: SQLiteStorage, inbox: Inbox,
                 outbox: Outbox) -> None:
        self.database = database
        self.storage = storage
        self.inbox = inbox
        self.outbox = outbox
        self._waiting: list[tuple[UpdateUnit, asyncio.Future[None]]] = []
        self._committer: asyncio.Task[None] | None = None

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        unit = current_unit.get()
        if unit is None:
            return await handler(event, data)
        try:
            result = await handler(event, data)
        except BaseException as error:
            unit.discard()
            if not isinstance(error, asyncio.CancelledError):
                await self.inbox.mark_failed(unit.update_id, f"{type(error).__name__}: {error}")
            raise
        await self.commit(unit)
        return result

    async def commit(self, unit: UpdateUnit) -> None:
        """Group commit: the units that finish while a commit is being written wait for the
        next one and are written together, each with its own state and "done" (one write
        transaction for many updates in a burst; no waiting at all when it is quiet)."""
        if not unit.open:
            return
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((unit, done))
        if self._committer is None or self._committer.done():
            # a context of its own: not the first unit's (current_unit, an open transaction)
            self._committer = asyncio.create_task(self._commit_waiting(),
                                                  context=contextvars.Context())
        await done
        unit.open = False

    async def _commit_waiting(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                await self._write(unit for unit, _ in group)
            except Exception:
                if len(group) == 1:
                    _settle(group, sys.exc_info()[1])
                    continue
                for single in group:  # one bad update must not fail the others
                    try:
                        await self._write([single[0]])
                    except Exception as error:
                        _settle([single], error)
                    else:
                        _settle([single], None)
            else:
                _settle(group, None)

    async def _write(self, units: Iterable[UpdateUnit]) -> None:
        units = list(units)
        if not any(unit.later for unit in units):  # the usual case: state and done only
            statements = []
            for unit in units:
                statements.extend(self.storage.changes(unit))
                statements.append(self.inbox.done(unit.update_id))
            await self.database.write(statements)
            return
        async with self.database.transaction():
            for unit in units:
                await self.storage.flush(unit)
                for notice in unit.later:
                    await self.outbox.put(notice)
                await self.inbox.mark_done(unit.update_id)


def _settle(group: list[tuple[UpdateUnit, asyncio.Future[None]]],
            error: BaseException | None) -> None:
    for _, done in group:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)


def chat_key(payload: dict[str, Any]) -> tuple[int, int]:
    """Whose update this is: updates of one (chat, user) are handled in order."""
    for kind in ("message", "edited_message", "callback_query", "my_chat_member",
                 "chat_member", "channel_post", "edited_channel_post"):
        event = payload.get(kind)
        if not isinstance(event, dict):
            continue
        user = event.get("from") or {}
        chat = event.get("chat") or (event.get("message") or {}).get("chat") or {}
        return int(chat.get("id") or user.get("id") or 0), int(user.get("id") or 0)
    return 0, 0


class Intake:
    """Fetches updates, keeps them in the inbox, and handles them from there."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        database: Database,
        *,
        polling_timeout: int = 30,
        allowed_updates: list[str] | None = None,
        concurrency: int = 32,
        workflow_data: dict[str, Any] | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.bot = bot
        self.database = database
        self.inbox = Inbox(database)
        self.polling_timeout = polling_timeout
        self.allowed_updates = allowed_updates
        self.workflow_data = workflow_data or {}
        self._slots = asyncio.Semaphore(concurrency)
        self._queues: dict[tuple[int, int], deque[InboxUpdate]] = {}
        self._parsed: dict[int, Update] = {}  # fetched this run: the Update getUpdates gave
        self._workers: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._poll: asyncio.Task[Any] | None = None

    # --- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Handle what was left from before, then poll until `stop()`."""
        await self._recover()
        backoff = Backoff(POLL_BACKOFF)
        offset: int | None = None
        while not self._stopping.is_set():
            request = GetUpdates(offset=offset, timeout=self.polling_timeout,
                                 allowed_updates=self.allowed_updates)
            self._poll = asyncio.ensure_future(
                self.bot(request, request_timeout=self.polling_timeout + 30))
            try:
                updates = await self._poll
            except asyncio.CancelledError:
                if self._stopping.is_set():
                    break
                raise
            except TelegramUnauthorizedError:
                raise
            except Exception as error:
                log.warning("getUpdates failed (%s); trying again in %.1fs",
                            type(error).__name__, backoff.next_delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff.next_delay)
                next(backoff)
                continue
            finally:
                self._poll = None
            backoff.reset()
            if not updates:
                continue
            batch = [(update.update_id, update.model_dump_json(exclude_none=True, by_alias=True))
                     for update in updates]
            new = set(await self.inbox.record(batch))  # on disk before the offset confirms it
            offset = updates[-1].update_id + 1
            for update, (_, payload) in zip(updates, batch, strict=True):
                if update.update_id in new:
                    self._parsed[update.update_id] = update  # not parsed a second time
                    self._enqueue(InboxUpdate(update.update_id, json.loads(payload), 0))
                else:
                    log.debug("update %d was fetched before; not handled again",
                              update.update_id)

    async def _recover(self) -> None:
        """Updates that were received but not handled when the process last stopped."""
        for pending in await self.inbox.pending():
            if pending.attempts >= MAX_ATTEMPTS:
                log.error("update %d was being handled during %d crashes; set aside",
                          pending.update_id, pending.attempts)
                await self.inbox.mark_failed(pending.update_id, "set aside after crashes")
                continue
            log.info("update %d was not handled before the restart; handling it now",
                     pending.update_id)
            self._enqueue(dataclasses.replace(pending, recovered=True))
        await self.inbox.prune()  # handled updates are forgotten after a week

    def _enqueue(self, update: InboxUpdate) -> None:
        key = chat_key(update.payload)
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(update)
            return
        self._queues[key] = deque([update])
        worker = asyncio.create_task(self._work(key))
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    async def _work(self, key: tuple[int, int]) -> None:
        queue = self._queues[key]
        try:
            while queue:
                update = queue[0]
                async with self._slots:
                    if update.recovered:  # counted, so an update that kills us is found
                        await self.inbox.start_attempt(update.update_id)
                    await self._handle(update)
                queue.popleft()
        finally:
            if self._queues.get(key) is queue and not queue:
                del self._queues[key]

    async def _handle(self, pending: InboxUpdate) -> None:
        unit = UpdateUnit(pending.update_id)
        token = current_unit.set(unit)
        try:
            update = self._parsed.pop(pending.update_id, None) or Update.model_validate(
                pending.payload, context={"bot": self.bot})
            await self.dispatcher.feed_update(self.bot, update, **self.workflow_data)
        except Exception as error:
            log.error("update %d failed", pending.update_id, exc_info=error)
            if unit.open:
                unit.discard()
                await self.inbox.mark_failed(pending.update_id,
                                             f"{type(error).__name__}: {error}")
        finally:
            current_unit.reset(token)

    # --- stopping ------------------------------------------------------------------------------

    @property
    def busy(self) -> int:
        """Updates waiting or being handled."""
        return sum(len(queue) for queue in self._queues.values())

    async def stop(self, timeout: float = 10.0) -> None:
        """Take no more updates; let the ones in flight finish for at most `timeout` seconds.
        What is still unfinished then stays in the inbox and is handled after the restart."""
        self._stopping.set()
        if self._poll is not None:
            self._poll.cancel()
        if self._workers:
            _, unfinished = await asyncio.wait(set(self._workers), timeout=timeout)
            for worker in unfinished:
                worker.cancel()
            if unfinished:
                log.warning("%d chats still busy at shutdown; their updates stay in the inbox",
                            len(unfinished))
                await asyncio.gather(*unfinished, return_exceptions=True)

