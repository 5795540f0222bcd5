"""The ticket queue at scale: `TicketStore.list` for every status filter over N tickets
(95 % closed, as in a helpdesk that has run for years), median of 7, and the query plan.

    python benchmarks/bench_queue.py [--tickets 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from storage.database import Database
from tickets.models import Status
from tickets.store import _OPEN_ORDER, TicketStore

FILTERS: list[tuple[Status, ...] | None] = [
    None, (Status.OPEN,), (Status.OPEN, Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER),
    (Status.CLOSED,),
]


async def run(tickets: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = await Database.open(Path(folder) / "queue.sqlite3")
        rng = random.Random(1)
        rows = []
        for number in range(tickets):
            status = "closed" if rng.random() < 0.95 else rng.choice(
                ["open", "in_progress", "waiting_on_customer"])
            stamp = f"2026-{1 + number * 11 // tickets:02d}-01T00:00:{number % 60:02d}+00:00"
            rows.append(("question", status, rng.choice(["low", "normal", "high", "urgent"]),
                         "subject", 1000 + number % 500, stamp, stamp))
        async with database.transaction() as connection:
            await connection.executemany(
                "INSERT INTO tickets (category, status, priority, subject, customer_id, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        store = TicketStore(database)
        print(f"{tickets} tickets; first 100 in queue order, median of 7")
        for statuses in FILTERS:
            times = []
            for _ in range(7):
                start = time.perf_counter()
                await store.list(statuses=statuses, limit=100)
                times.append(time.perf_counter() - start)
            name = ",".join(statuses) if statuses else "(all)"
            print(f"  {name:<40} {statistics.median(times) * 1000:6.1f} ms")
        plan = await database.fetchall(
            f"EXPLAIN QUERY PLAN SELECT * FROM tickets WHERE status = 'open' "
            f"ORDER BY {_OPEN_ORDER} LIMIT 100")
        print("  plan (status = 'open'):", "; ".join(str(row[3]) for row in plan))
        await database.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    asyncio.run(run(parser.parse_args().tickets))


if __name__ == "__main__":
    main()
