"""Every customer-visible text: Jinja2 templates per language, autoescaped to Telegram HTML.

Messages live in `templates/<lang>/<dialog>/<step>.j2`; button labels, which Telegram shows as
plain text, live in `templates/<lang>/labels.toml` and `templates/<lang>/<dialog>/labels.toml`
and are rendered without escaping.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context

from knowledge.answers import format_amount
from knowledge.dates import format_date
from knowledge.typed import TypedWords, command_of, pick

LANGUAGES = ("nl", "en")
TEMPLATES = Path(__file__).parent / "templates"
MESSAGE_LIMIT = 4096


def clip(value: object, length: int = 300) -> str:
    """Shorten what a customer typed before it goes into a message."""
    text = str(value)
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


@pass_context
def date_filter(context: Context, value: object) -> str:
    """`{{ day|date }}`: a date (or ISO text) in the template's language, "1 maart 2027"."""
    day = value
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(day, date):
        return format_date(day, str(context.get("lang", LANGUAGES[0])))
    return "" if value is None else str(value)


@pass_context
def amount_filter(context: Context, value: object) -> str:
    """`{{ amount|amount }}`: euros (a Decimal, or its text "49.95") in the template's language,
    "€ 49,95" / "€49.95"."""
    if isinstance(value, Decimal | int | str) and not isinstance(value, bool):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            return str(value)
        if amount.is_finite():
            return format_amount(amount, str(context.get("lang", LANGUAGES[0])))
    return "" if value is None else str(value)


class Texts:
    """The templates of all languages, loaded once, with the provider's settings as globals.

    A template is compiled on first use and then kept: the files are not checked for changes
    on every lookup (`auto_reload=True` does that, for editing texts while the bot runs). A
    label without template syntax is kept as its text and not rendered at all."""

    def __init__(self, globals_: Mapping[str, Any], folder: Path = TEMPLATES, *,
                 auto_reload: bool = False) -> None:
        self.folder = folder
        self.auto_reload = auto_reload
        self._globals = dict(globals_)
        self._envs = {lang: self._environment(folder / lang, autoescape=True) for lang in LANGUAGES}
        self._plain = Environment(autoescape=False, undefined=StrictUndefined)
        self._plain.globals.update(self._globals)
        self._labels: dict[str, dict[str, Template | str]] = {}
        for lang in LANGUAGES:
            labels: dict[str, Template | str] = {}
            for file in sorted((folder / lang).rglob("labels.toml")):
                raw = tomllib.loads(file.read_text(encoding="utf-8"))
                for key, text in _flat(raw):
                    if key in labels:
                        raise ValueError(f"{file}: label {key} is defined twice")
                    labels[key] = (self._plain.from_string(text) if _is_template(text)
                                   else text.strip())
            self._labels[lang] = labels
            self._envs[lang].globals["labels"] = functools.partial(self.labels, lang)
        # What customers type instead of a command or button (`knowledge.typed`).
        self.typed = {lang: TypedWords.from_data(tomllib.loads(
            (folder / lang / "typed.toml").read_text(encoding="utf-8"))) for lang in LANGUAGES}
        self._strings: dict[tuple[str, str], Template] = {}
        self._templates: dict[tuple[str, str], Template] = {}
        self._names = {
            lang: frozenset(name.removesuffix(".j2") for name in env.list_templates(
                filter_func=lambda name: name.endswith(".j2")))
            for lang, env in self._envs.items()
        }

    def _environment(self, folder: Path, *, autoescape: bool) -> Environment:
        env = Environment(
            loader=FileSystemLoader(folder),
            auto_reload=self.auto_reload,
            autoescape=select_autoescape(default=autoescape, default_for_string=autoescape),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.globals.update(self._globals)
        env.filters["clip"] = clip
        env.filters["date"] = date_filter
        env.filters["amount"] = amount_filter
        return env

    def render(self, lang: str, template_name: str, /, **context: Any) -> str:
        template = None if self.auto_reload else self._templates.get((lang, template_name))
        if template is None:
            template = self._envs[lang].get_template(f"{template_name}.j2")
            if not self.auto_reload:
                self._templates[lang, template_name] = template
        return template.render(lang=lang, **context).strip()

    def render_string(self, lang: str, source: str, **context: Any) -> str:
        """A template kept elsewhere (a knowledge-base answer), rendered like ours."""
        template = self._strings.get((lang, source))
        if template is None:
            template = self._strings[lang, source] = self._envs[lang].from_string(source)
        return template.render(lang=lang, **context).strip()

    def label(self, lang: str, key: str, /, **context: Any) -> str:
        label = self._labels[lang][key]
        if isinstance(label, str):
            return label
        return label.render(lang=lang, **context).strip()

    def labels(self, lang: str, prefix: str) -> dict[str, str]:
        """The plain labels under `prefix` by the rest of their key, e.g. labels("nl",
        "staff.status")["closed"]; templates have it as `labels(prefix)` in their language."""
        start = f"{prefix}."
        return {key.removeprefix(start): label for key, label in self._labels[lang].items()
                if key.startswith(start) and isinstance(label, str)}

    def has_template(self, lang: str, template_name: str) -> bool:
        return template_name in self._names[lang]

    def has_label(self, lang: str, key: str) -> bool:
        return key in self._labels[lang]

    def label_keys(self, lang: str) -> list[str]:
        return sorted(self._labels[lang])

    def for_language(self, lang: str) -> Translator:
        return Translator(self, lang if lang in LANGUAGES else LANGUAGES[0])


@dataclass(frozen=True)
class Translator:
    """The texts in one customer's language; handlers receive it as `t`."""

    texts: Texts
    lang: str

    def __call__(self, template_name: str, /, **context: Any) -> str:
        return self.texts.render(self.lang, template_name, **context)

    def label(self, key: str, /, **context: Any) -> str:
        return self.texts.label(self.lang, key, **context)

    def string(self, source: str, **context: Any) -> str:
        return self.texts.render_string(self.lang, source, **context)

    def command_of(self, text: str) -> str | None:
        """The command a whole typed message names ("help", "Stop!"), in either language."""
        return command_of(text, self.texts.typed.values())

    def pick(self, text: str, labels: Sequence[str]) -> int | None:
        """Which of the buttons `labels` (as shown, in this language) a typed answer names."""
        return pick(text, labels, self.texts.typed[self.lang].fillers)



def _is_template(text: str) -> bool:
    """Whether a label needs Jinja2 at all (variables, tags or comments)."""
    return "{{" in text or "{%" in text or "{#" in text


def _flat(table: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            items.extend(_flat(value, f"{prefix}{key}."))
        else:
            items.append((f"{prefix}{key}", str(value)))
    return items
