"""A fake Telegram Bot API server for end-to-end tests of the real aiogram bot.

The server speaks Telegram's HTTP protocol (``/bot{token}/{method}``) on 127.0.0.1,
keeps the chat state as a user would see it, long-polls ``getUpdates`` and reproduces
Telegram's error descriptions, so that mistakes (invalid HTML, over-long texts, oversized
callback data, edits without change, ...) fail loudly in tests the way they would in
production.

Usage::

    async with FakeTelegram() as tg:
        bot = make_bot(tg)
        tracker = UpdateTracker()
        async with running_bot(dp, bot, tracker=tracker):
            anna = tg.user(1001, "Anna", tracker=tracker)
            await anna.send("/start")
            assert "Welkom" in anna.last_text()
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import importlib
import inspect
import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram import methods as _aiogram_methods
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.methods.base import TelegramMethod
from aiogram.types import TelegramObject, Update
from aiohttp import web

if TYPE_CHECKING:
    from client import TelegramUser

__all__ = [
    "ApiError",
    "Call",
    "FakeTelegram",
    "Fault",
    "ShownMessage",
    "Topic",
    "UpdateTracker",
    "make_bot",
    "parse_telegram_html",
    "running_bot",
    "utf16_len",
]

JSON = dict[str, Any]
Button = tuple[str, str | None]

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
MAX_TEXT_LEN = 4096
MAX_CAPTION_LEN = 1024
MAX_CALLBACK_DATA = 64
MAX_BUTTONS = 100
DEFAULT_ICON_COLOR = 0x6FB9F0


def _real_method_names() -> dict[str, str]:
    """Lower-cased -> canonical name of every Bot API method aiogram knows."""
    names: dict[str, str] = {}
    for obj in vars(_aiogram_methods).values():
        if inspect.isclass(obj) and issubclass(obj, TelegramMethod) and obj is not TelegramMethod:
            api_name = getattr(obj, "__api_method__", None)
            if isinstance(api_name, str):
                names[api_name.lower()] = api_name
    return names


REAL_METHODS = _real_method_names()


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, as Telegram counts."""
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """Raised inside a method implementation; becomes Telegram's error envelope."""

    def __init__(
        self, status: int, description: str, parameters: JSON | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def envelope(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


# --------------------------------------------------------------------------- HTML

_ALLOWED_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "tg-emoji": "custom_emoji",
}
_TAG_RE = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)"
    r"((?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?)*)"
    r"\s*(/?)>"
)
_ATTR_RE = re.compile(
    r"([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'=<>`]+)))?"
)
_ENTITY_RE = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def parse_telegram_html(text: str) -> tuple[str, list[JSON]]:
    """Parse Telegram-flavoured HTML; return (plain text, entities).

    Raises ApiError(400, "Bad Request: can't parse entities: ...") like Telegram.
    """

    def fail(detail: str) -> ApiError:
        return bad_request(f"can't parse entities: {detail}")

    out: list[str] = []
    out_len = 0  # UTF-16 length of the plain text so far
    stack: list[tuple[str, int, JSON]] = []  # (tag, utf16 start, entity template)
    entities: list[JSON] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "<":
            m = _TAG_RE.match(text, i)
            if m is None:
                raise fail(
                    f"Unsupported start tag or unescaped \"<\" at byte offset "
                    f"{_byte_offset(text, i)}"
                )
            closing, tag = m.group(1), m.group(2).lower()
            attrs_raw, self_closing = m.group(3), m.group(4)
            if tag not in _ALLOWED_TAGS:
                kind = "end" if closing else "start"
                raise fail(
                    f'Unsupported {kind} tag "{tag}" at byte offset {_byte_offset(text, i)}'
                )
            if self_closing:
                raise fail(f'Unsupported self-closing tag "{tag}" at byte offset '
                           f"{_byte_offset(text, i)}")
            if closing:
                if not stack:
                    raise fail(f'Unexpected end tag "{tag}" at byte offset {_byte_offset(text, i)}')
                open_tag, start, open_template = stack.pop()
                if open_tag != tag:
                    raise fail(
                        f'Unmatched end tag at byte offset {_byte_offset(text, i)}, '
                        f'expected "</{open_tag}>", found "</{tag}>"'
                    )
                length = out_len - start
                if length > 0:
                    entity = {**open_template, "offset": start, "length": length}
                    entities.append(entity)
            else:
                attrs: dict[str, str] = {}
                for am in _ATTR_RE.finditer(attrs_raw):
                    value = am.group(2) if am.group(2) is not None else (
                        am.group(3) if am.group(3) is not None else (am.group(4) or "")
                    )
                    attrs[am.group(1).lower()] = html.unescape(value)
                template: JSON = {"type": _ALLOWED_TAGS[tag]}
                if tag == "a":
                    if not attrs.get("href"):
                        raise fail(f'Can\'t find "href" attribute of tag "a" at byte offset '
                                   f"{_byte_offset(text, i)}")
                    href = attrs["href"]
                    if href.startswith("tg://user?id="):
                        template = {"type": "text_mention", "user": {
                            "id": int(href.split("=", 1)[1] or 0), "is_bot": False,
                            "first_name": "User"}}
                    else:
                        template["url"] = href
                elif tag == "span":
                    if attrs.get("class") != "tg-spoiler":
                        raise fail(f'Tag "span" must have class "tg-spoiler" at byte offset '
                                   f"{_byte_offset(text, i)}")
                elif tag == "tg-emoji":
                    if not attrs.get("emoji-id"):
                        raise fail(f'Custom emoji entity must have "emoji-id" attribute at '
                                   f"byte offset {_byte_offset(text, i)}")
                    template["custom_emoji_id"] = attrs["emoji-id"]
                elif tag == "blockquote" and "expandable" in attrs:
                    template["type"] = "expandable_blockquote"
                elif tag == "code" and stack and stack[-1][0] == "pre":
                    lang = attrs.get("class", "")
                    if lang.startswith("language-"):
                        stack[-1][2]["language"] = lang[len("language-"):]
                stack.append((tag, out_len, template))
            i = m.end()
        elif ch == "&":
            m = _ENTITY_RE.match(text, i)
            if m is None:
                raise fail(
                    f"Can't find end of the entity starting at byte offset "
                    f"{_byte_offset(text, i)} (unsupported or unescaped \"&\")"
                )
            decoded = html.unescape(m.group(0))
            out.append(decoded)
            out_len += utf16_len(decoded)
            i = m.end()
        else:
            j = i
            while j < n and text[j] not in "<&":
                j += 1
            chunk = text[i:j]
            out.append(chunk)
            out_len += utf16_len(chunk)
            i = j
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


# --------------------------------------------------------------------------- state


@dataclass
class Call:
    """One request the bot made to the fake."""

    method: str
    params: JSON
    response: Any = None
    error: str | None = None
    status: int = 200
    at: float = field(default_factory=time.monotonic)
    fault: str | None = None  # the kind a fault plan injected ("lost": handled all the same)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ShownMessage:
    """A message as the user sees it in a chat (edits applied)."""

    chat_id: int
    message_id: int
    text: str  # raw text as sent (HTML source when parse_mode=HTML); caption for media
    plain: str  # entities decoded, tags stripped
    from_bot: bool
    thread_id: int | None = None
    buttons: list[list[Button]] = field(default_factory=list)
    reply_markup: JSON | None = None
    deleted: bool = False
    edits: int = 0
    kind: str = "text"  # text / sticker / photo / document / copy / forward
    raw: JSON = field(default_factory=dict)  # current Message JSON
    seq: int = 0  # global change counter: bumped on send and every edit

    @property
    def labels(self) -> list[str]:
        return [text for row in self.buttons for text, _ in row]

    @property
    def has_keyboard(self) -> bool:
        return bool(self.buttons)


@dataclass
class Topic:
    name: str
    closed: bool = False
    deleted: bool = False
    icon: str | None = None  # icon_custom_emoji_id
    icon_color: int = DEFAULT_ICON_COLOR


@dataclass(frozen=True)
class Fault:
    """What a `fault_plan` makes of one request (see `FakeTelegram.fault_plan`).

    kind: "error" (a JSON error: `status`, `description`, `retry_after` for 429), "html"
    (nginx's error page with `status`), "drop" (the connection closed before the request is
    handled), "lost" (handled, then the connection closed before the answer: the client cannot
    know it went through), "slow" (handled after `seconds`)."""

    kind: str
    status: int = 502
    description: str = "Bad Gateway"
    retry_after: int | None = None
    seconds: float = 0.0


FaultPlan = Callable[["Call"], "Fault | None"]


@dataclass
class _Fault:
    status: int
    description: str
    retry_after: int | None
    times: int


@dataclass
class _Outage:
    status: int
    description: str
    html: bool
    methods: set[str] | None  # lower-cased; None: every method but getUpdates


@dataclass
class _Delay:
    method: str
    seconds: float | None
    chat_id: int | None
    times: int
    gate: asyncio.Event | None = None


NGINX_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Time-out"}


@dataclass
class _Chat:
    id: int
    type: str
    title: str | None = None
    is_forum: bool = False
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    next_message_id: int = 1
    messages: list[ShownMessage] = field(default_factory=list)
    topics: dict[int, Topic] = field(default_factory=dict)

    def as_json(self) -> JSON:
        data: JSON = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = self.first_name or "User"
            if self.last_name:
                data["last_name"] = self.last_name
            if self.username:
                data["username"] = self.username
        else:
            data["title"] = self.title or "Group"
            if self.is_forum:
                data["is_forum"] = True
            if self.username:
                data["username"] = self.username
        return data


# Fields that are always strings, even if they look like a number or "true".
_STRING_FIELDS = {
    "text", "caption", "parse_mode", "callback_query_id", "inline_message_id", "name",
    "title", "description", "short_description", "url", "action", "icon_custom_emoji_id",
    "language_code", "business_connection_id", "message_effect_id", "emoji", "sticker",
    "photo", "document", "video", "audio", "voice", "animation", "custom_title",
    "secret_token", "file_id", "query", "switch_pm_text", "cache_key", "quote",
}


def _decode_param(key: str, value: Any) -> Any:
    if not isinstance(value, str) or key in _STRING_FIELDS:
        return value
    stripped = value.strip()
    if stripped[:1] in ("{", "[") or re.fullmatch(r"-?\d+|true|false|null", stripped):
        try:
            return json.loads(stripped)
        except ValueError:
            return value
    return value


# --------------------------------------------------------------------------- server


Handler = Callable[[JSON], Awaitable[Any]]


class FakeTelegram:
    """Fake Bot API server (async context manager). See module docstring."""

    def __init__(
        self,
        token: str = "42:TEST-token",
        bot_id: int = 42,
        bot_username: str = "balie_test_bot",
        bot_first_name: str = "Balie",
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.calls: list[Call] = []
        self.port: int = 0
        self._runner: web.AppRunner | None = None
        self._chats: dict[int, _Chat] = {}
        self._users: dict[int, JSON] = {}
        self._blocked: set[int] = set()
        self._members: dict[tuple[int, int], str] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._drops: dict[str, int] = {}
        self._html_faults: dict[str, list[_Fault]] = {}
        self._outage: _Outage | None = None
        self._delays: list[_Delay] = []
        self.fault_plan: FaultPlan | None = None
        """Asked about every request (getUpdates included) before it is handled: the `Fault`
        to inject, or None to handle it normally. A call it faulted has `Call.fault`."""
        self._updates: list[JSON] = []  # queued, not yet confirmed
        self._update_ids = itertools.count(1)
        self._fetched: set[int] = set()
        self._confirmed_below = 0  # all update_ids < this are confirmed
        self._cond: asyncio.Condition | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._poll_generation = 0
        self._inflight = 0
        self._last_activity = time.monotonic()
        self._seq = 0
        self._callback_queries: dict[str, JSON] = {}  # id -> {"user_id", "answer": ...}
        self._cq_ids = itertools.count(1)
        self.commands: dict[str, list[JSON]] = {}
        self.menu_button: JSON | None = None
        self.webhook_deleted = False
        self._handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "close": self._true,
            "logOut": self._true,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "createForumTopic": self._create_forum_topic,
            "editForumTopic": self._edit_forum_topic,
            "closeForumTopic": self._close_forum_topic,
            "reopenForumTopic": self._reopen_forum_topic,
            "deleteForumTopic": self._delete_forum_topic,
            "getChatMember": self._get_chat_member,
            "getChat": self._get_chat,
        }
        self._handlers_lc = {name.lower(): (name, h) for name, h in self._handlers.items()}

    # ------------------------------------------------------------------ lifecycle

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    async def __aenter__(self) -> FakeTelegram:
        self._cond = asyncio.Condition()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        address = self._runner.addresses[0]
        self.port = int(address[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closing = True
        await self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ configuration

    def add_user(
        self,
        user_id: int,
        first_name: str = "User",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        is_premium: bool = False,
    ) -> JSON:
        """Register a user (and their private chat with the bot); return the User JSON."""
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        if is_premium:
            user["is_premium"] = True
        self._users[user_id] = user
        if user_id not in self._chats:
            self._chats[user_id] = _Chat(
                id=user_id, type="private", first_name=first_name,
                last_name=last_name, username=username,
            )
        return user

    def user(
        self,
        user_id: int = 1001,
        first_name: str = "Anna",
        last_name: str | None = None,
        username: str | None = "anna",
        language_code: str | None = "nl",
        tracker: UpdateTracker | None = None,
        *,
        timeout: float = 5.0,
        raise_handler_errors: bool = False,
    ) -> TelegramUser:
        """A client that plays this Telegram user (see tests/client.py)."""
        client = importlib.import_module(f"{__package__}.client" if __package__ else "client")
        self.add_user(user_id, first_name, last_name, username, language_code)
        user: TelegramUser = client.TelegramUser(
            self, self._users[user_id], tracker=tracker, timeout=timeout,
            raise_handler_errors=raise_handler_errors,
        )
        return user

    def add_supergroup(
        self, chat_id: int, title: str = "Staff", forum: bool = True,
        username: str | None = None,
    ) -> None:
        self._chats[chat_id] = _Chat(
            id=chat_id, type="supergroup", title=title, is_forum=forum, username=username,
            next_message_id=2,  # 1 is the "group created" service message / General topic
        )

    def add_topic(self, chat_id: int, name: str, icon_color: int = DEFAULT_ICON_COLOR) -> int:
        """Create a forum topic from the test side; return its message_thread_id."""
        chat = self._need_chat(chat_id)
        thread_id = self._next_message_id(chat)
        chat.topics[thread_id] = Topic(name=name, icon_color=icon_color)
        return thread_id

    def block(self, user_id: int) -> None:
        self._blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        self._blocked.discard(user_id)

    def set_member(self, chat_id: int, user_id: int, status: str = "member") -> None:
        """status: creator/owner, administrator, member, restricted, left, kicked/banned."""
        aliases = {"owner": "creator", "banned": "kicked", "admin": "administrator"}
        self._members[(chat_id, user_id)] = aliases.get(status, status)

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        chat = self._need_chat(chat_id)
        topic = chat.topics.get(thread_id)
        if topic is None:
            chat.topics[thread_id] = Topic(name="?", deleted=True)
        else:
            topic.deleted = True

    def fail_next(
        self,
        method: str,
        *,
        status: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with this error."""
        if status == 429 and retry_after is not None and not description:
            description = f"Too Many Requests: retry after {retry_after}"
        self._faults.setdefault(method.lower(), []).append(
            _Fault(status, description, retry_after, times)
        )

    def fail_next_flood(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        self.fail_next(method, status=429, description=f"Too Many Requests: retry after "
                       f"{retry_after}", retry_after=retry_after, times=times)

    def drop_next(self, method: str, times: int = 1) -> None:
        """Close the connection without a response for the next ``times`` calls."""
        self._drops[method.lower()] = self._drops.get(method.lower(), 0) + times

    def fail_next_html(self, method: str, status: int = 502, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` get a proxy's HTML error page (text/html),
        as when nginx in front of the Bot API cannot reach it."""
        self._html_faults.setdefault(method.lower(), []).append(
            _Fault(status, _REASONS.get(status, "Error"), None, times))

    def fail_all(
        self, status: int = 502, description: str = "Bad Gateway", *, html: bool = False,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Telegram is down: every call (of ``methods``; default all but getUpdates) fails
        with this error, or nginx's HTML page with ``html=True``, until ``heal()``."""
        self._outage = _Outage(status, description, html,
                               {m.lower() for m in methods} if methods is not None else None)

    def heal(self) -> None:
        """The outage of ``fail_all`` is over."""
        self._outage = None

    def delay_next(
        self, method: str, seconds: float, *, chat_id: int | None = None, times: int = 1
    ) -> None:
        """The next ``times`` calls of ``method`` (to ``chat_id``, if given) take ``seconds``
        before they are handled: a slow Telegram for one chat."""
        self._delays.append(_Delay(method.lower(), seconds, chat_id, times))

    def hold_next(
        self, method: str, *, chat_id: int | None = None, times: int = 1
    ) -> asyncio.Event:
        """The next ``times`` calls of ``method`` (to ``chat_id``, if given) wait until the
        returned event is set: a request that hangs until the test lets it go."""
        gate = asyncio.Event()
        self._delays.append(_Delay(method.lower(), None, chat_id, times, gate))
        return gate

    def _html_page(self, status: int) -> web.Response:
        reason = _REASONS.get(status, "Error")
        return web.Response(text=NGINX_PAGE.format(status=status, reason=reason),
                            status=status, content_type="text/html")

    def _unavailable(self, lower: str, call: Call) -> web.Response | None:
        """A response for an outage or HTML fault, if one applies to this call."""
        outage = self._outage
        if outage is not None and (
            lower in outage.methods if outage.methods is not None else lower != "getupdates"
        ):
            call.status = outage.status
            if outage.html:
                call.error = f"{outage.status} (HTML page)"
                return self._html_page(outage.status)
            call.error = outage.description
            return web.json_response(
                {"ok": False, "error_code": outage.status, "description": outage.description},
                status=outage.status)
        faults = self._html_faults.get(lower)
        if faults:
            fault = faults[0]
            fault.times -= 1
            if fault.times <= 0:
                faults.pop(0)
            call.error, call.status = f"{fault.status} (HTML page)", fault.status
            return self._html_page(fault.status)
        return None

    async def _maybe_delay(self, lower: str, params: JSON) -> None:
        for delay in self._delays:
            if delay.method == lower and (delay.chat_id is None or params.get("chat_id")
                                          == delay.chat_id):
                delay.times -= 1
                if delay.times <= 0:
                    self._delays.remove(delay)
                if delay.gate is not None:
                    await delay.gate.wait()
                else:
                    await asyncio.sleep(delay.seconds or 0.0)
                return

    # ------------------------------------------------------------------ inspection

    def calls_to(self, method: str) -> list[Call]:
        lower = method.lower()
        return [c for c in self.calls if c.method.lower() == lower]

    def chat(self, chat_id: int, thread_id: int | None = None) -> list[ShownMessage]:
        """Visible (not deleted) messages of a chat, oldest first; optionally one topic."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        return [
            m for m in chat.messages
            if not m.deleted and (thread_id is None or m.thread_id == thread_id)
        ]

    def all_messages(self, chat_id: int) -> list[ShownMessage]:
        """All messages of a chat including deleted ones."""
        chat = self._chats.get(chat_id)
        return list(chat.messages) if chat else []

    def message(self, chat_id: int, message_id: int) -> ShownMessage | None:
        chat = self._chats.get(chat_id)
        if chat is None:
            return None
        for m in chat.messages:
            if m.message_id == message_id:
                return m
        return None

    def topics(self, chat_id: int) -> dict[int, Topic]:
        chat = self._chats.get(chat_id)
        return dict(chat.topics) if chat else {}

    def callback_answers(self, user_id: int | None = None) -> list[JSON]:
        """answerCallbackQuery params (text, show_alert, ...) in order, optionally per user."""
        return [
            q["answer"] for q in self._callback_queries.values()
            if q.get("answer") is not None and (user_id is None or q["user_id"] == user_id)
        ]

    @property
    def seq(self) -> int:
        return self._seq

    # ------------------------------------------------------------------ updates

    def push_update(self, update: JSON) -> int:
        """Queue an update (update_id assigned); return the update_id."""
        update_id = next(self._update_ids)
        update = {**update, "update_id": update_id}
        cq = update.get("callback_query")
        if cq is not None:
            self._callback_queries.setdefault(
                str(cq["id"]), {"user_id": cq["from"]["id"], "answer": None}
            )
        self._updates.append(update)
        self._schedule_notify()
        return update_id

    def new_callback_query_id(self) -> str:
        return f"cq{next(self._cq_ids)}"

    def fetched(self, update_id: int) -> bool:
        """True once the update was returned by getUpdates."""
        return update_id in self._fetched

    def confirmed(self, update_id: int) -> bool:
        """True once getUpdates was called with an offset above ``update_id``."""
        return update_id < self._confirmed_below

    def pending_updates(self) -> list[JSON]:
        return list(self._updates)

    async def wait_fetched(self, update_id: int, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while update_id not in self._fetched:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def wait_idle(
        self, quiet: float = 0.15, timeout: float = 5.0, since: float | None = None
    ) -> bool:
        """Wait until no request (other than getUpdates) was in flight for ``quiet`` s, counted
        from ``since`` (a monotonic time, e.g. when the update was fetched) at the earliest."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            last = max(self._last_activity, since or 0.0)
            if self._inflight == 0 and now - last >= quiet:
                return True
            if now >= deadline:
                return False
            await asyncio.sleep(0.02)

    async def wait_for_call(
        self, method: str, count: int = 1, timeout: float = 5.0
    ) -> list[Call]:
        """Wait until ``method`` was called at least ``count`` times (e.g. getUpdates)."""
        deadline = time.monotonic() + timeout
        while len(self.calls_to(method)) < count:
            if time.monotonic() >= deadline:
                raise AssertionError(f"{method} was not called {count}x within {timeout}s")
            await asyncio.sleep(0.01)
        return self.calls_to(method)

    def _schedule_notify(self) -> None:
        with contextlib.suppress(RuntimeError):
            task = asyncio.get_running_loop().create_task(self._notify())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _notify(self) -> None:
        if self._cond is None:
            return
        async with self._cond:
            self._cond.notify_all()

    # ------------------------------------------------------------------ HTTP layer

    async def _read_params(self, request: web.Request) -> JSON:
        params: JSON = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                params.update(form.items())
        return {k: _decode_param(k, v) for k, v in params.items()}

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        raw_method = request.match_info["method"]
        lower = raw_method.lower()
        entry = self._handlers_lc.get(lower)
        canonical = entry[0] if entry else REAL_METHODS.get(lower, raw_method)
        is_poll = lower == "getupdates"
        if not is_poll:
            self._inflight += 1
            self._last_activity = time.monotonic()
        try:
            try:
                params = await self._read_params(request)
            except ValueError:
                params = {}
            call = Call(method=canonical, params=params)
            self.calls.append(call)

            fault = self.fault_plan(call) if self.fault_plan is not None else None
            if fault is not None:
                call.fault = fault.kind
                injected = await self._inject(fault, call, request)
                if injected is not None:
                    return injected

            if self._drops.get(lower, 0) > 0:
                self._drops[lower] -= 1
                call.error, call.status = "dropped (connection closed)", 0
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError

            unavailable = self._unavailable(lower, call)
            if unavailable is not None:
                return unavailable
            if self._delays:
                await self._maybe_delay(lower, params)

            try:
                if entry is None and lower not in REAL_METHODS:
                    raise ApiError(404, "Not Found")
                self._maybe_fault(lower)
                if entry is None:
                    raise bad_request(f"method not implemented in fake: {canonical}")
                if is_poll:
                    result = await self._get_updates(params, request)
                else:
                    result = await entry[1](params)
            except ApiError as e:
                call.error, call.status = e.description, e.status
                return web.json_response(e.envelope(), status=e.status)
            call.response = result
            if fault is not None and fault.kind == "lost":
                call.error, call.status = "lost (handled, connection closed)", 0
                self._abort(request)
            return web.json_response({"ok": True, "result": result})
        finally:
            if not is_poll:
                self._inflight -= 1
                self._last_activity = time.monotonic()

    @staticmethod
    def _abort(request: web.Request) -> None:
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError

    async def _inject(self, fault: Fault, call: Call, request: web.Request
                      ) -> web.StreamResponse | None:
        """The response for a planned fault; None: handle the request (slow, lost)."""
        if fault.kind == "slow":
            await asyncio.sleep(fault.seconds)
            return None
        if fault.kind == "lost":
            return None
        if fault.kind == "drop":
            call.error, call.status = "dropped (connection closed)", 0
            self._abort(request)
        if fault.kind == "html":
            call.error, call.status = f"{fault.status} (HTML page)", fault.status
            return self._html_page(fault.status)
        if fault.kind == "error":
            error = ApiError(fault.status, fault.description, {"retry_after": fault.retry_after}
                             if fault.retry_after is not None else None)
            call.error, call.status = error.description, error.status
            return web.json_response(error.envelope(), status=error.status)
        raise ValueError(f"unknown fault kind {fault.kind!r}")

    def _maybe_fault(self, lower: str) -> None:
        faults = self._faults.get(lower)
        if not faults:
            return
        fault = faults[0]
        fault.times -= 1
        if fault.times <= 0:
            faults.pop(0)
        parameters = {"retry_after": fault.retry_after} if fault.retry_after is not None else None
        raise ApiError(fault.status, fault.description, parameters)

    # ------------------------------------------------------------------ helpers

    def _need_chat(self, chat_id: Any) -> _Chat:
        if isinstance(chat_id, str):
            if chat_id.lstrip("-").isdigit():
                chat_id = int(chat_id)
            else:
                for known in self._chats.values():
                    if known.username and f"@{known.username}" == chat_id:
                        return known
                raise bad_request("chat not found")
        if not isinstance(chat_id, int):
            raise bad_request("chat not found")
        chat = self._chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _next_message_id(self, chat: _Chat) -> int:
        mid = chat.next_message_id
        chat.next_message_id += 1
        return mid

    def _bump(self) -> int:
        self._seq += 1
        return self._seq

    def _check_thread(self, chat: _Chat, thread_id: Any) -> int | None:
        if thread_id in (None, 0) or chat.type == "private":
            return None
        if not isinstance(thread_id, int):
            raise bad_request("message thread not found")
        topic = chat.topics.get(thread_id)
        if chat.is_forum and thread_id != 1 and (topic is None or topic.deleted):
            raise bad_request("message thread not found")
        return thread_id

    def _check_reply(self, chat: _Chat, params: JSON) -> None:
        reply = params.get("reply_parameters")
        mid = reply.get("message_id") if isinstance(reply, dict) else params.get(
            "reply_to_message_id"
        )
        if mid is None:
            return
        allow = params.get("allow_sending_without_reply") or (
            isinstance(reply, dict) and reply.get("allow_sending_without_reply")
        )
        target_chat = reply.get("chat_id", chat.id) if isinstance(reply, dict) else chat.id
        target = self.message(target_chat, mid) if isinstance(mid, int) else None
        if (target is None or target.deleted) and not allow:
            raise bad_request("message to be replied not found")

    def _check_can_send(self, chat: _Chat) -> None:
        if chat.type == "private" and chat.id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")

    def _render_text(
        self, text: Any, parse_mode: Any, entities: Any, *, limit: int = MAX_TEXT_LEN,
        what: str = "message text",
    ) -> tuple[str, list[JSON]]:
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        if isinstance(parse_mode, str) and parse_mode.lower() == "html":
            plain, ents = parse_telegram_html(text)
        else:
            plain, ents = text, entities if isinstance(entities, list) else []
        if not plain.strip():
            raise bad_request(f"{what} is empty")
        if utf16_len(plain) > limit:
            raise bad_request("message is too long" if what == "message text"
                              else "message caption is too long")
        return plain, ents

    @staticmethod
    def _check_markup(markup: Any) -> tuple[JSON | None, list[list[Button]]]:
        if markup is None:
            return None, []
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return markup, []  # reply keyboard / remove / force reply
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request("can't parse inline keyboard markup")
        total = sum(len(r) for r in rows)
        if total > MAX_BUTTONS:
            raise bad_request("reply markup is too long")
        buttons: list[list[Button]] = []
        for row in rows:
            out_row: list[Button] = []
            for btn in row:
                if not isinstance(btn, dict):
                    raise bad_request("can't parse inline keyboard button")
                label = btn.get("text")
                if not isinstance(label, str) or not label.strip():
                    raise bad_request("BUTTON_TEXT_EMPTY")
                if "callback_data" in btn:
                    data = btn["callback_data"]
                    data = data if isinstance(data, str) else json.dumps(data)
                    if not data or len(data.encode("utf-8")) > MAX_CALLBACK_DATA:
                        raise bad_request("BUTTON_DATA_INVALID")
                    out_row.append((label, data))
                elif "url" in btn:
                    url = btn["url"]
                    if not isinstance(url, str) or not re.match(
                        r"^(https?|tg)://[^\s]+$", url
                    ):
                        raise bad_request("BUTTON_URL_INVALID")
                    out_row.append((label, url))
                elif any(k in btn for k in (
                    "web_app", "login_url", "switch_inline_query",
                    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
                    "copy_text", "callback_game", "pay",
                )):
                    out_row.append((label, None))
                else:
                    raise bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed "
                        "in the inline keyboard"
                    )
            buttons.append(out_row)
        return markup, buttons

    def _message_json(self, chat: _Chat, msg: ShownMessage, sender: JSON, date: int) -> JSON:
        data: JSON = {
            "message_id": msg.message_id,
            "date": date,
            "chat": chat.as_json(),
            "from": sender,
        }
        if msg.thread_id is not None:
            data["message_thread_id"] = msg.thread_id
            data["is_topic_message"] = True
        return data

    def record_message(
        self,
        chat_id: int,
        *,
        text: str,
        plain: str | None = None,
        entities: list[JSON] | None = None,
        sender: JSON | None = None,
        thread_id: int | None = None,
        reply_markup: JSON | None = None,
        buttons: list[list[Button]] | None = None,
        kind: str = "text",
        extra: JSON | None = None,
    ) -> ShownMessage:
        """Add a message to a chat (used for bot messages and the client's own messages)."""
        chat = self._need_chat(chat_id)
        sender = sender or self.bot_user
        msg = ShownMessage(
            chat_id=chat.id,
            message_id=self._next_message_id(chat),
            text=text,
            plain=text if plain is None else plain,
            from_bot=sender.get("id") == self.bot_id,
            thread_id=thread_id,
            buttons=buttons or [],
            reply_markup=reply_markup,
            kind=kind,
            seq=self._bump(),
        )
        raw = self._message_json(chat, msg, sender, int(time.time()))
        if kind == "text":
            raw["text"] = msg.plain
            if entities:
                raw["entities"] = entities
        elif msg.plain:
            raw["caption"] = msg.plain
            if entities:
                raw["caption_entities"] = entities
        if extra:
            raw.update(extra)
        if reply_markup is not None and "inline_keyboard" in reply_markup:
            raw["reply_markup"] = reply_markup
        msg.raw = raw
        chat.messages.append(msg)
        return msg

    def _find_message(self, params: JSON, action: str) -> tuple[_Chat, ShownMessage]:
        if params.get("inline_message_id"):
            raise bad_request("inline messages are not implemented in fake")
        chat = self._need_chat(params.get("chat_id"))
        mid = params.get("message_id")
        msg = self.message(chat.id, mid) if isinstance(mid, int) else None
        if msg is None or msg.deleted:
            raise bad_request(f"message to {action} not found")
        return chat, msg

    # ------------------------------------------------------------------ methods

    async def _true(self, params: JSON) -> bool:
        return True

    async def _get_me(self, params: JSON) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _delete_webhook(self, params: JSON) -> bool:
        self.webhook_deleted = True
        if params.get("drop_pending_updates"):
            if self._updates:
                self._confirmed_below = max(
                    self._confirmed_below, self._updates[-1]["update_id"] + 1
                )
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: JSON) -> JSON:
        return {"url": "", "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}

    async def _get_updates(self, params: JSON, request: web.Request | None = None) -> list[JSON]:
        offset = params.get("offset")
        limit = params.get("limit") or 100
        limit = max(1, min(100, int(limit)))
        timeout = float(params.get("timeout") or 0)
        if isinstance(offset, int) and offset > 0:
            self._confirmed_below = max(self._confirmed_below, offset)
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = time.monotonic() + max(0.0, timeout)
        assert self._cond is not None
        while True:
            if self._closing:
                return []
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only "
                    "one bot instance is running",
                )
            if request is not None and (
                request.transport is None or request.transport.is_closing()
            ):
                return []  # the client went away (polling stopped): deliver nothing
            batch = self._updates[:limit]
            if batch:
                for u in batch:
                    self._fetched.add(u["update_id"])
                self._last_activity = time.monotonic()
                return batch
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            async with self._cond:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._cond.wait(), timeout=min(0.1, remaining))

    async def _set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request("commands must be a list")
        for c in commands:
            name = c.get("command", "") if isinstance(c, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(c.get("description", "")) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = commands
        return True

    @staticmethod
    def _commands_key(params: JSON) -> str:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)

    async def _get_my_commands(self, params: JSON) -> list[JSON]:
        return self.commands.get(self._commands_key(params), [])

    async def _delete_my_commands(self, params: JSON) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _set_chat_menu_button(self, params: JSON) -> bool:
        self.menu_button = params.get("menu_button") or {"type": "default"}
        return True

    async def _get_chat_menu_button(self, params: JSON) -> JSON:
        return self.menu_button or {"type": "default"}

    async def _send_message(self, params: JSON) -> JSON:
        chat = self._need_chat(params.get("chat_id"))
        self._check_can_send(chat)
        thread_id = self._check_thread(chat, params.get("message_thread_id"))
        self._check_reply(chat, params)
        text = params.get("text")
        plain, entities = self._render_text(text, params.get("parse_mode"), params.get("entities"))
        markup, buttons = self._check_markup(params.get("reply_markup"))
        msg = self.record_message(
            chat.id, text=str(text), plain=plain, entities=entities, thread_id=thread_id,
            reply_markup=markup, buttons=buttons,
        )
        return msg.raw

    async def _edit_message_text(self, params: JSON) -> JSON:
        _chat, msg = self._find_message(params, "edit")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        text = params.get("text")
        plain, entities = self._render_text(text, params.get("parse_mode"), params.get("entities"))
        markup, buttons = self._check_markup(params.get("reply_markup"))
        new_markup = markup if markup and "inline_keyboard" in markup else None
        old_entities = msg.raw.get("entities", [])
        if plain == msg.plain and entities == old_entities and new_markup == msg.raw.get(
            "reply_markup"
        ):
            raise bad_request(NOT_MODIFIED[len("Bad Request: "):])
        msg.text, msg.plain = str(text), plain
        msg.raw["text"] = plain
        msg.raw.pop("entities", None)
        if entities:
            msg.raw["entities"] = entities
        return self._edited(msg, new_markup, buttons)

    async def _edit_message_reply_markup(self, params: JSON) -> JSON:
        _chat, msg = self._find_message(params, "edit")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        markup, buttons = self._check_markup(params.get("reply_markup"))
        new_markup = markup if markup and "inline_keyboard" in markup and buttons else None
        if new_markup == msg.raw.get("reply_markup"):
            raise bad_request(NOT_MODIFIED[len("Bad Request: "):])
        return self._edited(msg, new_markup, buttons)

    def _edited(self, msg: ShownMessage, markup: JSON | None, buttons: list[list[Button]]) -> JSON:
        """Record an edit: the new keyboard (or none), the edit date, and the order seen."""
        msg.buttons, msg.reply_markup = buttons, markup
        msg.raw.pop("reply_markup", None)
        if markup:
            msg.raw["reply_markup"] = markup
        msg.raw["edit_date"] = int(time.time())
        msg.edits += 1
        msg.seq = self._bump()
        return msg.raw

    async def _delete_message(self, params: JSON) -> bool:
        chat = self._need_chat(params.get("chat_id"))
        mid = params.get("message_id")
        msg = self.message(chat.id, mid) if isinstance(mid, int) else None
        if msg is None or msg.deleted:
            raise bad_request("message to delete not found")
        msg.deleted = True
        msg.seq = self._bump()
        return True

    async def _answer_callback_query(self, params: JSON) -> bool:
        qid = str(params.get("callback_query_id", ""))
        query = self._callback_queries.get(qid)
        if query is None or query["answer"] is not None:
            raise bad_request(QUERY_INVALID[len("Bad Request: "):])
        text = params.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        query["answer"] = {
            "text": text, "show_alert": bool(params.get("show_alert")),
            "url": params.get("url"),
        }
        return True

    async def _send_chat_action(self, params: JSON) -> bool:
        chat = self._need_chat(params.get("chat_id"))
        self._check_can_send(chat)
        self._check_thread(chat, params.get("message_thread_id"))
        valid = {
            "typing", "upload_photo", "record_video", "upload_video", "record_voice",
            "upload_voice", "upload_document", "choose_sticker", "find_location",
            "record_video_note", "upload_video_note",
        }
        if params.get("action") not in valid:
            raise bad_request("wrong type of action")
        return True

    def _copy_source(self, params: JSON) -> ShownMessage:
        src_chat = self._need_chat(params.get("from_chat_id"))
        mid = params.get("message_id")
        src = self.message(src_chat.id, mid) if isinstance(mid, int) else None
        if src is None or src.deleted:
            raise bad_request("message to copy not found")
        return src

    async def _copy_message(self, params: JSON) -> JSON:
        src = self._copy_source(params)
        chat = self._need_chat(params.get("chat_id"))
        self._check_can_send(chat)
        thread_id = self._check_thread(chat, params.get("message_thread_id"))
        markup, buttons = self._check_markup(params.get("reply_markup"))
        text, plain, entities = src.text, src.plain, src.raw.get("entities")
        if "caption" in params:
            plain, entities = self._render_text(
                params["caption"], params.get("parse_mode"), params.get("caption_entities"),
                limit=MAX_CAPTION_LEN, what="message caption",
            )
            text = str(params["caption"])
        extra = {k: v for k, v in src.raw.items() if k in ("sticker", "photo", "document")}
        msg = self.record_message(
            chat.id, text=text, plain=plain, entities=entities, thread_id=thread_id,
            reply_markup=markup, buttons=buttons, kind=src.kind, extra=extra,
        )
        return {"message_id": msg.message_id}

    async def _forward_message(self, params: JSON) -> JSON:
        src = self._copy_source(params)
        chat = self._need_chat(params.get("chat_id"))
        self._check_can_send(chat)
        thread_id = self._check_thread(chat, params.get("message_thread_id"))
        extra: JSON = {k: v for k, v in src.raw.items() if k in ("sticker", "photo", "document")}
        sender = src.raw.get("from") or self.bot_user
        extra["forward_origin"] = {"type": "user", "date": src.raw.get("date", 0),
                                   "sender_user": sender}
        msg = self.record_message(
            chat.id, text=src.text, plain=src.plain, entities=src.raw.get("entities"),
            thread_id=thread_id, kind=src.kind, extra=extra,
        )
        return msg.raw

    def _forum(self, params: JSON) -> _Chat:
        chat = self._need_chat(params.get("chat_id"))
        if not chat.is_forum:
            raise bad_request("the chat is not a forum")
        return chat

    def _topic(self, params: JSON) -> tuple[_Chat, int, Topic]:
        chat = self._forum(params)
        tid = params.get("message_thread_id")
        topic = chat.topics.get(tid) if isinstance(tid, int) else None
        if topic is None or topic.deleted or not isinstance(tid, int):
            raise bad_request("message thread not found")
        return chat, tid, topic

    async def _create_forum_topic(self, params: JSON) -> JSON:
        chat = self._forum(params)
        name = params.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 128:
            raise bad_request("TOPIC_NAME_INVALID" if name else "TOPIC_TITLE_EMPTY")
        color = params.get("icon_color")
        color = color if isinstance(color, int) else DEFAULT_ICON_COLOR
        thread_id = self._next_message_id(chat)
        icon = params.get("icon_custom_emoji_id") or None
        chat.topics[thread_id] = Topic(name=name, icon=icon, icon_color=color)
        result: JSON = {"message_thread_id": thread_id, "name": name, "icon_color": color}
        if icon:
            result["icon_custom_emoji_id"] = icon
        return result

    async def _edit_forum_topic(self, params: JSON) -> bool:
        _chat, _tid, topic = self._topic(params)
        name = params.get("name")
        icon = params.get("icon_custom_emoji_id")
        if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= 128):
            raise bad_request("TOPIC_NAME_INVALID")
        new_name = name if name is not None else topic.name
        new_icon = (icon or None) if icon is not None else topic.icon
        if new_name == topic.name and new_icon == topic.icon:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.name, topic.icon = new_name, new_icon
        return True

    async def _close_forum_topic(self, params: JSON) -> bool:
        _chat, _tid, topic = self._topic(params)
        if topic.closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = True
        return True

    async def _reopen_forum_topic(self, params: JSON) -> bool:
        _chat, _tid, topic = self._topic(params)
        if not topic.closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = False
        return True

    async def _delete_forum_topic(self, params: JSON) -> bool:
        chat, tid, topic = self._topic(params)
        topic.deleted = True
        for m in chat.messages:
            if m.thread_id == tid:
                m.deleted = True
        return True

    def _user_json(self, user_id: int) -> JSON:
        if user_id == self.bot_id:
            return self.bot_user
        return self._users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": "User"}

    async def _get_chat_member(self, params: JSON) -> JSON:
        chat = self._need_chat(params.get("chat_id"))
        user_id = params.get("user_id")
        if not isinstance(user_id, int):
            raise bad_request("invalid user_id specified")
        status = self._members.get((chat.id, user_id))
        if status is None:
            status = "member" if chat.type == "private" and user_id in (chat.id, self.bot_id) \
                else "left"
        user = self._user_json(user_id)
        if status == "creator":
            return {"status": "creator", "user": user, "is_anonymous": False}
        if status == "administrator":
            rights = [
                "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
                "can_restrict_members", "can_promote_members", "can_change_info",
                "can_invite_users", "can_post_stories", "can_edit_stories",
                "can_delete_stories", "can_send_welcome_messages", "can_pin_messages",
                "can_manage_topics",
            ]
            data: JSON = {"status": "administrator", "user": user, "can_be_edited": False,
                          "is_anonymous": False}
            data.update(dict.fromkeys(rights, True))
            return data
        if status == "restricted":
            perms = [
                "can_send_messages", "can_send_audios", "can_send_documents",
                "can_send_photos", "can_send_videos", "can_send_video_notes",
                "can_send_voice_notes", "can_send_polls", "can_send_other_messages",
                "can_add_web_page_previews", "can_react_to_messages", "can_edit_tag",
                "can_change_info", "can_invite_users", "can_pin_messages",
                "can_manage_topics",
            ]
            data = {"status": "restricted", "user": user, "is_member": True, "until_date": 0}
            data.update(dict.fromkeys(perms, False))
            return data
        if status == "kicked":
            return {"status": "kicked", "user": user, "until_date": 0}
        if status == "member":
            return {"status": "member", "user": user}
        return {"status": "left", "user": user}

    async def _get_chat(self, params: JSON) -> JSON:
        chat = self._need_chat(params.get("chat_id"))
        return {
            **chat.as_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                "premium_subscription": False, "gifts_from_channels": False,
            },
        }


# --------------------------------------------------------------------------- tracker


class UpdateTracker(BaseMiddleware):
    """Outer update middleware recording when each update starts and finishes.

    Register with ``tracker.install(dp)`` (outermost: also covers dp.errors handlers) or
    ``dp.update.outer_middleware(tracker)``.
    """

    def __init__(self) -> None:
        self.started: list[int] = []
        self.done: list[int] = []
        self.errors: dict[int, BaseException] = {}
        self._events: dict[int, asyncio.Event] = {}

    def _event(self, update_id: int) -> asyncio.Event:
        ev = self._events.get(update_id)
        if ev is None:
            ev = self._events[update_id] = asyncio.Event()
        return ev

    def install(self, dp: Dispatcher) -> UpdateTracker:
        manager = dp.update.outer_middleware
        if self not in list(manager):
            manager._middlewares.insert(0, self)
        return self

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        update_id = event.update_id if isinstance(event, Update) else -1
        self.started.append(update_id)
        try:
            return await handler(event, data)
        except BaseException as e:
            self.errors[update_id] = e
            raise
        finally:
            self.done.append(update_id)
            self._event(update_id).set()

    def is_done(self, update_id: int) -> bool:
        return update_id in self.done

    async def wait_done(self, update_id: int, timeout: float = 5.0) -> bool:
        """Wait until the update was handled; False on timeout."""
        try:
            await asyncio.wait_for(self._event(update_id).wait(), timeout)
        except TimeoutError:
            return False
        return True


# --------------------------------------------------------------------------- bot runner


class LocalAiohttpSession(AiohttpSession):
    """AiohttpSession without the 250 ms SSL grace sleep on close (plain HTTP to 127.0.0.1)."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(tg: FakeTelegram, parse_mode: str | None = "HTML") -> Bot:
    """A real aiogram Bot talking to the fake server."""
    session = LocalAiohttpSession(api=TelegramAPIServer.from_base(tg.api_base))
    return Bot(tg.token, session=session, default=DefaultBotProperties(parse_mode=parse_mode))


@contextlib.asynccontextmanager
async def running_bot(
    dp: Dispatcher,
    bot: Bot,
    *,
    tracker: UpdateTracker | None = None,
    tg: FakeTelegram | None = None,
    polling_timeout: int = 1,
    stop_timeout: float = 5.0,
    **kwargs: Any,
) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``dp.start_polling(bot)`` as a task for the duration of the block.

    With ``tg`` given, waits until the first getUpdates call arrived before entering.
    Extra kwargs go to start_polling (as workflow data). On exit polling is stopped
    (falling back to cancellation) and the bot session is closed; if polling crashed,
    its exception is re-raised.
    """
    if tracker is not None:
        tracker.install(dp)
    polls_before = len(tg.calls_to("getUpdates")) if tg is not None else 0
    task: asyncio.Task[None] = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, polling_timeout=polling_timeout, **kwargs)
    )
    try:
        if tg is not None:
            deadline = time.monotonic() + 5.0
            while len(tg.calls_to("getUpdates")) <= polls_before:
                if task.done():
                    task.result()  # raises if polling crashed
                    raise AssertionError("polling ended before the first getUpdates")
                if time.monotonic() >= deadline:
                    raise AssertionError("bot did not start polling within 5s")
                await asyncio.sleep(0.01)
        yield task
    finally:
        if not task.done():
            try:
                await asyncio.wait_for(dp.stop_polling(), stop_timeout)
            except (TimeoutError, RuntimeError):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, stop_timeout)
        if task.done() and not task.cancelled():
            exc = task.exception()
            if exc is not None:
                raise exc
        await bot.session.close()


def iter_buttons(msg: ShownMessage) -> Iterable[Button]:
    for row in msg.buttons:
        yield from row
