"""The colleagues' side: updates from the staff supergroup, with the topic and the colleague
they come from. The staff workspace (a topic per ticket, its card, relay) builds on this."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, F, Router
from aiogram.types import CallbackQuery, Message, TelegramObject, User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StaffContext:
    """Where in the staff group an update comes from, and who sent it."""

    chat_id: int
    topic_id: int | None  # the forum topic (message_thread_id), None in the General topic
    colleague: User


class StaffMiddleware(BaseMiddleware):
    def __init__(self, staff_chat_id: int) -> None:
        self.staff_chat_id = staff_chat_id

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        message = event.message if isinstance(event, CallbackQuery) else event
        user: User | None = data.get("event_from_user")
        if isinstance(message, Message) and user is not None \
                and message.chat.id == self.staff_chat_id:
            topic = message.message_thread_id if message.is_topic_message else None
            data["staff"] = StaffContext(message.chat.id, topic, user)
        return await handler(event, data)


def router(staff_chat_id: int) -> Router:
    staff = Router(name="staff")
    staff.message.filter(F.chat.id == staff_chat_id)
    staff.edited_message.filter(F.chat.id == staff_chat_id)
    staff.callback_query.filter(F.message.chat.id == staff_chat_id)
    context = StaffMiddleware(staff_chat_id)
    staff.message.outer_middleware(context)
    staff.edited_message.outer_middleware(context)
    staff.callback_query.outer_middleware(context)
    return staff
