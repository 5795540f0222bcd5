"""The ticket store: tickets, their message thread and audit trail in SQLite."""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite

from storage.database import Database, utcnow
from tickets.models import (
    Author,
    Category,
    Customer,
    Event,
    Message,
    Priority,
    Status,
    Ticket,
    TransitionError,
    check_transition,
)

log = logging.getLogger(__name__)

_OPEN_ORDER = "priority_rank, created_at, id"  # indexed (migration 006)


class TicketNotFound(LookupError):
    pass


class AlreadyClaimed(Exception):
    """Another colleague has this ticket."""

    def __init__(self, ticket_id: int, assignee: str) -> None:
        super().__init__(f"ticket {ticket_id} is already claimed by {assignee}")
        self.ticket_id = ticket_id
        self.assignee = assignee


class ConcurrentChange(Exception):
    """The ticket changed between reading and writing it; nothing was written."""


class TicketStore:
    """Tickets in SQLite. Every change is written with its audit event; every method joins the
    caller's open transaction, so the service composes them into one."""

    def __init__(self, database: Database, *, reopen_days: int = 7) -> None:
        self.database = database
        self.reopen_days = reopen_days
        # Customers chatting live, read once and again after each change of `live` (this
        # process is the only one that changes it): an ordinary message costs no query.
        self._live_customers: frozenset[int] | None = None
        self._live_version = 0  # bumped by every change: a read begun before it is not kept

    async def create(
        self,
        *,
        category: Category,
        customer: Customer,
        subject: str,
        fields: Mapping[str, Any] | None = None,
        priority: Priority = Priority.NORMAL,
        idempotency_key: str | None = None,
        linked_ticket_id: int | None = None,
        actor: str = "bot",
    ) -> tuple[Ticket, bool]:
        """Open a ticket; with an idempotency key already used, return that ticket instead.

        Returns the ticket and whether it was created now.
        """
        now = utcnow()
        async with self.database.transaction() as connection:
            if idempotency_key is not None:
                existing = await _fetch_id(
                    connection, "SELECT id FROM tickets WHERE idempotency_key = ?", idempotency_key
                )
                if existing is not None:
                    return await self.get(existing), False
            cursor = await connection.execute(
                """INSERT INTO tickets (category, status, priority, subject, customer_id,
                       customer_name, customer_username, customer_language, customer_email,
                       fields, idempotency_key, linked_ticket_id, created_at, updated_at)
                   VALUES (?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    str(category), str(priority), subject[:200], customer.telegram_id,
                    customer.name, customer.username, customer.language, customer.email,
                    json.dumps(dict(fields or {}), ensure_ascii=False), idempotency_key,
                    linked_ticket_id, now, now,
                ),
            )
            ticket_id = int(cursor.lastrowid or 0)
            await _event(connection, ticket_id, actor, "created",
                         {"category": str(category), "priority": str(priority)}, now)
        log.info("ticket=%d created: %s, priority %s", ticket_id, category, priority)
        return await self.get(ticket_id), True

    async def get(self, ticket_id: int, *, full: bool = False) -> Ticket:
        row = await self.database.fetchone("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
        if row is None:
            raise TicketNotFound(ticket_id)
        if not full:
            return _ticket(row)
        return _ticket(row, await self.messages(ticket_id), await self.events(ticket_id))

    async def get_for_customer(self, ticket_id: int, customer_id: int) -> Ticket | None:
        """The ticket only when it belongs to this customer (ids from buttons are not trusted)."""
        row = await self.database.fetchone(
            "SELECT * FROM tickets WHERE id = ? AND customer_id = ?", (ticket_id, customer_id)
        )
        return _ticket(row) if row is not None else None

    async def list(
        self,
        *,
        statuses: tuple[Status, ...] | None = None,
        customer_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Ticket]:
        """Tickets by priority and age (oldest first) — the queue order; `offset` pages."""
        where: list[str] = []
        params: list[str] = []
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            params.extend(str(status) for status in statuses)
        if customer_id is not None:
            where.append("customer_id = ?")
            params.append(str(customer_id))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self.database.fetchall(
            f"SELECT * FROM tickets {clause} ORDER BY {_OPEN_ORDER} LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [_ticket(row) for row in rows]

    async def for_customer(self, customer_id: int, *, limit: int = 5, offset: int = 0
                           ) -> builtins.list[Ticket]:
        """One customer's tickets, newest first ("Mijn tickets"); `offset` pages."""
        rows = await self.database.fetchall(
            "SELECT * FROM tickets WHERE customer_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
            (customer_id, limit, offset))
        return [_ticket(row) for row in rows]

    async def count_for_customer(self, customer_id: int) -> int:
        row = await self.database.fetchone(
            "SELECT COUNT(*) AS n FROM tickets WHERE customer_id = ?", (customer_id,))
        return int(row["n"]) if row is not None else 0

    async def customer_thread(self, ticket_id: int, *, limit: int, offset: int = 0
                              ) -> builtins.list[Message]:
        """The thread as the customer may read it (no internal notes), newest first."""
        rows = await self.database.fetchall(
            """SELECT * FROM ticket_messages WHERE ticket_id = ? AND author != 'note'
               ORDER BY id DESC LIMIT ? OFFSET ?""", (ticket_id, limit, offset))
        return [_message(row) for row in rows]

    async def count_customer_thread(self, ticket_id: int) -> int:
        row = await self.database.fetchone(
            "SELECT COUNT(*) AS n FROM ticket_messages WHERE ticket_id = ? AND author != 'note'",
            (ticket_id,))
        return int(row["n"]) if row is not None else 0

    async def add_message(
        self,
        ticket_id: int,
        author: Author,
        text: str,
        *,
        author_name: str = "",
        source: tuple[int, int] | None = None,
        actor: str | None = None,
        media: str | None = None,
    ) -> Message | None:
        """Add to the thread, with its audit event. `source` (chat id, message id) is the
        Telegram message it came from: the same message added twice is kept once (None)."""
        now = utcnow()
        chat_id, message_id = source if source is not None else (None, None)
        async with self.database.transaction() as connection:
            cursor = await connection.execute(
                """INSERT OR IGNORE INTO ticket_messages (ticket_id, author, author_name, text,
                       media, source_chat_id, source_message_id, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (ticket_id, str(author), author_name, text, media, chat_id, message_id, now),
            )
            if not cursor.rowcount:
                return None
            message = Message(int(cursor.lastrowid or 0), ticket_id, author, author_name, text,
                              now, media, source)
            await connection.execute(
                "UPDATE tickets SET updated_at = ? WHERE id = ?", (now, ticket_id)
            )
            await _event(connection, ticket_id, actor or str(author), "message",
                         {"message": message.id, "author": str(author)}, now)
        return message

    async def set_status(self, ticket_id: int, status: Status, *, actor: str,
                         reason: str | None = None,
                         source: tuple[int, int] | None = None) -> Ticket:
        """A checked transition, written only if nobody changed the status meanwhile; a
        `reason` (why it was closed) and the `source` (chat, message) that asked for it are
        kept in its audit event."""
        async with self.database.transaction() as connection:
            ticket = await self.get(ticket_id)
            if ticket.status == status:
                return ticket
            check_transition(ticket.status, status)
            now = utcnow()
            closed_at = now if status == Status.CLOSED else None
            cursor = await connection.execute(
                """UPDATE tickets SET status = ?, closed_at = ?, updated_at = ?
                   WHERE id = ? AND status = ?""",
                (str(status), closed_at, now, ticket_id, str(ticket.status)),
            )
            if not cursor.rowcount:
                raise ConcurrentChange(ticket_id)
            detail: dict[str, Any] = {"from": str(ticket.status), "to": str(status)}
            if reason:
                detail["reason"] = reason
            if source is not None:
                detail["source"] = list(source)
            await _event(connection, ticket_id, actor, "status", detail, now)
            log.info("ticket=%d status %s -> %s by %s", ticket_id, ticket.status, status, actor)
            return await self.get(ticket_id)

    async def claim(self, ticket_id: int, assignee: str, *, actor: str) -> Ticket:
        """Take a ticket that nobody has: exactly one of two simultaneous claims wins, the
        other gets `AlreadyClaimed` naming who has it. An open or waiting ticket becomes
        in progress."""
        async with self.database.transaction() as connection:
            before = await self.get(ticket_id)
            now = utcnow()
            cursor = await connection.execute(
                """UPDATE tickets SET assignee = ?, updated_at = ?,
                       status = CASE WHEN status = 'closed' THEN status ELSE 'in_progress' END
                   WHERE id = ? AND assignee IS NULL AND status != 'closed'""",
                (assignee, now, ticket_id),
            )
            ticket = await self.get(ticket_id)
            if not cursor.rowcount:
                if ticket.assignee == assignee:
                    return ticket
                if ticket.assignee is not None:
                    raise AlreadyClaimed(ticket_id, ticket.assignee)
                raise TransitionError(f"a {ticket.status} ticket cannot be claimed")
            await _event(connection, ticket_id, actor, "assignee",
                         {"from": None, "to": assignee}, now)
            if ticket.status != before.status:  # the audit trail has every change
                await _event(connection, ticket_id, actor, "status",
                             {"from": str(before.status), "to": str(ticket.status)}, now)
            return ticket

    async def set_priority(self, ticket_id: int, priority: Priority, *, actor: str) -> Ticket:
        return await self._set_column(ticket_id, "priority", str(priority), actor)

    async def assign(self, ticket_id: int, assignee: str | None, *, actor: str) -> Ticket:
        return await self._set_column(ticket_id, "assignee", assignee, actor)

    async def set_topic(self, ticket_id: int, topic_id: int | None, *, actor: str = "bot"
                        ) -> None:
        async with self.database.transaction() as connection:
            row = await self.database.fetchone(
                "SELECT topic_id FROM tickets WHERE id = ?", (ticket_id,))
            if row is None:
                raise TicketNotFound(ticket_id)
            if row["topic_id"] == topic_id:
                return
            now = utcnow()
            await connection.execute(
                "UPDATE tickets SET topic_id = ?, updated_at = ? WHERE id = ?",
                (topic_id, now, ticket_id),
            )
            await _event(connection, ticket_id, actor, "topic",
                         {"from": row["topic_id"], "to": topic_id}, now)

    # --- live chat --------------------------------------------------------------------------

    async def is_live(self, customer_id: int) -> bool:
        """Whether this customer is chatting live (from memory, after the first look)."""
        known = self._live_customers
        if known is not None:
            return customer_id in known
        version = self._live_version
        rows = await self.database.fetchall(
            "SELECT DISTINCT customer_id FROM tickets WHERE live = 1")
        found = frozenset(int(row[0]) for row in rows)
        # Kept only when nothing changed meanwhile, and never what a transaction has not
        # committed yet (it may still roll back).
        if version == self._live_version and not self.database.in_transaction:
            self._live_customers = found
        return customer_id in found

    def _forget_live(self) -> None:
        self._live_version += 1
        self._live_customers = None

    async def live_chat_of(self, customer_id: int) -> Ticket | None:
        """The ticket this customer is chatting on live, if any."""
        if not await self.is_live(customer_id):
            return None
        row = await self.database.fetchone(
            """SELECT * FROM tickets WHERE customer_id = ? AND live = 1 AND status != 'closed'
               ORDER BY id DESC LIMIT 1""",
            (customer_id,))
        return _ticket(row) if row is not None else None

    async def set_live(self, ticket_id: int, live: bool, *, actor: str,
                       reason: str | None = None) -> Ticket:
        async with self.database.transaction() as connection:
            ticket = await self.get(ticket_id)
            if ticket.live == live:
                return ticket
            now = utcnow()
            await connection.execute(
                "UPDATE tickets SET live = ?, updated_at = ? WHERE id = ?",
                (int(live), now, ticket_id))
            detail: dict[str, Any] = {"live": live}
            if reason:
                detail["reason"] = reason
            await _event(connection, ticket_id, actor, "live", detail, now)
            self.database.after_commit(self._forget_live)
            self._forget_live()  # (read inside this transaction: this change included)
            return await self.get(ticket_id)

    async def unanswered_live_chats(self, since: str) -> builtins.list[Ticket]:
        """Live chats nobody picked up that were opened before `since` and whose customer was
        not told yet."""
        rows = await self.database.fetchall(
            """SELECT * FROM tickets WHERE live = 1 AND assignee IS NULL
                   AND live_nudged_at IS NULL AND created_at < ? ORDER BY id""", (since,))
        return [_ticket(row) for row in rows]

    async def mark_nudged(self, ticket_id: int) -> bool:
        """True once: the customer of this live chat is told nobody is free (now)."""
        async with self.database.transaction() as connection:
            cursor = await connection.execute(
                "UPDATE tickets SET live_nudged_at = ? WHERE id = ? AND live_nudged_at IS NULL",
                (utcnow(), ticket_id))
            return bool(cursor.rowcount)

    async def set_subject(self, ticket_id: int, subject: str, *, actor: str) -> Ticket:
        return await self._set_column(ticket_id, "subject", subject, actor)

    async def set_category(self, ticket_id: int, category: Category, *, actor: str
                           ) -> Ticket:
        return await self._set_column(ticket_id, "category", str(category), actor)

    async def record(self, ticket_id: int, actor: str, action: str,
                     detail: Mapping[str, Any]) -> None:
        """An event for the audit trail that changes no column."""
        async with self.database.transaction() as connection:
            await _event(connection, ticket_id, actor, action, detail, utcnow())

    async def set_card(self, ticket_id: int, message_id: int | None) -> None:
        """Where the ticket's card is in its topic (not an event: the card is a view)."""
        async with self.database.transaction() as connection:
            await connection.execute(
                "UPDATE tickets SET card_message_id = ? WHERE id = ?", (message_id, ticket_id))

    async def forget_topic(self, ticket_id: int, *, reason: str, actor: str = "bot") -> None:
        """Its topic is gone (deleted in Telegram): the next item for it creates a new one."""
        async with self.database.transaction() as connection:
            row = await self.database.fetchone(
                "SELECT topic_id FROM tickets WHERE id = ?", (ticket_id,))
            if row is None:
                raise TicketNotFound(ticket_id)
            if row["topic_id"] is None:
                return
            now = utcnow()
            await connection.execute(
                "UPDATE tickets SET topic_id = NULL, card_message_id = NULL WHERE id = ?",
                (ticket_id,))
            await _event(connection, ticket_id, actor, "topic",
                         {"from": row["topic_id"], "to": None, "reason": reason}, now)

    async def message_by_source(self, chat_id: int, message_id: int) -> Message | None:
        """The thread's message that came from this Telegram message."""
        row = await self.database.fetchone(
            """SELECT * FROM ticket_messages WHERE source_chat_id = ? AND source_message_id = ?""",
            (chat_id, message_id))
        return _message(row) if row is not None else None

    async def update_message_text(self, message_id: int, text: str, *, actor: str) -> None:
        """A message edited in Telegram: the thread keeps the new text, the audit trail the
        old one."""
        async with self.database.transaction() as connection:
            row = await self.database.fetchone(
                "SELECT ticket_id, text FROM ticket_messages WHERE id = ?", (message_id,))
            if row is None or row["text"] == text:
                return
            now = utcnow()
            await connection.execute(
                "UPDATE ticket_messages SET text = ? WHERE id = ?", (text, message_id))
            await _event(connection, row["ticket_id"], actor, "message_edited",
                         {"message": message_id, "before": row["text"]}, now)

    async def by_topic(self, topic_id: int) -> Ticket | None:
        row = await self.database.fetchone("SELECT * FROM tickets WHERE topic_id = ?",
                                           (topic_id,))
        return _ticket(row) if row is not None else None

    async def rate(self, ticket_id: int, rating: int, *, actor: str) -> Ticket:
        if not 1 <= rating <= 5:
            raise ValueError("a rating is 1 to 5")
        return await self._set_column(ticket_id, "rating", rating, actor)

    async def reopen_or_follow_up(self, ticket_id: int, *, actor: str) -> Ticket:
        """A customer wrote on a closed ticket: reopen it within `reopen_days`, else open a
        new ticket that links the old one."""
        async with self.database.transaction():
            ticket = await self.get(ticket_id)
            if ticket.status != Status.CLOSED:
                return ticket
            closed_at = datetime.fromisoformat(ticket.closed_at or ticket.updated_at)
            if datetime.now(UTC) - closed_at < timedelta(days=self.reopen_days):
                return await self.set_status(ticket_id, Status.OPEN, actor=actor)
            follow_up, _ = await self.create(
                category=ticket.category, customer=ticket.customer, subject=ticket.subject,
                fields=ticket.fields, priority=ticket.priority, linked_ticket_id=ticket.id,
                actor=actor,
            )
            return follow_up

    async def messages(self, ticket_id: int) -> builtins.list[Message]:
        rows = await self.database.fetchall(
            "SELECT * FROM ticket_messages WHERE ticket_id = ? ORDER BY id", (ticket_id,)
        )
        return [_message(row) for row in rows]

    async def events(self, ticket_id: int) -> builtins.list[Event]:
        rows = await self.database.fetchall(
            "SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY id", (ticket_id,)
        )
        return [
            Event(row["id"], row["ticket_id"], row["actor"], row["action"],
                  json.loads(row["detail"]), row["created_at"])
            for row in rows
        ]

    async def _set_column(self, ticket_id: int, column: str, value: Any, actor: str) -> Ticket:
        async with self.database.transaction() as connection:
            ticket = await self.get(ticket_id)
            old = getattr(ticket, column)
            old = str(old) if old is not None and not isinstance(old, int) else old
            if old == value:
                return ticket
            now = utcnow()
            cursor = await connection.execute(
                f"UPDATE tickets SET {column} = ?, updated_at = ? WHERE id = ? "
                f"AND {column} IS ?",
                (value, now, ticket_id, old),
            )
            if not cursor.rowcount:
                raise ConcurrentChange(ticket_id)
            await _event(connection, ticket_id, actor, column, {"from": old, "to": value}, now)
            return await self.get(ticket_id)


async def _fetch_id(connection: aiosqlite.Connection, sql: str, *params: object) -> int | None:
    async with connection.execute(sql, params) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row is not None else None


async def _event(
    connection: aiosqlite.Connection,
    ticket_id: int,
    actor: str,
    action: str,
    detail: Mapping[str, Any],
    now: str,
) -> None:
    await connection.execute(
        """INSERT INTO ticket_events (ticket_id, actor, action, detail, created_at)
           VALUES (?, ?, ?, ?, ?)""",
        (ticket_id, actor, action, json.dumps(dict(detail), ensure_ascii=False), now),
    )


def _message(row: aiosqlite.Row) -> Message:
    source = None
    if row["source_message_id"] is not None:
        source = (int(row["source_chat_id"]), int(row["source_message_id"]))
    return Message(row["id"], row["ticket_id"], Author(row["author"]), row["author_name"],
                   row["text"], row["created_at"],
                   row["media"] if "media" in row.keys() else None, source)


def _ticket(
    row: aiosqlite.Row, messages: list[Message] | None = None, events: list[Event] | None = None
) -> Ticket:
    return Ticket(
        id=row["id"],
        category=Category(row["category"]),
        status=Status(row["status"]),
        priority=Priority(row["priority"]),
        subject=row["subject"],
        customer=Customer(
            telegram_id=row["customer_id"],
            name=row["customer_name"],
            username=row["customer_username"],
            language=row["customer_language"],
            email=row["customer_email"],
        ),
        assignee=row["assignee"],
        fields=json.loads(row["fields"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        closed_at=row["closed_at"],
        linked_ticket_id=row["linked_ticket_id"],
        topic_id=row["topic_id"],
        rating=row["rating"],
        card_message_id=row["card_message_id"] if "card_message_id" in row.keys() else None,
        live=bool(row["live"]) if "live" in row.keys() else False,
        messages=tuple(messages or ()),
        events=tuple(events or ()),
    )
