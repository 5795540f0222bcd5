"""Smoke tests: `python -m benchmarks` and each of its pieces run end to end with tiny sizes
(timings are not checked, only that every row of the table is there)."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks import __main__ as bench
from benchmarks import bench_dispatch, bench_queue, bench_steps


def test_python_m_benchmarks_prints_the_whole_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--quick", "--customers", "3", "--waves", "2", "--repeats", "1",
                       "--step-runs", "1", "--factors", "1", "10", "--questions", "5",
                       "--tickets", "300", "--creates", "5", "--startup-runs", "1"]) == 0
    out = capsys.readouterr().out
    for measure in ("bot CPU per update", "latency p99 in the burst", "throughput",
                    "RSS after 6 customers mid-dialog", "RSS growth per wave", "fair order",
                    "Bot API calls per update, question",
                    "spawn to first getUpdates", "import time", "CPU per update, ms (guide",
                    "form step: text: statements", "file the request", "10x (",
                    "ticket creates per second", "queue at 300 tickets, open, ms"):
        assert measure in out, out
    assert "quick run:" in out.splitlines()[-1]


def test_every_form_step_stays_within_three_statements_and_one_transaction() -> None:
    result = asyncio.run(bench_steps.run(1))
    for label, counts in result.counts.items():
        if label.startswith("form step"):
            for count in counts:
                assert count.statements <= 3 and count.transactions <= 1, (label, count)


def test_bench_dispatch_runs_with_tiny_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_dispatch.main(["--rounds", "1", "--updates", "2", "--customers", "2"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    for scenario in ("baseline", "start", "question", "cancel", "customers"):
        assert scenario in rows, out
    assert rows["cancel"][1] == str(len(bench_dispatch.CANCEL_RUN))  # one whole guide run
    assert "questions +1.00" in out  # every new customer's question is stored once
    assert out.rstrip().splitlines()[-1].startswith("Summary: Balie costs ")


def test_the_queue_is_read_from_its_index(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_queue.main(["--tickets", "300", "--creates", "5"]) == 0
    out = capsys.readouterr().out
    assert "300 tickets" in out and "(all)" in out
    for line in out.splitlines()[1:]:
        assert "USING INDEX tickets_" in line, line
    open_line = next(line for line in out.splitlines() if line.split()[0] == "open")
    assert "USING INDEX tickets_by_status" in open_line and "TEMP B-TREE" not in open_line
