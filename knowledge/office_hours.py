"""When the colleagues are at work: the configured opening hours per weekday, read in the
provider's time zone, and closed on public holidays (`closed`, e.g. the Dutch ones)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

# The opening and closing time on a weekday (0 = Monday), None when closed.
Hours = Callable[[int], "tuple[time, time] | None"]
Closed = Callable[[date], bool]  # a public holiday


def _never(day: date) -> bool:
    return False


def is_open(now: datetime, hours: Hours, closed: Closed = _never) -> bool:
    span = hours(now.weekday())
    return span is not None and not closed(now.date()) and span[0] <= now.time() < span[1]


def next_opening(now: datetime, hours: Hours, closed: Closed = _never) -> datetime | None:
    """`now` when the colleagues are at work, else when they are next; None when no weekday
    has opening hours."""
    if is_open(now, hours, closed):
        return now
    for offset in range(15):  # a week, and a run of holidays (Christmas, New Year)
        day = now.date() + timedelta(days=offset)
        span = hours(day.weekday())
        if span is None or closed(day):
            continue
        opening = datetime.combine(day, span[0], tzinfo=now.tzinfo)
        if opening > now:
            return opening
    return None
