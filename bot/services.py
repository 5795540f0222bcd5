"""What handlers need, built once at start-up and handed out through aiogram's workflow data.

Telegram-free: the dialogs themselves (forms, menu, the free-text answerer) are assembled
separately, as `bot.dialog.Dialogs`, so nothing here depends on the conversation layer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.texts import Texts
from knowledge.deadlines import public_holidays, today_in
from knowledge.kb import KnowledgeBase
from knowledge.matcher import Matcher
from knowledge.office_hours import next_opening
from knowledge.questions import QuestionLog
from storage.database import Database
from storage.outbox import Outbox
from tickets.customers import CustomerStore
from tickets.service import TicketService
from tickets.store import TicketStore


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

    def today(self) -> date:
        """Today in the provider's time zone (tests replace this to pin the date)."""
        return today_in(self.config.rules.timezone)

    def now(self) -> datetime:
        """Now in the office hours' time zone (tests replace this to pin the clock)."""
        return datetime.now(ZoneInfo(self.config.office_hours.timezone))

    def next_opening(self, now: datetime) -> datetime | None:
        """`now` itself while colleagues are at work (`[office_hours]`, public holidays
        closed), else when they are next; None when no weekday has opening hours."""
        country = self.config.rules.holiday_country
        return next_opening(now, self.config.office_hours.hours,
                            lambda day: day in public_holidays(country, day.year))
