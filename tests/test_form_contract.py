"""The contract every form keeps, checked for each form the dialogs register (bot.dialogs:
DIALOGS → FORMS), so a new form is covered without a new test.

In both languages a form has every text it can show — each step's prompt (along the lookup
chain, so a shared step's text counts), its summary, an explanation for every problem its
parsers declare (and "too long" for every text step), the label of every option and final
button, and a field label for every editable step — and every button it can show carries
callback data within Telegram's 64 bytes, packed as the mechanism packs it.
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest

from bot import dialogs
from bot.config import Config
from bot.forms import (
    CALLBACK_LIMIT,
    SUMMARY,
    SUMMARY_CODE,
    Form,
    FormRegistry,
    FormRun,
    Step,
    field_labels,
    invalid_templates,
    longest_button,
    pack,
    prompt_templates,
    step_buttons,
    summary_buttons,
)
from bot.texts import LANGUAGES, Texts

TODAY = date(2026, 11, 28)  # as the e2e fixture pins it
RUN_ID = "0123456789ab"  # a full run id (12 characters), as start_form makes it

FORMS: list[Form] = [form for dialog in dialogs.DIALOGS for form in dialog.forms]


def every_form(test: Any) -> Any:
    return pytest.mark.parametrize("form", FORMS, ids=[form.name for form in FORMS])(
        pytest.mark.parametrize("lang", LANGUAGES)(test))


@pytest.fixture(scope="module")
def texts() -> Texts:
    config = Config()
    return Texts({"provider": config.provider, "rules": config.rules})


def run_of(form: Form, texts: Texts, lang: str, step: str = "") -> FormRun:
    services = SimpleNamespace(today=lambda: TODAY, texts=texts, config=Config())
    conv: Any = SimpleNamespace(lang=lang, t=texts.for_language(lang), services=services)
    return FormRun(form, conv, step, {}, ["earlier"], RUN_ID)


def problems_of(step: Step) -> list[str]:
    """What can be wrong with an answer to `step`: what its parser declares, and for a text
    step the mechanism's own "too long"."""
    return [*step.problems, *(["too_long"] if step.kind == "text" else [])]


def test_every_registered_form_is_walked() -> None:
    assert {"cancellation", "deadlines"} <= {form.name for form in FORMS}
    registry = FormRegistry(on_stop=lambda conv, edit: None)  # type: ignore[arg-type]
    for form in FORMS:
        registry.add(form)  # unique codes, bounded buttons


@every_form
def test_every_step_has_a_prompt(form: Form, lang: str, texts: Texts) -> None:
    missing = [step.name for step in form.steps
               if not any(texts.has_template(lang, name)
                          for name in prompt_templates(form, step))]
    assert missing == [], f"{lang}: no prompt for {missing}"


@every_form
def test_the_summary_has_a_template(form: Form, lang: str, texts: Texts) -> None:
    assert texts.has_template(lang, f"{form.name}/summary")


@every_form
def test_every_declared_problem_is_explained(form: Form, lang: str, texts: Texts) -> None:
    missing = [
        (step.name, problem) for step in form.steps for problem in problems_of(step)
        if not any(texts.has_template(lang, name)
                   for name in invalid_templates(form, step, problem))
    ]
    assert missing == []


@every_form
def test_every_option_and_final_button_has_a_label(form: Form, lang: str, texts: Texts) -> None:
    run = run_of(form, texts, lang)
    keys = [option.label for step in form.steps for option in step.options_for(run)]
    keys += [option.label for option in form.finish]
    keys += ["nav.next", "nav.back", "nav.stop", "nav.skip", "nav.edit"]
    assert [key for key in keys if not texts.has_label(lang, key)] == []


@every_form
def test_every_editable_step_has_a_field_label(form: Form, lang: str, texts: Texts) -> None:
    missing = [name for name in form.editable
               if not any(texts.has_label(lang, key) for key in field_labels(form, name))]
    assert missing == []


@every_form
def test_every_button_fits_telegrams_64_bytes(form: Form, lang: str, texts: Texts) -> None:
    run = run_of(form, texts, lang)
    assert len(longest_button(form).encode()) <= CALLBACK_LIMIT  # what registration checks
    packed: list[str] = []
    for step in form.steps:
        run.step = step.name
        packed += [data for row in step_buttons(run, step) for _label, data in row]
    run.step = SUMMARY
    packed += [data for row in summary_buttons(run) for _label, data in row]
    # also the final and edit buttons a summary only shows for some answers
    packed += [pack(form, SUMMARY_CODE, "done", option.value, RUN_ID) for option in form.finish]
    packed += [pack(form, SUMMARY_CODE, "edit", form.step(name).code, RUN_ID)
               for name in form.editable]
    assert len(packed) > len(form.steps)
    assert [data for data in packed if len(data.encode()) > CALLBACK_LIMIT] == []
    assert all(data.endswith(":" + RUN_ID[:8]) for data in packed)  # old runs stay stale
