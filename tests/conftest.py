"""Fixtures for end-to-end tests: the real Balie (build_app + run_polling, as `balie run`
does) long-polling a fake Telegram Bot API server on 127.0.0.1, and customers who chat; and
`balie console` in-process (build_app + run_console, as the command does), with today pinned."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import App, build_app, run_polling
from bot.config import Config
from bot.console import ConsoleSession, run_console
from bot.delivery import Limits
from bot.services import Services
from tests.client import TelegramUser
from tests.fakeapi import FakeTelegram, UpdateTracker

TOKEN = "4242:fake-token-for-tests-0123456789"
STAFF_CHAT_ID = -1001234567890
TODAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))  # a Saturday: closed


class SettlingTracker(UpdateTracker):
    """An update counts as handled once its handler finished and the outbox has delivered
    what was due (a filed ticket's confirmation goes out through the outbox)."""

    def __init__(self, balie: Balie) -> None:
        super().__init__()
        self.balie = balie

    async def wait_done(self, update_id: int, timeout: float = 5.0) -> bool:
        if not await super().wait_done(update_id, timeout):
            return False
        return await self.balie.settled(timeout)


@pytest.fixture(autouse=True)
def _today_is_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the real clock for behaviour: whatever builds `Services` believes it is
    TODAY (at NOW, for office hours) unless it pins another day (as `Balie.today` and
    `BalieConsole.today` do)."""
    monkeypatch.setattr(Services, "today", lambda self: TODAY)
    monkeypatch.setattr(Services, "now", lambda self: NOW)


class Balie:
    """The bot under test. `today` pins the date it believes it is; `restart()` stops it and
    starts a fresh process-equivalent on the same SQLite file."""

    def __init__(self, tg: FakeTelegram, database: Path) -> None:
        self.tg = tg
        self.database = database
        self.tracker = SettlingTracker(self)
        self.today = TODAY
        self.flood: dict[str, int] = {}  # [flood] for the next start; {} = the defaults
        self.app: App | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def config(self) -> Config:
        return Config.model_validate({
            "telegram": {"token": TOKEN, "api_base": self.tg.api_base,
                         "staff_chat_id": STAFF_CHAT_ID, "polling_timeout": 1},
            "storage": {"database": str(self.database)},
            "flood": self.flood,
        })

    @property
    def services(self) -> Services:
        assert self.app is not None, "the bot is not running"
        return self.app.services

    async def start(self) -> None:
        self.app = await build_app(self.config)
        self.app.services.today = lambda: self.today  # type: ignore[method-assign]
        self.tracker.install(self.app.dispatcher)
        polls = len(self.tg.calls_to("getUpdates"))
        self._task = asyncio.create_task(run_polling(self.app, handle_signals=False))
        for _ in range(500):
            if len(self.tg.calls_to("getUpdates")) > polls or self._task.done():
                break
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()

    async def stop(self) -> None:
        if self.app is None or self._task is None:
            return
        self.app.request_stop()
        await asyncio.wait_for(self._task, timeout=20)
        self.app, self._task = None, None

    async def settled(self, timeout: float = 5.0) -> bool:
        """Wait until nothing in the outbox is due (delivered, or waiting for a retry)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.app is not None and await self.app.services.outbox.due():
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def user(self, user_id: int, first_name: str, language_code: str | None,
             username: str | None = None) -> TelegramUser:
        return self.tg.user(user_id, first_name, username=username,
                            language_code=language_code, tracker=self.tracker,
                            raise_handler_errors=True)


class BalieConsole:
    """`balie console` run in this process, as `bot.cli.console` runs it, in `folder` (whose
    balie.sqlite3 survives between chats, as it does between console runs). `today` pins the
    date the bot believes it is."""

    def __init__(self, folder: Path) -> None:
        self.database = folder / "balie.sqlite3"
        self.today = TODAY

    async def chat(self, typed: str) -> str:
        """One console run: type `typed` (lines), then Ctrl-D; returns what it printed."""
        shown: list[str] = []
        session = ConsoleSession(write=shown.append)
        config = Config.model_validate({"storage": {"database": str(self.database)}})
        app = await build_app(config, session=session, delivery_limits=Limits.none())
        app.services.today = lambda: self.today  # type: ignore[method-assign]
        try:
            await run_console(app, session, io.StringIO(typed))
        finally:
            await app.close()
        return "".join(shown)


@pytest.fixture
def console(tmp_path: Path) -> BalieConsole:
    return BalieConsole(tmp_path)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as fake:
        fake.add_supergroup(STAFF_CHAT_ID, "Balie staff", forum=True)
        yield fake


@pytest.fixture
async def balie(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[Balie]:
    running = Balie(tg, tmp_path / "balie.sqlite3")
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
def anna(balie: Balie) -> TelegramUser:
    """A Dutch customer."""
    return balie.user(1001, "Anna", "nl", username="anna")


@pytest.fixture
def john(balie: Balie) -> TelegramUser:
    """An English-speaking customer."""
    return balie.user(1002, "John", "en-GB", username="john")
