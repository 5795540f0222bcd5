"""Reading what customers type into a form: e-mail address, domain name, invoice number, amount.

Telegram-free: every parser takes the text (and whatever it depends on, such as the customer's
language or the configured invoice pattern) and returns a clean value, or raises `AnswerError`
whose `problem` says what is wrong and whose `context` holds what a message about it needs
(the domains found, the largest amount accepted). The bot turns that into a message.

Problem codes are unique across this module and `knowledge.dates`, so one folder of
templates (`answers/invalid_<problem>`) can explain all of them.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final

from babel.numbers import NumberFormatError, format_currency, parse_decimal

__all__ = [
    "MAX_AMOUNT",
    "AnswerError",
    "AnswerProblem",
    "format_amount",
    "number_locale",
    "parse_amount",
    "parse_domain",
    "parse_email",
    "parse_invoice_number",
]


class AnswerProblem(StrEnum):
    """Why a typed e-mail address, domain name, invoice number or amount was not accepted."""

    EMAIL = "email"
    DOMAIN = "domain"
    SEVERAL_DOMAINS = "several_domains"  # context: domains (list[str])
    INVOICE_NUMBER = "invoice_number"
    AMOUNT_UNREADABLE = "amount_unreadable"
    AMOUNT_ZERO = "amount_zero"
    AMOUNT_NEGATIVE = "amount_negative"
    AMOUNT_TOO_LARGE = "amount_too_large"  # context: maximum (Decimal)


class AnswerError(ValueError):
    """The text is not an acceptable answer: `problem` says why, `context` holds the details a
    message needs (only values, never the customer's whole text)."""

    def __init__(self, problem: StrEnum, **context: Any) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.context = context


# --- e-mail address ------------------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']+\.[^@\s<>\"'.]{2,}$")
MAX_EMAIL_CHARS: Final = 254


def parse_email(text: str) -> str:
    """The e-mail address the customer registered with ("<Anna@Example.nl>", "mailto:…"), lower
    case, so a colleague finds the account."""
    email = text.strip().strip("<>").strip()
    email = re.sub(r"^mailto:", "", email, flags=re.IGNORECASE).lower()
    if len(email) > MAX_EMAIL_CHARS or not _EMAIL.match(email):
        raise AnswerError(AnswerProblem.EMAIL)
    return email


# --- domain name ---------------------------------------------------------------------------------

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
# Between domains typed at once: "a.nl en b.nl", "a.nl, b.nl", "a.nl & b.nl"; the words in
# between ("en", "and") are no domains and drop out.
_DOMAIN_LIST_SPLIT = re.compile(r"[\s,;&+]+")
MAX_DOMAINS_LISTED: Final = 10


def _one_domain(text: str) -> str | None:
    """The domain in `text`, IDNA-checked and in Unicode, or None."""
    name = unicodedata.normalize("NFC", text.strip()).lower()
    name = re.sub(r"^[a-z][a-z0-9+.-]*://", "", name)
    name = re.split(r"[/?#]", name, maxsplit=1)[0].rstrip(".")
    name = name.replace("。", ".").replace("．", ".")
    if name.startswith("www.") and name.count(".") >= 2:
        name = name[4:]
    if not name or any(char.isspace() for char in name) or "." not in name:
        return None
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = ascii_name.split(".")
    if (len(ascii_name) > 253 or not all(_LABEL.match(label) for label in labels)
            or not _TLD.match(labels[-1])):
        return None
    return ascii_name.encode("ascii").decode("idna")  # as the registry will see it


def parse_domain(text: str) -> str:
    """A domain name as customers type it ("www.Café.nl/", "https://voorbeeld.nl"), checked
    with the IDNA codec; returned lower case, without scheme, path or "www.", in Unicode.

    Two or more domains typed at once ("a.nl en b.nl", "a.nl, b.nl") are SEVERAL_DOMAINS, with
    the domains found (in the order typed, each once) as `domains`."""
    domain = _one_domain(text)
    if domain is not None:
        return domain
    found: list[str] = []
    for part in _DOMAIN_LIST_SPLIT.split(text.strip()):
        if part and (candidate := _one_domain(part)) is not None and candidate not in found:
            found.append(candidate)
    if len(found) >= 2:
        raise AnswerError(AnswerProblem.SEVERAL_DOMAINS, domains=found[:MAX_DOMAINS_LISTED])
    raise AnswerError(AnswerProblem.DOMAIN)


# --- invoice number ------------------------------------------------------------------------------

# Words customers put before the number: "factuur 123456", "Invoice #123456", "factuurnr. 123".
_INVOICE_WORDS = re.compile(
    r"^(?:(?:factuurnummer|factuurnr|factuur|invoice\s+number|invoice\s+no|invoice|nummer|"
    r"number|nr|no)\b\.?|[#:])\s*", re.IGNORECASE)
MAX_INVOICE_CHARS: Final = 64


@lru_cache(maxsize=8)
def _invoice_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def parse_invoice_number(text: str, pattern: str | re.Pattern[str]) -> str:
    """The invoice number in `text`, matched in full against the provider's `pattern` (case
    does not matter); returned upper case, without "factuur", "#" and the like in front."""
    number = unicodedata.normalize("NFKC", text).strip()
    if len(number) > MAX_INVOICE_CHARS:
        raise AnswerError(AnswerProblem.INVOICE_NUMBER)
    while (cleaned := _INVOICE_WORDS.sub("", number, count=1)) != number:
        number = cleaned
    number = number.rstrip(".").upper()
    regex = _invoice_regex(pattern.pattern if isinstance(pattern, re.Pattern) else pattern)
    if not number or regex.fullmatch(number) is None:
        raise AnswerError(AnswerProblem.INVOICE_NUMBER)
    return number


# --- amount in euros -----------------------------------------------------------------------------

MAX_AMOUNT: Final = Decimal(100_000)
MAX_AMOUNT_CHARS: Final = 40
CENT: Final = Decimal("0.01")
_LOCALES: Final = ("nl_NL", "en_GB")
_CURRENCY = r"(?:€|eur(?:o|os)?\b)"
_MINUS = "-−–"  # hyphen-minus, minus sign, en dash
_AMOUNT = re.compile(
    rf"^(?P<sign1>[{_MINUS}])?\s*{_CURRENCY}?\s*(?P<sign2>[{_MINUS}])?\s*"
    rf"(?P<number>[0-9](?:[0-9]|[.,](?=[0-9]))*)\s*(?:[.,]-|[.,]—)?\s*{_CURRENCY}?$",
    re.ASCII,
)


def number_locale(lang: str) -> str:
    """The babel locale for a customer's language: nl_NL for Dutch, en_GB for everyone else."""
    return "nl_NL" if lang.casefold().startswith("nl") else "en_GB"


def _read_number(number: str, lang: str) -> Decimal | None:
    """`number` read with babel in the customer's notation ("1.234,56" in Dutch), or, when it is
    not written that way, in the other one ("49.95" from a Dutch customer). A reading with more
    than two decimals is no amount in euros, and no guess is made: "1,234" from a Dutch customer
    is unreadable (it is 1234 from an English one)."""
    first = number_locale(lang)
    for locale in (first, *(other for other in _LOCALES if other != first)):
        try:
            value = Decimal(parse_decimal(number, locale=locale, strict=True))
        except (NumberFormatError, InvalidOperation, ValueError):
            continue
        exponent = value.as_tuple().exponent
        return value if isinstance(exponent, int) and exponent >= -2 else None
    return None


def parse_amount(text: str, lang: str, *, maximum: Decimal = MAX_AMOUNT) -> Decimal:
    """An amount in euros as customers type it — "€ 49,95", "€49,95", "49.95", "49", "49,-",
    "1.234,56", "1,234.56", "EUR 12", "12 euro" — with two decimals."""
    cleaned = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    match = _AMOUNT.match(cleaned) if len(cleaned) <= MAX_AMOUNT_CHARS else None
    value = _read_number(match["number"], lang) if match else None
    if match is None or value is None:
        raise AnswerError(AnswerProblem.AMOUNT_UNREADABLE)
    if match["sign1"] or match["sign2"]:
        raise AnswerError(AnswerProblem.AMOUNT_NEGATIVE if value else AnswerProblem.AMOUNT_ZERO)
    if not value:
        raise AnswerError(AnswerProblem.AMOUNT_ZERO)
    if value > maximum:
        raise AnswerError(AnswerProblem.AMOUNT_TOO_LARGE, maximum=maximum)
    return value.quantize(CENT)


def format_amount(amount: Decimal, lang: str) -> str:
    """An amount in the customer's notation: "€ 49,95" (nl) / "€49.95" (en)."""
    return str(format_currency(amount, "EUR", locale=number_locale(lang)))
