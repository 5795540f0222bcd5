"""The colleagues' side: updates from the staff supergroup, with the topic and the colleague
they come from. The staff workspace (a topic per ticket, its card, relay) builds on this.

Only members of the staff group act: `StaffMiddleware` asks Telegram (`getChatMember`) and
remembers the answer for a short while; anybody else's message or button is refused here,
before any handler of the staff side sees it.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot, F, Router
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    CallbackQuery,
    ChatMemberAdministrator,
    ChatMemberRestricted,
    InaccessibleMessage,
    Message,
    TelegramObject,
    User,
)

from bot.retry import describe, is_transient
from bot.services import Services

log = logging.getLogger(__name__)

MEMBER_TTL = 60.0  # seconds a membership answer is trusted
MEMBER_CACHE_SIZE = 1024  # colleagues remembered at most (least recently asked go first)
ACTING = {ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}


@dataclass(frozen=True)
class StaffContext:
    """Where in the staff group an update comes from, and who sent it."""

    chat_id: int
    topic_id: int | None  # the forum topic (message_thread_id), None in the General topic
    colleague: User

    @property
    def name(self) -> str:
        """The colleague as tickets name them (assignee, author of a note)."""
        return self.colleague.full_name


class CannotCheck(Exception):
    """Telegram cannot say now whether a user is in the staff group, and nothing else can."""


class Membership:
    """Is this user a member of the staff group? Asked with getChatMember, cached per user
    for `ttl` seconds, at most `size` users."""

    def __init__(self, staff_chat_id: int, *, ttl: float = MEMBER_TTL,
                 size: int = MEMBER_CACHE_SIZE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.staff_chat_id = staff_chat_id
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._known: OrderedDict[int, tuple[float, bool]] = OrderedDict()

    async def is_member(self, bot: Bot, user_id: int, *, wrote: bool = False) -> bool:
        """`wrote`: the user wrote a message in the group (Telegram let them, so they were a
        member then), which is enough when Telegram cannot be asked now."""
        now = self.clock()
        known = self._known.get(user_id)
        if known is not None and known[0] > now:
            self._known.move_to_end(user_id)
            return known[1]
        try:
            member = await bot.get_chat_member(self.staff_chat_id, user_id)
        except (TelegramRetryAfter, TelegramNetworkError, TelegramServerError,
                ClientDecodeError) as error:
            # The staff group cannot be asked for a while: a colleague's answer must not be
            # lost for it. The last answer, however old, or the message itself, vouches.
            if not isinstance(error, TelegramRetryAfter) and not is_transient(error):
                raise
            if known is None and not wrote:  # a button from someone never seen:
                raise CannotCheck(describe(error)) from error  # not without Telegram's word
            log.warning("cannot check user %s in the staff group now (%s); going by %s",
                        user_id, describe(error),
                        "the last answer" if known is not None else "their message")
            return known[1] if known is not None else True
        except (TelegramBadRequest, TelegramForbiddenError) as error:
            log.warning("cannot check user %s in the staff group (%s): refused", user_id,
                        error.message)
            acting = False
        else:
            acting = member.status in ACTING or (
                isinstance(member, ChatMemberRestricted) and member.is_member)
        self._known[user_id] = (now + self.ttl, acting)
        self._known.move_to_end(user_id)
        while len(self._known) > self.size:
            self._known.popitem(last=False)
        return acting


class StaffMiddleware(BaseMiddleware):
    def __init__(self, staff_chat_id: int, membership: Membership | None = None) -> None:
        self.staff_chat_id = staff_chat_id
        self.membership = membership or Membership(staff_chat_id)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        message = event.message if isinstance(event, CallbackQuery) else event
        user: User | None = data.get("event_from_user")
        if isinstance(event, CallbackQuery) and isinstance(message, InaccessibleMessage) \
                and message.chat.id == self.staff_chat_id:
            await event.answer()  # a button on a message too old to see: nothing to do
            return None
        if not isinstance(message, Message) or message.chat.id != self.staff_chat_id:
            return await handler(event, data)
        try:
            # A message a person wrote in the group shows they are in it (when Telegram cannot
            # be asked); a post in a channel's or an anonymous admin's name, or an automatic
            # forward from a linked channel, shows nothing about who sent it.
            wrote = isinstance(event, Message) and event.sender_chat is None \
                and not event.is_automatic_forward and user is not None and not user.is_bot
            acting = user is not None and await self.membership.is_member(
                data["bot"], user.id, wrote=wrote)
        except CannotCheck:
            if not isinstance(event, CallbackQuery):  # a post nobody vouches for: refused
                await self._refuse(event, user, data)
                return None
            services: Services = data["services"]  # a button: not lost without a word
            await event.answer(services.texts.label(services.config.languages.default,
                                                    "staff_commands.answer.cannot_check"),
                               show_alert=True)
            return None
        if user is None or not acting:
            await self._refuse(event, user, data)
            return None
        topic = message.message_thread_id if message.is_topic_message else None
        data["staff"] = StaffContext(message.chat.id, topic, user)
        return await handler(event, data)

    async def _refuse(self, event: TelegramObject, user: User | None,
                      data: dict[str, Any]) -> None:
        kind = "button" if isinstance(event, CallbackQuery) else "message"
        log.warning("refused a %s in the staff group from user %s: not a member of the group",
                    kind, user.id if user is not None else "unknown")
        if isinstance(event, CallbackQuery):
            services: Services = data["services"]
            await event.answer(services.texts.label(services.config.languages.default,
                                                    "staff_commands.answer.not_a_member"))


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


async def check_staff_group(bot: Bot, staff_chat_id: int) -> str | None:
    """At start-up: is the staff group a forum supergroup, with the bot an administrator that
    may manage topics? Logs one line; returns what is missing (None: all is well)."""
    missing: list[str] = []
    try:
        chat = await bot.get_chat(staff_chat_id)
        if chat.type != "supergroup":
            missing.append(f"it is a {chat.type}, not a supergroup")
        elif not chat.is_forum:
            missing.append("topics are turned off (group settings → Topics)")
        member = await bot.get_chat_member(staff_chat_id, bot.id)
    except TelegramAPIError as error:
        problem = (f"the bot cannot reach the staff group {staff_chat_id} ({error.message}): "
                   "add the bot to the group as an administrator with 'Manage topics'")
        log.warning("staff group: %s", problem)
        return problem
    if member.status == ChatMemberStatus.CREATOR:
        pass
    elif isinstance(member, ChatMemberAdministrator):
        if not member.can_manage_topics:
            missing.append("the bot is an administrator without the right 'Manage topics'")
    else:
        missing.append(f"the bot is not an administrator (it is '{member.status}'): make it "
                       "one, with 'Manage topics'")
    if missing:
        problem = "; ".join(missing)
        log.warning("staff group %s is not ready for tickets: %s", staff_chat_id, problem)
        return problem
    log.info("staff group %s: a forum, the bot an administrator that manages topics",
             staff_chat_id)
    return None
