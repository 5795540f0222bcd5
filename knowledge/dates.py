"""Reading the dates customers type, and writing dates in their language.

One parser, `parse_date`, whose `DateBounds` the step chooses:

- a date that lies **ahead** (a renewal date, `DateBounds.ahead`): only absolute calendar dates
  (a day and a month, optionally a year); relative phrases such as "morgen" or "volgende week"
  are UNREADABLE, because a renewal date comes from an invoice or the client panel, never from a
  guess. Without a year the next occurrence on or after ``today`` is meant.
- a date that lies **behind** (when something happened, `DateBounds.behind`): the same calendar
  dates, and also "vandaag", "gisteren", "eergisteren", "(afgelopen/vorige) maandag", "3 dagen
  geleden", "een week geleden" and their English equivalents ("yesterday", "last monday",
  "3 days ago"). Without a year the latest occurrence on or before ``today`` is meant; a weekday
  is the latest one before today.

Numbers are day-first (``03/04/2027`` is 3 April). For English speakers, who may write
month-first, a numeric date that reads both ways within the bounds is AMBIGUOUS (asked back),
and one that only works month-first (``3/15/2027``) is read that way. Two-digit years mean 20xx.
"Weet ik niet" is UNKNOWN where the bounds allow it, and DATE_REQUIRED elsewhere. ``today`` is
always passed in; nothing here reads the clock.

Numeric forms are parsed by a small regex pass (so ``31-02-2027`` is IMPOSSIBLE instead of
silently moved); forms with a month name go through ``dateparser``, anchored on the day and month
the text really contains.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum, StrEnum
from functools import cache
from typing import Any, Final

from babel.dates import format_date as babel_format_date
from babel.dates import get_day_names, get_month_names
from dateutil.relativedelta import relativedelta

from knowledge.answers import AnswerError

__all__ = [
    "UNKNOWN",
    "DateBounds",
    "DateInputError",
    "DateProblem",
    "UnknownType",
    "format_date",
    "format_weekday_date",
    "month_starts",
    "parse_date",
    "parse_renewal_date",
    "warm_up",
]

MAX_INPUT_CHARS: Final = 60
_NEXT_OCCURRENCE_YEARS: Final = 8  # enough to reach the next 29 February


class DateProblem(StrEnum):
    """Why a typed date was not accepted (the context each problem carries, in brackets)."""

    UNREADABLE = "unreadable"
    IMPOSSIBLE = "impossible"
    AMBIGUOUS = "ambiguous"  # (first, second: the day-first and the month-first reading)
    DATE_REQUIRED = "date_required"  # "weet ik niet" where a date is needed
    PAST = "past"  # ahead only (earliest)
    TOO_FAR = "too_far"  # ahead only (latest)
    FUTURE = "future"  # behind only (latest)
    TOO_LONG_AGO = "too_long_ago"  # behind only (earliest)


class DateInputError(AnswerError):
    """The text is not an acceptable date; ``problem`` says why, ``context`` the details."""

    problem: DateProblem

    def __init__(self, problem: DateProblem, **context: Any) -> None:
        super().__init__(problem, **context)


@dataclass(frozen=True)
class DateBounds:
    """Which dates a step accepts: ``ahead`` (today up to ``reach`` later) or behind (``reach``
    ago up to today), and whether "weet ik niet" is an answer (UNKNOWN)."""

    ahead: bool
    reach: relativedelta = field(default_factory=lambda: relativedelta(years=5))
    unknown: bool = False
    start_days: int = 0  # ahead: the earliest date is this many days after today

    @classmethod
    def next_days(cls, days: int) -> DateBounds:
        """A date from tomorrow up to ``days`` days ahead (a date to pay on)."""
        return cls(ahead=True, reach=relativedelta(days=days), unknown=False, start_days=1)

    @classmethod
    def upcoming(cls, *, years: int = 5, unknown: bool = True) -> DateBounds:
        """A date that lies today or ahead, at most ``years`` away (a renewal date)."""
        return cls(ahead=True, reach=relativedelta(years=years), unknown=unknown)

    @classmethod
    def recent(cls, *, years: int = 1, days: int = 0, unknown: bool = False) -> DateBounds:
        """A date that lies today or before, at most ``years`` and ``days`` ago (when
        something happened)."""
        return cls(ahead=False, reach=relativedelta(years=years, days=days), unknown=unknown)

    def earliest(self, today: date) -> date:
        return today + timedelta(days=self.start_days) if self.ahead else today - self.reach

    def latest(self, today: date) -> date:
        return today + self.reach if self.ahead else today


class UnknownType(Enum):
    """Type of the UNKNOWN sentinel ("weet ik niet")."""

    UNKNOWN = "unknown"

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = UnknownType.UNKNOWN

_UNKNOWN_PHRASES: Final = frozenset(
    {
        "weet ik niet",
        "ik weet het niet",
        "weet niet",
        "ik weet niet",
        "weet ik niet meer",
        "ik weet het niet meer",
        "geen idee",
        "geen flauw idee",
        "onbekend",
        "dont know",
        "i dont know",
        "do not know",
        "i do not know",
        "unknown",
        "no idea",
        "idk",
        "not sure",
    }
)

# --- normalising ---------------------------------------------------------------------------------

_APOSTROPHES = re.compile(r"['’‘`´]")
_NON_WORD = re.compile(r"[\W_]+")
_ORDINAL = re.compile(r"\b(\d{1,2})(?:ste|de|e|st|nd|rd|th)\b", re.ASCII)
_SEPARATORS = re.compile(r"[\s\-/.,']+")
_FOUR_DIGITS = re.compile(r"\b(\d{4})\b", re.ASCII)


def _unknown_key(text: str) -> str:
    """Case- and punctuation-insensitive form used to recognise "don't know" phrases."""
    text = _APOSTROPHES.sub("", text.casefold())
    return " ".join(_NON_WORD.sub(" ", text).split())


def _is_unknown(text: str) -> bool:
    if text and set(text) <= {"?", " "}:
        return True
    return _unknown_key(text) in _UNKNOWN_PHRASES


# Words around a date that customers type ("per 1 maart 2027", "15-3-2027 denk ik").
_LEADING_WORDS = re.compile(
    r"^(?:(?:mijn|my|de|the|het|it|is|per|op|vanaf|on|from|verlengdatum|verlenging|"
    r"vervaldatum|renewal|date|datum)(?:[\s:,]+|$))+"
)
_TRAILING_WORDS = re.compile(
    r"(?:[\s,]+(?:denk ik|geloof ik|volgens mij|ongeveer|ofzo|of zo|i think|i guess|"
    r"i believe|probably|waarschijnlijk))+$"
)


def _clean(text: str) -> str:
    """NFKC, casefold, collapse spaces, drop filler words around the date, a trailing full
    stop and ordinal suffixes (1e, 1st)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = " ".join(text.split()).rstrip(".!?")
    text = _TRAILING_WORDS.sub("", _LEADING_WORDS.sub("", text)).rstrip(".!?, ")
    return _ORDINAL.sub(r"\1", text)


# --- building dates ------------------------------------------------------------------------------


def _full_year(year_text: str) -> int:
    """Two-digit years are 20xx."""
    year = int(year_text)
    return 2000 + year if len(year_text) <= 2 else year


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DateInputError(DateProblem.IMPOSSIBLE) from None


def _occurrence(month: int, day: int, today: date, ahead: bool) -> date:
    """The first ``day``-``month`` on or after ``today`` (ahead), or the last one on or before
    it (behind); 29 February waits for (or goes back to) a leap year."""
    step = 1 if ahead else -1
    for offset in range(_NEXT_OCCURRENCE_YEARS + 1):
        try:
            candidate = date(today.year + step * offset, month, day)
        except ValueError:
            continue
        if (candidate >= today) if ahead else (candidate <= today):
            return candidate
    raise DateInputError(DateProblem.IMPOSSIBLE)


def _resolve(day: int, month: int, year_text: str | None, today: date, ahead: bool) -> date:
    if year_text is None:
        if not (1 <= month <= 12 and 1 <= day <= 31):
            raise DateInputError(DateProblem.IMPOSSIBLE)
        return _occurrence(month, day, today, ahead)
    return _make_date(_full_year(year_text), month, day)


# --- numeric forms -------------------------------------------------------------------------------

_SEP = r"(?:\s*[-/.]\s*|\s+)"
_NUMERIC_DMY = re.compile(rf"(\d{{1,2}}){_SEP}(\d{{1,2}})(?:{_SEP}(\d{{4}}|\d{{2}}))?", re.ASCII)
_NUMERIC_ISO = re.compile(r"(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})", re.ASCII)
_NUMERIC_ONLY = re.compile(r"[\d\s\-/.,']+", re.ASCII)


def _reading(day: int, month: int, year_text: str | None, today: date,
             bounds: DateBounds) -> date | DateInputError:
    """One reading of a numeric date, checked against the bounds; the problem if it fails."""
    try:
        return _check_range(_resolve(day, month, year_text, today, bounds.ahead), today, bounds)
    except DateInputError as error:
        return error


def _parse_numeric(text: str, today: date, bounds: DateBounds, month_first: bool) -> date:
    """Day-first numeric dates and ISO ``yyyy-mm-dd``; anything else all-numeric is UNREADABLE.

    With ``month_first`` (English speakers) a date that also reads month-first is AMBIGUOUS when
    both readings fit the bounds, and the one that fits is taken when only one does."""
    if match := _NUMERIC_ISO.fullmatch(text):
        year, month, day = match.groups()
        return _check_range(_make_date(int(year), int(month), int(day)), today, bounds)
    match = _NUMERIC_DMY.fullmatch(text)
    if match is None:
        raise DateInputError(DateProblem.UNREADABLE)
    first, second, year_text = int(match[1]), int(match[2]), match[3]
    day_first = _reading(first, second, year_text, today, bounds)
    if not month_first or first == second or first > 12:
        if isinstance(day_first, DateInputError):
            raise day_first
        return day_first
    other = _reading(second, first, year_text, today, bounds)
    if isinstance(day_first, date) and isinstance(other, date):
        raise DateInputError(DateProblem.AMBIGUOUS, first=day_first, second=other)
    if isinstance(day_first, date):
        return day_first
    if isinstance(other, date):
        return other
    if day_first.problem is DateProblem.IMPOSSIBLE:
        raise other
    raise day_first


# --- forms with a month name ---------------------------------------------------------------------


def _month_name_table() -> dict[str, int]:
    names: dict[str, int] = {"sept": 9}
    for locale in ("nl", "en"):
        for width in ("wide", "abbreviated"):
            for number, name in get_month_names(width, "format", locale).items():
                names[str(name).casefold().rstrip(".")] = number
    return names


_MONTHS: Final = _month_name_table()
_MONTH_ALT: Final = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
_TEXT_DMY = re.compile(
    rf"\b(\d{{1,2}}) (?:of |van )?({_MONTH_ALT})\b(?: (\d{{4}}|\d{{2}})\b)?", re.ASCII
)
_TEXT_MDY = re.compile(rf"\b({_MONTH_ALT}) (\d{{1,2}})\b(?: (\d{{4}}|\d{{2}})\b)?", re.ASCII)


def _anchor(text: str) -> tuple[int, int, str | None] | None:
    """(day, month, year text) that the text literally contains, or None."""
    spaced = _SEPARATORS.sub(" ", text)
    if match := _TEXT_DMY.search(spaced):
        day, month_name, year_text = match.groups()
    elif match := _TEXT_MDY.search(spaced):
        month_name, day, year_text = match.groups()
    else:
        return None
    if year_text is None and (other := _FOUR_DIGITS.search(spaced)):
        year_text = other.group(1)
    return int(day), _MONTHS[month_name], year_text


@cache
def _date_parser() -> Any:
    """The shared dateparser instance, created on first use (importing it is slow)."""
    from dateparser.date import DateDataParser

    settings = {
        "DATE_ORDER": "DMY",
        "PREFER_DATES_FROM": "future",
        "REQUIRE_PARTS": ["day", "month"],
        # Fixed and a leap year, so "29 feb" parses and results never depend on the real clock;
        # the year of the answer is decided by _resolve, not by dateparser.
        "RELATIVE_BASE": datetime(2000, 1, 1),
    }
    return DateDataParser(languages=["nl", "en"], settings=settings)


def _dateparser_date(text: str) -> date | None:
    try:
        parsed = _date_parser().get_date_data(text).date_obj
    except Exception:  # a third-party parser must never crash the dialog
        return None
    return parsed.date() if isinstance(parsed, datetime) else None


def _parse_text(text: str, today: date, ahead: bool) -> date:
    """A date with a month name, accepted only if dateparser reads the same day and month."""
    anchor = _anchor(text)
    if anchor is None:
        raise DateInputError(DateProblem.UNREADABLE)
    day, month, year_text = anchor
    parsed = _dateparser_date(text)
    if parsed is None:
        _resolve(day, month, year_text, today, ahead)  # IMPOSSIBLE for "31 februari 2027"
        raise DateInputError(DateProblem.UNREADABLE)
    if (parsed.day, parsed.month) != (day, month):
        raise DateInputError(DateProblem.UNREADABLE)
    return _resolve(day, month, year_text, today, ahead)


# --- relative days (behind only) -----------------------------------------------------------------

_DAYS_BACK: Final = {
    "vandaag": 0, "vanochtend": 0, "vanmorgen": 0, "vanmiddag": 0, "vanavond": 0, "vannacht": 0,
    "zojuist": 0, "net": 0, "daarnet": 0, "eerder vandaag": 0,
    "today": 0, "this morning": 0, "this afternoon": 0, "this evening": 0, "tonight": 0,
    "earlier today": 0, "just now": 0,
    "gisteren": 1, "gisterochtend": 1, "gistermiddag": 1, "gisteravond": 1, "gisternacht": 1,
    "yesterday": 1, "last night": 1, "yesterday morning": 1, "yesterday afternoon": 1,
    "yesterday evening": 1,
    "eergisteren": 2, "day before yesterday": 2,  # "the" is dropped as a filler word
}
_COUNTS: Final = {
    "een": 1, "één": 1, "a": 1, "an": 1, "one": 1, "twee": 2, "two": 2, "drie": 3, "three": 3,
    "vier": 4, "four": 4, "vijf": 5, "five": 5, "zes": 6, "six": 6, "zeven": 7, "seven": 7,
    "acht": 8, "eight": 8, "negen": 9, "nine": 9, "tien": 10, "ten": 10,
}
_UNITS: Final = {
    "dag": "days", "dagen": "days", "day": "days", "days": "days",
    "week": "weeks", "weken": "weeks", "weeks": "weeks",
    "maand": "months", "maanden": "months", "month": "months", "months": "months",
}


def _weekday_table() -> dict[str, int]:
    names: dict[str, int] = {}
    for locale in ("nl", "en"):
        for width in ("wide", "abbreviated"):
            for number, name in get_day_names(width, "format", locale).items():
                names[str(name).casefold()] = number
    return names


_WEEKDAYS: Final = _weekday_table()
_ALT = "|".join
_AT_TIME = r"(?: (?:om|at|rond|around|tegen) [0-9]{1,2}(?:[:.][0-9]{2})? ?(?:uur|u|h|am|pm)?)?"
_RELATIVE_DAY = re.compile(rf"({_ALT(sorted(_DAYS_BACK, key=len, reverse=True))}){_AT_TIME}")
_WEEKDAY = re.compile(
    rf"(?:(?:afgelopen|vorige|jongstleden|last|this past|past) )?"
    rf"({_ALT(sorted(_WEEKDAYS, key=len, reverse=True))}){_AT_TIME}"
)
_AGO = re.compile(
    rf"([0-9]{{1,3}}|{_ALT(_COUNTS)}) ({_ALT(_UNITS)}) (?:geleden|ago)", re.UNICODE
)


def _relative_day(text: str, today: date) -> date | None:
    """"gisteren", "afgelopen maandag", "3 dagen geleden", "a week ago"…; None if it is none."""
    if match := _RELATIVE_DAY.fullmatch(text):
        return today - timedelta(days=_DAYS_BACK[match[1]])
    if match := _WEEKDAY.fullmatch(text):
        return today - timedelta(days=(today.weekday() - _WEEKDAYS[match[1]]) % 7 or 7)
    if match := _AGO.fullmatch(text):
        count = int(match[1]) if match[1].isdigit() else _COUNTS[match[1]]
        try:
            return today - relativedelta(**{_UNITS[match[2]]: count})
        except (OverflowError, ValueError):
            raise DateInputError(DateProblem.TOO_LONG_AGO) from None
    return None


# --- public API ----------------------------------------------------------------------------------


def warm_up() -> None:
    """Load dateparser and its nl/en data now (about half a second) instead of on first use."""
    for sample in ("1 maart 2027", "March 1, 2027"):
        _dateparser_date(sample)


def _check_range(day: date, today: date, bounds: DateBounds) -> date:
    earliest, latest = bounds.earliest(today), bounds.latest(today)
    if day < earliest:
        problem = DateProblem.PAST if bounds.ahead else DateProblem.TOO_LONG_AGO
        raise DateInputError(problem, earliest=earliest)
    if day > latest:
        problem = DateProblem.TOO_FAR if bounds.ahead else DateProblem.FUTURE
        raise DateInputError(problem, latest=latest)
    return day


def parse_date(
    text: str, today: date, bounds: DateBounds, *, lang: str = "nl"
) -> date | UnknownType:
    """The date in ``text`` within ``bounds`` (or UNKNOWN, where the bounds allow "weet ik niet");
    raises DateInputError. ``lang`` "en" also reads numeric dates month-first."""
    text = text.strip()
    if len(text) > MAX_INPUT_CHARS:
        raise DateInputError(DateProblem.UNREADABLE)
    if _is_unknown(text):
        if bounds.unknown:
            return UNKNOWN
        raise DateInputError(DateProblem.DATE_REQUIRED)
    cleaned = _clean(text)
    if not cleaned:
        raise DateInputError(DateProblem.UNREADABLE)
    if not bounds.ahead and (relative := _relative_day(cleaned, today)) is not None:
        return _check_range(relative, today, bounds)
    if _NUMERIC_ONLY.fullmatch(cleaned):
        return _parse_numeric(cleaned, today, bounds, month_first=_locale(lang) == "en")
    return _check_range(_parse_text(cleaned, today, bounds.ahead), today, bounds)


def parse_renewal_date(text: str, today: date, *, max_years_ahead: int = 5) -> date | UnknownType:
    """A renewal date as a Dutch customer types it (day-first), or UNKNOWN: `parse_date` with
    `DateBounds.upcoming`."""
    return parse_date(text, today, DateBounds.upcoming(years=max_years_ahead))


def _months_ahead(today: date, count: int) -> Iterator[date]:
    first = today.replace(day=1)
    for offset in range(1, count + 1):
        yield first + relativedelta(months=offset)


def month_starts(today: date, count: int = 3) -> list[date]:
    """Quick picks: the 1st of each of the next ``count`` months (never today's month)."""
    if count < 0:
        raise ValueError("count must not be negative")
    return list(_months_ahead(today, count))


def _locale(lang: str) -> str:
    """Babel locale: Dutch for "nl"/"nl-*", English for everything else (as the bot does)."""
    return "nl" if lang.casefold().startswith("nl") else "en"


def format_date(day: date, lang: str) -> str:
    """Long date: "1 maart 2027" (nl) / "March 1, 2027" (en)."""
    return str(babel_format_date(day, format="long", locale=_locale(lang)))


def format_weekday_date(day: date, lang: str) -> str:
    """Date with weekday: "maandag 1 maart 2027" (nl) / "Monday, March 1, 2027" (en)."""
    return str(babel_format_date(day, format="full", locale=_locale(lang)))
