"""A Telegram user driving the bot through the fake Bot API server (tests/fakeapi.py).

Build one with ``tg.user(user_id=1001, first_name="Anna", tracker=tracker)``.
Every action (send / press) pushes an update and waits until the bot handled it:
with an UpdateTracker until its middleware finished the update, otherwise until the
update was fetched and the fake then saw no request for 300 ms.
"""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakeapi import FakeTelegram, ShownMessage, UpdateTracker

JSON = dict[str, Any]

_file_ids = itertools.count(1)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class TelegramUser:
    """Plays one Telegram user: private chat with the bot, or a staff member in a group."""

    def __init__(
        self,
        tg: FakeTelegram,
        user: JSON,
        *,
        tracker: UpdateTracker | None = None,
        timeout: float = 5.0,
        raise_handler_errors: bool = False,
    ) -> None:
        self.tg = tg
        self.user = user
        self.tracker = tracker
        self.timeout = timeout
        self.raise_handler_errors = raise_handler_errors
        self.last_update_id: int | None = None
        self._seq_before_action = 0
        self._last_chat_id: int = self.id

    # ------------------------------------------------------------------ identity

    @property
    def id(self) -> int:
        return int(self.user["id"])

    @property
    def first_name(self) -> str:
        return str(self.user["first_name"])

    # ------------------------------------------------------------------ actions

    async def send(
        self,
        text: str,
        *,
        chat_id: int | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> list[ShownMessage]:
        """Send a text message (private chat by default, or a group/topic); wait until
        handled; return the bot messages sent or edited meanwhile."""
        extra: JSON = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0] if text.strip() else text
            extra["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        return await self._send_message(
            extra, kind="text", text=text, chat_id=chat_id, thread_id=thread_id,
            reply_to=reply_to,
        )

    async def send_sticker(
        self, emoji: str = "👍", *, chat_id: int | None = None, thread_id: int | None = None
    ) -> list[ShownMessage]:
        n = next(_file_ids)
        sticker = {
            "file_id": f"STICKER{n}", "file_unique_id": f"uSTICKER{n}", "type": "regular",
            "width": 512, "height": 512, "is_animated": False, "is_video": False,
            "emoji": emoji,
        }
        return await self._send_message(
            {"sticker": sticker}, kind="sticker", text="", chat_id=chat_id, thread_id=thread_id
        )

    async def send_photo(
        self, caption: str | None = None, *, chat_id: int | None = None,
        thread_id: int | None = None, reply_to: int | None = None,
    ) -> list[ShownMessage]:
        n = next(_file_ids)
        photo = [
            {"file_id": f"PHOTO{n}s", "file_unique_id": f"uPHOTO{n}s", "width": 90,
             "height": 60, "file_size": 1200},
            {"file_id": f"PHOTO{n}", "file_unique_id": f"uPHOTO{n}", "width": 1280,
             "height": 853, "file_size": 120000},
        ]
        extra: JSON = {"photo": photo}
        if caption:
            extra["caption"] = caption
        return await self._send_message(
            extra, kind="photo", text=caption or "", chat_id=chat_id, thread_id=thread_id,
            reply_to=reply_to,
        )

    async def send_document(
        self, file_name: str = "log.txt", mime_type: str = "text/plain",
        caption: str | None = None, *, chat_id: int | None = None,
        thread_id: int | None = None,
    ) -> list[ShownMessage]:
        n = next(_file_ids)
        document = {"file_id": f"DOC{n}", "file_unique_id": f"uDOC{n}",
                    "file_name": file_name, "mime_type": mime_type, "file_size": 2048}
        extra: JSON = {"document": document}
        if caption:
            extra["caption"] = caption
        return await self._send_message(
            extra, kind="document", text=caption or "", chat_id=chat_id, thread_id=thread_id
        )

    def own_messages(self) -> list[ShownMessage]:
        """What this user sent in their private chat with the bot, oldest first."""
        return [m for m in self.tg.chat(self.id) if not m.from_bot]

    async def press(
        self,
        label: str,
        *,
        message_id: int | None = None,
        chat_id: int | None = None,
        thread_id: int | None = None,
    ) -> list[ShownMessage]:
        """Press the inline button labelled ``label`` (exact match, else unique substring)
        on the newest bot message with a keyboard (or on ``message_id``)."""
        chat = self._chat_id(chat_id)
        msg = self._keyboard_message(chat, message_id, thread_id)
        buttons = [b for row in msg.buttons for b in row]
        matches = [b for b in buttons if b[0] == label]
        if not matches:
            matches = [b for b in buttons if label in b[0]]
        labels = [b[0] for b in buttons]
        if not matches:
            raise AssertionError(
                f"no button {label!r} on message {msg.message_id} ({msg.plain[:60]!r}); "
                f"visible buttons: {labels}"
            )
        if len(matches) > 1:
            raise AssertionError(
                f"button label {label!r} is ambiguous on message {msg.message_id}: "
                f"{[m[0] for m in matches]}; visible buttons: {labels}"
            )
        text, data = matches[0]
        if data is None or data.startswith(("http://", "https://", "tg://")):
            raise AssertionError(f"button {text!r} is not a callback button ({data!r})")
        return await self._press(msg, data)

    async def press_data(
        self, data: str, message_id: int | None = None, *, chat_id: int | None = None,
        thread_id: int | None = None,
    ) -> list[ShownMessage]:
        """Send a callback query with arbitrary (possibly forged) data."""
        chat = self._chat_id(chat_id)
        if message_id is None:
            msg = self._keyboard_message(chat, None, thread_id, required=False)
            if msg is None:
                bot_msgs = [m for m in self.tg.chat(chat) if m.from_bot]
                if not bot_msgs:
                    raise AssertionError("press_data: no bot message in this chat")
                msg = bot_msgs[-1]
        else:
            msg = self._message(chat, message_id)
        return await self._press(msg, data)

    # ------------------------------------------------------------------ inspection

    def messages(self, chat_id: int | None = None, thread_id: int | None = None
                 ) -> list[ShownMessage]:
        """All visible messages (user's and bot's) in the chat."""
        return self.tg.chat(self._chat_id(chat_id), thread_id)

    def bot_messages(self, chat_id: int | None = None, thread_id: int | None = None
                     ) -> list[ShownMessage]:
        return [m for m in self.messages(chat_id, thread_id) if m.from_bot]

    def last_message(self, chat_id: int | None = None, thread_id: int | None = None
                     ) -> ShownMessage:
        msgs = self.bot_messages(chat_id, thread_id)
        if not msgs:
            raise AssertionError("the bot has not sent any (visible) message in this chat")
        return msgs[-1]

    def last_text(self, chat_id: int | None = None, thread_id: int | None = None) -> str:
        return self.last_message(chat_id, thread_id).plain

    def last_html(self, chat_id: int | None = None, thread_id: int | None = None) -> str:
        return self.last_message(chat_id, thread_id).text

    def texts(self, chat_id: int | None = None, thread_id: int | None = None) -> list[str]:
        return [m.plain for m in self.bot_messages(chat_id, thread_id)]

    def buttons(self, chat_id: int | None = None, thread_id: int | None = None) -> list[str]:
        msg = self._keyboard_message(self._chat_id(chat_id), None, thread_id, required=False)
        return [] if msg is None else msg.labels

    def button_rows(self, chat_id: int | None = None, thread_id: int | None = None
                    ) -> list[list[str]]:
        msg = self._keyboard_message(self._chat_id(chat_id), None, thread_id, required=False)
        return [] if msg is None else [[t for t, _ in row] for row in msg.buttons]

    def callback_answers(self) -> list[str | None]:
        """Texts of answerCallbackQuery for this user's queries (None = silent answer)."""
        return [a["text"] for a in self.tg.callback_answers(self.id)]

    def seen_since_last_action(self) -> list[ShownMessage]:
        """Bot messages (in any chat) sent or edited during the last send/press."""
        return self._changed_since(self._seq_before_action)

    # ------------------------------------------------------------------ internals

    def _chat_id(self, chat_id: int | None) -> int:
        return self.id if chat_id is None else chat_id

    def _message(self, chat_id: int, message_id: int) -> ShownMessage:
        msg = self.tg.message(chat_id, message_id)
        if msg is None or msg.deleted:
            raise AssertionError(f"message {message_id} is not visible in chat {chat_id}")
        return msg

    def _keyboard_message(
        self, chat_id: int, message_id: int | None, thread_id: int | None,
        required: bool = True,
    ) -> Any:
        if message_id is not None:
            msg = self._message(chat_id, message_id)
            if not msg.buttons:
                raise AssertionError(f"message {message_id} has no inline keyboard")
            return msg
        for msg in reversed(self.tg.chat(chat_id, thread_id)):
            if msg.from_bot and msg.buttons:
                return msg
        if required:
            raise AssertionError(
                f"no bot message with an inline keyboard in chat {chat_id}; bot texts: "
                f"{[m.plain[:40] for m in self.tg.chat(chat_id, thread_id) if m.from_bot]}"
            )
        return None

    def _changed_since(self, seq: int) -> list[ShownMessage]:
        changed: list[ShownMessage] = []
        for chat_id in list(self.tg._chats):
            changed.extend(
                m for m in self.tg.all_messages(chat_id) if m.from_bot and m.seq > seq
            )
        changed.sort(key=lambda m: m.seq)
        return changed

    async def _send_message(
        self,
        extra: JSON,
        *,
        kind: str,
        text: str,
        chat_id: int | None,
        thread_id: int | None,
        reply_to: int | None = None,
    ) -> list[ShownMessage]:
        chat = self._chat_id(chat_id)
        self._last_chat_id = chat
        self._seq_before_action = self.tg.seq
        shown = self.tg.record_message(
            chat, text=text, sender=self.user, thread_id=thread_id, kind=kind,
            extra=extra,
        )
        message = dict(shown.raw)
        if reply_to is not None:
            target = self.tg.message(chat, reply_to)
            if target is not None:
                message["reply_to_message"] = dict(target.raw)
        if "text" in extra:
            message.pop("caption", None)
        update_id = self.tg.push_update({"message": message})
        await self._wait(update_id)
        return self.seen_since_last_action()

    async def redeliver(self, message_id: int, *, chat_id: int | None = None
                        ) -> list[ShownMessage]:
        """The same message of this user once more, as after a restart that came before its
        update was done; wait until handled; return the bot messages sent meanwhile."""
        chat = self._chat_id(chat_id)
        shown = self.tg.message(chat, message_id)
        if shown is None or shown.from_bot:
            raise AssertionError(f"no message {message_id} of this user in chat {chat}")
        self._seq_before_action = self.tg.seq
        await self._wait(self.tg.push_update({"message": dict(shown.raw)}))
        return self.seen_since_last_action()

    async def edit(self, message_id: int, text: str, *, chat_id: int | None = None
                   ) -> list[ShownMessage]:
        """Edit one of this user's own text messages (an `edited_message` update); wait until
        handled; return the bot messages sent or edited meanwhile."""
        chat = self._chat_id(chat_id)
        shown = self.tg.message(chat, message_id)
        if shown is None or shown.from_bot:
            raise AssertionError(f"no message {message_id} of this user in chat {chat}")
        self._seq_before_action = self.tg.seq
        shown.text = shown.plain = text
        shown.edits += 1
        message = {**shown.raw, "text": text, "edit_date": int(time.time())}
        message.pop("entities", None)
        shown.raw = message
        update_id = self.tg.push_update({"edited_message": message})
        await self._wait(update_id)
        return self.seen_since_last_action()

    async def _press(self, msg: ShownMessage, data: str) -> list[ShownMessage]:
        self._seq_before_action = self.tg.seq
        query = {
            "id": self.tg.new_callback_query_id(),
            "from": self.user,
            "chat_instance": f"ci{msg.chat_id}",
            "data": data,
            "message": dict(msg.raw),
        }
        update_id = self.tg.push_update({"callback_query": query})
        await self._wait(update_id)
        return self.seen_since_last_action()

    async def _wait(self, update_id: int) -> None:
        self.last_update_id = update_id
        start = time.monotonic()
        if self.tracker is not None:
            if not await self.tracker.wait_done(update_id, self.timeout):
                raise AssertionError(
                    f"update {update_id} not handled within {self.timeout}s "
                    f"(fetched by getUpdates: {self.tg.fetched(update_id)}); is the bot polling?"
                )
            error = self.tracker.errors.get(update_id)
            if error is not None and self.raise_handler_errors:
                raise AssertionError(f"handler for update {update_id} raised {error!r}") from error
            return
        if not await self.tg.wait_fetched(update_id, self.timeout):
            raise AssertionError(
                f"update {update_id} was not fetched within {self.timeout}s; is the bot polling?"
            )
        fetched_at = time.monotonic()
        remaining = max(0.1, self.timeout - (fetched_at - start))
        # Quiet is counted from the fetch, so a handler slow to start is still waited for.
        if not await self.tg.wait_idle(0.3, remaining, since=fetched_at):
            raise AssertionError(f"bot kept calling the API for {self.timeout}s after update "
                                 f"{update_id}")
