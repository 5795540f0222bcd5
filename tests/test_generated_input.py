"""Generated input at every step of every form (issue 11), through the real Dispatcher over the
fake Bot API. The forms come from the registry (`bot.dialogs.DIALOGS`): a new dialog is covered
without a new test. A walker takes each form from its first step to its summary and submits
it; at every step it meets, hypothesis first throws something at it — any Unicode, HTML- and
Markdown-like text, up to 10,000 characters, commands mid-form, non-text messages, edits,
forged and stale button data. After every action:

- no handler raised and the bot did not apologise for a failure;
- every call to the Bot API succeeded (the fake refuses invalid HTML and texts over 4,096
  characters, as Telegram does);
- the customer got an answer (a message sent or edited; for a press, the press answered);
- what they typed is stored as typed (a free-text answer, the question log).

CI runs a few examples per form, derandomized and without hypothesis' database;
BALIE_PROPERTY_EXAMPLES=200 (say) runs the long version.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot import app as bot_app
from bot.delivery import Limits
from bot.dialogs import DIALOGS
from bot.forms import SUMMARY, Form, FormCb
from tests.client import TelegramUser
from tests.conftest import Balie

EXAMPLES = int(os.environ.get("BALIE_PROPERTY_EXAMPLES", "10"))
MAX_ACTIONS = 80  # per example: a walk that keeps being sent back to the start still ends
FORMS: list[Form] = [form for dialog in DIALOGS for form in dialog.forms]
ENTRIES = [entry for dialog in DIALOGS for entry in dialog.entries]

# A valid answer for each text step without buttons to press (a new text step needs one here;
# the coverage test says which).
SAMPLES = {
    "email": "klant@example.nl",
    "invoice_number": "2026001234",
    "amount": "49,95",
    "reason_text": "Mijn klant heeft nog niet betaald, dus ik kom deze maand tekort.",
    "domain": "example.nl",
    "renewal_date": "15 maart 2027",
    "happened_on": "gisteren",
    "pay_date": "15-12-2026",
}

_users = itertools.count(60_000)
TRIED: dict[str, Counter[str]] = defaultdict(Counter)  # figures, for BALIE_PROPERTY_REPORT

# --- what hypothesis throws ---------------------------------------------------------------

TRICKY = [
    "👨‍👩‍👧", "🏳️‍🌈", "👍🏽", "🇳🇱", "e\u0301", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",
    "\u202e", "\u2066", "שלום", "مرحبا", "می‌خواهم", "\u00a0", "\u2007", "\u3000", "\u180e",
    "<b>", "</b>", "<script>alert(1)</script>", "<a href='x'>", "&amp;", "&", "&#0;", "<",
    "**vet**", "_schuin_", "`code`", "[link](https://x.nl)", "~~x~~", "||spoiler||", "\n",
    "\r\n", "\t", " ", "15 maart 2027", "klant@example.nl", "49,95", "/start", "0", "-1",
]
piece = st.one_of(st.sampled_from(TRICKY), st.text(min_size=1, max_size=30))
short_text = st.lists(piece, max_size=30).map("".join)
long_text = st.tuples(piece, st.integers(min_value=300, max_value=10_000)).map(
    lambda pair: (pair[0] * (pair[1] // len(pair[0]) + 1))[: pair[1]])
any_text = st.one_of(short_text, short_text, long_text)


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Command:
    text: str


@dataclass(frozen=True)
class NonText:
    kind: str
    caption: str


@dataclass(frozen=True)
class Forged:
    data: str


@dataclass(frozen=True)
class Stale:
    pick: int  # which earlier button


@dataclass(frozen=True)
class Edit:
    pick: int  # which of the customer's messages
    text: str


@st.composite
def form_data(draw: Any) -> str:
    """Button data that looks like a form's: real or unknown codes, any action and value."""
    form = draw(st.sampled_from([f.code for f in FORMS] + ["zz"]))
    step = draw(st.text("abcdefghijklmnopqrstuvwxyz0123456789_", max_size=4))
    action = draw(st.sampled_from(["pick", "next", "back", "stop", "edit", "done", "boom"]))
    value = draw(st.text(max_size=24).filter(lambda v: ":" not in v))
    run = draw(st.text("0123456789abcdef", max_size=8))
    return f"f:{form}:{step}:{action}:{value}:{run}"


def _within_64_bytes(data: str) -> str:
    return data.encode()[:64].decode(errors="ignore") or "x"


forged_data = st.one_of(
    form_data(),
    st.text(max_size=64),
    st.sampled_from(["m:", "m:nope", "m:menu", "q:show:99999999999999999999:faq",
                     "q:show:0:x", "q:helped:1:opzeggen-hoe", "q:nothelp:-5:", "lang:xx",
                     "lang:", "f:", "f:c", "::::", "a:ok"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(lambda n: f"q:show:{n}:faq"),
).map(_within_64_bytes)

actions = st.one_of(
    st.builds(Text, any_text),
    st.builds(Text, any_text),
    st.builds(Command, st.sampled_from(["/help", "/onbekend", "/taal", "/tickets", "/start",
                                        "/menu", "/stop", "/start opzeggen", "/start x y",
                                        "/help@balie_bot extra"])),
    st.builds(NonText, st.sampled_from(["sticker", "photo", "document", "location",
                                        "voice", "contact"]), short_text),
    st.builds(Forged, forged_data),
    st.builds(Stale, st.integers(min_value=0, max_value=50)),
    st.builds(Edit, st.integers(min_value=0, max_value=50), any_text),
)
OTHER_KINDS = {
    "location": {"latitude": 52.37, "longitude": 4.89},
    "voice": {"file_id": "VOICE1", "file_unique_id": "uVOICE1", "duration": 3},
    "contact": {"phone_number": "+31600000000", "first_name": "Anna"},
}


# --- the walker ---------------------------------------------------------------------------


class Failures(logging.Handler):
    """Errors logged by the bot (the error router logs a failed handler, then apologises)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def failures() -> Iterator[Failures]:
    handler = Failures()
    logger = logging.getLogger("bot")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture
async def bot_for_walks(balie: Balie, monkeypatch: pytest.MonkeyPatch) -> Balie:
    """The bot, without the limits that protect it from one customer or Telegram from the
    bot: the walks send far faster than a person types (a flood, see test_flood.py) and
    file a ticket per walk, whose staff alerts would wait for the group's 20 a minute."""
    await balie.stop()
    balie.flood = {"messages": 10_000, "seconds": 1}
    monkeypatch.setattr(bot_app, "Limits", Limits.none)
    await balie.start()
    return balie


class Walker:
    def __init__(self, balie: Balie, user: TelegramUser, form: Form, failures: Failures) -> None:
        self.balie, self.user, self.form, self.failures = balie, user, form, failures
        self.visited: set[str] = set()
        self.actions = 0
        self.typed: list[str] = []
        self.thrown = 0
        self.log: list[str] = []  # what was done, for a failure's message
        self.apology = balie.services.texts.render("nl", "start/error")

    @property
    def key(self) -> StorageKey:
        assert self.balie.app is not None
        return StorageKey(bot_id=self.balie.app.bot.id, chat_id=self.user.id,
                          user_id=self.user.id)

    async def run_data(self) -> dict[str, Any] | None:
        """The form's run as stored, or None when the customer is not in this form."""
        assert self.balie.app is not None
        data = await self.balie.app.storage.get_data(self.key)
        return data if data.get("form") == self.form.name else None

    async def open(self) -> None:
        for entry in ENTRIES:
            for link in entry.deep_links[:1]:
                await self.act(self.user.send(f"/start {link}"), kind="message")
                if await self.run_data() is not None:
                    return
        raise AssertionError(f"no menu entry opens the form {self.form.name}")

    async def act(self, action: Any, *, kind: str, what: str = "") -> None:
        """Do one thing and check what every action must satisfy."""
        self.actions += 1
        self.log.append(what or kind)
        tg = self.user.tg
        calls, answers, errors = len(tg.calls), len(tg.callback_answers(self.user.id)), len(
            self.failures.records)
        shown = await action
        failed = [f"{call.method}: {(call.error or '')[:60]} {call.params.get('message_id')}"
                  for call in tg.calls[calls:] if not call.ok]
        assert not failed, "\n".join(["refused:", *failed, "after:", *self.log[-8:]])
        logged = [record.getMessage() for record in self.failures.records[errors:]]
        assert not logged, "\n".join(["logged:", *logged, "after:", *self.log[-8:]])
        assert not any(self.apology in message.plain for message in shown)
        if kind == "press":
            assert len(tg.callback_answers(self.user.id)) > answers or shown, "press unanswered"
        else:
            assert shown, "no answer to a message"

    async def advance(self, variant: int) -> bool:
        """One step on towards the summary and past it; False once the form is done."""
        data = await self.run_data()
        if data is None:
            return False
        step_name = data["step"]
        self.visited.add(step_name)
        buttons = [(label, data_) for label, data_ in self._buttons(data.get("message_id"))
                   if data_.startswith("f:")]
        if not buttons:  # the step's message is not shown (e.g. it waits in the outbox)
            await self.act(self.user.send("/help"), kind="message")
            return True
        picks = [(label, d) for label, d in buttons if FormCb.unpack(d).action == "pick"]
        if step_name == SUMMARY:
            done = [(label, d) for label, d in buttons if FormCb.unpack(d).action == "done"]
            await self.press(done[variant % len(done)][1])
            return False
        step = self.form.step(step_name)
        nexts = [d for _, d in buttons if FormCb.unpack(d).action == "next"]
        if step.kind == "text":
            choices = [d for _, d in picks] + nexts
            sample = SAMPLES.get(step.name)
            if sample is not None and (variant % 2 == 0 or not choices):
                await self.act(self.user.send(sample), kind="message")
            else:
                assert choices, f"form {self.form.name}: add a valid answer for step {step.name}"
                await self.press(choices[variant % len(choices)])
            return True
        if step.kind == "info" and nexts:
            await self.press(nexts[0])
            return True
        plain = [d for _, d in picks if not self._is_side_trip(step_name, d)]
        await self.press(plain[(variant + len(self.visited)) % len(plain)])
        return True

    def _is_side_trip(self, step_name: str, data: str) -> bool:
        step = self.form.step(step_name)
        value = FormCb.unpack(data).value
        if callable(step.options):
            return False  # computed options: the press tells
        return any(option.value == value and option.action is not None
                   for option in step.options)

    def _buttons(self, message_id: int | None) -> list[tuple[str, str]]:
        """The buttons of the message showing the form's step."""
        message = self.user.tg.message(self.user.id, message_id) if message_id else None
        if message is None or message.deleted:
            return []
        return [(label, data or "") for row in message.buttons for label, data in row]

    async def press(self, data: str, message_id: int | None = None) -> None:
        await self.act(self.user.press_data(data, message_id), kind="press",
                       what=f"press {data!r} on {message_id}")

    async def throw(self, action: Any) -> None:
        """What hypothesis drew, at the step the walk is at."""
        before = await self.run_data()
        self.thrown += 1
        self.log.append(f"at {before and before['step']}: {action!r}"[:160])
        if isinstance(action, Text):
            self.typed.append(action.text)
            await self.act(self.user.send(action.text), kind="message")
            await self._stored_as_typed(before, action.text)
        elif isinstance(action, Command):
            await self.act(self.user.send(action.text), kind="message")
        elif isinstance(action, NonText):
            await self.act(self._non_text(action), kind="message")
        elif isinstance(action, Forged):
            await self.press(action.data)
        elif isinstance(action, Stale):
            pressable = [(m.message_id, data) for m in self.user.bot_messages()
                         for row in m.buttons for _, data in row if data]
            if pressable:
                message_id, data = pressable[action.pick % len(pressable)]
                await self.press(data, message_id)
        elif isinstance(action, Edit):
            own = [m for m in self.user.own_messages() if m.kind == "text"]
            if own:
                self.typed.append(action.text)
                await self.act(self.user.edit(own[action.pick % len(own)].message_id,
                                              action.text), kind="message")

    def _non_text(self, action: NonText) -> Any:
        user = self.user
        if action.kind == "sticker":
            return user.send_sticker()
        if action.kind == "photo":
            return user.send_photo(action.caption or None)
        if action.kind == "document":
            return user.send_document(caption=action.caption or None)
        return user._send_message({action.kind: OTHER_KINDS[action.kind]}, kind=action.kind,
                                  text="", chat_id=None, thread_id=None)

    async def _stored_as_typed(self, before: dict[str, Any] | None, text: str) -> None:
        """A free-text answer the form took is stored exactly as typed (trimmed at the ends)."""
        after = await self.run_data()
        if before is None or after is None or before["step"] == SUMMARY:
            return
        step = self.form.step(before["step"])
        if step.kind != "text" or step.parse is not None:
            return
        stored = after["values"].get(step.name)
        if stored is not None and stored != before["values"].get(step.name):
            assert stored == text.strip()

    async def question_log_is_verbatim(self) -> None:
        rows = await self.balie.services.database.fetchall(
            "SELECT text FROM questions WHERE customer_id = ?", (self.user.id,))
        for row in rows:
            assert row["text"] in self.typed, repr(row["text"][:80])



# --- the tests ----------------------------------------------------------------------------

every_form = pytest.mark.parametrize("form", FORMS, ids=[form.name for form in FORMS])


@every_form
async def test_the_walker_reaches_every_step(
    form: Form, bot_for_walks: Balie, failures: Failures
) -> None:
    """Without anything thrown in: the variants of the walk together meet every step of the
    form and its summary, so the property below tries every one of them."""
    visited: set[str] = set()
    for variant in range(8):
        user = bot_for_walks.user(next(_users), "Anna", "nl")
        walker = Walker(bot_for_walks, user, form, failures)
        await walker.open()
        while walker.actions < MAX_ACTIONS and await walker.advance(variant):
            pass
        visited |= walker.visited
    assert {step.name for step in form.steps} | {SUMMARY} <= visited


@every_form
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=(Phase.explicit, Phase.generate),  # shrinking through a bot is slow
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(variant=st.integers(min_value=0, max_value=7),
       thrown=st.lists(st.lists(actions, min_size=1, max_size=2), min_size=20, max_size=20))
async def test_generated_input_at_every_step(
    form: Form, variant: int, thrown: list[list[Any]], bot_for_walks: Balie,
    failures: Failures,
) -> None:
    user = bot_for_walks.user(next(_users), "Anna", "nl" if variant % 2 else "en")
    walker = Walker(bot_for_walks, user, form, failures)
    await walker.open()
    for batch in itertools.cycle(thrown):
        if walker.actions >= MAX_ACTIONS:
            break
        if await walker.run_data() is None:  # thrown out of the form (/stop, a menu button)
            await walker.open()
        for action in batch:
            await walker.throw(action)
        if await walker.run_data() is not None and not await walker.advance(variant):
            break
    await walker.question_log_is_verbatim()
    TRIED[form.name]["examples"] += 1
    TRIED[form.name]["thrown"] += walker.thrown
    TRIED[form.name]["actions"] += walker.actions
    TRIED[form.name]["steps"] += len(walker.visited)
    if os.environ.get("BALIE_PROPERTY_REPORT"):
        print(form.name, dict(TRIED[form.name]), sorted(walker.visited))
