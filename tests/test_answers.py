"""Reading e-mail addresses, domain names, invoice numbers and amounts (Telegram-free)."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import PaymentArrangementConfig
from knowledge.answers import (
    MAX_AMOUNT,
    AnswerError,
    AnswerProblem,
    format_amount,
    parse_amount,
    parse_domain,
    parse_email,
    parse_invoice_number,
)

INVOICE_PATTERN = PaymentArrangementConfig().invoice_pattern


def problem_of(parse: object, *args: object) -> AnswerError:
    assert callable(parse)
    with pytest.raises(AnswerError) as raised:
        parse(*args)
    assert isinstance(raised.value, ValueError)
    return raised.value


# --- e-mail address ------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "email"), [
    ("anna@voorbeeld.nl", "anna@voorbeeld.nl"),
    ("  Anna.de.Vries@Voorbeeld.NL ", "anna.de.vries@voorbeeld.nl"),
    ("<anna@voorbeeld.nl>", "anna@voorbeeld.nl"),
    ("mailto:anna@voorbeeld.nl", "anna@voorbeeld.nl"),
    ("anna+balie@café.nl", "anna+balie@café.nl"),
])
def test_email_addresses_are_accepted(typed: str, email: str) -> None:
    assert parse_email(typed) == email


@pytest.mark.parametrize("typed", [
    "", "anna", "anna@", "@voorbeeld.nl", "anna@voorbeeld", "anna@@voorbeeld.nl",
    "anna @voorbeeld.nl", "anna@voorbeeld.n", "<b>anna</b>@x.nl", "a" * 65 + "@voorbeeld.nl",
    "anna@" + "x" * 250 + ".nl",
])
def test_email_addresses_are_rejected(typed: str) -> None:
    assert problem_of(parse_email, typed).problem is AnswerProblem.EMAIL


@given(st.text(max_size=300))
def test_any_text_is_an_email_address_or_its_problem(text: str) -> None:
    try:
        email = parse_email(text)
    except AnswerError as error:
        assert error.problem is AnswerProblem.EMAIL
    else:
        assert email.count("@") == 1 and email == email.lower() and len(email) <= 254


# --- domain name ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "domains"), [
    ("bakkerij-jansen.nl en jansen.com", ["bakkerij-jansen.nl", "jansen.com"]),
    ("a.nl, b.nl", ["a.nl", "b.nl"]),
    ("a.nl,b.nl", ["a.nl", "b.nl"]),
    ("a.nl; b.nl; c.de", ["a.nl", "b.nl", "c.de"]),
    ("voorbeeld.nl and example.com", ["voorbeeld.nl", "example.com"]),
    ("www.café.nl & https://Voorbeeld.NL/", ["café.nl", "voorbeeld.nl"]),
    ("a.nl\nb.nl\na.nl", ["a.nl", "b.nl"]),
    ("mijn domeinen zijn a.nl en b.nl", ["a.nl", "b.nl"]),
])
def test_several_domains_at_once_are_named(typed: str, domains: list[str]) -> None:
    error = problem_of(parse_domain, typed)
    assert error.problem is AnswerProblem.SEVERAL_DOMAINS
    assert error.context == {"domains": domains}


@pytest.mark.parametrize("typed", ["voorbeeld.nl met spatie", "a.nl, a.nl", "a.nl en hallo"])
def test_one_domain_among_words_is_no_list(typed: str) -> None:
    assert problem_of(parse_domain, typed).problem is AnswerProblem.DOMAIN


def test_a_long_list_is_cut_short() -> None:
    error = problem_of(parse_domain, " ".join(f"d{number}.nl" for number in range(40)))
    assert error.problem is AnswerProblem.SEVERAL_DOMAINS
    assert len(error.context["domains"]) == 10


_domain_words = st.sampled_from(["a.nl", "café.nl", "www.b.com", "en", "and", ",", " ", "x",
                                 "-", ".", "https://", "/", "xn--caf-dma.nl", "ß.de"])


@given(st.one_of(st.text(max_size=300), st.lists(_domain_words, max_size=8).map("".join)))
def test_any_text_is_a_domain_or_its_problem(text: str) -> None:
    try:
        domain = parse_domain(text)
    except AnswerError as error:
        assert error.problem in (AnswerProblem.DOMAIN, AnswerProblem.SEVERAL_DOMAINS)
        if error.problem is AnswerProblem.SEVERAL_DOMAINS:
            found = error.context["domains"]
            assert len(found) >= 2 and len(set(found)) == len(found)
            assert all(parse_domain(each) == each for each in found)
    else:
        assert "." in domain and not any(char.isspace() for char in domain)
        assert parse_domain(domain) == domain  # a parsed domain reads back as itself


# --- invoice number ------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "number"), [
    ("123456", "123456"),
    ("  2026001234 ", "2026001234"),
    ("#123456", "123456"),
    ("factuur 123456", "123456"),
    ("Factuurnummer: 123456", "123456"),
    ("factuurnr. 123456", "123456"),
    ("Invoice #INV-2026001", "INV-2026001"),
    ("invoice no. inv2026001", "INV2026001"),
    ("MHP-1234", "MHP-1234"),
    ("１２３４５６", "123456"),  # full-width digits
])
def test_invoice_numbers_are_accepted(typed: str, number: str) -> None:
    assert parse_invoice_number(typed, INVOICE_PATTERN) == number


@pytest.mark.parametrize("typed", [
    "", "factuur", "123", "12345678901", "INV-", "1234 5678", "abc", "€ 49,95", "TOOLONG-1234",
    "x" * 1000,
])
def test_invoice_numbers_are_rejected(typed: str) -> None:
    assert problem_of(parse_invoice_number, typed, INVOICE_PATTERN).problem is \
        AnswerProblem.INVOICE_NUMBER


def test_the_invoice_pattern_comes_from_the_caller() -> None:
    pattern = re.compile(r"F[0-9]{4}-[0-9]{3}")
    assert parse_invoice_number("factuur f2026-001", pattern) == "F2026-001"
    assert problem_of(parse_invoice_number, "123456", pattern).problem is \
        AnswerProblem.INVOICE_NUMBER


@given(st.text(max_size=100))
def test_any_text_is_an_invoice_number_or_its_problem(text: str) -> None:
    try:
        number = parse_invoice_number(text, INVOICE_PATTERN)
    except AnswerError as error:
        assert error.problem is AnswerProblem.INVOICE_NUMBER
    else:
        assert re.fullmatch(INVOICE_PATTERN, number, re.IGNORECASE)
        assert parse_invoice_number(number, INVOICE_PATTERN) == number


# --- amount in euros -----------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "amount"), [
    ("€ 49,95", "49.95"),
    ("€49,95", "49.95"),
    ("49.95", "49.95"),
    ("49,95", "49.95"),
    ("49", "49.00"),
    ("49,-", "49.00"),
    ("€ 49,5", "49.50"),
    ("1.234,56", "1234.56"),
    ("1,234.56", "1234.56"),
    ("12.345,67", "12345.67"),
    ("EUR 12", "12.00"),
    ("eur 12,50", "12.50"),
    ("12 euro", "12.00"),
    ("12,50 EUR", "12.50"),
    ("12€", "12.00"),
    ("€\u00a049,95", "49.95"),  # as babel writes it
    ("0,01", "0.01"),
    ("100000", "100000.00"),
])
@pytest.mark.parametrize("lang", ["nl", "en"])
def test_amounts_are_read(typed: str, amount: str, lang: str) -> None:
    parsed = parse_amount(typed, lang)
    assert parsed == Decimal(amount)
    assert parsed.as_tuple().exponent == -2  # always two decimals


@pytest.mark.parametrize(("typed", "lang", "amount"), [
    ("1,234", "en", "1234.00"),  # an English thousands separator
    ("1.234", "nl", "1234.00"),  # a Dutch one
    ("49,999", "en", "49999.00"),
])
def test_the_customers_notation_decides_a_separator_before_three_digits(
    typed: str, lang: str, amount: str
) -> None:
    assert parse_amount(typed, lang) == Decimal(amount)


@pytest.mark.parametrize(("typed", "lang"), [
    ("1,234", "nl"),  # 1,234 euro? or 1234? Not guessed.
    ("1.234", "en"),
    ("49,999", "nl"),
])
def test_three_decimals_in_the_customers_notation_are_not_guessed(typed: str, lang: str) -> None:
    assert problem_of(parse_amount, typed, lang).problem is AnswerProblem.AMOUNT_UNREADABLE


@pytest.mark.parametrize(("typed", "problem"), [
    ("0", AnswerProblem.AMOUNT_ZERO),
    ("€ 0,00", AnswerProblem.AMOUNT_ZERO),
    ("-0", AnswerProblem.AMOUNT_ZERO),
    ("-49,95", AnswerProblem.AMOUNT_NEGATIVE),
    ("€ -49,95", AnswerProblem.AMOUNT_NEGATIVE),
    ("−12", AnswerProblem.AMOUNT_NEGATIVE),  # the minus sign
    ("100000,01", AnswerProblem.AMOUNT_TOO_LARGE),
    ("€ 1.000.000", AnswerProblem.AMOUNT_TOO_LARGE),
    ("9" * 39, AnswerProblem.AMOUNT_TOO_LARGE),
    ("", AnswerProblem.AMOUNT_UNREADABLE),
    ("weet ik niet", AnswerProblem.AMOUNT_UNREADABLE),
    ("ongeveer 50", AnswerProblem.AMOUNT_UNREADABLE),
    ("€ 1.000.000,00", AnswerProblem.AMOUNT_TOO_LARGE),
    ("1.234,567", AnswerProblem.AMOUNT_UNREADABLE),
    ("0,001", AnswerProblem.AMOUNT_UNREADABLE),
    ("12,34,56", AnswerProblem.AMOUNT_UNREADABLE),
    ("1e5", AnswerProblem.AMOUNT_UNREADABLE),
    ("NaN", AnswerProblem.AMOUNT_UNREADABLE),
    ("Infinity", AnswerProblem.AMOUNT_UNREADABLE),
    ("12 34", AnswerProblem.AMOUNT_UNREADABLE),
    ("€ 12 en € 13", AnswerProblem.AMOUNT_UNREADABLE),
    ("١٢", AnswerProblem.AMOUNT_UNREADABLE),  # Arabic-Indic digits
    ("1" * 100, AnswerProblem.AMOUNT_UNREADABLE),
    ("$ 12", AnswerProblem.AMOUNT_UNREADABLE),
])
@pytest.mark.parametrize("lang", ["nl", "en"])
def test_amount_problems(typed: str, problem: AnswerProblem, lang: str) -> None:
    assert problem_of(parse_amount, typed, lang).problem is problem


def test_too_large_names_the_maximum_and_the_maximum_is_the_callers() -> None:
    assert problem_of(parse_amount, "200000", "nl").context == {"maximum": MAX_AMOUNT}
    with pytest.raises(AnswerError) as raised:
        parse_amount("€ 500", "nl", maximum=Decimal(100))
    assert raised.value.context == {"maximum": Decimal(100)}
    assert parse_amount("€ 500", "nl", maximum=Decimal(500)) == Decimal("500.00")


@pytest.mark.parametrize(("amount", "lang", "shown"), [
    (Decimal("49.95"), "nl", "€\u00a049,95"),
    (Decimal("49.95"), "en", "€49.95"),
    (Decimal("1234.5"), "nl", "€\u00a01.234,50"),
    (Decimal("1234.5"), "en", "€1,234.50"),
    (Decimal("12"), "nl-BE", "€\u00a012,00"),
])
def test_amounts_are_shown_in_the_customers_notation(amount: Decimal, lang: str,
                                                    shown: str) -> None:
    assert format_amount(amount, lang) == shown


_amounts = st.decimals(min_value=Decimal("0.01"), max_value=MAX_AMOUNT, places=2)


@given(amount=_amounts, shown_in=st.sampled_from(["nl", "en"]),
       read_in=st.sampled_from(["nl", "en"]))
def test_a_shown_amount_reads_back_as_itself(amount: Decimal, shown_in: str,
                                             read_in: str) -> None:
    assert parse_amount(format_amount(amount, shown_in), read_in) == amount


@given(text=st.one_of(st.text(max_size=60),
                      st.lists(st.sampled_from(["€", "EUR", "1", "12", "234", ",", ".", "-", " ",
                                                "0", "euro", ",-", "95"]),
                               max_size=8).map("".join)),
       lang=st.sampled_from(["nl", "en"]))
def test_any_text_is_an_amount_or_its_problem(text: str, lang: str) -> None:
    try:
        amount = parse_amount(text, lang)
    except AnswerError as error:
        assert error.problem in {AnswerProblem.AMOUNT_UNREADABLE, AnswerProblem.AMOUNT_ZERO,
                                 AnswerProblem.AMOUNT_NEGATIVE, AnswerProblem.AMOUNT_TOO_LARGE}
    else:
        assert Decimal("0.01") <= amount <= MAX_AMOUNT
        assert amount.as_tuple().exponent == -2


def test_the_parsers_know_nothing_of_telegram() -> None:
    code = ("import sys, knowledge.answers, knowledge.dates; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiogram', 'bot')))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout
    assert shown.strip() == "[]"
