"""Black box over HTTP: Balie (`balie run`'s code: durable intake, outbox worker, SQLite) and a
bare aiogram bot (one handler per update type, MemoryStorage, aiogram's own polling), each in a
child process of its own, against the test kit's fake Bot API (`tests/fakeapi.py`) in this one.

A burst is N customers at once, in three phases: every customer sends /start; every customer
presses the first button of what the bot showed (Balie: "Dienst opzeggen", which opens the
cancellation guide, so all of them are mid-dialog); every customer types a question (Balie:
answered inside the form). Per phase the latency is the time from the updates being queued to
each customer's first reply (sendMessage or editMessageText); the bot's CPU is read from /proc
before and after the phase. A child handles `waves` bursts of new customers and its RSS is read
after each; `repeats` pairs of children run bare, Balie, bare, Balie, … so ratios pair up.

    python -m benchmarks.bench_http [--customers 1000] [--waves 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.stats import Table, cpu_seconds, percentile, rss_mib, spread

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "42:" + "B" * 32
QUESTION = "hoe zeg ik mijn hosting op"
PHASES = ("start", "press", "question")
FAIR_BURST = 50  # one customer's burst of questions, queued ahead of FAIR_OTHERS customers
FAIR_OTHERS = 100


# --- the child: one bot ------------------------------------------------------------------------


async def serve_balie(api_base: str, database: str) -> None:
    from bot.app import build_app, run_polling
    from bot.config import Config, StorageConfig, TelegramConfig

    config = Config(telegram=TelegramConfig(token=TOKEN, api_base=api_base, polling_timeout=10),
                    storage=StorageConfig(database=Path(database)))
    app = await build_app(config)
    await run_polling(app)


async def serve_bare(api_base: str) -> None:
    from aiogram import Bot, Dispatcher, Router
    from aiogram.client.default import DefaultBotProperties
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.enums import ParseMode
    from aiogram.fsm.storage.memory import MemoryStorage
    from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

    router = Router()
    menu = InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text="Menu", callback_data="menu")]])

    @router.message()
    async def reply(message: Message) -> None:
        await message.answer("Hallo! Dit is een <b>vast</b> antwoord.", reply_markup=menu)

    @router.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        if isinstance(query.message, Message):
            await query.message.edit_text("Je drukte op de knop.")
        await query.answer()

    dispatcher = Dispatcher(storage=MemoryStorage())
    dispatcher.include_router(router)
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base))
    bot = Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    await dispatcher.start_polling(bot, polling_timeout=10, handle_signals=True)


def child_main(argv: list[str]) -> int:
    import logging
    logging.basicConfig(level=logging.WARNING)
    kind, api_base = argv[0], argv[1]
    if kind == "balie":
        asyncio.run(serve_balie(api_base, argv[2]))
    else:
        asyncio.run(serve_bare(api_base))
    return 0


# --- the parent: the fake Bot API and the customers --------------------------------------------


@dataclass
class Phase:
    updates: int
    cpu: float  # bot CPU seconds
    wall: float  # first queued to last first reply
    latencies: list[float] = field(default_factory=list)
    api_calls: int = 0  # Bot API requests other than getUpdates


@dataclass
class ChildRun:
    kind: str
    first_poll: float  # seconds from spawn to the first getUpdates
    phases: dict[str, list[Phase]] = field(default_factory=dict)
    rss_mib: list[float] = field(default_factory=list)  # after each wave
    fair: list[float] = field(default_factory=list)  # others' latency behind one burst
    alone: list[float] = field(default_factory=list)  # the same others without the burst

    def cpu_per_update(self, phase: str | None = None) -> float:
        chosen = [p for name, ps in self.phases.items() if phase in (None, name) for p in ps]
        return sum(p.cpu for p in chosen) / max(1, sum(p.updates for p in chosen))

    def latencies(self, phase: str | None = None) -> list[float]:
        return [x for name, ps in self.phases.items() if phase in (None, name)
                for p in ps for x in p.latencies]

    def calls_per_update(self, phase: str | None = None) -> float:
        chosen = [p for name, ps in self.phases.items() if phase in (None, name) for p in ps]
        return sum(p.api_calls for p in chosen) / max(1, sum(p.updates for p in chosen))

    def throughput(self) -> float:
        chosen = [p for ps in self.phases.values() for p in ps]
        return sum(p.updates for p in chosen) / max(1e-9, sum(p.wall for p in chosen))


def _fake_api() -> Any:
    sys.path.insert(0, str(ROOT / "tests"))
    from fakeapi import FakeTelegram

    class TimedTelegram(FakeTelegram):
        """Notes when each chat got its first reply since `expect()` and the first poll."""

        def __init__(self) -> None:
            super().__init__(token=TOKEN)
            self.first_reply: dict[int, float] = {}
            self.first_poll: float | None = None
            for name in ("sendmessage", "editmessagetext"):
                canonical, handler = self._handlers_lc[name]
                self._handlers_lc[name] = (canonical, self._timed(handler))
            self._get_updates = self._polled(self._get_updates)  # type: ignore[method-assign]

        def _timed(self, handler: Any) -> Any:
            async def timed(params: dict[str, Any]) -> Any:
                result = await handler(params)
                chat = int(params.get("chat_id") or 0)
                self.first_reply.setdefault(chat, time.perf_counter())
                return result
            return timed

        def _polled(self, handler: Any) -> Any:
            async def polled(params: dict[str, Any], request: Any = None) -> Any:
                if self.first_poll is None:
                    self.first_poll = time.perf_counter()
                return await handler(params, request)
            return polled

    return TimedTelegram()


def _message(tg: Any, user_id: int, text: str) -> dict[str, Any]:
    user = tg._users[user_id]
    entities = None
    if text.startswith("/"):
        entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    shown = tg.record_message(user_id, text=text, sender=user, entities=entities)
    return {"message": dict(shown.raw)}


def _press(tg: Any, user_id: int) -> dict[str, Any]:
    shown = [m for m in tg.chat(user_id) if m.from_bot and m.buttons][-1]
    data = shown.buttons[0][0][1]
    return {"callback_query": {
        "id": tg.new_callback_query_id(), "from": tg._users[user_id],
        "chat_instance": f"ci{user_id}", "data": data, "message": dict(shown.raw)}}


async def _phase(tg: Any, pid: int, customers: list[int], build: Any, timeout: float) -> Phase:
    tg.first_reply = {}
    updates = [build(tg, user_id) for user_id in customers]
    cpu_before = _cpu(pid)
    calls_before = len(tg.calls)
    queued = time.perf_counter()
    for update in updates:
        tg.push_update(update)
    deadline = queued + timeout
    while len(tg.first_reply) < len(customers):
        if time.perf_counter() > deadline:
            raise AssertionError(f"only {len(tg.first_reply)} of {len(customers)} customers "
                                 f"got a reply within {timeout:.0f}s")
        await asyncio.sleep(0.005)
    latencies = [tg.first_reply[user_id] - queued for user_id in customers]
    wall = max(latencies)
    await tg.wait_idle(quiet=_quiet(len(customers)), timeout=timeout)  # its last calls
    calls = sum(1 for call in tg.calls[calls_before:] if call.method != "getUpdates")
    return Phase(len(customers), _cpu(pid) - cpu_before, wall, latencies, calls)


async def _fairness(tg: Any, burster: int, others: list[int], burst: int, timeout: float
                    ) -> list[float]:
    """One customer's `burst` questions are queued first, then one from each of `others`:
    how long the others wait for their first reply."""
    tg.first_reply = {}
    updates = [_message(tg, burster, QUESTION) for _ in range(burst)]
    updates += [_message(tg, user_id, QUESTION) for user_id in others]
    queued = time.perf_counter()
    for update in updates:
        tg.push_update(update)
    deadline = queued + timeout
    while any(user_id not in tg.first_reply for user_id in others):
        if time.perf_counter() > deadline:
            raise AssertionError("the others got no reply behind the burst")
        await asyncio.sleep(0.005)
    latencies = [tg.first_reply[user_id] - queued for user_id in others]
    await tg.wait_idle(quiet=_quiet(len(others)), timeout=timeout)
    return latencies


def _quiet(customers: int) -> float:
    """How long no Bot API call must come in before a phase counts as finished (a bot's last
    calls of a large burst trail further behind than of a tiny one, as in the smoke test)."""
    return 0.25 if customers >= 50 else 0.1


def _cpu(pid: int) -> float:
    return cpu_seconds(pid)


def _spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    """The bot process; what it logs goes to `log` (warnings and errors only)."""
    with log.open("ab") as output:
        return subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=output,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})


async def run_child(kind: str, customers: int, waves: int, folder: Path,
                    timeout: float = 300.0) -> ChildRun:
    tg = _fake_api()
    async with tg:
        database = folder / f"{kind}-{time.monotonic_ns()}.sqlite3"
        command = [sys.executable, "-m", "benchmarks.bench_http", "--serve", kind, tg.api_base,
                   str(database)]
        spawned = time.perf_counter()
        child = _spawn(command, folder / f"{kind}.log")
        try:
            while tg.first_poll is None:
                if child.poll() is not None:
                    raise AssertionError(f"the {kind} bot exited with {child.returncode}; "
                                         f"see {folder / (kind + '.log')}")
                if time.perf_counter() - spawned > 60:
                    raise AssertionError(f"the {kind} bot did not poll within 60 s")
                await asyncio.sleep(0.002)
            run = ChildRun(kind, tg.first_poll - spawned, {name: [] for name in PHASES})
            await tg.wait_idle(quiet=0.3, timeout=10)
            next_id = 100_000
            for _ in range(waves):
                ids = list(range(next_id, next_id + customers))
                next_id += customers
                for user_id in ids:
                    tg.add_user(user_id, f"Klant {user_id}", language_code="nl")
                run.phases["start"].append(await _phase(
                    tg, child.pid, ids, lambda t, u: _message(t, u, "/start"), timeout))
                run.phases["press"].append(await _phase(tg, child.pid, ids, _press, timeout))
                run.phases["question"].append(await _phase(
                    tg, child.pid, ids, lambda t, u: _message(t, u, QUESTION), timeout))
                run.rss_mib.append(rss_mib(child.pid))
                tg.calls.clear()  # the fake's call log is the parent's memory, not the bot's
            others = ids[1:FAIR_OTHERS + 1]
            run.alone = await _fairness(tg, ids[0], others, 0, timeout)
            run.fair = await _fairness(tg, ids[0], others, FAIR_BURST, timeout)
            return run
        finally:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(child.wait, 20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


async def run_pairs(customers: int, waves: int, repeats: int) -> list[tuple[ChildRun, ChildRun]]:
    pairs = []
    with tempfile.TemporaryDirectory(prefix="balie-http-") as tmp:
        for _ in range(repeats):
            bare = await run_child("bare", customers, waves, Path(tmp))
            balie = await run_child("balie", customers, waves, Path(tmp))
            pairs.append((bare, balie))
    return pairs


def _ratio(base: float, balie: float) -> float:
    return balie / base if base else float("nan")


def add_rows(table: Table, pairs: list[tuple[ChildRun, ChildRun]], customers: int,
             waves: int) -> None:
    """The HTTP rows of the table: medians over the repeats, [min–max], ratios paired."""
    section = f"HTTP burst, {customers} customers x 3 updates, {waves} wave(s)"
    cpu = [(a.cpu_per_update() * 1e3, b.cpu_per_update() * 1e3) for a, b in pairs]
    table.add(section, "bot CPU per update, ms", spread([a for a, _ in cpu]),
              spread([b for _, b in cpu]), spread([_ratio(a, b) for a, b in cpu], "x") + " (≤ 2x)")
    for phase in PHASES:
        per = [(a.cpu_per_update(phase) * 1e3, b.cpu_per_update(phase) * 1e3) for a, b in pairs]
        table.add(section, f"  CPU per update, {phase}, ms", spread([a for a, _ in per]),
                  spread([b for _, b in per]), spread([_ratio(a, b) for a, b in per], "x"))
    for phase in PHASES:
        calls = [(a.calls_per_update(phase), b.calls_per_update(phase)) for a, b in pairs]
        table.add(section, f"  Bot API calls per update, {phase}", spread([a for a, _ in calls]),
                  spread([b for _, b in calls]))
    rate = [(a.throughput(), b.throughput()) for a, b in pairs]
    table.add(section, "throughput, updates/s", spread([a for a, _ in rate], digits=0),
              spread([b for _, b in rate], digits=0), spread([_ratio(a, b) for a, b in rate], "x"))
    for name, fraction in (("p50", 0.5), ("p99", 0.99)):
        values = [(percentile(a.latencies(), fraction), percentile(b.latencies(), fraction))
                  for a, b in pairs]
        target = " (≤ 1.5x)" if name == "p99" else ""
        table.add(section, f"latency {name} in the burst, s", spread([a for a, _ in values]),
                  spread([b for _, b in values]),
                  spread([_ratio(a, b) for a, b in values], "x") + target)
    for phase in PHASES:
        values = [(percentile(a.latencies(phase), 0.99), percentile(b.latencies(phase), 0.99))
                  for a, b in pairs]
        table.add(section, f"  latency p99, {phase}, s", spread([a for a, _ in values]),
                  spread([b for _, b in values]), spread([_ratio(a, b) for a, b in values], "x"))
    last = [(a.rss_mib[-1], b.rss_mib[-1]) for a, b in pairs]
    table.add(section, f"RSS after {customers * waves} customers mid-dialog, MiB",
              spread([a for a, _ in last], digits=0), spread([b for _, b in last], digits=0),
              spread([_ratio(a, b) for a, b in last], "x"))
    if waves > 1:
        growth = [((a.rss_mib[-1] - a.rss_mib[0]) / (waves - 1),
                   (b.rss_mib[-1] - b.rss_mib[0]) / (waves - 1)) for a, b in pairs]
        table.add(section, f"RSS growth per wave of {customers}, MiB",
                  spread([a for a, _ in growth], digits=1),
                  spread([b for _, b in growth], digits=1))
    others = min(FAIR_OTHERS, customers - 1)
    if others > 0:
        for name, fraction in (("p50", 0.5), ("p99", 0.99)):
            alone = [(percentile(a.alone, fraction), percentile(b.alone, fraction))
                     for a, b in pairs]
            behind = [(percentile(a.fair, fraction), percentile(b.fair, fraction))
                      for a, b in pairs]
            table.add("fair order", f"{others} customers ask at once, first reply {name}, s",
                      spread([a for a, _ in alone]), spread([b for _, b in alone]),
                      spread([_ratio(a, b) for a, b in alone], "x"))
            table.add("fair order", f"  the same behind one customer's {FAIR_BURST} "
                      f"questions, {name}, s", spread([a for a, _ in behind]),
                      spread([b for _, b in behind]),
                      "Balie behind/alone " + spread(
                          [_ratio(a, b) for (_, a), (_, b) in zip(alone, behind, strict=True)],
                          "x"))
    polls = [(a.first_poll, b.first_poll) for a, b in pairs]
    table.add("start-up", "spawn to first getUpdates, s", spread([a for a, _ in polls]),
              spread([b for _, b in polls]), spread([_ratio(a, b) for a, b in polls], "x"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--serve":
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--waves", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    pairs = asyncio.run(run_pairs(args.customers, args.waves, args.repeats))
    table = Table()
    add_rows(table, pairs, args.customers, args.waves)
    print(table.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
