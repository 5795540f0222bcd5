"""What Balie's middlewares, SQLite FSM storage and dialogs cost per Telegram update.

Plain Python, no plugins:  python benchmarks/bench_dispatch.py [--rounds N] [--updates N]

Feeds updates straight into `Dispatcher.feed_update` with a session that answers the Bot API
locally (`bot.console.ConsoleSession`, output discarded), so no network is involved:

  baseline   a bare aiogram Dispatcher (MemoryStorage), one message handler replying a fixed text
  start      Balie (`build_app`, temporary SQLite file): "/start"
  question   Balie: the free-text question "hoe zeg ik mijn hosting op"
  cancel     Balie: complete cancellation-guide runs for one customer, pressing the inline
             buttons the bot sent (callback queries), through to a filed cancellation request
  customers  Balie: the question once each from --customers distinct customers (new ids every
             round), to show what per-customer state costs (rows, database bytes)

Only the `feed_update` call is timed (building the Update objects is not). Times are the median
of --rounds rounds; the ratios divide by the baseline measured in the same process (ratios are
comparable across machines; absolute times are not).

Memory comes from one extra round per scenario under tracemalloc, kept apart from the timed rounds
because tracing slows everything down: "peak" is the peak above what was in use when the round
started, "kept" what is still allocated after it and a full garbage collection. In that round
aiogram's `Update.event_type` cache, which keeps the last 128 updates alive for any bot, is
emptied after every update, so the numbers show what the bot itself needs. "maxrss +" is how much
the process's peak resident set grew during the scenario's timed rounds (a high-water mark: later
scenarios only show growth beyond the earlier ones).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import CallbackQuery, Chat, Message, MessageEntity, Update, User

from bot.app import App, build_app
from bot.config import Config, FloodConfig, StorageConfig
from bot.console import ConsoleSession
from bot.delivery import Limits

QUESTION = "hoe zeg ik mijn hosting op"
TODAY = date(2026, 11, 28)  # pinned like the tests, so the guide's deadlines never change
SINGLE_CUSTOMER = 1
TABLES = ("fsm_state", "customers", "questions", "tickets", "ticket_messages", "ticket_events")

# The cancellation guide for a hosting package, as the customer goes through it: ("press", text
# in the label of an inline button the bot just sent) or ("send", text).
CANCEL_RUN: tuple[tuple[str, str], ...] = (
    ("send", "/start"),
    ("press", "✂️ Dienst opzeggen"),
    ("press", "Hostingpakket"),
    ("send", "voorbeeld.nl"),
    ("send", "15 maart 2027"),
    ("press", "Volgende"),  # the deadlines
    *(("press", "Volgende") for _ in range(6)),  # the six client-panel steps
    ("press", "Einde van de termijn"),
    ("press", "Prijs"),
    ("send", "Te duur geworden"),
    ("press", "Overslaan"),
    ("press", "Dien opzegverzoek in"),
)


class BenchSession(ConsoleSession):
    """The console's local Bot API, keeping only the last message shown (the one whose buttons
    can be pressed) so the harness itself does not grow with every update."""

    def _show(self, message_id: int, text: str | None, markup: Any) -> Message:
        message = super()._show(message_id, text, markup)
        self.messages = {message_id: message}
        return message


def _discard(_: str) -> None:
    pass


# --- feeding updates ---------------------------------------------------------------------------


@dataclass
class Feeder:
    """Builds updates like `bot.console.Console.handle`, for any customer, and times only the
    dispatcher's work on them."""

    bot: Bot
    dispatcher: Dispatcher
    session: BenchSession
    busy: float = 0.0  # seconds spent in feed_update
    count: int = 0
    forget_updates: bool = False  # empty aiogram's cache of recent updates after each one
    deliver: Callable[[], Awaitable[object]] | None = None  # the outbox, after each update
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100_000))

    def message(self, user_id: int, text: str) -> Update:
        user = User(id=user_id, is_bot=False, first_name=f"Klant {user_id}", language_code="nl")
        entities = None
        if text.startswith("/"):
            entities = [MessageEntity(type="bot_command", offset=0, length=len(text.split()[0]))]
        return Update(update_id=next(self._update_ids), message=Message(
            message_id=next(self._message_ids), date=datetime.now(UTC),
            chat=Chat(id=user_id, type="private"), from_user=user, text=text, entities=entities))

    def press(self, user_id: int, label: str) -> Update:
        found = next((b for b in self.session.buttons if label in b[0]), None)
        if found is None:
            raise AssertionError(f"no button {label!r}; the bot shows "
                                 f"{[b[0] for b in self.session.buttons]}")
        _, data, message_id = found
        user = User(id=user_id, is_bot=False, first_name=f"Klant {user_id}", language_code="nl")
        return Update(update_id=next(self._update_ids), callback_query=CallbackQuery(
            id=str(next(self._update_ids)), from_user=user, chat_instance="bench", data=data,
            message=self.session.messages.get(message_id)))

    async def feed(self, update: Update) -> None:
        start = time.perf_counter()
        await self.dispatcher.feed_update(self.bot, update)
        if self.deliver is not None:
            await self.deliver()
        self.busy += time.perf_counter() - start
        self.count += 1
        if self.forget_updates:
            forget_recent_updates()


def forget_recent_updates() -> None:
    """`Update.event_type` is an lru_cache(128) in aiogram, so the last 128 updates stay alive
    (about 20 KiB each here) whatever the bot does; that would drown what Balie itself keeps."""
    Update.event_type.fget.cache_clear()  # type: ignore[attr-defined]


Round = Callable[[Feeder, int], Awaitable[None]]  # (feeder, round number)


def repeat_text(text: str, updates: int, user_id: int = SINGLE_CUSTOMER) -> Round:
    async def run(feeder: Feeder, _round: int) -> None:
        for _ in range(updates):
            await feeder.feed(feeder.message(user_id, text))
    return run


def cancellation_runs(runs: int) -> Round:
    async def run(feeder: Feeder, _round: int) -> None:
        for _ in range(runs):
            for kind, what in CANCEL_RUN:
                if kind == "send":
                    update = feeder.message(SINGLE_CUSTOMER, what)
                else:
                    update = feeder.press(SINGLE_CUSTOMER, what)
                await feeder.feed(update)
            shown = [b[0] for b in feeder.session.buttons]
            text = next(iter(feeder.session.messages.values())).text or ""
            if "ticket #" not in text:
                raise AssertionError(f"the guide did not file a request: {text[:200]!r} {shown}")
    return run


def many_customers(customers: int, first_id: int = 10_000) -> Round:
    async def run(feeder: Feeder, round_number: int) -> None:
        base = first_id + round_number * customers
        for i in range(customers):
            await feeder.feed(feeder.message(base + i, QUESTION))
    return run


# --- the two bots ------------------------------------------------------------------------------


def baseline_dispatcher() -> Dispatcher:
    router = Router(name="baseline")

    @router.message()
    async def reply(message: Message) -> None:
        await message.answer("Hallo! Dit is een vast antwoord.")

    dispatcher = Dispatcher(storage=MemoryStorage())
    dispatcher.include_router(router)
    return dispatcher


@dataclass
class Subject:
    feeder: Feeder
    close: Callable[[], Awaitable[None]]
    app: App | None = None


async def open_baseline(_folder: Path) -> Subject:
    session = BenchSession(write=_discard)
    bot = Bot(token="1:bench", session=session,
              default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    feeder = Feeder(bot, baseline_dispatcher(), session)
    return Subject(feeder, bot.session.close)


async def open_balie(folder: Path) -> Subject:
    session = BenchSession(write=_discard)
    # One customer walks the guide again and again, faster than anybody types: not a flood
    # (the middleware still runs, as it does for every message).
    config = Config(storage=StorageConfig(database=folder / "balie.sqlite3"),
                    flood=FloodConfig(messages=10_000, seconds=1))
    app = await build_app(config, session=session, delivery_limits=Limits.none())
    app.services.today = lambda: TODAY  # type: ignore[method-assign]
    await app.dispatcher.emit_startup(bot=app.bot, **app.dispatcher.workflow_data)
    feeder = Feeder(app.bot, app.dispatcher, session, deliver=app.worker.deliver_due)
    return Subject(feeder, app.close, app)


async def table_rows(app: App) -> dict[str, int]:
    rows = {}
    for table in TABLES:
        row = await app.services.database.fetchone(f"SELECT count(*) AS n FROM {table}")
        rows[table] = int(row["n"]) if row is not None else 0
    return rows


def isolation_locks(app: App) -> int:
    """aiogram's SimpleEventIsolation keeps one asyncio.Lock per chat, never dropped."""
    locks = getattr(app.dispatcher.fsm.events_isolation, "_locks", None)
    return len(locks) if locks is not None else 0


async def database_bytes(app: App) -> int:
    count = await app.services.database.fetchone("PRAGMA page_count")
    size = await app.services.database.fetchone("PRAGMA page_size")
    return int(count[0]) * int(size[0]) if count is not None and size is not None else 0


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    updates: int  # per round
    seconds: float  # median per update
    peak_kib: float
    kept_kib: float  # still allocated after the round and a full garbage collection
    rss_kib: int
    rows_before: dict[str, int] = field(default_factory=dict)
    rows_after: dict[str, int] = field(default_factory=dict)
    db_bytes_before: int = 0
    db_bytes_after: int = 0
    total_rounds: int = 0
    locks_added: int = 0  # event-isolation locks added during the timed rounds


def maxrss_kib() -> int:
    used = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return used // 1024 if sys.platform == "darwin" else used  # bytes on macOS, KiB on Linux


async def measure(name: str, opener: Callable[[Path], Awaitable[Subject]], run: Round,
                  rounds: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="balie-bench-") as tmp:
        subject = await opener(Path(tmp))
        feeder = subject.feeder
        try:
            round_number = itertools.count()
            await run(feeder, next(round_number))  # warm up: imports, caches, first rows
            rows_before = await table_rows(subject.app) if subject.app else {}
            locks_before = isolation_locks(subject.app) if subject.app else 0
            db_before = await database_bytes(subject.app) if subject.app else 0
            rss_before = maxrss_kib()
            times = []
            for _ in range(rounds):
                gc.collect()
                feeder.busy, feeder.count = 0.0, 0
                await run(feeder, next(round_number))
                times.append(feeder.busy / feeder.count)
            per_round = feeder.count
            rss_growth = maxrss_kib() - rss_before
            rows_after = await table_rows(subject.app) if subject.app else {}
            locks_added = isolation_locks(subject.app) - locks_before if subject.app else 0
            db_after = await database_bytes(subject.app) if subject.app else 0
            forget_recent_updates()
            gc.collect()
            feeder.forget_updates = True
            tracemalloc.start()
            tracemalloc.reset_peak()
            in_use, _ = tracemalloc.get_traced_memory()
            await run(feeder, next(round_number))
            _, peak = tracemalloc.get_traced_memory()
            gc.collect()
            kept, _ = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            feeder.forget_updates = False
            return Result(name, per_round, statistics.median(times), (peak - in_use) / 1024,
                          (kept - in_use) / 1024, rss_growth, rows_before, rows_after, db_before,
                          db_after, rounds, locks_added)
        finally:
            await subject.close()


async def run_all(args: argparse.Namespace) -> list[Result]:
    guide_runs = max(1, args.updates // len(CANCEL_RUN))
    return [
        await measure("baseline", open_baseline, repeat_text(QUESTION, args.updates), args.rounds),
        await measure("start", open_balie, repeat_text("/start", args.updates), args.rounds),
        await measure("question", open_balie, repeat_text(QUESTION, args.updates), args.rounds),
        await measure("cancel", open_balie, cancellation_runs(guide_runs), args.rounds),
        await measure("customers", open_balie, many_customers(args.customers), args.rounds),
    ]


def report(results: list[Result], args: argparse.Namespace, rss_total: int) -> None:
    base = results[0]
    print(f"Balie vs a bare aiogram Dispatcher: feed_update with a local Bot API session, "
          f"median of {args.rounds} rounds")
    print(f"{'scenario':<10} {'updates':>7} {'upd/s':>8} {'us/upd':>8} {'ratio':>7} "
          f"{'peak KiB':>9} {'ratio':>7} {'kept KiB':>8} {'maxrss +KiB':>11} {'fsm rows':>8}")
    for r in results:
        fsm = str(r.rows_after.get("fsm_state", "-"))
        print(f"{r.name:<10} {r.updates:>7} {1 / r.seconds:>8.0f} {r.seconds * 1e6:>8.0f} "
              f"{r.seconds / base.seconds:>6.1f}x {r.peak_kib:>9.0f} "
              f"{r.peak_kib / max(base.peak_kib, 1e-9):>6.1f}x {r.kept_kib:>8.0f} "
              f"{r.rss_kib:>11} {fsm:>8}")
    many = results[-1]
    new = many.total_rounds * args.customers
    added = {t: many.rows_after[t] - many.rows_before[t] for t in TABLES}
    db_growth = many.db_bytes_after - many.db_bytes_before
    print(f"\nper customer ({new} new customers over {many.total_rounds} timed rounds of "
          f"{args.customers} distinct ids): "
          + ", ".join(f"{t} +{n / new:.2f}" for t, n in added.items() if n)
          + f", event-isolation locks +{many.locks_added / new:.2f}"
          f"; database +{db_growth / new:.0f} bytes; "
          f"{many.kept_kib * 1024 / args.customers:.0f} bytes of Python memory kept")
    single = results[2]
    print(f"(one customer asking {single.updates}x: fsm_state rows "
          f"{single.rows_after['fsm_state']}, {single.kept_kib * 1024 / single.updates:.0f} "
          f"bytes kept per question; {args.customers} customers asking once: fsm_state rows "
          f"+{many.rows_after['fsm_state'] - many.rows_before['fsm_state']} over "
          f"{many.total_rounds} rounds)")
    balie = results[1:]
    slowest = max(balie, key=lambda r: r.seconds)
    fastest = min(balie, key=lambda r: r.seconds)
    print(f"\nSummary: Balie costs {fastest.seconds / base.seconds:.1f}x-"
          f"{slowest.seconds / base.seconds:.1f}x the bare Dispatcher's time per update "
          f"(slowest: {slowest.name}, {slowest.seconds * 1e6:.0f} us = "
          f"{1 / slowest.seconds:.0f} updates/s), peak traced memory up to "
          f"{max(r.peak_kib for r in balie) / max(base.peak_kib, 1e-9):.1f}x the baseline's; "
          f"maxrss grew {rss_total} KiB over the whole run.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per scenario (median)")
    parser.add_argument("--updates", type=int, default=200,
                        help="updates per round (the cancel scenario: whole guide runs of "
                             f"{len(CANCEL_RUN)} updates, at least one)")
    parser.add_argument("--customers", type=int, default=200,
                        help="distinct customers per round in the customers scenario")
    args = parser.parse_args(argv)
    if min(args.rounds, args.updates, args.customers) < 1:
        parser.error("--rounds, --updates and --customers must be at least 1")
    rss_start = maxrss_kib()
    gc.collect()
    gc.freeze()  # the imported modules are here to stay; a collection per round skips them
    try:
        results = asyncio.run(run_all(args))
    finally:
        gc.unfreeze()
    report(results, args, maxrss_kib() - rss_start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
