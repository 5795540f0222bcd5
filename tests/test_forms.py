"""The form mechanism's own rules: short codes in callback data, what registration refuses,
the lookup chain of shared step texts, and summaries that say what the buttons said."""

from __future__ import annotations

from typing import Any

import pytest

from bot.dialogs import cancellation, deadlines
from bot.forms import (
    CALLBACK_LIMIT,
    SUMMARY_CODE,
    VALUE_LIMIT,
    Form,
    FormCb,
    FormRegistry,
    Option,
    Outcome,
    Step,
    field_labels,
    invalid_templates,
    longest_button,
    prompt_templates,
    short_code,
)
from tests.client import TelegramUser
from tests.test_cancellation import to_summary


async def _submit(run: Any, action: str) -> Outcome:
    return Outcome("")


def form(name: str = "example", *steps: Step, code: str = "") -> Form:
    return Form(name=name, code=code, steps=steps or (Step("email", "text"),),
                finish=(Option("send", "example.send"),), submit=_submit)


def registry() -> FormRegistry:
    async def on_stop(conv: Any, edit: Any) -> None:
        return None

    return FormRegistry(on_stop=on_stop)


# --- codes ---------------------------------------------------------------------------------


def test_codes_are_derived_from_names_and_stable() -> None:
    assert short_code("payment_arrangement") == short_code("payment_arrangement")
    assert len(short_code("accidental_cancellation")) == 3
    assert Step("invoice_number", "text").code == short_code("invoice_number")
    assert Step("proposal", "choice", code="p").code == "p"
    assert form("accidental_cancellation").code == short_code("accidental_cancellation")


def test_callback_data_carries_codes_not_names() -> None:
    data = longest_button(cancellation.FORM)
    assert data.startswith("f:c:") and "cancellation" not in data
    assert len(data.encode()) <= CALLBACK_LIMIT - 10  # with room


@pytest.mark.parametrize("code", ["toolong", "A", "a:b", "_"])
def test_a_declared_code_is_short_and_plain(code: str) -> None:
    with pytest.raises(ValueError, match="code"):
        Step("x", "text", code=code)


def test_registration_rejects_the_same_form_code_twice() -> None:
    forms = registry()
    forms.add(form("one", code="x"))
    with pytest.raises(ValueError, match="same code 'x'"):
        forms.add(form("two", code="x"))
    with pytest.raises(ValueError, match="registered twice"):
        forms.add(form("one", code="y"))


def test_registration_rejects_the_same_step_code_twice() -> None:
    with pytest.raises(ValueError, match="same code 'a'"):
        registry().add(form("f", Step("email", "text", code="a"),
                            Step("proposal", "choice", code="a")))
    with pytest.raises(ValueError, match="declared twice"):
        registry().add(form("f", Step("email", "text"), Step("email", "choice")))


def test_registration_rejects_unknown_editable_steps() -> None:
    broken = Form(name="f", steps=(Step("email", "text"),), finish=(), submit=_submit,
                  editable=("emial",))
    with pytest.raises(ValueError, match="emial"):
        registry().add(broken)


def test_an_option_value_too_long_for_callback_data_is_refused() -> None:
    Option("x" * VALUE_LIMIT, "example.ok")
    with pytest.raises(ValueError, match="at most"):
        Option("x" * (VALUE_LIMIT + 1), "example.long")
    with pytest.raises(ValueError, match="':'"):
        Option("a:b", "example.colon")


def test_the_real_forms_register_and_their_longest_button_fits() -> None:
    forms = registry()
    for each in (cancellation.FORM, deadlines.FORM):
        forms.add(each)
        assert len(longest_button(each).encode()) <= CALLBACK_LIMIT
        assert SUMMARY_CODE not in {step.code for step in each.steps}


def test_callback_data_of_an_older_format_is_not_mistaken_for_a_form() -> None:
    old = FormCb.unpack("f:cancellation:service:pick:domain:0a1b2c3d")  # sent before codes
    assert old.form != cancellation.FORM.code


# --- the lookup chain -------------------------------------------------------------------------


def test_a_prompt_is_looked_up_in_the_form_then_in_the_shared_steps() -> None:
    email = cancellation.FORM.step("email")
    assert prompt_templates(cancellation.FORM, email) == ("cancellation/email",
                                                           "steps/email/prompt")


def test_an_error_is_looked_up_form_then_parser_then_step_then_everywhere() -> None:
    renewal = cancellation.FORM.step("renewal_date")
    assert invalid_templates(deadlines.FORM, renewal, "past", "cancellation") == (
        "deadlines/invalid_past", "cancellation/invalid_past",
        "steps/renewal_date/invalid_past", "form/invalid_past")
    assert invalid_templates(cancellation.FORM, None, "empty") == (
        "cancellation/invalid_empty", "form/invalid_empty")


def test_a_field_label_is_looked_up_in_the_form_then_in_the_shared_steps() -> None:
    assert field_labels(cancellation.FORM, "email") == ("cancellation.field.email",
                                                         "steps.email.field")


# --- in a conversation ------------------------------------------------------------------------


async def test_the_shared_email_step_asks_and_explains(anna: TelegramUser) -> None:
    await to_summary(anna, service="Hostingpakket", domain="voorbeeld.nl",
                     renewal="15-03-2027", email="anna@voorbeeld.nl")
    await anna.press("E-mailadres")  # the shared field label on the edit button
    assert "Met welk e-mailadres ben je bij MijnHostingPartner geregistreerd?" in anna.last_text()
    assert "optioneel" in anna.last_text()
    await anna.send("geen adres")
    assert "Dat lijkt geen e-mailadres" in anna.last_text()
    assert "Overslaan" in anna.last_text()


async def test_the_summary_says_what_the_buttons_said(anna: TelegramUser) -> None:
    await to_summary(anna, service="Hosting én domein", domain="voorbeeld.nl",
                     renewal="15-03-2027", transfer="Laten verlopen",
                     reason="Zeg ik liever niet")
    summary = anna.last_text()
    assert "Wat: Hosting én domein" in summary
    assert "Reden: Zeg ik liever niet" in summary


async def test_the_english_summary_says_what_the_buttons_said(john: TelegramUser) -> None:
    await john.send("/start")
    await john.press("Cancel a service")
    await john.press("Other product")
    await john.send("Mailbox Plus")
    await john.press("I don't know")
    await john.press("Next")
    for _ in range(6):
        await john.press("Next")
    await john.press("End of term")
    await john.press("Support and service")
    await john.press("Skip")
    await john.press("Skip")
    summary = john.last_text()
    assert "What: Other product" in summary
    assert "Reason: Support and service" in summary


def test_the_coming_forms_fit_next_to_the_present_ones() -> None:
    """payment_arrangement and accidental_cancellation (product.md §2.3, §2.4), as sketched."""
    forms = registry()
    forms.add(cancellation.FORM)
    forms.add(deadlines.FORM)
    coming = [
        form("payment_arrangement", Step("email", "text"), Step("invoice_number", "text"),
             Step("amount", "text", optional=True), Step("payment_reason", "text"),
             Step("proposal", "choice", options=(Option("pay_on_date", "x.date"),
                                                 Option("instalments", "x.instalments")))),
        form("accidental_cancellation", Step("email", "text"), Step("domain", "text"),
             Step("happened_on", "text")),
    ]
    for each in coming:
        forms.add(each)
        assert len(longest_button(each).encode()) <= CALLBACK_LIMIT - 10
    assert len({each.code for each in forms.forms.values()}) == 4
