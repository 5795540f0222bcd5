"""One customer's turn: who, in which language, their dialog state, and how to answer them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
    User,
)

from bot import telegram_html
from bot.services import Services
from bot.texts import Translator
from bot.unit import current_unit
from storage.outbox import Notice
from tickets.models import Customer

log = logging.getLogger(__name__)

Button = tuple[str, str]  # (label, callback data)
# Faults that pass: what could not be sent in time is delivered later by the outbox.
TRANSIENT = (TelegramServerError, TelegramNetworkError, TelegramRetryAfter, ClientDecodeError)


@dataclass(frozen=True)
class Reply:
    """A text and its buttons, not sent yet: e.g. an answer that a form shows together with
    its step, in one message."""

    text: str
    buttons: Sequence[Sequence[Button]] = ()


def keyboard(rows: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup | None:
    filled = [[InlineKeyboardButton(text=label, callback_data=data) for label, data in row]
              for row in rows if row]
    return InlineKeyboardMarkup(inline_keyboard=filled) if filled else None


def language_for(user: User | None, stored: str | None, default: str) -> str:
    """The stored choice, else Telegram's language_code: Dutch for nl, English otherwise."""
    if stored in ("nl", "en"):
        return stored
    if user is None or not user.language_code:
        return default
    return "nl" if user.language_code.lower().startswith("nl") else "en"


@dataclass
class Conversation:
    bot: Bot
    chat_id: int
    user: User
    t: Translator
    state: FSMContext
    services: Services

    @property
    def lang(self) -> str:
        return self.t.lang

    def customer(self, email: str | None = None) -> Customer:
        name = " ".join(part for part in (self.user.first_name, self.user.last_name) if part)
        return Customer(self.user.id, name, self.user.username, self.lang, email)

    async def set_language(self, lang: str) -> None:
        await self.services.customers.set_language(self.user.id, lang)
        self.t = self.services.texts.for_language(lang)

    def notices(self, text: str, buttons: Sequence[Sequence[Button]] = (), *,
                edit: int | None = None) -> list[Notice]:
        """A message to this customer for the outbox (in place of `edit` when given); a text
        longer than one message becomes several, the buttons under the last."""
        rows = tuple(tuple(row) for row in buttons if row)
        parts = telegram_html.split(text)
        return [Notice(self.chat_id, part, rows if index == len(parts) - 1 else (),
                       kind="edit" if edit is not None and index == 0 else "send",
                       message_id=edit if index == 0 else None)
                for index, part in enumerate(parts)]

    async def say(self, text: str, markup: InlineKeyboardMarkup | None = None
                  ) -> Message | None:
        """Send now; when Telegram cannot be reached in time, the message goes to the outbox
        and is delivered later (None: not sent yet), so an answer is never lost. A text
        longer than one message is sent as several, the buttons under the last (returned)."""
        return await self._send(telegram_html.split(text), markup)

    async def _send(self, parts: Sequence[str], markup: InlineKeyboardMarkup | None
                    ) -> Message | None:
        sent: Message | None = None
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            try:
                sent = await self.bot.send_message(self.chat_id, part,
                                                   reply_markup=markup if last else None)
            except TRANSIENT as error:
                await self._later_parts(error, parts[index:], markup)
                return None
        return sent

    async def _later_parts(self, error: Exception, parts: Sequence[str],
                           markup: InlineKeyboardMarkup | None) -> None:
        for index, part in enumerate(parts):
            rows = _rows(markup) if index == len(parts) - 1 else ()
            await self._later(error, Notice(self.chat_id, part, rows))

    async def show(
        self, text: str, markup: InlineKeyboardMarkup | None = None, *, edit: Message | None
    ) -> Message | None:
        """Replace `edit` (the message whose button was pressed) or send a new message. A
        text longer than one message replaces `edit` with its first part; the rest follow."""
        if edit is not None:
            parts = telegram_html.split(text)
            if len(parts) > 1:
                if await self.show(parts[0], None, edit=edit) is None:  # in the outbox:
                    await self._later_parts(RuntimeError("edit pending"), parts[1:], markup)
                    return None  # the rest follows it there, in order
                return await self._send(parts[1:], markup)
            try:
                edited = await self.bot.edit_message_text(
                    text=text, chat_id=self.chat_id, message_id=edit.message_id,
                    reply_markup=markup,
                )
            except TelegramBadRequest as error:
                if "not modified" in error.message:
                    return edit
                log.info("could not edit message %s (%s); sending anew", edit.message_id,
                         error.message)
            except TRANSIENT as error:
                await self._later(error, Notice(self.chat_id, text, _rows(markup), kind="edit",
                                                message_id=edit.message_id))
                return None
            else:
                return edited if isinstance(edited, Message) else edit
        return await self.say(text, markup)

    async def drop_buttons(self, message_id: int | None) -> None:
        """Take the buttons off an earlier message so they cannot be pressed out of turn."""
        if message_id is None:
            return
        try:
            await self.bot.edit_message_reply_markup(
                chat_id=self.chat_id, message_id=message_id, reply_markup=None
            )
        except TelegramBadRequest:
            pass
        except TRANSIENT as error:
            await self._later(error, Notice(self.chat_id, kind="drop_buttons",
                                            message_id=message_id))

    async def keep_buttons(self, message: Message | None, keep: Callable[[str], bool]) -> None:
        """Take the buttons off `message` except those whose callback data `keep` accepts
        (e.g. an answer's feedback goes, the form's step shown with it stays)."""
        if message is None:
            return
        markup = message.reply_markup
        rows = [[button for button in row if keep(button.callback_data or "")]
                for row in (markup.inline_keyboard if markup is not None else ())]
        kept = [row for row in rows if row]
        if not kept:
            await self.drop_buttons(message.message_id)
            return
        if markup is not None and kept == markup.inline_keyboard:
            return
        try:
            await self.bot.edit_message_reply_markup(
                chat_id=self.chat_id, message_id=message.message_id,
                reply_markup=InlineKeyboardMarkup(inline_keyboard=kept))
        except (TelegramBadRequest, *TRANSIENT) as error:  # the buttons left are harmless
            log.info("could not take buttons off message %s (%s)", message.message_id,
                     type(error).__name__)

    async def _later(self, error: Exception, notice: Notice) -> None:
        """To the outbox, with the update's state (both or neither, whatever happens)."""
        log.warning("Telegram did not take a reply (%s); it waits in the outbox",
                    type(error).__name__)
        unit = current_unit.get()
        if unit is not None and unit.open:
            unit.later.append(notice)
        else:
            await self.services.outbox.put(notice)


def _rows(markup: InlineKeyboardMarkup | None) -> tuple[tuple[Button, ...], ...]:
    if markup is None:
        return ()
    return tuple(tuple((button.text, button.callback_data or "") for button in row)
                 for row in markup.inline_keyboard)


class ConversationMiddleware(BaseMiddleware):
    """Builds the `Conversation` and `t` for private-chat messages and button presses."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        state: FSMContext | None = data.get("state")
        services: Services = data["services"]
        chat = data.get("event_chat")
        if user is None or state is None or chat is None or chat.type != "private":
            return await handler(event, data)
        stored = await services.customers.language(user.id)
        lang = language_for(user, stored, services.config.languages.default)
        t = services.texts.for_language(lang)
        bot: Bot = data["bot"]
        data["t"] = t
        data["conv"] = Conversation(bot, chat.id, user, t, state, services)
        return await handler(event, data)


def on_its_message(query: CallbackQuery) -> bool:
    """Whether the pressed data is a button of the message it came from (Telegram sends only
    those; anything else was forged, or the message changed since)."""
    message = query.message
    if not isinstance(message, Message):
        return True  # too old to be shown to the bot: nothing to compare
    markup = message.reply_markup
    return markup is not None and any(button.callback_data == query.data
                                      for row in markup.inline_keyboard for button in row)


def message_of(event: Message | CallbackQuery) -> Message | None:
    """The message a button was pressed on, when it can still be edited."""
    if isinstance(event, CallbackQuery):
        return event.message if isinstance(event.message, Message) else None
    return None
