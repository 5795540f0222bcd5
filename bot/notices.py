"""Who is told what when a ticket changes: the bot's `Notifier` for the ticket service.

Until the staff workspace gives every ticket its own topic, a new ticket is announced with a
plain message in the staff group (in the default language, the colleagues' language). Without
a staff group nothing is sent; start-up says so in the log.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.config import Config
from bot.texts import Texts
from storage.outbox import Notice
from tickets.models import Priority, Ticket
from tickets.service import Change


class BotNotifier:
    def __init__(self, config: Config, texts: Texts) -> None:
        self.staff_chat_id = config.telegram.staff_chat_id
        self.lang = config.languages.default
        self.texts = texts

    def notices(self, ticket: Ticket, change: Change) -> Sequence[Notice]:
        if not self.staff_chat_id or change.action != "opened":
            return ()
        text = self.texts.render(self.lang, "staff/ticket_opened", ticket=ticket,
                                 urgent=ticket.priority == Priority.URGENT)
        return (Notice(self.staff_chat_id, text),)
