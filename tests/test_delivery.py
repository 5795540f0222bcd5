"""The outbox worker against the fake Bot API over HTTP, with a real aiogram Bot (carrying the
app's RetryMiddleware, which the worker must bypass) and a real SQLite outbox.

No assertion here depends on how fast the machine is: order and counts are asserted, waits
have generous timeouts, and the rate limits run on an injected clock.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from hypothesis import given
from hypothesis import strategies as st

from bot.delivery import Backoff, Limits, OutboxWorker, RateLimit
from bot.retry import RetryMiddleware
from storage.database import Database
from storage.outbox import Outbox, OutboxItem, message_payload
from tests.fakeapi import FakeTelegram, make_bot, running_bot
from tickets.models import Category, Customer
from tickets.store import TicketStore

ANNA, BRAM, CEES = 1001, 1002, 1003
STAFF = -1001234567890
UNLIMITED = Limits.none()
QUICK = Backoff(base=0.01, cap=0.05)  # "Telegram is down for a while" in test time


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        for user_id, name in ((ANNA, "Anna"), (BRAM, "Bram"), (CEES, "Cees")):
            server.add_user(user_id, name)
        server.add_supergroup(STAFF)
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    bot = make_bot(tg)
    bot.session.middleware(RetryMiddleware())  # as bot/app.py builds it
    yield bot
    await bot.session.close()


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "balie.sqlite3")
    yield database
    await database.close()


@pytest.fixture
def outbox(database: Database) -> Outbox:
    return Outbox(database)


class Refusals:
    """The on_refused hook, recording what it was handed."""

    def __init__(self) -> None:
        self.items: list[tuple[OutboxItem, str]] = []
        self.rejected: list[int] = []

    async def __call__(self, item: OutboxItem, reason: str, *, rejected: bool = False) -> None:
        self.items.append((item, reason))
        if rejected:
            self.rejected.append(item.id)


def worker(bot: Bot, outbox: Outbox, **options: Any) -> OutboxWorker:
    options.setdefault("limits", UNLIMITED)
    options.setdefault("backoff", QUICK)
    return OutboxWorker(bot, outbox, **options)


async def send(outbox: Outbox, chat_id: int, text: str, *, thread_id: int | None = None,
               ticket_id: int | None = None, buttons: Any = ()) -> int:
    return await outbox.enqueue(chat_id, "send", message_payload(text, buttons),
                                thread_id=thread_id, ticket_id=ticket_id)


def texts(tg: FakeTelegram, chat_id: int, thread_id: int | None = None) -> list[str]:
    return [message.text for message in tg.chat(chat_id, thread_id)]


async def until(condition: Callable[[], Awaitable[bool] | bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s")
        await asyncio.sleep(0.02)


async def nothing_pending(outbox: Outbox) -> bool:
    return await outbox.pending_count() == 0


async def a_ticket(database: Database, customer_id: int = ANNA) -> int:
    ticket, _ = await TicketStore(database).create(
        category=Category.QUESTION, customer=Customer(customer_id, "Anna"), subject="Vraag")
    return ticket.id


# --------------------------------------------------------------------------- order and mapping


async def test_each_chat_gets_its_messages_in_the_order_they_were_written(
        tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    for n in range(1, 6):
        await send(outbox, ANNA, f"anna {n}")
        if n <= 3:
            await send(outbox, BRAM, f"bram {n}")

    assert await worker(bot, outbox).deliver_due() == 8

    assert texts(tg, ANNA) == [f"anna {n}" for n in range(1, 6)]
    assert texts(tg, BRAM) == [f"bram {n}" for n in range(1, 4)]
    assert await outbox.pending_count() == 0
    sent = await outbox.listing(states=("sent",))
    assert {(item.chat_id, item.message_id) for item in sent} == {
        (message.chat_id, message.message_id) for chat in (ANNA, BRAM) for message in tg.chat(chat)}


async def test_a_send_carries_its_buttons_and_its_topic(
        tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    topic = tg.add_topic(STAFF, "Ticket #1")
    await send(outbox, STAFF, "<b>Nieuw ticket</b> van Anna &amp; co", thread_id=topic,
               buttons=[[("Oppakken", "claim:1"), ("Sluiten", "close:1")]])

    assert await worker(bot, outbox).deliver_due() == 1

    [card] = tg.chat(STAFF, topic)
    assert card.plain == "Nieuw ticket van Anna & co"  # sent as HTML
    assert card.buttons == [[("Oppakken", "claim:1"), ("Sluiten", "close:1")]]


async def test_an_edit_changes_the_message_in_place(
        tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    first = await send(outbox, ANNA, "Ticket #1: open", buttons=[[("Annuleren", "x:1")]])
    delivery = worker(bot, outbox)
    await delivery.deliver_due()
    sent = await outbox.get(first)
    assert sent is not None and sent.message_id is not None
    await outbox.enqueue(ANNA, "edit", message_payload("Ticket #1: gesloten",
                                                       message_id=sent.message_id))

    await delivery.deliver_due()

    [message] = tg.chat(ANNA)
    assert (message.text, message.buttons, message.edits) == ("Ticket #1: gesloten", [], 1)


async def test_an_edit_whose_message_is_gone_is_sent_anew(
        tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    edit = await outbox.enqueue(ANNA, "edit", message_payload("Bijgewerkt", message_id=999))

    await worker(bot, outbox).deliver_due()

    assert texts(tg, ANNA) == ["Bijgewerkt"]
    item = await outbox.get(edit)
    assert item is not None and item.state == "sent"
    assert item.message_id == tg.chat(ANNA)[0].message_id


async def test_an_edit_that_changes_nothing_counts_as_sent(
        tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    first = await send(outbox, ANNA, "Zelfde", buttons=[[("Ja", "y")]])
    delivery = worker(bot, outbox)
    await delivery.deliver_due()
    message_id = (await outbox.get(first)).message_id  # type: ignore[union-attr]
    edit = await outbox.enqueue(ANNA, "edit", message_payload(
        "Zelfde", [[("Ja", "y")]], message_id=message_id))

    await delivery.deliver_due()

    item = await outbox.get(edit)
    assert item is not None and (item.state, item.message_id) == ("sent", message_id)
    assert "not modified" in (tg.calls_to("editMessageText")[-1].error or "")
    assert len(tg.calls_to("sendMessage")) == 1  # not sent anew


async def test_buttons_are_dropped_and_dropping_them_twice_is_done_too(
        tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    first = await send(outbox, ANNA, "Kies", buttons=[[("A", "a")]])
    delivery = worker(bot, outbox)
    await delivery.deliver_due()
    message_id = (await outbox.get(first)).message_id  # type: ignore[union-attr]
    for _ in range(2):
        await outbox.enqueue(ANNA, "drop_buttons", {"message_id": message_id})
    await outbox.enqueue(ANNA, "drop_buttons", {"message_id": 12345})  # gone: done as well

    assert await delivery.deliver_due() == 3

    assert tg.chat(ANNA)[0].buttons == []
    assert await outbox.listing() == []  # nothing pending, nothing failed


async def test_a_customers_photo_is_copied_into_the_ticket_topic(
        tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    topic = tg.add_topic(STAFF, "Ticket #1")
    photo = tg.record_message(ANNA, text="", plain="", sender=tg.add_user(ANNA, "Anna"),
                              kind="photo", extra={"photo": [{"file_id": "p1"}]})
    item_id = await outbox.enqueue(STAFF, "copy", {
        "from_chat_id": ANNA, "message_id": photo.message_id, "caption": "Anna: <i>zie foto</i>"},
        thread_id=topic)

    await worker(bot, outbox).deliver_due()

    [copy] = tg.chat(STAFF, topic)
    assert (copy.kind, copy.plain) == ("photo", "Anna: zie foto")
    item = await outbox.get(item_id)
    assert item is not None and item.message_id == copy.message_id


# --------------------------------------------------------------------------- passing faults


async def test_429_waits_as_long_as_telegram_asks_while_other_chats_go_on(
        tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    delivery = worker(bot, outbox)
    first = await send(outbox, ANNA, "voor Anna")
    tg.fail_next_flood("sendMessage", retry_after=2)
    asked_at = time.monotonic()

    assert await delivery.deliver_due() == 1  # one try: the session did not retry inside

    item = await outbox.get(first)
    assert item is not None and item.state == "pending" and item.attempts == 1
    assert "retry after 2" in (item.last_error or "")
    await send(outbox, BRAM, "voor Bram")
    await delivery.deliver_due()
    assert texts(tg, BRAM) == ["voor Bram"] and texts(tg, ANNA) == []  # Bram did not wait

    await delivery.start()
    try:
        await until(lambda: texts(tg, ANNA) == ["voor Anna"])
    finally:
        await delivery.stop(drain_timeout=5)
    anna_calls = [call for call in tg.calls_to("sendMessage") if call.params["chat_id"] == ANNA]
    assert len(anna_calls) == 2
    assert anna_calls[1].at - asked_at >= 2.0 - 0.05  # not before Telegram said


@pytest.mark.parametrize("html", [False, True], ids=["json-5xx", "nginx-html-502"])
async def test_telegram_down_for_a_while_means_delivery_later_in_order(
        tg: FakeTelegram, bot: Bot, outbox: Outbox, html: bool) -> None:
    tg.fail_all(502, "Bad Gateway", html=html)
    for n in range(1, 4):
        await send(outbox, ANNA, f"anna {n}")
    await send(outbox, BRAM, "bram")
    delivery = worker(bot, outbox)
    await delivery.start()
    try:
        await until(lambda: len(tg.calls_to("sendMessage")) >= 10)  # many rounds, no deadline
        waiting = await outbox.listing()
        assert [item.state for item in waiting] == ["pending"] * 4
        assert max(item.attempts for item in waiting) >= 3
        assert all(item.last_error for item in waiting if item.attempts)
        if html:
            assert "not JSON" in (waiting[0].last_error or "")
        tg.heal()
        await until(lambda: nothing_pending(outbox))
    finally:
        await delivery.stop(drain_timeout=5)
    assert texts(tg, ANNA) == ["anna 1", "anna 2", "anna 3"]
    assert texts(tg, BRAM) == ["bram"]
    assert (await outbox.listing()) == []


async def test_a_single_html_502_is_retried(tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    tg.fail_next_html("sendMessage", status=502, times=2)
    await send(outbox, ANNA, "hallo")
    delivery = worker(bot, outbox)
    await delivery.start()
    try:
        await until(lambda: nothing_pending(outbox))
    finally:
        await delivery.stop(drain_timeout=5)
    assert texts(tg, ANNA) == ["hallo"]
    assert [call.status for call in tg.calls_to("sendMessage")] == [502, 502, 200]


async def test_dropped_connections_are_retried_and_deliver_once(
        tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    tg.drop_next("sendMessage", times=3)
    item_id = await send(outbox, ANNA, "eens")
    delivery = worker(bot, outbox)
    await delivery.start()
    try:
        await until(lambda: nothing_pending(outbox))
    finally:
        await delivery.stop(drain_timeout=5)
    assert texts(tg, ANNA) == ["eens"]
    item = await outbox.get(item_id)
    assert item is not None and item.attempts == 4


async def test_backoff_is_jittered_exponential_and_capped() -> None:
    backoff = Backoff(base=0.5, cap=300.0)
    assert [backoff.delay(n, lambda: 1.0) for n in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff.delay(3, lambda: 0.0) == 2.0  # jitter keeps at least half
    assert backoff.delay(50, lambda: 1.0) == 300.0
    assert backoff.delay(10_000, lambda: 0.5) == 225.0  # no overflow, no deadline


# --------------------------------------------------------------------------- refusals


async def test_a_customer_who_blocked_the_bot_is_failed_with_the_reason_on_the_ticket(
        tg: FakeTelegram, bot: Bot, database: Database, outbox: Outbox) -> None:
    ticket_id = await a_ticket(database)
    tg.block(ANNA)
    item_id = await send(outbox, ANNA, "Uw ticket is beantwoord", ticket_id=ticket_id)
    refusals = Refusals()

    await worker(bot, outbox, on_refused=refusals).deliver_due()

    [item] = await outbox.listing(ticket_id=ticket_id)
    assert (item.id, item.state, item.attempts) == (item_id, "failed", 1)
    assert "blocked" in (item.last_error or "")
    [(handed, reason)] = refusals.items
    assert (handed.id, handed.state, handed.ticket_id) == (item_id, "failed", ticket_id)
    assert "blocked" in reason
    assert len(tg.calls_to("sendMessage")) == 1  # refused for good: not retried


async def test_a_deleted_topic_is_failed_and_handed_to_the_staff_side(
        tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    topic = tg.add_topic(STAFF, "Ticket #7")
    tg.delete_topic(STAFF, topic)
    item_id = await send(outbox, STAFF, "Anna schreef: hallo", thread_id=topic)
    refusals = Refusals()
    delivery = worker(bot, outbox, on_refused=refusals)

    await delivery.deliver_due()
    await delivery.deliver_due()

    item = await outbox.get(item_id)
    assert item is not None and item.state == "failed"
    assert "message thread not found" in (item.last_error or "")
    assert [(handed.id, handed.thread_id) for handed, _ in refusals.items] == [(item_id, topic)]


async def test_a_refusal_handler_that_fails_does_not_stop_the_worker(
        tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    async def broken(item: OutboxItem, reason: str) -> None:
        raise RuntimeError("staff side is down")

    tg.block(ANNA)
    blocked = await send(outbox, ANNA, "geblokkeerd")
    await send(outbox, BRAM, "gewoon")

    assert await worker(bot, outbox, on_refused=broken).deliver_due() == 2
    assert texts(tg, BRAM) == ["gewoon"]  # once: going on means no resend either
    assert (await outbox.get(blocked)).state == "failed"  # type: ignore[union-attr]


async def test_a_message_telegram_cannot_parse_is_failed_not_retried(
        tg: FakeTelegram, bot: Bot, outbox: Outbox, caplog: pytest.LogCaptureFixture) -> None:
    item_id = await send(outbox, ANNA, "<b>open")
    after = await send(outbox, ANNA, "daarna")
    refusals = Refusals()

    await worker(bot, outbox, on_refused=refusals).deliver_due()

    item = await outbox.get(item_id)
    assert item is not None and item.state == "failed"
    assert "can't parse entities" in (item.last_error or "")
    # A bug, logged as an error; handed over as rejected, so a colleague whose reply it was
    # learns that the customer did not get it and can send it differently.
    assert refusals.rejected == [item_id]
    assert any(record.levelname == "ERROR" and "never go out" in record.getMessage()
               for record in caplog.records)
    assert texts(tg, ANNA) == ["daarna"]  # the chat is not blocked behind it
    assert (await outbox.get(after)).state == "sent"  # type: ignore[union-attr]


# --------------------------------------------------------------------------- at least once


class Crash(BaseException):
    """The process dies (not an error the worker could handle)."""


async def test_a_crash_between_sent_and_marked_sent_gives_one_duplicate_at_most(
        tg: FakeTelegram, bot: Bot, database: Database) -> None:
    class CrashingOutbox(Outbox):
        async def mark_sent(self, item_id: int, message_id: int | None = None) -> None:
            raise Crash

    crashing = CrashingOutbox(database)
    await send(crashing, ANNA, "Uw ticket #3 is ontvangen")
    [item] = await crashing.due()
    with pytest.raises(Crash):
        await worker(bot, crashing).deliver(item)
    assert texts(tg, ANNA) == ["Uw ticket #3 is ontvangen"]

    restarted = Outbox(database)  # the next start, on the same file
    delivery = worker(bot, restarted)
    assert await delivery.deliver_due() == 1
    assert await delivery.deliver_due() == 0
    assert texts(tg, ANNA) == ["Uw ticket #3 is ontvangen"] * 2
    assert await restarted.pending_count() == 0


# --------------------------------------------------------------------------- nobody waits


async def test_one_slow_chat_does_not_delay_another_chats_first_delivery(
        tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    release = tg.hold_next("sendMessage", chat_id=ANNA)
    await send(outbox, ANNA, "anna 1")
    await send(outbox, ANNA, "anna 2")
    delivery = worker(bot, outbox)
    await delivery.start()
    try:
        await until(lambda: len(tg.calls_to("sendMessage")) == 1)  # Anna's, hanging
        await send(outbox, BRAM, "bram 1")
        await send(outbox, CEES, "cees 1")
        await until(lambda: texts(tg, BRAM) == ["bram 1"] and texts(tg, CEES) == ["cees 1"])
        assert texts(tg, ANNA) == []  # still hanging, and Anna's second waits behind it
        release.set()
        await until(lambda: texts(tg, ANNA) == ["anna 1", "anna 2"])
    finally:
        await delivery.stop(drain_timeout=5)


async def test_a_new_item_wakes_the_worker(tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    delivery = worker(bot, outbox, idle_poll=3600)  # only the wakeup can bring it
    await delivery.start()
    try:
        await asyncio.sleep(0.05)
        await send(outbox, ANNA, "meteen")
        await until(lambda: texts(tg, ANNA) == ["meteen"])
    finally:
        await delivery.stop(drain_timeout=5)


# --------------------------------------------------------------------------- rate limits


class FakeClock:
    """Monotonic time that only moves when the worker sleeps for a rate limit."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sent: list[tuple[float, int]] = []  # (time, chat id) of each request

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        target = self.now + seconds
        await asyncio.sleep(0)
        self.now = max(self.now, target)


class Recorder(BaseRequestMiddleware):
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    async def __call__(self, make_request: Any, bot: Bot, method: Any) -> Any:
        self.clock.sent.append((self.clock.now, int(getattr(method, "chat_id", 0) or 0)))
        return await make_request(bot, method)


def most_in_any_window(times: list[float], seconds: float) -> int:
    return max(sum(1 for other in times if start <= other < start + seconds) for start in times)


async def test_a_burst_to_the_staff_group_is_spread_at_20_a_minute(
        tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    clock = FakeClock()
    bot.session.middleware(Recorder(clock))
    for n in range(30):
        await send(outbox, STAFF, f"melding {n}")

    delivery = OutboxWorker(bot, outbox, clock=clock, sleep=clock.sleep)
    assert await delivery.deliver_due() == 30

    assert texts(tg, STAFF) == [f"melding {n}" for n in range(30)]
    times = [at for at, _ in clock.sent]
    assert most_in_any_window(times, 60.0) <= 20
    assert most_in_any_window(times, 3.0) <= 3  # and about one a second within that
    assert times[-1] - times[0] >= 60.0


async def test_private_chats_get_one_a_second_and_the_bot_30_a_second(
        tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    clock = FakeClock()
    bot.session.middleware(Recorder(clock))
    customers = list(range(2001, 2041))
    for user_id in customers:
        tg.add_user(user_id, "Klant")
        await send(outbox, user_id, "een")
    for _ in range(7):
        await send(outbox, ANNA, "anna")

    delivery = OutboxWorker(bot, outbox, clock=clock, sleep=clock.sleep)
    assert await delivery.deliver_due() == 47

    assert most_in_any_window([at for at, _ in clock.sent], 1.0) <= 30
    anna = [at for at, chat in clock.sent if chat == ANNA]
    assert len(anna) == 7 and most_in_any_window(anna, 3.0) <= 3
    assert anna[-1] - anna[0] >= 6.0  # a burst of three, then about one a second
    assert all(texts(tg, user_id) == ["een"] for user_id in customers)


# --------------------------------------------------------------------------- stopping


async def test_stop_delivers_what_is_due_and_returns_within_the_bound(
        tg: FakeTelegram, bot: Bot, database: Database, outbox: Outbox) -> None:
    release = tg.hold_next("sendMessage", chat_id=ANNA)  # Anna's request hangs
    delivery = worker(bot, outbox)
    await send(outbox, ANNA, "hangt")
    await send(outbox, BRAM, "bram")
    await send(outbox, CEES, "cees")

    started = time.monotonic()
    await delivery.stop(drain_timeout=1.0)

    assert time.monotonic() - started < 8.0  # 1 s of draining, plus a generous margin
    assert texts(tg, BRAM) == ["bram"] and texts(tg, CEES) == ["cees"]
    [left] = await outbox.listing()
    assert (left.chat_id, left.state) == (ANNA, "pending")  # kept for the next start

    release.set()
    assert await worker(bot, Outbox(database)).deliver_due() == 1
    assert "hangt" in texts(tg, ANNA)


async def test_a_running_worker_stops_cleanly(tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    delivery = worker(bot, outbox)
    await delivery.start()
    await send(outbox, ANNA, "een")
    await delivery.stop(drain_timeout=5)
    assert texts(tg, ANNA) == ["een"]
    await delivery.start()  # and starts again
    await send(outbox, ANNA, "twee")
    await until(lambda: texts(tg, ANNA) == ["een", "twee"])
    await delivery.stop(drain_timeout=5)


async def test_being_stopped_while_writing_what_telegram_answered_still_writes_it(
        tg: FakeTelegram, bot: Bot, database: Database) -> None:
    class SlowDisk(Outbox):
        async def mark_sent(self, item_id: int, message_id: int | None = None) -> None:
            await asyncio.sleep(0.3)
            await super().mark_sent(item_id, message_id)

    outbox = SlowDisk(database)
    item_id = await send(outbox, ANNA, "een keer")
    [item] = await outbox.due()
    delivery = asyncio.create_task(worker(bot, outbox).deliver(item))
    await until(lambda: bool(texts(tg, ANNA)))
    delivery.cancel()
    with pytest.raises(asyncio.CancelledError):
        await delivery

    stored = await outbox.get(item_id)
    assert stored is not None and stored.state == "sent"  # not sent twice at the next start


async def test_a_malformed_item_is_failed_not_retried_and_handed_over_as_rejected(
        tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    item_id = await outbox.enqueue(ANNA, "edit", {"text": "zonder message_id"})
    refusals = Refusals()

    assert await worker(bot, outbox, on_refused=refusals).deliver_due() == 1

    item = await outbox.get(item_id)
    assert item is not None and item.state == "failed" and "message_id" in (item.last_error or "")
    assert refusals.rejected == [item_id]


async def test_the_worker_starts_and_stops_with_the_dispatcher(
        tg: FakeTelegram, bot: Bot, outbox: Outbox) -> None:
    dispatcher = Dispatcher()
    delivery = worker(bot, outbox)
    delivery.attach(dispatcher, drain_timeout=5)
    await send(outbox, ANNA, "al klaar voor de start")

    async with running_bot(dispatcher, bot, tg=tg):
        await until(lambda: texts(tg, ANNA) == ["al klaar voor de start"])
        release = tg.hold_next("sendMessage", chat_id=BRAM)
        await send(outbox, BRAM, "tijdens het stoppen")
        await until(lambda: len(tg.calls_to("sendMessage")) == 2)
        release.set()  # answered while the dispatcher shuts down: drained, then stopped

    assert texts(tg, BRAM) == ["tijdens het stoppen"]
    assert await outbox.pending_count() == 0


@given(count=st.integers(1, 25), per=st.sampled_from([1.0, 3.0, 60.0]),
       steps=st.lists(st.floats(0.0, 5.0), min_size=1, max_size=80))
def test_a_rate_limit_never_allows_more_than_count_in_any_window(
        count: int, per: float, steps: list[float]) -> None:
    now = [0.0]
    limit = RateLimit(count, per, lambda: now[0])
    sent: list[float] = []
    for step in steps:  # callers arrive `step` seconds apart and wait as told
        now[0] += step
        sent.append(now[0] + limit.reserve())
    assert all(later >= earlier - 1e-9 for earlier, later in itertools.pairwise(sent))
    assert most_in_any_window(sent, per - 1e-9) <= count
