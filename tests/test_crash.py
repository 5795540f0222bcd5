"""kill -9 of the real bot process at random moments of scripted conversations (the
cancellation guide and the payment arrangement, taking turns), and Telegram down while a
request is filed: afterwards every answer the customer typed is stored at its step, there is
one ticket, its confirmation arrived once, and nobody was left without a reply.

The bot processes are forked by tests/crashbot.py (Balie imported once), each a real process
killed with SIGKILL, at about 3 of 4 steps (mid-update, mid-send, during a 429 wait). CI tries
at least 100 kill points; more: BALIE_CRASH_KILLS=1000 python -m pytest tests/test_crash.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import STAFF_CHAT_ID, TODAY, TOKEN
from tests.fakeapi import FakeTelegram, ShownMessage, iter_buttons

KILLS = int(os.environ.get("BALIE_CRASH_KILLS", "100"))
KILL_CHANCE = 0.75
REPLY_TIMEOUT = 20.0  # seconds a customer waits for any reaction before the test fails
# What each customer types, and where it must end up on the ticket.
DOMAIN, RENEWAL, REASON_TEXT, EMAIL = "voorbeeld.nl", "15 maart 2027", "Te duur", "klant@example.nl"
INVOICE, AMOUNT = "2026001234", "49,95"
PAYMENT_REASON = "Mijn klant heeft nog niet betaald, dus ik kom deze maand tekort."
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
        self._factory.stdin.write(f"spawn {self.config} {TODAY.isoformat()} {self.log}\n"
                                  .encode())
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

    def rows(self, sql: str, *params: object) -> list[sqlite3.Row]:
        connection = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)
        connection.row_factory = sqlite3.Row
        try:
            return list(connection.execute(sql, params))
        finally:
            connection.close()


@dataclass
class Customer:
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

    def send(self, text: str) -> None:
        extra: dict[str, object] = {"text": text}
        if text.startswith("/"):
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
        shown = self.tg.record_message(self.id, text=text, sender=self.user, kind="text",
                                       extra=extra)
        self.tg.push_update({"message": dict(shown.raw)})
        self.typed.append(text)

    def press(self, label: str) -> None:
        screen = self.screen()
        assert screen is not None
        data = next(data for text, data in iter_buttons(screen) if label in text)
        self.tg.push_update({"callback_query": {
            "id": self.tg.new_callback_query_id(), "from": self.user,
            "chat_instance": f"ci{self.id}", "data": data, "message": dict(screen.raw)}})


Action = tuple[str, str] | None


def next_action(screen: ShownMessage | None) -> Action:
    """The cancellation guide as a customer walks it, read off the screen (None: done)."""
    if screen is None:
        return "send", "/start"
    text, labels = screen.text, [label for label, _ in iter_buttons(screen)]
    if "ticket #" in text:
        return None
    for label in ("Dien opzegverzoek in", "Dienst opzeggen", "Hostingpakket",
                  "Einde van de termijn", "Prijs", "Volgende"):
        if any(label in shown for shown in labels):
            return "press", label
    if "welke domeinnaam" in text:
        return "send", DOMAIN
    if "volgende contractperiode" in text:
        return "send", RENEWAL
    if "Wil je er nog iets over kwijt" in text:
        return "send", REASON_TEXT
    if "Met welk" in text and "e-mailadres" in text:
        return "send", EMAIL
    raise AssertionError(f"the customer does not know what to do with: {text[:300]!r} {labels}")


def next_payment_action(screen: ShownMessage | None) -> Action:
    """The payment arrangement as a customer walks it, read off the screen (None: done)."""
    if screen is None:
        return "send", "/start"
    text, labels = screen.text, [label for label, _ in iter_buttons(screen)]
    if "ticket #" in text:
        return None
    for label in ("Dien verzoek in", "Betalingsregeling aanvragen", "In termijnen",
                  "3 termijnen"):
        if any(label in shown for shown in labels):
            return "press", label
    if "Waarom lukt het niet" in text:
        return "send", PAYMENT_REASON
    if "<b>bedrag</b> staat er nog open" in text:
        return "send", AMOUNT
    if "Om welke <b>factuur</b>" in text:
        return "send", INVOICE
    if "<b>e-mailadres</b> ben je bij" in text:
        return "send", EMAIL
    raise AssertionError(f"the customer does not know what to do with: {text[:300]!r} {labels}")


SCRIPTS = {"cancellation": next_action, "payment_arrangement": next_payment_action}
EXPECTED = {
    "cancellation": {"service": "hosting", "domain": DOMAIN, "renewal_date": "2027-03-15",
                     "reason": "price", "reason_text": REASON_TEXT, "email": EMAIL},
    "payment_arrangement": {"email": EMAIL, "invoice_number": INVOICE, "amount": "49.95",
                            "reason_text": PAYMENT_REASON},
}


async def settle(bots: Bots, seen: int) -> None:
    """Wait for a reaction to what the customer did, then until the bot has handled every
    update it took in and delivered what was due (the customer waits for the bot)."""
    tg = bots.tg
    deadline = asyncio.get_running_loop().time() + REPLY_TIMEOUT
    while tg.seq <= seen:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the customer got no reply")
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


async def walk_with_kills(bots: Bots, customer: Customer, rng: random.Random,
                          script: str = "cancellation") -> None:
    steps = 0
    while (action := SCRIPTS[script](customer.screen())) is not None:
        steps += 1
        assert steps < 60, "the guide never ended"
        flood = rng.random() < 0.1
        if flood:  # a kill while the bot waits out a 429
            bots.tg.fail_next_flood("editMessageText", retry_after=1)
            bots.tg.fail_next_flood("sendMessage", retry_after=1)
        kind, value = action
        customer.send(value) if kind == "send" else customer.press(value)
        seen = bots.tg.seq  # what the customer did is on screen; now the bot's turn
        if rng.random() < KILL_CHANCE:
            await asyncio.sleep(rng.uniform(0.2, 0.8) if flood else rng.uniform(0.0, 0.04))
            await bots.kill()
            await bots.start()
        await settle(bots, seen)


async def test_kill_9_at_random_moments_loses_nothing(tg: FakeTelegram, tmp_path: Path) -> None:
    rng = random.Random(20261128)
    async with Bots(tg, tmp_path) as bots:
        await bots.start()
        customers: list[tuple[str, Customer]] = []
        while bots.kills < KILLS:
            script = list(SCRIPTS)[len(customers) % len(SCRIPTS)]
            n = len(customers)
            customer = Customer(tg, tg.add_user(5000 + n, f"Klant{n}", language_code="nl"))
            customers.append((script, customer))
            await walk_with_kills(bots, customer, rng, script)
        await bots.stop()
    assert bots.kills >= KILLS, f"only {bots.kills} kill points"
    assert {script for script, _ in customers} == set(SCRIPTS)
    print(f"{bots.kills} kill points over {len(customers)} conversations")
    for script, customer in customers:
        tickets = bots.rows("SELECT * FROM tickets WHERE customer_id = ?", customer.id)
        assert len(tickets) == 1, f"customer {customer.id}: {len(tickets)} tickets"
        assert tickets[0]["category"] == script
        fields = json.loads(tickets[0]["fields"])
        expected = EXPECTED[script]
        assert {key: fields[key] for key in expected} == expected, customer.id
        confirmations = [m for m in tg.chat(customer.id)
                         if m.from_bot and f"ticket #{tickets[0]['id']}" in m.text]
        assert len(confirmations) == 1
    assert bots.rows("SELECT * FROM inbox WHERE state != 'done'") == []
    assert bots.rows("SELECT * FROM outbox WHERE state != 'sent'") == []


async def test_request_filed_while_telegram_is_down_survives_kill_and_arrives_once(
    tg: FakeTelegram, tmp_path: Path,
) -> None:
    async with Bots(tg, tmp_path) as bots:
        await bots.start()
        anna = Customer(tg, tg.add_user(6001, "Anna", language_code="nl"))
        for _ in range(40):  # the guide up to its summary
            action = next_action(anna.screen())
            if action == ("press", "Dien opzegverzoek in"):
                break
            assert action is not None, [m.text[:80] for m in tg.chat(anna.id)]
            anna.send(action[1]) if action[0] == "send" else anna.press(action[1])
            await settle(bots, tg.seq)
        else:
            raise AssertionError([m.text[:80] for m in tg.chat(anna.id)])
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
        anna = Customer(tg, tg.add_user(7001, "Anna", language_code="nl"))
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
