"""aiogram FSM storage on the shared SQLite file, so a dialog survives a restart.

While an update from the inbox is handled (`bot.intake`), its state changes are kept in its
`UpdateUnit` and written when the update is marked done, in one transaction: after a crash
either both happened or neither did, and the update is simply handled again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, StateType, StorageKey

from bot.unit import UpdateUnit, current_unit
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
        unit = current_unit.get()
        if unit is not None and unit.open:
            row = await self._pending(unit, key)
            row[0] = value
            return
        await self._write(key, "state", value)

    async def get_state(self, key: StorageKey) -> str | None:
        unit = current_unit.get()
        if unit is not None and unit.open:
            return (await self._pending(unit, key))[0]
        return (await self._read(key))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        text = json.dumps(dict(data), ensure_ascii=False)
        unit = current_unit.get()
        if unit is not None and unit.open:
            (await self._pending(unit, key))[1] = text
            return
        await self._write(key, "data", text)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        unit = current_unit.get()
        if unit is not None and unit.open:
            return dict(json.loads((await self._pending(unit, key))[1]))
        return dict(json.loads((await self._read(key))[1]))

    async def _read(self, key: StorageKey) -> list[Any]:
        row = await self.database.fetchone(
            f"SELECT state, data FROM fsm_state WHERE {_KEY}", _key(key))
        return [row["state"], row["data"]] if row is not None else [None, "{}"]

    async def _pending(self, unit: UpdateUnit, key: StorageKey) -> list[Any]:
        """The unit's copy of this key's row: read once, then changed in memory."""
        row = unit.fsm.get(key)
        if row is None:
            row = unit.fsm[key] = await self._read(key)
            unit.fsm_loaded[key] = list(row)
        return row

    async def flush(self, unit: UpdateUnit) -> None:
        """Write what the unit changed (inside the caller's transaction)."""
        async with self.database.transaction() as connection:
            for sql, params in self.changes(unit):
                await connection.execute(sql, params)

    def changes(self, unit: UpdateUnit) -> list[tuple[str, tuple[Any, ...]]]:
        """The statements that write what the unit changed: none for a key it only read."""
        statements: list[tuple[str, tuple[Any, ...]]] = []
        for key, row in unit.fsm.items():
            if row == unit.fsm_loaded.get(key):
                continue
            params = _key(key)
            if row[0] is None and row[1] == "{}":
                statements.append((f"DELETE FROM fsm_state WHERE {_KEY}", params))
                continue
            statements.append((
                """INSERT INTO fsm_state (bot_id, chat_id, user_id, thread_id,
                        business_connection_id, destiny, state, data, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT DO UPDATE SET state = excluded.state, data = excluded.data,
                        updated_at = excluded.updated_at""",
                (*params, row[0], row[1], utcnow()),
            ))
        return statements

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
            _, users = self._locks.get(key, (lock, 1))
            if users <= 1:
                self._locks.pop(key, None)
            else:
                self._locks[key] = (lock, users - 1)

    @property
    def held(self) -> int:
        """How many customers have a lock right now (for tests and benchmarks)."""
        return len(self._locks)

    async def close(self) -> None:
        """Locks belong to running handlers, which release them themselves (clearing them
        here broke handlers still running at shutdown)."""
