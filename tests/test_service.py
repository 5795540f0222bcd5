"""The ticket service: one transaction per operation (change + audit event + outbox), claims
and transitions conditional in SQL, store calls that compose inside a transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage.database import Database, statements
from storage.outbox import Notice, Outbox
from tickets import reports
from tickets.models import Author, Category, Customer, Priority, Status, Ticket
from tickets.service import AlreadyClaimed, Change, TicketService
from tickets.store import TicketNotFound, TicketStore

ANNA = Customer(1001, "Anna de Vries", "anna", "nl", "anna@example.nl")
STAFF = -100123


class Recorder:
    """A notifier that tells the staff group about every change, as text."""

    def notices(self, ticket: Ticket, change: Change) -> Sequence[Notice]:
        return (Notice(STAFF, f"#{ticket.id} {change.action} by {change.actor}"),)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = await Database.open(tmp_path / "balie.sqlite3")
    yield db
    await db.close()


@pytest.fixture
def service(database: Database) -> TicketService:
    return TicketService(TicketStore(database), Outbox(database), Recorder())


def confirmation(ticket: Ticket) -> list[Notice]:
    return [Notice(ANNA.telegram_id, f"Ticket #{ticket.id} is filed")]


async def open_one(service: TicketService, key: str | None = None) -> Ticket:
    ticket, _ = await service.open_ticket(
        category=Category.CANCELLATION, customer=ANNA, subject="Opzegging voorbeeld.nl",
        idempotency_key=key, confirm=confirmation)
    return ticket


async def test_open_ticket_writes_ticket_event_and_confirmation_together(
    service: TicketService,
) -> None:
    ticket = await open_one(service, "cancellation:run1")
    pending = await service.outbox.listing()
    assert [(item.chat_id, item.payload["text"]) for item in pending] == [
        (ANNA.telegram_id, f"Ticket #{ticket.id} is filed"),
        (STAFF, f"#{ticket.id} opened by customer"),
    ]
    assert all(item.ticket_id == ticket.id and item.state == "pending" for item in pending)
    events = await service.store.events(ticket.id)
    assert [event.action for event in events] == ["created"]


async def test_the_same_confirmation_twice_files_and_confirms_once(
    service: TicketService,
) -> None:
    results = await asyncio.gather(*(
        service.open_ticket(category=Category.QUESTION, customer=ANNA, subject="x",
                            idempotency_key="question:run1", confirm=confirmation)
        for _ in range(5)))
    assert len({ticket.id for ticket, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    texts = [item.payload["text"] for item in await service.outbox.listing()]
    assert texts.count(f"Ticket #{results[0][0].id} is filed") == 1


async def test_a_failure_inside_the_operation_leaves_nothing(
    service: TicketService, database: Database,
) -> None:
    def broken(ticket: Ticket) -> list[Notice]:
        raise RuntimeError("template broke")

    with pytest.raises(RuntimeError):
        await service.open_ticket(category=Category.QUESTION, customer=ANNA, subject="x",
                                  confirm=broken)
    assert await service.store.list() == []
    assert await service.outbox.listing() == []
    row = await database.fetchone("SELECT COUNT(*) AS n FROM ticket_events")
    assert row is not None and row["n"] == 0


async def test_store_calls_compose_inside_one_transaction(database: Database) -> None:
    store = TicketStore(database)
    outbox = Outbox(database)

    async def file_and_fail() -> None:
        async with database.transaction():
            ticket, _ = await store.create(category=Category.QUESTION, customer=ANNA,
                                           subject="x")
            await store.add_message(ticket.id, store_author(), "hallo")
            await outbox.put(Notice(ANNA.telegram_id, "sent?"), ticket_id=ticket.id)
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        await asyncio.wait_for(file_and_fail(), timeout=5)  # no hang: the lock is reentrant
    assert await store.list() == []
    assert await outbox.listing() == []


def store_author() -> Author:
    return Author.CUSTOMER


async def test_two_simultaneous_claims_have_one_winner(service: TicketService) -> None:
    ticket = await open_one(service)
    results = await asyncio.gather(service.claim(ticket.id, "Kees"),
                                   service.claim(ticket.id, "Piet"), return_exceptions=True)
    winners = [r for r in results if isinstance(r, Ticket)]
    losers = [r for r in results if isinstance(r, AlreadyClaimed)]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0].assignee == winners[0].assignee
    assert "already claimed by" in str(losers[0])
    stored = await service.store.get(ticket.id)
    assert stored.assignee == winners[0].assignee and stored.status == Status.IN_PROGRESS
    claims = [e for e in await service.store.events(ticket.id) if e.action == "assignee"]
    assert len(claims) == 1


async def test_claim_is_conditional_in_sql(service: TicketService, database: Database) -> None:
    """Even a claim that read 'unassigned' before another wrote does not overwrite it."""
    ticket = await open_one(service)
    async with database.transaction() as connection:
        await connection.execute("UPDATE tickets SET assignee = 'Kees' WHERE id = ?",
                                 (ticket.id,))
    with pytest.raises(AlreadyClaimed) as refused:
        await service.claim(ticket.id, "Piet")
    assert refused.value.assignee == "Kees"
    assert await service.claim(ticket.id, "Kees")  # claiming your own ticket is fine


async def test_messages_and_topics_leave_audit_events_and_dedup_on_source(
    service: TicketService,
) -> None:
    ticket = await open_one(service)
    _, first = await service.customer_wrote(ticket.id, ANNA.telegram_id, "Is het al gedaan?",
                                            source=(ANNA.telegram_id, 55))
    _, again = await service.customer_wrote(ticket.id, ANNA.telegram_id, "Is het al gedaan?",
                                            source=(ANNA.telegram_id, 55))
    assert first is not None and again is None
    await service.set_topic(ticket.id, 77)
    assert (await service.store.by_topic(77)) is not None
    actions = [e.action for e in await service.store.events(ticket.id)]
    assert actions == ["created", "message", "topic"]
    assert len(await service.store.messages(ticket.id)) == 1


async def test_customer_cannot_write_on_someone_elses_ticket(service: TicketService) -> None:
    from tickets.store import TicketNotFound

    ticket = await open_one(service)
    with pytest.raises(TicketNotFound):
        await service.customer_wrote(ticket.id, 999, "hack")


async def test_status_priority_and_notes(service: TicketService) -> None:
    ticket = await open_one(service)
    await service.set_priority(ticket.id, Priority.URGENT, actor="colleague:Kees")
    await service.set_status(ticket.id, Status.WAITING_ON_CUSTOMER, actor="colleague:Kees")
    await service.internal_note(ticket.id, "Kees", "klant gebeld")
    _, _ = await service.customer_wrote(ticket.id, ANNA.telegram_id, "hier ben ik")
    stored = await service.store.get(ticket.id, full=True)
    assert stored.status == Status.OPEN  # the customer answered: back in the queue
    assert [m.author for m in stored.messages] == ["note", "customer"]
    texts = [item.payload["text"] for item in await service.outbox.listing()]
    assert f"#{ticket.id} priority by colleague:Kees" in texts
    assert not any("klant gebeld" in text for text in texts)  # a note is never sent


async def test_the_audit_trail_is_append_only(service: TicketService,
                                              database: Database) -> None:
    import sqlite3

    await open_one(service)
    with pytest.raises(sqlite3.IntegrityError):
        async with database.transaction() as connection:
            await connection.execute("UPDATE ticket_events SET action = 'forged'")


def test_migration_splitter_keeps_triggers_and_quoted_semicolons_whole() -> None:
    sql = """-- a comment; with a semicolon
CREATE TABLE a (x TEXT DEFAULT ';');
CREATE TRIGGER t BEFORE UPDATE ON a
BEGIN
    SELECT RAISE(ABORT, 'no; never');
END;
INSERT INTO a VALUES ('1;2');
"""
    found = statements(sql)
    assert len(found) == 3
    assert found[1].startswith("CREATE TRIGGER") and found[1].endswith("END;")


async def test_a_question_handled_twice_is_logged_once(database: Database) -> None:
    from knowledge.kb import KnowledgeBase
    from knowledge.matcher import Matcher
    from knowledge.questions import QuestionLog

    questions = QuestionLog(database)
    match = Matcher(KnowledgeBase.load()).match("hoe zeg ik op", "nl")
    first = await questions.record(1001, "hoe zeg ik op", match, update_id=77)
    again = await questions.record(1001, "hoe zeg ik op", match, update_id=77)
    other = await questions.record(1001, "hoe zeg ik op", match)
    assert first == again != other
    row = await database.fetchone("SELECT COUNT(*) AS n FROM questions")
    assert row is not None and row["n"] == 2


async def test_rating_and_what_went_wrong_are_one_operation_each(
    service: TicketService, database: Database,
) -> None:
    ticket = await open_one(service)
    await service.close(ticket.id, "Kees")
    with pytest.raises(TicketNotFound):  # somebody else's ticket
        await service.rated(ticket.id, 9999, 1)
    rated = await service.rated(ticket.id, ANNA.telegram_id, 1)
    assert rated.rating == 1 and rated.status == Status.CLOSED
    message = await service.rating_explained(ticket.id, ANNA.telegram_id, "Te traag",
                                             source=(ANNA.telegram_id, 77))
    assert message is not None and message.author == Author.CUSTOMER
    # The same Telegram message again is kept once.
    assert await service.rating_explained(ticket.id, ANNA.telegram_id, "Te traag",
                                          source=(ANNA.telegram_id, 77)) is None
    stored = await service.store.get(ticket.id, full=True)
    assert stored.status == Status.CLOSED
    assert [e.action for e in stored.events][-3:] == ["rating", "message", "rating_comment"]
    texts = [item.payload["text"] for item in await service.outbox.listing()]
    assert texts[-2:] == [f"#{ticket.id} rated by customer"] * 2
    stats = await reports.stats(database, now=datetime.now(UTC), days=30)
    assert stats.rating_comments == (reports.RatingComment(ticket.id, 1, "Te traag"),)


async def test_a_redelivered_reply_on_a_long_closed_ticket_opens_one_follow_up(
        service: TicketService, database: Database) -> None:
    """Handled again after a restart: the message is already on the follow-up, so no second
    (empty) follow-up is opened for the colleagues."""
    ticket = await open_one(service)
    await service.close(ticket.id, "Bob")
    long_ago = "2020-01-01T00:00:00+00:00"
    await database.write([("UPDATE tickets SET closed_at = ?, updated_at = ? WHERE id = ?",
                           (long_ago, long_ago, ticket.id))])

    def thanks(on: Ticket) -> list[Notice]:
        return [Notice(ANNA.telegram_id, f"toegevoegd aan #{on.id}")]

    first, added = await service.customer_wrote(ticket.id, ANNA.telegram_id, "hallo",
                                                source=(ANNA.telegram_id, 9), confirm=thanks)
    again, added_again = await service.customer_wrote(
        ticket.id, ANNA.telegram_id, "hallo", source=(ANNA.telegram_id, 9), confirm=thanks)
    assert added is not None and added_again is None
    assert again.id == first.id != ticket.id and first.linked_ticket_id == ticket.id
    assert [t.id for t in await service.store.list()] == sorted([ticket.id, first.id])
