"""What a colleague writes in a ticket's topic reaches the customer.

Text, photos, documents, voice, video, stickers: stored in the ticket's thread (with the
Telegram message it came from, so a redelivered update adds nothing) and sent to the customer
through the outbox — text signed with the colleague's first name (or anonymously), media as a
copy with that signature as its caption. A colleague's edit is mirrored to the customer's copy.
In the topic of a closed ticket nothing is sent: the colleague is told and offered to reopen.
Commands (`/note` and the rest) are handled before this router sees a message.
"""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.media import RELAYED, media_of
from bot.services import Services
from bot.staff.callbacks import StaffCb
from bot.staff.context import StaffContext
from tickets.models import Status, Ticket
from tickets.service import ConcurrentChange

log = logging.getLogger(__name__)

def router() -> Router:
    relay = Router(name="staff-relay")

    @relay.message(F.content_type.in_(RELAYED), ~F.text.startswith("/"))
    async def on_topic_message(message: Message, staff: StaffContext,
                               services: Services) -> None:
        ticket = await _ticket_of(staff, services)
        if ticket is None or staff.colleague.is_bot:
            return
        if ticket.status == Status.CLOSED:
            await _closed(message, ticket, services)
            return
        text = message.text or message.caption or ""
        try:
            await services.ticket_service.colleague_replied(
                ticket.id, staff.name, text,
                source=(message.chat.id, message.message_id), media=media_of(message))
        except ConcurrentChange:  # closed meanwhile
            await _closed(message, await services.tickets.get(ticket.id), services)

    @relay.edited_message(F.content_type.in_(RELAYED))
    async def on_topic_edit(message: Message, staff: StaffContext, services: Services) -> None:
        text = message.text or message.caption or ""
        edited = await services.ticket_service.colleague_edited(
            (message.chat.id, message.message_id), text, colleague=staff.name)
        if edited is not None:
            log.info("ticket %d: a colleague's message edited; the customer's copy follows",
                     edited.ticket_id)

    return relay


async def _ticket_of(staff: StaffContext, services: Services) -> Ticket | None:
    if staff.topic_id is None:
        return None
    return await services.tickets.by_topic(staff.topic_id)


async def _closed(message: Message, ticket: Ticket, services: Services) -> None:
    lang = services.config.languages.default
    texts = services.texts
    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=texts.label(lang, "staff.button.reopen"),
        callback_data=StaffCb(action="reopen", ticket=ticket.id).pack())]])
    await message.reply(texts.render(lang, "staff/ticket_closed", ticket=ticket),
                        reply_markup=markup)
