"""A button press is answered (`answerCallbackQuery`) only to stop the spinner in Telegram: the
answer is cosmetic and expires after about 15 seconds. When it cannot be given — Telegram
down, or the query too old because the update is handled again after a restart — that is
logged and the handler goes on with what the customer asked."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import ClientDecodeError, TelegramAPIError, TelegramNetworkError
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.methods.base import Response, TelegramType

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)


class CallbackAnswerGuard(BaseRequestMiddleware):
    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if not isinstance(method, AnswerCallbackQuery):
            return await make_request(bot, method)
        try:  # a press is answered once; nothing to retry in a handler
            return await make_request(bot, method)  # type: ignore[arg-type]
        except (TelegramAPIError, TelegramNetworkError, ClientDecodeError) as error:
            log.info("a button press could not be answered (%s); going on",
                     type(error).__name__)
            return Response[TelegramType](ok=True, result=True)  # type: ignore[arg-type]
