"""`balie outbox`: what waits to be delivered to Telegram or was refused, for an operator."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from storage.database import Database
from storage.outbox import Outbox, message_payload
from tickets.models import Category, Customer
from tickets.store import TicketStore

STAFF = -1001234567890


async def fill(path: Path) -> dict[str, int]:
    database = await Database.open(path)
    try:
        outbox = Outbox(database)
        ticket, _ = await TicketStore(database).create(
            category=Category.QUESTION, customer=Customer(1001, "Anna"), subject="Vraag")
        waiting = await outbox.enqueue(1001, "send", message_payload("Uw ticket"),
                                       ticket_id=ticket.id)
        await outbox.retry_later(waiting, "TelegramServerError: Bad Gateway", 90)
        refused = await outbox.enqueue(STAFF, "copy", {"from_chat_id": 1001, "message_id": 5},
                                       thread_id=77, ticket_id=ticket.id)
        await outbox.mark_failed(refused, "TelegramBadRequest: message thread not found")
        done = await outbox.enqueue(1002, "send", message_payload("Al verstuurd"))
        await outbox.mark_sent(done, 12)
        return {"ticket": ticket.id, "waiting": waiting, "refused": refused}
    finally:
        await database.close()


def config_for(tmp_path: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\ndatabase = "{tmp_path / "balie.sqlite3"}"\n',
                      encoding="utf-8")
    return config


def test_balie_outbox_json_lists_what_is_pending_or_refused(tmp_path: Path) -> None:
    ids = asyncio.run(fill(tmp_path / "balie.sqlite3"))

    result = CliRunner().invoke(main, ["outbox", "--config", str(config_for(tmp_path)),
                                       "--json"])

    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [entry["id"] for entry in listed] == [ids["waiting"], ids["refused"]]  # not the sent
    waiting, refused = listed
    assert waiting["ticket"] == refused["ticket"] == ids["ticket"]
    assert (waiting["chat_id"], waiting["thread_id"], waiting["kind"]) == (1001, None, "send")
    assert (waiting["state"], waiting["attempts"]) == ("pending", 1)
    assert waiting["last_error"] == "TelegramServerError: Bad Gateway"
    assert waiting["next_attempt_at"] > waiting["created_at"]
    assert (refused["chat_id"], refused["thread_id"], refused["kind"]) == (STAFF, 77, "copy")
    assert (refused["state"], refused["attempts"]) == ("failed", 1)
    assert "message thread not found" in refused["last_error"]
    assert refused["next_attempt_at"] is None  # a refused item is not tried again


def test_balie_outbox_text_names_ticket_recipient_attempts_error_and_next_try(
        tmp_path: Path) -> None:
    ids = asyncio.run(fill(tmp_path / "balie.sqlite3"))

    result = CliRunner().invoke(main, ["outbox", "--config", str(config_for(tmp_path))])

    assert result.exit_code == 0, result.output
    header, waiting, refused = result.output.splitlines()
    for column in ("ticket", "recipient", "tries", "next try", "last error"):
        assert column in header
    assert f"#{ids['ticket']}" in waiting and "1001 " in waiting and "pending" in waiting
    assert "Bad Gateway" in waiting
    assert f"{STAFF}/77" in refused and "failed" in refused
    assert "message thread not found" in refused


def test_balie_outbox_with_nothing_waiting(tmp_path: Path) -> None:
    async def create() -> None:
        await (await Database.open(tmp_path / "balie.sqlite3")).close()

    asyncio.run(create())
    result = CliRunner().invoke(main, ["outbox", "--config", str(config_for(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "Nothing pending" in result.output
