"""The form mechanism: a dialog is declared as data, and this module runs it.

A `Form` is an ordered list of `Step`s. The mechanism asks each step that applies, validates
what the customer types, re-asks with a clear message, keeps "Stap 2 van 6" right, goes Back,
Stops, shows the summary with edit buttons, and hands the confirmed values to the form's
`submit`. Its state is one FSM state plus JSON data, so it survives a restart.

Templates: `<form>/<step>` for each step, `<form>/summary`, `form/progress`, `form/invalid_*`.
Labels: `nav.*` and whatever the options name.
"""

from __future__ import annotations

import logging
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.conversation import Button, Conversation, keyboard

log = logging.getLogger(__name__)

Values = dict[str, Any]


class FormStates(StatesGroup):
    active = State()


class FormCb(CallbackData, prefix="f"):
    """A press inside a form. `step` and `run` (the start of the run id) let a press on an
    old message — an earlier step, or an earlier run of the same form — be recognised."""

    form: str
    step: str
    action: Literal["pick", "next", "back", "stop", "edit", "done"]
    value: str = ""
    run: str = ""


RUN_TAG = 8  # characters of the run id carried in callback data (64-byte limit)


class InvalidInput(ValueError):
    """Raised by a step's parser: `problem` names the template `<form>/invalid_<problem>` or
    `form/invalid_<problem>` that explains what is wrong. A parser that several forms share
    names its own templates' folder as `texts` (so `<texts>/invalid_<problem>` is used)."""

    def __init__(self, problem: str, *, texts: str | None = None, **context: Any) -> None:
        super().__init__(problem)
        self.problem = problem
        self.texts = texts
        self.context = context


@dataclass(frozen=True)
class Option:
    value: str
    label: str  # label key
    sets: Mapping[str, Any] = field(default_factory=dict)  # other values this choice changes
    # A side trip (e.g. "lukt niet": offer help) instead of an answer; the step stays current.
    action: Callable[[FormRun], Awaitable[None]] | None = None
    when: Callable[[Values], bool] | None = None  # offered only when this holds

    def offered(self, values: Values) -> bool:
        return self.when is None or self.when(values)
    context: Mapping[str, Any] = field(default_factory=dict)  # variables for the label


@dataclass(frozen=True)
class Step:
    name: str
    kind: Literal["choice", "text", "info"]
    options: Sequence[Option] | Callable[[FormRun], Sequence[Option]] = ()
    parse: Callable[[str, FormRun], Any] | None = None
    when: Callable[[Values], bool] | None = None
    columns: int = 1
    max_length: int = 500
    optional: bool = False  # a text step with a "skip" button
    resets: Sequence[str] = ()  # answers that depend on this one: asked again when it changes

    def applies(self, values: Values) -> bool:
        return self.when is None or self.when(values)

    def options_for(self, run: FormRun) -> Sequence[Option]:
        return self.options(run) if callable(self.options) else self.options


@dataclass(frozen=True)
class Outcome:
    """What the customer sees once a form is submitted."""

    template: str  # "" shows nothing (e.g. when `then` opens the next dialog)
    context: Mapping[str, Any] = field(default_factory=dict)
    buttons: Sequence[Sequence[Button]] = ()
    # What follows, e.g. another form; gets the message to edit when no text was shown.
    then: Callable[[Message | None], Awaitable[None]] | None = None


@dataclass(frozen=True)
class Form:
    name: str
    steps: Sequence[Step]
    finish: Sequence[Option]  # the summary's final buttons, e.g. "file a request"
    submit: Callable[[FormRun, str], Awaitable[Outcome]]
    editable: Sequence[str] = ()
    derive: Callable[[FormRun], Values] | None = None  # computed values, after every answer
    context: Callable[[FormRun], Mapping[str, Any]] | None = None  # extra template variables

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def applicable(self, values: Values) -> list[Step]:
        return [step for step in self.steps if step.applies(values)]


@dataclass
class FormRun:
    """A form in progress for one customer."""

    form: Form
    conv: Conversation
    step: str  # a step name, or SUMMARY
    values: Values
    history: list[str]
    run_id: str
    editing: bool = False
    message_id: int | None = None  # the message showing the current step

    @property
    def services(self) -> Any:
        return self.conv.services

    def to_data(self) -> Values:
        return {
            "form": self.form.name, "step": self.step, "values": self.values,
            "history": self.history, "run_id": self.run_id, "editing": self.editing,
            "message_id": self.message_id,
        }

    async def disarm(self) -> None:
        """Take the buttons off the step's message, before the step is shown anew below."""
        await self.conv.drop_buttons(self.message_id)


SUMMARY = "_summary"


class FormRegistry:
    def __init__(self, on_stop: Callable[[Conversation, Message | None], Awaitable[None]]) -> None:
        self.forms: dict[str, Form] = {}
        self.on_stop = on_stop  # shows where a customer lands after Stop (the menu)

    def add(self, form: Form) -> Form:
        if form.name in self.forms:
            raise ValueError(f"form {form.name} registered twice")
        self.forms[form.name] = form
        return form


async def start_form(
    form: Form, conv: Conversation, *, edit: Message | None = None, values: Values | None = None
) -> None:
    """Start `form`; steps answered in `values` (prefilled by another dialog) are not asked."""
    run = FormRun(form, conv, "", dict(values or {}), [], uuid.uuid4().hex[:12])
    run.editing = bool(values)  # "skip what is answered" until the summary is reached
    _recompute(run)
    run.step = _next_step(run, after=None)
    if run.step == SUMMARY:
        run.editing = False
    await conv.state.set_state(FormStates.active)
    await _show(run, edit=edit)


async def leave(conv: Conversation) -> None:
    """End whatever dialog the customer is in: its last message loses its buttons (so it
    cannot be submitted later by an old press) and the state is cleared."""
    data = await conv.state.get_data()
    await conv.drop_buttons(data.get("message_id"))
    await conv.state.clear()


async def load_run(conv: Conversation, registry: FormRegistry) -> FormRun | None:
    if await conv.state.get_state() != FormStates.active.state:
        return None
    data = await conv.state.get_data()
    form = registry.forms.get(data.get("form", ""))
    if form is None:
        return None
    return FormRun(form, conv, data["step"], dict(data.get("values", {})),
                   list(data.get("history", [])), data.get("run_id", ""),
                   bool(data.get("editing", False)), data.get("message_id"))


async def show_current(
    run: FormRun, *, edit: Message | None = None, notice: str | None = None
) -> None:
    """Show the current step again, optionally with a notice above it (e.g. help)."""
    await _show(run, edit=edit, error=notice)


def _recompute(run: FormRun) -> None:
    if run.form.derive is not None:
        run.values.update(run.form.derive(run))


def _next_step(run: FormRun, after: str | None) -> str:
    """The first applicable step after `after` that has no answer yet (or simply the next one)."""
    names = [step.name for step in run.form.steps]
    start = names.index(after) + 1 if after in names else 0
    for step in run.form.steps[start:]:
        if not step.applies(run.values):
            continue
        if run.editing and step.name in run.values:
            continue
        return step.name
    return SUMMARY


def progress(run: FormRun) -> tuple[int, int]:
    applicable = [step.name for step in run.form.applicable(run.values)]
    total = len(applicable) + 1  # the summary is the last step
    if run.step == SUMMARY or run.step not in applicable:
        return total, total
    return applicable.index(run.step) + 1, total


def _template_context(run: FormRun, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"values": answered(run)}
    if run.form.context is not None:
        context.update(run.form.context(run))
    context.update(extra)
    return context


def visible_text(text: str) -> str:
    """What a customer typed, without invisible format characters (zero-width spaces,
    right-to-left overrides) that would make a stored answer or a summary deceptive."""
    return "".join(char for char in text if unicodedata.category(char) != "Cf").strip()


def first_unanswered(run: FormRun) -> str | None:
    """The first step that applies now but has no answer (e.g. a confirmation that a changed
    answer made necessary): the summary cannot be shown or submitted before it is answered."""
    for step in run.form.steps:
        if step.applies(run.values) and step.name not in run.values:
            return step.name
    return None


async def _show(run: FormRun, *, edit: Message | None, error: str | None = None) -> None:
    conv, t = run.conv, run.conv.t
    if run.step == SUMMARY:
        _recompute(run)  # derived values (deadlines) are as of today, also days later
    if run.step == SUMMARY and (missing := first_unanswered(run)) is not None:
        run.step, run.editing = missing, True
        error = error or t("form/answer_first")
    index, total = progress(run)
    header = t("form/progress", index=index, total=total)
    if run.step == SUMMARY:
        body = t(f"{run.form.name}/summary", **_template_context(run))
        rows = _summary_buttons(run)
    else:
        step = run.form.step(run.step)
        body = t(f"{run.form.name}/{step.name}", **_template_context(run))
        rows = _step_buttons(run, step)
    text = "\n\n".join(part for part in (header, error, body) if part)
    message = await conv.show(text, keyboard(rows), edit=edit)
    run.message_id = message.message_id if message is not None else None
    await conv.state.set_data(run.to_data())


def _cb(run: FormRun, action: str, value: str = "") -> str:
    return FormCb(form=run.form.name, step=run.step, action=action,  # type: ignore[arg-type]
                  value=value, run=run.run_id[:RUN_TAG]).pack()


def _step_buttons(run: FormRun, step: Step) -> list[list[Button]]:
    t = run.conv.t
    rows: list[list[Button]] = []
    row: list[Button] = []
    for option in step.options_for(run):
        label = t.label(option.label, values=run.values, **option.context)
        row.append((label, _cb(run, "pick", option.value)))
        if len(row) == step.columns:
            rows.append(row)
            row = []
    rows.append(row)
    if step.kind == "info":
        rows.append([(t.label("nav.next"), _cb(run, "next"))])
    if step.kind == "text" and step.optional:
        rows.append([(t.label("nav.skip"), _cb(run, "next"))])
    rows.append(_nav(run))
    return rows


def _nav(run: FormRun) -> list[Button]:
    t = run.conv.t
    nav: list[Button] = []
    if run.history:
        nav.append((t.label("nav.back"), _cb(run, "back")))
    nav.append((t.label("nav.stop"), _cb(run, "stop")))
    return nav


def _summary_buttons(run: FormRun) -> list[list[Button]]:
    t = run.conv.t
    rows: list[list[Button]] = [
        [(t.label(option.label, values=run.values), _cb(run, "done", option.value))]
        for option in run.form.finish if option.offered(run.values)
    ]
    edits = [
        (t.label("nav.edit", field=t.label(f"{run.form.name}.field.{name}")),
         _cb(run, "edit", name))
        for name in run.form.editable
        if any(step.name == name and step.applies(run.values) for step in run.form.steps)
    ]
    rows.extend(edits[i : i + 2] for i in range(0, len(edits), 2))
    rows.append(_nav(run))
    return rows


async def _advance(run: FormRun, *, edit: Message | None) -> None:
    _recompute(run)
    run.history.append(run.step)
    run.step = _next_step(run, after=run.step)
    if run.step == SUMMARY:
        run.editing = False
    await _show(run, edit=edit)


async def _accept(run: FormRun, step: Step, raw: str, *, edit: Message | None) -> None:
    """Validate an answer; store it and go on, or explain and ask again."""
    try:
        value = step.parse(raw, run) if step.parse is not None else raw
    except InvalidInput as invalid:
        error = _invalid_text(run, invalid)
        await _show(run, edit=edit, error=error)
        return
    _answer(run, step, value)
    await _advance(run, edit=edit)


def _answer(run: FormRun, step: Step, value: Any) -> None:
    """Store an answer; answers that depend on it are dropped when it changed."""
    if run.values.get(step.name, value) != value:
        for name in step.resets:
            run.values.pop(name, None)
    run.values[step.name] = value


def _invalid_text(run: FormRun, invalid: InvalidInput) -> str:
    t = run.conv.t
    specific = f"{invalid.texts or run.form.name}/invalid_{invalid.problem}"
    if run.conv.services.texts.has_template(t.lang, specific):
        return t(specific, **invalid.context)
    return t(f"form/invalid_{invalid.problem}", **invalid.context)


def answered(run: FormRun) -> Values:
    """The values of the steps that apply now, plus the derived ones (no stale answers)."""
    stale = {step.name for step in run.form.steps if not step.applies(run.values)}
    return {name: value for name, value in run.values.items() if name not in stale}


async def finish(run: FormRun, outcome: Outcome, *, edit: Message | None) -> None:
    await run.conv.state.clear()
    if outcome.template:
        text = run.conv.t(outcome.template, values=answered(run), **outcome.context)
        await run.conv.show(text, keyboard(outcome.buttons), edit=edit)
        edit = None
    if outcome.then is not None:
        await outcome.then(edit)


def router(registry: FormRegistry) -> Router:
    """Handles every press and answer inside any registered form."""
    forms = Router(name="forms")

    @forms.callback_query(FormCb.filter())
    async def on_press(query: CallbackQuery, callback_data: FormCb, conv: Conversation) -> None:
        run = await load_run(conv, registry)
        edit = query.message if isinstance(query.message, Message) else None
        if run is None or (run.form.name, run.step, run.run_id[:RUN_TAG]) != (
                callback_data.form, callback_data.step, callback_data.run):
            await query.answer(conv.t.label("form.stale"))
            await conv.drop_buttons(edit.message_id if edit else None)
            if run is not None:
                await _show(run, edit=None)
            return
        await query.answer()
        if callback_data.action == "stop":
            await leave(conv)
            await registry.on_stop(conv, edit)
            return
        await _press(run, callback_data, edit)

    @forms.message(StateFilter(FormStates.active), F.text)
    async def on_text(message: Message, conv: Conversation) -> None:
        run = await load_run(conv, registry)
        if run is None:  # a dialog that no longer exists: never leave the customer unanswered
            await leave(conv)
            await registry.on_stop(conv, None)
            return
        await run.disarm()
        text = message.text or ""
        if text.startswith("/"):  # the known commands were taken by the start router
            await _show(run, edit=None, error=conv.t("form/unknown_command"))
            return
        step = run.form.step(run.step) if run.step != SUMMARY else None
        if step is not None and step.kind == "text":
            if len(text) > step.max_length:
                await _show(run, edit=None, error=conv.t("form/invalid_too_long",
                                                           limit=step.max_length))
                return
            await _accept(run, step, visible_text(text), edit=None)
            return
        answer = conv.services.answer_free_text
        if answer is None or not await answer(conv, text, in_dialog=True):
            await conv.say(conv.t("form/use_buttons"))
        await _show(run, edit=None)

    @forms.message(StateFilter(FormStates.active))
    async def on_other(message: Message, conv: Conversation) -> None:
        run = await load_run(conv, registry)
        if run is None:
            await leave(conv)
            await registry.on_stop(conv, None)
            return
        await conv.say(conv.t("form/text_only"))
        await _show(run, edit=None)

    return forms


async def _press(run: FormRun, callback: FormCb, edit: Message | None) -> None:
    if callback.action == "back":
        while run.history:
            run.step = run.history.pop()
            run.editing = False
            if run.step == SUMMARY or run.form.step(run.step).applies(run.values):
                break  # steps that no longer apply (an answer changed) are passed over
        await _show(run, edit=edit)
        return
    if callback.action == "edit" and run.step == SUMMARY:
        if callback.value in run.form.editable:
            run.history.append(run.step)
            run.step = callback.value
            run.editing = True
        await _show(run, edit=edit)
        return
    if callback.action == "done" and run.step == SUMMARY:
        known = any(option.value == callback.value and option.offered(run.values)
                    for option in run.form.finish)
        if not known or first_unanswered(run) is not None:
            await _show(run, edit=edit)
            return
        _recompute(run)
        outcome = await run.form.submit(run, callback.value)
        await finish(run, outcome, edit=edit)
        return
    if run.step == SUMMARY:
        await _show(run, edit=edit)
        return
    step = run.form.step(run.step)
    if callback.action == "next" and (step.kind == "info" or step.optional):
        # A skipped text is None; an info step is marked as read, so editing a field from
        # the summary does not walk through it again.
        run.values[step.name] = None if step.kind == "text" else True
        await _advance(run, edit=edit)
        return
    if callback.action == "pick":
        option = next((o for o in step.options_for(run) if o.value == callback.value), None)
        if option is None:  # forged or outdated data
            await _show(run, edit=edit)
            return
        if option.action is not None:
            await option.action(run)
            return
        run.values.update(option.sets)
        if step.kind == "text":
            await _accept(run, step, option.value, edit=edit)
            return
        if step.kind == "choice":
            _answer(run, step, option.value)
        await _advance(run, edit=edit)
        return
    await _show(run, edit=edit)
