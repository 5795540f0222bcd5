"""What handlers need, built once at start-up and handed out through aiogram's workflow data."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.texts import Texts
from knowledge.deadlines import today_in
from knowledge.kb import KnowledgeBase
from knowledge.matcher import Matcher
from knowledge.questions import QuestionLog
from storage.database import Database
from storage.outbox import Outbox
from tickets.customers import CustomerStore
from tickets.service import TicketService
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
    tickets: TicketStore  # reads; every change goes through `ticket_service`
    ticket_service: TicketService
    outbox: Outbox
    customers: CustomerStore
    knowledge: KnowledgeBase
    matcher: Matcher
    questions: QuestionLog
    forms: FormRegistry
    answer_free_text: FreeTextAnswerer
    menu: list[MenuEntry] = field(default_factory=list)

    def today(self) -> date:
        """Today in the provider's time zone (tests replace this to pin the date)."""
        return today_in(self.config.rules.timezone)

    def now(self) -> datetime:
        """Now in the office hours' time zone (tests replace this to pin the clock)."""
        return datetime.now(ZoneInfo(self.config.office_hours.timezone))
