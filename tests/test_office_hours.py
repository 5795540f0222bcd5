"""When the colleagues are at work (the configured `[office_hours]`, default Mon-Fri 9-17)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.config import OfficeHoursConfig
from knowledge.office_hours import is_open, next_opening

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
HOURS = OfficeHoursConfig()


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=AMSTERDAM)  # 23 Nov 2026: a Monday


@pytest.mark.parametrize(("now", "expected"), [
    (at(23, 9), True), (at(23, 16, 59), True), (at(23, 17), False), (at(23, 8, 59), False),
    (at(27, 12), True), (at(28, 12), False), (at(29, 12), False),
])
def test_is_open(now: datetime, expected: bool) -> None:
    assert is_open(now, HOURS.hours) is expected


@pytest.mark.parametrize(("now", "back"), [
    (at(23, 10), at(23, 10)),  # open: now
    (at(23, 7), at(23, 9)),  # early: today at nine
    (at(23, 18), at(24, 9)),  # evening: tomorrow
    (at(27, 17), at(30, 9)),  # Friday evening: Monday
    (at(28, 10), at(30, 9)),  # Saturday
])
def test_next_opening(now: datetime, back: datetime) -> None:
    assert next_opening(now, HOURS.hours) == back


def test_never_open() -> None:
    closed = OfficeHoursConfig(monday="", tuesday="", wednesday="", thursday="", friday="")
    assert next_opening(at(23, 10), closed.hours) is None


def test_public_holidays_are_closed() -> None:
    from knowledge.deadlines import public_holidays

    def dutch(day: date) -> bool:
        return day in public_holidays("NL", day.year)

    christmas_eve = datetime(2026, 12, 24, 18, tzinfo=AMSTERDAM)  # Thursday evening
    # 25 and 26 December are holidays, then the weekend: back on Monday 28 December.
    assert next_opening(christmas_eve, HOURS.hours, dutch) == datetime(
        2026, 12, 28, 9, tzinfo=AMSTERDAM)
    kings_day = datetime(2027, 4, 27, 11, tzinfo=AMSTERDAM)  # a Tuesday
    assert not is_open(kings_day, HOURS.hours, dutch)
    assert is_open(kings_day, HOURS.hours)  # without holidays it would say open
