"""The last safety net: an update whose handler failed is logged with its update id, and the
customer is told something went wrong instead of being left without an answer."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramForbiddenError
from aiogram.types import ErrorEvent

from bot.conversation import language_for
from bot.services import Services

log = logging.getLogger(__name__)


def router() -> Router:
    errors = Router(name="errors")

    @errors.error()
    async def on_error(event: ErrorEvent, bot: Bot, services: Services, **_: Any) -> bool:
        update = event.update
        if isinstance(event.exception, TelegramForbiddenError):
            log.info("update %s: the customer blocked the bot; nothing delivered",
                     update.update_id)
            return True
        log.error("update %s failed", update.update_id, exc_info=event.exception)
        query = update.callback_query
        message = update.message or (query.message if query is not None else None)
        user = (query.from_user if query is not None
                else update.message.from_user if update.message is not None else None)
        if message is None or user is None or message.chat.type != "private":
            return True
        stored = await services.customers.language(user.id)
        text = services.texts.render(
            language_for(user, stored, services.config.languages.default), "start/error")
        try:
            if query is not None:
                await bot.answer_callback_query(query.id)
            await bot.send_message(message.chat.id, text)
        except Exception:  # the apology itself could not be delivered; already logged above
            log.warning("update %s: could not tell the customer about the failure",
                        update.update_id)
        return True

    return errors
