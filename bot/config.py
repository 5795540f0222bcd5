"""Configuration: a TOML file plus environment, validated with pydantic.

Every key has a default, so Balie runs with no file at all (the console chat on a local
SQLite file). `load_config` turns any problem into one `ConfigError` line that names the key,
what was expected and where, and never echoes the token.
"""

from __future__ import annotations

import os
import re
import tomllib
import zoneinfo
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError

TOKEN_ENV = "BALIE_TELEGRAM_TOKEN"
DEFAULT_CONFIG_FILE = Path("config.toml")
Language = Literal["nl", "en"]
_TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_hours(value: str) -> tuple[time, time] | None:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", value)
    if not match:
        return None
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60):
        return None
    opens, closes = time(h1, m1), time(min(h2, 23), 59 if h2 == 24 else m2)
    return (opens, closes) if opens < closes else None


class ConfigError(Exception):
    """A configuration problem, said in one line."""


def _known_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("a time zone such as Europe/Amsterdam") from None
    return name


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, value: object, info: ValidationInfo) -> object:
        """`notice_months = true` is a mistake, not 1 (pydantic would take it as 1)."""
        field = cls.model_fields.get(info.field_name or "")
        annotation = field.annotation if field is not None else None
        if isinstance(value, bool) and annotation in (int, float):
            raise PydanticCustomError("int_type" if annotation is int else "float_type",
                                      "a number, not true or false")
        return value


class TelegramConfig(_Section):
    token: SecretStr = SecretStr("")
    api_base: str = ""
    staff_chat_id: int = 0
    polling_timeout: Annotated[int, Field(ge=1, le=50)] = 30

    @field_validator("token")
    @classmethod
    def _token_shape(cls, token: SecretStr) -> SecretStr:
        value = token.get_secret_value()
        if value and not _TOKEN_SHAPE.match(value):
            raise ValueError("a bot token from @BotFather, like 123456:ABC-DEF… (value hidden)")
        return token

    @field_validator("api_base")
    @classmethod
    def _api_base_is_url(cls, api_base: str) -> str:
        if api_base and not re.match(r"^https?://[^\s/]+", api_base):
            raise ValueError("an http(s) URL such as http://127.0.0.1:8081, or empty")
        return api_base.rstrip("/")

    @field_validator("staff_chat_id")
    @classmethod
    def _staff_chat_is_group(cls, staff_chat_id: int) -> int:
        if staff_chat_id > 0:
            raise ValueError("a supergroup id, which is negative (like -1001234567890), or 0")
        return staff_chat_id


class StorageConfig(_Section):
    database: Path = Path("balie.sqlite3")


class ProviderConfig(_Section):
    name: str = "MijnHostingPartner"
    website: str = "https://www.mijnhostingpartner.nl"
    panel_url: str = "https://www.mijnhostingpartner.nl/client/clientarea.php"
    tickets_url: str = "https://www.mijnhostingpartner.nl/client/submitticket.php"
    email: str = "support@mijnhostingpartner.nl"


class RulesConfig(_Section):
    notice_months: Annotated[int, Field(ge=1, le=24)] = 1
    transfer_working_days: Annotated[int, Field(ge=1, le=60)] = 5
    holiday_country: str = "NL"
    timezone: str = "Europe/Amsterdam"
    reopen_days: Annotated[int, Field(ge=0, le=365)] = 7

    _timezone = field_validator("timezone")(_known_timezone)

    @field_validator("holiday_country")
    @classmethod
    def _known_country(cls, country: str) -> str:
        import holidays

        if country.upper() not in holidays.list_supported_countries():
            raise ValueError("a country code known to the holidays library, like NL")
        return country.upper()


class OfficeHoursConfig(_Section):
    """Opening hours per weekday as "HH:MM-HH:MM", or "" for closed."""

    timezone: str = "Europe/Amsterdam"
    monday: str = "09:00-17:00"
    tuesday: str = "09:00-17:00"
    wednesday: str = "09:00-17:00"
    thursday: str = "09:00-17:00"
    friday: str = "09:00-17:00"
    saturday: str = ""
    sunday: str = ""
    # Minutes a live chat may wait for a colleague before the customer is told honestly and
    # offered to leave it as a ticket.
    live_chat_wait_minutes: Annotated[int, Field(ge=1, le=240)] = 5

    _timezone = field_validator("timezone")(_known_timezone)

    @field_validator(*_WEEKDAYS)
    @classmethod
    def _hours_are_valid(cls, value: str) -> str:
        if value and parse_hours(value) is None:
            raise ValueError('opening hours as "HH:MM-HH:MM", or "" for closed')
        return value

    def hours(self, weekday: int) -> tuple[time, time] | None:
        """Opening and closing time on a weekday (0 = Monday), None when closed."""
        return parse_hours(getattr(self, _WEEKDAYS[weekday]))


class PaymentArrangementConfig(_Section):
    """Limits of the payment-arrangement request (product.md §2.3)."""

    # WHMCS invoice numbers: 4-10 digits, optionally behind a prefix such as "INV-" or "MHP".
    invoice_pattern: str = "(?:[A-Za-z]{1,6}-?)?[0-9]{4,10}"
    invoice_example: str = "2026001234"  # shown to customers; must match the pattern
    max_days: Annotated[int, Field(ge=1, le=365)] = 30
    max_instalments: Annotated[int, Field(ge=2, le=24)] = 6
    min_reason_length: Annotated[int, Field(ge=0, le=1000)] = 20

    @field_validator("invoice_pattern")
    @classmethod
    def _pattern_compiles(cls, pattern: str) -> str:
        try:
            compiled = re.compile(pattern, re.IGNORECASE)
        except re.error as error:
            raise ValueError(f"a regular expression ({error})") from None
        if compiled.fullmatch(""):
            raise ValueError("a regular expression that does not match an empty answer")
        return pattern

    @model_validator(mode="after")
    def _example_matches(self) -> PaymentArrangementConfig:
        if not re.fullmatch(self.invoice_pattern, self.invoice_example, re.IGNORECASE):
            raise ValueError(f"invoice_example {self.invoice_example!r} to match "
                             f"invoice_pattern {self.invoice_pattern!r}")
        return self


class StaffConfig(_Section):
    # Sign colleagues' replies to customers as "medewerker"/"colleague", not their first name.
    anonymous: bool = False


class LanguagesConfig(_Section):
    default: Language = "nl"


class Config(_Section):
    telegram: TelegramConfig = TelegramConfig()
    storage: StorageConfig = StorageConfig()
    provider: ProviderConfig = ProviderConfig()
    rules: RulesConfig = RulesConfig()
    office_hours: OfficeHoursConfig = OfficeHoursConfig()
    payment_arrangement: PaymentArrangementConfig = PaymentArrangementConfig()
    staff: StaffConfig = StaffConfig()
    languages: LanguagesConfig = LanguagesConfig()

    @property
    def token(self) -> str:
        return self.telegram.token.get_secret_value()


def load_config(path: Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Read the config file (or ./config.toml, or nothing) and the environment."""
    environ = dict(os.environ) if environ is None else environ
    source = "built-in defaults"
    raw: dict[str, object] = {}
    if path is None and DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
    if path is not None:
        source = str(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: file not found") from None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: cannot read: {error}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from None
    token = environ.get(TOKEN_ENV, "").strip()
    if token:
        telegram = raw.setdefault("telegram", {})
        if isinstance(telegram, dict):
            telegram["token"] = token
            source = f"{source} + ${TOKEN_ENV}"
    try:
        config = Config.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_describe(error, source)) from None
    return config


def _describe(error: ValidationError, source: str, model: type[BaseModel] = Config) -> str:
    """The first problem in Balie's words: the key, what was expected, and what was given
    (never the token), e.g. `config.toml: [rules.notice_months] expected a whole number from
    1 to 24, got 'een'`."""
    first = error.errors()[0]
    loc = tuple(str(part) for part in first["loc"])
    key = ".".join(loc) or "(top level)"
    kind = first["type"]
    if kind == "extra_forbidden":
        return f"{source}: unknown key [{key}] (see config.example.toml for the keys)"
    info = _field_at(model, loc)
    if kind == "missing":
        what = "table" if _is_table(info) else "key"
        return f"{source}: missing {what} [{key}]" + (
            f" (expected {_expected(info, first)})" if what == "key" else "")
    expected = _expected(info, first)
    if expected == "a table":
        expected = f"a table (a [{key}] section with its keys)"
    shown = "" if key.endswith("token") else _shown(first.get("input"))
    return f"{source}: [{key}] expected {expected}{shown}"


_BY_ERROR = {  # what was expected, by pydantic's error type, when the field is not found
    "int_parsing": "a whole number", "int_type": "a whole number",
    "int_from_float": "a whole number", "float_parsing": "a number", "float_type": "a number",
    "bool_parsing": "true or false", "bool_type": "true or false",
    "string_type": "text in quotes", "path_type": "a file path in quotes",
    "model_type": "a table", "dict_type": "a table",
}
_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _expected(info: FieldInfo | None, error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "value_error":  # our validators say what they expect
        return str(error["msg"]).removeprefix("Value error, ")
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str((error.get("ctx") or {}).get("expected", "")))
        return "one of " + ", ".join(choices)
    bounds = _bounds(info)
    if kind in _RANGE_ERRORS:
        return "a number" + bounds
    if info is not None and (wording := _wording(info.annotation)):
        return wording + bounds
    if kind in _BY_ERROR:
        return _BY_ERROR[kind] + bounds
    return str(error["msg"]).removeprefix("Input should be ")


def _wording(annotation: Any) -> str | None:
    """What a value of this type looks like in TOML, in words."""
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(str(choice) for choice in get_args(annotation))
    if not isinstance(annotation, type):
        return None
    if issubclass(annotation, BaseModel):
        return "a table"
    for kind, wording in ((bool, "true or false"), (int, "a whole number"),
                          (float, "a number"), (str, "text in quotes"),
                          (SecretStr, "text in quotes"), (Path, "a file path in quotes")):
        if issubclass(annotation, kind):
            return wording
    return None


def _bounds(info: FieldInfo | None) -> str:
    low = high = None
    for rule in info.metadata if info is not None else ():
        if isinstance(rule, annotated_types.Ge | annotated_types.Gt):
            low = f"{rule.ge}" if isinstance(rule, annotated_types.Ge) else f"above {rule.gt}"
        if isinstance(rule, annotated_types.Le | annotated_types.Lt):
            high = f"{rule.le}" if isinstance(rule, annotated_types.Le) else f"below {rule.lt}"
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" of at least {low}" if not low.startswith("above") else f" {low}"
    if high is not None:
        return f" of at most {high}" if not high.startswith("below") else f" {high}"
    return ""


def _field_at(model: type[BaseModel], loc: tuple[str, ...]) -> FieldInfo | None:
    """The field a location such as ("rules", "notice_months") names, if there is one."""
    current: type[BaseModel] | None = model
    info: FieldInfo | None = None
    for part in loc:
        if current is None or (info := current.model_fields.get(part)) is None:
            return None
        current = info.annotation if _is_table(info) else None
    return info


def _is_table(info: FieldInfo | None) -> bool:
    annotation = info.annotation if info is not None else None
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _shown(given: object) -> str:
    """What was given, as the operator wrote it in TOML."""
    if isinstance(given, bool):
        return f", got {str(given).lower()}"
    if isinstance(given, str | int | float):
        return f", got {given!r}"
    if isinstance(given, dict):
        return ", got a table"
    if isinstance(given, list):
        return ", got a list"
    return ""
