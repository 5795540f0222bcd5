"""The one SQLite file: connections, composable write transactions and versioned migrations.

Writes go through one connection, one transaction at a time (`transaction()`); a store method
called inside an open transaction of the same task joins it instead of waiting for itself, so
"ticket + audit event + message to send" is one transaction however the stores are composed.
Reads outside a transaction use a second connection and see only committed data (WAL): all
that committed before the read began (each read runs whole, so none pins an older snapshot); a
single-row read (`fetchone`, a lookup by key that takes microseconds) runs on a third,
plain connection in the event loop's own thread, because a hop to aiosqlite's thread and back
costs far more than the lookup. It never waits for a lock there: when SQLite says busy, the read
is made in the reader's thread instead.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TypeVar

import aiosqlite

log = logging.getLogger(__name__)
_T = TypeVar("_T")


def utcnow() -> str:
    """A timestamp as stored: ISO 8601 in UTC with seconds precision."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, SQL) of every migration shipped with the package, in order."""
    found = []
    for entry in resources.files("storage").joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


class DatabaseError(Exception):
    """The SQLite file cannot be opened or upgraded; said in one line."""


@dataclass
class _Transaction:
    database: Database
    task: asyncio.Task[object] | None
    after_commit: list[Callable[[], None]] = field(default_factory=list)


_current: ContextVar[_Transaction | None] = ContextVar("balie_transaction", default=None)

_PRAGMAS = ("PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=5000", "PRAGMA synchronous=NORMAL")


class Database:
    """A writer and a reader connection on one SQLite file in WAL mode."""

    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection | None = None
                 ) -> None:
        self.connection = writer
        self._reader = reader or writer
        self._inline: sqlite3.Connection | None = None  # for fetchone, in this thread
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str, *, upgrade_to: int | None = None) -> Database:
        folder = Path(path).parent
        in_memory = str(path) == ":memory:"
        if not in_memory and not folder.is_dir():
            raise DatabaseError(f"cannot open the database {path}: folder {folder} does not exist")
        try:
            writer = await aiosqlite.connect(str(path), isolation_level=None)
        except (sqlite3.Error, OSError) as error:
            raise DatabaseError(f"cannot open the database {path}: {error}") from None
        reader: aiosqlite.Connection | None = None
        inline: sqlite3.Connection | None = None
        try:
            writer.row_factory = aiosqlite.Row
            await writer.execute("PRAGMA journal_mode=WAL")
            for pragma in _PRAGMAS:
                await writer.execute(pragma)
            database = cls(writer)
            await database.migrate(upgrade_to)
            if not in_memory:
                reader = await aiosqlite.connect(str(path), isolation_level=None)
                reader.row_factory = aiosqlite.Row
                for pragma in _PRAGMAS:
                    await reader.execute(pragma)
                await reader.execute("PRAGMA query_only=ON")
                database._reader = reader
                database._inline = inline = _inline_reader(str(path))
        except sqlite3.Error as error:
            await writer.close()
            if reader is not None:
                await reader.close()
            if inline is not None:
                inline.close()
            raise DatabaseError(f"cannot use the database {path}: {error}") from None
        return database

    async def close(self) -> None:
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        if self._reader is not self.connection:
            await self._reader.close()
        await self.connection.close()

    async def version(self) -> int:
        async with self.connection.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self, upgrade_to: int | None = None) -> None:
        """Apply every migration newer than the file's `user_version`, each in a transaction."""
        current = await self.version()
        for version, name, sql in migrations():
            if version <= current or (upgrade_to is not None and version > upgrade_to):
                continue
            async with self.transaction() as connection:
                for statement in statements(sql):
                    await connection.execute(statement)
                await connection.execute(f"PRAGMA user_version = {version:d}")
            log.info("database migrated to version %d (%s)", version, name)

    def _joined(self) -> _Transaction | None:
        """The transaction this task has open on this database, if any."""
        transaction = _current.get()
        if transaction is None or transaction.database is not self:
            return None
        if transaction.task is not asyncio.current_task():
            return None  # a task started inside a transaction does not own it
        return transaction

    @property
    def in_transaction(self) -> bool:
        return self._joined() is not None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any error. Inside an open transaction of
        the same task it joins that one (commit and rollback are the outer one's)."""
        if self._joined() is not None:
            yield self.connection
            return
        async with self._write_lock:
            transaction = _Transaction(self, asyncio.current_task())
            token = _current.set(transaction)
            try:
                await self.connection.execute("BEGIN IMMEDIATE")
                try:
                    yield self.connection
                except BaseException:
                    await self.connection.execute("ROLLBACK")
                    raise
                await self.connection.execute("COMMIT")
            finally:
                _current.reset(token)
        for callback in transaction.after_commit:
            callback()

    async def write(self, statements: Sequence[tuple[str, tuple[object, ...]]]) -> None:
        """The statements in one write transaction, sent to the database thread as one piece
        (BEGIN IMMEDIATE … COMMIT there: one hop instead of one per statement). Inside an open
        transaction of this task they join it."""
        if self._joined() is not None:
            for sql, params in statements:
                await self.connection.execute(sql, params)
            return
        if not statements:
            return
        async with self._write_lock:
            await self.connection._execute(_write, self.connection._conn, statements)

    async def insert(self, sql: str, params: tuple[object, ...] = ()) -> tuple[int, int]:
        """One INSERT in a write transaction of its own, in one hop to the database thread;
        returns (rows inserted, last row id). Inside an open transaction it joins that one."""
        if self._joined() is not None:
            cursor = await self.connection.execute(sql, params)
            return int(cursor.rowcount or 0), int(cursor.lastrowid or 0)
        async with self._write_lock:
            rows, row_id = await self.connection._execute(
                _insert, self.connection._conn, sql, params)
        return int(rows), int(row_id)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the current transaction commits (at once outside one)."""
        transaction = self._joined()
        if transaction is None:
            callback()
        else:
            transaction.after_commit.append(callback)

    def _read_connection(self) -> aiosqlite.Connection:
        return self.connection if self._joined() is not None else self._reader

    # A read is one job on the connection's thread: executed, read to the end and reset before
    # any other task's statement runs there. The reader connection is shared by every task,
    # and in autocommit a statement left open (executed, not yet fetched: `execute()`,
    # `fetchone()` and `close()` are separate jobs, other tasks' jobs run in between) keeps
    # the connection's read transaction, its WAL snapshot, open: another task's query then
    # reads that older snapshot and misses what committed meanwhile (the outbox worker saw an
    # item it had just marked sent as pending still, and sent it twice).

    async def fetchall(self, sql: str, params: tuple[object, ...] = ()) -> list[aiosqlite.Row]:
        """One hop to the database thread (execute, fetch and close there), not three."""
        return list(await self._read_connection().execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: tuple[object, ...] = ()) -> aiosqlite.Row | None:
        """One hop to the database thread, like `fetchall`: each hop costs a thread switch
        and an event-loop wake-up, which cost more than the SQL itself."""
        if self._inline is not None and self._joined() is None:
            try:
                return _fetchone(self._inline, sql, params)
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
        connection = self._read_connection()
        row: aiosqlite.Row | None = await connection._execute(
            _fetchone, connection._conn, sql, params)
        return row


def _write(connection: sqlite3.Connection,
           statements: Sequence[tuple[str, tuple[object, ...]]]) -> None:
    """Runs in aiosqlite's thread: one transaction, rolled back on any error."""
    def write() -> None:
        for sql, params in statements:
            connection.execute(sql, params).close()
    _in_transaction(connection, write)


def _insert(connection: sqlite3.Connection, sql: str, params: tuple[object, ...]
            ) -> tuple[int, int]:
    """Runs in aiosqlite's thread."""
    def insert() -> tuple[int, int]:
        cursor = connection.execute(sql, params)
        try:
            return cursor.rowcount, cursor.lastrowid or 0
        finally:
            cursor.close()
    return _in_transaction(connection, insert)


def _in_transaction(connection: sqlite3.Connection, work: Callable[[], _T]) -> _T:
    connection.execute("BEGIN IMMEDIATE")
    try:
        result = work()
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return result


def _inline_reader(path: str) -> sqlite3.Connection:
    """A read-only connection for the event loop's thread that never waits for a lock."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.row_factory = sqlite3.Row
    for pragma in _PRAGMAS:
        connection.execute(pragma)
    connection.execute("PRAGMA busy_timeout=0")
    connection.execute("PRAGMA query_only=ON")
    return connection


def _fetchone(connection: sqlite3.Connection, sql: str, params: tuple[object, ...]
              ) -> sqlite3.Row | None:
    """Runs in aiosqlite's thread."""
    cursor = connection.execute(sql, params)
    try:
        row: sqlite3.Row | None = cursor.fetchone()
        return row
    finally:
        cursor.close()


def statements(sql: str) -> list[str]:
    """Split a migration script into complete statements; a trigger's body (with its own
    semicolons) stays one statement, as do semicolons inside string literals."""
    found: list[str] = []
    pending = ""
    for line in sql.splitlines(keepends=True):
        if not pending and line.strip().startswith("--"):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip().rstrip(";").strip():
                found.append(pending.strip())
            pending = ""
    if pending.strip():
        raise DatabaseError(f"incomplete SQL statement in a migration: {pending.strip()[:60]}")
    return found
