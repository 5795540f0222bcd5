"""Tests of the fake Bot API kit, driven by a real aiogram Bot and Dispatcher."""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import (
    CallbackQuery,
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

if TYPE_CHECKING:
    from fakeapi import FakeTelegram, UpdateTracker, make_bot, parse_telegram_html, running_bot
else:
    try:
        from tests.fakeapi import (
            FakeTelegram,
            UpdateTracker,
            make_bot,
            parse_telegram_html,
            running_bot,
        )
    except ImportError:  # tests/ is not a package and the rootdir is not on sys.path
        from fakeapi import (
            FakeTelegram,
            UpdateTracker,
            make_bot,
            parse_telegram_html,
            running_bot,
        )

STAFF = -1001234567890




def kb(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=t, callback_data=d) for t, d in row] for row in rows
        ]
    )


def build_dispatcher(seen: list[str]) -> Dispatcher:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        seen.append(f"start:{command.args}")
        await message.answer(
            "<b>Welkom</b> bij Balie &amp; co!",
            reply_markup=kb([("Ja", "yes"), ("Nee", "no")], [("Meer info", "info")]),
        )

    @router.callback_query(F.data == "yes")
    async def yes(callback: CallbackQuery) -> None:
        assert isinstance(callback.message, Message)
        await callback.message.edit_text("Je koos <i>ja</i>.")
        await callback.answer("Genoteerd")

    @router.callback_query(F.data == "no")
    async def no(callback: CallbackQuery) -> None:
        await callback.answer()

    @router.callback_query()
    async def other(callback: CallbackQuery) -> None:
        seen.append(f"cb:{callback.data}")
        await callback.answer("Onbekend", show_alert=True)

    @router.message(Command("topic"))
    async def topic(message: Message) -> None:
        await message.answer(f"topic {message.message_thread_id} in {message.chat.type}")

    @router.message(F.sticker)
    async def sticker(message: Message) -> None:
        assert message.sticker is not None
        seen.append(f"sticker:{message.sticker.emoji}")
        await message.answer("Mooie sticker")

    @router.message(F.photo)
    async def photo(message: Message) -> None:
        assert message.photo
        await message.answer(f"foto {message.photo[-1].width}px: {message.caption}")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        seen.append(f"text:{message.text}")
        await message.answer(f"Je zei: {html.escape(message.text or '')}")

    dp = Dispatcher()
    dp.include_router(router)
    return dp


class Kit:
    def __init__(self, tg: FakeTelegram, bot: Bot, tracker: UpdateTracker, seen: list[str]):
        self.tg = tg
        self.bot = bot
        self.tracker = tracker
        self.seen = seen


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    b = make_bot(tg)
    try:
        yield b
    finally:
        await b.session.close()


@pytest.fixture
async def kit(tg: FakeTelegram, bot: Bot) -> AsyncIterator[Kit]:
    seen: list[str] = []
    tracker = UpdateTracker()
    dp = build_dispatcher(seen)
    async with running_bot(dp, bot, tracker=tracker, tg=tg):
        yield Kit(tg, bot, tracker, seen)


# ---------------------------------------------------------------------- end to end


async def test_start_gets_reply_with_keyboard(kit: Kit) -> None:
    anna = kit.tg.user(1001, "Anna", tracker=kit.tracker)
    seen = await anna.send("/start promo42")
    assert kit.seen == ["start:promo42"]
    assert anna.last_text() == "Welkom bij Balie & co!"
    assert anna.last_html() == "<b>Welkom</b> bij Balie &amp; co!"
    assert anna.buttons() == ["Ja", "Nee", "Meer info"]
    assert [m.plain for m in seen] == ["Welkom bij Balie & co!"]
    msg = anna.messages()[-1]
    assert msg.buttons == [[("Ja", "yes"), ("Nee", "no")], [("Meer info", "info")]]
    assert msg.raw["entities"] == [{"type": "bold", "offset": 0, "length": 6}]
    call = kit.tg.calls_to("sendmessage")[0]
    assert call.params["chat_id"] == 1001
    assert call.params["parse_mode"] == "HTML"
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "yes"


async def test_press_edits_message_and_answers_callback(kit: Kit) -> None:
    anna = kit.tg.user(1001, "Anna", tracker=kit.tracker)
    await anna.send("/start")
    first_id = anna.messages()[-1].message_id
    changed = await anna.press("Ja")
    assert anna.last_text() == "Je koos ja."
    assert anna.buttons() == []  # edit without markup removes the keyboard
    assert [m.message_id for m in changed] == [first_id]
    assert anna.messages()[-1].edits == 1
    assert anna.callback_answers() == ["Genoteerd"]
    assert anna.texts() == ["Je koos ja."]


async def test_press_substring_ambiguous_and_forged(kit: Kit) -> None:
    anna = kit.tg.user(1001, "Anna", tracker=kit.tracker)
    await anna.send("/start")
    await anna.press("info")  # unique substring of "Meer info"
    assert kit.seen[-1] == "cb:info"
    with pytest.raises(AssertionError, match="visible buttons"):
        await anna.press("Misschien")
    with pytest.raises(AssertionError, match="ambiguous"):
        await anna.press("e")  # "Nee", "Meer info"
    await anna.press_data("forged:1")
    assert kit.seen[-1] == "cb:forged:1"
    assert anna.callback_answers() == ["Onbekend", "Onbekend"]


async def test_plain_text_and_quiescence_fallback(kit: Kit) -> None:
    bob = kit.tg.user(1002, "Bob", username=None, tracker=None)  # no tracker: quiescence
    await bob.send("hallo <daar>")
    assert bob.last_text() == "Je zei: hallo <daar>"
    assert bob.last_html() == "Je zei: hallo &lt;daar&gt;"
    assert kit.seen == ["text:hallo <daar>"]


async def test_sticker_and_photo_reach_handlers(kit: Kit) -> None:
    anna = kit.tg.user(1001, "Anna", tracker=kit.tracker)
    await anna.send_sticker("🔥")
    assert kit.seen == ["sticker:🔥"]
    assert anna.last_text() == "Mooie sticker"
    await anna.send_photo(caption="scherm")
    assert anna.last_text() == "foto 1280px: scherm"


async def test_staff_topic_message_and_press(kit: Kit) -> None:
    tg = kit.tg
    tg.add_supergroup(STAFF, "Balie staff", forum=True)
    topic = await kit.bot.create_forum_topic(STAFF, "Ticket #1")
    assert topic.name == "Ticket #1"
    assert tg.topics(STAFF)[topic.message_thread_id].name == "Ticket #1"
    colleague = tg.user(2001, "Kees", username="kees", tracker=kit.tracker)
    await colleague.send("/topic", chat_id=STAFF, thread_id=topic.message_thread_id)
    assert colleague.last_text(chat_id=STAFF) == (
        f"topic {topic.message_thread_id} in supergroup"
    )
    assert tg.chat(STAFF)[-1].thread_id == topic.message_thread_id
    await kit.bot.send_message(
        STAFF, "Nieuw ticket", message_thread_id=topic.message_thread_id,
        reply_markup=kb([("Ja", "yes")]),
    )
    await colleague.press("Ja", chat_id=STAFF)
    assert colleague.last_text(chat_id=STAFF) == "Je koos ja."


async def test_update_handled_error_is_recorded(tg: FakeTelegram, bot: Bot) -> None:
    router = Router()

    @router.message()
    async def boom(message: Message) -> None:
        await message.answer("<br>kapot")

    dp = Dispatcher()
    dp.include_router(router)
    tracker = UpdateTracker()
    async with running_bot(dp, bot, tracker=tracker, tg=tg):
        anna = tg.user(1001, "Anna", tracker=tracker, raise_handler_errors=True)
        with pytest.raises(AssertionError, match="can't parse entities"):
            await anna.send("hoi")
        assert isinstance(tracker.errors[anna.last_update_id or 0], TelegramBadRequest)


# ---------------------------------------------------------------------- Telegram errors


async def test_invalid_html_is_refused(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_user(1001, "Anna")
    for bad in ["<br>", "a < b", "<b>open", "<b><i>x</b></i>", "R&D", "<a>x</a>",
                "<span>x</span>", "<p>x</p>", "&nbsp;"]:
        with pytest.raises(TelegramBadRequest, match="can't parse entities"):
            await bot.send_message(1001, bad)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(1001, "<b> </b>")
    ok = await bot.send_message(
        1001,
        '<b>a</b> <strong>b</strong> <i>c</i> <u>d</u> <s>e</s> <a href="https://x.nl">f</a> '
        '<code>g</code> <pre><code class="language-py">h</code></pre> '
        '<blockquote expandable>i</blockquote> <tg-spoiler>j</tg-spoiler> '
        '<span class="tg-spoiler">k</span> &lt;&gt;&quot;&#65;&#x42; a > b',
    )
    assert ok.text == 'a b c d e f g h i j k <>"AB a > b'
    assert ok.html_text.startswith("<b>a</b>")
    # Without parse_mode the text is taken literally.
    plain = await bot.send_message(1001, "a < b & <br>", parse_mode=None)
    assert plain.text == "a < b & <br>"


def test_html_parser_entities_use_utf16_offsets() -> None:
    plain, entities = parse_telegram_html("😀 <b>x</b>")
    assert plain == "😀 x"
    assert entities == [{"type": "bold", "offset": 3, "length": 1}]


async def test_length_and_button_limits(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_user(1001, "Anna")
    await bot.send_message(1001, "x" * 4096)
    await bot.send_message(1001, "<b>" + "x" * 4096 + "</b>")  # tags do not count
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(1001, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(1001, "😀" * 2049)  # 4098 UTF-16 code units
    await bot.send_message(1001, "ok", reply_markup=kb([("a", "d" * 64)]))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(1001, "ok", reply_markup=kb([("a", "d" * 65)]))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(1001, "ok", reply_markup=kb([("a", "é" * 33)]))  # 66 bytes
    with pytest.raises(TelegramBadRequest, match="BUTTON_TEXT_EMPTY"):
        await bot.send_message(1001, "ok", reply_markup=kb([("", "x")]))
    many = kb(*[[(str(i * 10 + j), "x") for j in range(10)] for i in range(11)])
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(1001, "ok", reply_markup=many)


async def test_edit_errors(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_user(1001, "Anna")
    msg = await bot.send_message(1001, "<b>hoi</b>", reply_markup=kb([("a", "b")]))
    with pytest.raises(TelegramBadRequest, match="message is not modified: specified new"):
        await bot.edit_message_text(
            "<b>hoi</b>", chat_id=1001, message_id=msg.message_id, reply_markup=kb([("a", "b")])
        )
    edited = await bot.edit_message_text("<i>hoi</i>", chat_id=1001, message_id=msg.message_id)
    assert isinstance(edited, Message) and edited.edit_date is not None
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=1001, message_id=999)
    await bot.edit_message_reply_markup(
        chat_id=1001, message_id=msg.message_id, reply_markup=kb([("c", "d")])
    )
    assert tg.chat(1001)[-1].buttons == [[("c", "d")]]
    assert await bot.delete_message(1001, msg.message_id)
    assert tg.chat(1001) == []
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(1001, msg.message_id)


async def test_blocked_unknown_chat_and_deleted_topic(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_user(1001, "Anna")
    tg.block(1001)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(1001, "hoi")
    tg.unblock(1001)
    await bot.send_message(1001, "hoi")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(555, "hoi")
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(1001, "re", reply_to_message_id=999)

    tg.add_supergroup(STAFF, "Staff", forum=True)
    topic = await bot.create_forum_topic(STAFF, "Ticket #7", icon_color=0xFF93B2)
    assert topic.icon_color == 0xFF93B2
    await bot.send_message(STAFF, "in topic", message_thread_id=topic.message_thread_id)
    assert await bot.edit_forum_topic(STAFF, topic.message_thread_id, name="Ticket #7 [open]")
    assert await bot.close_forum_topic(STAFF, topic.message_thread_id)
    assert tg.topics(STAFF)[topic.message_thread_id].closed
    assert await bot.reopen_forum_topic(STAFF, topic.message_thread_id)
    assert await bot.delete_forum_topic(STAFF, topic.message_thread_id)
    assert tg.topics(STAFF)[topic.message_thread_id].deleted
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(STAFF, "x", message_thread_id=topic.message_thread_id)
    other = tg.add_topic(STAFF, "Ticket #8")
    tg.delete_topic(STAFF, other)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(STAFF, "x", message_thread_id=other)


async def test_fault_injection(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_user(1001, "Anna")
    tg.fail_next("sendMessage", status=429, description="Too Many Requests: retry after 7",
                 retry_after=7)
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(1001, "hoi")
    assert info.value.retry_after == 7
    assert tg.calls_to("sendMessage")[-1].status == 429
    tg.drop_next("sendMessage")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(1001, "hoi")
    tg.fail_next("sendMessage", status=400, description="Bad Request: custom", times=2)
    for _ in range(2):
        with pytest.raises(TelegramBadRequest, match="custom"):
            await bot.send_message(1001, "hoi")
    await bot.send_message(1001, "hoi")
    assert [m.plain for m in tg.chat(1001)] == ["hoi"]


async def test_get_updates_offset_and_long_poll(tg: FakeTelegram, bot: Bot) -> None:
    ids = [tg.push_update({"message": {"message_id": i, "date": 0,
                                       "chat": {"id": 1, "type": "private", "first_name": "A"},
                                       "text": f"m{i}"}}) for i in range(3)]
    got = await bot.get_updates(offset=0, timeout=0)
    assert [u.update_id for u in got] == ids
    assert all(tg.fetched(i) for i in ids) and not tg.confirmed(ids[0])
    got = await bot.get_updates(offset=ids[1] + 1, timeout=0)
    assert [u.update_id for u in got] == [ids[2]]
    assert tg.confirmed(ids[1]) and not tg.confirmed(ids[2])
    got = await bot.get_updates(timeout=0)  # older ones are gone for good
    assert [u.update_id for u in got] == [ids[2]]
    got = await bot.get_updates(offset=ids[2] + 1, limit=1, timeout=0)
    assert got == []
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert await bot.get_updates(offset=ids[2] + 1, timeout=1) == []
    assert 0.9 <= loop.time() - t0 < 2
    # Long poll returns early when an update arrives.
    t0 = loop.time()
    poll = asyncio.create_task(bot.get_updates(offset=ids[2] + 1, timeout=5))
    await asyncio.sleep(0.1)
    new = tg.push_update({"message": {"message_id": 9, "date": 0,
                                      "chat": {"id": 1, "type": "private", "first_name": "A"},
                                      "text": "late"}})
    got = await asyncio.wait_for(poll, 2)
    assert [u.update_id for u in got] == [new] and loop.time() - t0 < 1
    assert await tg.wait_fetched(new, 0.1)


async def test_server_shutdown_ends_long_poll(bot: Bot) -> None:
    async with FakeTelegram() as tg2:
        b = make_bot(tg2)
        poll = asyncio.create_task(b.get_updates(timeout=30))
        await tg2.wait_for_call("getUpdates")
        await asyncio.sleep(0.05)
    try:
        assert await asyncio.wait_for(poll, 3) == []
    finally:
        await b.session.close()


async def test_misc_methods_parse(tg: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 42 and me.username == "balie_test_bot"
    assert await bot.delete_webhook(drop_pending_updates=True)
    from aiogram.types import BotCommand, MenuButtonCommands

    assert await bot.set_my_commands([BotCommand(command="start", description="Begin")])
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert await bot.delete_my_commands()
    assert await bot.set_chat_menu_button(menu_button=MenuButtonCommands())
    tg.add_user(1001, "Anna")
    tg.add_supergroup(STAFF, "Staff")
    assert isinstance(await bot.get_chat_member(STAFF, 1001), ChatMemberLeft)
    tg.set_member(STAFF, 1001, "member")
    assert isinstance(await bot.get_chat_member(STAFF, 1001), ChatMemberMember)
    tg.set_member(STAFF, 1001, "administrator")
    assert isinstance(await bot.get_chat_member(STAFF, 1001), ChatMemberAdministrator)
    for status in ("creator", "restricted", "kicked"):
        tg.set_member(STAFF, 1001, status)
        assert (await bot.get_chat_member(STAFF, 1001)).status == status
    chat = await bot.get_chat(STAFF)
    assert chat.is_forum and chat.title == "Staff"
    await bot.send_chat_action(1001, "typing")
    src = await bot.send_message(1001, "<b>kopie</b>")
    copied = await bot.copy_message(STAFF, 1001, src.message_id)
    assert tg.message(STAFF, copied.message_id) is not None
    fwd = await bot.forward_message(STAFF, 1001, src.message_id)
    assert fwd.text == "kopie"
    with pytest.raises(TelegramBadRequest, match="method not implemented in fake"):
        await bot.send_dice(1001)


async def test_http_envelope_auth_and_param_encodings(tg: FakeTelegram) -> None:
    tg.add_user(1001, "Anna")
    base = f"{tg.api_base}/bot{tg.token}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{tg.api_base}/bot1:wrong/getMe") as r:
            assert r.status == 401
            assert await r.json() == {"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}
        async with http.get(f"{base}/noSuchMethod") as r:
            assert r.status == 404 and (await r.json())["description"] == "Not Found"
        async with http.get(f"{base}/GETME") as r:
            body: dict[str, Any] = await r.json()
            assert body["ok"] is True and body["result"]["id"] == 42
        markup = json.dumps({"inline_keyboard": [[{"text": "a", "callback_data": "b"}]]})
        async with http.post(f"{base}/sendMessage",
                             data={"chat_id": "1001", "text": "form", "reply_markup": markup}) as r:
            sent = (await r.json())["result"]
            assert sent["reply_markup"]["inline_keyboard"][0][0]["text"] == "a"
        async with http.post(f"{base}/sendMessage",
                             json={"chat_id": 1001, "text": "<b>json</b>", "parse_mode": "HTML"}
                             ) as r:
            assert (await r.json())["result"]["text"] == "json"
        async with http.get(f"{base}/sendMessage", params={"chat_id": "1001", "text": "123"}) as r:
            assert (await r.json())["result"]["text"] == "123"
    assert [m.plain for m in tg.chat(1001)] == ["form", "json", "123"]


async def test_unknown_method_via_aiogram_is_not_found(tg: FakeTelegram, bot: Bot) -> None:
    from aiogram.methods import GetMe

    class Bogus(GetMe):
        __api_method__ = "bogusMethod"

    with pytest.raises(TelegramNotFound):
        await bot(Bogus())
