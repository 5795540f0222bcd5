"""Betalingsregeling aanvragen: product.md §2.3 as one form.

registered e-mail → invoice number → amount (optional) → the reason (required, well-founded) →
the proposal: pay in full on a date (tomorrow up to `max_days` ahead) or in 2…`max_instalments`
monthly instalments → summary → a ticket for billing. The bot never promises approval: the
confirmation says a colleague reviews the request and that nothing is approved yet.

Also opened from the deadline calculator's "too late" branch and from the cancellation guide
when the reason is the price (`start`, optionally with the e-mail address filled in).
"""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.types import Message

from bot import answers
from bot.config import PaymentArrangementConfig
from bot.conversation import Conversation
from bot.dialog import Dialog
from bot.forms import (
    Form,
    FormRun,
    InvalidInput,
    Option,
    Outcome,
    Step,
    Values,
    answered,
    file_ticket,
    start_form,
    visible_text,
)
from bot.menu import MenuEntry
from bot.services import Services
from knowledge.dates import DateBounds, DateProblem
from tickets.models import Category

NAME = "payment_arrangement"
MENU_KEY = "payment"  # bot.dialogs.question.ACTIONS: the article action "payment"
PROPOSALS = ("pay_on", "instalments")
AMOUNT_PROBLEMS = ("amount_unreadable", "amount_zero", "amount_negative", "amount_too_large")
# A date to pay on is ahead and never "weet ik niet": what `parse_date` can find wrong then.
PAY_DATE_PROBLEMS = tuple(problem.value for problem in DateProblem
                          if problem not in (DateProblem.FUTURE, DateProblem.TOO_LONG_AGO))


def _limits(services: Services) -> PaymentArrangementConfig:
    return services.config.payment_arrangement


# --- answers ------------------------------------------------------------------------------------


def _reason(text: str, run: FormRun) -> str:
    """A well-founded reason needs some words: shorter than `min_reason_length` is asked again.
    What the customer typed is stored as typed."""
    length = len(" ".join(visible_text(text).split()))
    minimum = _limits(run.services).min_reason_length
    if length == 0 or length < minimum:
        raise InvalidInput("reason_too_short", length=length, minimum=minimum)
    return text


def pay_date_bounds(services: Services) -> DateBounds:
    return DateBounds.next_days(_limits(services).max_days)


def _pay_date(text: str, run: FormRun) -> str:
    """A date to pay in full on: tomorrow up to `max_days` ahead; the explanations say which."""
    bounds, today = pay_date_bounds(run.services), run.services.today()
    try:
        return answers.date_within(bounds)(text, run)
    except InvalidInput as invalid:
        window = {"earliest": bounds.earliest(today), "latest": bounds.latest(today)}
        raise InvalidInput(invalid.problem, texts=invalid.texts,
                           **{**window, **invalid.context}) from None


def _instalment_options(run: FormRun) -> list[Option]:
    return [Option(str(count), "payment_arrangement.instalments.count", context={"count": count})
            for count in range(2, _limits(run.services).max_instalments + 1)]


# --- the form -----------------------------------------------------------------------------------


STEPS: tuple[Step, ...] = (
    # Shared with other forms: its prompt is in steps/email/, its error in answers/.
    Step("email", "text", parse=answers.email, max_length=254, problems=("email",),
         texts="answers"),
    Step("invoice_number", "text", parse=answers.invoice_number, max_length=100,
         problems=("invoice_number",), texts="answers"),
    Step("amount", "text", optional=True, parse=answers.amount, max_length=100,
         problems=AMOUNT_PROBLEMS, texts="answers"),
    Step("reason_text", "text", parse=_reason, max_length=1000, verbatim=True,
         problems=("reason_too_short",)),
    Step("proposal", "choice",
         options=[Option(kind, f"payment_arrangement.proposal.{kind}") for kind in PROPOSALS],
         resets=("pay_date", "instalments")),
    Step("pay_date", "text", parse=_pay_date, max_length=100, problems=PAY_DATE_PROBLEMS,
         texts="answers", when=lambda values: values.get("proposal") == "pay_on"),
    Step("instalments", "choice", options=_instalment_options, columns=3,
         when=lambda values: values.get("proposal") == "instalments"),
)


def _context(run: FormRun) -> dict[str, Any]:
    limits = _limits(run.services)
    bounds = pay_date_bounds(run.services)
    today = run.services.today()
    return {"example": limits.invoice_example, "max_days": limits.max_days,
            "max_instalments": limits.max_instalments,
            "min_reason_length": limits.min_reason_length,
            "earliest": bounds.earliest(today), "latest": bounds.latest(today)}


def proposal_of(values: Values) -> dict[str, Any]:
    if values.get("proposal") == "pay_on":
        return {"kind": "pay_on", "date": values["pay_date"]}
    return {"kind": "instalments", "count": int(values["instalments"])}


def ticket_fields(values: Values) -> dict[str, Any]:
    """The ticket's `fields` (product.md §5)."""
    return {
        "email": values["email"],
        "invoice_number": values["invoice_number"],
        "amount": values.get("amount"),  # "49.95", or None when skipped
        "reason_text": values["reason_text"],
        "proposal": proposal_of(values),
    }


async def _submit(run: FormRun, action: str) -> Outcome:
    """Files the ticket and its confirmation (the summary message becomes it, through the
    outbox) in one transaction, so a crash loses neither and a second press adds none."""
    values = answered(run)
    fields = ticket_fields(values)
    await file_ticket(
        run, category=Category.PAYMENT_ARRANGEMENT,
        subject=f"Betalingsregeling factuur {fields['invoice_number']}", fields=fields,
        template=f"{NAME}/done", email=fields["email"],
    )
    return Outcome("")  # the confirmation is on its way through the outbox


FORM = Form(
    name=NAME,
    code="p",
    steps=STEPS,
    finish=(Option("request", "payment_arrangement.finish.request"),),
    submit=_submit,
    editable=("email", "invoice_number", "amount", "reason_text", "proposal", "pay_date",
              "instalments"),
    context=_context,
)
FORMS = (FORM,)


async def start(conv: Conversation, edit: Message | None, values: Values | None = None) -> None:
    """Open the form; another dialog may fill in what it already knows (the e-mail)."""
    await start_form(FORM, conv, edit=edit, values=values)


ENTRIES = (MenuEntry(MENU_KEY, 30, start, deep_links=("betaling", "payment")),)


def router() -> Router:
    """The form mechanism handles every press and answer."""
    return Router(name=NAME)


DIALOG = Dialog(NAME, router, forms=FORMS, entries=ENTRIES)
