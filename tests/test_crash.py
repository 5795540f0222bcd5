"""kill -9 of the real bot process at random moments of scripted conversations (the
cancellation guide, the payment arrangement, and a staff reply: an urgent ticket a colleague
picks up and answers in its topic, the customer's answer by Telegram's reply, /close), each
script in turn as it has had the fewest kill points, and Telegram down while a request is
filed: afterwards every answer the customer typed is stored at its step, there is one ticket,
its confirmation arrived once, and nobody was left without a reply. What each party saw of a
staff reply is checked message by message: once, or again only where the bot was killed after
Telegram had taken a message and before it had written that down (`assert_once`).

The bot processes are forked by tests/crashbot.py (Balie imported once), each a real process
killed with SIGKILL, at about 3 of 4 steps (mid-update, mid-send, during a 429 wait). CI tries
at least 120 kill points; more: BALIE_CRASH_KILLS=1000 python -m pytest tests/test_crash.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import signal
import sqlite3
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import NOW, STAFF_CHAT_ID, TODAY, TOKEN
from tests.fakeapi import FakeTelegram, ShownMessage, iter_buttons

KILLS = int(os.environ.get("BALIE_CRASH_KILLS", "120"))
KILL_CHANCE = 0.75
REPLY_TIMEOUT = 20.0  # seconds a customer waits for any reaction before the test fails
# What each customer types, and where it must end up on the ticket.
DOMAIN, RENEWAL, REASON_TEXT, EMAIL = "voorbeeld.nl", "15 maart 2027", "Te duur", "klant@example.nl"
INVOICE, AMOUNT = "2026001234", "49,95"
PAYMENT_REASON = "Mijn klant heeft nog niet betaald, dus ik kom deze maand tekort."
STAFF_REPLY = "Hoi! Ik zet voorbeeld.nl vandaag voor je terug; verander niets aan de DNS."
CUSTOMER_ANSWER = "Dank je wel, ik wacht het af."
COLLEAGUE_ID = 4001
ROOT = Path(__file__).resolve().parent.parent


class Bots:
    """Real bot processes on demand (forked by tests/crashbot.py), killed with SIGKILL."""

    def __init__(self, tg: FakeTelegram, folder: Path) -> None:
        self.tg = tg
        self.folder = folder
        self.config = folder / "config.toml"
        self.database = folder / "balie.sqlite3"
        self.log = folder / "bot.log"
        self.config.write_text(
            f'[telegram]\ntoken = "{TOKEN}"\napi_base = "{tg.api_base}"\n'
            f"staff_chat_id = {STAFF_CHAT_ID}\npolling_timeout = 1\n"
            f'[storage]\ndatabase = "{self.database}"\n', encoding="utf-8")
        self.pid: int | None = None
        self.kills = 0
        self.kill_points: list[KillPoint] = []
        self._factory: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Bots:
        self._factory = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.crashbot", cwd=ROOT,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        if self._factory is not None:
            assert self._factory.stdin is not None
            self._factory.stdin.close()
            with contextlib.suppress(ProcessLookupError):
                self._factory.kill()
            await self._factory.wait()

    async def start(self, *, wait_for_polling: bool = True) -> None:
        assert self._factory is not None and self._factory.stdin and self._factory.stdout
        polls = len(self.tg.calls_to("getUpdates"))
        self._factory.stdin.write(
            f"spawn {self.config} {TODAY.isoformat()} {NOW.isoformat()} {self.log}\n".encode())
        await self._factory.stdin.drain()
        self.pid = int((await self._factory.stdout.readline()).decode())
        if wait_for_polling:
            await self.tg.wait_for_call("getUpdates", polls + 1, timeout=30)

    async def kill(self) -> None:
        assert self.pid is not None
        os.kill(self.pid, signal.SIGKILL)
        self.kills += 1
        for _ in range(500):  # gone once the kernel reaped it
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            await asyncio.sleep(0.01)
        self.pid = None
        await self.tg.wait_idle(quiet=0.05, timeout=2)  # what Telegram took from the dead one
        self.kill_points.append(KillPoint.of(self))

    async def stop(self) -> None:
        """SIGTERM, as an operator's `systemctl stop` would."""
        assert self.pid is not None
        os.kill(self.pid, signal.SIGTERM)
        for _ in range(3000):
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            await asyncio.sleep(0.01)
        self.pid = None

    def diagnosis(self) -> str:
        """What a failure needs: the bot's last log lines, the last requests, the inbox and
        the outbox not done."""
        log = self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-25:] \
            if self.log.exists() else []
        calls = [f"{call.method} {call.status} {call.error or ''}"
                 for call in self.tg.calls[-15:]]
        waiting = [dict(row) for row in self.rows(
            "SELECT update_id, state FROM inbox WHERE state != 'done' UNION ALL "
            "SELECT id, kind || ':' || state FROM outbox WHERE state != 'sent'")]
        return "\n".join(["bot log:", *log, "requests:", *calls, f"not done: {waiting}"])

    def rows(self, sql: str, *params: object) -> list[sqlite3.Row]:
        connection = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)
        connection.row_factory = sqlite3.Row
        try:
            return list(connection.execute(sql, params))
        finally:
            connection.close()


@dataclass(frozen=True)
class KillPoint:
    """What Telegram had and what the bot had written down when a bot process was killed."""

    last_ids: dict[int, int]  # per chat, the newest message Telegram had
    topics: frozenset[int]  # the staff group's topics Telegram had
    pending: frozenset[tuple[int, str]]  # (chat, text) of messages the outbox had not sent
    tickets: dict[int, tuple[int | None, int | None]]  # ticket -> (its topic, its card)

    @classmethod
    def of(cls, bots: Bots) -> KillPoint:
        tg = bots.tg
        last_ids = {chat: messages[-1].message_id for chat in list(tg._chats)
                    if (messages := tg.all_messages(chat))}
        pending = frozenset(
            (row["chat_id"], json.loads(row["payload"]).get("text", ""))
            for row in bots.rows("SELECT chat_id, payload FROM outbox WHERE state = 'pending'"))
        tickets = {row["id"]: (row["topic_id"], row["card_message_id"])
                   for row in bots.rows("SELECT id, topic_id, card_message_id FROM tickets")}
        return cls(last_ids, frozenset(tg.topics(STAFF_CHAT_ID)), pending, tickets)

    def between(self, first: ShownMessage, then: ShownMessage) -> bool:
        """The kill fell after Telegram had `first` and before it had `then`."""
        last = self.last_ids.get(first.chat_id, 0)
        return first.message_id <= last < then.message_id


def assert_once(copies: list[ShownMessage], kills: list[KillPoint], what: str,
                unrecorded: Callable[[KillPoint], bool] = lambda kill: True) -> int:
    """One copy; another only for a process killed after Telegram had taken the message and
    before the bot had written that down (`unrecorded` at that kill): a request whose answer
    died with the process. sendMessage has no idempotency key, so the next process sends it
    again; nothing else may repeat a message."""
    assert copies, f"{what}: never shown"
    for first, then in itertools.pairwise(sorted(copies, key=lambda m: m.message_id)):
        assert any(kill.between(first, then) and unrecorded(kill) for kill in kills), \
            f"{what}: shown twice ({first.message_id}, {then.message_id}) without a kill " \
            f"between Telegram taking it and the bot noting so"
    return len(copies) - 1


@dataclass
class Person:
    """A Telegram user who types and taps: a customer in their chat with the bot, or a
    colleague in the staff group."""

    tg: FakeTelegram
    user: dict[str, object]
    typed: list[str] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(str(self.user["id"]))

    def screen(self) -> ShownMessage | None:
        """What the customer looks at: the bot message that changed last."""
        shown = [m for m in self.tg.chat(self.id) if m.from_bot]
        return max(shown, key=lambda m: m.seq) if shown else None

    def send(self, text: str, *, chat: int | None = None, thread: int | None = None,
             reply_to: ShownMessage | None = None) -> None:
        extra: dict[str, object] = {"text": text}
        if text.startswith("/"):
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
        shown = self.tg.record_message(self.id if chat is None else chat, text=text,
                                       sender=self.user, kind="text", thread_id=thread,
                                       extra=extra)
        message = dict(shown.raw)
        if reply_to is not None:  # Telegram's reply: the answered message comes along
            message["reply_to_message"] = dict(reply_to.raw)
        self.tg.push_update({"message": message})
        self.typed.append(text)

    def press(self, label: str, on: ShownMessage | None = None) -> None:
        screen = on or self.screen()
        assert screen is not None
        data = next(data for text, data in iter_buttons(screen) if label in text)
        self.tg.push_update({"callback_query": {
            "id": self.tg.new_callback_query_id(), "from": self.user,
            "chat_instance": f"ci{screen.chat_id}", "data": data, "message": dict(screen.raw)}})


Action = tuple[str, str] | None


@dataclass(frozen=True)
class Guide:
    """A dialog as a customer walks it, read off the screen: the buttons they press, and what
    they type when a screen asks for it (all of its words → the answer); done (None) once the
    screen names their ticket."""

    presses: tuple[str, ...]
    answers: tuple[tuple[tuple[str, ...], str], ...]

    def __call__(self, screen: ShownMessage | None) -> Action:
        if screen is None:
            return "send", "/start"
        text, labels = screen.text, [label for label, _ in iter_buttons(screen)]
        if "ticket #" in text:
            return None
        for label in self.presses:
            if any(label in shown for shown in labels):
                return "press", label
        for words, answer in self.answers:
            if all(word in text for word in words):
                return "send", answer
        raise AssertionError(
            f"the customer does not know what to do with: {text[:300]!r} {labels}")


next_action = Guide(  # the cancellation guide
    ("Dien opzegverzoek in", "Dienst opzeggen", "Hostingpakket", "Einde van de termijn",
     "Prijs", "Volgende"),
    ((("welke domeinnaam",), DOMAIN), (("volgende contractperiode",), RENEWAL),
     (("Wil je er nog iets over kwijt",), REASON_TEXT), (("Met welk", "e-mailadres"), EMAIL)))
next_payment_action = Guide(  # the payment arrangement
    ("Dien verzoek in", "Betalingsregeling aanvragen", "In termijnen", "3 termijnen"),
    ((("Waarom lukt het niet",), PAYMENT_REASON), (("<b>bedrag</b> staat er nog open",), AMOUNT),
     (("Om welke <b>factuur</b>",), INVOICE), (("<b>e-mailadres</b> ben je bij",), EMAIL)))
next_accidental_action = Guide(  # cancelled immediately by mistake: an urgent ticket
    ("Maak het spoedticket aan", "Per ongeluk direct opgezegd", "Gisteren"),
    ((("Om welke <b>domeinnaam</b>",), DOMAIN), (("<b>e-mailadres</b>",), EMAIL)))


@dataclass
class Scene:
    """Who takes part in a scripted conversation: a customer, and the colleague who works
    their ticket in its topic in the staff group."""

    customer: Person
    colleague: Person | None = None

    @property
    def tg(self) -> FakeTelegram:
        return self.customer.tg

    def ticket(self) -> int | None:
        """The number of the customer's urgent ticket, as its confirmation gave it."""
        for message in self.tg.chat(self.customer.id):
            found = re.search(r"spoedticket is aangemaakt: <b>ticket #(\d+)", message.text)
            if message.from_bot and found:
                return int(found.group(1))
        return None

    def topic(self, ticket: int) -> int:
        """The ticket's topic as the colleague finds it: named after it, with its card."""
        for thread, topic in self.tg.topics(STAFF_CHAT_ID).items():
            if topic.name.startswith(f"#{ticket} ") and self.card(ticket, thread) is not None:
                return thread
        raise AssertionError(f"the colleagues have no topic with a card for ticket #{ticket}")

    def card(self, ticket: int, thread: int) -> ShownMessage | None:
        cards = [m for m in self.tg.chat(STAFF_CHAT_ID, thread)
                 if m.from_bot and f"Ticket #{ticket} · " in m.plain]
        return cards[-1] if cards else None

    def relayed(self, text: str) -> ShownMessage | None:
        """The newest bot message in the customer's chat that relays `text`."""
        copies = [m for m in self.tg.chat(self.customer.id) if m.from_bot and text in m.text]
        return copies[-1] if copies else None

    def act(self, action: tuple[str, str]) -> None:
        kind, value = action
        if kind in ("send", "press"):
            self.customer.send(value) if kind == "send" else self.customer.press(value)
            return
        ticket = self.ticket()
        assert ticket is not None and self.colleague is not None
        topic = self.topic(ticket)
        if kind == "staff_press":
            self.colleague.press(value, on=self.card(ticket, topic))
        elif kind == "staff_send":
            self.colleague.send(value, chat=STAFF_CHAT_ID, thread=topic)
        else:  # "reply": Telegram's reply to the colleague's relayed message
            self.customer.send(value, reply_to=self.relayed(STAFF_REPLY))


def next_staff_reply_action(scene: Scene) -> Action:
    """A staff reply: the customer files an urgent ticket; a colleague picks it up on its
    card and answers in its topic; the customer answers that with Telegram's reply; the
    colleague, having seen it in the topic, closes the ticket (None: done)."""
    ticket = scene.ticket()
    if ticket is None:
        return next_accidental_action(scene.customer.screen())
    topic = scene.topic(ticket)
    card = scene.card(ticket, topic)
    assert card is not None
    assert scene.colleague is not None
    said = [m.text for m in scene.tg.chat(STAFF_CHAT_ID, topic)
            if m.raw.get("from", {}).get("id") == scene.colleague.id]
    if any("Oppakken" in label for label in card.labels):
        return "staff_press", "Oppakken"
    if STAFF_REPLY not in said:
        return "staff_send", STAFF_REPLY
    if CUSTOMER_ANSWER not in scene.customer.typed:
        assert scene.relayed(STAFF_REPLY) is not None, "the colleague's reply never arrived"
        return "reply", CUSTOMER_ANSWER
    if "/close" not in said:
        assert any(CUSTOMER_ANSWER in m.text for m in scene.tg.chat(STAFF_CHAT_ID, topic)
                   if m.from_bot), "the colleague never saw the customer's answer"
        return "staff_send", "/close"
    return None


Script = Callable[[Scene], Action]


def on_screen(step: Guide) -> Script:
    """A script the customer walks alone, reading their screen."""
    return lambda scene: step(scene.customer.screen())


SCRIPTS: dict[str, Script] = {"cancellation": on_screen(next_action),
                              "payment_arrangement": on_screen(next_payment_action),
                              "staff_reply": next_staff_reply_action}
CATEGORIES = {"cancellation": "cancellation", "payment_arrangement": "payment_arrangement",
              "staff_reply": "accidental_cancellation"}
EXPECTED = {
    "cancellation": {"service": "hosting", "domain": DOMAIN, "renewal_date": "2027-03-15",
                     "reason": "price", "reason_text": REASON_TEXT, "email": EMAIL},
    "payment_arrangement": {"email": EMAIL, "invoice_number": INVOICE, "amount": "49.95",
                            "reason_text": PAYMENT_REASON},
    "staff_reply": {"email": EMAIL, "domain": DOMAIN,
                    "happened_on": (TODAY - timedelta(days=1)).isoformat()},
}


async def settle(bots: Bots, seen: int) -> None:
    """Wait for a reaction to what the customer did, then until the bot has handled every
    update it took in and delivered what was due (the customer waits for the bot)."""
    tg = bots.tg
    deadline = asyncio.get_running_loop().time() + REPLY_TIMEOUT
    while tg.seq <= seen:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the customer got no reply\n{bots.diagnosis()}")
        await asyncio.sleep(0.01)
    while bots.rows("SELECT 1 FROM inbox WHERE state = 'pending' UNION ALL "
                    "SELECT 1 FROM outbox WHERE state = 'pending'"):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the bot did not finish handling what the customer did")
        await asyncio.sleep(0.02)
    assert await tg.wait_idle(quiet=0.2, timeout=REPLY_TIMEOUT)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as fake:
        fake.add_supergroup(STAFF_CHAT_ID, "Balie staff", forum=True)
        yield fake


def colleague(tg: FakeTelegram) -> Person:
    """Kees, a member of the staff group."""
    tg.set_member(STAFF_CHAT_ID, COLLEAGUE_ID, "member")
    return Person(tg, tg.add_user(COLLEAGUE_ID, "Kees", language_code="nl"))


async def walk_with_kills(bots: Bots, scene: Scene, rng: random.Random | None,
                          script: str = "cancellation", until: Action = None) -> None:
    """Play a script, killing the bot at random moments (never without `rng`), up to its
    end or the action `until`."""
    steps = 0
    while (action := SCRIPTS[script](scene)) is not None and action != until:
        steps += 1
        assert steps < 60, "the guide never ended"
        flood = rng is not None and rng.random() < 0.1
        if flood:  # a kill while the bot waits out a 429
            bots.tg.fail_next_flood("editMessageText", retry_after=1)
            bots.tg.fail_next_flood("sendMessage", retry_after=1)
        scene.act(action)
        seen = bots.tg.seq  # what they did is on screen; now the bot's turn
        if rng is not None and rng.random() < KILL_CHANCE:
            await asyncio.sleep(rng.uniform(0.2, 0.8) if flood else rng.uniform(0.0, 0.04))
            await bots.kill()
            await bots.start()
        await settle(bots, seen)


def check_staff_reply(bots: Bots, scene: Scene) -> Counter[str]:
    """What the customer and the colleague saw of a staff reply, and what the ticket holds:
    every message once, or again only where a kill fell between Telegram taking it and the
    bot writing that down (`assert_once`). Returns what was shown again, and how often."""
    tg, kills, customer = bots.tg, bots.kill_points, scene.customer
    [ticket] = bots.rows("SELECT * FROM tickets WHERE customer_id = ?", customer.id)
    number, topic_id = ticket["id"], ticket["topic_id"]
    assert (ticket["status"], ticket["priority"], ticket["assignee"]) == \
        ("closed", "urgent", "Kees")
    thread = bots.rows("SELECT author, text FROM ticket_messages WHERE ticket_id = ? "
                       "ORDER BY id", number)
    assert [tuple(row) for row in thread] == [("colleague", STAFF_REPLY),
                                             ("customer", CUSTOMER_ANSWER)]
    relays = bots.rows("SELECT outbox.chat_id, outbox.state FROM ticket_messages JOIN outbox "
                       "ON outbox.thread_message_id = ticket_messages.id "
                       "WHERE ticket_messages.ticket_id = ? ORDER BY outbox.id", number)
    assert [tuple(row) for row in relays] == [(customer.id, "sent"), (STAFF_CHAT_ID, "sent")]

    repeats: Counter[str] = Counter()

    def outbox_once(chat: int, copies: list[ShownMessage], what: str) -> None:
        assert copies, f"{what}: never shown"
        text = copies[0].text
        assert all(copy.text == text for copy in copies), what
        repeats[what] += assert_once(copies, kills, what, lambda kill: (chat, text) in kill.pending)

    # The customer: the confirmation in place of the summary, then one message per event.
    shown = [m for m in tg.chat(customer.id) if m.from_bot]
    [confirmation] = [m for m in shown if f"spoedticket is aangemaakt: <b>ticket #{number}<"
                      in m.text]
    later = [m for m in shown if m.message_id > confirmation.message_id]
    expected = {"claimed": f"heeft je ticket #{number} ", "reply": STAFF_REPLY,
                "forwarded": f"Toegevoegd aan ticket #{number}.",
                "closed": f"Ticket #{number} ("}
    for what, part in expected.items():
        outbox_once(customer.id, [m for m in later if part in m.text], f"customer: {what}")
    assert all(any(part in m.text for part in expected.values()) for m in later), \
        [m.plain[:60] for m in later]

    # The colleague: one topic (an extra one only from a kill between Telegram creating it
    # and the bot storing it, and empty), one card, the customer's answer, /close answered.
    topics = {thread_id: topic for thread_id, topic in tg.topics(STAFF_CHAT_ID).items()
              if topic.name.startswith(f"#{number} ")}
    assert topics[topic_id].closed and topics[topic_id].name.startswith(f"#{number} ✅")
    for extra in set(topics) - {topic_id}:
        assert tg.chat(STAFF_CHAT_ID, extra) == [], f"ticket #{number}: topic {extra} used"
        assert any(extra in kill.topics and kill.tickets.get(number, (None, None))[0] is None
                   for kill in kills), f"ticket #{number}: topic {extra} created twice"
        repeats["topic"] += 1
    in_topic = [m for m in tg.chat(STAFF_CHAT_ID, topic_id) if m.from_bot]
    cards = [m for m in in_topic if f"Ticket #{number} · " in m.plain]
    repeats["card"] += assert_once(cards, kills, "card",
                                   lambda kill: kill.tickets.get(number) == (topic_id, None))
    assert cards[-1].message_id == ticket["card_message_id"]
    assert cards[-1].labels == ["🔄 Heropenen"] and "gesloten" in cards[-1].plain
    outbox_once(STAFF_CHAT_ID, [m for m in in_topic if CUSTOMER_ANSWER in m.text],
                "topic: the customer's answer")
    assert [m.text for m in tg.chat(STAFF_CHAT_ID, topic_id) if m.text == "/close"] == ["/close"]
    answers = [m for m in in_topic if f"Ticket #{number} is " in m.plain]
    repeats["topic: the answer to /close"] += assert_once(answers, kills, "the answer to /close")
    # Closed, then killed before it said so: the /close handled again finds its own close
    # (the audit event keeps the message that asked for it) and says it closed the ticket.
    assert all("is al gesloten" not in answer.plain for answer in answers)
    assert {m.message_id for m in in_topic} == {m.message_id for m in
                                               (*cards, *answers)} | {
        m.message_id for m in in_topic if CUSTOMER_ANSWER in m.text}
    outbox_once(STAFF_CHAT_ID, [m for m in tg.chat(STAFF_CHAT_ID) if m.thread_id is None
                                and f"Spoed: ticket #{number}</b>" in m.text], "urgent alert")
    return repeats


async def test_kill_9_at_random_moments_loses_nothing(tg: FakeTelegram, tmp_path: Path) -> None:
    rng = random.Random(20261128)
    kees = colleague(tg)
    kills: Counter[str] = Counter()
    repeats: Counter[str] = Counter()
    async with Bots(tg, tmp_path) as bots:
        await bots.start()
        scenes: list[tuple[str, Scene]] = []
        while bots.kills < KILLS:
            script = min(SCRIPTS, key=lambda each: kills[each])  # the one killed least so far
            n = len(scenes)
            customer = Person(tg, tg.add_user(5000 + n, f"Klant{n}", language_code="nl"))
            scenes.append((script, Scene(customer, kees)))
            before = bots.kills
            await walk_with_kills(bots, scenes[-1][1], rng, script)
            kills[script] += bots.kills - before
        await bots.stop()
    assert bots.kills >= KILLS, f"only {bots.kills} kill points"
    assert {script for script, _ in scenes} == set(SCRIPTS)
    print(f"{bots.kills} kill points over {len(scenes)} conversations: "
          + ", ".join(f"{script} {kills[script]}" for script in SCRIPTS))
    for script, scene in scenes:
        customer = scene.customer
        tickets = bots.rows("SELECT * FROM tickets WHERE customer_id = ?", customer.id)
        assert len(tickets) == 1, f"customer {customer.id}: {len(tickets)} tickets"
        assert tickets[0]["category"] == CATEGORIES[script]
        fields = json.loads(tickets[0]["fields"])
        expected = EXPECTED[script]
        assert {key: fields[key] for key in expected} == expected, customer.id
        if script == "staff_reply":
            repeats += check_staff_reply(bots, scene)
            continue
        confirmations = [m for m in tg.chat(customer.id)
                         if m.from_bot and f"ticket #{tickets[0]['id']}" in m.text]
        assert len(confirmations) == 1
    assert bots.rows("SELECT * FROM inbox WHERE state != 'done'") == []
    assert bots.rows("SELECT * FROM outbox WHERE state != 'sent'") == []
    print("shown again after a kill in Telegram's gap:", dict(+repeats) or "nothing")


async def test_a_kill_while_the_customer_s_answer_is_acknowledged_loses_no_acknowledgement(
    tg: FakeTelegram, tmp_path: Path,
) -> None:
    """The customer's answer to a colleague is in the ticket and on its way to the topic; the
    bot is killed while it tells the customer so. After the restart they are told, once."""
    async with Bots(tg, tmp_path) as bots:
        await bots.start()
        scene = Scene(Person(tg, tg.add_user(6101, "Anna", language_code="nl")), colleague(tg))
        await walk_with_kills(bots, scene, None, "staff_reply", until=("reply", CUSTOMER_ANSWER))
        gate = tg.hold_next("sendMessage", chat_id=scene.customer.id)  # it hangs
        sends = len(tg.calls_to("sendMessage"))
        scene.act(("reply", CUSTOMER_ANSWER))
        await tg.wait_for_call("sendMessage", sends + 1, timeout=20)
        await bots.kill()
        tg.fail_next("sendMessage", status=500, description="Internal Server Error")
        gate.set()  # and never reached the customer
        assert await tg.wait_idle(quiet=0.05)
        await bots.start()
        await walk_with_kills(bots, scene, None, "staff_reply")
        await bots.stop()
    check_staff_reply(bots, scene)


async def test_request_filed_while_telegram_is_down_survives_kill_and_arrives_once(
    tg: FakeTelegram, tmp_path: Path,
) -> None:
    async with Bots(tg, tmp_path) as bots:
        await bots.start()
        anna = Person(tg, tg.add_user(6001, "Anna", language_code="nl"))
        await walk_with_kills(bots, Scene(anna), None, until=("press", "Dien opzegverzoek in"))
        tg.fail_all(502)  # every method but getUpdates, or the press would never arrive
        anna.press("Dien opzegverzoek in")
        for _ in range(3000):  # filed although Telegram answers 502 to everything
            if bots.rows("SELECT id FROM tickets"):
                break
            await asyncio.sleep(0.01)
        [ticket] = bots.rows("SELECT id FROM tickets")
        for _ in range(3000):  # the press was handled: its update is done
            if not bots.rows("SELECT * FROM inbox WHERE state = 'pending'"):
                break
            await asyncio.sleep(0.01)
        [waiting] = bots.rows("SELECT * FROM outbox WHERE state = 'pending' AND chat_id = ?",
                              anna.id)
        assert waiting["ticket_id"] == ticket["id"]
        assert f"ticket #{ticket['id']}" in json.loads(waiting["payload"])["text"]
        await bots.kill()
        await bots.start(wait_for_polling=False)  # Telegram still down: getMe is retried
        await tg.wait_for_call("getMe", len(tg.calls_to("getMe")) + 1, timeout=30)
        tg.heal()
        for _ in range(3000):
            if any(f"ticket #{ticket['id']}" in m.text for m in tg.chat(anna.id)):
                break
            await asyncio.sleep(0.01)
        await tg.wait_idle(quiet=0.5, timeout=20)
        await bots.stop()
    assert len(bots.rows("SELECT * FROM tickets")) == 1
    confirmations = [m for m in tg.chat(anna.id) if f"ticket #{ticket['id']}" in m.text]
    assert len(confirmations) == 1
    states = bots.rows("SELECT state FROM outbox WHERE ticket_id = ?", ticket["id"])
    assert [row[0] for row in states] == ["sent", "sent"]  # the customer's and the staff's


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_a_signal_while_a_handler_runs_lets_it_finish(
    tg: FakeTelegram, tmp_path: Path, signum: signal.Signals,
) -> None:
    """Ctrl-C or SIGTERM mid-update: the handler in flight finishes (its reply arrives and its
    update is done), then the process exits without a traceback."""
    async with Bots(tg, tmp_path) as bots:
        await bots.start()
        anna = Person(tg, tg.add_user(7001, "Anna", language_code="nl"))
        gate = tg.hold_next("sendMessage", chat_id=anna.id)
        sends = len(tg.calls_to("sendMessage"))
        anna.send("/start")
        await tg.wait_for_call("sendMessage", sends + 1, timeout=20)  # the reply hangs
        assert bots.pid is not None
        pid = bots.pid
        os.kill(pid, signum)
        await asyncio.sleep(0.5)
        gate.set()  # Telegram answers after all
        for _ in range(2000):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the bot did not stop")
        bots.pid = None
    log = bots.log.read_text(encoding="utf-8")
    assert "Traceback" not in log and "KeyError" not in log
    assert "Balie stopped" in log
    assert any("Kies hieronder" in m.text or "Welkom" in m.text or "Hoi" in m.text
               for m in tg.chat(anna.id) if m.from_bot)
    assert bots.rows("SELECT state FROM inbox")[0][0] == "done"
