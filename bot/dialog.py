"""What a conversation module contributes to the bot, declared once and typed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiogram import Router

from bot.conversation import Conversation
from bot.forms import Form
from bot.menu import MenuEntry


@dataclass(frozen=True)
class Dialog:
    name: str
    router: Callable[[], Router]  # a fresh router each time (tests build many dispatchers)
    forms: Sequence[Form] = ()  # forms the form mechanism runs
    entries: Sequence[MenuEntry] = ()  # its main-menu lines and deep links
    # What happens when the customer leaves it (/stop, /menu, another dialog).
    on_leave: Callable[[Conversation], Awaitable[None]] | None = None
