"""Durable intake: every update is on disk before Telegram is told it was received.

An update is `pending` until it has been handled; it is marked `done` in the same transaction
as the conversation state it changed (or `failed`, with the error, when its handler failed),
so an update fetched again after a crash is handled once: a pending one is handled now, a done
one is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.database import Database, utcnow


@dataclass(frozen=True)
class InboxUpdate:
    update_id: int
    payload: dict[str, Any]
    attempts: int
    recovered: bool = False  # left unfinished when the process last stopped


class Inbox:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def record(self, updates: Iterable[tuple[int, str]]) -> list[int]:
        """Store (update_id, JSON) pairs; returns the ids that were new (not seen before)."""
        now = utcnow()
        new: list[int] = []
        async with self.database.transaction() as connection:
            for update_id, payload in updates:
                cursor = await connection.execute(
                    "INSERT OR IGNORE INTO inbox (update_id, payload, received_at) "
                    "VALUES (?, ?, ?)", (update_id, payload, now))
                if cursor.rowcount:
                    new.append(update_id)
        return new

    async def pending(self, limit: int = 1000) -> list[InboxUpdate]:
        rows = await self.database.fetchall(
            "SELECT update_id, payload, attempts FROM inbox WHERE state = 'pending' "
            "ORDER BY update_id LIMIT ?", (limit,))
        return [InboxUpdate(row["update_id"], json.loads(row["payload"]), row["attempts"])
                for row in rows]

    async def start_attempt(self, update_id: int) -> int:
        """Count an attempt before the handler runs: an update that crashes the process every
        time is recognised and set aside instead of crashing it forever."""
        async with self.database.transaction() as connection:
            await connection.execute(
                "UPDATE inbox SET attempts = attempts + 1 WHERE update_id = ?", (update_id,))
            async with connection.execute(
                    "SELECT attempts FROM inbox WHERE update_id = ?", (update_id,)) as cursor:
                row = await cursor.fetchone()
        return int(row[0]) if row is not None else 0

    async def mark_done(self, update_id: int) -> None:
        """Joins the caller's transaction (the one that writes the update's state)."""
        async with self.database.transaction() as connection:
            await connection.execute(*self.done(update_id))

    @staticmethod
    def done(update_id: int) -> tuple[str, tuple[object, ...]]:
        """The statement that marks an update done, for a caller that writes it together with
        the update's state (`Database.write`)."""
        return ("UPDATE inbox SET state = 'done', handled_at = ?, error = NULL "
                "WHERE update_id = ?", (utcnow(), update_id))

    async def mark_failed(self, update_id: int, error: str) -> None:
        async with self.database.transaction() as connection:
            await connection.execute(
                "UPDATE inbox SET state = 'failed', handled_at = ?, error = ? "
                "WHERE update_id = ?", (utcnow(), error[:500], update_id))

    async def prune(self, older_than: timedelta = timedelta(days=7)) -> int:
        """Forget handled updates after a while (the failed ones are kept for a look)."""
        cutoff = (datetime.now(UTC) - older_than).isoformat(timespec="seconds")
        async with self.database.transaction() as connection:
            cursor = await connection.execute(
                "DELETE FROM inbox WHERE state = 'done' AND handled_at < ?", (cutoff,))
        return int(cursor.rowcount or 0)
