"""`balie console`: chat with the real Dispatcher in a terminal, without token or network.

A `ConsoleSession` stands in for the HTTP session: it answers the Bot API calls locally and
shows what a customer would see. Inline buttons are numbered; typing the number presses it.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import re
import sys
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    GetMe,
    SendMessage,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import (
    CallbackQuery,
    Chat,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
    User,
)

from bot.app import App
from bot.conversation import Conversation, language_for
from bot.dialogs.start import resume

CONSOLE_USER = User(id=1, is_bot=False, first_name="Console", language_code="nl")
BOT_USER = User(id=2, is_bot=True, first_name="Balie", username="balie_console_bot")


def html_to_text(text: str) -> str:
    """Telegram HTML as a terminal shows it: tags dropped, links spelled out, entities decoded."""
    text = re.sub(r'<a\s+href="([^"]*)"[^>]*>(.*?)</a>',
                  lambda m: m.group(2) if m.group(2) == html.unescape(m.group(1))
                  else f"{m.group(2)} ({html.unescape(m.group(1))})", text, flags=re.S)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text)


class ConsoleSession(BaseSession):
    def __init__(self, write: Callable[[str], None]) -> None:
        super().__init__()
        self.write = write
        self.buttons: list[tuple[str, str, int]] = []  # (label, data, message id)
        self._ids = itertools.count(1)
        self.messages: dict[int, Message] = {}

    async def close(self) -> None:
        pass

    async def stream_content(
        self, url: str, headers: dict[str, Any] | None = None, timeout: int = 30,
        chunk_size: int = 65536, raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:  # pragma: no cover - no files in the console
        yield b""

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        result: Any = True
        if isinstance(method, GetMe):
            result = BOT_USER
        elif isinstance(method, SendMessage):
            result = self._show(next(self._ids), method.text, method.reply_markup)
        elif isinstance(method, EditMessageText):
            result = self._show(int(method.message_id or 0), method.text, method.reply_markup)
        elif isinstance(method, EditMessageReplyMarkup):
            self.buttons = [b for b in self.buttons if b[2] != method.message_id]
        elif isinstance(method, AnswerCallbackQuery):
            if method.text:
                self.write(f"  ({method.text})\n")
        return result

    def _show(self, message_id: int, text: str | None, markup: Any) -> Message:
        text = text or ""
        keyboard = markup if isinstance(markup, InlineKeyboardMarkup) else None
        lines = ["", "─" * 60]
        lines.append(html_to_text(text))
        # As in Telegram, the newest keyboard stays pressable below a message without one;
        # a message that loses its keyboard takes its buttons along.
        if keyboard is not None or any(b[2] == message_id for b in self.buttons):
            self.buttons = []
        if keyboard is not None:
            for row in keyboard.inline_keyboard:
                cells = []
                for button in row:
                    self.buttons.append((button.text, button.callback_data or "", message_id))
                    cells.append(f"[{len(self.buttons)}] {button.text}")
                lines.append("   ".join(cells))
        self.write("\n".join(lines) + "\n")
        message = Message(
            message_id=message_id, date=datetime.now(UTC), chat=Chat(id=CONSOLE_USER.id,
            type="private"), from_user=BOT_USER, text=text, reply_markup=keyboard,
        )
        self.messages[message_id] = message
        return message


class Console:
    def __init__(self, app: App, session: ConsoleSession) -> None:
        self.app = app
        self.session = session
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(100_000)

    async def handle(self, line: str) -> None:
        """What the customer typed: a button number presses it, anything else is a message."""
        line = line.strip()
        if line.isdigit() and 1 <= int(line) <= len(self.session.buttons):
            _, data, message_id = self.session.buttons[int(line) - 1]
            await self._feed(Update(update_id=next(self._update_ids), callback_query=CallbackQuery(
                id=str(next(self._update_ids)), from_user=CONSOLE_USER, chat_instance="console",
                data=data, message=self.session.messages.get(message_id))))
            return
        if not line:
            return
        entities = None
        if line.startswith("/"):
            length = len(line.split()[0])
            entities = [MessageEntity(type="bot_command", offset=0, length=length)]
        await self._feed(Update(update_id=next(self._update_ids), message=Message(
            message_id=next(self._message_ids), date=datetime.now(UTC),
            chat=Chat(id=CONSOLE_USER.id, type="private"), from_user=CONSOLE_USER, text=line,
            entities=entities)))

    async def resume_or_start(self) -> None:
        """Carry on with a dialog left unfinished in an earlier console session, else /start."""
        app, services = self.app, self.app.services
        state = FSMContext(storage=app.dispatcher.storage, key=StorageKey(
            bot_id=app.bot.id, chat_id=CONSOLE_USER.id, user_id=CONSOLE_USER.id))
        stored = await services.customers.language(CONSOLE_USER.id)
        t = services.texts.for_language(
            language_for(CONSOLE_USER, stored, services.config.languages.default))
        conv = Conversation(app.bot, CONSOLE_USER.id, CONSOLE_USER, t, state, services)
        if not await resume(conv, app.dialogs.registry, notice=t("form/resumed")):
            await self.handle("/start")

    async def _feed(self, update: Update) -> None:
        await self.app.dispatcher.feed_update(self.app.bot, update)
        await self.app.worker.deliver_due()  # e.g. a filed ticket's confirmation


async def run_console(app: App, session: ConsoleSession, stdin: TextIO = sys.stdin) -> None:
    console = Console(app, session)
    session.write("Balie console — you are a customer. Type a message, a number to press a "
                  "button, /help for commands; Ctrl-D quits.\n")
    await app.dispatcher.emit_startup(bot=app.bot, **app.dispatcher.workflow_data)
    await console.resume_or_start()
    loop = asyncio.get_running_loop()
    try:
        while True:
            session.write("\n> ")
            line = await loop.run_in_executor(None, stdin.readline)
            if not line:
                break
            await console.handle(line)
    finally:
        session.write("\nTot ziens! / Goodbye!\n")
