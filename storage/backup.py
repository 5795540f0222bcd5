"""A consistent online copy of the database, verified before it replaces an older copy.

SQLite's backup API copies a snapshot while the bot keeps running (WAL: readers and the writer
do not block each other). The copy is written next to the target, checked with
`PRAGMA integrity_check`, and only then renamed into place, so a failed backup never destroys
the previous one.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path


class BackupError(Exception):
    """The copy could not be made or did not verify; said in one line."""


@dataclass(frozen=True)
class BackupReport:
    path: Path
    bytes: int
    version: int  # the schema version (PRAGMA user_version)
    tickets: int


def backup(source: Path, target: Path) -> BackupReport:
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    if target.exists() and target.resolve() == source.resolve():
        raise BackupError("the backup cannot overwrite the database itself")
    if not target.parent.is_dir():
        raise BackupError(f"folder {target.parent} does not exist")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30) as original, \
                sqlite3.connect(partial) as copy:
            original.backup(copy)  # one step: a consistent snapshot
        with sqlite3.connect(partial) as copy:
            problems = [row[0] for row in copy.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise BackupError(f"the copy does not verify: {'; '.join(problems)[:200]}")
            version = int(copy.execute("PRAGMA user_version").fetchone()[0])
            tickets = int(copy.execute("SELECT COUNT(*) FROM tickets").fetchone()[0])
        os.replace(partial, target)
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup failed: {error}") from None
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    return BackupReport(target, target.stat().st_size, version, tickets)
