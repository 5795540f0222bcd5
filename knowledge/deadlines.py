"""Cancellation and domain-transfer deadlines (pure rules, no I/O except the clock helper).

The rules come from the provider's help page: cancel at least ``notice_months`` before the next
contract period starts (before the new invoice is generated), and start a domain transfer early
enough that its ``transfer_working_days`` working days fit before that period starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from dateutil.relativedelta import relativedelta

__all__ = [
    "Deadlines",
    "Rules",
    "cancel_by_for",
    "compute_deadlines",
    "is_working_day",
    "today_in",
    "transfer_start_by_for",
]

_SATURDAY = 5


@dataclass(frozen=True)
class Rules:
    """Provider rules; the defaults are MijnHostingPartner's."""

    notice_months: int = 1
    transfer_working_days: int = 5
    timezone: str = "Europe/Amsterdam"
    holiday_country: str = "NL"

    def __post_init__(self) -> None:
        if self.notice_months < 1:
            raise ValueError("notice_months must be at least 1")
        if self.transfer_working_days < 1:
            raise ValueError("transfer_working_days must be at least 1")
        if self.holiday_country not in holidays.list_supported_countries():
            raise ValueError(f"unsupported holiday_country: {self.holiday_country!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone: {self.timezone!r}") from exc


@dataclass(frozen=True)
class Deadlines:
    """Deadlines for one renewal date, as seen on ``today``.

    renewal_date: the day the next contract period starts.
    cancel_by: last day to cancel (inclusive) = renewal_date - notice_months; month ends clamp
        (31 March -> 28/29 February).
    transfer_start_by: last day to start a domain transfer: the N-th working day strictly before
        renewal_date (N = transfer_working_days).
    too_late: today > cancel_by; this period can no longer be cancelled and the next invoice
        (probably) exists and must be paid.
    transfer_too_late: today > transfer_start_by.
    invoice_probably_generated: same value as too_late (the invoice is generated when the notice
        window closes); a separate field so callers say what they mean.
    days_to_cancel: (cancel_by - today).days; 0 on the last day, negative when too late.
    """

    renewal_date: date
    cancel_by: date
    transfer_start_by: date
    today: date
    too_late: bool
    transfer_too_late: bool
    invoice_probably_generated: bool
    days_to_cancel: int


@lru_cache(maxsize=256)
def public_holidays(country: str, year: int) -> frozenset[date]:
    """Public holidays of ``country`` in ``year``, as given by the ``holidays`` library."""
    return frozenset(holidays.country_holidays(country, years=year).keys())


def is_working_day(day: date, rules: Rules) -> bool:
    """Monday to Friday and not a public holiday of ``rules.holiday_country``."""
    return day.weekday() < _SATURDAY and day not in public_holidays(rules.holiday_country,
                                                                    day.year)


def cancel_by_for(renewal_date: date, rules: Rules) -> date:
    """Last day to cancel: ``notice_months`` calendar months before the renewal (clamped)."""
    return renewal_date - relativedelta(months=rules.notice_months)


def transfer_start_by_for(renewal_date: date, rules: Rules) -> date:
    """The ``transfer_working_days``-th working day strictly before ``renewal_date``."""
    day = renewal_date
    remaining = rules.transfer_working_days
    while remaining:
        day -= timedelta(days=1)
        if is_working_day(day, rules):
            remaining -= 1
    return day


def compute_deadlines(renewal_date: date, rules: Rules, today: date) -> Deadlines:
    """All deadlines for ``renewal_date`` as seen on ``today``."""
    cancel_by = cancel_by_for(renewal_date, rules)
    transfer_start_by = transfer_start_by_for(renewal_date, rules)
    too_late = today > cancel_by
    return Deadlines(
        renewal_date=renewal_date,
        cancel_by=cancel_by,
        transfer_start_by=transfer_start_by,
        today=today,
        too_late=too_late,
        transfer_too_late=today > transfer_start_by,
        invoice_probably_generated=too_late,
        days_to_cancel=(cancel_by - today).days,
    )


def today_in(timezone: str, *, now: datetime | None = None) -> date:
    """The current date in ``timezone``; ``now`` (timezone-aware) pins the clock for tests."""
    zone = ZoneInfo(timezone)
    if now is None:
        return datetime.now(zone).date()
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(zone).date()
