"""When the colleagues are at work: the configured opening hours per weekday, read in the
provider's time zone. Public holidays are not known here: on a holiday the colleagues may be
back later than this says."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta

# The opening and closing time on a weekday (0 = Monday), None when closed.
Hours = Callable[[int], "tuple[time, time] | None"]


def is_open(now: datetime, hours: Hours) -> bool:
    span = hours(now.weekday())
    return span is not None and span[0] <= now.time() < span[1]


def next_opening(now: datetime, hours: Hours) -> datetime | None:
    """`now` when the colleagues are at work, else when they are next; None when no weekday
    has opening hours."""
    if is_open(now, hours):
        return now
    for offset in range(8):
        day = now.date() + timedelta(days=offset)
        span = hours(day.weekday())
        if span is None:
            continue
        opening = datetime.combine(day, span[0], tzinfo=now.tzinfo)
        if opening > now:
            return opening
    return None
