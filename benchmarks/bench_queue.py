"""The ticket queue at scale: `TicketStore.list` for every status filter over N tickets
(95 % closed, as in a helpdesk that has run for years), median of 7, and the query plan; and
how many tickets per second `TicketService.open_ticket` files (ticket, audit event, one
transaction each).

    python -m benchmarks.bench_queue [--tickets 100000] [--creates 500]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from storage.database import Database
from storage.outbox import Outbox
from tickets.models import Category, Customer, Status
from tickets.service import TicketService
from tickets.store import _OPEN_ORDER, TicketStore

FILTERS: list[tuple[Status, ...] | None] = [
    None, (Status.OPEN,), (Status.OPEN, Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER),
    (Status.CLOSED,),
]


@dataclass
class QueueResult:
    tickets: int
    creates_per_second: float
    list_ms: dict[str, float] = field(default_factory=dict)  # filter -> median ms
    plans: dict[str, str] = field(default_factory=dict)  # filter -> EXPLAIN QUERY PLAN


def _name(statuses: tuple[Status, ...] | None) -> str:
    return ",".join(statuses) if statuses else "(all)"


async def measure(tickets: int, creates: int) -> QueueResult:
    with tempfile.TemporaryDirectory() as folder:
        database = await Database.open(Path(folder) / "queue.sqlite3")
        try:
            store = TicketStore(database)
            service = TicketService(store, Outbox(database))
            customer = Customer(1000, "Klant", None, "nl", "klant@example.org")
            start = time.perf_counter()
            for number in range(creates):
                await service.open_ticket(category=Category.QUESTION, customer=customer,
                                          subject=f"vraag {number}", fields={"n": number})
            rate = creates / max(1e-9, time.perf_counter() - start)
            rng = random.Random(1)
            rows = []
            for number in range(max(0, tickets - creates)):
                status = "closed" if rng.random() < 0.95 else rng.choice(
                    ["open", "in_progress", "waiting_on_customer"])
                stamp = f"2026-{1 + number * 11 // tickets:02d}-01T00:00:{number % 60:02d}+00:00"
                rows.append(("question", status, rng.choice(["low", "normal", "high", "urgent"]),
                             "subject", 1000 + number % 500, stamp, stamp))
            async with database.transaction() as connection:
                await connection.executemany(
                    "INSERT INTO tickets (category, status, priority, subject, customer_id, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            result = QueueResult(tickets, rate)
            for statuses in FILTERS:
                times = []
                for _ in range(7):
                    start = time.perf_counter()
                    await store.list(statuses=statuses, limit=100)
                    times.append(time.perf_counter() - start)
                result.list_ms[_name(statuses)] = statistics.median(times) * 1000
                where = (f"WHERE status IN ({','.join(repr(str(s)) for s in statuses)}) "
                         if statuses else "")
                plan = await database.fetchall(
                    f"EXPLAIN QUERY PLAN SELECT * FROM tickets {where}"
                    f"ORDER BY {_OPEN_ORDER} LIMIT 100")
                result.plans[_name(statuses)] = "; ".join(str(row[3]) for row in plan)
            return result
        finally:
            await database.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--creates", type=int, default=500)
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.tickets, min(args.creates, args.tickets)))
    print(f"{result.tickets} tickets; first 100 in queue order, median of 7; "
          f"{result.creates_per_second:.0f} ticket creates/s")
    for name, ms in result.list_ms.items():
        print(f"  {name:<40} {ms:6.1f} ms   plan: {result.plans[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
