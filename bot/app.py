"""Composition: the one place that builds the Bot, the Dispatcher, storage and services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramUnauthorizedError
from aiogram.fsm.storage.base import BaseEventIsolation
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    Message,
    TelegramObject,
    User,
)
from aiogram.utils.backoff import Backoff, BackoffConfig

from bot import errors, forms, logs, staff
from bot.config import Config, FloodConfig
from bot.conversation import Conversation, ConversationMiddleware
from bot.delivery import Limits, OutboxWorker
from bot.dialog import Dialog, Dialogs, menu_of
from bot.dialogs import DIALOGS
from bot.dialogs.live_chat import LiveChatWatch
from bot.dialogs.question import answerer, form_answerer
from bot.dialogs.start import fallback_router, show_menu
from bot.filters import inline_sync_filters
from bot.fsm import CustomerIsolation, SQLiteStorage
from bot.intake import Intake, UnitMiddleware
from bot.notices import BotNotifier
from bot.retry import RetryMiddleware
from bot.services import Services
from bot.staff.topics import TopicDesk
from bot.texts import LANGUAGES, Texts
from bot.throttle import ThrottleMiddleware
from knowledge import dates
from knowledge.kb import KnowledgeBase
from knowledge.matcher import Matcher
from knowledge.questions import QuestionLog
from storage.database import Database
from storage.inbox import Inbox
from storage.outbox import Outbox
from tickets.customers import CustomerStore
from tickets.service import TicketService
from tickets.store import TicketStore

log = logging.getLogger(__name__)

COMMANDS = ("start", "menu", "tickets", "help", "stop", "taal")
STARTUP_BACKOFF = BackoffConfig(min_delay=1.0, max_delay=60.0, factor=1.6, jitter=0.1)
STOP_TIMEOUT = 10.0  # seconds for handlers in flight at shutdown
DRAIN_TIMEOUT = 5.0  # seconds for the outbox at shutdown


@dataclass
class App:
    config: Config
    bot: Bot
    dispatcher: Dispatcher
    services: Services
    dialogs: Dialogs
    storage: SQLiteStorage
    intake: Intake
    worker: OutboxWorker
    live_watch: LiveChatWatch
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def request_stop(self) -> None:
        """Stop intake, finish what is in flight, drain the outbox, close (SIGTERM does this)."""
        self.stopping.set()

    async def close(self) -> None:
        await self.bot.session.close()
        await self.services.database.close()


async def build_app(
    config: Config, *, session: BaseSession | None = None, delivery_limits: Limits | None = None
) -> App:
    """Everything `balie run` needs. A local session (the console) passes `Limits.none()`:
    Telegram's rate limits do not apply to a terminal."""
    database = await Database.open(config.storage.database)
    texts = Texts({"provider": config.provider, "rules": config.rules})
    knowledge = KnowledgeBase.load()
    outbox = Outbox(database)
    store = TicketStore(database, reopen_days=config.rules.reopen_days)
    services = Services(
        config=config,
        database=database,
        texts=texts,
        tickets=store,
        ticket_service=TicketService(store, outbox, BotNotifier(config, texts)),
        outbox=outbox,
        customers=CustomerStore(database),
        knowledge=knowledge,
        matcher=Matcher(knowledge),
        questions=QuestionLog(database),
    )
    dialogs = build_dialogs()
    bot = Bot(
        token=config.token or "1:console-without-a-token",
        session=session or _session(config),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )
    bot.session.middleware(RetryMiddleware())
    storage = SQLiteStorage(database)
    dispatcher = build_dispatcher(services, storage, CustomerIsolation(), dialogs)
    intake = Intake(dispatcher, bot, database, polling_timeout=config.telegram.polling_timeout,
                    allowed_updates=dispatcher.resolve_used_update_types())
    desk = None
    if config.telegram.staff_chat_id:
        desk = TopicDesk(config.telegram.staff_chat_id, services.ticket_service, texts,
                         config.languages.default)
    worker = OutboxWorker(bot, outbox, limits=delivery_limits or Limits(), topics=desk,
                          on_refused=desk.refused if desk is not None else None)
    live_watch = LiveChatWatch(services)
    live_watch.attach(dispatcher)
    return App(config, bot, dispatcher, services, dialogs, storage, intake, worker,
               live_watch)


def build_dialogs(declared: tuple[Dialog, ...] = DIALOGS) -> Dialogs:
    """The dialogs assembled: their forms registered (codes and button sizes checked), the
    main menu in order, the free-text answerer, and where Stop lands."""
    menu = menu_of(declared)
    on_leave = tuple(dialog.on_leave for dialog in declared if dialog.on_leave is not None)

    async def left(conv: Conversation) -> None:
        for hook in on_leave:
            await hook(conv)

    async def on_stop(conv: Conversation, edit: Message | None) -> None:
        await show_menu(conv, menu, edit, intro="start/stopped")

    async def on_menu(conv: Conversation, edit: Message | None) -> None:
        await show_menu(conv, menu, edit)

    keys = frozenset(entry.key for entry in menu)
    registry = forms.FormRegistry(on_stop=on_stop, on_menu=on_menu, answer=answerer(keys),
                                  answer_in_form=form_answerer(keys),
                                  on_leave=left if on_leave else None)
    for dialog in declared:
        for form in dialog.forms:
            registry.add(form)
    return Dialogs(declared, registry, menu, on_leave)


def _session(config: Config) -> AiohttpSession:
    if config.telegram.api_base:
        return AiohttpSession(api=TelegramAPIServer.from_base(config.telegram.api_base))
    return AiohttpSession()


def build_dispatcher(
    services: Services, storage: SQLiteStorage, isolation: BaseEventIsolation,
    dialogs: Dialogs | None = None,
) -> Dispatcher:
    """Customers in private chats, colleagues in the staff group; anything else is ignored.
    Handlers get `services` and `dialogs` from the workflow data."""
    dialogs = dialogs or build_dialogs()
    dispatcher = Dispatcher(storage=storage, events_isolation=isolation, services=services,
                            dialogs=dialogs)
    dispatcher.update.outer_middleware(logs.UpdateContextMiddleware())
    # Inside the per-customer lock: the state an update changes commits with its "done".
    dispatcher.update.outer_middleware(
        UnitMiddleware(services.database, storage, Inbox(services.database), services.outbox))

    dispatcher.include_router(customer_router(dialogs, services.config.flood))
    staff_chat = services.config.telegram.staff_chat_id
    if staff_chat:
        dispatcher.include_router(staff.router(staff_chat))
    dispatcher.include_router(ignored_router())
    dispatcher.include_router(errors.router())
    dispatcher.startup.register(_set_commands)
    inline_sync_filters(dispatcher)  # `F.…` checks without a thread hop each (bot.filters)
    return dispatcher


def customer_router(dialogs: Dialogs, flood: FloodConfig | None = None) -> Router:
    flood = flood or FloodConfig()
    customers = Router(name="customers")
    customers.message.filter(F.chat.type == "private")
    customers.edited_message.filter(F.chat.type == "private")
    customers.callback_query.filter(F.message.chat.type == "private")
    conversation = ConversationMiddleware()
    customers.message.outer_middleware(conversation)
    customers.message.outer_middleware(  # after the conversation
        ThrottleMiddleware(flood.messages, flood.seconds))
    customers.edited_message.outer_middleware(conversation)
    customers.callback_query.outer_middleware(conversation)
    for dialog in dialogs.declared:
        customers.include_router(dialog.router())
    customers.include_router(forms.router(dialogs.registry))
    customers.include_router(fallback_router())
    return customers


def ignored_router() -> Router:
    """Other groups and channels the bot was added to: nothing to do there, on purpose."""
    ignored = Router(name="ignored")

    @ignored.message()
    @ignored.edited_message()
    @ignored.callback_query()
    @ignored.channel_post()
    async def on_elsewhere(event: TelegramObject, event_from_user: User | None = None) -> None:
        log.debug("ignored an update from outside the private chats and the staff group")

    return ignored


async def _set_commands(bot: Bot, services: Services) -> None:
    """The command list in Telegram's menu, per language (the default language for others)."""
    texts = services.texts
    try:
        for lang in (None, *LANGUAGES):
            shown = lang or services.config.languages.default
            commands = [BotCommand(command=name,
                                   description=texts.label(shown, f"commands.{name}"))
                        for name in COMMANDS]
            await bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats(),
                                      language_code=lang)
    except (TelegramAPIError, TelegramNetworkError) as error:  # cosmetic; next start tries again
        log.warning("could not set the command list (%s)", type(error).__name__)


async def wait_for_telegram(app: App) -> User | None:
    """getMe until Telegram answers (one log line per attempt); None when stopped meanwhile.
    A refused token is final and raised."""
    backoff = Backoff(STARTUP_BACKOFF)
    while not app.stopping.is_set():
        try:
            return await app.bot.get_me()
        except TelegramUnauthorizedError:
            raise
        except Exception as error:
            log.warning("cannot reach the Bot API (%s); trying again in %.0fs",
                        type(error).__name__, backoff.next_delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(app.stopping.wait(), backoff.next_delay)
            next(backoff)
    return None


async def run_polling(app: App, *, handle_signals: bool = True) -> None:
    """Long polling until SIGINT/SIGTERM (or `request_stop`); then stop intake, let what is
    in flight finish, drain the outbox for a bounded time and close the database."""
    loop = asyncio.get_running_loop()
    if handle_signals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, app.request_stop)
    dispatcher = app.dispatcher
    try:
        me = await wait_for_telegram(app)
        if me is None:
            return
        log.info("Balie is running as @%s", me.username)
        if not app.config.telegram.staff_chat_id:
            log.warning("no staff group configured ([telegram] staff_chat_id): new tickets, "
                        "urgent ones included, are only in `balie tickets list`")
        else:
            await staff.check_staff_group(app.bot, app.config.telegram.staff_chat_id)
        await dispatcher.emit_startup(bot=app.bot, dispatcher=dispatcher, bots=[app.bot],
                                      **dispatcher.workflow_data)
        # Before the first update: otherwise the first date typed makes everybody wait.
        await asyncio.to_thread(dates.warm_up)
        await app.worker.start()
        polling = asyncio.create_task(app.intake.run())
        stopping = asyncio.create_task(app.stopping.wait())
        await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        await app.intake.stop(STOP_TIMEOUT)
        with contextlib.suppress(asyncio.CancelledError):
            await polling  # raises what ended polling (a refused token)
        await app.worker.stop(DRAIN_TIMEOUT)
        await dispatcher.emit_shutdown(bot=app.bot, dispatcher=dispatcher, bots=[app.bot],
                                       **dispatcher.workflow_data)
    finally:
        if handle_signals:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        await app.close()
        log.info("Balie stopped")
