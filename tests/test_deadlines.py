"""Cancellation and transfer deadlines: pinned calendar cases and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.deadlines import (
    Rules,
    compute_deadlines,
    is_working_day,
    today_in,
)

TODAY = date(2026, 11, 28)
RULES = Rules()
PLUS_TWO = timezone(timedelta(hours=2))


# --- cancel_by: month arithmetic -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("renewal", "months", "cancel_by"),
    [
        (date(2027, 3, 15), 1, date(2027, 2, 15)),
        (date(2028, 2, 29), 1, date(2028, 1, 29)),  # leap day
        (date(2028, 3, 31), 1, date(2028, 2, 29)),  # clamps to leap-year end of February
        (date(2027, 3, 31), 1, date(2027, 2, 28)),  # clamps to common-year end of February
        (date(2028, 3, 29), 1, date(2028, 2, 29)),
        (date(2027, 3, 29), 1, date(2027, 2, 28)),
        (date(2027, 5, 31), 1, date(2027, 4, 30)),
        (date(2027, 1, 15), 1, date(2026, 12, 15)),  # across the year boundary
        (date(2027, 1, 2), 1, date(2026, 12, 2)),
        (date(2027, 4, 30), 2, date(2027, 2, 28)),
        (date(2028, 2, 29), 12, date(2027, 2, 28)),
        (date(2027, 3, 1), 1, date(2027, 2, 1)),
    ],
)
def test_cancel_by(renewal: date, months: int, cancel_by: date) -> None:
    rules = Rules(notice_months=months)
    assert compute_deadlines(renewal, rules, TODAY).cancel_by == cancel_by


# --- transfer_start_by: working days around holidays ---------------------------------------------


@pytest.mark.parametrize(
    ("renewal", "transfer_start_by"),
    [
        # Plain week: Mon 15 Mar 2027 -> Mon 8 Mar 2027.
        (date(2027, 3, 15), date(2027, 3, 8)),
        # Easter 2027: Good Friday 26 Mar and Easter Monday 29 Mar (both in holidays.NL).
        (date(2027, 4, 1), date(2027, 3, 23)),
        # Easter 2029: Good Friday 30 Mar, Easter Monday 2 Apr.
        (date(2029, 4, 6), date(2029, 3, 28)),
        # King's Day Tue 27 Apr 2027.
        (date(2027, 5, 3), date(2027, 4, 23)),
        # Ascension Thu 6 May 2027.
        (date(2027, 5, 10), date(2027, 4, 30)),
        # Whit Monday 17 May 2027.
        (date(2027, 5, 21), date(2027, 5, 13)),
        # Liberation Day is a holiday in lustrum years only: Mon 5 May 2025 yes, Tue 5 May 2026 no.
        (date(2025, 5, 9), date(2025, 5, 1)),
        (date(2026, 5, 11), date(2026, 5, 4)),
        # Christmas / New Year: Sat 2 Jan 2027 skips 1 Jan, weekend, 25/26 Dec.
        (date(2027, 1, 2), date(2026, 12, 24)),
        # Tue 2 Jan 2029 skips Mon 1 Jan, Tue 25 + Wed 26 Dec and two weekends.
        (date(2029, 1, 2), date(2028, 12, 21)),
    ],
)
def test_transfer_start_by(renewal: date, transfer_start_by: date) -> None:
    assert compute_deadlines(renewal, RULES, TODAY).transfer_start_by == transfer_start_by


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2027, 3, 26), False),  # Good Friday
        (date(2027, 3, 29), False),  # Easter Monday
        (date(2029, 4, 2), False),  # Easter Monday
        (date(2027, 4, 27), False),  # King's Day
        (date(2031, 4, 26), False),  # King's Day moved to Saturday (27 April is a Sunday)
        (date(2027, 5, 6), False),  # Ascension
        (date(2027, 5, 17), False),  # Whit Monday
        (date(2027, 12, 24), True),  # Christmas Eve is a working day
        (date(2027, 12, 27), True),
        (date(2030, 1, 1), False),
        (date(2026, 5, 5), True),  # Liberation Day outside lustrum years
        (date(2030, 5, 6), True),
        (date(2027, 3, 13), False),  # Saturday
        (date(2027, 3, 14), False),  # Sunday
        (date(2027, 3, 15), True),
    ],
)
def test_is_working_day(day: date, working: bool) -> None:
    assert is_working_day(day, RULES) is working


def test_transfer_working_days_is_configurable() -> None:
    rules = Rules(transfer_working_days=1)
    assert compute_deadlines(date(2027, 3, 15), rules, TODAY).transfer_start_by == date(2027, 3, 12)
    rules = Rules(transfer_working_days=10)
    assert compute_deadlines(date(2027, 3, 15), rules, TODAY).transfer_start_by == date(2027, 3, 1)


def test_other_country_uses_its_holidays() -> None:
    unity_day = date(2028, 10, 3)  # a Tuesday: German Unity Day, an ordinary day in NL
    assert unity_day.weekday() == 1
    assert not is_working_day(unity_day, Rules(holiday_country="DE"))
    assert is_working_day(unity_day, RULES)


# --- too late ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "too_late", "days_to_cancel"),
    [
        (date(2027, 1, 1), False, 45),
        (date(2027, 2, 14), False, 1),
        (date(2027, 2, 15), False, 0),  # the last day itself is still in time
        (date(2027, 2, 16), True, -1),
        (date(2027, 3, 14), True, -27),
        (date(2027, 3, 15), True, -28),
        (date(2027, 4, 1), True, -45),
    ],
)
def test_too_late_around_cancel_by(today: date, too_late: bool, days_to_cancel: int) -> None:
    result = compute_deadlines(date(2027, 3, 15), RULES, today)
    assert result.cancel_by == date(2027, 2, 15)
    assert result.too_late is too_late
    assert result.invoice_probably_generated is too_late
    assert result.days_to_cancel == days_to_cancel
    assert result.today == today
    assert result.renewal_date == date(2027, 3, 15)


@pytest.mark.parametrize(
    ("today", "transfer_too_late"),
    [(date(2027, 3, 7), False), (date(2027, 3, 8), False), (date(2027, 3, 9), True)],
)
def test_transfer_too_late(today: date, transfer_too_late: bool) -> None:
    result = compute_deadlines(date(2027, 3, 15), RULES, today)
    assert result.transfer_too_late is transfer_too_late


# --- rules and clock -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"notice_months": 0},
        {"transfer_working_days": 0},
        {"holiday_country": "XX"},
        {"timezone": "Mars/Olympus_Mons"},
    ],
)
def test_invalid_rules(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Rules(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        (datetime(2026, 11, 28, 23, 30, tzinfo=UTC), "Europe/Amsterdam", date(2026, 11, 29)),
        (datetime(2026, 11, 28, 22, 59, tzinfo=UTC), "Europe/Amsterdam", date(2026, 11, 28)),
        (datetime(2026, 6, 30, 22, 0, tzinfo=UTC), "Europe/Amsterdam", date(2026, 7, 1)),  # CEST
        (datetime(2026, 6, 30, 21, 59, tzinfo=UTC), "Europe/Amsterdam", date(2026, 6, 30)),
        (datetime(2026, 11, 29, 1, 0, tzinfo=PLUS_TWO), "UTC", date(2026, 11, 28)),
    ],
)
def test_today_in(now: datetime, zone: str, expected: date) -> None:
    assert today_in(zone, now=now) == expected


def test_today_in_rejects_naive_now() -> None:
    with pytest.raises(ValueError):
        today_in("Europe/Amsterdam", now=datetime(2026, 11, 28, 12, 0))


# --- properties ----------------------------------------------------------------------------------

renewals = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
rules_strategy = st.builds(
    Rules,
    notice_months=st.integers(min_value=1, max_value=3),
    transfer_working_days=st.integers(min_value=1, max_value=15),
)


def _working_days(start: date, end: date, rules: Rules) -> int:
    """Working days in [start, end)."""
    days = (start + timedelta(days=offset) for offset in range((end - start).days))
    return sum(is_working_day(day, rules) for day in days)


@settings(max_examples=300)
@given(renewal=renewals, rules=rules_strategy, offset=st.integers(-800, 800))
def test_properties(renewal: date, rules: Rules, offset: int) -> None:
    today = renewal + timedelta(days=offset)
    result = compute_deadlines(renewal, rules, today)
    months = rules.notice_months

    assert result.cancel_by < renewal
    assert renewal - relativedelta(months=months) - timedelta(days=3) <= result.cancel_by
    assert 28 * months <= (renewal - result.cancel_by).days <= 31 * months

    assert result.transfer_start_by < renewal
    assert is_working_day(result.transfer_start_by, rules)
    assert _working_days(result.transfer_start_by, renewal, rules) == rules.transfer_working_days

    assert result.too_late == (today > result.cancel_by)
    assert result.invoice_probably_generated == result.too_late
    assert result.transfer_too_late == (today > result.transfer_start_by)
    assert result.days_to_cancel == (result.cancel_by - today).days


@settings(max_examples=300)
@given(first=renewals, gap=st.integers(0, 400), rules=rules_strategy)
def test_later_renewal_never_gives_earlier_deadlines(first: date, gap: int, rules: Rules) -> None:
    later = first + timedelta(days=gap)
    a = compute_deadlines(first, rules, TODAY)
    b = compute_deadlines(later, rules, TODAY)
    assert a.cancel_by <= b.cancel_by
    assert a.transfer_start_by <= b.transfer_start_by
