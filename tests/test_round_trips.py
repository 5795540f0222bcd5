"""The write path's shortcuts keep its guarantees: one-hop writes are all or nothing, a group
commit writes each update's state with its "done" and one bad update fails alone, single-row
reads see what was committed (and, inside a transaction, what it wrote)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.fsm import SQLiteStorage
from bot.intake import UnitMiddleware
from bot.unit import UpdateUnit
from storage.database import Database
from storage.inbox import Inbox
from storage.outbox import Outbox


@pytest.fixture
async def database(tmp_path: Path) -> Any:
    database = await Database.open(tmp_path / "balie.sqlite3")
    yield database
    await database.close()


def _key(user_id: int) -> StorageKey:
    return StorageKey(bot_id=1, chat_id=user_id, user_id=user_id)


async def _states(database: Database) -> dict[int, str]:
    rows = await database.fetchall("SELECT user_id, state FROM fsm_state")
    return {int(row["user_id"]): str(row["state"]) for row in rows}


async def _inbox(database: Database) -> dict[int, str]:
    rows = await database.fetchall("SELECT update_id, state FROM inbox")
    return {int(row["update_id"]): str(row["state"]) for row in rows}


async def test_a_one_hop_write_is_all_or_nothing(database: Database) -> None:
    await database.write([("INSERT INTO inbox (update_id, payload, received_at) "
                           "VALUES (1, '{}', 'now')", ())])
    with pytest.raises(sqlite3.IntegrityError):
        await database.write([
            ("INSERT INTO inbox (update_id, payload, received_at) VALUES (2, '{}', 'now')", ()),
            ("INSERT INTO inbox (update_id, payload, received_at) VALUES (1, '{}', 'now')", ()),
        ])
    assert await _inbox(database) == {1: "pending"}


async def test_insert_says_whether_it_inserted_and_the_row_id(database: Database) -> None:
    sql = "INSERT OR IGNORE INTO inbox (update_id, payload, received_at) VALUES (?, '{}', 'now')"
    assert await database.insert(sql, (7,)) == (1, 7)
    inserted, _ = await database.insert(sql, (7,))
    assert inserted == 0


async def test_a_single_row_read_sees_commits_and_its_own_transaction(
        database: Database) -> None:
    sql = "SELECT state FROM inbox WHERE update_id = ?"
    assert await database.fetchone(sql, (3,)) is None
    async with database.transaction() as connection:
        await connection.execute(
            "INSERT INTO inbox (update_id, payload, received_at) VALUES (3, '{}', 'now')")
        inside = await database.fetchone(sql, (3,))
        assert inside is not None and inside["state"] == "pending"
    row = await database.fetchone(sql, (3,))
    assert row is not None and row["state"] == "pending"


async def test_a_group_commit_writes_each_state_with_its_done(
        database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    storage, inbox = SQLiteStorage(database), Inbox(database)
    middleware = UnitMiddleware(database, storage, inbox, Outbox(database))
    await inbox.record([(n, "{}") for n in range(1, 21)])
    units = []
    for n in range(1, 21):
        unit = UpdateUnit(n)
        unit.fsm[_key(n)] = [f"Form:step{n}", "{}"]
        units.append(unit)
    writes = 0
    write = database.write

    async def counted(statements: Any) -> None:
        nonlocal writes
        writes += 1
        await write(statements)

    monkeypatch.setattr(database, "write", counted)
    await asyncio.gather(*(middleware.commit(unit) for unit in units))
    assert writes < len(units)  # they were written together
    assert await _states(database) == {n: f"Form:step{n}" for n in range(1, 21)}
    assert set((await _inbox(database)).values()) == {"done"}
    assert not any(unit.open for unit in units)


async def test_one_bad_update_in_a_group_fails_alone(
        database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    storage, inbox = SQLiteStorage(database), Inbox(database)
    middleware = UnitMiddleware(database, storage, inbox, Outbox(database))
    await inbox.record([(n, "{}") for n in range(1, 6)])
    changes = storage.changes

    def broken_for_three(unit: UpdateUnit) -> list[tuple[str, tuple[Any, ...]]]:
        if unit.update_id == 3:
            return [("INSERT INTO no_such_table VALUES (1)", ())]
        return changes(unit)

    monkeypatch.setattr(storage, "changes", broken_for_three)
    units = []
    for n in range(1, 6):
        unit = UpdateUnit(n)
        unit.fsm[_key(n)] = [f"Form:step{n}", "{}"]
        units.append(unit)
    results = await asyncio.gather(*(middleware.commit(unit) for unit in units),
                                   return_exceptions=True)
    assert [isinstance(result, sqlite3.Error) for result in results] == [
        False, False, True, False, False]
    assert await _states(database) == {n: f"Form:step{n}" for n in (1, 2, 4, 5)}
    assert await _inbox(database) == {1: "done", 2: "done", 3: "pending", 4: "done", 5: "done"}
    assert units[2].open  # the intake marks it failed and keeps nothing of it
