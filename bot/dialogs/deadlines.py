"""Opzegtermijn berekenen: product.md §2.2 as a short form.

The rules (explained), a renewal date → the computed deadlines → "start de opzeghulp" (the
cancellation guide, with the renewal date filled in), or, when it is too late (the invoice is
probably made), a payment arrangement, or back to the menu.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.types import Message

from bot import answers
from bot.conversation import Conversation
from bot.dialog import Dialog
from bot.dialogs import cancellation, payment_arrangement
from bot.forms import Form, FormRun, Option, Outcome, Step, Values, start_form
from bot.menu import MenuEntry

NAME = "deadlines"


def _derive(run: FormRun) -> Values:
    return cancellation.deadline_values(run.services, run.values.get("renewal_date"))


async def _submit(run: FormRun, action: str) -> Outcome:
    conv = run.conv
    if action == "guide":
        renewal = run.values.get("renewal_date")
        known = isinstance(renewal, str) and renewal != cancellation.UNKNOWN_DATE
        prefill = {"renewal_date": renewal} if known else None

        async def open_guide(edit: Message | None) -> None:
            await cancellation.start(conv, edit, prefill)

        return Outcome("", then=open_guide)
    if action == "payment":

        async def open_payment(edit: Message | None) -> None:
            await payment_arrangement.start(conv, edit)

        return Outcome("", then=open_payment)
    return Outcome("", to_menu=True)


FORM = Form(
    name=NAME,
    code="d",
    steps=(Step("renewal_date", "text", options=cancellation.renewal_options,
                parse=answers.renewal_date, max_length=100,
                problems=cancellation.RENEWAL_PROBLEMS, texts="answers"),),
    finish=(Option("guide", "deadlines.finish.guide"),
            Option("payment", "payment_arrangement.offer",
                   when=lambda values: bool(values.get("too_late"))),
            Option("menu", "deadlines.finish.menu")),
    submit=_submit,
    editable=("renewal_date",),
    derive=_derive,
    context=lambda run: {"unknown_date": cancellation.UNKNOWN_DATE},
)
FORMS = (FORM,)


async def start(conv: Conversation, edit: Message | None) -> None:
    await start_form(FORM, conv, edit=edit)


ENTRIES = (MenuEntry("deadlines", 20, start, deep_links=("opzegtermijn", "deadlines")),)


def router() -> Router:
    """The form mechanism handles every press and answer."""
    return Router(name=NAME)


DIALOG = Dialog(NAME, router, forms=FORMS, entries=ENTRIES)
