"""A customer's reply to a message about one of their tickets (a colleague's answer, the
confirmation, "closed") goes to that ticket: into its thread and its topic in the staff group.

Telegram's reply tells which message was answered; the outbox knows which ticket that message
belonged to. The ticket is checked to be the customer's own. A ticket closed less than
`reopen_days` ago opens again; an older one gets a follow-up ticket that links it, and the
customer is told which happened.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.types import Message

from bot.conversation import Conversation
from bot.dialog import Dialog
from bot.dialogs.my_tickets import forwarded
from bot.media import RELAYED, media_of
from bot.services import Services


async def replied_ticket(message: Message, services: Services) -> dict[str, Any] | bool:
    """Filter: the reply is to a message of one of this customer's tickets."""
    answered = message.reply_to_message
    if answered is None or message.from_user is None or answered.from_user is None \
            or not answered.from_user.is_bot:
        return False
    item = await services.outbox.relayed_as(message.chat.id, answered.message_id)
    if item is None or item.ticket_id is None:
        return False
    ticket = await services.tickets.get_for_customer(item.ticket_id, message.from_user.id)
    return {"replied_ticket": ticket} if ticket is not None else False


def router() -> Router:
    replies = Router(name="ticket-reply")

    @replies.message(F.reply_to_message, F.content_type.in_(RELAYED), replied_ticket)
    async def on_reply(message: Message, conv: Conversation, replied_ticket: Any) -> None:
        await conv.services.ticket_service.customer_wrote(
            replied_ticket.id, conv.user.id, message.text or message.caption or "",
            author_name=conv.customer().name, source=(message.chat.id, message.message_id),
            media=media_of(message), confirm=forwarded(conv, replied_ticket))

    return replies


DIALOG = Dialog("ticket_reply", router)
