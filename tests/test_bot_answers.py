"""The form steps on top of the Telegram-free parsers: what is stored, which problem is asked
again with which details, and that every problem has its message in both languages."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import answers
from bot.config import Config
from bot.forms import Form, FormRun, InvalidInput, Outcome, Step
from bot.texts import LANGUAGES, Texts
from knowledge.answers import AnswerProblem
from knowledge.dates import DateProblem

TODAY = date(2026, 11, 28)


async def _submit(run: FormRun, action: str) -> Outcome:
    return Outcome("")


FORM = Form(
    name="kit",
    steps=(Step("email", "text", optional=True, parse=answers.email),
           Step("domain", "text", parse=answers.domain),
           Step("invoice_number", "text", parse=answers.invoice_number),
           Step("amount", "text", optional=True, parse=answers.amount),
           Step("renewal_date", "text", parse=answers.renewal_date),
           Step("happened_on", "text", parse=answers.happened_on)),
    finish=(),
    submit=_submit,
)


def run_at(step: str, lang: str = "nl") -> FormRun:
    services = SimpleNamespace(today=lambda: TODAY, config=Config())
    conv: Any = SimpleNamespace(lang=lang, services=services)
    return FormRun(FORM, conv, step, {}, [], "0" * 12)


def invalid(step: str, text: str, lang: str = "nl") -> InvalidInput:
    parse = FORM.step(step).parse
    assert parse is not None
    with pytest.raises(InvalidInput) as raised:
        parse(text, run_at(step, lang))
    assert raised.value.texts == answers.TEXTS
    return raised.value


@pytest.mark.parametrize(("step", "typed", "lang", "stored"), [
    ("email", " Anna@Voorbeeld.NL ", "nl", "anna@voorbeeld.nl"),
    ("domain", "www.Café.nl", "nl", "café.nl"),
    ("invoice_number", "factuur #2026001234", "nl", "2026001234"),
    ("amount", "€ 1.234,5", "nl", "1234.50"),
    ("amount", "€1,234.50", "en", "1234.50"),
    ("renewal_date", "15 maart 2027", "nl", "2027-03-15"),
    ("renewal_date", "3/15/2027", "en", "2027-03-15"),
    ("renewal_date", "weet ik niet", "nl", answers.UNKNOWN_DATE),
    ("happened_on", "gisteren", "nl", "2026-11-27"),
    ("happened_on", "last monday", "en", "2026-11-23"),
])
def test_answers_are_stored_as_json_friendly_text(step: str, typed: str, lang: str,
                                                  stored: str) -> None:
    parse = FORM.step(step).parse
    assert parse is not None
    assert parse(typed, run_at(step, lang)) == stored


def test_problems_carry_what_their_message_needs() -> None:
    several = invalid("domain", "a.nl en b.nl")
    assert several.problem == "several_domains"
    assert several.context == {"optional": False, "domains": ["a.nl", "b.nl"]}
    assert invalid("email", "anna").context == {"optional": True}
    assert invalid("invoice_number", "12").context == {"optional": False,
                                                       "example": "2026001234"}
    assert invalid("amount", "-5").context == {"optional": True}
    ambiguous = invalid("renewal_date", "04/03/2027", "en")
    assert ambiguous.problem == "ambiguous"
    assert ambiguous.context == {"optional": False, "first": date(2027, 3, 4),
                                 "second": date(2027, 4, 3), "ahead": True, "unknown": True}
    assert invalid("happened_on", "weet ik niet").context == {
        "optional": False, "ahead": False, "unknown": False}
    assert invalid("happened_on", "morgen").problem == "unreadable"
    assert invalid("happened_on", "1-1-2027").problem == "future"
    assert invalid("happened_on", "1-1-2020").context["earliest"] == date(2025, 11, 28)


PROBLEMS = sorted({problem.value for problem in (*AnswerProblem, *DateProblem)})


@pytest.mark.parametrize("problem", PROBLEMS)
def test_every_problem_has_its_message_in_both_languages(problem: str) -> None:
    texts = Texts({"provider": Config().provider, "rules": Config().rules})
    for lang in LANGUAGES:
        assert texts.has_template(lang, f"{answers.TEXTS}/invalid_{problem}"), (lang, problem)


@pytest.mark.parametrize(("step", "typed", "lang", "shown"), [
    ("domain", "bakkerij-jansen.nl en jansen.com", "nl",
     "meer dan één domeinnaam: bakkerij-jansen.nl, jansen.com"),
    ("domain", "a.nl, b.nl", "en", "Let's take them one at a time"),
    ("email", "anna", "nl", "„Overslaan”"),
    ("invoice_number", "12", "en", "<code>2026001234</code>"),
    ("amount", "200000", "nl", "meer dan €\u00a0100.000,00"),
    ("amount", "200000", "en", "more than €100,000.00"),
    ("amount", "0", "en", 'or choose "Skip"'),
    ("amount", "ongeveer 50", "nl", "kan ik niet lezen"),
    ("renewal_date", "04/03/2027", "en", "Is that <b>March 4, 2027</b> or <b>April 3, 2027</b>?"),
    ("renewal_date", "1-1-2040", "nl", "later dan 28 november 2031"),
    ("renewal_date", "hallo", "nl", "„Weet ik niet”"),
    ("happened_on", "hallo", "nl", "<code>gisteren</code>"),
    ("happened_on", "hallo", "en", "<code>3 days ago</code>"),
    ("happened_on", "1-1-2027", "nl", "in de toekomst"),
    ("happened_on", "1-1-2020", "en", "from November 28, 2025 onwards"),
    ("happened_on", "I don't know", "en", "<code>a week ago</code>"),
])
def test_messages_say_what_is_wrong_with_an_example(step: str, typed: str, lang: str,
                                                    shown: str) -> None:
    problem = invalid(step, typed, lang)
    texts = Texts({"provider": Config().provider, "rules": Config().rules})
    text = texts.render(lang, f"{answers.TEXTS}/invalid_{problem.problem}", **problem.context)
    assert shown in text
    if step == "happened_on":
        assert "Weet ik niet" not in text and "I don't know" not in text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(step=st.sampled_from([step.name for step in FORM.steps]), text=st.text(max_size=120),
       lang=st.sampled_from(LANGUAGES))
def test_any_text_is_stored_or_asked_again(step: str, text: str, lang: str) -> None:
    parse = FORM.step(step).parse
    assert parse is not None
    try:
        stored = parse(text, run_at(step, lang))
    except InvalidInput as invalid_input:
        assert invalid_input.texts == answers.TEXTS
        assert invalid_input.problem in PROBLEMS
    else:
        assert isinstance(stored, str) and stored
