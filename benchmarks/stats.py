"""Small helpers shared by the benchmarks: percentiles, median and spread, RSS, a table."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def spread(values: Sequence[float], unit: str = "", digits: int = 2) -> str:
    """"median [min–max]" of repeated runs."""
    if not values:
        return "-"
    fmt = f"{{:.{digits}f}}"
    median = fmt.format(statistics.median(values))
    if len(values) == 1:
        return f"{median}{unit}"
    return f"{median}{unit} [{fmt.format(min(values))}–{fmt.format(max(values))}]"


def rss_mib(pid: int | None = None) -> float:
    """Resident set size of a process (this one by default), MiB (Linux /proc)."""
    path = f"/proc/{pid or os.getpid()}/status"
    try:
        with open(path, encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class Table:
    """Rows of (section, measure, bare aiogram, Balie, ratio) printed as one aligned table."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str]] = []

    def add(self, section: str, measure: str, base: str = "", balie: str = "",
            ratio: str = "") -> None:
        self.rows.append((section, measure, base, balie, ratio))

    def render(self) -> str:
        header = ("piece", "measure", "bare aiogram", "Balie", "ratio / target")
        rows = [header, *self.rows]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = []
        for number, row in enumerate(rows):
            lines.append("| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row))
                         + " |")
            if number == 0:
                lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        return "\n".join(lines)
