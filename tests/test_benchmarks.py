"""Smoke test: the dispatch benchmark runs end to end with tiny sizes (timings are not checked)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_bench_dispatch_runs_with_tiny_sizes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("bench_dispatch",
                                                  BENCHMARKS / "bench_dispatch.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # dataclasses look their module up
    spec.loader.exec_module(bench)

    assert bench.main(["--rounds", "1", "--updates", "2", "--customers", "2"]) == 0

    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    for scenario in ("baseline", "start", "question", "cancel", "customers"):
        assert scenario in rows, out
    assert rows["cancel"][1] == str(len(bench.CANCEL_RUN))  # one whole guide run at least
    assert "questions +1.00" in out  # every new customer's question is stored once
    assert out.rstrip().splitlines()[-1].startswith("Summary: Balie costs ")


def test_bench_queue_reads_the_queue_from_its_index(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("bench_queue", BENCHMARKS / "bench_queue.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(sys, "argv", ["bench_queue.py", "--tickets", "300"])
    bench.main()
    out = capsys.readouterr().out
    assert "300 tickets" in out and "(all)" in out
    assert "USING INDEX tickets_by_status" in out and "TEMP B-TREE" not in out
