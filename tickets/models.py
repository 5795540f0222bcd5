"""The ticket model of product.md §4: what a ticket is and which changes it allows."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Category(StrEnum):
    CANCELLATION = "cancellation"
    PAYMENT_ARRANGEMENT = "payment_arrangement"
    ACCIDENTAL_CANCELLATION = "accidental_cancellation"
    QUESTION = "question"
    LIVE_CHAT = "live_chat"


class Status(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    CLOSED = "closed"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        """Higher is more pressing: urgent 3 … low 0."""
        return list(Priority).index(self)


class Author(StrEnum):
    CUSTOMER = "customer"
    COLLEAGUE = "colleague"
    BOT = "bot"
    NOTE = "note"


ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.OPEN: frozenset({Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER, Status.CLOSED}),
    Status.IN_PROGRESS: frozenset({Status.OPEN, Status.WAITING_ON_CUSTOMER, Status.CLOSED}),
    Status.WAITING_ON_CUSTOMER: frozenset({Status.OPEN, Status.IN_PROGRESS, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.OPEN}),
}


class TransitionError(ValueError):
    """A status change the ticket model does not allow."""


def check_transition(current: Status, new: Status) -> None:
    if new not in ALLOWED_TRANSITIONS[current]:
        raise TransitionError(f"a {current} ticket cannot become {new}")


@dataclass(frozen=True)
class Customer:
    telegram_id: int
    name: str = ""
    username: str | None = None
    language: str = "nl"
    email: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "telegram_id": self.telegram_id,
            "name": self.name,
            "username": self.username,
            "language": self.language,
            "email": self.email,
        }


@dataclass(frozen=True)
class Message:
    id: int
    ticket_id: int
    author: Author
    author_name: str
    text: str
    created_at: str
    media: str | None = None  # photo, document, voice, video, sticker, …: `text` is its caption
    source: tuple[int, int] | None = None  # (chat id, message id) it came from in Telegram

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "author": str(self.author),
            "author_name": self.author_name,
            "text": self.text,
            "media": self.media,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Event:
    id: int
    ticket_id: int
    actor: str
    action: str
    detail: dict[str, Any]
    created_at: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "actor": self.actor,
            "action": self.action,
            "detail": self.detail,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Ticket:
    id: int
    category: Category
    status: Status
    priority: Priority
    subject: str
    customer: Customer
    assignee: str | None
    fields: dict[str, Any]
    created_at: str
    updated_at: str
    closed_at: str | None = None
    linked_ticket_id: int | None = None
    topic_id: int | None = None
    rating: int | None = None
    card_message_id: int | None = None  # the card in its topic in the staff group
    live: bool = False  # the customer is chatting on it: what they write goes to it
    messages: tuple[Message, ...] = field(default=())
    events: tuple[Event, ...] = field(default=())

    def as_json(self, *, full: bool = False) -> dict[str, Any]:
        """The ticket JSON of product.md §5; `full` adds the thread and the audit trail."""
        data: dict[str, Any] = {
            "id": self.id,
            "category": str(self.category),
            "status": str(self.status),
            "priority": str(self.priority),
            "subject": self.subject,
            "customer": self.customer.as_json(),
            "assignee": self.assignee,
            "fields": self.fields,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "closed_at": self.closed_at,
            "linked_ticket_id": self.linked_ticket_id,
            "rating": self.rating,
        }
        if full:
            data["messages"] = [message.as_json() for message in self.messages]
            data["events"] = [event.as_json() for event in self.events]
        return data
