"""Texts are content: both languages have the same templates, variables and labels, and
every template renders to valid Telegram HTML within Telegram's limits."""

from __future__ import annotations

import itertools
import re
import tomllib
from html.parser import HTMLParser
from typing import Any

import pytest
from jinja2 import ChainableUndefined, Environment, meta
from markupsafe import escape

from bot.config import Config
from bot.texts import LANGUAGES, MESSAGE_LIMIT, TEMPLATES, Texts, amount_filter, clip, date_filter

WORST_CASE = "<script>&amp; 'x' \"y\"</script> " * 10  # 300 characters a customer could type
TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                 "blockquote", "tg-spoiler", "span", "tg-emoji"}


def template_files(lang: str) -> set[str]:
    return {str(path.relative_to(TEMPLATES / lang)) for path in (TEMPLATES / lang).rglob("*.j2")}


def label_files(lang: str) -> set[str]:
    return {str(p.relative_to(TEMPLATES / lang)) for p in (TEMPLATES / lang).rglob("labels.toml")}


_PARSING = Environment()  # knows our filters, so a filter outside an {% if %} compiles too
_PARSING.filters.update({"clip": clip, "date": date_filter, "amount": amount_filter})


def variables(source: str) -> set[str]:
    return meta.find_undeclared_variables(_PARSING.parse(source))


def texts() -> Texts:
    config = Config()
    return Texts({"provider": config.provider, "rules": config.rules})


def test_both_languages_have_the_same_template_and_label_files() -> None:
    assert template_files("nl") == template_files("en")
    assert label_files("nl") == label_files("en")
    assert template_files("nl"), "no templates found"


@pytest.mark.parametrize("name", sorted(template_files("nl") | template_files("en")))
def test_both_languages_use_the_same_variables(name: str) -> None:
    nl, en = (TEMPLATES / lang / name for lang in LANGUAGES)
    assert variables(nl.read_text("utf-8")) == variables(en.read_text("utf-8"))


def test_both_languages_have_the_same_labels_with_the_same_variables() -> None:
    for name in label_files("nl"):
        tables = {lang: tomllib.loads((TEMPLATES / lang / name).read_text("utf-8"))
                  for lang in LANGUAGES}
        flat = {lang: dict(_flat(table)) for lang, table in tables.items()}
        assert flat["nl"].keys() == flat["en"].keys(), name
        for key in flat["nl"]:
            assert variables(flat["nl"][key]) == variables(flat["en"][key]), f"{name}: {key}"


def _flat(table: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for key, value in table.items():
        if isinstance(value, dict):
            items.extend(_flat(value, f"{prefix}{key}."))
        else:
            items.append((f"{prefix}{key}", value))
    return items


class WorstCase(ChainableUndefined):
    """Any variable a template uses, filled with the longest hostile text a customer may type."""

    def __str__(self) -> str:
        return WORST_CASE

    def __html__(self) -> str:
        return str(escape(WORST_CASE))

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter([WorstCase(), WorstCase()])

    def __int__(self) -> int:
        return 3

    def __len__(self) -> int:
        return 2


class TelegramHTML(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in TELEGRAM_TAGS, f"Telegram does not support <{tag}>"
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, f"misnested </{tag}>"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def visible(html: str) -> str:
    parser = TelegramHTML()
    parser.feed(html)
    parser.close()
    assert not parser.open, f"unclosed {parser.open}"
    return "".join(parser.text)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_template_renders_valid_html_within_limits(lang: str) -> None:
    all_texts = texts()
    env = all_texts._envs[lang]
    env.undefined = WorstCase
    for name in sorted(template_files(lang)):
        rendered = all_texts.render(lang, name.removesuffix(".j2"))
        assert rendered.strip(), name
        assert "<script>" not in rendered, f"{name} does not escape"
        assert len(visible(rendered)) <= MESSAGE_LIMIT, name


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_label_fits_on_a_button(lang: str) -> None:
    all_texts = texts()
    for key in all_texts.label_keys(lang):
        if variables(_source(lang, key)):
            continue
        label = all_texts.label(lang, key)
        assert 0 < len(label) <= 64, f"{key}: {label!r}"


def _source(lang: str, key: str) -> str:
    for name in label_files(lang):
        found = dict(_flat(tomllib.loads((TEMPLATES / lang / name).read_text("utf-8"))))
        if key in found:
            return found[key]
    raise KeyError(key)


def test_customer_text_is_escaped() -> None:
    rendered = texts().render("nl", "start/welcome", name="<b>Anna</b> & co")
    assert "&lt;b&gt;Anna&lt;/b&gt; &amp; co" in rendered


def test_no_line_is_glued_to_the_next_by_an_inline_block_tag() -> None:
    """trim_blocks eats the newline after a block tag: `…text.{% endif %}` followed by a line
    of text renders as "text.Next line" (it happened: "niet lukt.Bijvoorbeeld"). Such a line
    ends with `+%}` instead."""
    glued = []
    for path in sorted(TEMPLATES.rglob("*.j2")):
        lines = path.read_text(encoding="utf-8").split("\n")
        for number, (line, following) in enumerate(itertools.pairwise(lines), start=1):
            inline_end = re.search(r"\{%-?\s*end(if|for)\s*%\}$", line.rstrip())
            if inline_end and line.strip() != inline_end.group(0) and following.strip() \
                    and not following.lstrip().startswith("{%"):
                glued.append(f"{path.relative_to(TEMPLATES)}:{number}")
    assert glued == []
