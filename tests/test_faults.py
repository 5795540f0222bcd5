"""Fault injection on the fake Bot API (issue 11): Telegram answering 429 with retry_after, 500,
nginx's HTML 502, dropping the connection, answering slowly, or handling a request and losing
the answer, on every method the bot uses and at every step of a ticket's life; and the staff
group, or the customer's chat, unreachable for a while at each step. Every reply and every
notification arrives, in order, none twice (the one exception, a lost answer, is measured and
bounded below).

How: one journey (a cancellation request filed, its topic and card, a colleague claims it,
answers in text and with a photo, the customer answers, the colleague closes it; a payment
arrangement; a question the bot has no article for) is run once without
faults; what the customer saw, what the staff group saw (topics, cards, relayed messages) and
the rows written (tickets, ticket messages, outbox, inbox) are its golden record, and the
methods the fake recorded are the methods the bot uses (a new one is covered automatically).
Then the journey runs again with a fault plan on the fake and must leave the same record.

"Every request once": the first attempt of every distinct request (method and parameters:
each step's getUpdates, each reply, each edit, each topic change) gets the fault, the retry
goes through ("slow": every request, each attempt). That is every method × every step in one
run per fault kind.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import GetChatMember
from aiogram.utils.backoff import BackoffConfig

from bot.app import App, build_app
from bot.config import Config
from bot.delivery import Backoff, Limits
from bot.retry import RetryMiddleware
from bot.staff.context import CannotCheck, Membership, StaffMiddleware
from tests.client import TelegramUser
from tests.conftest import STAFF_CHAT_ID, TOKEN, Balie
from tests.fakeapi import Call, FakeTelegram, Fault, FaultPlan, ShownMessage
from tests.test_cancellation import to_summary
from tests.test_payment import to_summary_nl

ANNA, KEES = 1001, 2001
PATIENCE = 30.0  # seconds a step may take under faults before the test calls it lost

FAULTS = {
    "500": Fault("error", 500, "Internal Server Error"),
    "502-html": Fault("html", 502),
    "dropped": Fault("drop"),
    "slow": Fault("slow", seconds=0.05),
}


# --------------------------------------------------------------------------- the bot, quick


def quick(app: App) -> None:
    """Retries after milliseconds instead of seconds (how long they wait is tested in
    test_retry and test_delivery); the outbox without Telegram's per-group minute window, which
    retries would otherwise turn into a minute's wait per run."""
    for middleware in app.bot.session.middleware:
        if isinstance(middleware, RetryMiddleware):
            middleware.base_delay = 0.01
    app.worker.backoff = Backoff(base=0.02, cap=0.2)


RELAXED = Limits(per_chat=(30, 1.0), per_group=(30, 1.0), overall=(100, 1.0))


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every bot of these tests, the golden one too, built quick (see `quick`)."""
    async def build_quick(config: Config) -> App:
        app = await build_app(config, delivery_limits=RELAXED)
        quick(app)
        return app

    monkeypatch.setattr("tests.conftest.build_app", build_quick)
    quick_poll = BackoffConfig(min_delay=0.01, max_delay=0.1, factor=1.6, jitter=0.1)
    monkeypatch.setattr("bot.intake.POLL_BACKOFF", quick_poll)
    monkeypatch.setattr("bot.app.STARTUP_BACKOFF", quick_poll)


@pytest.fixture
async def desk(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[Desk]:
    running = Balie(tg, tmp_path / "balie.sqlite3")
    tg.set_member(STAFF_CHAT_ID, KEES, "member")
    yield Desk(running, tg)
    await running.stop()


@dataclass
class Desk:
    """The bot, the fake, Anna (a customer) and Kees (a colleague in the staff group)."""

    balie: Balie
    tg: FakeTelegram
    anna: TelegramUser = field(init=False)
    kees: TelegramUser = field(init=False)

    def __post_init__(self) -> None:
        def person(user_id: int, name: str) -> TelegramUser:
            return self.tg.user(user_id, name, username=name.lower(), language_code="nl",
                                tracker=self.balie.tracker, timeout=PATIENCE,
                                raise_handler_errors=True)
        self.anna, self.kees = person(ANNA, "Anna"), person(KEES, "Kees")

    async def drained(self) -> None:
        """Everything written to the outbox went out (or failed: the record shows it)."""
        outbox = self.balie.services.outbox
        deadline = time.monotonic() + PATIENCE
        while await outbox.pending_count():
            assert time.monotonic() < deadline, "the outbox kept items pending"
            await asyncio.sleep(0.02)
        assert await self.tg.wait_idle(quiet=0.05, timeout=PATIENCE)

    async def topic(self) -> int:
        [ticket] = [t for t in await self.balie.services.tickets.list() if t.topic_id]
        assert ticket.topic_id is not None
        return ticket.topic_id

    async def record(self, hiding: tuple[set[tuple[int, int]], set[int]] = (set(), set())
                     ) -> Record:
        """What everybody sees and what was written; `hiding` (chat, message id)s and topic
        threads left out."""
        tg, database = self.tg, self.balie.services.database
        hidden, threads = hiding

        def chat(chat_id: int, thread: int | None = None) -> list[Seen]:
            return shown([m for m in tg.chat(chat_id, thread)
                          if (chat_id, m.message_id) not in hidden])

        topics = [(topic.name, topic.closed, chat(STAFF_CHAT_ID, thread))
                  for thread, topic in sorted(tg.topics(STAFF_CHAT_ID).items())
                  if not topic.deleted and thread not in threads]
        general = shown([m for m in tg.chat(STAFF_CHAT_ID) if m.thread_id is None
                         and (STAFF_CHAT_ID, m.message_id) not in hidden])
        tickets = [tuple(row) for row in await database.fetchall(
            "SELECT id, category, status, priority, subject, assignee, topic_id IS NOT NULL,"
            " card_message_id IS NOT NULL FROM tickets ORDER BY id")]
        messages = [tuple(row) for row in await database.fetchall(
            "SELECT ticket_id, author, author_name, text FROM ticket_messages ORDER BY id")]
        outbox = Counter((row[0], row[1]) for row in await database.fetchall(
            "SELECT kind, state FROM outbox"))
        inbox = Counter(row[0] for row in await database.fetchall("SELECT state FROM inbox"))
        customer = chat(ANNA)
        return Record(customer, topics, general, tickets, messages, outbox, inbox)


Seen = tuple[bool, str, str, tuple[str, ...]]


def shown(messages: list[ShownMessage]) -> list[Seen]:
    """What a person sees of each message: who sent it, what kind, its text, its buttons."""
    return [(m.from_bot, m.kind, m.plain, tuple(m.labels)) for m in messages]


@dataclass
class Record:
    customer: list[Seen]
    topics: list[tuple[str, bool, list[Seen]]]
    general: list[Seen]
    tickets: list[tuple[Any, ...]]
    messages: list[tuple[Any, ...]]
    outbox: Counter[tuple[str, str]]
    inbox: Counter[str]


# --------------------------------------------------------------------------- the journey


async def file_cancellation(desk: Desk) -> None:
    await to_summary(desk.anna, service="Hostingpakket", domain="voorbeeld.nl",
                     renewal="15 maart 2027", email="anna@example.nl")
    await desk.anna.press("Dien opzegverzoek in")


async def colleague_claims(desk: Desk) -> None:
    [ticket] = [t for t in await desk.balie.services.tickets.list() if t.topic_id]
    services = desk.balie.services
    retry = services.texts.label("nl", "staff_commands.answer.cannot_check")
    for _ in range(int(PATIENCE)):
        await desk.kees.press("🙋 Oppakken", message_id=ticket.card_message_id,
                              chat_id=STAFF_CHAT_ID)
        if desk.kees.callback_answers()[-1:] != [retry]:
            return
        await asyncio.sleep(0.5)  # told the press did nothing: the colleague presses again
    raise AssertionError("the claim never went through")


async def colleague_answers(desk: Desk) -> None:
    topic = await desk.topic()
    await desk.kees.send("Hoi Anna, ik zet de opzegging voor je klaar.",
                         chat_id=STAFF_CHAT_ID, thread_id=topic)


async def colleague_sends_a_photo(desk: Desk) -> None:
    await desk.kees.send_photo("Zo ziet het klantenpanel eruit", chat_id=STAFF_CHAT_ID,
                               thread_id=await desk.topic())


async def customer_answers(desk: Desk) -> None:
    answer = [m for m in desk.tg.chat(ANNA) if "ik zet de opzegging" in m.plain][-1]
    await desk.anna.send("Dank je, graag per 15 maart.", reply_to=answer.message_id)


async def colleague_closes(desk: Desk) -> None:
    await desk.kees.send("/close geregeld", chat_id=STAFF_CHAT_ID, thread_id=await desk.topic())


async def file_payment_arrangement(desk: Desk) -> None:
    await to_summary_nl(desk.anna)
    await desk.anna.press("Dien verzoek in")


async def ask_a_question(desk: Desk) -> None:
    await desk.anna.send("/start")
    await desk.anna.press("Vraag stellen")
    await desk.anna.send("hoe stel ik een MX record in voor mijn mailserver")


Step = Callable[[Desk], Awaitable[None]]
JOURNEY: tuple[Step, ...] = (
    file_cancellation, colleague_claims, colleague_answers, colleague_sends_a_photo,
    customer_answers, colleague_closes, file_payment_arrangement, ask_a_question,
)


async def walk(desk: Desk, plan: FaultPlan | None = None, *,
               around: Callable[[int, Step], Any] | None = None) -> Record:
    """Start the bot under `plan` and walk the journey, waiting after each step until the
    outbox is empty; `around(index, step)` may change the plan per step."""
    desk.tg.fault_plan = plan
    await desk.balie.start()
    for index, step in enumerate(JOURNEY):
        if around is not None:
            around(index, step)
        await step(desk)
        await desk.drained()
    desk.tg.fault_plan = None
    return await desk.record()


@dataclass
class Golden:
    record: Record
    methods: set[str]


_golden: list[Golden] = []


async def golden(tmp_path_factory: pytest.TempPathFactory) -> Golden:
    """The journey without faults (walked once per test session, on its own bot)."""
    if not _golden:
        async with FakeTelegram(token=TOKEN) as fake:
            fake.add_supergroup(STAFF_CHAT_ID, "Balie staff", forum=True)
            running = Balie(fake, tmp_path_factory.mktemp("golden") / "balie.sqlite3")
            fake.set_member(STAFF_CHAT_ID, KEES, "member")
            clean = Desk(running, fake)
            try:
                record = await walk(clean)
            finally:
                await running.stop()
            _golden.append(Golden(record, {call.method for call in fake.calls}))
    return _golden[0]


# --------------------------------------------------------------------------- fault plans


def request_key(call: Call) -> str:
    """The same request, when it is retried (for getUpdates: the same offset)."""
    if call.method == "getUpdates":
        return f"getUpdates {call.params.get('offset')}"
    return call.method + json.dumps(call.params, sort_keys=True, default=str)


def every_request_once(fault: Fault) -> FaultPlan:
    """The first attempt of every distinct request gets `fault`; a retry goes through."""
    seen: set[str] = set()

    def plan(call: Call) -> Fault | None:
        if fault.kind == "slow":
            return fault
        key = request_key(call)
        if key in seen:
            return None
        seen.add(key)
        return fault

    return plan


def faulted(tg: FakeTelegram) -> set[str]:
    return {call.method for call in tg.calls if call.fault is not None}


# --------------------------------------------------------------------------- the tests


async def test_the_journey_without_faults_is_the_golden_record(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    clean = await golden(tmp_path_factory)
    record = clean.record
    # The record is what the journey promises (so the comparisons below compare something).
    assert [t[1:4] for t in record.tickets] == [
        ("cancellation", "closed", "normal"), ("payment_arrangement", "open", "normal")]
    [(name, closed, seen)] = [t for t in record.topics if "Opzegging" in t[0]]
    assert closed and name.startswith("#1 ✅")
    assert any("ik zet de opzegging" in text for _, _, text, _ in record.customer)
    assert any(kind == "photo" for from_bot, kind, _, _ in record.customer if from_bot)
    assert any("Dank je, graag per 15 maart." in text for from_bot, _, text, _ in seen
               if from_bot)
    assert set(record.outbox) <= {(kind, "sent") for kind, _ in record.outbox}
    assert set(record.inbox) == {"done"}
    for method in ("getUpdates", "sendMessage", "editMessageText", "answerCallbackQuery",
                   "copyMessage", "createForumTopic", "editForumTopic", "closeForumTopic",
                   "getChatMember"):
        assert method in clean.methods


@pytest.mark.parametrize("kind", sorted(FAULTS))
async def test_every_request_failing_once_changes_nothing_anyone_sees(
        kind: str, desk: Desk, tmp_path_factory: pytest.TempPathFactory) -> None:
    clean = await golden(tmp_path_factory)

    record = await walk(desk, every_request_once(FAULTS[kind]))

    assert record == clean.record
    assert faulted(desk.tg) >= clean.methods  # every method the bot uses met the fault


def first_of_each_method(fault: Fault) -> FaultPlan:
    """The first request of every method gets `fault` (for 429: each costs its retry_after)."""
    seen: set[str] = set()

    def plan(call: Call) -> Fault | None:
        if call.method in seen:
            return None
        seen.add(call.method)
        return fault

    return plan


async def test_429_on_every_method_is_waited_out(
        desk: Desk, tmp_path_factory: pytest.TempPathFactory) -> None:
    clean = await golden(tmp_path_factory)
    flood = Fault("error", 429, "Too Many Requests: retry after 1", retry_after=1)

    record = await walk(desk, first_of_each_method(flood))

    assert record == clean.record
    assert faulted(desk.tg) >= clean.methods


def orphans(tg: FakeTelegram) -> tuple[set[tuple[int, int]], set[int]]:
    """What requests whose answer was lost left behind: (chat, message id) of each message
    sent or copied, thread id of each topic created."""
    messages, topics = set(), set()
    for call in tg.calls:
        if call.fault != "lost" or not isinstance(call.response, dict):
            continue
        if call.method in ("sendMessage", "copyMessage"):
            messages.add((call.params["chat_id"], call.response["message_id"]))
        elif call.method == "createForumTopic":
            topics.add(call.response["message_thread_id"])
    return messages, topics


async def test_a_lost_answer_repeats_at_most_that_one_message(
        desk: Desk, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Telegram handled the request but its answer never arrived (the connection broke, the
    request timed out). The Bot API has no idempotency key, so the bot cannot know; it sends
    again rather than risk losing the message: at least once. Bounded: one repeat at most per
    lost answer of a send or a copy, an empty extra topic at most per lost createForumTopic; an
    edit, a topic change or a callback answer repeated is "not modified" and has no effect;
    getUpdates lost is fetched again and handled once (the inbox). Tickets, their messages and
    the outbox are exactly as without faults."""
    clean = await golden(tmp_path_factory)

    record = await walk(desk, every_request_once(Fault("lost")))

    assert faulted(desk.tg) >= clean.methods
    messages, topics = orphans(desk.tg)
    for thread in topics:
        assert desk.tg.chat(STAFF_CHAT_ID, thread) == [], "a lost topic was used"
    hidden = await desk.record(hiding=(messages, topics))
    assert hidden == clean.record
    assert record != clean.record  # the repeats are visible: this is what they are
    customer = sum(1 for chat, _ in messages if chat == ANNA)
    assert customer and len(record.customer) == len(clean.record.customer) + customer
    print(f"lost answers: {len(messages)} messages repeated ({customer} to the customer), "
          f"{len(topics)} empty topics, of {len(desk.tg.calls)} requests")


class ChatDown:
    """Every request to one chat (for the staff group: topics, cards, relays, membership
    checks) fails, by turns a dropped connection and nginx's 502 page, for `seconds` from
    `start()`."""

    def __init__(self, chat_id: int, seconds: float) -> None:
        self.chat_id = chat_id
        self.seconds = seconds
        self.until = 0.0
        self.turn = 0

    def start(self) -> None:
        self.until = time.monotonic() + self.seconds

    def __call__(self, call: Call) -> Fault | None:
        if call.params.get("chat_id") != self.chat_id or time.monotonic() >= self.until:
            return None
        self.turn += 1
        return Fault("drop") if self.turn % 2 else Fault("html", 502)


async def walk_with_outage(desk: Desk, down: ChatDown, step: str) -> Record:
    def outage_at(_index: int, each: Step) -> None:
        if each.__name__ == step:
            long_ago(desk)
            down.start()

    record = await walk(desk, down, around=outage_at)
    assert down.turn > 0  # the chat was asked for something while it was down
    # A reply that could not wait went through the outbox: more rows, all of them sent; a
    # colleague told that a press did nothing presses again: more updates, all of them done.
    assert set(record.outbox) <= {(kind, "sent") for kind, _ in record.outbox}
    assert set(record.inbox) == {"done"}
    return record


def long_ago(desk: Desk) -> None:
    """The staff side's membership answers are old (over a minute: asked again)."""
    assert desk.balie.app is not None
    [staff] = [r for r in desk.balie.app.dispatcher.chain_tail if r.name == "staff"]
    [context] = [m for m in staff.message.outer_middleware if isinstance(m, StaffMiddleware)]
    known = context.membership._known
    for user_id, (_, acting) in known.items():
        known[user_id] = (0.0, acting)


STAFF_STEPS = [step.__name__ for step in JOURNEY
               if step is not ask_a_question]  # a question touches no staff group


@pytest.mark.parametrize("step", STAFF_STEPS)
async def test_the_staff_group_unreachable_for_a_while_delays_but_loses_nothing(
        step: str, desk: Desk, tmp_path_factory: pytest.TempPathFactory) -> None:
    clean = await golden(tmp_path_factory)

    record = await walk_with_outage(desk, ChatDown(STAFF_CHAT_ID, seconds=1.0), step)

    record.outbox, record.inbox = clean.record.outbox, clean.record.inbox  # (checked above)
    assert record == clean.record


@pytest.mark.parametrize("step", [
    "colleague_claims", "colleague_answers", "colleague_sends_a_photo", "customer_answers",
    "colleague_closes"])  # (in a form, a customer waits for each answer before going on)
async def test_the_customer_unreachable_for_a_while_gets_every_notification_once(
        step: str, desk: Desk, tmp_path_factory: pytest.TempPathFactory) -> None:
    clean = await golden(tmp_path_factory)

    record = await walk_with_outage(desk, ChatDown(ANNA, seconds=1.0), step)

    record.outbox, record.inbox = clean.record.outbox, clean.record.inbox
    assert record == clean.record


class Unreachable:
    """A bot whose getChatMember never reaches Telegram."""

    async def get_chat_member(self, chat_id: int, user_id: int) -> None:
        raise TelegramNetworkError(GetChatMember(chat_id=chat_id, user_id=user_id),
                                   "ServerDisconnectedError: Server disconnected")


async def test_membership_when_telegram_cannot_be_asked() -> None:
    membership, bot = Membership(STAFF_CHAT_ID), cast(Bot, Unreachable())
    # Never seen: a message written in the group vouches for its writer, a button does not.
    assert await membership.is_member(bot, KEES, wrote=True)
    with pytest.raises(CannotCheck):
        await membership.is_member(bot, KEES)  # (what a message vouched for was not kept)
    # Seen before, however long ago: that answer holds, for a message and a button alike.
    membership._known[KEES] = (0.0, False)
    assert not await membership.is_member(bot, KEES, wrote=True)
    membership._known[KEES] = (0.0, True)
    assert await membership.is_member(bot, KEES)


@pytest.mark.parametrize("post", [
    {"sender_chat": {"id": -1009876543210, "type": "channel", "title": "Nieuws"}},
    {"is_automatic_forward": True},
    {"from_bot": True},
])
async def test_a_post_nobody_vouches_for_is_refused_while_telegram_cannot_be_asked(
        post: dict[str, Any]) -> None:
    """A post in a channel's name, an automatic forward or a bot's message shows nothing about
    a colleague: while getChatMember cannot be asked it is refused, not taken as a member's."""
    from datetime import datetime

    from aiogram.types import Chat, Message, User

    sender = User(id=136817688 if post else KEES, is_bot=bool(post.get("from_bot")) or
                  "sender_chat" in post, first_name="Channel")
    message = Message(message_id=7, date=datetime(2026, 11, 28, 10, 0),
                      chat=Chat(id=STAFF_CHAT_ID, type="supergroup"), from_user=sender,
                      text="Hallo klant", **{k: v for k, v in post.items() if k != "from_bot"})
    handled: list[object] = []

    async def handler(event: object, data: dict[str, Any]) -> None:
        handled.append(event)

    middleware = StaffMiddleware(STAFF_CHAT_ID, Membership(STAFF_CHAT_ID))
    await middleware(handler, message, {"bot": cast(Bot, Unreachable()),
                                        "event_from_user": sender})
    assert handled == []
