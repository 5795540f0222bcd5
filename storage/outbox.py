"""The outbox: what must reach Telegram because something happened, written in the same
transaction as the change that caused it and delivered later by a worker (bot/delivery.py).

Telegram-free: an item names a chat (and forum thread), a kind and a JSON payload:

- `send`: {"text": HTML, "buttons": [[[label, callback_data], …], …]} — a new message;
- `edit`: {"message_id": n, "text": …, "buttons": …} — edit in place, else send anew;
- `drop_buttons`: {"message_id": n} — take the buttons off a message;
- `copy`: {"from_chat_id": n, "message_id": n, "caption": …} — a copy of a customer's media;
- `topic`: {"close": bool, "reopen": bool} — bring a ticket's forum topic in step with the ticket
  (its name, closed or open), creating it (with its card) when it is missing;
- `card`: {} — send or edit the ticket's card in its topic, rendered when it goes out.

An item `to_topic` goes into its ticket's topic in the staff group, whatever that topic's
thread id is when the item goes out: created on first use, recreated when it was deleted.
An item with a `thread_message_id` relays that message of the ticket's thread; once sent, its
`message_id` is the copy's id on the other side (edits and replies find their way back).

Per chat, items go out in the order they were written: the oldest pending item of a chat
blocks the ones after it until it is sent or has failed for good.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from storage.database import Database

log = logging.getLogger(__name__)

Kind = Literal["send", "edit", "copy", "drop_buttons", "topic", "card"]
Buttons = Sequence[Sequence[tuple[str, str]]]


def stamp(moment: datetime) -> str:
    """Outbox times: UTC with milliseconds, so text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class OutboxItem:
    id: int
    chat_id: int
    thread_id: int | None
    kind: Kind
    payload: dict[str, Any]
    ticket_id: int | None
    to_topic: bool
    thread_message_id: int | None
    state: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    message_id: int | None
    created_at: str
    sent_at: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "ticket": self.ticket_id, "chat_id": self.chat_id,
            "thread_id": self.thread_id, "to_topic": self.to_topic, "kind": self.kind,
            "state": self.state,
            "attempts": self.attempts, "last_error": self.last_error,
            "next_attempt_at": self.next_attempt_at if self.state == "pending" else None,
            "created_at": self.created_at, "message_id": self.message_id,
        }


def message_payload(text: str, buttons: Buttons = (), **extra: Any) -> dict[str, Any]:
    return {"text": text, "buttons": [[list(button) for button in row] for row in buttons if row],
            **extra}


@dataclass(frozen=True)
class Notice:
    """One message something causes, before it is written to the outbox."""

    chat_id: int
    text: str = ""
    buttons: Buttons = ()
    thread_id: int | None = None
    kind: Kind = "send"
    message_id: int | None = None  # the message to edit, or to copy (with from_chat_id)
    from_chat_id: int | None = None
    to_topic: bool = False  # into the ticket's topic (chat_id is the staff group)
    thread_message_id: int | None = None  # the ticket message this relays
    options: Mapping[str, Any] | None = None  # extra payload (kind `topic`)

    def payload(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.message_id is not None:
            extra["message_id"] = self.message_id
        if self.from_chat_id is not None:
            extra["from_chat_id"] = self.from_chat_id
        if self.kind in ("topic", "card"):
            return dict(self.options or {})
        if self.kind in ("drop_buttons", "copy"):
            return {**extra, **({"caption": self.text} if self.text else {})}
        return message_payload(self.text, self.buttons, **extra)


class Outbox:
    """Writes items (inside the caller's transaction) and keeps their delivery state."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.wakeup = asyncio.Event()  # set after a commit that added work

    async def enqueue(
        self,
        chat_id: int,
        kind: Kind,
        payload: Mapping[str, Any] | None = None,
        *,
        thread_id: int | None = None,
        ticket_id: int | None = None,
        to_topic: bool = False,
        thread_message_id: int | None = None,
    ) -> int:
        if to_topic and ticket_id is None:
            raise ValueError("an item for a ticket's topic needs the ticket")
        now = stamp(datetime.now(UTC))
        async with self.database.transaction() as connection:
            cursor = await connection.execute(
                """INSERT INTO outbox (chat_id, thread_id, kind, payload, ticket_id, to_topic,
                       thread_message_id, next_attempt_at, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (chat_id, thread_id, kind, json.dumps(dict(payload or {}), ensure_ascii=False),
                 ticket_id, int(to_topic), thread_message_id, now, now),
            )
            self.database.after_commit(self.wakeup.set)
        return int(cursor.lastrowid or 0)

    async def put(self, notice: Notice, *, ticket_id: int | None = None) -> int:
        return await self.enqueue(notice.chat_id, notice.kind, notice.payload(),
                                  thread_id=notice.thread_id, ticket_id=ticket_id,
                                  to_topic=notice.to_topic,
                                  thread_message_id=notice.thread_message_id)

    async def due(self, *, now: datetime | None = None, limit: int = 50,
                  excluding: Collection[int] = ()) -> list[OutboxItem]:
        """The oldest pending item of each chat, when its time has come; `excluding`: chats
        the caller is delivering to already."""
        skip = sorted(set(excluding))
        rows = await self.database.fetchall(
            f"""SELECT outbox.* FROM outbox
               JOIN (SELECT MIN(id) AS id FROM outbox WHERE state = 'pending'
                     GROUP BY chat_id) AS first ON first.id = outbox.id
               WHERE outbox.next_attempt_at <= ?
                 AND outbox.chat_id NOT IN ({','.join('?' * len(skip))})
               ORDER BY outbox.next_attempt_at, outbox.id LIMIT ?""",
            (stamp(now or datetime.now(UTC)), *skip, limit),
        )
        return [_item(row) for row in rows]

    async def next_attempt(self, *, excluding: Collection[int] = ()) -> datetime | None:
        """When the next item can go out (None: nothing is pending): the earliest due time of
        the oldest pending item of each chat, as `due()` sees them (a later item of a chat
        that is waiting to be retried waits too). `excluding`: chats being delivered now."""
        skip = sorted(set(excluding))
        rows = await self.database.fetchall(
            f"""SELECT outbox.chat_id, outbox.next_attempt_at AS at FROM outbox
               JOIN (SELECT MIN(id) AS id FROM outbox WHERE state = 'pending'
                     GROUP BY chat_id) AS first ON first.id = outbox.id
               WHERE outbox.chat_id NOT IN ({','.join('?' * len(skip))})
               ORDER BY outbox.next_attempt_at LIMIT 1""",
            tuple(skip),
        )
        return datetime.fromisoformat(rows[0]["at"]) if rows else None

    async def mark_sent(self, item_id: int, message_id: int | None = None) -> None:
        async with self.database.transaction() as connection:
            await connection.execute(
                """UPDATE outbox SET state = 'sent', message_id = ?, sent_at = ?,
                       attempts = attempts + 1, last_error = NULL WHERE id = ?""",
                (message_id, stamp(datetime.now(UTC)), item_id),
            )

    async def retry_later(self, item_id: int, error: str, delay: float) -> None:
        """A passing fault: try again after `delay` seconds (there is no deadline)."""
        at = stamp(datetime.now(UTC) + timedelta(seconds=max(0.0, delay)))
        async with self.database.transaction() as connection:
            await connection.execute(
                """UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?
                   WHERE id = ? AND state = 'pending'""",
                (error[:500], at, item_id),
            )

    async def mark_failed(self, item_id: int, error: str) -> None:
        """Telegram refused for good (blocked, chat or topic gone): kept with the reason."""
        async with self.database.transaction() as connection:
            await connection.execute(
                """UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?
                   WHERE id = ? AND state = 'pending'""",
                (error[:500], item_id),
            )

    async def get(self, item_id: int) -> OutboxItem | None:
        row = await self.database.fetchone("SELECT * FROM outbox WHERE id = ?", (item_id,))
        return _item(row) if row is not None else None

    async def listing(
        self, *, states: tuple[str, ...] = ("pending", "failed"), ticket_id: int | None = None,
        limit: int = 1000,
    ) -> list[OutboxItem]:
        where = [f"state IN ({','.join('?' * len(states))})"]
        params: list[object] = list(states)
        if ticket_id is not None:
            where.append("ticket_id = ?")
            params.append(ticket_id)
        rows = await self.database.fetchall(
            f"SELECT * FROM outbox WHERE {' AND '.join(where)} ORDER BY id LIMIT ?",
            (*params, limit),
        )
        return [_item(row) for row in rows]

    async def relayed_as(self, chat_id: int, message_id: int) -> OutboxItem | None:
        """The item that became Telegram message `message_id` in `chat_id` (a customer's
        reply to it belongs to the same ticket)."""
        row = await self.database.fetchone(
            """SELECT * FROM outbox WHERE chat_id = ? AND message_id = ? AND state = 'sent'
               ORDER BY id DESC LIMIT 1""", (chat_id, message_id))
        return _item(row) if row is not None else None

    async def copies_of(self, thread_message_id: int) -> list[OutboxItem]:
        """Every item that relays one message of a ticket's thread."""
        rows = await self.database.fetchall(
            "SELECT * FROM outbox WHERE thread_message_id = ? ORDER BY id", (thread_message_id,))
        return [_item(row) for row in rows]

    async def pending_count(self) -> int:
        row = await self.database.fetchone(
            "SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'")
        return int(row["n"]) if row is not None else 0


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row["id"], chat_id=row["chat_id"], thread_id=row["thread_id"], kind=row["kind"],
        payload=json.loads(row["payload"]), ticket_id=row["ticket_id"],
        to_topic=bool(row["to_topic"]), thread_message_id=row["thread_message_id"],
        state=row["state"],
        attempts=row["attempts"], next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"], message_id=row["message_id"],
        created_at=row["created_at"], sent_at=row["sent_at"],
    )
