"""A ticket as a colleague reads it — header, fields in words, the thread and the audit trail —
for `balie tickets show` (and any staff message that shows a whole ticket). The words are in
the template `staff/ticket`; this module only puts the ticket's data in a shape it can show."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.staff.words import FieldWords
from bot.texts import Texts
from tickets.models import Event, Message, Ticket

_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Moment:
    """A stored UTC time on the provider's clock: the day (for the date filter) and HH:MM."""

    day: date
    clock: str

    @classmethod
    def of(cls, stamp: str, zone: ZoneInfo) -> Moment:
        local = datetime.fromisoformat(stamp).astimezone(zone)
        return cls(local.date(), local.strftime("%H:%M"))


@dataclass(frozen=True)
class EventView:
    when: Moment
    actor: str  # customer, bot, colleague, or what was stored
    actor_name: str
    action: str
    before: Any
    after: Any
    reason: str | None
    category: str | None
    priority: str | None
    author: str | None


@dataclass(frozen=True)
class MessageView:
    when: Moment
    author: str
    name: str
    text: str


def event_view(event: Event, zone: ZoneInfo) -> EventView:
    actor, _, name = event.actor.partition(":")
    detail = event.detail
    return EventView(
        when=Moment.of(event.created_at, zone), actor=actor, actor_name=name or actor,
        action=event.action, before=detail.get("from"),
        after=detail.get("to", detail.get("live")),  # a live chat's event: started or ended
        reason=detail.get("reason"), category=detail.get("category"),
        priority=detail.get("priority"), author=detail.get("author"))


def message_view(message: Message, zone: ZoneInfo) -> MessageView:
    return MessageView(Moment.of(message.created_at, zone), str(message.author),
                       message.author_name, message.text)


def render(texts: Texts, lang: str, ticket: Ticket, timezone: str, *, full: bool = False
           ) -> str:
    """Telegram HTML of the whole ticket (`ticket` read with its thread and events); `full`
    keeps long messages whole (the terminal has no 4096-character limit)."""
    zone = ZoneInfo(timezone)
    return texts.render(
        lang, "staff/ticket", ticket=ticket, full=full,
        fields=FieldWords(texts, lang).fields(ticket.fields),
        messages=[message_view(message, zone) for message in ticket.messages],
        events=[event_view(event, zone) for event in ticket.events],
        created=Moment.of(ticket.created_at, zone), updated=Moment.of(ticket.updated_at, zone),
        closed=Moment.of(ticket.closed_at, zone) if ticket.closed_at else None)


def plain(telegram_html: str) -> str:
    """Telegram HTML as terminal text: tags dropped, entities back to characters."""
    return html.unescape(_TAG.sub("", telegram_html))
