"""Every benchmark, one table:  python -m benchmarks [--quick]

Balie against bare aiogram measured in the same run (the machine is shared and noisy: read the
ratios; absolute figures are context). Each figure is the median of repeated runs with
[min–max] beside it. `--quick` uses smaller counts and prints the same table in under a minute.

Pieces (each also runs alone, `python -m benchmarks.bench_http --help` and so on):
  bench_http     over HTTP against the fake Bot API, durable intake and outbox on, a burst
  bench_steps    in process through the durable intake; SQLite statements per step
  bench_matcher  matching at 1x, 10x, 100x, 1,000x the shipped question variants
  bench_queue    ticket creates per second; the queue at 100,000 tickets with its query plan
  bench_startup  importing Balie against importing aiogram
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass

from benchmarks import bench_http, bench_matcher, bench_queue, bench_startup, bench_steps
from benchmarks.stats import Table, spread


@dataclass(frozen=True)
class Sizes:
    customers: int
    waves: int
    repeats: int
    step_runs: int
    factors: tuple[int, ...]
    questions: int
    matcher_rounds: int
    tickets: int
    creates: int
    startup_runs: int


FULL = Sizes(customers=1000, waves=2, repeats=3, step_runs=5, factors=(1, 10, 100, 1000),
             questions=300, matcher_rounds=3, tickets=100_000, creates=1000, startup_runs=7)
QUICK = Sizes(customers=100, waves=2, repeats=2, step_runs=3, factors=(1, 10, 100, 1000),
              questions=40, matcher_rounds=2, tickets=100_000, creates=200, startup_runs=2)


def matcher_rows(table: Table, sizes: Sizes) -> None:
    rows = bench_matcher.latency(list(sizes.factors), sizes.questions, sizes.matcher_rounds)
    for row in rows:
        target = ""
        if row["factor"] == 10:
            target = "p99 < 1 ms"
        elif row["factor"] > 10:
            target = (f"p50 {row['p50'] / rows[0]['p50']:.0f}x the 1x run for "
                      f"{row['factor']}x the variants")
        table.add("matcher", f"{row['factor']:g}x ({row['variants']:,} variants): p50 / p99 / "
                  "first call, ms", "",
                  f"{spread([x * 1e3 for x in row['p50s']])} / "
                  f"{spread([x * 1e3 for x in row['p99s']])} / {row['first'] * 1e3:.2f}",
                  target)


def queue_rows(table: Table, sizes: Sizes) -> None:
    result = asyncio.run(bench_queue.measure(sizes.tickets, sizes.creates))
    table.add("tickets", "ticket creates per second (open_ticket, one transaction each)", "",
              f"{result.creates_per_second:.0f}")
    for name, ms in result.list_ms.items():
        plan = result.plans[name].replace("USING INDEX ", "")
        table.add("tickets", f"queue at {result.tickets:,} tickets, {name}, ms", "",
                  f"{ms:.1f}", f"< 20 ms; {plan}")


def startup_rows(table: Table, sizes: Sizes) -> None:
    runs = bench_startup.imports(sizes.startup_runs)
    table.add("start-up", "import time, s", spread([r[1] for r in runs]),
              spread([r[2] for r in runs]),
              "+" + spread([r[2] - r[1] for r in runs], " s") + " (≤ +0.3 s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller counts, same table")
    parser.add_argument("--customers", type=int, help="customers per HTTP burst")
    parser.add_argument("--waves", type=int, help="bursts of new customers per bot process")
    parser.add_argument("--repeats", type=int, help="bare/Balie process pairs (HTTP)")
    parser.add_argument("--step-runs", type=int, help="guide runs in process")
    parser.add_argument("--factors", type=int, nargs="+", help="matcher sizes")
    parser.add_argument("--questions", type=int, help="questions timed per matcher size")
    parser.add_argument("--matcher-rounds", type=int, help="rounds per matcher size")
    parser.add_argument("--tickets", type=int, help="tickets in the queue")
    parser.add_argument("--creates", type=int, help="tickets filed one by one")
    parser.add_argument("--startup-runs", type=int, help="import timings")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    sizes = Sizes(**{name: (tuple(value) if isinstance(value, list) else value)
                     if (value := getattr(args, name)) is not None else getattr(base, name)
                     for name in Sizes.__dataclass_fields__})
    started = time.perf_counter()
    table = Table()
    pairs = asyncio.run(bench_http.run_pairs(sizes.customers, sizes.waves, sizes.repeats))
    bench_http.add_rows(table, pairs, sizes.customers, sizes.waves)
    startup_rows(table, sizes)
    bench_steps.add_rows(table, asyncio.run(bench_steps.run(sizes.step_runs)))
    matcher_rows(table, sizes)
    queue_rows(table, sizes)
    print(table.render())
    print(f"\n{'quick' if args.quick else 'full'} run: {sizes}; "
          f"{time.perf_counter() - started:.0f} s; python {sys.version.split()[0]}; "
          f"medians of {sizes.repeats} HTTP pairs / {sizes.step_runs} guide runs / "
          f"{sizes.startup_runs} imports, [min–max]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
