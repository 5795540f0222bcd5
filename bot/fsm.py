"""aiogram FSM storage on the shared SQLite file, so a dialog survives a restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, StateType, StorageKey

from storage.database import Database, utcnow

_KEY = (
    "bot_id = ? AND chat_id = ? AND user_id = ? AND thread_id = ? "
    "AND business_connection_id = ? AND destiny = ?"
)


def _key(key: StorageKey) -> tuple[int, int, int, int, str, str]:
    return (
        key.bot_id,
        key.chat_id,
        key.user_id,
        key.thread_id or 0,
        key.business_connection_id or "",
        key.destiny,
    )


class SQLiteStorage(BaseStorage):
    """State and data per `StorageKey`; a row whose state and data are empty is removed."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(key, "state", value)

    async def get_state(self, key: StorageKey) -> str | None:
        row = await self.database.fetchone(f"SELECT state FROM fsm_state WHERE {_KEY}", _key(key))
        return row["state"] if row is not None else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, "data", json.dumps(dict(data), ensure_ascii=False))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        row = await self.database.fetchone(f"SELECT data FROM fsm_state WHERE {_KEY}", _key(key))
        return dict(json.loads(row["data"])) if row is not None else {}

    async def close(self) -> None:
        """The database belongs to the application, which closes it."""

    async def _write(self, key: StorageKey, column: str, value: str | None) -> None:
        params = _key(key)
        async with self.database.transaction() as connection:
            await connection.execute(
                f"""INSERT INTO fsm_state (bot_id, chat_id, user_id, thread_id,
                        business_connection_id, destiny, {column}, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT DO UPDATE SET {column} = excluded.{column},
                        updated_at = excluded.updated_at""",
                (*params, value, utcnow()),
            )
            await connection.execute(
                f"DELETE FROM fsm_state WHERE {_KEY} AND state IS NULL AND data = '{{}}'", params
            )


class CustomerIsolation(BaseEventIsolation):
    """One update at a time per customer (two quick taps do not race), like aiogram's
    SimpleEventIsolation, but a lock is dropped once nobody waits for it, so memory does not
    grow with every customer ever seen."""

    def __init__(self) -> None:
        self._locks: dict[StorageKey, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        lock, users = self._locks.get(key, (None, 0))
        lock = lock or asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            _, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    @property
    def held(self) -> int:
        """How many customers have a lock right now (for tests and benchmarks)."""
        return len(self._locks)

    async def close(self) -> None:
        self._locks.clear()
