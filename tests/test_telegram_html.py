"""Long texts become several messages of valid Telegram HTML within 4,096 characters, split on
safe boundaries: never inside a tag, an entity or what reads as one character."""

from __future__ import annotations

import html
import itertools
import os

from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import User
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.conversation import Conversation, keyboard
from bot.telegram_html import MESSAGE_LIMIT, _joined, split, visible_length
from tests.client import TelegramUser
from tests.conftest import Balie
from tests.fakeapi import parse_telegram_html, utf16_len

EXAMPLES = int(os.environ.get("BALIE_HYPOTHESIS_EXAMPLES", "60"))

TRICKY = ["👨‍👩‍👧", "🏳️‍🌈", "👍🏽", "🇳🇱", "e\u0301", "\u200b", "\u200c", "\u202e", "שלום",
          "مرحبا", "\u00a0", "\u3000", "<", ">", "&", "&amp;", '"', "\n", "\n\n", " ", "**x**",
          "<b>", "</i>", "a" * 50]
pieces = st.one_of(st.sampled_from(TRICKY), st.text(min_size=1, max_size=40))
customer_text = st.lists(pieces, min_size=1, max_size=400).map("".join)
wrappers = st.sampled_from([("", ""), ("<b>", "</b>"), ("<i><b>", "</b></i>"),
                            ('<a href="https://example.nl/?a=1&amp;b=2">', "</a>"),
                            ("<blockquote>", "</blockquote>"), ("<pre>", "</pre>")])


def check(parts: list[str], source: str, limit: int = MESSAGE_LIMIT) -> None:
    plains = []
    for part in parts:
        plain, _ = parse_telegram_html(part)  # raises on invalid HTML, as Telegram would
        assert utf16_len(plain) <= limit
        assert plain.strip(), "an empty message"
        plains.append(plain)
    assert "".join(plains) == parse_telegram_html(source)[0]  # nothing lost, nothing added
    for before, after in itertools.pairwise(plains):
        assert not _joined(before[-1], after[0]), (before[-5:], after[:5])


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(customer_text, wrappers, st.integers(min_value=1, max_value=4), st.sampled_from([80, 4096]))
def test_any_text_splits_into_valid_messages(
    text: str, wrapper: tuple[str, str], repeat: int, limit: int
) -> None:
    source = "Samenvatting\n\n" + (wrapper[0] + html.escape(text) + wrapper[1] + "\n") * repeat
    if not parse_telegram_html(source)[0].strip():
        return
    parts = split(source, limit)
    check(parts, source, limit)
    if visible_length(source) <= limit:
        assert parts == [source]


def test_a_paragraph_break_is_preferred() -> None:
    source = ("woord " * 300 + "\n\n") * 5
    parts = split(source)
    assert len(parts) == 3
    assert all(parse_telegram_html(part)[0].endswith("\n\n") for part in parts[:-1])
    check(parts, source)


def test_a_tag_open_at_the_split_is_closed_and_opened_again() -> None:
    source = '<b>vet <a href="https://x.nl">' + "ë" * 5000 + "</a></b>"
    first, second = split(source)
    assert first.endswith("</a></b>") and second.startswith('<b>vet <a href="https://x.nl">'[:3])
    assert second.startswith('<b><a href="https://x.nl">')
    check([first, second], source)


def test_emoji_sequences_stay_whole() -> None:
    source = "x" + "👨‍👩‍👧" * 1000  # 8 UTF-16 units each; 4,096 is not a multiple of 8 + 1
    parts = split(source)
    check(parts, source)
    assert parse_telegram_html(parts[1])[0].startswith("👨")


def test_entities_stay_whole() -> None:
    source = "&lt;" * 5000
    parts = split(source)
    assert all("&" not in part.replace("&lt;", "") for part in parts)
    check(parts, source)


async def test_the_customer_gets_a_long_text_as_several_messages(
    balie: Balie, anna: TelegramUser
) -> None:
    await anna.send("/start")
    app = balie.app
    assert app is not None
    state = FSMContext(app.storage, StorageKey(bot_id=app.bot.id, chat_id=anna.id,
                                               user_id=anna.id))
    conv = Conversation(app.bot, anna.id, User(id=anna.id, is_bot=False, first_name="Anna"),
                        app.services.texts.for_language("nl"), state, app.services)
    reason = html.escape("Omdat <het> & zo 👨‍👩‍👧 " * 500)  # 10,000 characters and more
    before = len(anna.bot_messages())
    text = f"<b>Reden</b>: {reason}"
    sent = await conv.say(text, keyboard([[("OK", "x:ok")]]))
    new = anna.bot_messages()[before:]
    assert len(new) == len(split(text)) == 4
    assert sent is not None and sent.message_id == new[-1].message_id
    assert [bool(message.buttons) for message in new] == [False, False, False, True]
    assert "".join(message.plain for message in new) == parse_telegram_html(text)[0]

    menu = anna.bot_messages()[0]
    assert menu.buttons
    longer = "Kort" + "\n\n" + "lang " * 2000
    shown = await conv.show(longer, None, edit=sent)
    assert shown is not None and anna.tg.message(anna.id, sent.message_id).plain.startswith(
        "Kort")
    # The first part replaced the message; the others follow it.
    assert len(anna.bot_messages()) == before + 4 + len(split(longer)) - 1


async def test_a_long_question_is_logged_as_typed(balie: Balie, anna: TelegramUser) -> None:
    question = "Hoe zeg ik op? " + "👨‍👩‍👧 <b>&amp;</b> " * 700  # over 10,000 characters
    await anna.send("/start")
    await anna.send(question)
    row = await balie.services.database.fetchone(
        "SELECT text, length(normalised) AS key FROM questions WHERE customer_id = ?",
        (anna.id,))
    assert row is not None and row["text"] == question and row["key"] <= 300


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True)
@given(st.lists(st.one_of(pieces, st.sampled_from(
    ["&#x1F600;", "&#128512;", "&nGt;", "&lt;", "&#0;", "&#99999999;", "<b>", '<a href="x">']
)), min_size=1, max_size=60).map("".join))
def test_what_telegram_counts_is_never_more_than_the_source_itself(source: str) -> None:
    """Why `split` may return a short source untouched without reading it."""
    assert visible_length(source) <= utf16_len(source)
    assert split(source, max(1, utf16_len(source))) == [source]
