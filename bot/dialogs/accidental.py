"""Per ongeluk direct opgezegd: product.md §2.4 as a short form, because every hour counts.

registered e-mail → the domain (or, after "geen domeinnaam", the product) → when it happened
(typed, or "Vandaag"/"Gisteren") → summary, one tap → an urgent ticket. The colleagues are
alerted through the outbox (`bot.notices`, urgent tickets marked 🚨); the customer is told
honestly that the provider will try to restore it, without a guarantee, and what to do meanwhile.

What customers type is read by `bot.answers` (on top of `knowledge.answers` and `knowledge.dates`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

from aiogram import Router
from aiogram.types import Message

from bot import answers
from bot.conversation import Conversation
from bot.dialog import Dialog
from bot.forms import (
    Form,
    FormRun,
    Option,
    Outcome,
    Step,
    Values,
    answered,
    file_ticket,
    show_current,
    start_form,
)
from bot.menu import MenuEntry
from knowledge.dates import DateProblem, format_date, format_weekday_date
from tickets.models import Category, Priority

NAME = "accidental_cancellation"
# What `answers.happened_on` can find wrong; explained by the shared `answers/` templates.
DATE_PROBLEMS = tuple(problem.value for problem in DateProblem)


# --- the domain, or a product that has none --------------------------------------------------


def _is_product(values: Values) -> bool:
    return bool(values.get("not_a_domain"))


def _domain_or_product(text: str, run: FormRun) -> str:
    if not _is_product(run.values):
        return answers.domain(text, run)
    return answers.product(text, run)


def _switch(not_a_domain: bool) -> Callable[[FormRun], Awaitable[None]]:
    async def switch(run: FormRun) -> None:
        """Ask for a product name instead of a domain (or back); the step stays current."""
        run.values["not_a_domain"] = not_a_domain
        run.values.pop("domain", None)  # a domain is no product name, nor the other way round
        await run.disarm()
        await show_current(run)

    return switch


def _domain_options(run: FormRun) -> list[Option]:
    if _is_product(run.values):
        return [Option("domain", "accidental_cancellation.is_a_domain", action=_switch(False))]
    return [Option("product", "accidental_cancellation.not_a_domain", action=_switch(True))]


# --- when it happened -------------------------------------------------------------------------


def _happened_options(run: FormRun) -> list[Option]:
    """Quick picks: today and yesterday (as ISO dates, read by the same parser as typed text)."""
    today = run.services.today()
    return [Option(today.isoformat(), "accidental_cancellation.today"),
            Option((today - timedelta(days=1)).isoformat(), "accidental_cancellation.yesterday")]


# --- the form -----------------------------------------------------------------------------------


STEPS: tuple[Step, ...] = (
    # Shared with other forms: its error in answers/; required here (a colleague needs the
    # account to restore anything). The prompt is this form's own, with a word of why.
    Step("email", "text", parse=answers.email, max_length=254, problems=("email",),
         texts="answers"),
    Step("domain", "text", options=_domain_options, parse=_domain_or_product, max_length=300,
         verbatim=True,
         problems=("domain", "several_domains", "empty", "too_long"), texts="answers"),
    Step("happened_on", "text", options=_happened_options, parse=answers.happened_on,
         max_length=100, columns=2, problems=DATE_PROBLEMS, texts="answers"),
)


def ticket_fields(values: Values) -> dict[str, Any]:
    """The ticket's `fields` (product.md §5)."""
    return {
        "email": values["email"],
        "domain": values["domain"],
        "is_domain": not _is_product(values),
        "happened_on": values["happened_on"],
    }


def subject(values: Values) -> str:
    """The ticket's subject, in Dutch like every ticket's (the colleagues' language): what, and
    since when (the staff group's alert shows it, so every hour is visible)."""
    happened_on = format_date(date.fromisoformat(values["happened_on"]), "nl")
    return f"{values['domain']}, per direct opgezegd op {happened_on}"


def office(run: FormRun) -> dict[str, Any]:
    """Whether the colleagues are at work now (`[office_hours]`), else when they are back."""
    now = run.services.now()
    opening = run.services.next_opening(now)
    back = None if opening is None or opening == now else opening
    return {
        "office_open": opening is not None and opening == now,
        "back_day": None if back is None else format_weekday_date(back.date(), run.conv.lang),
        "back_time": None if back is None else back.strftime("%H:%M"),
    }


async def _submit(run: FormRun, action: str) -> Outcome:
    """The urgent ticket and its confirmation (the summary message becomes it, through the
    outbox) in one transaction: a crash or an outage loses neither, a second press adds none.
    The staff group's alert comes with the ticket (`bot.notices`)."""
    values = answered(run)
    await file_ticket(
        run, category=Category.ACCIDENTAL_CANCELLATION, subject=subject(values),
        fields=ticket_fields(values), template=f"{NAME}/done", email=values["email"],
        priority=Priority.URGENT, **office(run),
    )
    return Outcome("")  # the confirmation is on its way through the outbox


FORM = Form(
    name=NAME,
    code="a",
    steps=STEPS,
    finish=(Option("file", "accidental_cancellation.finish.file"),),
    submit=_submit,
    editable=("email", "domain", "happened_on"),
    context=lambda run: {"product": _is_product(run.values)},
)
FORMS = (FORM,)


async def start(conv: Conversation, edit: Message | None) -> None:
    await start_form(FORM, conv, edit=edit)


ENTRIES = (MenuEntry("accidental", 40, start, deep_links=("per-ongeluk", "accidental")),)


def router() -> Router:
    """The form mechanism handles every press and answer; nothing particular is left here."""
    return Router(name=NAME)


DIALOG = Dialog(NAME, router, forms=FORMS, entries=ENTRIES)
