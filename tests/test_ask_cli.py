"""`balie ask` without --json prints what the bot would answer; `balie knowledge misses`
says why each question is listed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.test_cli_e2e import balie_cli


def test_ask_prints_the_answer_as_the_customer_sees_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = balie_cli(tmp_path, monkeypatch, "ask", "hoe zeg ik mijn hosting op")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("answer: opzeggen-hoe (score ")
    assert "Hoe zeg ik mijn dienst op?" in out
    assert "Vraag Opheffing aan" in out and "1 maand" in out  # the body, rendered with config
    assert "<b>" not in out and "{{" not in out  # plain text, as `balie console` shows it


def test_ask_in_english(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = balie_cli(tmp_path, monkeypatch, "ask", "--lang", "en", "how do I cancel my hosting")
    assert "How do I cancel my service?" in result.stdout
    assert "Did this help you?" in result.stdout


def test_ask_prints_the_suggestions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = balie_cli(tmp_path, monkeypatch, "ask", "factuur")
    assert result.stdout.startswith("suggest: ")
    assert "Bedoel je" in result.stdout
    assert "  1. " in result.stdout and "  2. " in result.stdout


def test_ask_prints_the_small_talk_reply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = balie_cli(tmp_path, monkeypatch, "ask", "hallo")
    assert result.stdout.startswith("small talk (greeting): no article")
    assert "Waarmee kan ik je helpen?" in result.stdout


def test_ask_out_of_scope_says_so_and_offers_a_way_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = balie_cli(tmp_path, monkeypatch, "ask", "wat kost een vps")
    assert result.stdout.startswith("none (best score ")
    assert "geen goed antwoord" in result.stdout
    assert "https://www.mijnhostingpartner.nl" in result.stdout


def test_knowledge_misses_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from knowledge.kb import KnowledgeBase
    from knowledge.matcher import Matcher
    from knowledge.questions import QuestionLog
    from storage.database import Database

    async def seed() -> None:
        database = await Database.open(tmp_path / "balie.sqlite3")
        log, matcher = QuestionLog(database), Matcher(KnowledgeBase.load())
        await log.record(1, "wat kost een vps", matcher.match("wat kost een vps"))
        await log.record(2, "factuur", matcher.match("factuur"))
        answered = await log.record(3, "hoe zeg ik mijn hosting op",
                                    matcher.match("hoe zeg ik mijn hosting op"))
        await log.feedback(answered, "not_helped")
        await database.close()

    asyncio.run(seed())
    result = balie_cli(tmp_path, monkeypatch, "knowledge", "misses")
    assert result.exit_code == 0, result.output
    lines = {line.split()[-1]: line for line in result.stdout.splitlines()[1:]}
    assert "no match" in lines["vps"]
    assert "unsure" in lines["factuur"]
    assert "👎" in lines["op"]
    assert "why" in result.stdout.splitlines()[0]
