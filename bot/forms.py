"""The form mechanism: a dialog is declared as data, and this module runs it.

A `Form` is an ordered list of `Step`s. The mechanism asks each step that applies, validates
what the customer types, re-asks with a clear message, keeps "Stap 2 van 6" right, goes Back,
Stops, shows the summary with edit buttons, and hands the confirmed values to the form's
`submit`. Its state is one FSM state plus JSON data, so it survives a restart.

Texts are looked up along a chain, most particular first, so a step that several forms share
(an e-mail address, say) has one prompt and one set of error texts unless a form overrides them:

- a step's prompt: `<form>/<step>`, then the shared `steps/<step>/prompt`;
- an error (`InvalidInput`): `<form>/invalid_<problem>`, then the folder the parser or step
  names (`texts`), then `steps/<step>/invalid_<problem>`, then `form/invalid_<problem>`;
- a field's label on the summary's edit button: `<form>.field.<step>`, then `steps.<step>.field`.

`<form>/summary` shows the summary; its context has `values` (the answers) and `labels` (for
every answered step with buttons, the label of the chosen option, as the button said it).
`form/progress` is the "Stap 2 van 6" line. Button labels: `nav.*` and whatever options name.

A typed answer at a step with buttons that names one of them (`knowledge.typed.pick`, against the
labels as shown) is that button pressed, through the same path; an `Option(typed=False)` must be
pressed; "overslaan" typed at an optional text step is its Skip. The other command words typed
as text ("stop", "terug") are the start router's.

Callback data carries short codes (a form's and a step's `code`, derived from the name unless
declared) and the start of the run id, so every button fits Telegram's 64 bytes; `FormRegistry.add`
rejects duplicate codes and a form any of whose buttons could be longer.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.conversation import Button, Conversation, Reply, keyboard
from bot.services import Services
from bot.staff.commands import refuse_in_private
from storage.outbox import Notice
from tickets.models import Category, Priority, Ticket

log = logging.getLogger(__name__)

Values = dict[str, Any]


class FormStates(StatesGroup):
    active = State()


Action = Literal["pick", "next", "back", "stop", "edit", "done"]


class FormCb(CallbackData, prefix="f"):
    """A press inside a form: `form` and `step` are their codes. `step` and `run` (the start
    of the run id) let a press on an old message — an earlier step, or an earlier run of the
    same form — be recognised. `value` is the option's value, or the code of the step to edit."""

    form: str
    step: str
    action: Action
    value: str = ""
    run: str = ""


CALLBACK_LIMIT = 64  # bytes Telegram accepts as a button's callback data
RUN_TAG = 8  # characters of the run id carried in callback data
VALUE_LIMIT = 24  # bytes of an option's value in callback data
CODE_LENGTH = 3  # characters of a derived code
_CODE = re.compile(r"^[a-z0-9]{1,4}$")
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
TYPED_KEPT = 30  # answered messages remembered per run (for edits)
SHARED = "steps"  # the folder (templates) and table (labels) of steps that forms share


def short_code(name: str) -> str:
    """A code for callback data derived from a name: the same on every run and every machine
    (a hash, not Python's `hash`), so buttons sent before a restart are still understood."""
    number = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big")
    code = ""
    for _ in range(CODE_LENGTH):
        number, digit = divmod(number, 36)
        code += _BASE36[digit]
    return code


def _check_code(code: str, what: str) -> str:
    if not _CODE.match(code):
        raise ValueError(f"{what}: code {code!r} must be 1-4 lower-case letters or digits")
    return code


class InvalidInput(ValueError):
    """Raised by a step's parser: `problem` names the template `invalid_<problem>` that
    explains what is wrong, looked up along `invalid_templates` (the form's own, then the
    folder `texts` that a parser several forms share may name, then the shared step's, then
    `form/`). `context` holds the template's variables; `optional` is always given."""

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
    context: Mapping[str, Any] = field(default_factory=dict)  # variables for the label
    typed: bool = True  # may be chosen by typing its label; False: only by pressing it

    def __post_init__(self) -> None:
        # The value travels in callback data: short, and without aiogram's separator.
        if len(self.value.encode()) > VALUE_LIMIT or ":" in self.value:
            raise ValueError(f"option {self.label}: value {self.value!r} must be at most "
                             f"{VALUE_LIMIT} bytes without ':'")

    def offered(self, values: Values) -> bool:
        return self.when is None or self.when(values)


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
    verbatim: bool = False  # the parser gets what was typed, not only its visible characters
    resets: Sequence[str] = ()  # answers that depend on this one: asked again when it changes
    code: str = ""  # in callback data; derived from the name when not given
    # The problems (`InvalidInput.problem`) its parser can raise, so a test can prove that
    # every language explains each one; and the folder of a shared parser's error texts.
    problems: Sequence[str] = ()
    texts: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", _check_code(self.code or short_code(self.name),
                                                     f"step {self.name}"))

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
    to_menu: bool = False  # then the main menu (the registry's `on_menu`)


@dataclass(frozen=True)
class Form:
    name: str
    steps: Sequence[Step]
    finish: Sequence[Option]  # the summary's final buttons, e.g. "file a request"
    submit: Callable[[FormRun, str], Awaitable[Outcome]]
    editable: Sequence[str] = ()
    derive: Callable[[FormRun], Values] | None = None  # computed values, after every answer
    context: Callable[[FormRun], Mapping[str, Any]] | None = None  # extra template variables
    code: str = ""  # in callback data; derived from the name when not given

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", _check_code(self.code or short_code(self.name),
                                                     f"form {self.name}"))

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def step_by_code(self, code: str) -> Step | None:
        return next((step for step in self.steps if step.code == code), None)

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
    # The customer's messages that answered a text step (message id -> step), and the id
    # of the last message they typed in this run: an edit of that one re-takes its answer.
    typed: dict[str, str] = field(default_factory=dict)
    last_typed: int | None = None
    # The step's message also shows an answer to a question typed at this step: a press on
    # it keeps that answer (the message loses the form's buttons, what follows comes below).
    with_answer: bool = False
    disarming: bool = False  # the step's message loses its buttons when the step is sent anew

    @property
    def services(self) -> Services:
        return self.conv.services

    def to_data(self) -> Values:
        return {
            "form": self.form.name, "step": self.step, "values": self.values,
            "history": self.history, "run_id": self.run_id, "editing": self.editing,
            "message_id": self.message_id, "typed": self.typed, "last_typed": self.last_typed,
            "with_answer": self.with_answer,
        }

    @property
    def step_code(self) -> str:
        if self.step == SUMMARY:
            return SUMMARY_CODE
        step = next((step for step in self.form.steps if step.name == self.step), None)
        return "" if step is None else step.code  # "" (a step since removed) matches no press

    async def disarm(self) -> None:
        """Take the buttons off the step's message when the step is next shown anew below it
        (`_show` does, before sending). A question answered together with the step leaves them:
        they are this same step's, so a press on them still does what it says."""
        self.disarming = True


SUMMARY = "_summary"
FORM_PREFIX = f"{FormCb.__prefix__}:"  # callback data of the form's buttons
SUMMARY_CODE = "_"  # no derived or declared code has an underscore


def pack(form: Form, step_code: str, action: Action, value: str = "", run_id: str = "") -> str:
    """A button's callback data, as the mechanism sends it."""
    return FormCb(form=form.code, step=step_code, action=action, value=value,
                  run=run_id[:RUN_TAG]).pack()


def longest_button(form: Form) -> str:
    """The longest callback data any button of `form` could carry: the longest step code, the
    longest action and a value as long as an option may have (a full run tag)."""
    codes = [SUMMARY_CODE, *(step.code for step in form.steps)]
    return pack(form, max(codes, key=len), "pick", "x" * VALUE_LIMIT, "x" * RUN_TAG)


ShowScreen = Callable[[Conversation, Message | None], Awaitable[None]]


class FreeTextAnswerer(Protocol):
    """Answers a typed question (outside a dialog); True when it said something."""

    def __call__(self, conv: Conversation, text: str) -> Awaitable[bool]: ...


class FormAnswerer(Protocol):
    """The answer to a question typed at a form's step, not sent: the form shows it with the
    step in one message. None on small talk and unknown questions: the step is asked again."""

    def __call__(self, conv: Conversation, text: str) -> Awaitable[Reply | None]: ...


class FormRegistry:
    """The forms the mechanism runs, and what its handlers need from the rest of the bot:
    where a customer lands after Stop (`on_stop`) or when a form ends in the menu
    (`on_menu`, by default `on_stop`), who answers free text outside a form (`answer`) and a
    question typed mid-form (`answer_in_form`), and what the dialogs do when a customer
    leaves one (`on_leave`, before the state is cleared)."""

    def __init__(self, on_stop: ShowScreen, *, on_menu: ShowScreen | None = None,
                 answer: FreeTextAnswerer | None = None,
                 answer_in_form: FormAnswerer | None = None,
                 on_leave: Callable[[Conversation], Awaitable[None]] | None = None) -> None:
        self.forms: dict[str, Form] = {}
        self.on_stop = on_stop
        self.on_menu = on_menu or on_stop
        self.answer = answer
        self.answer_in_form = answer_in_form
        self.on_leave = on_leave

    async def stop(self, conv: Conversation, edit: Message | None) -> None:
        """The customer leaves the form (Stop, or a form that no longer exists)."""
        if self.on_leave is not None:
            await self.on_leave(conv)
        await leave(conv)
        await self.on_stop(conv, edit)

    def add(self, form: Form) -> Form:
        """Register a form, after checking what would otherwise fail in front of a customer:
        names and codes are unique, and no button it can show is over 64 bytes."""
        if form.name in self.forms:
            raise ValueError(f"form {form.name} registered twice")
        for other in self.forms.values():
            if other.code == form.code:
                raise ValueError(f"forms {other.name} and {form.name} have the same code "
                                 f"{form.code!r}: give one of them its own `code`")
        _check_steps(form)
        longest = longest_button(form)
        if len(longest.encode()) > CALLBACK_LIMIT:
            raise ValueError(f"form {form.name}: a button could carry {len(longest.encode())} "
                             f"bytes of callback data, more than {CALLBACK_LIMIT}: {longest}")
        self.forms[form.name] = form
        return form


def _check_steps(form: Form) -> None:
    names: set[str] = set()
    codes: dict[str, str] = {}
    for step in form.steps:
        if step.name in names or step.name == SUMMARY:
            raise ValueError(f"form {form.name}: step {step.name} declared twice")
        names.add(step.name)
        if step.code in codes:
            raise ValueError(f"form {form.name}: steps {codes[step.code]} and {step.name} have "
                             f"the same code {step.code!r}: give one of them its own `code`")
        codes[step.code] = step.name
    unknown = [name for name in form.editable if name not in names]
    if unknown:
        raise ValueError(f"form {form.name}: editable steps {unknown} are not its steps")


def prompt_templates(form: Form, step: Step) -> tuple[str, ...]:
    """Where a step's prompt is looked for, most particular first."""
    return f"{form.name}/{step.name}", f"{SHARED}/{step.name}/prompt"


def invalid_templates(
    form: Form, step: Step | None, problem: str, texts: str | None = None
) -> tuple[str, ...]:
    """Where the explanation of an invalid answer is looked for, most particular first."""
    chain = [f"{form.name}/invalid_{problem}"]
    folder = texts or (step.texts if step is not None else None)
    if folder and folder != form.name:
        chain.append(f"{folder}/invalid_{problem}")
    if step is not None:
        chain.append(f"{SHARED}/{step.name}/invalid_{problem}")
    chain.append(f"form/invalid_{problem}")
    return tuple(chain)


def field_labels(form: Form, name: str) -> tuple[str, ...]:
    """Where the label of a step, as a field of the summary, is looked for."""
    return f"{form.name}.field.{name}", f"{SHARED}.{name}.field"


def _template(run: FormRun, chain: Sequence[str]) -> str:
    """The first template of `chain` that exists (else the last, which then fails loudly)."""
    texts, lang = run.conv.t.texts, run.conv.t.lang
    return next((name for name in chain if texts.has_template(lang, name)), chain[-1])


def _label(run: FormRun, chain: Sequence[str]) -> str:
    texts, lang = run.conv.t.texts, run.conv.t.lang
    return next((key for key in chain if texts.has_label(lang, key)), chain[-1])


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
                   bool(data.get("editing", False)), data.get("message_id"),
                   dict(data.get("typed", {})), data.get("last_typed"),
                   bool(data.get("with_answer", False)))


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


def chosen_labels(run: FormRun) -> dict[str, str]:
    """For every answered step with buttons, the label of the option chosen: what the button
    said is what the summary says."""
    t = run.conv.t
    labels: dict[str, str] = {}
    values = answered(run)
    for step in run.form.steps:
        if step.name not in values or not step.applies(run.values):
            continue
        for option in step.options_for(run):
            if option.action is None and option.value == values[step.name]:
                labels[step.name] = t.label(option.label, values=run.values, **option.context)
                break
    return labels


def _template_context(run: FormRun, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"values": answered(run), "labels": chosen_labels(run)}
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


async def _show(run: FormRun, *, edit: Message | None, error: str | None = None,
                answer: Reply | None = None) -> None:
    """Show the current step (replacing `edit`, else as a new message), with `error` above its
    prompt, and `answer` (a question's, with its buttons) above it all."""
    conv, t = run.conv, run.conv.t
    if run.disarming and edit is None:
        await conv.drop_buttons(run.message_id)
    run.disarming = False
    if run.step == SUMMARY:
        _recompute(run)  # derived values (deadlines) are as of today, also days later
    if run.step == SUMMARY and (missing := first_unanswered(run)) is not None:
        run.step, run.editing = missing, True
        error = error or t("form/answer_first")
    index, total = progress(run)
    header = t("form/progress", index=index, total=total)
    if run.step == SUMMARY:
        body = t(f"{run.form.name}/summary", **_template_context(run))
        rows = summary_buttons(run)
    else:
        step = run.form.step(run.step)
        body = t(_template(run, prompt_templates(run.form, step)),
                 **_template_context(run, optional=step.optional))
        rows = step_buttons(run, step)
    text = "\n\n".join(part for part in (answer and answer.text, header, error, body) if part)
    if answer is not None:
        rows = [*(list(row) for row in answer.buttons), *rows]
    message = await conv.show(text, keyboard(rows), edit=edit)
    run.message_id = message.message_id if message is not None else None
    run.with_answer = answer is not None
    await conv.state.set_data(run.to_data())


def _cb(run: FormRun, action: Action, value: str = "") -> str:
    return pack(run.form, run.step_code, action, value, run.run_id)


def step_buttons(run: FormRun, step: Step) -> list[list[Button]]:
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


def summary_buttons(run: FormRun) -> list[list[Button]]:
    t = run.conv.t
    rows: list[list[Button]] = [
        [(t.label(option.label, values=run.values), _cb(run, "done", option.value))]
        for option in run.form.finish if option.offered(run.values)
    ]
    edits = [
        (t.label("nav.edit", field=t.label(_label(run, field_labels(run.form, step.name)))),
         _cb(run, "edit", step.code))
        for step in run.form.steps
        if step.name in run.form.editable and step.applies(run.values)
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
    """Validate an answer; store it and go on, or explain and ask again. Free text is stored
    as typed; a parser gets the visible text, or what was typed when its step is `verbatim`
    (it then normalises only the copy it checks)."""
    typed = raw.strip()
    try:
        if step.parse is None:
            if not visible_text(typed):
                raise InvalidInput("empty")  # only blanks or invisible characters
            value: Any = typed
        else:
            value = step.parse(typed if step.verbatim else visible_text(typed), run)
    except InvalidInput as invalid:
        await _show(run, edit=edit, error=_invalid_text(run, step, invalid))
        return
    _answer(run, step, value)
    await _advance(run, edit=edit)


def _answer(run: FormRun, step: Step, value: Any) -> None:
    """Store an answer; answers that depend on it are dropped when it changed."""
    if run.values.get(step.name, value) != value:
        for name in step.resets:
            run.values.pop(name, None)
    run.values[step.name] = value


def _invalid_text(run: FormRun, step: Step | None, invalid: InvalidInput) -> str:
    chain = invalid_templates(run.form, step, invalid.problem, invalid.texts)
    optional = step is not None and step.optional
    return run.conv.t(_template(run, chain), **{"optional": optional, **invalid.context})


def answered(run: FormRun) -> Values:
    """The values of the steps that apply now, plus the derived ones (no stale answers)."""
    stale = {step.name for step in run.form.steps if not step.applies(run.values)}
    return {name: value for name, value in run.values.items() if name not in stale}


async def file_ticket(
    run: FormRun,
    *,
    category: Category,
    subject: str,
    fields: Mapping[str, Any],
    template: str,
    priority: Priority = Priority.NORMAL,
    email: str | None = None,
    buttons: Sequence[Sequence[Button]] = (),
    **context: Any,
) -> Ticket:
    """File the form's ticket; its confirmation (`template`, with `values` and `ticket`)
    replaces the summary through the outbox, in the ticket's transaction. The run id makes
    the ticket once, whatever is pressed twice or handled again after a crash. A submit
    returns `Outcome("")` after this: the confirmation is on its way."""
    conv = run.conv

    def confirmation(ticket: Ticket) -> list[Notice]:
        text = conv.t(template, values=answered(run), ticket=ticket.id, **context)
        return conv.notices(text, buttons, edit=run.message_id)

    ticket, _created = await run.services.ticket_service.open_ticket(
        category=category, customer=conv.customer(email=email), subject=subject,
        fields=fields, priority=priority, idempotency_key=f"{run.form.name}:{run.run_id}",
        confirm=confirmation,
    )
    return ticket


async def finish(
    run: FormRun, outcome: Outcome, registry: FormRegistry, *, edit: Message | None
) -> None:
    await run.conv.state.clear()
    if outcome.template:
        context = {"values": answered(run), "labels": chosen_labels(run), **outcome.context}
        text = run.conv.t(outcome.template, **context)
        await run.conv.show(text, keyboard(outcome.buttons), edit=edit)
        edit = None
    if outcome.then is not None:
        await outcome.then(edit)
    if outcome.to_menu:
        await registry.on_menu(run.conv, edit)


def router(registry: FormRegistry) -> Router:
    """Handles every press and answer inside any registered form."""
    forms = Router(name="forms")

    @forms.callback_query(FormCb.filter())
    async def on_press(query: CallbackQuery, callback_data: FormCb, conv: Conversation) -> None:
        run = await load_run(conv, registry)
        edit = query.message if isinstance(query.message, Message) else None
        if run is None or (run.form.code, run.step_code, run.run_id[:RUN_TAG]) != (
                callback_data.form, callback_data.step, callback_data.run):
            if run is not None and edit is not None and edit.message_id == run.message_id:
                # A second quick tap on a button that already did its work: this message
                # shows the current step by now, so there is nothing to send again.
                await query.answer()
                return
            await query.answer(conv.t.label("form.stale"))
            await conv.drop_buttons(edit.message_id if edit else None)
            if run is not None:
                await _show(run, edit=None)
            return
        if edit is not None and edit.message_id != run.message_id and run.step == SUMMARY:
            # An older summary shows the values as they were then: it submits nothing.
            await query.answer(conv.t.label("form.stale"))
            await conv.keep_buttons(edit, lambda data: not data.startswith(FORM_PREFIX))
            return
        await query.answer()
        if edit is not None and (edit.message_id != run.message_id or run.with_answer):
            # An answer shown with the step, or an older message of this same step: it keeps
            # what it says, and what follows comes below it.
            if callback_data.action == "stop":
                await registry.stop(conv, None)  # the step's message loses its buttons there
                return
            await conv.keep_buttons(edit, lambda data: not data.startswith(FORM_PREFIX))
            run.message_id, run.with_answer, edit = None, False, None
        if callback_data.action == "stop":
            await registry.stop(conv, edit)
            return
        await _press(run, callback_data, registry, edit)

    @forms.message(StateFilter(FormStates.active), F.text)
    async def on_text(message: Message, conv: Conversation) -> None:
        run = await load_run(conv, registry)
        if run is None:  # a dialog that no longer exists: never leave the customer unanswered
            await registry.stop(conv, None)
            return
        await run.disarm()
        run.last_typed = message.message_id
        await _typed(run, registry, message.message_id, message.text or "")

    @forms.edited_message(StateFilter(FormStates.active))
    async def on_edited(message: Message, conv: Conversation) -> None:
        """An edit of the last message typed, when it answered the current step or the one
        just before it (nothing else happened since), re-takes that answer as if the new
        text had been typed; an edit of anything older keeps what was answered, and says so."""
        run = await load_run(conv, registry)
        if run is None:
            await registry.stop(conv, None)
            return
        await run.disarm()
        answered_step = run.typed.get(str(message.message_id))
        latest = message.message_id == run.last_typed and message.text is not None
        if latest and answered_step is not None and answered_step != run.step and (
                run.history and run.history[-1] == answered_step):
            run.step = run.history.pop()  # back to the step that message answered
            run.editing = True  # then on to the first step without an answer
        if latest and answered_step == run.step:
            await _typed(run, registry, message.message_id, message.text or "")
            return
        field_label = None
        if answered_step is not None and answered_step in run.values:
            field_label = conv.t.label(_label(run, field_labels(run.form, answered_step)))
        await _show(run, edit=None, error=conv.t("form/edit_kept", field=field_label))

    @forms.message(StateFilter(FormStates.active))
    async def on_other(message: Message, conv: Conversation) -> None:
        run = await load_run(conv, registry)
        if run is None:
            await registry.stop(conv, None)
            return
        await conv.say(conv.t("form/text_only"))
        await _show(run, edit=None)

    return forms


async def _typed(run: FormRun, registry: FormRegistry, message_id: int, text: str) -> None:
    """What the customer typed (or changed by editing) while the form shows its step."""
    conv = run.conv
    if text.startswith("/"):  # the known commands were taken by the start router
        refuse_in_private(text, conv.user.id)
        await _show(run, edit=None, error=conv.t("form/unknown_command"))
        return
    step = run.form.step(run.step) if run.step != SUMMARY else None
    if step is not None and step.kind == "text":
        run.typed[str(message_id)] = step.name
        while len(run.typed) > TYPED_KEPT:  # a flood does not grow the state without bound
            del run.typed[next(iter(run.typed))]
        if step.optional and conv.t.command_of(text) == "skip":  # "overslaan": Skip
            await _press(run, FormCb(form=run.form.code, step=step.code, action="next"),
                         registry, None)
            return
        if len(text) > step.max_length:
            too_long = InvalidInput("too_long", limit=step.max_length)
            await _show(run, edit=None, error=_invalid_text(run, step, too_long))
            return
        await _accept(run, step, text, edit=None)
        return
    if step is not None and await _typed_button(run, step, registry, text):
        return
    # A question at a button step: its answer and the step in one message, so the customer
    # carries on right there. The step's earlier message keeps its buttons (this same step's,
    # so a press on them still does what it says; see `on_press`).
    answer = registry.answer_in_form
    reply = await answer(conv, text) if answer is not None else None
    run.disarming = False
    await _show(run, edit=None, answer=reply,
                error=None if reply is not None else conv.t("form/use_buttons"))


async def _typed_button(run: FormRun, step: Step, registry: FormRegistry, text: str) -> bool:
    """A typed answer that names one of the step's buttons ("de hosting", "per direct") is
    that button pressed: the same path as a press, so what a choice leads to (a second
    confirmation, a side trip) is never skipped. Matched against the labels as shown; only
    the answers and Next/Skip (Back and Stop are typed commands), never an option that must
    be pressed (`Option.typed`). False when it names none, or more than one."""
    press_only = {option.value for option in step.options_for(run) if not option.typed}
    buttons: list[tuple[str, FormCb]] = []
    for row in step_buttons(run, step):
        for label, data in row:
            callback = FormCb.unpack(data) if data else None
            if callback is not None and (callback.action == "next" or (
                    callback.action == "pick" and callback.value not in press_only)):
                buttons.append((label, callback))
    chosen = run.conv.t.pick(text, [label for label, _ in buttons])
    if chosen is None:
        return False
    await _press(run, buttons[chosen][1], registry, None)
    return True


async def go_back(run: FormRun, registry: FormRegistry, *, edit: Message | None = None) -> None:
    """Back, as the Back button does it (a step with no step before it is shown again)."""
    await _press(run, FormCb(form=run.form.code, step=run.step_code, action="back"),
                 registry, edit)


async def _press(
    run: FormRun, callback: FormCb, registry: FormRegistry, edit: Message | None
) -> None:
    if callback.action == "back":
        while run.history:
            run.step = run.history.pop()
            run.editing = False
            if run.step == SUMMARY or run.form.step(run.step).applies(run.values):
                break  # steps that no longer apply (an answer changed) are passed over
        await _show(run, edit=edit)
        return
    if callback.action == "edit" and run.step == SUMMARY:
        chosen = run.form.step_by_code(callback.value)
        if chosen is not None and chosen.name in run.form.editable:
            run.history.append(run.step)
            run.step = chosen.name
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
        await finish(run, outcome, registry, edit=edit)
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
