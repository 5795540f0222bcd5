"""Composition: the one place that builds the Bot, the Dispatcher, storage and services."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats

from bot import dialogs, errors, forms, logs
from bot.config import Config
from bot.conversation import ConversationMiddleware
from bot.fsm import CustomerIsolation, SQLiteStorage
from bot.retry import RetryMiddleware
from bot.services import Services
from bot.texts import LANGUAGES, Texts
from storage.database import Database
from tickets.customers import CustomerStore
from tickets.store import TicketStore

log = logging.getLogger(__name__)

COMMANDS = ("start", "menu", "help", "stop", "taal")


@dataclass
class App:
    config: Config
    bot: Bot
    dispatcher: Dispatcher
    services: Services

    async def close(self) -> None:
        await self.bot.session.close()
        await self.services.database.close()


async def build_app(config: Config, *, session: BaseSession | None = None) -> App:
    database = await Database.open(config.storage.database)
    texts = Texts({"provider": config.provider, "rules": config.rules})
    services = Services(
        config=config,
        database=database,
        texts=texts,
        tickets=TicketStore(database, reopen_days=config.rules.reopen_days),
        customers=CustomerStore(database),
    )
    bot = Bot(
        token=config.token or "1:console-without-a-token",
        session=session or _session(config),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )
    bot.session.middleware(RetryMiddleware())
    dispatcher = build_dispatcher(services, SQLiteStorage(database), CustomerIsolation())
    return App(config, bot, dispatcher, services)


def _session(config: Config) -> AiohttpSession:
    if config.telegram.api_base:
        return AiohttpSession(api=TelegramAPIServer.from_base(config.telegram.api_base))
    return AiohttpSession()


def build_dispatcher(
    services: Services, storage: SQLiteStorage, isolation: BaseEventIsolation
) -> Dispatcher:
    dispatcher = Dispatcher(storage=storage, events_isolation=isolation, services=services)
    dispatcher.update.outer_middleware(logs.UpdateContextMiddleware())
    conversation = ConversationMiddleware()
    dispatcher.message.outer_middleware(conversation)
    dispatcher.callback_query.outer_middleware(conversation)

    from bot.dialogs.start import show_menu

    registry = forms.FormRegistry(
        on_stop=lambda conv, edit: show_menu(conv, edit, intro="start/stopped")
    )
    services.forms = registry
    for dialog in dialogs.DIALOGS:
        services.menu.extend(getattr(dialog, "ENTRIES", ()))
        for form in getattr(dialog, "FORMS", ()):
            registry.add(form)
        setup = getattr(dialog, "setup", None)
        if setup is not None:
            setup(services)
        dispatcher.include_router(dialog.router())
    services.menu.sort(key=lambda entry: entry.order)
    dispatcher.include_router(forms.router(registry))
    dispatcher.include_router(dialogs.start.fallback_router())
    dispatcher.include_router(errors.router())
    dispatcher.startup.register(_set_commands)
    return dispatcher


async def _set_commands(bot: Bot, services: Services) -> None:
    """The command list in Telegram's menu, per language (the default language for others)."""
    texts = services.texts
    for lang in (None, *LANGUAGES):
        shown = lang or services.config.languages.default
        commands = [BotCommand(command=name, description=texts.label(shown, f"commands.{name}"))
                    for name in COMMANDS]
        await bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats(),
                                  language_code=lang)


async def run_polling(app: App, *, handle_signals: bool = True) -> None:
    """Long polling until SIGINT/SIGTERM (or stop_polling); then close cleanly."""
    try:
        me = await app.bot.get_me()
        log.info("Balie is running as @%s", me.username)
        await app.dispatcher.start_polling(
            app.bot,
            polling_timeout=app.config.telegram.polling_timeout,
            handle_signals=handle_signals,
            allowed_updates=app.dispatcher.resolve_used_update_types(),
            close_bot_session=False,
        )
    finally:
        await app.close()
        log.info("Balie stopped")
