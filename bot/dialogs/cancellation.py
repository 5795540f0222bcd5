"""Dienst opzeggen: the cancellation guide of product.md §2.1, as one form.

what to cancel → which domain/product → renewal date → the deadlines → transfer or let expire
(domains) → the six client-panel steps (each with "lukt niet") → end of term or immediately
(immediately confirmed twice) → reason (optional) → summary → "I'll do it in the panel" or
"file a cancellation request" (a ticket). The reason and type are stored either way.

After the end a finished guide is kept (its answers, in the customer's own FSM slot
`KEPT`), so the last message can offer "file the request after all" (the summary again, from
the same answers) and, when several domains were typed at once, "now cancel the next one".

The rules themselves live in `knowledge.deadlines` and `knowledge.dates`; what customers type is
read by `bot.answers` (on top of `knowledge.answers`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

from aiogram import Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot import answers
from bot.answers import UNKNOWN_DATE
from bot.conversation import Button, Conversation
from bot.dialog import Dialog
from bot.dialogs import payment_arrangement
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
    show_current,
    start_form,
)
from bot.menu import MenuEntry
from bot.services import Services
from knowledge.dates import DateProblem, format_date, month_starts
from knowledge.deadlines import Rules, compute_deadlines
from tickets.feedback import CancellationFeedback, FeedbackStore
from tickets.models import Category, Priority

NAME = "cancellation"
SERVICES = ("hosting", "domain", "both", "other")
REASONS = ("price", "moving", "not_needed", "quality", "support", "business_stopped", "other")
NO_REASON = "skipped"
PANEL_STEPS = 6
URGENT_DAYS = 7  # a request this close to the deadline gets priority "high"
# What `parse_renewal` can find wrong; it explains them with this form's templates.
RENEWAL_PROBLEMS = (*(problem.value for problem in DateProblem), "ambiguous")
KEPT = "cancellation"  # the FSM destiny where finished guides are kept (not cleared by /menu)
KEPT_RUNS = 3  # the most recent finished guides whose buttons still work


# --- answers: what customers type, checked (the parsers live in `bot.answers`) ----------------


def _domain_or_product(text: str, run: FormRun) -> str:
    if run.values.get("service") == "other":
        return answers.product(text, run)
    try:
        return answers.domain(text, run)
    except InvalidInput as invalid:
        if invalid.problem == "several_domains":  # one now, the others offered at the end
            run.values["other_domains"] = list(invalid.context.get("domains", []))
        raise


def pending_domains(values: Values) -> list[str]:
    """The domains typed together with this one that are still to be cancelled."""
    if values.get("service") == "other":
        return []
    return [domain for domain in values.get("other_domains") or []
            if isinstance(domain, str) and domain != values.get("domain")]


def renewal_options(run: FormRun) -> list[Option]:
    """Quick picks: the next month-starts, and "weet ik niet"."""
    picks = [
        Option(day.isoformat(), "cancellation.renewal_pick",
               context={"day": format_date(day, run.conv.lang)})
        for day in month_starts(run.services.today(), 3)
    ]
    return [*picks, Option(UNKNOWN_DATE, "cancellation.renewal_unknown")]


def rules_of(services: Services) -> Rules:
    rules = services.config.rules
    return Rules(notice_months=rules.notice_months,
                 transfer_working_days=rules.transfer_working_days,
                 timezone=rules.timezone, holiday_country=rules.holiday_country)


def deadline_values(services: Services, renewal: Any) -> Values:
    """The computed deadlines for a stored renewal answer (all None when it is unknown)."""
    if not isinstance(renewal, str) or renewal == UNKNOWN_DATE:
        return dict.fromkeys(("cancel_by", "transfer_start_by", "too_late", "transfer_too_late",
                              "days_to_cancel"))
    deadlines = compute_deadlines(date.fromisoformat(renewal), rules_of(services),
                                  services.today())
    return {
        "cancel_by": deadlines.cancel_by.isoformat(),
        "transfer_start_by": deadlines.transfer_start_by.isoformat(),
        "too_late": deadlines.too_late,
        "transfer_too_late": deadlines.transfer_too_late,
        "days_to_cancel": deadlines.days_to_cancel,
    }


def _derive(run: FormRun) -> Values:
    return deadline_values(run.services, run.values.get("renewal_date"))


# --- "lukt niet" on a panel step -------------------------------------------------------------


async def _stuck(run: FormRun) -> None:
    """Help in place: how to reach the helpdesk, and the offer to file the request instead."""
    await run.disarm()
    run.values["panel_stuck"] = True
    await show_current(run, notice=run.conv.t("cancellation/stuck", step=run.step))


def _panel_options(run: FormRun) -> list[Option]:
    options = [Option("stuck", "cancellation.stuck", action=_stuck)]
    if run.values.get("panel_stuck"):
        options.append(Option("skip", "cancellation.skip_panel", sets={"panel_skipped": True}))
    return options


def _panel_step(number: int) -> Step:
    return Step(f"panel_{number}", "info", options=_panel_options,
                when=lambda values: not values.get("panel_skipped"))


def _is_domain(values: Values) -> bool:
    return values.get("service") in ("domain", "both")


# --- the form -----------------------------------------------------------------------------------


def _choices(step: str, values: Sequence[str]) -> list[Option]:
    return [Option(value, f"cancellation.{step}.{value}") for value in values]


STEPS: tuple[Step, ...] = (
    # A product name is no domain name: a changed answer asks for the domain/product again.
    Step("service", "choice", options=_choices("service", SERVICES), columns=2,
         resets=("domain",)),
    Step("domain", "text", parse=_domain_or_product, max_length=300, verbatim=True,
         problems=("domain", "several_domains", "empty", "too_long"), texts="answers"),
    Step("renewal_date", "text", options=renewal_options, parse=answers.renewal_date,
         max_length=100, resets=("deadlines",), problems=RENEWAL_PROBLEMS, texts="answers"),
    Step("deadlines", "info"),
    Step("transfer", "choice", options=_choices("transfer", ("move", "expire")),
         when=_is_domain),
    *(_panel_step(number) for number in range(1, PANEL_STEPS + 1)),
    Step("cancellation_type", "choice",
         options=_choices("cancellation_type", ("end_of_term", "immediate")),
         resets=("confirm_immediate",)),
    Step("confirm_immediate", "choice",
         # Deleting everything is confirmed by pressing, never by something typed.
         options=(Option("confirmed", "cancellation.confirm_immediate.confirmed", typed=False),
                  Option("end_of_term", "cancellation.confirm_immediate.end_of_term",
                         sets={"cancellation_type": "end_of_term"})),
         when=lambda values: values.get("cancellation_type") == "immediate"),
    Step("reason", "choice", options=[*_choices("reason", REASONS),
                                      Option(NO_REASON, "cancellation.reason.skipped")],
         columns=2),
    Step("reason_text", "text", optional=True, max_length=1000,
         when=lambda values: values.get("reason") != NO_REASON),
    # Shared with other forms: its prompt is in steps/email/, its error in answers/.
    Step("email", "text", optional=True, parse=answers.email, max_length=254,
         problems=("email",), texts="answers"),
)


def _context(run: FormRun) -> dict[str, Any]:
    return {"panel_steps": PANEL_STEPS, "unknown_date": UNKNOWN_DATE}


def ticket_fields(values: Values) -> dict[str, Any]:
    """The ticket's `fields` (product.md §5)."""
    renewal = values.get("renewal_date")
    reason = values.get("reason")
    return {
        "service": values["service"],
        "domain": values["domain"],
        "renewal_date": None if renewal in (None, UNKNOWN_DATE) else renewal,
        "cancel_by": values.get("cancel_by"),
        "transfer_start_by": values.get("transfer_start_by") if _is_domain(values) else None,
        "too_late": values.get("too_late"),
        "transfer": _is_domain(values) and values.get("transfer") == "move",
        "cancellation_type": values["cancellation_type"],
        "reason": None if reason in (None, NO_REASON) else reason,
        "reason_text": values.get("reason_text") or None,
        "panel_skipped": bool(values.get("panel_skipped")),
        "email": values.get("email"),
    }


async def _submit(run: FormRun, action: str) -> Outcome:
    """The panel route shows its advice at once. The request route files the ticket, its
    confirmation (the summary message becomes it, through the outbox) and the feedback in one
    transaction, so a crash or a Telegram outage loses neither and a second press adds none."""
    values = answered(run)
    if action == "payment":  # the price is the reason: a payment arrangement instead
        prefill = {"email": values["email"]} if values.get("email") else None
        return Outcome("", then=lambda edit: payment_arrangement.start(run.conv, edit, prefill))
    fields = ticket_fields(values)
    services, conv = run.services, run.conv
    await _keep(conv, run.run_id, values)
    # Filed after all from a guide done "in the panel": the same guide, for the statistics.
    origin = values.get("origin_run")
    feedback = CancellationFeedback(
        run_id=origin if isinstance(origin, str) and origin else run.run_id,
        customer_id=conv.user.id, language=conv.lang,
        service=fields["service"], cancellation_type=fields["cancellation_type"],
        reason=fields["reason"], reason_text=fields["reason_text"],
        route="request" if action == "request" else "panel",
    )
    if action != "request":
        await FeedbackStore(services.database).record(feedback)
        buttons = [[(conv.t.label("cancellation.after.request"),
                     AfterCb(action="request", run=run.run_id).pack())],
                   *_next_button(conv, run.run_id, values)]
        return Outcome("cancellation/done_panel", buttons=buttons)

    days = values.get("days_to_cancel")
    urgent = (fields["cancellation_type"] == "immediate" or bool(fields["too_late"])
              or (isinstance(days, int) and days <= URGENT_DAYS))
    async with services.database.transaction():  # the ticket and the feedback together
        ticket = await file_ticket(
            run, category=Category.CANCELLATION, subject=f"Opzegging {fields['domain']}",
            fields=fields, template="cancellation/done_request", email=values.get("email"),
            priority=Priority.HIGH if urgent else Priority.NORMAL,
            buttons=_next_button(conv, run.run_id, values),
        )
        await FeedbackStore(services.database).record(
            dataclasses.replace(feedback, ticket_id=ticket.id))
    return Outcome("")  # the confirmation is on its way through the outbox


FORM = Form(
    name=NAME,
    code="c",
    steps=STEPS,
    # Who skipped the panel steps ("lukt niet") has not seen them: only the request is offered.
    finish=(Option("panel", "cancellation.finish.panel",
                   when=lambda values: not values.get("panel_skipped")),
            Option("request", "cancellation.finish.request"),
            Option("payment", "payment_arrangement.offer",
                   when=lambda values: values.get("reason") == "price")),
    submit=_submit,
    editable=("service", "domain", "renewal_date", "transfer", "cancellation_type", "reason",
              "reason_text", "email"),
    derive=_derive,
    context=_context,
)
FORMS = (FORM,)


async def start(conv: Conversation, edit: Message | None, values: Values | None = None) -> None:
    await start_form(FORM, conv, edit=edit, values=values)


ENTRIES = (MenuEntry("cancel", 10, start, deep_links=("opzeggen", "cancel")),)


# --- started from an answer with the service already chosen ("alleen hosting opzeggen") ------


class GuideCb(CallbackData, prefix="cg"):
    """Start the guide with its first question answered (an article's follow-up button)."""

    service: Literal["hosting", "domain", "both", "other"]


def guide_button(label: str, service: str) -> Button:
    """A button that opens the guide with `service` chosen (one of SERVICES)."""
    return label, GuideCb(service=service).pack()  # type: ignore[arg-type]


async def _guide(query: CallbackQuery, callback_data: GuideCb, conv: Conversation) -> None:
    await query.answer()
    await start(conv, None, {"service": callback_data.service})


# --- after the end: "file the request after all", "now cancel the next domain" ------------------


class AfterCb(CallbackData, prefix="cx"):
    """A button on the last message of a finished guide; `run` is its run id, looked up among
    the customer's own kept guides (the answers never travel in callback data)."""

    action: Literal["request", "next"]
    run: str


def _kept(conv: Conversation) -> FSMContext:
    """The customer's own slot for finished guides, next to (not in) their dialog state."""
    key = dataclasses.replace(conv.state.key, destiny=KEPT)
    return FSMContext(storage=conv.state.storage, key=key)


async def _keep(conv: Conversation, run_id: str, values: Values) -> None:
    kept = await _kept(conv).get_data()
    runs = {run: answers for run, answers in dict(kept.get("runs", {})).items()
            if run != run_id}
    runs[run_id] = values
    await _kept(conv).set_data({"runs": dict(list(runs.items())[-KEPT_RUNS:])})


async def kept_values(conv: Conversation, run_id: str) -> Values | None:
    """The answers of this customer's finished guide `run_id`, if it is still kept."""
    runs = (await _kept(conv).get_data()).get("runs", {})
    values = runs.get(run_id) if isinstance(runs, dict) else None
    return dict(values) if isinstance(values, dict) else None


def _next_button(conv: Conversation, run_id: str, values: Values) -> list[list[Button]]:
    pending = pending_domains(values)
    if not pending:
        return []
    return [[(conv.t.label("cancellation.after.next", domain=pending[0]),
              AfterCb(action="next", run=run_id).pack())]]


async def _after(query: CallbackQuery, callback_data: AfterCb, conv: Conversation) -> None:
    values = await kept_values(conv, callback_data.run)
    message = query.message if isinstance(query.message, Message) else None
    if values is None:  # not this customer's, or long gone
        await query.answer(conv.t.label("form.stale"))
        await conv.drop_buttons(message.message_id if message else None)
        return
    await query.answer()
    # The message keeps its text (advice still true) and loses its buttons; what follows is
    # shown below it, as the newest message.
    await conv.drop_buttons(message.message_id if message else None)
    if callback_data.action == "request":
        # Every step is answered: the form opens at its summary, with only the request left.
        await start(conv, None, {**values, "panel_skipped": True,
                                 "origin_run": values.get("origin_run") or callback_data.run})
        return
    pending = pending_domains(values)
    if pending:
        await start(conv, None, {"service": values["service"], "domain": pending[0],
                                 "other_domains": pending[1:]})


def router() -> Router:
    """The form mechanism handles the guide itself; here only the buttons after its end."""
    cancellation = Router(name=NAME)
    cancellation.callback_query.register(_after, AfterCb.filter())
    cancellation.callback_query.register(_guide, GuideCb.filter())
    return cancellation


DIALOG = Dialog(NAME, router, forms=FORMS, entries=ENTRIES)
