"""The SQLite file: aiogram's FSM storage contract, migrations, and the ticket store."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey

from bot.fsm import CustomerIsolation, SQLiteStorage
from storage.database import Database, migrations
from storage.outbox import Outbox, message_payload
from tickets.customers import CustomerStore
from tickets.models import Author, Category, Customer, Priority, Status, TransitionError
from tickets.store import TicketStore

ANNA = Customer(telegram_id=1001, name="Anna de Vries", username="anna", language="nl",
                email="anna@example.nl")


@pytest.fixture
async def database(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = await Database.open(tmp_path / "balie.sqlite3")
    yield db
    await db.close()


@pytest.fixture
def storage(database: Database) -> SQLiteStorage:
    return SQLiteStorage(database)


@pytest.fixture
def storage_key() -> StorageKey:
    return StorageKey(bot_id=42, chat_id=-1001, user_id=1001)


class Form(StatesGroup):
    step = State()


# aiogram's own storage contract (tests/test_fsm/storage/test_storages.py), run on ours.
class TestStorageContract:
    async def test_set_state(self, storage: SQLiteStorage, storage_key: StorageKey) -> None:
        assert await storage.get_state(key=storage_key) is None
        await storage.set_state(key=storage_key, state="state")
        assert await storage.get_state(key=storage_key) == "state"
        await storage.set_state(key=storage_key, state=None)
        assert await storage.get_state(key=storage_key) is None

    async def test_set_state_object(self, storage: SQLiteStorage, storage_key: StorageKey) -> None:
        await storage.set_state(key=storage_key, state=Form.step)
        assert await storage.get_state(key=storage_key) == "Form:step"

    async def test_set_data(self, storage: SQLiteStorage, storage_key: StorageKey) -> None:
        assert await storage.get_data(key=storage_key) == {}
        await storage.set_data(key=storage_key, data={"foo": "bar"})
        assert await storage.get_data(key=storage_key) == {"foo": "bar"}
        await storage.set_data(key=storage_key, data={})
        assert await storage.get_data(key=storage_key) == {}

    async def test_update_data(self, storage: SQLiteStorage, storage_key: StorageKey) -> None:
        assert await storage.get_data(key=storage_key) == {}
        assert await storage.update_data(key=storage_key, data={"foo": "bar"}) == {"foo": "bar"}
        assert await storage.update_data(key=storage_key, data={}) == {"foo": "bar"}
        assert await storage.get_data(key=storage_key) == {"foo": "bar"}
        assert await storage.update_data(key=storage_key, data={"baz": "spam"}) == {
            "foo": "bar", "baz": "spam"}
        assert await storage.update_data(key=storage_key, data={"baz": "test"}) == {
            "foo": "bar", "baz": "test"}
        assert await storage.get_data(key=storage_key) == {"foo": "bar", "baz": "test"}

    async def test_get_value(self, storage: SQLiteStorage, storage_key: StorageKey) -> None:
        assert await storage.get_value(storage_key, "foo") is None
        assert await storage.get_value(storage_key, "foo", "default") == "default"
        await storage.set_data(key=storage_key, data={"foo": "bar"})
        assert await storage.get_value(storage_key, "foo") == "bar"


async def test_all_key_fields_separate_rows(storage: SQLiteStorage) -> None:
    base = dict(bot_id=1, chat_id=2, user_id=3)
    keys = [
        StorageKey(**base),  # type: ignore[arg-type]
        StorageKey(**base, thread_id=7),  # type: ignore[arg-type]
        StorageKey(**base, business_connection_id="bc"),  # type: ignore[arg-type]
        StorageKey(**base, destiny="other"),  # type: ignore[arg-type]
        StorageKey(bot_id=9, chat_id=2, user_id=3),
        StorageKey(bot_id=1, chat_id=8, user_id=3),
        StorageKey(bot_id=1, chat_id=2, user_id=4),
    ]
    for number, key in enumerate(keys):
        await storage.set_state(key, f"s{number}")
        await storage.set_data(key, {"n": number})
    for number, key in enumerate(keys):
        assert await storage.get_state(key) == f"s{number}"
        assert await storage.get_data(key) == {"n": number}
    rows = await storage.database.fetchall(
        "SELECT thread_id, business_connection_id FROM fsm_state")
    assert all(row[0] is not None and row[1] is not None for row in rows)


async def test_unicode_data_round_trips(storage: SQLiteStorage, storage_key: StorageKey) -> None:
    data = {"domain": "café.nl", "text": "<b>ç'est</b> \u202e 😀 " * 100}
    await storage.set_data(storage_key, data)
    assert await storage.get_data(storage_key) == data


async def test_state_survives_reopening(tmp_path: Path, storage_key: StorageKey) -> None:
    first = await Database.open(tmp_path / "state.sqlite3")
    await SQLiteStorage(first).set_state(storage_key, "Form:step")
    await SQLiteStorage(first).set_data(storage_key, {"step": 3})
    await first.close()
    second = await Database.open(tmp_path / "state.sqlite3")
    try:
        assert await SQLiteStorage(second).get_state(storage_key) == "Form:step"
        assert await SQLiteStorage(second).get_data(storage_key) == {"step": 3}
    finally:
        await second.close()


async def test_concurrent_read_modify_writes_of_one_row_lose_nothing(database: Database) -> None:
    async with database.transaction() as connection:
        await connection.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)")
        await connection.execute("INSERT INTO counter VALUES (1, 0)")

    async def increment() -> None:
        async with database.transaction() as connection:
            async with connection.execute("SELECT n FROM counter WHERE id = 1") as cursor:
                row = await cursor.fetchone()
            assert row is not None
            await asyncio.sleep(0)  # another task gets its turn between read and write
            await connection.execute("UPDATE counter SET n = ? WHERE id = 1", (row[0] + 1,))

    await asyncio.gather(*(increment() for _ in range(50)))
    row = await database.fetchone("SELECT n FROM counter WHERE id = 1")
    assert row is not None and row[0] == 50


async def test_concurrent_writes_of_one_key_keep_one_whole_value(
    database: Database, storage_key: StorageKey
) -> None:
    storage = SQLiteStorage(database)
    written = [{"writer": n, "step": f"step_{n}", "values": {"n": n, "list": [n] * n}}
               for n in range(30)]
    await asyncio.gather(*(storage.set_data(storage_key, data) for data in written),
                         *(storage.set_state(storage_key, Form.step) for _ in range(5)))
    assert await storage.get_data(storage_key) in written  # one of them, never a mix
    assert await storage.get_state(storage_key) == Form.step.state
    [(rows,)] = await database.fetchall("SELECT COUNT(*) FROM fsm_state")
    assert rows == 1


# Migrations


async def test_fresh_database_is_at_latest_version_in_wal(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "new.sqlite3")
    try:
        assert await db.version() == migrations()[-1][0]
        row = await db.fetchone("PRAGMA journal_mode")
        assert row is not None and row[0] == "wal"
        row = await db.fetchone("PRAGMA foreign_keys")
        assert row is not None and row[0] == 1
    finally:
        await db.close()


async def test_older_database_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = await Database.open(path, upgrade_to=1)
    assert await old.version() == 1
    store = TicketStore(old)
    ticket, _ = await store.create(category=Category.QUESTION, customer=ANNA, subject="Oud")
    await old.close()

    upgraded = await Database.open(path)
    try:
        assert await upgraded.version() == migrations()[-1][0]
        assert (await TicketStore(upgraded).get(ticket.id)).subject == "Oud"
        tables = {row[0] for row in await upgraded.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"fsm_state", "tickets", "ticket_messages", "ticket_events", "questions"} <= tables
    finally:
        await upgraded.close()


async def test_opening_twice_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "twice.sqlite3"
    for _ in range(2):
        db = await Database.open(path)
        await db.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == migrations()[-1][0]


# Ticket store


async def test_ticket_create_with_fields_and_audit(database: Database) -> None:
    store = TicketStore(database)
    ticket, created = await store.create(
        category=Category.CANCELLATION, customer=ANNA, subject="Opzegging voorbeeld.nl",
        fields={"service": "domain", "domain": "voorbeeld.nl", "transfer": True},
        idempotency_key="cancellation:abc",
    )
    assert created
    assert ticket.status == Status.OPEN and ticket.priority == Priority.NORMAL
    full = await store.get(ticket.id, full=True)
    data = full.as_json(full=True)
    assert data["customer"] == {"telegram_id": 1001, "name": "Anna de Vries",
                                "username": "anna", "language": "nl",
                                "email": "anna@example.nl"}
    assert data["fields"]["transfer"] is True
    assert [event["action"] for event in data["events"]] == ["created"]
    assert set(data) >= {"id", "category", "status", "priority", "subject", "customer",
                         "assignee", "fields", "created_at", "updated_at", "messages", "events"}


async def test_same_confirmation_twice_makes_one_ticket(database: Database) -> None:
    store = TicketStore(database)
    results = await asyncio.gather(*(
        store.create(category=Category.QUESTION, customer=ANNA, subject="x",
                     idempotency_key="question:run1") for _ in range(5)))
    assert len({ticket.id for ticket, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert len(await store.list()) == 1


async def test_status_changes_are_audited_and_checked(database: Database) -> None:
    store = TicketStore(database)
    ticket, _ = await store.create(category=Category.QUESTION, customer=ANNA, subject="x")
    await store.set_status(ticket.id, Status.IN_PROGRESS, actor="colleague:7")
    await store.assign(ticket.id, "Piet", actor="colleague:7")
    await store.set_priority(ticket.id, Priority.URGENT, actor="colleague:7")
    closed = await store.set_status(ticket.id, Status.CLOSED, actor="colleague:7")
    assert closed.closed_at is not None
    with pytest.raises(TransitionError):
        await store.set_status(ticket.id, Status.WAITING_ON_CUSTOMER, actor="colleague:7")
    events = await store.events(ticket.id)
    assert [(e.action, e.detail.get("to")) for e in events] == [
        ("created", None), ("status", "in_progress"), ("assignee", "Piet"),
        ("priority", "urgent"), ("status", "closed")]


async def test_queue_order_is_priority_then_age(database: Database) -> None:
    store = TicketStore(database)
    low, _ = await store.create(category=Category.QUESTION, customer=ANNA, subject="low",
                                priority=Priority.LOW)
    normal, _ = await store.create(category=Category.QUESTION, customer=ANNA, subject="normal")
    urgent, _ = await store.create(category=Category.ACCIDENTAL_CANCELLATION, customer=ANNA,
                                   subject="urgent", priority=Priority.URGENT)
    assert [t.id for t in await store.list()] == [urgent.id, normal.id, low.id]


async def test_customer_sees_only_own_ticket(database: Database) -> None:
    store = TicketStore(database)
    ticket, _ = await store.create(category=Category.QUESTION, customer=ANNA, subject="x")
    assert await store.get_for_customer(ticket.id, ANNA.telegram_id) is not None
    assert await store.get_for_customer(ticket.id, 999) is None


async def test_reply_on_closed_ticket_reopens_then_follows_up(database: Database) -> None:
    store = TicketStore(database, reopen_days=7)
    ticket, _ = await store.create(category=Category.QUESTION, customer=ANNA, subject="x")
    await store.add_message(ticket.id, Author.CUSTOMER, "Hallo", author_name="Anna")
    await store.set_status(ticket.id, Status.CLOSED, actor="colleague:1")
    reopened = await store.reopen_or_follow_up(ticket.id, actor="customer")
    assert reopened.id == ticket.id and reopened.status == Status.OPEN

    await store.set_status(ticket.id, Status.CLOSED, actor="colleague:1")
    async with database.transaction() as connection:
        await connection.execute("UPDATE tickets SET closed_at = '2020-01-01T00:00:00+00:00'")
    follow_up = await store.reopen_or_follow_up(ticket.id, actor="customer")
    assert follow_up.id != ticket.id and follow_up.linked_ticket_id == ticket.id
    assert (await store.get(ticket.id)).status == Status.CLOSED


async def test_customer_isolation_serialises_one_customer_and_forgets_idle_locks() -> None:
    isolation = CustomerIsolation()
    anna = StorageKey(bot_id=1, chat_id=1001, user_id=1001)
    john = StorageKey(bot_id=1, chat_id=1002, user_id=1002)
    order: list[str] = []

    async def handle(key: StorageKey, name: str) -> None:
        async with isolation.lock(key):
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            order.append(f"{name} out")

    await asyncio.gather(handle(anna, "a1"), handle(anna, "a2"), handle(john, "j1"))
    assert order.index("a1 out") < order.index("a2 in")  # one at a time for Anna
    assert order.index("j1 in") < order.index("a1 out")  # John does not wait for Anna
    assert isolation.held == 0

    for user in range(1000):
        async with isolation.lock(StorageKey(bot_id=1, chat_id=user, user_id=user)):
            pass
    assert isolation.held == 0


async def test_customer_languages_are_remembered_within_a_bound(database: Database) -> None:
    customers = CustomerStore(database, remembered=3)
    await customers.set_language(1, "en")
    assert await customers.language(1) == "en"
    for telegram_id in range(2, 10):
        assert await customers.language(telegram_id) is None
    assert len(customers._languages) <= 3
    assert await customers.language(1) == "en"  # forgotten in memory, read from the file


async def test_a_read_sees_what_committed_before_it_while_other_reads_are_under_way(
        database: Database) -> None:
    # The reader connection is shared: a read that is half done in one task (executed, rows
    # not yet fetched) must not pin an older snapshot for another task's read. The outbox
    # worker read an item it had just marked sent as pending still, and sent it twice.
    outbox = Outbox(database)
    await outbox.enqueue(1001, "send", message_payload("elders", ()))
    done = asyncio.Event()

    async def reading() -> None:  # through the shared reader connection (fetchall)
        while not done.is_set():
            await outbox.listing(states=("pending",), ticket_id=None, limit=1)
            await asyncio.sleep(0)

    readers = [asyncio.create_task(reading()) for _ in range(4)]
    stale = []
    try:
        for chat_id in range(2001, 2041):
            item_id = await outbox.enqueue(chat_id, "send", message_payload("hier", ()))
            await outbox.mark_sent(item_id, 1)
            if item_id in [item.id for item in await outbox.due()]:
                stale.append(item_id)
            if (await outbox.get(item_id)).state != "sent":  # type: ignore[union-attr]
                stale.append(item_id)
    finally:
        done.set()
        await asyncio.gather(*readers)
    assert stale == []
