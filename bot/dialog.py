"""What a conversation module contributes to the bot, declared once and typed; and `Dialogs`,
all of them assembled at start-up and handed to handlers through aiogram's workflow data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiogram import Router

from bot.conversation import Conversation
from bot.forms import Form, FormRegistry, leave
from bot.menu import MenuEntry

OnLeave = Callable[[Conversation], Awaitable[None]]


@dataclass(frozen=True)
class Dialog:
    name: str
    router: Callable[[], Router]  # a fresh router each time (tests build many dispatchers)
    forms: Sequence[Form] = ()  # forms the form mechanism runs
    entries: Sequence[MenuEntry] = ()  # its main-menu lines and deep links
    # What happens when the customer leaves it (/stop, /menu, another dialog).
    on_leave: OnLeave | None = None


@dataclass(frozen=True)
class Dialogs:
    """The dialogs as one object, complete before the first update: the form registry (with
    what the form handlers need: where Stop lands, who answers a question typed mid-form),
    the main menu in order, and every dialog's `on_leave`. Handlers take it as `dialogs`."""

    declared: tuple[Dialog, ...]
    registry: FormRegistry
    menu: tuple[MenuEntry, ...]
    on_leave: tuple[OnLeave, ...]

    def entry(self, key: str) -> MenuEntry | None:
        return next((entry for entry in self.menu if entry.key == key), None)

    def deep_link(self, payload: str) -> MenuEntry | None:
        payload = payload.strip().lower()
        return next((entry for entry in self.menu if payload in entry.deep_links), None)

    @property
    def menu_keys(self) -> frozenset[str]:
        return frozenset(entry.key for entry in self.menu)

    async def leave(self, conv: Conversation) -> None:
        """End whatever dialog the customer is in; each dialog that cares hears of it first
        (the state is still there), as when Stop is pressed in a form."""
        for on_leave in self.on_leave:
            await on_leave(conv)
        await leave(conv)


def menu_of(declared: Sequence[Dialog]) -> tuple[MenuEntry, ...]:
    """The main menu: every dialog's entries, in their declared order."""
    return tuple(sorted((entry for dialog in declared for entry in dialog.entries),
                        key=lambda entry: entry.order))
