"""Which Telegram messages the bot relays between a customer and a ticket's topic."""

from __future__ import annotations

from aiogram.types import Message

RELAYED = ("text", "photo", "document", "voice", "video", "sticker", "audio", "animation",
           "video_note")


def media_of(message: Message) -> str | None:
    """What a message carries besides text (None: plain text)."""
    kind = message.content_type
    name = str(getattr(kind, "value", kind))
    return None if name == "text" else name
