"""What handlers need, built once at start-up and handed out through aiogram's workflow data."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Protocol

from bot.config import Config
from bot.texts import Texts
from knowledge.deadlines import today_in
from storage.database import Database
from tickets.customers import CustomerStore
from tickets.store import TicketStore

if TYPE_CHECKING:
    from bot.conversation import Conversation
    from bot.forms import FormRegistry
    from bot.menu import MenuEntry

class FreeTextAnswerer(Protocol):
    """Answers a typed question; True when it said something worth saying. Inside a dialog
    (`in_dialog`) it stays silent on small talk and unknown questions, so the dialog can
    simply ask again."""

    def __call__(
        self, conv: Conversation, text: str, *, in_dialog: bool = False
    ) -> Awaitable[bool]: ...


@dataclass
class Services:
    config: Config
    database: Database
    texts: Texts
    tickets: TicketStore
    customers: CustomerStore
    menu: list[MenuEntry] = field(default_factory=list)
    forms: FormRegistry | None = None
    extras: dict[str, object] = field(default_factory=dict)
    # Set by the question dialog: answers a free-text question, True when it did.
    answer_free_text: FreeTextAnswerer | None = None

    def today(self) -> date:
        """Today in the provider's time zone (tests replace this to pin the date)."""
        return today_in(self.config.rules.timezone)
