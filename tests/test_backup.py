"""`balie backup PATH`: a consistent copy while the bot runs, verified, never half-written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from storage.backup import BackupError, backup
from tests.client import TelegramUser
from tests.conftest import Balie
from tests.test_cancellation import to_summary


async def test_backup_while_the_bot_runs_holds_the_ticket(
    anna: TelegramUser, balie: Balie, tmp_path: Path,
) -> None:
    await to_summary(anna, service="Hostingpakket", domain="voorbeeld.nl",
                     renewal="15 maart 2027")
    await anna.press("Dien opzegverzoek in")
    copy = tmp_path / "copy.sqlite3"
    report = backup(balie.database, copy)  # the bot is still running
    assert report.tickets == 1 and report.version >= 5
    with sqlite3.connect(copy) as connection:
        [(subject,)] = connection.execute("SELECT subject FROM tickets").fetchall()
        assert subject == "Opzegging voorbeeld.nl"
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not (tmp_path / "copy.sqlite3.partial").exists()


def test_balie_backup_command_and_its_errors(tmp_path: Path) -> None:
    database = tmp_path / "balie.sqlite3"
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\ndatabase = "{database}"\n', encoding="utf-8")
    runner = CliRunner()
    missing = runner.invoke(main, ["backup", str(tmp_path / "b.sqlite3"), "--config",
                                   str(config)])
    assert missing.exit_code == 1 and "no database" in missing.output
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE tickets (id INTEGER)")
    done = runner.invoke(main, ["backup", str(tmp_path / "b.sqlite3"), "--config", str(config)])
    assert done.exit_code == 0, done.output
    assert "0 tickets" in done.output and "integrity ok" in done.output
    itself = runner.invoke(main, ["backup", str(database), "--config", str(config)])
    assert itself.exit_code == 1 and "itself" in itself.output


def test_a_backup_that_fails_leaves_the_previous_copy(tmp_path: Path) -> None:
    previous = tmp_path / "copy.sqlite3"
    previous.write_bytes(b"the previous backup")
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BackupError):
        backup(broken, previous)
    assert previous.read_bytes() == b"the previous backup"
