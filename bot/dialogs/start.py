"""Entry and way out: /start (with deep links), /menu, /help, /stop, /taal, and the fallbacks."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message

from bot.conversation import Conversation, keyboard, message_of, on_its_message
from bot.dialog import Dialog, Dialogs
from bot.forms import FormRegistry, go_back, load_run, show_current
from bot.menu import MenuCb, MenuEntry
from bot.staff.callbacks import StaffCb
from bot.staff.commands import refuse_in_private
from bot.texts import LANGUAGES

log = logging.getLogger(__name__)


class LanguageCb(CallbackData, prefix="lang"):
    lang: str


async def show_menu(
    conv: Conversation, menu: Sequence[MenuEntry], edit: Message | None = None, *,
    intro: str = "start/menu",
) -> None:
    rows = [[(conv.t.label(f"menu.{entry.key}"), MenuCb(key=entry.key).pack())]
            for entry in menu]
    await conv.show(conv.t(intro, name=conv.user.first_name), keyboard(rows), edit=edit)


async def resume(
    conv: Conversation, registry: FormRegistry, edit: Message | None = None,
    notice: str | None = None,
) -> bool:
    """Show the step of a dialog in progress again (in the current language); False when
    the customer is not in a dialog."""
    run = await load_run(conv, registry)
    if run is None:
        return False
    await show_current(run, edit=edit, notice=notice)
    return True


async def start_over(conv: Conversation, dialogs: Dialogs, payload: str = "") -> None:
    """/start: whatever was going on is left; a deep link opens its dialog, else the menu."""
    await dialogs.leave(conv)
    entry = dialogs.deep_link(payload)
    if entry is not None:
        await entry.start(conv, None)
        return
    await show_menu(conv, dialogs.menu, intro="start/welcome")


async def to_menu(conv: Conversation, dialogs: Dialogs) -> None:
    """/menu."""
    await dialogs.leave(conv)
    await show_menu(conv, dialogs.menu)


async def explain(conv: Conversation) -> None:
    """/help."""
    await conv.say(conv.t("start/help"))


async def stop(conv: Conversation, dialogs: Dialogs) -> None:
    """/stop: leave the dialog, nothing is submitted."""
    was_busy = await conv.state.get_state() is not None
    await dialogs.leave(conv)
    await show_menu(conv, dialogs.menu,
                    intro="start/stopped" if was_busy else "start/nothing_to_stop")


async def typed_command(message: Message, conv: Conversation) -> dict[str, str] | bool:
    """Filter: the whole message is a word that names a command ("help", "Stop!", "terug";
    `bot/templates/<lang>/typed.toml`), in a dialog or not. Not a reply to a ticket's message
    (that goes to the ticket), nor in a live chat (its router comes first: the colleague
    reads it)."""
    if message.text is None or message.reply_to_message is not None:
        return False
    command = conv.t.command_of(message.text)
    if command is None or command == "skip":  # Skip is the form's, at a step it may skip
        return False
    return {"typed_command": command}


def router() -> Router:
    start = Router(name="start")
    start.message.filter(F.chat.type == "private")

    @start.message(CommandStart())
    async def on_start(
        message: Message, command: CommandObject, conv: Conversation, dialogs: Dialogs
    ) -> None:
        await start_over(conv, dialogs, command.args or "")

    @start.message(Command("menu"))
    async def on_menu(message: Message, conv: Conversation, dialogs: Dialogs) -> None:
        await to_menu(conv, dialogs)

    @start.message(Command("help"))
    async def on_help(message: Message, conv: Conversation) -> None:
        await explain(conv)

    @start.message(Command("stop"))
    async def on_stop(message: Message, conv: Conversation, dialogs: Dialogs) -> None:
        await stop(conv, dialogs)

    @start.message(typed_command)
    async def on_typed_command(
        message: Message, typed_command: str, conv: Conversation, dialogs: Dialogs
    ) -> None:
        """A command typed as a word acts as the command; "terug" is the Back button inside
        a form and the menu outside one."""
        if typed_command == "help":
            await explain(conv)
        elif typed_command == "stop":
            await stop(conv, dialogs)
        elif typed_command == "start":
            await start_over(conv, dialogs)
        elif typed_command == "back" and (run := await load_run(conv, dialogs.registry)):
            await run.disarm()
            await go_back(run, dialogs.registry)
        else:
            await to_menu(conv, dialogs)

    @start.message(Command("taal", "language", "lang"))
    async def on_language(message: Message, conv: Conversation) -> None:
        rows = [[(conv.t.label(f"language.{lang}"), LanguageCb(lang=lang).pack())]
                for lang in LANGUAGES]
        await conv.say(conv.t("start/language"), keyboard(rows))

    @start.callback_query(LanguageCb.filter())
    async def on_language_chosen(
        query: CallbackQuery, callback_data: LanguageCb, conv: Conversation, dialogs: Dialogs
    ) -> None:
        if callback_data.lang not in LANGUAGES:
            await query.answer(conv.t.label("form.stale"))
            return
        await conv.set_language(callback_data.lang)
        await query.answer()
        if not await resume(conv, dialogs.registry, message_of(query)):
            await show_menu(conv, dialogs.menu, message_of(query), intro="start/language_set")

    @start.callback_query(MenuCb.filter())
    async def on_menu_entry(
        query: CallbackQuery, callback_data: MenuCb, conv: Conversation, dialogs: Dialogs
    ) -> None:
        if not on_its_message(query):  # forged, or a second tap after the first opened it
            await query.answer(conv.t.label("form.stale"))
            return
        entry = dialogs.entry(callback_data.key)
        await query.answer()
        await dialogs.leave(conv)
        if entry is None:
            await show_menu(conv, dialogs.menu, message_of(query))
            return
        await entry.start(conv, message_of(query))

    return start


def fallback_router() -> Router:
    """Last in line: anything no dialog took gets a helpful answer, never silence."""
    fallback = Router(name="fallback")

    @fallback.message(F.chat.type == "private", F.text.startswith("/"))
    async def on_unknown_command(message: Message, conv: Conversation, dialogs: Dialogs) -> None:
        refuse_in_private(message.text or "", conv.user.id)
        await show_menu(conv, dialogs.menu, intro="start/unknown_command")

    @fallback.message(F.chat.type == "private", F.text)
    async def on_text(message: Message, conv: Conversation, dialogs: Dialogs) -> None:
        answer = dialogs.registry.answer
        if answer is not None and await answer(conv, message.text or ""):
            return
        await show_menu(conv, dialogs.menu, intro="start/not_understood")

    @fallback.message(F.chat.type == "private")
    async def on_other(message: Message, conv: Conversation, dialogs: Dialogs) -> None:
        await show_menu(conv, dialogs.menu, intro="start/text_only")

    @fallback.edited_message(F.chat.type == "private")
    async def on_edited(message: Message, conv: Conversation) -> None:
        """Outside a dialog there is no answer to re-take: what was sent stands."""
        await conv.say(conv.t("start/edit_kept"))

    @fallback.callback_query()
    async def on_unknown_button(query: CallbackQuery, conv: Conversation) -> None:
        if (query.data or "").startswith(f"{StaffCb.__prefix__}:"):
            log.warning("refused a staff button from user %s in a private chat: %r",
                        conv.user.id, (query.data or "")[:64])
        await query.answer(conv.t.label("form.stale"))

    return fallback


DIALOG = Dialog("start", router)
