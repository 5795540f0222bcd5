"""Start-up: importing what `balie run` imports against importing aiogram itself, each in a
fresh interpreter, interleaved, median of the runs.

    python -m benchmarks.bench_startup [--runs 7]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BARE = "import aiogram, aiogram.fsm.storage.memory, aiogram.client.session.aiohttp"
BALIE = "import bot.cli, bot.app"  # what `balie run` loads before it connects


def _seconds(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return time.perf_counter() - start


def imports(runs: int) -> list[tuple[float, float, float]]:
    """(interpreter alone, bare aiogram, Balie) seconds per run; the interpreter alone only
    when there is more than one run (it is context, and a tiny run is about speed)."""
    if runs > 1:
        _seconds(BALIE)  # warm the file cache
    found = []
    for _ in range(runs):
        found.append((_seconds("pass") if runs > 1 else 0.0, _seconds(BARE), _seconds(BALIE)))
    return found


def main(argv: list[str] | None = None) -> int:
    from benchmarks.stats import spread
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    runs = imports(args.runs)
    print("python alone", spread([r[0] for r in runs], " s"))
    print("aiogram     ", spread([r[1] for r in runs], " s"))
    print("Balie       ", spread([r[2] for r in runs], " s"))
    print("Balie adds  ", spread([r[2] - r[1] for r in runs], " s"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
