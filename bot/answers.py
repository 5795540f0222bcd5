"""Form steps that read a typed answer with `knowledge.answers` and `knowledge.dates`.

Each function here is a step's `parse`: it hands the text to the Telegram-free parser, with what
the parser needs from the conversation (the customer's language, today, the configured invoice
pattern), and turns the parser's `AnswerError` into `InvalidInput`. The messages for every
problem live in `answers/invalid_<problem>` (both languages), shared by all dialogs; they also
get `optional` (the step has a skip button) and, for dates, `ahead` and `unknown` (the step
offers "weet ik niet").

Values are stored as JSON-friendly text: a date as ISO text (or "unknown"), an amount as
"49.95".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.forms import FormRun, InvalidInput, visible_text
from knowledge import answers
from knowledge.answers import AnswerError
from knowledge.dates import UNKNOWN, DateBounds, DateInputError, parse_date

TEXTS = "answers"  # the template folder of every problem
UNKNOWN_DATE = "unknown"  # the stored answer for "weet ik niet"

StepParser = Callable[[str, FormRun], str]


def _optional(run: FormRun) -> bool:
    try:
        return run.form.step(run.step).optional
    except KeyError:
        return False


def invalid(error: AnswerError, run: FormRun, **extra: Any) -> InvalidInput:
    """The form's "ask again" for a parser's problem."""
    return InvalidInput(error.problem.value, texts=TEXTS, optional=_optional(run),
                        **{**error.context, **extra})


def email(text: str, run: FormRun) -> str:
    """The registered e-mail address."""
    try:
        return answers.parse_email(text)
    except AnswerError as error:
        raise invalid(error, run) from None


def domain(text: str, run: FormRun) -> str:
    """One domain name; several at once are asked one at a time."""
    try:
        return answers.parse_domain(visible_text(text))
    except AnswerError as error:
        raise invalid(error, run) from None


PRODUCT_LIMIT = 100  # characters of a product name that is no domain name


def product(text: str, run: FormRun) -> str:
    """A product that has no domain name, stored as the customer typed it (line breaks, emoji
    sequences and all); only its visible characters are counted."""
    visible = " ".join(visible_text(text).split())
    if not visible:
        raise InvalidInput("empty")
    if len(visible) > PRODUCT_LIMIT:
        raise InvalidInput("too_long", limit=PRODUCT_LIMIT)
    return text.strip()


def invoice_number(text: str, run: FormRun) -> str:
    """An invoice number as the provider writes them (`[payment_arrangement] invoice_pattern`)."""
    limits = run.services.config.payment_arrangement
    try:
        return answers.parse_invoice_number(text, limits.invoice_pattern)
    except AnswerError as error:
        raise invalid(error, run, example=limits.invoice_example) from None


def amount(text: str, run: FormRun) -> str:
    """An amount in euros, stored as text with two decimals ("49.95")."""
    try:
        return str(answers.parse_amount(text, run.conv.lang))
    except AnswerError as error:
        raise invalid(error, run) from None


def date_within(bounds: DateBounds) -> StepParser:
    """A step parser for a date within `bounds`, stored as ISO text (or "unknown")."""

    def parse(text: str, run: FormRun) -> str:
        try:
            parsed = parse_date(text, run.services.today(), bounds, lang=run.conv.lang)
        except DateInputError as error:
            raise invalid(error, run, ahead=bounds.ahead, unknown=bounds.unknown) from None
        return UNKNOWN_DATE if parsed is UNKNOWN else parsed.isoformat()

    return parse


# The renewal date of a contract: ahead, at most five years; "weet ik niet" is an answer.
renewal_date = date_within(DateBounds.upcoming(years=5, unknown=True))
# When something happened (e.g. the accidental cancellation): today or at most a year ago.
happened_on = date_within(DateBounds.recent(years=1, unknown=False))
