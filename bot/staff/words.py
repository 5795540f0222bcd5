"""The colleagues' words for a ticket's fields and values, from `staff/labels.toml`: one
vocabulary for the card in the topic and for `balie tickets show` (the templates' other staff
words come from the same labels through `staff/words.j2`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.texts import Texts
from knowledge.answers import format_amount
from knowledge.dates import format_date

# A "no" that says nothing, left off the list.
QUIET_WHEN_EMPTY = frozenset({"too_late", "panel_skipped", "transfer_start_by"})


@dataclass(frozen=True)
class FieldWords:
    texts: Texts
    lang: str

    def fields(self, fields: dict[str, Any]) -> list[tuple[str, str]]:
        """Every field the dialog collected, in words: labels, dates, yes/no, amounts."""
        return [(self.label_or(f"staff.field.{key}", key.replace("_", " ")),
                 self.value(key, value))
                for key, value in fields.items()
                if value or key not in QUIET_WHEN_EMPTY]

    def value(self, key: str, value: Any) -> str:
        if value is None or value == "":
            return self.label("staff.unknown")
        if isinstance(value, bool):
            if key == "is_domain":
                return self.label_or(f"staff.value.is_domain.{str(value).lower()}", "")
            return self.label("staff.yes" if value else "staff.no")
        if key == "proposal" and isinstance(value, dict):
            kind = str(value.get("kind", ""))
            day = value.get("date")
            return self.label_or(f"staff.value.proposal.{kind}", str(value),
                                 date=self.day(day) if isinstance(day, str) else day,
                                 count=value.get("count"))
        if key == "amount":
            try:
                return format_amount(Decimal(str(value)), self.lang)
            except (InvalidOperation, ValueError):
                return str(value)
        if isinstance(value, str):
            if self.texts.has_label(self.lang, f"staff.value.{key}.{value}"):
                return self.label(f"staff.value.{key}.{value}")
            return self.day(value)
        if isinstance(value, list | tuple):
            return ", ".join(self.value(key, each) for each in value)
        return str(value)

    def label(self, key: str, /, **context: Any) -> str:
        return self.texts.label(self.lang, key, **context)

    def label_or(self, key: str, fallback: str, **context: Any) -> str:
        if self.texts.has_label(self.lang, key):
            return self.label(key, **context)
        return fallback

    def day(self, value: str) -> str:
        """An ISO date in words ("15 maart 2027"); any other text as it is."""
        if len(value) == 10:
            try:
                return format_date(date.fromisoformat(value), self.lang)
            except ValueError:
                pass
        return value
