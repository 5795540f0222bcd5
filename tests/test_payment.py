"""Betalingsregeling aanvragen (product.md §2.3) end to end, and its texts.

The bot believes it is 28 November 2026 (tests/conftest.py): a date to pay on can be proposed
from 29 November up to and including 28 December 2026 (`max_days` 30).
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from bot.dialogs import payment_arrangement
from bot.texts import LANGUAGES, TEMPLATES
from knowledge.dates import DateBounds, DateInputError, DateProblem, parse_date
from tests.client import TelegramUser
from tests.conftest import STAFF_CHAT_ID, Balie
from tests.fakeapi import FakeTelegram
from tickets.models import Category, Priority, Ticket

REASON_NL = "Mijn klant heeft nog niet betaald, dus ik kom deze maand tekort."
REASON_EN = "A client of mine hasn't paid yet, so I'm short this month."


async def tickets_of(balie: Balie) -> list[Ticket]:
    return await balie.services.tickets.list()


async def to_summary_nl(
    user: TelegramUser, *, amount: str | None = "€ 49,95", instalments: int | None = None,
    pay_on: str = "15-12-2026", start: bool = True,
) -> None:
    if start:  # "Stap 1 van 6": the proposal adds its date or its number of instalments
        await user.send("/start")
        await user.press("Betalingsregeling aanvragen")
    assert "Stap 1 van" in user.last_text() and "e-mailadres" in user.last_text()
    assert "Overslaan" not in user.buttons()  # the e-mail address is required here
    await user.send("anna@voorbeeld.nl")
    assert "factuurnummer" in user.last_text() and "2026001234" in user.last_text()
    await user.send("2026001234")
    assert "bedrag" in user.last_text()
    if amount is None:
        await user.press("Overslaan")
    else:
        await user.send(amount)
    assert "reden" in user.last_text()
    await user.send(REASON_NL)
    assert "voorstel" in user.last_text()
    if instalments is None:
        await user.press("Betalen op een datum")
        assert "29 november 2026" in user.last_text() and "28 december 2026" in user.last_text()
        await user.send(pay_on)
    else:
        await user.press("In termijnen")
        assert user.buttons()[:5] == ["2 termijnen", "3 termijnen", "4 termijnen",
                                      "5 termijnen", "6 termijnen"]
        await user.press(f"{instalments} termijnen")
    assert "Overzicht van je verzoek" in user.last_text()


# --- the journeys --------------------------------------------------------------------------------


async def test_dutch_customer_files_a_request_to_pay_on_a_date(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram
) -> None:
    await to_summary_nl(anna)
    text = anna.last_text()
    assert "Stap 7 van 7" in text
    assert "Factuur: 2026001234" in text and "Openstaand bedrag: €\xa049,95" in text
    assert f"Reden: „{REASON_NL}”" in text
    assert "het hele bedrag betalen op 15 december 2026" in text
    for field in ("E-mailadres", "Factuur", "Bedrag", "Reden", "Voorstel", "Datum"):
        assert f"✏️ {field}" in anna.buttons()
    await anna.press("Dien verzoek in")

    [ticket] = await tickets_of(balie)
    assert ticket.category == Category.PAYMENT_ARRANGEMENT
    assert ticket.priority == Priority.NORMAL
    assert ticket.subject == "Betalingsregeling factuur 2026001234"
    assert ticket.customer.email == "anna@voorbeeld.nl"
    assert ticket.fields == {
        "email": "anna@voorbeeld.nl", "invoice_number": "2026001234", "amount": "49.95",
        "reason_text": REASON_NL, "proposal": {"kind": "pay_on", "date": "2026-12-15"},
    }
    await balie.settled()
    done = anna.last_text()
    assert f"ticket #{ticket.id}" in done
    assert "Een collega van de administratie beoordeelt je verzoek" in done
    assert "Er is nog niets goedgekeurd." in done
    assert anna.buttons() == []  # the summary became the confirmation
    ticket = await balie.services.tickets.get(ticket.id)
    assert ticket.topic_id is not None and ticket.card_message_id is not None
    [card] = tg.chat(STAFF_CHAT_ID, ticket.topic_id)  # the topic opens with the card
    assert card.message_id == ticket.card_message_id
    assert "Betalingsregeling factuur 2026001234" in card.plain
    assert "Factuur: 2026001234" in card.plain and "Bedrag: €\xa049,95" in card.plain
    assert "Voorstel: in één keer betalen op 15 december 2026" in card.plain
    assert tg.chat(STAFF_CHAT_ID, None) == [card]  # and nothing in the General topic


async def test_english_customer_asks_for_instalments_without_an_amount(
    john: TelegramUser, balie: Balie
) -> None:
    await john.send("/start")
    await john.press("Request a payment arrangement")
    assert "Step 1 of 6" in john.last_text() and "e-mail address" in john.last_text()
    await john.send("john@example.com")
    await john.send("Invoice INV-20260042")
    await john.press("Skip")
    await john.send(REASON_EN)
    await john.press("In instalments")
    assert "6 instalments" in john.buttons() and "7 instalments" not in john.buttons()
    await john.press("3 instalments")
    text = john.last_text()
    assert "Summary of your payment arrangement request" in text
    assert "Invoice: INV-20260042" in text and "Outstanding amount: not given" in text
    assert "pay in 3 monthly instalments" in text
    await john.press("File request")

    [ticket] = await tickets_of(balie)
    assert ticket.subject == "Betalingsregeling factuur INV-20260042"
    assert ticket.fields["amount"] is None
    assert ticket.fields["proposal"] == {"kind": "instalments", "count": 3}
    assert ticket.customer.language == "en"
    await balie.settled()
    assert f"ticket #{ticket.id}" in john.last_text()
    assert "Nothing has been approved yet." in john.last_text()


async def test_deep_links_open_the_request(anna: TelegramUser, john: TelegramUser) -> None:
    await anna.send("/start betaling")
    assert "Stap 1 van 6" in anna.last_text() and "Betalingsregeling aanvragen" in anna.last_text()
    await john.send("/start payment")
    assert "Request a payment arrangement" in john.last_text()


async def test_menu_entry_sits_between_deadlines_and_questions(anna: TelegramUser) -> None:
    await anna.send("/start")
    menu = [label for label in anna.buttons() if "Opzegtermijn" in label
            or "Betalingsregeling" in label or "Vraag stellen" in label]
    assert [label.split(" ", 1)[1] for label in menu] == [
        "Opzegtermijn berekenen", "Betalingsregeling aanvragen", "Vraag stellen"]


# --- bad input -----------------------------------------------------------------------------------


async def test_every_bad_answer_is_asked_again_saying_why(anna: TelegramUser, balie: Balie) -> None:
    await anna.send("/start betaling")
    await anna.send("anna@voorbeeld")
    assert "geen e-mailadres" in anna.last_text() and "Overslaan" not in anna.last_text()
    assert "Stap 1 van 6" in anna.last_text()
    await anna.send("anna@voorbeeld.nl")

    for bad in ("12", "factuur van oktober", "20260012341234"):
        await anna.send(bad)
        assert "geen factuurnummer" in anna.last_text() and "2026001234" in anna.last_text()
        assert "Stap 2 van 6" in anna.last_text()
    await anna.send("factuur #2026001234")

    for bad, problem in (("veel", "kan ik niet lezen"), ("0", "€ 0"), ("€ 0,00", "€ 0"),
                         ("-49,95", "niet negatief"), ("1000000", "erg hoog bedrag")):
        await anna.send(bad)
        assert problem in anna.last_text(), bad
        assert "Stap 3 van 6" in anna.last_text()
    await anna.send("49")

    await anna.send("geen geld")
    text = anna.last_text()
    assert "wat kort (9 tekens; minstens 20)" in text and "Bijvoorbeeld:" in text
    assert "Stap 4 van 6" in text
    await anna.send("   \u200b  ")  # nothing visible
    assert "Ik heb hier een reden nodig" in anna.last_text()
    await anna.send("Ik ben ziek geweest  en had minder inkomsten.")

    await anna.press("Betalen op een datum")
    for bad, problem in (("28 november 2026", "te vroeg"), ("1-11-2026", "te vroeg"),
                         ("29 december 2026", "te ver weg"), ("15-03-2027", "te ver weg"),
                         ("31-12-2026", "te ver weg"), ("31 februari", "bestaat niet"),
                         ("ooit", "kan ik niet lezen"), ("weet ik niet", "datum nodig")):
        await anna.send(bad)
        assert problem in anna.last_text(), bad
        assert "Stap 6 van 7" in anna.last_text()
    assert "29 november 2026" in anna.last_text() or "28 december 2026" in anna.last_text()
    await anna.send("28 december 2026")  # the last day allowed
    assert "Overzicht van je verzoek" in anna.last_text()
    assert "Openstaand bedrag: €\xa049,00" in anna.last_text()
    await anna.press("Dien verzoek in")
    [ticket] = await tickets_of(balie)
    assert ticket.fields["amount"] == "49.00"
    assert ticket.fields["reason_text"] == "Ik ben ziek geweest  en had minder inkomsten."
    assert ticket.fields["proposal"] == {"kind": "pay_on", "date": "2026-12-28"}


async def test_the_first_day_allowed_is_tomorrow(anna: TelegramUser, balie: Balie) -> None:
    await to_summary_nl(anna, pay_on="29-11-2026")
    await anna.press("Dien verzoek in")
    [ticket] = await tickets_of(balie)
    assert ticket.fields["proposal"] == {"kind": "pay_on", "date": "2026-11-29"}


async def test_english_date_problems(john: TelegramUser) -> None:
    await john.send("/start payment")
    await john.send("john@example.com")
    await john.send("2026001234")
    await john.send("€49.95")
    await john.send(REASON_EN)
    await john.press("Pay on a date")
    await john.send("1 January 2027")
    assert "too far ahead" in john.last_text() and "December 28, 2026" in john.last_text()
    await john.send("yesterday")
    assert "can't read that date" in john.last_text()
    await john.send("15 December")
    assert "pay the whole amount on December 15, 2026" in john.last_text()
    assert "Outstanding amount: €49.95" in john.last_text()


# --- the summary -----------------------------------------------------------------------------


async def test_editing_fields_from_the_summary(anna: TelegramUser, balie: Balie) -> None:
    await to_summary_nl(anna)
    await anna.press("✏️ Bedrag")
    assert "bedrag" in anna.last_text()
    await anna.send("120,50")
    assert "Overzicht van je verzoek" in anna.last_text()
    assert "€\xa0120,50" in anna.last_text()

    await anna.press("✏️ Voorstel")
    await anna.press("In termijnen")  # a changed proposal asks for the count
    await anna.press("4 termijnen")
    text = anna.last_text()
    assert "betalen in 4 maandelijkse termijnen" in text and "15 december" not in text
    assert "✏️ Termijnen" in anna.buttons() and "✏️ Datum" not in anna.buttons()

    await anna.press("✏️ Factuur")
    await anna.send("MHP2026009999")
    assert "Factuur: MHP2026009999" in anna.last_text()
    await anna.press("Dien verzoek in")
    [ticket] = await tickets_of(balie)
    assert ticket.fields["amount"] == "120.50"
    assert ticket.fields["invoice_number"] == "MHP2026009999"
    assert ticket.fields["proposal"] == {"kind": "instalments", "count": 4}


async def test_double_confirmation_files_one_ticket(anna: TelegramUser, balie: Balie) -> None:
    await to_summary_nl(anna)
    summary = anna.last_message()
    data = next(data for label, data in (b for row in summary.buttons for b in row)
                if label.endswith("Dien verzoek in"))
    assert data is not None
    await anna.press_data(data, message_id=summary.message_id)
    await anna.press_data(data, message_id=summary.message_id)
    await balie.settled()
    tickets = await tickets_of(balie)
    assert len(tickets) == 1
    assert sum(f"ticket #{tickets[0].id}" in text for text in anna.texts()) == 1


async def test_restart_midway_carries_on(anna: TelegramUser, balie: Balie) -> None:
    await anna.send("/start betaling")
    await anna.send("anna@voorbeeld.nl")
    await anna.send("2026001234")
    assert "Stap 3 van 6" in anna.last_text()

    await balie.restart()

    await anna.press("Overslaan")
    assert "Stap 4 van 6" in anna.last_text()
    await anna.send(REASON_NL)
    await anna.press("In termijnen")
    await anna.press("2 termijnen")
    await anna.press("Dien verzoek in")
    [ticket] = await tickets_of(balie)
    assert ticket.fields["invoice_number"] == "2026001234" and ticket.fields["amount"] is None
    assert ticket.fields["proposal"] == {"kind": "instalments", "count": 2}


# --- where it is offered ---------------------------------------------------------------------


async def test_offered_when_the_deadline_has_passed(anna: TelegramUser, balie: Balie) -> None:
    await anna.send("/start")
    await anna.press("Opzegtermijn berekenen")
    await anna.send("15 maart 2027")  # in time: no offer
    assert not any("betalingsregeling" in label for label in anna.buttons())
    await anna.press("Andere datum")
    await anna.press("1 december 2026")
    assert "Voor deze periode is het te laat" in anna.last_text()
    assert "Vraag een betalingsregeling aan" in anna.last_text()
    await anna.press("Vraag een betalingsregeling aan")
    await to_summary_nl(anna, start=False)
    await anna.press("Dien verzoek in")
    assert len(await tickets_of(balie)) == 1


async def test_offered_from_the_cancellation_guide_when_the_price_is_the_reason(
    anna: TelegramUser, balie: Balie
) -> None:
    from tests.test_cancellation import to_summary

    await to_summary(anna, service="Hostingpakket", domain="voorbeeld.nl", renewal="15-03-2027",
                     reason="Kwaliteit of snelheid", email="anna@voorbeeld.nl")
    assert not any("betalingsregeling" in label for label in anna.buttons())
    await anna.press("✏️ Reden")
    await anna.press("Prijs")
    await anna.press("Vraag een betalingsregeling aan")
    # the e-mail address is known: the request starts with the invoice number
    assert "factuurnummer" in anna.last_text()
    await anna.send("2026001234")
    await anna.send("49,95")
    await anna.send(REASON_NL)
    await anna.press("In termijnen")
    await anna.press("3 termijnen")
    assert "E-mailadres: anna@voorbeeld.nl" in anna.last_text()
    await anna.press("Dien verzoek in")
    [ticket] = await tickets_of(balie)
    assert ticket.category == Category.PAYMENT_ARRANGEMENT  # no cancellation was filed


async def test_the_article_leads_into_the_request(anna: TelegramUser) -> None:
    await anna.send("kan ik in termijnen betalen")
    assert "Ik kan dat verzoek nu met je invullen en indienen" in anna.last_text()
    await anna.press("Vraag een betalingsregeling aan")
    assert "Betalingsregeling aanvragen" in anna.last_text()
    assert "e-mailadres" in anna.last_text()


# --- no promises ---------------------------------------------------------------------------------

# The check: in every file of bot/templates/<lang>/payment_arrangement/ (templates and labels),
# once the allowed negations (NEGATED: "nog niets goedgekeurd", "Nothing has been approved yet")
# are taken out, none of PROMISES occurs: no word that says a request is or will be granted,
# and nothing that says the service or subscription stays on. The confirmation must contain a
# negation, so it says plainly that nothing is approved yet.
PROMISES = {
    "nl": re.compile(r"goedgekeurd|goedkeur|toegekend|akkoord|geregeld is|blijft actief|"
                     r"houd(?:t|en) .*abonnement aan|garantie|gegarandeerd", re.IGNORECASE),
    "en": re.compile(r"approv|granted|accepted|guarantee|stays? active|keeps? .*subscription|"
                     r"remains? active", re.IGNORECASE),
}
NEGATED = {
    "nl": re.compile(r"(?:nog )?niets (?:is )?goedgekeurd|nog niet goedgekeurd|"
                     r"er is (?:dan )?nog niets goedgekeurd", re.IGNORECASE),
    "en": re.compile(r"nothing (?:has been |is )?approved(?: at that point)? yet|"
                     r"not (?:been )?approved yet", re.IGNORECASE),
}


def dialog_texts(lang: str) -> dict[str, str]:
    folder = TEMPLATES / lang / payment_arrangement.NAME
    return {path.name: path.read_text("utf-8") for path in sorted(folder.iterdir())}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_text_of_the_dialog_promises_approval(lang: str) -> None:
    texts = dialog_texts(lang)
    assert "done.j2" in texts and "labels.toml" in texts
    broken = {}
    for name, source in texts.items():
        unnegated = NEGATED[lang].sub("", source)
        if found := PROMISES[lang].findall(unnegated):
            broken[name] = found
    assert broken == {}
    # and the confirmation does say it plainly
    assert NEGATED[lang].search(texts["done.j2"])


def test_the_promise_check_catches_a_promise() -> None:
    promises = (("nl", "Je regeling is goedgekeurd."), ("nl", "Je hosting blijft actief."),
                ("en", "It will be approved."), ("en", "Your service stays active."))
    for lang, promise in promises:
        assert PROMISES[lang].search(NEGATED[lang].sub("", promise)), promise
    honest = (("nl", "Er is nog niets goedgekeurd."), ("en", "Nothing is approved yet."),
              ("en", "Nothing has been approved yet."))
    for lang, text in honest:
        assert not PROMISES[lang].search(NEGATED[lang].sub("", text)), text


def test_a_date_to_pay_on_is_from_tomorrow_up_to_max_days() -> None:
    today, bounds = date(2026, 11, 28), DateBounds.next_days(30)
    assert (bounds.earliest(today), bounds.latest(today)) == (date(2026, 11, 29),
                                                              date(2026, 12, 28))
    assert parse_date("29-11-2026", today, bounds) == date(2026, 11, 29)
    assert parse_date("28 december", today, bounds) == date(2026, 12, 28)
    for text, problem in (("28-11-2026", DateProblem.PAST), ("29-12-2026", DateProblem.TOO_FAR),
                          ("weet ik niet", DateProblem.DATE_REQUIRED)):
        with pytest.raises(DateInputError) as error:
            parse_date(text, today, bounds)
        assert error.value.problem == problem, text


def test_ticket_fields_follow_the_contract() -> None:
    fields = payment_arrangement.ticket_fields({
        "email": "a@b.nl", "invoice_number": "2026001234", "amount": None,
        "reason_text": "x", "proposal": "instalments", "instalments": "5",
    })
    assert set(fields) >= {"email", "invoice_number", "amount", "reason_text", "proposal"}
    assert fields["proposal"] == {"kind": "instalments", "count": 5}
