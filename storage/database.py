"""The one SQLite file: connection settings, write transactions and versioned migrations."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)


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


class Database:
    """One aiosqlite connection in WAL mode; writes are serialised by a lock."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self.connection = connection
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str, *, upgrade_to: int | None = None) -> Database:
        folder = Path(path).parent
        if str(path) != ":memory:" and not folder.is_dir():
            raise DatabaseError(f"cannot open the database {path}: folder {folder} does not exist")
        try:
            connection = await aiosqlite.connect(str(path), isolation_level=None)
        except (sqlite3.Error, OSError) as error:
            raise DatabaseError(f"cannot open the database {path}: {error}") from None
        database = cls(connection)
        try:
            connection.row_factory = aiosqlite.Row
            await connection.execute("PRAGMA journal_mode=WAL")
            await connection.execute("PRAGMA foreign_keys=ON")
            await connection.execute("PRAGMA busy_timeout=5000")
            await connection.execute("PRAGMA synchronous=NORMAL")
            await database.migrate(upgrade_to)
        except sqlite3.Error as error:
            await connection.close()
            raise DatabaseError(f"cannot use the database {path}: {error}") from None
        return database

    async def close(self) -> None:
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
                for statement in _statements(sql):
                    await connection.execute(statement)
                await connection.execute(f"PRAGMA user_version = {version:d}")
            log.info("database migrated to version %d (%s)", version, name)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any error."""
        async with self._write_lock:
            await self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                await self.connection.execute("ROLLBACK")
                raise
            await self.connection.execute("COMMIT")

    async def fetchall(self, sql: str, params: tuple[object, ...] = ()) -> list[aiosqlite.Row]:
        async with self.connection.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetchone(self, sql: str, params: tuple[object, ...] = ()) -> aiosqlite.Row | None:
        async with self.connection.execute(sql, params) as cursor:
            return await cursor.fetchone()


def _statements(sql: str) -> list[str]:
    """Split a migration script into statements (the scripts hold no literal semicolons)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
