"""Reading the renewal dates customers type, and writing dates in their language.

Only absolute calendar dates are accepted (a day and a month, optionally a year). Relative phrases
such as "morgen" or "volgende week" are UNREADABLE: a renewal date comes from an invoice or the
client panel, never from a guess. Numbers are always day-first (Dutch customers): ``03/04/2027``
is 3 April. Two-digit years mean 20xx. Without a year the next occurrence on or after ``today`` is
meant.

Numeric forms are parsed by a small regex pass (so ``31-02-2027`` is IMPOSSIBLE instead of
silently moved); forms with a month name go through ``dateparser``, anchored on the day and month
the text really contains.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime
from enum import Enum, StrEnum
from functools import cache
from typing import Any, Final

from babel.dates import format_date as babel_format_date
from babel.dates import get_month_names
from dateutil.relativedelta import relativedelta

__all__ = [
    "UNKNOWN",
    "DateInputError",
    "DateProblem",
    "UnknownType",
    "format_date",
    "format_weekday_date",
    "month_starts",
    "parse_renewal_date",
    "warm_up",
]

MAX_INPUT_CHARS: Final = 60
_NEXT_OCCURRENCE_YEARS: Final = 8  # enough to reach the next 29 February


class DateProblem(StrEnum):
    """Why a typed date was not accepted."""

    UNREADABLE = "unreadable"
    IMPOSSIBLE = "impossible"
    PAST = "past"
    TOO_FAR = "too_far"


class DateInputError(ValueError):
    """The text is not an acceptable renewal date; ``problem`` says why."""

    def __init__(self, problem: DateProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


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


def _next_occurrence(month: int, day: int, today: date) -> date:
    """First ``day``-``month`` on or after ``today`` (29 February waits for a leap year)."""
    for year in range(today.year, today.year + _NEXT_OCCURRENCE_YEARS + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    raise DateInputError(DateProblem.IMPOSSIBLE)


def _resolve(day: int, month: int, year_text: str | None, today: date) -> date:
    if year_text is None:
        return _next_occurrence(month, day, today)
    return _make_date(_full_year(year_text), month, day)


# --- numeric forms -------------------------------------------------------------------------------

_SEP = r"(?:\s*[-/.]\s*|\s+)"
_NUMERIC_DMY = re.compile(rf"(\d{{1,2}}){_SEP}(\d{{1,2}})(?:{_SEP}(\d{{4}}|\d{{2}}))?", re.ASCII)
_NUMERIC_ISO = re.compile(r"(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})", re.ASCII)
_NUMERIC_ONLY = re.compile(r"[\d\s\-/.,']+", re.ASCII)


def _parse_numeric(text: str, today: date) -> date:
    """Day-first numeric dates and ISO ``yyyy-mm-dd``; anything else all-numeric is UNREADABLE."""
    if match := _NUMERIC_ISO.fullmatch(text):
        year, month, day = match.groups()
        return _make_date(int(year), int(month), int(day))
    if match := _NUMERIC_DMY.fullmatch(text):
        day, month, year_text = match.groups()
        return _resolve(int(day), int(month), year_text, today)
    raise DateInputError(DateProblem.UNREADABLE)


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


def _parse_text(text: str, today: date) -> date:
    """A date with a month name, accepted only if dateparser reads the same day and month."""
    anchor = _anchor(text)
    if anchor is None:
        raise DateInputError(DateProblem.UNREADABLE)
    day, month, year_text = anchor
    parsed = _dateparser_date(text)
    if parsed is None:
        _resolve(day, month, year_text, today)  # raises IMPOSSIBLE for "31 februari 2027"
        raise DateInputError(DateProblem.UNREADABLE)
    if (parsed.day, parsed.month) != (day, month):
        raise DateInputError(DateProblem.UNREADABLE)
    return _resolve(day, month, year_text, today)


# --- public API ----------------------------------------------------------------------------------


def warm_up() -> None:
    """Load dateparser and its nl/en data now (about half a second) instead of on first use."""
    for sample in ("1 maart 2027", "March 1, 2027"):
        _dateparser_date(sample)


def _check_range(day: date, today: date, max_years_ahead: int) -> date:
    if day < today:
        raise DateInputError(DateProblem.PAST)
    if day > today + relativedelta(years=max_years_ahead):
        raise DateInputError(DateProblem.TOO_FAR)
    return day


def parse_renewal_date(text: str, today: date, *, max_years_ahead: int = 5) -> date | UnknownType:
    """The renewal date in ``text``, or UNKNOWN; raises DateInputError (with ``problem``)."""
    text = text.strip()
    if len(text) > MAX_INPUT_CHARS:
        raise DateInputError(DateProblem.UNREADABLE)
    if _is_unknown(text):
        return UNKNOWN
    cleaned = _clean(text)
    if not cleaned:
        raise DateInputError(DateProblem.UNREADABLE)
    if _NUMERIC_ONLY.fullmatch(cleaned):
        parsed = _parse_numeric(cleaned, today)
    else:
        parsed = _parse_text(cleaned, today)
    return _check_range(parsed, today, max_years_ahead)


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
