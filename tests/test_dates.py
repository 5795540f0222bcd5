"""Reading typed renewal dates and writing dates in the customer's language."""

from __future__ import annotations

import statistics
import time
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.answers import AnswerError
from knowledge.dates import (
    UNKNOWN,
    DateBounds,
    DateInputError,
    DateProblem,
    format_date,
    format_weekday_date,
    month_starts,
    parse_date,
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


# --- one parser, bounds chosen by the step -------------------------------------------------

AHEAD = DateBounds.upcoming()
BEHIND = DateBounds.recent()  # TODAY is Saturday 28 November 2026


def date_problem(text: str, bounds: DateBounds, lang: str = "nl") -> DateInputError:
    with pytest.raises(DateInputError) as info:
        parse_date(text, TODAY, bounds, lang=lang)
    assert isinstance(info.value, AnswerError)
    return info.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("04/03/2027", None),  # both readings fit: asked back
        ("3/15/2027", date(2027, 3, 15)),  # only month-first works
        ("15/3/2027", date(2027, 3, 15)),  # only day-first works
        ("03/03/2027", date(2027, 3, 3)),  # reads the same both ways
        ("12/01/2026", date(2026, 12, 1)),  # 12 January 2026 is past: only one reading fits
        ("March 4, 2027", date(2027, 3, 4)),
    ],
)
def test_english_numeric_dates_may_be_month_first(text: str, expected: date | None) -> None:
    if expected is None:
        error = date_problem(text, AHEAD, "en")
        assert error.problem is DateProblem.AMBIGUOUS
        assert error.context == {"first": date(2027, 3, 4), "second": date(2027, 4, 3)}
    else:
        assert parse_date(text, TODAY, AHEAD, lang="en") == expected


def test_dutch_numeric_dates_stay_day_first() -> None:
    assert parse_date("04/03/2027", TODAY, AHEAD, lang="nl") == date(2027, 3, 4)
    assert date_problem("3/15/2027", AHEAD, "nl").problem is DateProblem.IMPOSSIBLE


def test_english_neither_reading_fits_says_why() -> None:
    assert date_problem("01/02/2020", AHEAD, "en").problem is DateProblem.PAST
    assert date_problem("02/30/2027", AHEAD, "en").problem is DateProblem.IMPOSSIBLE
    assert date_problem("3/15/2020", AHEAD, "en").problem is DateProblem.PAST


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vandaag", date(2026, 11, 28)),
        ("Vandaag.", date(2026, 11, 28)),
        ("vanochtend", date(2026, 11, 28)),
        ("gisteren", date(2026, 11, 27)),
        ("gisteren om 14:00", date(2026, 11, 27)),
        ("gisteravond", date(2026, 11, 27)),
        ("eergisteren", date(2026, 11, 26)),
        ("afgelopen maandag", date(2026, 11, 23)),
        ("vorige maandag", date(2026, 11, 23)),
        ("maandag", date(2026, 11, 23)),
        ("op vrijdag", date(2026, 11, 27)),
        ("zaterdag", date(2026, 11, 21)),  # today is Saturday: the one before
        ("3 dagen geleden", date(2026, 11, 25)),
        ("drie dagen geleden", date(2026, 11, 25)),
        ("1 dag geleden", date(2026, 11, 27)),
        ("een week geleden", date(2026, 11, 21)),
        ("twee weken geleden", date(2026, 11, 14)),
        ("een maand geleden", date(2026, 10, 28)),
        ("28-11-2026", date(2026, 11, 28)),
        ("28 november", date(2026, 11, 28)),
        ("28 nov 2026", date(2026, 11, 28)),
        ("29 november", date(2025, 11, 29)),  # without a year: the latest one, a year ago
        ("1 januari", date(2026, 1, 1)),
        ("1-1", date(2026, 1, 1)),
        ("15-11-26", date(2026, 11, 15)),
        ("today", date(2026, 11, 28)),
        ("this morning", date(2026, 11, 28)),
        ("yesterday", date(2026, 11, 27)),
        ("the day before yesterday", date(2026, 11, 26)),
        ("last monday", date(2026, 11, 23)),
        ("on Monday", date(2026, 11, 23)),
        ("3 days ago", date(2026, 11, 25)),
        ("a week ago", date(2026, 11, 21)),
        ("two weeks ago", date(2026, 11, 14)),
        ("November 28", date(2026, 11, 28)),
        ("28-11-2025", date(2025, 11, 28)),  # exactly a year ago is still in bounds
    ],
)
def test_when_it_happened(text: str, expected: date) -> None:
    assert parse_date(text, TODAY, BEHIND) == expected
    assert parse_date(text, TODAY, BEHIND, lang="en") == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("morgen", DateProblem.UNREADABLE),
        ("tomorrow", DateProblem.UNREADABLE),
        ("volgende week", DateProblem.UNREADABLE),
        ("29-11-2026", DateProblem.FUTURE),
        ("1 januari 2027", DateProblem.FUTURE),
        ("15-03-99", DateProblem.FUTURE),  # 2099
        ("27-11-2025", DateProblem.TOO_LONG_AGO),
        ("1 januari 2020", DateProblem.TOO_LONG_AGO),
        ("2 jaar geleden", DateProblem.UNREADABLE),
        ("13 maanden geleden", DateProblem.TOO_LONG_AGO),
        ("999 months ago", DateProblem.TOO_LONG_AGO),
        ("29 feb", DateProblem.TOO_LONG_AGO),  # the latest 29 February was in 2024
        ("31-02-2026", DateProblem.IMPOSSIBLE),
        ("weet ik niet", DateProblem.DATE_REQUIRED),
        ("I don't know", DateProblem.DATE_REQUIRED),
        ("hallo", DateProblem.UNREADABLE),
        ("gisteren of vandaag", DateProblem.UNREADABLE),
    ],
)
def test_when_it_happened_problems(text: str, problem: DateProblem) -> None:
    assert date_problem(text, BEHIND).problem is problem


def test_problems_carry_their_bound() -> None:
    assert date_problem("1-1-2020", BEHIND).context == {"earliest": date(2025, 11, 28)}
    assert date_problem("1-1-2027", BEHIND).context == {"latest": TODAY}
    assert date_problem("1-1-2020", AHEAD).context == {"earliest": TODAY}
    assert date_problem("1-1-2040", AHEAD).context == {"latest": date(2031, 11, 28)}


def test_the_step_chooses_the_bounds() -> None:
    assert parse_date("weet ik niet", TODAY, DateBounds.recent(unknown=True)) is UNKNOWN
    assert date_problem("weet ik niet", DateBounds.upcoming(unknown=False)).problem is \
        DateProblem.DATE_REQUIRED
    assert date_problem("gisteren", AHEAD).problem is DateProblem.UNREADABLE  # relative: behind
    week = DateBounds.recent(years=0, days=7)
    assert parse_date("7 dagen geleden", TODAY, week) == date(2026, 11, 21)
    assert date_problem("8 dagen geleden", week).problem is DateProblem.TOO_LONG_AGO
    assert parse_date("28 november", TODAY, DateBounds.upcoming(years=1)) == TODAY


def test_renewal_date_is_the_upcoming_bounds() -> None:
    assert parse_renewal_date("15 maart", TODAY) == parse_date("15 maart", TODAY, AHEAD)


_relative_words = st.sampled_from(
    ["vandaag", "gisteren", "eergisteren", "afgelopen", "vorige", "maandag", "zondag", "3",
     "een", "dagen", "dag", "week", "weken", "maand", "geleden", "ago", "days", "a", "last",
     "monday", "yesterday", "today", "28", "11", "2026", "2025", "-", "/", "november", "om",
     "14:00", "weet", "ik", "niet"]
)


@settings(max_examples=300, deadline=None)
@given(words=st.lists(_relative_words, max_size=6), lang=st.sampled_from(["nl", "en"]),
       unknown=st.booleans())
def test_a_parsed_past_date_respects_its_bounds(words: list[str], lang: str,
                                                unknown: bool) -> None:
    bounds = DateBounds.recent(unknown=unknown)
    try:
        result = parse_date(" ".join(words), TODAY, bounds, lang=lang)
    except DateInputError as error:
        assert isinstance(error.problem, DateProblem)
    else:
        assert (result is UNKNOWN and unknown) or date(2025, 11, 28) <= result <= TODAY


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=80), lang=st.sampled_from(["nl", "en"]), ahead=st.booleans(),
       today=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)))
def test_any_text_gives_a_date_in_bounds_or_a_date_input_error(
    text: str, lang: str, ahead: bool, today: date
) -> None:
    bounds = DateBounds.upcoming() if ahead else DateBounds.recent()
    try:
        result = parse_date(text, today, bounds, lang=lang)
    except DateInputError as error:
        assert isinstance(error.problem, DateProblem)
    else:
        assert result is UNKNOWN or bounds.earliest(today) <= result <= bounds.latest(today)


@given(day=st.dates(min_value=date(2025, 11, 28), max_value=TODAY))
def test_a_past_date_round_trips_through_formats(day: date) -> None:
    for text in (f"{day:%d-%m-%Y}", day.isoformat(), format_date(day, "nl"),
                 format_date(day, "en")):
        assert parse_date(text, TODAY, BEHIND) == day
