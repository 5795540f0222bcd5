"""Configuration: defaults, the file, the environment, and one clear line for every mistake."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

import pytest
from click.testing import CliRunner, Result
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.cli import main
from bot.config import ConfigError, _describe, load_config

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345678"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_need_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None, environ={})
    assert config.token == ""
    assert config.rules.notice_months == 1
    assert config.rules.transfer_working_days == 5
    assert config.storage.database == Path("balie.sqlite3")
    assert config.languages.default == "nl"


def test_example_config_is_valid_and_complete() -> None:
    example = Path(__file__).parent.parent / "config.example.toml"
    config = load_config(example, environ={})
    text = example.read_text(encoding="utf-8")
    for section, model in config:
        assert f"[{section}]" in text
        for key in type(model).model_fields:
            assert f"\n{key} =" in text or f"\n# {key} =" in text, f"{section}.{key} undocumented"


def test_token_from_environment_wins(tmp_path: Path) -> None:
    path = write(tmp_path, '[telegram]\ntoken = ""\n')
    config = load_config(path, environ={"BALIE_TELEGRAM_TOKEN": TOKEN})
    assert config.token == TOKEN


def test_local_config_toml_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "[rules]\nnotice_months = 2\n")
    monkeypatch.chdir(tmp_path)
    assert load_config(None, environ={}).rules.notice_months == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[rules]\nnotice_months = 'een'\n", "[rules.notice_months] expected"),
        ("[rules]\nnotice_months = -1\n", "[rules.notice_months]"),
        ("[telegram]\nstaff_chat_id = 12345\n", "[telegram.staff_chat_id] expected a supergroup"),
        ("[telegram]\napi_base = 'localhost:8081'\n", "[telegram.api_base] expected an http"),
        ("[telegarm]\ntoken = 'x'\n", "unknown key [telegarm]"),
        ("[office_hours]\nmonday = '9-5'\n", "monday"),
        ("[languages]\ndefault = 'de'\n", "[languages.default]"),
        ("[rules\n", "not valid TOML"),
        ("[rules]\ntimezone = 'Mars/Olympus'\n", "[rules.timezone] expected a time zone"),
        ("[office_hours]\ntimezone = 'Nowhere'\n", "[office_hours.timezone]"),
        ("[rules]\nholiday_country = 'XX'\n", "[rules.holiday_country] expected a country"),
        ("[rules]\nnotice_months = 0\n", "[rules.notice_months]"),
    ],
)
def test_bad_values_give_one_clear_line(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert expected in message
    assert str(path) in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[rules]\nnotice_months = 'een'\n",
         "[rules.notice_months] expected a whole number from 1 to 24, got 'een'"),
        ("[rules]\nnotice_months = 1.5\n",
         "[rules.notice_months] expected a whole number from 1 to 24, got 1.5"),
        ("[rules]\nnotice_months = true\n",
         "[rules.notice_months] expected a whole number from 1 to 24, got true"),
        ("[rules]\nnotice_months = 0\n",
         "[rules.notice_months] expected a number from 1 to 24, got 0"),
        ("[rules]\nreopen_days = 400\n",
         "[rules.reopen_days] expected a number from 0 to 365, got 400"),
        ("[telegram]\nstaff_chat_id = 'groep'\n",
         "[telegram.staff_chat_id] expected a whole number, got 'groep'"),
        ("[languages]\ndefault = 'de'\n", "[languages.default] expected one of nl, en, got 'de'"),
        ("[provider]\nname = 42\n", "[provider.name] expected text in quotes, got 42"),
        ("[provider]\nname = true\n", "[provider.name] expected text in quotes, got true"),
        ("[storage]\ndatabase = 3\n", "[storage.database] expected a file path in quotes, got 3"),
        ("rules = 3\n", "[rules] expected a table (a [rules] section with its keys), got 3"),
        ("[rules.notice_months]\nvalue = 2\n",
         "[rules.notice_months] expected a whole number from 1 to 24, got a table"),
        ("[office_hours]\nmonday = '9-5'\n",
         '[office_hours.monday] expected opening hours as "HH:MM-HH:MM", or "" for closed, '
         "got '9-5'"),
        ("[rules]\ntimezone = 'Mars/Olympus'\n",
         "[rules.timezone] expected a time zone such as Europe/Amsterdam, got 'Mars/Olympus'"),
    ],
)
def test_mistakes_are_said_in_balies_words(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value) == f"{path}: {expected}"
    assert "Input should" not in str(caught.value)


class _Example(BaseModel):
    """Types the config does not use (yet), worded the same way."""

    model_config = ConfigDict(extra="forbid")
    ratio: Annotated[float, Field(ge=0, le=1)] = 0.5
    speed: float = 1.0
    enabled: bool = False
    retries: Annotated[int, Field(ge=1)] = 3
    mode: Literal["fast", "safe"] = "safe"


class _Required(BaseModel):
    example: _Example
    name: str


def _example(**section: object) -> dict[str, object]:
    return {"example": section, "name": "Balie"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (_example(ratio=2.0), "[example.ratio] expected a number from 0 to 1, got 2.0"),
        (_example(speed="snel"), "[example.speed] expected a number, got 'snel'"),
        (_example(enabled="ja"), "[example.enabled] expected true or false, got 'ja'"),
        (_example(retries=0), "[example.retries] expected a number of at least 1, got 0"),
        (_example(mode="slow"), "[example.mode] expected one of fast, safe, got 'slow'"),
        (_example(colour=1), "unknown key [example.colour]"),
        ({"name": "Balie"}, "missing table [example]"),
        ({"example": {}}, "missing key [name] (expected text in quotes)"),
    ],
)
def test_every_kind_of_value_is_worded(raw: dict[str, object], expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _Required.model_validate(raw)
    described = _describe(caught.value, "config.toml", _Required)
    assert described.startswith(f"config.toml: {expected}")
    assert "Input should" not in described and "\n" not in described


def test_bad_token_is_never_echoed(tmp_path: Path) -> None:
    secret = "not-a-token-but-secret-value"
    path = write(tmp_path, f'[telegram]\ntoken = "{secret}"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert "[telegram.token]" in str(caught.value)
    assert secret not in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml", environ={})


def run_cli(*args: str, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Result:
    """`balie ARGS` in-process (the exit codes of a real process: tests/test_cli_e2e.py)."""
    monkeypatch.chdir(cwd)
    for key in [key for key in os.environ if key.startswith("BALIE_")]:
        monkeypatch.delenv(key)
    return CliRunner().invoke(main, list(args))


def test_cli_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "[rules]\nnotice_months = 'x'\n")
    result = run_cli("tickets", "list", "--config", str(path), cwd=tmp_path,
                     monkeypatch=monkeypatch)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "[rules.notice_months]" in result.stderr
    assert result.stdout == ""


def test_run_without_token_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_cli("run", cwd=tmp_path, monkeypatch=monkeypatch)
    assert result.exit_code == 2
    assert "BALIE_TELEGRAM_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_payment_arrangement_defaults() -> None:
    limits = load_config(None, environ={}).payment_arrangement
    assert (limits.max_days, limits.max_instalments, limits.min_reason_length) == (30, 6, 20)
    assert re.fullmatch(limits.invoice_pattern, "123456")
    assert re.fullmatch(limits.invoice_pattern, "INV-2026001", re.IGNORECASE)
    assert not re.fullmatch(limits.invoice_pattern, "12")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[payment_arrangement]\ninvoice_pattern = '(['\n",
         "[payment_arrangement.invoice_pattern] expected a regular expression"),
        ("[payment_arrangement]\ninvoice_pattern = '[0-9]*'\n", "does not match an empty"),
        ("[payment_arrangement]\ninvoice_example = 'abc'\n", "to match invoice_pattern"),
        ("[payment_arrangement]\nmax_instalments = 1\n", "[payment_arrangement.max_instalments]"),
        ("[payment_arrangement]\nmax_days = 0\n", "[payment_arrangement.max_days]"),
        ("[payment_arrangement]\nmin_reason_length = -1\n",
         "[payment_arrangement.min_reason_length]"),
    ],
)
def test_bad_payment_arrangement_limits(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={})
    assert expected in str(caught.value) and "\n" not in str(caught.value)
