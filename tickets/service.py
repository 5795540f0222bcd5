"""The ticket operations: one per thing that happens in the product.

Each operation writes the change, its audit event and every message it causes (to the
customer, to the staff group) in one transaction: the messages go to the outbox, which a worker
delivers after the commit. Handlers call an operation and reply; they never send first and
write afterwards. Telegram-free: what a message says is decided by a `Notifier` (the bot's
templates) or handed in by the caller, as `Notice`s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from storage.database import Database
from storage.outbox import Notice, Outbox
from tickets.models import Author, Category, Customer, Message, Priority, Status, Ticket
from tickets.store import AlreadyClaimed, ConcurrentChange, TicketNotFound, TicketStore

log = logging.getLogger(__name__)

__all__ = [
    "AlreadyClaimed",
    "Change",
    "ConcurrentChange",
    "Notifier",
    "SilentNotifier",
    "TicketNotFound",
    "TicketService",
]


@dataclass(frozen=True)
class Change:
    """What happened to a ticket, as the notifier sees it (mirrors the audit event)."""

    # opened, message, message_edited, claimed, unclaimed, status, priority, follow_up,
    # undelivered, rated
    action: str
    actor: str
    detail: Mapping[str, Any]
    message: Message | None = None


class Notifier(Protocol):
    """Decides who is told what about a change (the bot renders its templates)."""

    def notices(self, ticket: Ticket, change: Change) -> Sequence[Notice]: ...


class SilentNotifier:
    """Tells nobody (the command line, tests of the store)."""

    def notices(self, ticket: Ticket, change: Change) -> Sequence[Notice]:
        return ()


Confirmation = Callable[[Ticket], Sequence[Notice]]
LIVE_PREFIX = "Livechat: "  # a live chat's subject; dropped when it is handed off


class TicketService:
    def __init__(self, store: TicketStore, outbox: Outbox,
                 notifier: Notifier | None = None) -> None:
        self.store = store
        self.outbox = outbox
        self.notifier: Notifier = notifier or SilentNotifier()

    @property
    def database(self) -> Database:
        return self.store.database

    async def _tell(self, ticket: Ticket, change: Change,
                    extra: Sequence[Notice] = ()) -> None:
        for notice in (*extra, *self.notifier.notices(ticket, change)):
            await self.outbox.put(notice, ticket_id=ticket.id)

    # --- the customer's side ------------------------------------------------------------------

    async def open_ticket(
        self,
        *,
        category: Category,
        customer: Customer,
        subject: str,
        fields: Mapping[str, Any] | None = None,
        priority: Priority = Priority.NORMAL,
        idempotency_key: str | None = None,
        linked_ticket_id: int | None = None,
        confirm: Confirmation | None = None,
        actor: str = "customer",
    ) -> tuple[Ticket, bool]:
        """File a ticket and its confirmation; the same idempotency key files it once (and
        confirms it once). Returns the ticket and whether it was filed now."""
        async with self.database.transaction():
            ticket, created = await self.store.create(
                category=category, customer=customer, subject=subject, fields=fields,
                priority=priority, idempotency_key=idempotency_key,
                linked_ticket_id=linked_ticket_id, actor=actor,
            )
            if created:
                change = Change("opened", actor, {"category": str(category),
                                                  "priority": str(priority)})
                await self._tell(ticket, change, confirm(ticket) if confirm else ())
        return ticket, created

    async def customer_wrote(
        self, ticket_id: int, customer_id: int, text: str, *, author_name: str = "",
        source: tuple[int, int] | None = None, media: str | None = None,
        confirm: Confirmation | None = None,
    ) -> tuple[Ticket, Message | None]:
        """A customer's message on their ticket. A closed ticket is reopened within
        `reopen_days`, else a follow-up that links it is opened and gets the message.
        `confirm` (given the ticket it landed on): what the customer is told, written with the
        message, so a crash cannot keep the one and lose the other. Returns the ticket the
        message landed on, and the message (None: seen before)."""
        async with self.database.transaction():
            ticket = await self.store.get_for_customer(ticket_id, customer_id)
            if ticket is None:
                raise TicketNotFound(ticket_id)
            seen = await self.store.message_by_source(*source) if source is not None else None
            if seen is not None:  # handled before (a redelivered update): no second follow-up
                return await self.store.get(seen.ticket_id), None
            if ticket.status == Status.CLOSED:
                before = ticket
                ticket = await self.store.reopen_or_follow_up(ticket.id, actor="customer")
                if ticket.id != before.id:
                    await self._tell(ticket, Change("follow_up", "customer",
                                                    {"linked": before.id}))
                else:
                    await self._tell(ticket, Change("status", "customer",
                                                    {"from": str(before.status),
                                                     "to": str(ticket.status)}))
            elif ticket.status == Status.WAITING_ON_CUSTOMER:
                # The answer the colleague waited for: back to them (or to the queue).
                back = Status.IN_PROGRESS if ticket.assignee else Status.OPEN
                ticket = await self.store.set_status(ticket.id, back, actor="customer")
                await self._tell(ticket, Change("status", "customer",
                                                {"from": str(Status.WAITING_ON_CUSTOMER),
                                                 "to": str(back)}))
            message = await self.store.add_message(
                ticket.id, Author.CUSTOMER, text, author_name=author_name, source=source,
                actor="customer", media=media)
            if message is not None:
                await self._tell(ticket, Change("message", "customer",
                                                {"author": "customer"}, message),
                                 confirm(ticket) if confirm else ())
        return ticket, message

    async def rated(self, ticket_id: int, customer_id: int, rating: int) -> Ticket:
        """The customer rates a closed ticket 1-5 (again: the new rating counts)."""
        async with self.database.transaction():
            before = await self.store.get_for_customer(ticket_id, customer_id)
            if before is None:
                raise TicketNotFound(ticket_id)
            ticket = await self.store.rate(ticket_id, rating, actor="customer")
            if ticket.rating != before.rating:
                await self._tell(ticket, Change("rated", "customer", {"rating": rating}))
        return ticket

    async def rating_explained(
        self, ticket_id: int, customer_id: int, text: str, *, author_name: str = "",
        source: tuple[int, int] | None = None, confirm: Confirmation | None = None,
    ) -> Message | None:
        """What went wrong, after a low rating: kept in the thread (not reopening the ticket)
        and in the audit trail with the rating, with `confirm`'s thanks. None: this message
        was seen before."""
        async with self.database.transaction():
            ticket = await self.store.get_for_customer(ticket_id, customer_id)
            if ticket is None:
                raise TicketNotFound(ticket_id)
            message = await self.store.add_message(
                ticket_id, Author.CUSTOMER, text, author_name=author_name, source=source,
                actor="customer")
            if message is not None:
                detail = {"rating": ticket.rating, "message": message.id, "comment": text[:500]}
                await self.store.record(ticket_id, "customer", "rating_comment", detail)
                await self._tell(ticket, Change("rated", "customer", detail, message),
                                 confirm(ticket) if confirm else ())
        return message

    # --- the colleagues' side -----------------------------------------------------------------

    async def colleague_replied(
        self, ticket_id: int, colleague: str, text: str, *,
        source: tuple[int, int] | None = None, media: str | None = None,
    ) -> Message | None:
        """A colleague's answer, relayed to the customer. None: this message was seen before.
        An open ticket nobody had yet: the one who answers it has it now (a live chat is then
        picked up, and its customer told who is there)."""
        async with self.database.transaction():
            ticket = await self.store.get(ticket_id)
            if ticket.status == Status.CLOSED:
                raise ConcurrentChange(ticket_id)  # the caller offers to reopen first
            seen = source is not None and await self.store.message_by_source(*source) is not None
            if ticket.assignee is None and ticket.status == Status.OPEN and not seen:
                try:
                    ticket = await self.claim(ticket_id, colleague)
                except AlreadyClaimed:
                    ticket = await self.store.get(ticket_id)
            message = await self.store.add_message(
                ticket_id, Author.COLLEAGUE, text, author_name=colleague, source=source,
                actor=f"colleague:{colleague}", media=media)
            if message is not None:
                await self._tell(ticket, Change("message", f"colleague:{colleague}",
                                                {"author": "colleague"}, message))
        return message

    async def internal_note(
        self, ticket_id: int, colleague: str, text: str, *,
        source: tuple[int, int] | None = None,
    ) -> Message | None:
        """A note for the colleagues only: stored in the thread, never sent to the customer."""
        async with self.database.transaction():
            await self.store.get(ticket_id)
            return await self.store.add_message(
                ticket_id, Author.NOTE, text, author_name=colleague, source=source,
                actor=f"colleague:{colleague}")

    async def claim(self, ticket_id: int, colleague: str) -> Ticket:
        """Exactly one of two simultaneous claims wins; the other raises `AlreadyClaimed`."""
        async with self.database.transaction():
            before = await self.store.get(ticket_id)
            ticket = await self.store.claim(ticket_id, colleague, actor=f"colleague:{colleague}")
            if before.assignee is None:
                await self._tell(ticket, Change("claimed", f"colleague:{colleague}",
                                                {"by": colleague,
                                                 "from": str(before.status)}))
        return ticket

    async def set_status(self, ticket_id: int, status: Status, *, actor: str) -> Ticket:
        async with self.database.transaction():
            before = await self.store.get(ticket_id)
            ticket = await self.store.set_status(ticket_id, status, actor=actor)
            if status == Status.CLOSED and ticket.live:  # a closed chat is over
                ticket = await self.store.set_live(ticket_id, False, actor=actor,
                                                   reason="closed")
            if ticket.status != before.status:
                await self._tell(ticket, Change("status", actor, {"from": str(before.status),
                                                                  "to": str(status)}))
        return ticket

    async def set_priority(self, ticket_id: int, priority: Priority, *, actor: str) -> Ticket:
        async with self.database.transaction():
            before = await self.store.get(ticket_id)
            ticket = await self.store.set_priority(ticket_id, priority, actor=actor)
            if ticket.priority != before.priority:
                await self._tell(ticket, Change("priority", actor,
                                                {"from": str(before.priority),
                                                 "to": str(priority)}))
        return ticket

    async def link_follow_up(self, ticket_id: int, *, actor: str,
                             subject: str | None = None) -> Ticket:
        """A new ticket that continues a closed one (same customer, category and fields)."""
        async with self.database.transaction():
            old = await self.store.get(ticket_id)
            follow_up, _ = await self.store.create(
                category=old.category, customer=old.customer, subject=subject or old.subject,
                fields=old.fields, priority=old.priority, linked_ticket_id=old.id, actor=actor)
            await self._tell(follow_up, Change("follow_up", actor, {"linked": old.id}))
        return follow_up

    async def colleague_edited(self, source: tuple[int, int], text: str, *,
                               colleague: str) -> Message | None:
        """A colleague edited a message in a ticket's topic: the thread keeps the new text
        (the audit trail the old one) and the customer's copy follows (None: not relayed)."""
        async with self.database.transaction():
            message = await self.store.message_by_source(*source)
            if message is None or message.author != Author.COLLEAGUE or message.text == text:
                return None
            await self.store.update_message_text(message.id, text,
                                                 actor=f"colleague:{colleague}")
            ticket = await self.store.get(message.ticket_id)
            edited = replace(message, text=text)
            copies = [item.message_id for item in await self.outbox.copies_of(message.id)
                      if item.chat_id == ticket.customer.telegram_id
                      and item.state == "sent" and item.message_id is not None]
            if copies and message.media is None:  # not delivered yet: it goes out as it was
                await self._tell(ticket, Change("message_edited", f"colleague:{colleague}",
                                                {"message": message.id, "copy": copies[-1],
                                                 "copies": copies},
                                                edited))
        return edited

    async def undelivered(self, ticket_id: int, reason: str, *, rejected: bool = False,
                          message_id: int | None = None) -> None:
        """Telegram refused a message to the customer for good (they blocked the bot), or
        `rejected` it as written (it would never go out): kept on the ticket, and the
        colleagues are told."""
        async with self.database.transaction():
            ticket = await self.store.get(ticket_id)
            detail: dict[str, Any] = {"reason": reason}
            if rejected:
                detail["rejected"] = True
            if message_id is not None:
                detail["message"] = message_id
            await self.store.record(ticket_id, "bot", "undelivered", detail)
            await self._tell(ticket, Change("undelivered", "bot", detail))

    async def unclaim(self, ticket_id: int, colleague: str) -> Ticket:
        """Give a ticket back to the queue: nobody has it any more, and a ticket in progress
        is open again. Nobody had it: nothing changes."""
        actor = f"colleague:{colleague}"
        async with self.database.transaction():
            before = await self.store.get(ticket_id)
            if before.assignee is None:
                return before
            ticket = await self.store.assign(ticket_id, None, actor=actor)
            if ticket.status == Status.IN_PROGRESS:
                ticket = await self.store.set_status(ticket_id, Status.OPEN, actor=actor)
            await self._tell(ticket, Change("unclaimed", actor,
                                            {"by": colleague, "from": before.assignee,
                                             "status": str(before.status)}))
        return ticket

    async def closed_by(self, ticket_id: int, source: tuple[int, int]) -> bool:
        """Whether the ticket's last close came from this message: a command handled again
        after a restart (its reply had not gone out yet) finds its own work done."""
        ticket = await self.store.get(ticket_id, full=True)
        closes = [event for event in ticket.events
                  if event.action == "status" and event.detail.get("to") == Status.CLOSED]
        return bool(closes) and closes[-1].detail.get("source") == list(source)

    async def close(self, ticket_id: int, colleague: str, reason: str | None = None, *,
                    source: tuple[int, int] | None = None) -> Ticket:
        """A colleague closes a ticket; the reason (internal) is kept on the ticket as a note
        and in the audit event. Raises `TransitionError` when the model forbids it."""
        actor = f"colleague:{colleague}"
        reason = (reason or "").strip() or None
        async with self.database.transaction():
            before = await self.store.get(ticket_id)
            if before.status == Status.CLOSED:
                return before
            if reason:
                await self.store.add_message(ticket_id, Author.NOTE, reason,
                                             author_name=colleague, source=source, actor=actor)
            ticket = await self.store.set_status(ticket_id, Status.CLOSED, actor=actor,
                                                 reason=reason, source=source)
            if ticket.live:  # a closed chat is over
                ticket = await self.store.set_live(ticket_id, False, actor=actor,
                                                   reason="closed")
            detail = {"from": str(before.status), "to": str(Status.CLOSED)}
            if reason:
                detail["reason"] = reason
            await self._tell(ticket, Change("status", actor, detail))
        return ticket

    # --- live chat ------------------------------------------------------------------------------

    async def open_live_chat(
        self, *, customer: Customer, question: str, context: Mapping[str, Any],
        source: tuple[int, int] | None = None, media: str | None = None,
        idempotency_key: str | None = None, confirm: Confirmation | None = None,
    ) -> Ticket:
        """A customer asks for a colleague: a `live_chat` ticket with their question as its
        first message and what they just did in the bot (`context`); from now on what they
        write goes to it, until the chat ends or is handed off."""
        async with self.database.transaction():
            ticket, created = await self.open_ticket(
                category=Category.LIVE_CHAT, customer=customer,
                subject=subject_of(f"{LIVE_PREFIX}{question.strip()}", "Livechat"),
                fields=dict(context),
                priority=Priority.HIGH, idempotency_key=idempotency_key, confirm=confirm)
            if created:
                ticket = await self.store.set_live(ticket.id, True, actor="customer")
                await self.customer_wrote(ticket.id, customer.telegram_id, question,
                                          author_name=customer.name, source=source,
                                          media=media)
        return ticket

    async def end_live_chat(self, ticket_id: int, *, actor: str) -> Ticket:
        """The customer (/stop) or the colleague (/back) ends the live chat: the customer
        talks to the bot again; the ticket stays as it is."""
        async with self.database.transaction():
            before = await self.store.get(ticket_id)
            ticket = await self.store.set_live(ticket_id, False, actor=actor, reason="ended")
            if before.live:
                await self._tell(ticket, Change("live_ended", actor, {}))
        return ticket

    async def hand_off(self, ticket_id: int, *, actor: str,
                       category: Category = Category.QUESTION,
                       priority: Priority = Priority.NORMAL) -> Ticket:
        """A live chat becomes a queued ticket for follow-up (its transcript stays on it):
        the category and priority change, the chat ends, the customer is told its number."""
        async with self.database.transaction():
            before = await self.store.get(ticket_id)
            await self.store.set_category(ticket_id, category, actor=actor)
            await self.store.set_priority(ticket_id, priority, actor=actor)
            if before.subject.startswith(LIVE_PREFIX) and len(before.subject) > len(LIVE_PREFIX):
                await self.store.set_subject(ticket_id, before.subject[len(LIVE_PREFIX):],
                                             actor=actor)
            ticket = await self.store.set_live(ticket_id, False, actor=actor,
                                               reason="handed off")
            await self._tell(ticket, Change("handed_off", actor,
                                            {"from": str(before.category),
                                             "to": str(category)}))
        return ticket

    async def live_chat_unanswered(self, ticket_id: int) -> bool:
        """Nobody picked the live chat up in time: the customer is told, once, honestly, and
        offered to leave it as a ticket. False: told before (or picked up meanwhile)."""
        async with self.database.transaction():
            ticket = await self.store.get(ticket_id)
            if not ticket.live or ticket.assignee is not None:
                return False
            if not await self.store.mark_nudged(ticket_id):
                return False
            await self.store.record(ticket_id, "bot", "live_unanswered", {})
            await self._tell(ticket, Change("live_unanswered", "bot", {}))
        return True

    # --- the staff group's topics (the outbox worker keeps them) -------------------------------

    async def set_topic(self, ticket_id: int, topic_id: int | None, *, actor: str = "bot"
                        ) -> None:
        await self.store.set_topic(ticket_id, topic_id, actor=actor)

    async def topic_lost(self, ticket_id: int, reason: str) -> None:
        """Its topic was deleted: the next message for it creates a new one, with its card."""
        await self.store.forget_topic(ticket_id, reason=reason)


def subject_of(text: str, fallback: str, length: int = 60) -> str:
    """A ticket's subject from what the customer typed: its first line, shortened."""
    line = next((each.strip() for each in text.splitlines() if each.strip()), "")
    if not line:
        return fallback
    return line if len(line) <= length else line[: length - 1].rstrip() + "…"
