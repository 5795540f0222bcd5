"""The installed command as an operator and a newcomer use it. A real process only where one
is the point: `balie run` against a fake Bot API server (stopped with SIGTERM, or refused its
token) and the installed `balie` script; everything else runs in-process (click's CliRunner,
and the console with today pinned, see tests/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from tests.conftest import TOKEN, BalieConsole
from tests.fakeapi import FakeTelegram


def balie_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


def clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BALIE_")}
    env.update(extra)
    return env


def installed_balie() -> str:
    """The `balie` console script that `pip install` put next to this Python."""
    script = shutil.which("balie", path=str(Path(sys.executable).parent))
    assert script is not None, "the balie console script is not installed (pip install -e .)"
    return script


def balie_cli(folder: Path, monkeypatch: pytest.MonkeyPatch, *args: str,
              typed: str | None = None) -> Result:
    """`balie ARGS` run in-process in `folder`, with no BALIE_* variables set."""
    monkeypatch.chdir(folder)
    for key in [key for key in os.environ if key.startswith("BALIE_")]:
        monkeypatch.delenv(key)
    return CliRunner().invoke(main, list(args), input=typed)


async def test_balie_run_answers_start_and_stops_cleanly(tmp_path: Path) -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[telegram]\napi_base = "{tg.api_base}"\npolling_timeout = 1\n'
            f'[storage]\ndatabase = "{tmp_path / "balie.sqlite3"}"\n', encoding="utf-8")
        process = await asyncio.create_subprocess_exec(
            *balie_command("run", "--config", str(config)), cwd=tmp_path,
            env=clean_env(BALIE_TELEGRAM_TOKEN=TOKEN),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            anna = tg.user(1001, "Anna", language_code="nl", timeout=60)
            await anna.send("/start")
            for _ in range(600):
                if anna.texts():
                    break
                await asyncio.sleep(0.05)
            assert "Hoi Anna" in anna.last_text()
            assert anna.buttons()
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "Balie stopped" in log
    assert TOKEN not in log and TOKEN.split(":")[1] not in log


async def test_balie_run_with_a_refused_token_says_so(tmp_path: Path) -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        wrong = "1111:this-token-is-not-known-to-the-fake"
        config = tmp_path / "config.toml"
        config.write_text(f'[telegram]\napi_base = "{tg.api_base}"\n', encoding="utf-8")
        process = await asyncio.create_subprocess_exec(
            *balie_command("run"), cwd=tmp_path, env=clean_env(BALIE_TELEGRAM_TOKEN=wrong),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1
    assert "refused the token" in stderr.decode()
    assert wrong not in stderr.decode()
    assert "Traceback" not in stderr.decode()


def test_installed_console_script_chats_over_stdin(tmp_path: Path) -> None:
    result = subprocess.run(
        [installed_balie(), "console"], cwd=tmp_path, input="/help\n/taal\n2\n",
        capture_output=True, text=True, timeout=120, env=clean_env(),
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Hoi Console" in out
    assert "[1] " in out
    assert "/stop – stop waar je mee bezig bent" in out
    assert "continue in English" in out
    assert "<b>" not in out and "&amp;" not in out
    assert out.rstrip().endswith("Tot ziens! / Goodbye!")
    assert (tmp_path / "balie.sqlite3").exists()


async def test_console_remembers_language_between_runs(console: BalieConsole) -> None:
    await console.chat("/taal\n2\n")
    assert "How can I help" in await console.chat("/menu\n")


def test_ask_json_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = balie_cli(tmp_path, monkeypatch, "ask", "--json", "hoe zeg ik mijn hosting op")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer == {"article": "opzeggen-hoe", "score": answer["score"], "band": "answer",
                      "suggestions": []}
    assert 0 <= answer["score"] <= 100


def test_ask_batch_reads_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = balie_cli(tmp_path, monkeypatch, "ask", "-", typed="hallo\nfactuur na opzeggen\n\n")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3  # one answer per input line, the blank one included
    assert lines[0]["band"] == "none" and lines[1]["article"] == "factuur-na-opzegging"
    assert lines[2] == {"article": None, "score": 0, "band": "none", "suggestions": []}


@pytest.mark.parametrize("as_json", [False, True])
def test_tickets_list_and_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    from storage.database import Database
    from tickets.models import Category, Customer
    from tickets.store import TicketStore

    async def seed() -> int:
        database = await Database.open(tmp_path / "balie.sqlite3")
        ticket, _ = await TicketStore(database).create(
            category=Category.CANCELLATION, subject="Opzegging voorbeeld.nl",
            customer=Customer(1001, "Anna", "anna", "nl", "anna@example.nl"),
            fields={"service": "domain", "domain": "voorbeeld.nl"})
        await database.close()
        return ticket.id

    ticket_id = asyncio.run(seed())
    flag = ["--json"] if as_json else []
    listed = balie_cli(tmp_path, monkeypatch, "tickets", "list", *flag)
    shown = balie_cli(tmp_path, monkeypatch, "tickets", "show", str(ticket_id), *flag)
    missing = balie_cli(tmp_path, monkeypatch, "tickets", "show", "999")
    assert listed.exit_code == shown.exit_code == 0, listed.output + shown.output
    assert missing.exit_code == 1 and "no ticket #999" in missing.stderr
    if as_json:
        [row] = json.loads(listed.stdout)
        assert row["customer"]["email"] == "anna@example.nl"
        assert row["fields"]["domain"] == "voorbeeld.nl"
        full = json.loads(shown.stdout)
        assert full["events"][0]["action"] == "created" and full["messages"] == []
    else:
        assert "Opzegging voorbeeld.nl" in listed.stdout
        assert "Domein/product: voorbeeld.nl" in shown.stdout
        assert "Wat: domeinnaam" in shown.stdout


def test_tickets_without_a_database_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = balie_cli(tmp_path, monkeypatch, "tickets", "list")
    assert result.exit_code == 2 and "no database at balie.sqlite3" in result.stderr
    assert not (tmp_path / "balie.sqlite3").exists()  # an operator command creates none


def test_knowledge_misses_lists_what_customers_asked_without_a_good_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from bot.cli import main
    from knowledge.kb import KnowledgeBase
    from knowledge.matcher import Matcher
    from knowledge.questions import QuestionLog
    from storage.database import Database

    async def seed() -> None:
        database = await Database.open(tmp_path / "balie.sqlite3")
        log, matcher = QuestionLog(database), Matcher(KnowledgeBase.load())
        for customer, text in ((1, "hoe stel ik een MX record in"),
                               (2, "Hoe stel ik een MX-record in?"),
                               (3, "hoe zeg ik mijn hosting op"),
                               (4, "hoe stel ik een mx record in")):
            await log.record(customer, text, matcher.match(text))
        helped = await log.record(5, "factuur", matcher.match("factuur"))
        await log.feedback(helped, "not_helped")
        await database.close()

    asyncio.run(seed())
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["knowledge", "misses", "--json"])
    assert result.exit_code == 0, result.output
    misses = json.loads(result.output)
    assert misses[0]["count"] == 3 and "mx" in misses[0]["question"].lower()
    assert {miss["question"] for miss in misses} >= {"factuur"}
    assert all("hosting op" not in miss["question"] for miss in misses)

    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    result = CliRunner().invoke(main, ["knowledge", "misses"])
    assert result.exit_code == 2 and "no database" in result.output


async def test_console_buttons_stay_pressable_below_a_message_without_buttons(
    console: BalieConsole,
) -> None:
    out = await console.chat("/help\n1\n")  # the menu's [1] after the help text
    assert "Wat wil je opzeggen?" in out
