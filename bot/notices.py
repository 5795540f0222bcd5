"""Who is told what when a ticket changes: the bot's `Notifier` for the ticket service.

Everything goes through the outbox, in the transaction of the change:

- the staff group: each ticket's topic is brought in step (`topic`: name, closed or open) and
  its card edited in place (`card`); what the customer writes goes into the topic (`to_topic`:
  the topic is created, or recreated, when the item goes out);
- the customer: a colleague's reply (signed with the colleague's first name, or anonymously),
  and a short note when a colleague picks the ticket up, waits for them, closes (asking for
  a 1-5 rating) or reopens it.

Texts for the colleagues are in the default language (`[languages] default`), the customer's
in theirs. Without a staff group the colleagues' side is silent; start-up says so in the log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from bot import telegram_html
from bot.config import Config
from bot.dialogs.live_chat import LiveCb
from bot.dialogs.my_tickets import rating_buttons
from bot.texts import Texts
from storage.outbox import Notice
from tickets.models import Author, Category, Message, Priority, Status, Ticket
from tickets.service import Change

CAPTION_LIMIT = 1024  # UTF-16 units of a caption, as Telegram counts them


def relayed(chat_id: int, message: Message, render: Callable[[str | None], str], *,
            to_topic: bool = False, then: Callable[[], list[Notice]] | None = None
            ) -> list[Notice]:
    """A thread message for `chat_id`, rendered by `render(text)`: as text, split into as
    many messages as it takes; media as a copy, its caption the rendered text — or, when that
    is too long for a caption, the rendered heading and the text after it as messages
    (`then`, else `render` as text). Nothing is clipped: every part carries the thread
    message, so a reply to any of them finds the ticket."""
    def text(rendered: str) -> list[Notice]:
        return [Notice(chat_id, part, to_topic=to_topic, thread_message_id=message.id)
                for part in telegram_html.split(rendered)]

    if not message.media or message.source is None:
        return text(render(message.text))
    caption = render(message.text)
    rest: list[Notice] = []
    if telegram_html.visible_length(caption) > CAPTION_LIMIT:
        caption = telegram_html.split(render(None), CAPTION_LIMIT)[0]
        rest = then() if then is not None else text(render(message.text))
    return [Notice(chat_id, caption, kind="copy", from_chat_id=message.source[0],
                   message_id=message.source[1], to_topic=to_topic,
                   thread_message_id=message.id), *rest]


class BotNotifier:
    def __init__(self, config: Config, texts: Texts) -> None:
        self.staff_chat_id = config.telegram.staff_chat_id
        self.lang = config.languages.default
        self.anonymous = config.staff.anonymous
        self.reopen_days = config.rules.reopen_days
        self.live_wait_minutes = config.office_hours.live_chat_wait_minutes
        self.texts = texts

    def notices(self, ticket: Ticket, change: Change) -> Sequence[Notice]:
        staff = self._staff(ticket, change) if self.staff_chat_id else []
        return [*staff, *self._customer(ticket, change)]

    # --- the staff group ----------------------------------------------------------------------

    def _staff(self, ticket: Ticket, change: Change) -> list[Notice]:
        action = change.action
        if action in ("opened", "follow_up"):
            notices = [self._card(ticket)]
            if ticket.category == Category.LIVE_CHAT:
                notices.append(Notice(self.staff_chat_id, self.texts.render(
                    self.lang, "staff/live_waiting", ticket=ticket)))
            elif ticket.priority == Priority.URGENT:
                notices.append(Notice(self.staff_chat_id, self.texts.render(
                    self.lang, "staff/urgent", ticket=ticket, link=None)))
            return notices
        if action in ("live_ended", "handed_off", "live_unanswered"):
            line = Notice(self.staff_chat_id, self.texts.render(
                self.lang, f"staff/{action}", ticket=ticket,
                by_customer=change.actor == "customer",
                name=change.actor.removeprefix("colleague:")), to_topic=True)
            if action == "handed_off":
                return [self._card(ticket),
                        Notice(self.staff_chat_id, kind="topic", to_topic=True), line]
            return [line]
        if action == "message" and change.message is not None:
            if change.message.author == Author.CUSTOMER:
                return self._customer_message(ticket, change.message)
            return []
        if action in ("claimed", "unclaimed", "status", "priority"):
            options = {}
            if action == "status":
                options = {"close": change.detail.get("to") == Status.CLOSED,
                           "reopen": change.detail.get("from") == Status.CLOSED}
            return [self._card(ticket),
                    Notice(self.staff_chat_id, kind="topic", to_topic=True, options=options)]
        if action == "rated":  # the customer's rating, or what went wrong after a low one
            return [Notice(self.staff_chat_id, part, to_topic=True)
                    for part in telegram_html.split(self.texts.render(
                        self.lang, "staff/rated", name=ticket.customer.name or
                        (ticket.customer.username or ""), rating=change.detail.get("rating")
                        or 0, comment=change.message.text if change.message is not None
                        else None))]
        if action == "undelivered":
            return [Notice(self.staff_chat_id, self.texts.render(
                self.lang, "staff/undelivered", reason=change.detail.get("reason", ""),
                rejected=bool(change.detail.get("rejected")), email=ticket.customer.email),
                to_topic=True)]
        return []

    def _card(self, ticket: Ticket) -> Notice:
        return Notice(self.staff_chat_id, kind="card", to_topic=True)

    def _customer_message(self, ticket: Ticket, message: Message) -> list[Notice]:
        name = ticket.customer.name or (ticket.customer.username or "")

        def render(text: str | None) -> str:
            return self.texts.render(self.lang, "staff/customer_message", name=name, text=text,
                                     edited=False)

        return relayed(self.staff_chat_id, message, render, to_topic=True)

    # --- the customer ---------------------------------------------------------------------------

    def _customer(self, ticket: Ticket, change: Change) -> list[Notice]:
        chat = ticket.customer.telegram_id
        lang = ticket.customer.language if ticket.customer.language in ("nl", "en") \
            else self.lang
        action = change.action
        name = self.signature(change.actor, lang)
        if action in ("message", "message_edited") and change.message is not None \
                and change.message.author == Author.COLLEAGUE:
            return self._reply(ticket, change.message, lang, name,
                               edit=change.detail.get("copies")
                               or ([change.detail["copy"]] if change.detail.get("copy") else None))
        if action == "claimed":
            joined = "tickets/live_joined" if ticket.live else "tickets/claimed"
            return [Notice(chat, self.texts.render(lang, joined, ticket=ticket, name=name))]
        if action == "live_ended" and change.actor != "customer":
            return [Notice(chat, self.texts.render(lang, "tickets/live_ended", ticket=ticket,
                                                   name=name))]
        if action == "handed_off":
            return [Notice(chat, self.texts.render(
                lang, "tickets/handed_off", ticket=ticket, name=name,
                by_customer=change.actor == "customer"))]
        if action == "live_unanswered":
            return [Notice(chat, self.texts.render(lang, "tickets/live_unanswered",
                                                   ticket=ticket,
                                                   wait=self.live_wait_minutes),
                           self.live_buttons(ticket, lang))]
        if action == "status" and change.actor.startswith("colleague:"):
            template: str | None = {Status.WAITING_ON_CUSTOMER: "tickets/waiting",
                                    Status.CLOSED: "tickets/closed"}.get(ticket.status)
            if ticket.status == Status.OPEN and change.detail.get("from") == Status.CLOSED:
                template = "tickets/reopened"
            if template is not None:
                buttons = rating_buttons(self.texts, lang, ticket.id) \
                    if template == "tickets/closed" else ()
                return [Notice(chat, self.texts.render(lang, template, ticket=ticket,
                                                       name=name,
                                                       reopen_days=self.reopen_days),
                               buttons)]
        return []

    def _reply(self, ticket: Ticket, message: Message, lang: str, name: str, *,
               edit: Sequence[int] | None) -> list[Notice]:
        """The colleague's message for the customer; `edit`: the copy to change in place."""
        chat = ticket.customer.telegram_id
        if message.media and message.source is not None:
            return relayed(chat, message, lambda text: self.texts.render(
                lang, "tickets/colleague_caption", ticket=ticket, name=name, text=text),
                then=lambda: self._reply(ticket, replace(message, media=None), lang, name,
                                         edit=None))
        template = "tickets/live_message" if ticket.live else "tickets/colleague_reply"
        text = self.texts.render(lang, template, ticket=ticket, name=name, text=message.text)
        if edit:  # each copy sent takes its part; parts beyond them are sent after them
            parts = telegram_html.split(text)
            if len(parts) >= len(edit):
                return [*(Notice(chat, part, kind="edit", message_id=copy)
                          for copy, part in zip(edit, parts, strict=False)),
                        *(Notice(chat, part, thread_message_id=message.id)
                          for part in parts[len(edit):])]
            # shorter now than it was: send it anew rather than leave stale parts standing
            edit = None
        return [Notice(chat, part, thread_message_id=message.id)
                for part in telegram_html.split(text)]

    def live_buttons(self, ticket: Ticket, lang: str) -> tuple[tuple[tuple[str, str], ...], ...]:
        """Nobody free: leave the chat as a ticket, or keep waiting."""
        return ((self.texts.label(lang, "live_chat.leave_ticket"),
                 LiveCb(action="ticket", ticket=ticket.id).pack()),
                (self.texts.label(lang, "live_chat.keep_waiting"),
                 LiveCb(action="wait", ticket=ticket.id).pack())),

    def signature(self, actor: str, lang: str) -> str:
        """How a colleague signs to the customer: their first name, or anonymously."""
        name = actor.removeprefix("colleague:").split()
        if self.anonymous or not actor.startswith("colleague:") or not name:
            return self.texts.label(lang, "staff.anonymous")
        return name[0]
