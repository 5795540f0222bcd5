"""The main menu, assembled from the entries that the dialogs contribute."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiogram.filters.callback_data import CallbackData
from aiogram.types import Message

from bot.conversation import Conversation

StartDialog = Callable[[Conversation, Message | None], Awaitable[None]]


class MenuCb(CallbackData, prefix="m"):
    key: str


@dataclass(frozen=True)
class MenuEntry:
    """One line of the main menu; its label is `menu.<key>` in labels.toml."""

    key: str
    order: int
    start: StartDialog  # opens the dialog, editing `message` in place when given
    deep_links: tuple[str, ...] = ()  # /start payloads that open it, e.g. "opzeggen"
