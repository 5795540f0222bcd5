"""Telegram HTML within Telegram's limits: a text longer than one message (4,096 characters
as Telegram counts them: UTF-16 code units of the text once tags and entities are read) is
split into several messages, each valid on its own.

A split falls on the best boundary available — a paragraph, else a line, else a space, else
between two characters — never inside a tag, an entity (`&amp;`) or a character sequence that
reads as one (an emoji with its joiners and modifiers, a letter with its combining marks).
A formatting tag open at the split is closed before it and opened again after it.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

MESSAGE_LIMIT = 4096
_TOKEN = re.compile(r"<(/?)([a-zA-Z][\w-]*)([^>]*)>|&(?:#\d+|#x[0-9a-fA-F]+|\w+);")
_JOINERS = {"\u200d", "\u200c", "\u034f", "\ufe0e", "\ufe0f", "\u20e3"}
# Don't leave a chunk shorter than this share of the limit to find a nicer boundary.
_NICE_BOUNDARY = 0.5


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible_length(source: str) -> int:
    """The length Telegram counts for a message written in HTML."""
    return sum(token.length for token in _tokens(source))


@dataclass(frozen=True)
class _Token:
    source: str
    length: int = 0  # UTF-16 units the customer sees
    opens: str | None = None  # a start tag's name
    closes: str | None = None  # an end tag's name

    @property
    def char(self) -> str:
        return self.source if self.length and not self.source.startswith("&") else ""


def _tokens(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    for match in _TOKEN.finditer(source):
        tokens.extend(_Token(char, utf16_length(char)) for char in source[position:match.start()])
        text = match.group(0)
        if match.group(2) is None:  # an entity
            tokens.append(_Token(text, utf16_length(html.unescape(text))))
        elif match.group(1):
            tokens.append(_Token(text, closes=match.group(2).lower()))
        else:
            tokens.append(_Token(text, opens=match.group(2).lower()))
        position = match.end()
    tokens.extend(_Token(char, utf16_length(char)) for char in source[position:])
    return tokens


def _joined(before: str, after: str) -> bool:
    """True when a split between these two characters would cut what reads as one."""
    if not before or not after:
        return False
    if before in _JOINERS or after in _JOINERS:
        return True
    if unicodedata.category(after).startswith("M"):  # a combining mark
        return True
    if "\U0001f3fb" <= after <= "\U0001f3ff" or "\U000e0020" <= after <= "\U000e007f":
        return True  # a skin tone; a flag's tag characters
    regional = "\U0001f1e6" <= before <= "\U0001f1ff" and "\U0001f1e6" <= after <= "\U0001f1ff"
    return regional  # a flag (approximately: pairs are not counted)


def _rank(tokens: list[_Token], index: int) -> int:
    """How good a split before `tokens[index]` is: 3 paragraph, 2 line, 1 space, 0 between
    characters, -1 not allowed."""
    before, earlier = _visible_before(tokens, index)
    after = next((tokens[i].char for i in range(index, len(tokens)) if tokens[i].length), "")
    if tokens[index - 1].source.startswith("&") or tokens[index].source.startswith("&"):
        return 0
    if _joined(before, after):
        return -1
    if before == "\n":
        return 3 if earlier == "\n" else 2
    if before in (" ", "\t"):
        return 1
    return 0


def _visible_before(tokens: list[_Token], index: int) -> tuple[str, str]:
    """The two visible characters before `tokens[index]`, nearest first."""
    found: list[str] = []
    for i in range(index - 1, -1, -1):
        if tokens[i].length:
            found.append(tokens[i].char)
            if len(found) == 2:
                break
    found.extend(["", ""])
    return found[0], found[1]


def split(source: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """`source` as one or more messages of Telegram HTML, each within `limit`."""
    # Telegram counts no more than the source's own UTF-16 length (a tag counts nothing, an
    # entity less than it is written), so the usual short text needs no reading at all.
    if len(source) * 2 <= limit or utf16_length(source) <= limit:
        return [source]
    tokens = _tokens(source)
    if sum(token.length for token in tokens) <= limit:
        return [source]
    chunks: list[str] = []
    opened: list[_Token] = []  # the start tags open where the current chunk begins
    start = 0
    while start < len(tokens):
        cut, length = start, 0
        while cut < len(tokens) and length + tokens[cut].length <= limit:
            length += tokens[cut].length
            cut += 1
        if cut < len(tokens):
            cut = _best_cut(tokens, start, cut, limit)
        stack = list(opened)
        body = [token.source for token in tokens[start:cut]]
        for token in tokens[start:cut]:
            if token.opens:
                stack.append(token)
            elif token.closes and stack:
                stack.pop()
        text = "".join([*(tag.source for tag in opened), *body,
                        *(f"</{tag.opens}>" for tag in reversed(stack))])
        if visible_length(text.strip()) or not chunks:
            chunks.append(text)
        opened, start = stack, cut
    return [chunk for chunk in chunks if chunk.strip()] or [source]


def _best_cut(tokens: list[_Token], start: int, end: int, limit: int) -> int:
    """The best place to split before `end` (the first token that no longer fits)."""
    floor = _NICE_BOUNDARY * limit
    best: tuple[int, int] | None = None  # (rank, index)
    length = sum(token.length for token in tokens[start:end])
    for index in range(end, start, -1):
        if index < end:
            length -= tokens[index].length
        if tokens[index - 1].opens:  # not right after a start tag
            continue
        rank = _rank(tokens, index)
        if rank < 0:
            continue
        if best is None or rank > best[0]:
            best = (rank, index)
            if rank == 3:
                break
        if length < floor and best is not None:
            break
    return best[1] if best is not None else end
