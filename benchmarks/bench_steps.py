"""In process: what one update costs Balie through the durable intake (recorded in the inbox,
handled, marked done with its state, the outbox delivered), against a bare aiogram Dispatcher
fed the same way, and how many SQLite statements, write transactions and aiosqlite thread round
trips each kind of step runs.

The customer walks the cancellation guide to a filed request, asking a question on its first
step; the Bot API is answered locally (`bot.console.ConsoleSession`), so no network is involved.
Statements are counted with sqlite3's trace callback on both connections (BEGIN/COMMIT apart),
round trips by wrapping aiosqlite's hand-off to its thread.

    python -m benchmarks.bench_steps [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiogram.types import Update

from benchmarks.bench_dispatch import (
    QUESTION,
    SINGLE_CUSTOMER,
    Feeder,
    Subject,
    open_balie,
    open_baseline,
)
from benchmarks.stats import Table, spread
from storage.inbox import InboxUpdate

# (what kind of step, "send"/"press", text or label)
GUIDE: tuple[tuple[str, str, str], ...] = (
    ("/start", "send", "/start"),
    ("menu button (opens the guide)", "press", "✂️ Dienst opzeggen"),
    ("question inside a form", "send", QUESTION),
    ("form step: button", "press", "Hostingpakket"),
    ("form step: text", "send", "voorbeeld.nl"),
    ("form step: date", "send", "15 maart 2027"),
    ("form step: button", "press", "Volgende"),
    *(("form step: button", "press", "Volgende") for _ in range(6)),
    ("form step: button", "press", "Einde van de termijn"),
    ("form step: button", "press", "Prijs"),
    ("form step: text", "send", "Te duur geworden"),
    ("form step: button", "press", "Overslaan"),
    ("file the request", "press", "Dien opzegverzoek in"),
)


@dataclass
class Counts:
    statements: int = 0
    transactions: int = 0
    round_trips: int = 0


@dataclass
class Counter_:
    """Counts what the database connections do while `active`."""

    active: bool = False
    now: Counts = field(default_factory=Counts)

    def trace(self, sql: str) -> None:
        if not self.active:
            return
        word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if word == "BEGIN":
            self.now.transactions += 1
        elif word not in ("COMMIT", "ROLLBACK", "END"):
            self.now.statements += 1

    def wrap(self, connection: Any) -> None:
        original = connection._execute

        async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
            if self.active:
                self.now.round_trips += 1
            return await original(fn, *args, **kwargs)

        connection._execute = counted


async def _install(subject: Subject, counter: Counter_) -> None:
    assert subject.app is not None
    database = subject.app.services.database
    connections = {id(c): c for c in (database.connection, database._reader)}
    for connection in connections.values():
        await connection.set_trace_callback(counter.trace)
        counter.wrap(connection)
    inline = getattr(database, "_inline", None)  # single-row reads in the loop's thread
    if inline is not None:
        inline.set_trace_callback(counter.trace)


async def durable(subject: Subject, update: Update) -> None:
    """What `Intake.run` and its workers do with one fetched update."""
    assert subject.app is not None
    intake = subject.app.intake
    payload = update.model_dump_json(exclude_none=True, by_alias=True)
    await intake.inbox.record([(update.update_id, payload)])
    parsed = getattr(intake, "_parsed", None)  # as `Intake.run` keeps what getUpdates parsed
    if parsed is not None:
        parsed[update.update_id] = update
    await intake._handle(InboxUpdate(update.update_id, json.loads(payload), 0))
    await deliver(subject)


async def deliver(subject: Subject) -> None:
    """What the outbox worker does when a commit woke it (it is not woken otherwise)."""
    assert subject.app is not None
    outbox = subject.app.services.outbox
    if outbox.wakeup.is_set():
        outbox.wakeup.clear()
        await subject.app.worker.deliver_due()


def _update(feeder: Feeder, kind: str, what: str) -> Update:
    return (feeder.message(SINGLE_CUSTOMER, what) if kind == "send"
            else feeder.press(SINGLE_CUSTOMER, what))


@dataclass
class StepsResult:
    bare_cpu: list[float]  # seconds per update, one per run
    balie_cpu: list[float]
    bare_wall: list[float]
    balie_wall: list[float]
    counts: dict[str, list[Counts]]  # per step kind (first run): handling, marked done
    record: Counts  # recording one update in the inbox
    worker: dict[str, list[Counts]] = field(default_factory=dict)  # the outbox worker after it


async def run(runs: int) -> StepsResult:
    result = StepsResult([], [], [], [], {}, Counts())
    with tempfile.TemporaryDirectory(prefix="balie-steps-") as tmp:
        balie = await open_balie(Path(tmp))
        bare = await open_baseline(Path(tmp))
        counter = Counter_()
        await _install(balie, counter)
        try:
            for number in range(runs + 1):  # the first run counts statements, is not timed
                counting = number == 0
                gc.collect()
                cpu = wall = 0.0
                for label, kind, what in GUIDE:
                    update = _update(balie.feeder, kind, what)
                    if counting:
                        counter.active, counter.now = True, Counts()
                        assert balie.app is not None
                        payload = update.model_dump_json(exclude_none=True, by_alias=True)
                        await balie.app.intake.inbox.record([(update.update_id, payload)])
                        result.record = counter.now
                        counter.now = Counts()
                        await balie.app.intake._handle(
                            InboxUpdate(update.update_id, json.loads(payload), 0))
                        result.counts.setdefault(label, []).append(counter.now)
                        counter.now = Counts()
                        await deliver(balie)
                        counter.active = False
                        result.worker.setdefault(label, []).append(counter.now)
                        continue
                    started_cpu, started = time.process_time(), time.perf_counter()
                    await durable(balie, update)
                    cpu += time.process_time() - started_cpu
                    wall += time.perf_counter() - started
                text = next(iter(balie.feeder.session.messages.values())).text or ""
                if "ticket #" not in text:
                    raise AssertionError(f"the guide did not file a request: {text[:300]!r}")
                if counting:
                    continue
                result.balie_cpu.append(cpu / len(GUIDE))
                result.balie_wall.append(wall / len(GUIDE))
                cpu = wall = 0.0
                for _ in GUIDE:  # the bare bot: a message, a fixed reply
                    update = bare.feeder.message(SINGLE_CUSTOMER, QUESTION)
                    payload = update.model_dump_json(exclude_none=True, by_alias=True)
                    started_cpu, started = time.process_time(), time.perf_counter()
                    parsed = Update.model_validate(json.loads(payload))
                    await bare.feeder.dispatcher.feed_update(bare.feeder.bot, parsed)
                    cpu += time.process_time() - started_cpu
                    wall += time.perf_counter() - started
                result.bare_cpu.append(cpu / len(GUIDE))
                result.bare_wall.append(wall / len(GUIDE))
        finally:
            await balie.close()
            await bare.close()
    return result


def add_rows(table: Table, result: StepsResult) -> None:
    section = "in process, durable intake"
    pairs = list(zip(result.bare_cpu, result.balie_cpu, strict=True))
    table.add(section, f"CPU per update, ms (guide, {len(GUIDE)} updates)",
              spread([a * 1e3 for a, _ in pairs]), spread([b * 1e3 for _, b in pairs]),
              spread([b / a for a, b in pairs], "x"))
    walls = list(zip(result.bare_wall, result.balie_wall, strict=True))
    table.add(section, "wall time per update, ms", spread([a * 1e3 for a, _ in walls]),
              spread([b * 1e3 for _, b in walls]), spread([b / a for a, b in walls], "x"))
    section = "SQLite per update"
    for label, counts in result.counts.items():
        worker = _medians(result.worker.get(label, []))
        target = "≤ 3 / 1" if label.startswith("form step") else ""
        woken = "" if worker == "0 / 0 / 0" else f" (+ outbox worker {worker})"
        table.add(section, f"{label}: statements / write tx / round trips", "",
                  f"{_medians(counts)}{woken}", target)
    record = result.record
    table.add(section, "recording an update in the inbox (once per fetched batch)", "",
              f"{record.statements} / {record.transactions} / {record.round_trips}")


def _medians(counts: list[Counts]) -> str:
    if not counts:
        return "-"
    return " / ".join(f"{statistics.median(getattr(c, name) for c in counts):g}"
                      for name in ("statements", "transactions", "round_trips"))


def counts_summary(result: StepsResult) -> dict[str, Counter[str]]:
    return {label: Counter(f"{c.statements}/{c.transactions}" for c in counts)
            for label, counts in result.counts.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.runs))
    table = Table()
    add_rows(table, result)
    print(table.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
