"""Reading typed renewal dates and writing dates in the customer's language."""

from __future__ import annotations

import statistics
import time
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.dates import (
    UNKNOWN,
    DateInputError,
    DateProblem,
    format_date,
    format_weekday_date,
    month_starts,
    parse_renewal_date,
    warm_up,
)

TODAY = date(2026, 11, 28)


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    warm_up()


def problem_of(text: str, today: date = TODAY, **kwargs: int) -> DateProblem:
    with pytest.raises(DateInputError) as info:
        parse_renewal_date(text, today, **kwargs)
    assert isinstance(info.value, ValueError)
    return info.value.problem


@pytest.mark.parametrize(
    "text",
    [
        "15-03-2027",
        "15/3/27",
        "15.3.2027",
        "15 3 2027",
        "15 maart 2027",
        "15 mrt 2027",
        "15 mrt. 2027",
        "15 march 2027",
        "March 15, 2027",
        "15 mar 27",
        "2027-03-15",
        "15 maart",
        "15 Maart 2027.",
        "  15-03-2027  ",
        "15 - 03 - 2027",
        "15-mrt-2027",
        "15 mrt '27",
        "maandag 15 maart 2027",
        "Monday, March 15, 2027",
        "15th of March 2027",
        "15e maart 2027",
        "15 maart 2027 om 10:00",
        "15/3",
        "15-3",
        "１５-０３-２０２７",  # full-width digits
    ],
)
def test_accepted_forms(text: str) -> None:
    assert parse_renewal_date(text, TODAY) == date(2027, 3, 15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1e maart 2027", date(2027, 3, 1)),
        ("1ste maart 2027", date(2027, 3, 1)),
        ("2de maart 2027", date(2027, 3, 2)),
        ("1st of March 2027", date(2027, 3, 1)),
        ("March 1st, 2027", date(2027, 3, 1)),
        ("3 okt 2027", date(2027, 10, 3)),
        ("Sept. 3, 2027", date(2027, 9, 3)),
        ("15 mei 2027", date(2027, 5, 15)),
        ("dec 25", date(2026, 12, 25)),
        ("25 december", date(2026, 12, 25)),
        ("2 januari", date(2027, 1, 2)),
        ("2027-3-1", date(2027, 3, 1)),
    ],
)
def test_more_forms(text: str, expected: date) -> None:
    assert parse_renewal_date(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("03/04/2027", date(2027, 4, 3)),
        ("04/03/2027", date(2027, 3, 4)),
        ("01-02-27", date(2027, 2, 1)),
        ("12/11/2027", date(2027, 11, 12)),
        ("1 2 2027", date(2027, 2, 1)),
    ],
)
def test_numbers_are_day_first(text: str, expected: date) -> None:
    assert parse_renewal_date(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("28 november", date(2026, 11, 28)),  # today counts as "on or after today"
        ("27 november", date(2027, 11, 27)),
        ("29 november", date(2026, 11, 29)),
        ("28/11", date(2026, 11, 28)),
        ("27/11", date(2027, 11, 27)),
        ("29 feb", date(2028, 2, 29)),  # next leap year
        ("29-2", date(2028, 2, 29)),
    ],
)
def test_without_year_next_occurrence(text: str, expected: date) -> None:
    assert parse_renewal_date(text, TODAY) == expected


def test_two_digit_years_are_this_century() -> None:
    assert parse_renewal_date("15-03-28", TODAY) == date(2028, 3, 15)
    assert problem_of("15-03-99") is DateProblem.TOO_FAR  # 2099, not 1999
    assert problem_of("15 maart 99") is DateProblem.TOO_FAR
    assert problem_of("15-03-25") is DateProblem.PAST


@pytest.mark.parametrize(
    "text",
    [
        "31-02-2027",
        "32-1-2027",
        "29-02-2027",
        "0-1-2027",
        "15-13-2027",
        "15-00-2027",
        "2027-02-30",
        "31 februari 2027",
        "30 feb",
        "31 april 2027",
        "31/4",
    ],
)
def test_impossible_dates(text: str) -> None:
    assert problem_of(text) is DateProblem.IMPOSSIBLE


def test_leap_day_in_leap_year_is_fine() -> None:
    assert parse_renewal_date("29-02-2028", TODAY) == date(2028, 2, 29)


@pytest.mark.parametrize("text", ["27-11-2026", "1 januari 2026", "2025-03-15", "15 maart 2025"])
def test_past(text: str) -> None:
    assert problem_of(text) is DateProblem.PAST


def test_today_is_not_past() -> None:
    assert parse_renewal_date("28-11-2026", TODAY) == TODAY


@pytest.mark.parametrize("text", ["29-11-2031", "15 maart 2035", "01-01-9999"])
def test_too_far(text: str) -> None:
    assert problem_of(text) is DateProblem.TOO_FAR


def test_too_far_boundary_and_setting() -> None:
    assert parse_renewal_date("28-11-2031", TODAY) == date(2031, 11, 28)
    assert problem_of("29-11-2027", max_years_ahead=1) is DateProblem.TOO_FAR
    assert parse_renewal_date("28-11-2027", TODAY, max_years_ahead=1) == date(2027, 11, 28)


@pytest.mark.parametrize(
    "text",
    [
        "weet ik niet",
        "Weet ik niet!",
        "ik weet het niet",
        "Ik weet het niet.",
        "geen idee",
        "GEEN IDEE",
        "weet niet",
        "don't know",
        "dont know",
        "I don't know",
        "I don’t know",
        "unknown",
        "No idea...",
        "?",
        " ?? ",
    ],
)
def test_unknown(text: str) -> None:
    assert parse_renewal_date(text, TODAY) is UNKNOWN


@pytest.mark.parametrize(
    "text",
    [
        "hallo",
        "<b>x</b>",
        "",
        "   ",
        "x" * 10_000,
        "15-03-2027" + " " * 100 + "x",
        "😀",
        "📅 15 🎉",
        "morgen",
        "vandaag",
        "volgende week",
        "over 2 weken",
        "in 3 dagen",
        "next monday",
        "maart 2027",
        "2027",
        "15",
        "15 maart 2027 bla bla",
        "15 maart of 16 maart",
        "15032027",
        "15-03-202",
        "1/2/3/4",
        "!!!",
        "\x00\x01",
        "١٥ مارس ٢٠٢٧",
    ],
)
def test_garbage_is_unreadable(text: str) -> None:
    assert problem_of(text) is DateProblem.UNREADABLE


def test_error_carries_problem_and_is_value_error() -> None:
    error = DateInputError(DateProblem.PAST)
    assert isinstance(error, ValueError)
    assert error.problem is DateProblem.PAST
    assert DateProblem.PAST == "past"


def test_long_input_is_fast() -> None:
    start = time.perf_counter()
    for _ in range(100):
        problem_of("15 maart 2027 " * 700)
    assert time.perf_counter() - start < 0.5


def test_typical_parse_is_fast_after_warm_up() -> None:
    timings = []
    for text in ["15 maart 2027", "March 15, 2027", "15-03-2027", "1e maart 2027"] * 10:
        start = time.perf_counter()
        parse_renewal_date(text, TODAY)
        timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 0.005


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=120))
def test_any_text_gives_date_unknown_or_date_input_error(text: str) -> None:
    try:
        result = parse_renewal_date(text, TODAY)
    except DateInputError as error:
        assert isinstance(error.problem, DateProblem)
    else:
        assert result is UNKNOWN or isinstance(result, date)


_date_words = st.sampled_from(
    [
        "15",
        "3",
        "31",
        "29",
        "2027",
        "27",
        "maart",
        "mrt",
        "march",
        "feb",
        "of",
        "1e",
        "morgen",
        "-",
        "/",
        ".",
        ",",
        " ",
        "?",
        "weet",
        "niet",
        "om",
        "10:00",
        "maandag",
    ]
)


@settings(max_examples=300, deadline=None)
@given(words=st.lists(_date_words, max_size=8))
def test_date_like_text_gives_date_unknown_or_date_input_error(words: list[str]) -> None:
    try:
        result = parse_renewal_date(" ".join(words), TODAY)
    except DateInputError as error:
        assert isinstance(error.problem, DateProblem)
    else:
        assert result is UNKNOWN or TODAY <= result <= date(2031, 11, 28)


@given(day=st.dates(min_value=TODAY, max_value=date(2031, 11, 28)))
def test_round_trip_through_formats(day: date) -> None:
    texts = (f"{day:%d-%m-%Y}", day.isoformat(), format_date(day, "nl"), format_date(day, "en"))
    for text in texts:
        assert parse_renewal_date(text, TODAY) == day


# --- quick picks and formatting ------------------------------------------------------------------


def test_month_starts() -> None:
    assert month_starts(TODAY) == [date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)]
    assert month_starts(date(2026, 12, 1), 2) == [date(2027, 1, 1), date(2027, 2, 1)]
    assert month_starts(date(2027, 1, 31), 1) == [date(2027, 2, 1)]
    assert month_starts(TODAY, 0) == []
    with pytest.raises(ValueError):
        month_starts(TODAY, -1)


@pytest.mark.parametrize(
    ("day", "lang", "expected"),
    [
        (date(2027, 3, 1), "nl", "1 maart 2027"),
        (date(2027, 3, 1), "en", "March 1, 2027"),
        (date(2027, 12, 25), "nl", "25 december 2027"),
        (date(2027, 3, 1), "nl-BE", "1 maart 2027"),
        (date(2027, 3, 1), "de", "March 1, 2027"),  # anything not Dutch is English
    ],
)
def test_format_date(day: date, lang: str, expected: str) -> None:
    assert format_date(day, lang) == expected


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("nl", "maandag 1 maart 2027"), ("en", "Monday, March 1, 2027")],
)
def test_format_weekday_date(lang: str, expected: str) -> None:
    assert format_weekday_date(date(2027, 3, 1), lang) == expected


@pytest.mark.parametrize(
    "text",
    ["per 1 maart 2027", "verlengdatum 1 maart 2027", "verlengdatum: 01-03-2027",
     "1 maart 2027 denk ik", "op 1-3-2027", "Mijn verlengdatum is 1 maart 2027",
     "on March 1, 2027", "renewal date 1 March 2027 I think", "1 maart 2027?"],
)
def test_filler_words_around_a_date_are_ignored(text: str) -> None:
    assert parse_renewal_date(text, TODAY) == date(2027, 3, 1)
