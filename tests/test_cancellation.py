"""The cancellation guide (product.md §2.1) end to end, plus its domain check and buttons.

The bot believes it is 28 November 2026 (tests/conftest.py); a renewal on 15 March 2027 means
"cancel by 15 February 2027" and "start a transfer by Monday 8 March 2027".
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any, get_args

import pytest

from bot.config import Config
from bot.dialogs import DIALOGS, cancellation
from bot.forms import RUN_TAG, SUMMARY, Form, FormCb, FormRun, _cb
from bot.texts import LANGUAGES
from knowledge.answers import AnswerError, parse_domain
from tests.client import TelegramUser
from tests.conftest import Balie
from tickets.feedback import FeedbackStore
from tickets.models import Category, Priority, Ticket

PANEL_STEPS = 6


# --- helpers: the customer's way through the guide ---------------------------------------------


async def open_guide(user: TelegramUser, menu_label: str = "Dienst opzeggen") -> None:
    await user.send("/start")
    await user.press(menu_label)


async def walk_panel(user: TelegramUser, next_label: str = "Volgende") -> None:
    for number in range(1, PANEL_STEPS + 1):
        assert f"({number}/{PANEL_STEPS})" in user.last_text()
        await user.press(next_label)


async def to_summary(
    user: TelegramUser, *, service: str, domain: str, renewal: str,
    transfer: str | None = None, immediate: bool = False, reason: str = "Prijs",
    reason_text: str | None = "Te duur geworden", email: str | None = None,
) -> None:
    await open_guide(user)
    await user.press(service)
    await user.send(domain)
    await user.send(renewal)
    await user.press("Volgende")  # the deadlines
    if transfer is not None:
        await user.press(transfer)
    await walk_panel(user)
    if immediate:
        await user.press("Per direct")
        await user.press("Ja, verwijder alles")
    else:
        await user.press("Einde van de termijn")
    await user.press(reason)
    if reason == "Zeg ik liever niet":
        pass  # no reason, so nothing to add to it
    elif reason_text is None:
        await user.press("Overslaan")
    else:
        await user.send(reason_text)
    assert "e-mailadres" in user.last_text()
    if email is None:
        await user.press("Overslaan")
    else:
        await user.send(email)
    assert "Overzicht van je opzegging" in user.last_text()


async def tickets_of(balie: Balie) -> list[Ticket]:
    return await balie.services.tickets.list()


# --- the happy paths ---------------------------------------------------------------------------


async def test_hosting_happy_path_files_a_cancellation_request(
    anna: TelegramUser, balie: Balie
) -> None:
    await open_guide(anna)
    assert "Stap 1 van 15" in anna.last_text()
    assert "Wat wil je opzeggen?" in anna.last_text()
    await anna.press("Hostingpakket")
    assert "Stap 2 van 15" in anna.last_text()
    await anna.send("voorbeeld.nl")
    assert "Stap 3 van 15" in anna.last_text()
    assert "1 december 2026" in anna.buttons() and "Weet ik niet" in anna.buttons()
    await anna.send("15 maart 2027")
    text = anna.last_text()
    assert "Stap 4 van 15" in text
    assert "Opzeggen uiterlijk: 15 februari 2027 (nog 79 dagen)" in text
    assert "verhuizing" not in text  # hosting only: no transfer deadline
    await anna.press("Volgende")
    assert "Stap 5 van 15" in anna.last_text()
    assert "inloggen" in anna.last_text() and "Lukt niet" in anna.buttons()
    await walk_panel(anna)
    assert "Einde van de termijn (aangeraden)" in anna.last_text()
    await anna.press("Einde van de termijn")
    assert "geen voorwaarde" in anna.last_text()
    await anna.press("Prijs")
    await anna.send("Te duur geworden")
    assert "Met welk e-mailadres" in anna.last_text()
    await anna.send("geen-adres")
    assert "lijkt geen e-mailadres" in anna.last_text()
    await anna.send("Anna@Voorbeeld.nl")
    summary = anna.last_text()
    assert "E-mailadres: anna@voorbeeld.nl" in summary
    assert "Stap 15 van 15" in summary
    assert "voorbeeld.nl" in summary and "Opzeggen uiterlijk: 15 februari 2027" in summary
    assert "einde van de termijn" in summary and "Te duur geworden" in summary
    assert "✏️ Verlengdatum" in anna.buttons()

    await anna.press("Dien opzegverzoek in")

    [ticket] = await tickets_of(balie)
    assert f"ticket #{ticket.id}" in anna.last_text()
    # hosting only: the hosting package's renewal, under Diensten, not the domain's
    assert "Diensten" in anna.last_text() and "Mijn Domeinen" not in anna.last_text()
    assert ticket.category is Category.CANCELLATION
    assert ticket.subject == "Opzegging voorbeeld.nl"
    assert ticket.priority is Priority.NORMAL
    assert ticket.customer.telegram_id == anna.id and ticket.customer.language == "nl"
    assert ticket.fields == {
        "service": "hosting", "domain": "voorbeeld.nl", "renewal_date": "2027-03-15",
        "cancel_by": "2027-02-15", "transfer_start_by": None, "too_late": False,
        "transfer": False, "cancellation_type": "end_of_term", "reason": "price",
        "reason_text": "Te duur geworden", "panel_skipped": False,
        "email": "anna@voorbeeld.nl",
    }
    assert ticket.customer.email == "anna@voorbeeld.nl"
    assert "contact met je op via anna@voorbeeld.nl" in anna.last_text()
    [feedback] = await FeedbackStore(balie.services.database).all()
    assert (feedback.route, feedback.ticket_id, feedback.reason) == ("request", ticket.id, "price")


async def test_domain_with_transfer_done_in_the_panel_files_no_ticket(
    anna: TelegramUser, balie: Balie
) -> None:
    await open_guide(anna)
    await anna.press("Domeinnaam")
    await anna.send("www.Café.nl")
    assert "café.nl" in anna.last_text()
    await anna.send("15-03-2027")
    assert "Start de verhuizing uiterlijk 8 maart 2027" in anna.last_text()
    await anna.press("Volgende")
    assert "Stap 5 van 16" in anna.last_text()
    assert "uiterlijk 8 maart 2027" in anna.last_text()
    await anna.press("Verhuizen naar andere provider")
    await walk_panel(anna)
    await anna.press("Einde van de termijn")
    await anna.press("Overstap naar andere provider")
    await anna.press("Overslaan")
    await anna.press("Overslaan")
    summary = anna.last_text()
    assert "Verhuizen: ja, naar een andere provider, starten uiterlijk 8 maart 2027" in summary

    await anna.press("Ik doe het zelf in het klantenpanel")

    assert "Mijn Domeinen" in anna.last_text() and "verlenging" in anna.last_text()
    assert await tickets_of(balie) == []
    [feedback] = await FeedbackStore(balie.services.database).all()
    assert feedback.route == "panel" and feedback.ticket_id is None
    assert (feedback.service, feedback.reason, feedback.reason_text) == ("domain", "moving", None)
    assert feedback.cancellation_type == "end_of_term"


async def test_both_hosting_and_domain_let_expire(anna: TelegramUser, balie: Balie) -> None:
    await to_summary(anna, service="Hosting én domein", domain="https://voorbeeld.nl/",
                     renewal="2027-03-15", transfer="Laten verlopen", reason="Niet meer nodig",
                     reason_text=None)
    assert "Verhuizen: nee, de domeinnaam laten verlopen" in anna.last_text()
    await anna.press("Dien opzegverzoek in")
    [ticket] = await tickets_of(balie)
    assert ticket.fields["service"] == "both" and ticket.fields["domain"] == "voorbeeld.nl"
    assert ticket.fields["transfer"] is False
    assert ticket.fields["transfer_start_by"] == "2027-03-08"
    assert ticket.fields["reason"] == "not_needed" and ticket.fields["reason_text"] is None


async def test_other_product_takes_a_product_name(anna: TelegramUser, balie: Balie) -> None:
    await open_guide(anna)
    await anna.press("Ander product")
    assert "Om welk product gaat het?" in anna.last_text()
    await anna.send("SSL-certificaat <Premium>")
    assert "SSL-certificaat &lt;Premium&gt;" in anna.last_html()
    await anna.press("Weet ik niet")
    await anna.press("Volgende")
    await walk_panel(anna)
    await anna.press("Einde van de termijn")
    await anna.press("Zeg ik liever niet")
    await anna.press("Overslaan")
    assert "Product: SSL-certificaat <Premium>" in anna.last_text()
    assert "Toelichting" not in " ".join(anna.buttons())  # no reason given: nothing to add
    await anna.press("Dien opzegverzoek in")
    [ticket] = await tickets_of(balie)
    assert ticket.fields["service"] == "other"
    assert ticket.fields["domain"] == "SSL-certificaat <Premium>"
    assert ticket.fields["reason"] is None and ticket.fields["renewal_date"] is None


# --- the deadlines ------------------------------------------------------------------------------


async def test_too_late_for_this_period_explains_the_invoice(
    anna: TelegramUser, balie: Balie
) -> None:
    await open_guide(anna)
    await anna.press("Hostingpakket")
    await anna.send("voorbeeld.nl")
    await anna.send("10 december 2026")
    text = anna.last_text()
    assert "Voor deze periode is het te laat" in text
    assert "kon tot en met 10 november 2026" in text
    assert "moet betaald worden" in text
    await anna.press("Volgende")
    await walk_panel(anna)
    await anna.press("Einde van de termijn")
    await anna.press("Prijs")
    await anna.press("Overslaan")
    await anna.press("Overslaan")
    assert "te laat voor deze periode" in anna.last_text()
    await anna.press("Dien opzegverzoek in")
    assert "moet nog betaald worden" in anna.last_text()
    [ticket] = await tickets_of(balie)
    assert ticket.fields["too_late"] is True and ticket.fields["cancel_by"] == "2026-11-10"


async def test_deadline_close_by_gets_priority_high(anna: TelegramUser, balie: Balie) -> None:
    balie.today = date(2027, 2, 10)
    await to_summary(anna, service="Hostingpakket", domain="voorbeeld.nl", renewal="15-03-2027")
    assert "Opzeggen uiterlijk: 15 februari 2027" in anna.last_text()
    await anna.press("Dien opzegverzoek in")
    [ticket] = await tickets_of(balie)
    assert ticket.priority is Priority.HIGH


async def test_unknown_renewal_date_explains_where_to_find_it(
    anna: TelegramUser, balie: Balie
) -> None:
    await open_guide(anna)
    await anna.press("Domeinnaam")
    await anna.send("voorbeeld.nl")
    await anna.send("weet ik niet")
    text = anna.last_text()
    assert "laatste factuur" in text and "klantenpanel" in text
    assert "uiterlijk" not in text  # nothing computed from a guess
    await anna.press("Volgende")
    assert "Start uiterlijk" not in anna.last_text()
    await anna.press("Laten verlopen")
    await walk_panel(anna)
    await anna.press("Einde van de termijn")
    await anna.press("Prijs")
    await anna.press("Overslaan")
    await anna.press("Overslaan")
    assert "Verlengdatum: onbekend" in anna.last_text()
    await anna.press("Dien opzegverzoek in")
    [ticket] = await tickets_of(balie)
    assert ticket.fields["renewal_date"] is None and ticket.fields["cancel_by"] is None


# --- immediately or end of term -----------------------------------------------------------------


async def test_immediately_after_the_second_confirmation(
    anna: TelegramUser, balie: Balie
) -> None:
    await to_summary(anna, service="Hostingpakket", domain="voorbeeld.nl", renewal="15-03-2027")
    await anna.press("✏️ Wanneer")
    await anna.press("Per direct")
    text = anna.last_text()
    assert "Weet je het zeker?" in text and "niet meer worden teruggezet" in text
    assert "back-up" in text
    await anna.press("Ja, verwijder alles: ik heb een back-up")
    assert "per direct" in anna.last_text() and "back-up" in anna.last_text()
    await anna.press("Dien opzegverzoek in")
    [ticket] = await tickets_of(balie)
    assert ticket.fields["cancellation_type"] == "immediate"
    assert ticket.priority is Priority.HIGH


async def test_immediately_declined_at_the_confirmation_is_end_of_term(
    anna: TelegramUser, balie: Balie
) -> None:
    await open_guide(anna)
    await anna.press("Hostingpakket")
    await anna.send("voorbeeld.nl")
    await anna.press("1 februari 2027")
    await anna.press("Volgende")
    await walk_panel(anna)
    assert "Stap 11 van 15" in anna.last_text()
    await anna.press("Per direct")
    assert "Stap 12 van 16" in anna.last_text()  # the confirmation is a step of its own
    await anna.press("Nee, toch einde van de termijn")
    assert "Stap 12 van 15" in anna.last_text()  # straight on to the reason
    await anna.press("Prijs")
    await anna.press("Overslaan")
    await anna.press("Overslaan")
    assert "Wanneer: einde van de termijn" in anna.last_text()
    await anna.press("Dien opzegverzoek in")
    [ticket] = await tickets_of(balie)
    assert ticket.fields["cancellation_type"] == "end_of_term"
    assert ticket.fields["renewal_date"] == "2027-02-01"


# --- moving around --------------------------------------------------------------------------------


async def test_back_navigation_keeps_the_answers(anna: TelegramUser, balie: Balie) -> None:
    await open_guide(anna)
    assert "Terug" not in " ".join(anna.buttons())  # nothing to go back to at the first step
    await anna.press("Domeinnaam")
    await anna.send("voorbeeld.nl")
    await anna.press("Terug")
    assert "Om welke domeinnaam gaat het?" in anna.last_text()
    await anna.press("Terug")
    assert "Wat wil je opzeggen?" in anna.last_text()
    await anna.press("Hostingpakket")  # changes the answer: no transfer question any more
    await anna.send("voorbeeld.nl")
    await anna.send("15-03-2027")
    await anna.press("Volgende")
    assert "(1/6)" in anna.last_text()
    await anna.press("Volgende")
    await anna.press("Terug")
    assert "(1/6)" in anna.last_text()
    await anna.press("Terug")
    assert "Je deadlines" in anna.last_text()
    await anna.press("Volgende")
    await walk_panel(anna)
    await anna.press("Per direct")
    await anna.press("Nee, toch einde van de termijn")
    await anna.press("Terug")  # the confirmation no longer applies: back to the choice
    assert "Wanneer moet de opzegging ingaan?" in anna.last_text()
    assert await tickets_of(balie) == []


async def test_editing_the_renewal_date_from_the_summary_shows_new_deadlines(
    anna: TelegramUser, balie: Balie
) -> None:
    await to_summary(anna, service="Hostingpakket", domain="voorbeeld.nl", renewal="15-03-2027")
    await anna.press("✏️ Verlengdatum")
    await anna.send("1 april 2027")
    assert "Opzeggen uiterlijk: 1 maart 2027" in anna.last_text()  # the deadlines again
    await anna.press("Volgende")
    assert "Overzicht van je opzegging" in anna.last_text()  # not the six panel steps again
    assert "Verlengdatum: 1 april 2027" in anna.last_text()
    await anna.press("Dien opzegverzoek in")
    [ticket] = await tickets_of(balie)
    assert ticket.fields["renewal_date"] == "2027-04-01"
    assert ticket.fields["cancel_by"] == "2027-03-01"


async def test_stop_midway_files_nothing(anna: TelegramUser, balie: Balie) -> None:
    await open_guide(anna)
    await anna.press("Hostingpakket")
    await anna.send("voorbeeld.nl")
    await anna.send("/stop")
    assert "Er is niets verstuurd" in anna.last_text()
    await anna.send("15-03-2027")  # no longer in the dialog: not taken as a date
    assert await tickets_of(balie) == []
    assert await FeedbackStore(balie.services.database).all() == []


async def test_stop_button_files_nothing(anna: TelegramUser, balie: Balie) -> None:
    await to_summary(anna, service="Hostingpakket", domain="voorbeeld.nl", renewal="15-03-2027")
    await anna.press("Stop")
    assert "Er is niets verstuurd" in anna.last_text()
    assert await tickets_of(balie) == []


async def test_stuck_in_the_panel_offers_help_and_a_request(
    anna: TelegramUser, balie: Balie
) -> None:
    await open_guide(anna)
    await anna.press("Hostingpakket")
    await anna.send("voorbeeld.nl")
    await anna.send("15-03-2027")
    await anna.press("Volgende")
    await anna.press("Volgende")
    assert "(2/6)" in anna.last_text()
    await anna.press("Lukt niet")
    text = anna.last_text()
    assert "Lukt het niet?" in text and balie.services.config.provider.email in text
    assert "(2/6)" in text  # the step is still here: nothing is lost
    assert "Sla over: dien het verzoek via mij in" in anna.buttons()
    await anna.press("Sla over: dien het verzoek via mij in")
    assert "Wanneer moet de opzegging ingaan?" in anna.last_text()
    await anna.press("Einde van de termijn")
    await anna.press("Support en service")
    await anna.send("Kan niet inloggen")
    await anna.send("anna@voorbeeld.nl")
    await anna.press("Dien opzegverzoek in")
    [ticket] = await tickets_of(balie)
    assert ticket.fields["panel_skipped"] is True
    assert ticket.fields["reason"] == "support"


async def test_free_text_at_a_button_step_shows_the_step_again(anna: TelegramUser) -> None:
    await open_guide(anna)
    await anna.send("hallo?")
    assert "Wat wil je opzeggen?" in anna.last_text()
    await anna.send_sticker()
    assert "Wat wil je opzeggen?" in anna.last_text()
    await anna.press("Hostingpakket")
    assert "Om welke domeinnaam" not in anna.last_text()  # hosting asks for its domain
    assert "Bij welke domeinnaam hoort het hostingpakket?" in anna.last_text()


async def test_stale_button_is_handled_gracefully(anna: TelegramUser, balie: Balie) -> None:
    await open_guide(anna)
    first = anna.last_message().message_id
    await anna.press("Hostingpakket")
    await anna.send("voorbeeld.nl")  # the answer arrives as a new message
    await anna.press_data(FormCb(form="cancellation", step="service", action="pick",
                                 value="domain").pack(), message_id=first)
    assert "Deze knop hoort bij een eerder bericht" in " ".join(
        answer or "" for answer in anna.callback_answers())
    assert "Wanneer begint de volgende contractperiode" in anna.last_text()
    await anna.press_data("f:cancellation:renewal_date:pick:not-a-date")  # forged
    assert "Wanneer begint de volgende contractperiode" in anna.last_text()
    await anna.press_data("f:nonsense")
    assert "Wanneer begint de volgende contractperiode" in anna.last_text()
    assert await tickets_of(balie) == []


async def test_deep_link_opens_the_guide(anna: TelegramUser) -> None:
    await anna.send("/start opzeggen")
    assert "Stap 1 van 15" in anna.last_text() and "Wat wil je opzeggen?" in anna.last_text()


# --- bad input ------------------------------------------------------------------------------


async def test_invalid_domains_and_dates_are_asked_again(anna: TelegramUser) -> None:
    await open_guide(anna)
    await anna.press("Domeinnaam")
    for bad in ("hallo wereld", "voorbeeld", "-voorbeeld.nl", "voor_beeld.nl", "x" * 400):
        await anna.send(bad)
        assert "Om welke domeinnaam gaat het?" in anna.last_text(), bad
        assert "Stap 2 van" in anna.last_text()
    assert "te lang" in anna.last_text()  # the last one: 400 characters
    await anna.send("hallo wereld")
    assert "geen geldige domeinnaam" in anna.last_text()
    await anna.send("voorbeeld.nl")
    for bad, problem in (("31-02-2027", "bestaat niet"), ("1 januari 2020", "in het verleden"),
                         ("morgen", "kan ik niet lezen"), ("1-1-2040", "ver weg"),
                         ("<b>15</b> maart", "kan ik niet lezen")):
        await anna.send(bad)
        assert problem in anna.last_text(), bad
        assert "Wanneer begint de volgende contractperiode" in anna.last_text()
    await anna.send("15/3/27")
    assert "15 februari 2027" in anna.last_text()


async def test_several_domains_are_taken_one_at_a_time(anna: TelegramUser) -> None:
    await open_guide(anna)
    await anna.press("Domeinnaam")
    await anna.send("bakkerij-jansen.nl en jansen.com")
    text = anna.last_text()
    assert "meer dan één domeinnaam: bakkerij-jansen.nl, jansen.com" in text
    assert "één voor één" in text and "Stap 2 van" in text
    await anna.send("jansen.com")
    assert "Wanneer begint de volgende contractperiode" in anna.last_text()


async def test_english_customer_is_told_one_domain_at_a_time(john: TelegramUser) -> None:
    await open_guide(john, "Cancel a service")
    await john.press("Domain name")
    await john.send("a.nl, b.nl")
    assert "more than one domain name: a.nl, b.nl" in john.last_text()
    assert "one at a time" in john.last_text()


async def test_english_month_first_renewal_date(john: TelegramUser) -> None:
    await open_guide(john, "Cancel a service")
    await john.press("Domain name")
    await john.send("example.com")
    await john.send("3/15/2027")
    assert "Cancel by: February 15, 2027" in john.last_text()


async def test_a_bad_email_address_is_asked_again_with_the_skip_hint(anna: TelegramUser) -> None:
    await open_guide(anna)
    await anna.press("Hostingpakket")
    await anna.send("voorbeeld.nl")
    await anna.send("15-03-2027")
    await anna.press("Volgende")
    await walk_panel(anna)
    await anna.press("Einde van de termijn")
    await anna.press("Zeg ik liever niet")
    await anna.send("anna@voorbeeld")
    assert "geen e-mailadres" in anna.last_text() and "„Overslaan”" in anna.last_text()
    await anna.send("Anna@Voorbeeld.nl")
    assert "Overzicht van je opzegging" in anna.last_text()
    assert "anna@voorbeeld.nl" in anna.last_text()


# --- robustness ---------------------------------------------------------------------------------


async def test_restart_mid_dialog_carries_on(anna: TelegramUser, balie: Balie) -> None:
    await open_guide(anna)
    await anna.press("Domeinnaam")
    await anna.send("voorbeeld.nl")
    await anna.send("15-03-2027")
    await anna.press("Volgende")
    await anna.press("Laten verlopen")
    await anna.press("Volgende")
    assert "(2/6)" in anna.last_text()

    await balie.restart()

    await anna.press("Volgende")
    assert "(3/6)" in anna.last_text() and "voorbeeld.nl" in anna.last_text()
    for _ in range(4):
        await anna.press("Volgende")
    await anna.press("Einde van de termijn")
    await anna.press("Prijs")
    await anna.press("Overslaan")
    await anna.press("Overslaan")
    await anna.press("Dien opzegverzoek in")
    [ticket] = await tickets_of(balie)
    assert ticket.fields["domain"] == "voorbeeld.nl" and ticket.fields["transfer"] is False


async def test_double_confirmation_files_one_ticket(anna: TelegramUser, balie: Balie) -> None:
    await to_summary(anna, service="Hostingpakket", domain="voorbeeld.nl", renewal="15-03-2027")
    summary = anna.last_message()
    data = next(data for label, data in (b for row in summary.buttons for b in row)
                if label.endswith("Dien opzegverzoek in"))
    assert data is not None
    await anna.press_data(data, message_id=summary.message_id)
    await anna.press_data(data, message_id=summary.message_id)
    tickets = await tickets_of(balie)
    assert len(tickets) == 1
    assert sum(f"ticket #{tickets[0].id}" in text for text in anna.texts()) == 1
    assert len(await FeedbackStore(balie.services.database).all()) == 1


async def test_english_customer_files_a_request(john: TelegramUser, balie: Balie) -> None:
    await john.send("/start")
    await john.press("Cancel a service")
    assert "Step 1 of 15" in john.last_text()
    assert "What would you like to cancel?" in john.last_text()
    await john.press("Domain name")
    await john.send("example.com")
    assert "December 1, 2026" in john.buttons()
    await john.send("15 March 2027")
    text = john.last_text()
    assert "Cancel by: February 15, 2027 (79 days left)" in text
    assert "Start the transfer by March 8, 2027" in text
    await john.press("Next")
    await john.press("Transfer to another provider")
    for _ in range(PANEL_STEPS):
        await john.press("Next")
    await john.press("End of term")
    assert "don't have to" in john.last_text()
    await john.press("Price")
    await john.press("Skip")
    await john.send("john@example.com")
    assert "Summary of your cancellation" in john.last_text()
    await john.press("File a cancellation request")
    [ticket] = await tickets_of(balie)
    assert f"ticket #{ticket.id}" in john.last_text() and "Mijn Domeinen" in john.last_text()
    assert ticket.customer.language == "en"
    assert ticket.fields["transfer"] is True and ticket.fields["domain"] == "example.com"
    assert ticket.fields["renewal_date"] == "2027-03-15"


# --- Telegram-free pieces -------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "domain"), [
    ("voorbeeld.nl", "voorbeeld.nl"),
    ("  Voorbeeld.NL ", "voorbeeld.nl"),
    ("www.café.nl", "café.nl"),
    ("https://www.voorbeeld.nl/contact?x=1", "voorbeeld.nl"),
    ("voorbeeld.nl.", "voorbeeld.nl"),
    ("www.nl", "www.nl"),
    ("shop.voorbeeld.co.uk", "shop.voorbeeld.co.uk"),
    ("xn--caf-dma.nl", "café.nl"),
    ("bücher.de", "bücher.de"),
    ("пример.рф", "пример.рф"),
])
def test_domain_names_are_accepted(typed: str, domain: str) -> None:
    assert parse_domain(typed) == domain


@pytest.mark.parametrize("typed", [
    "", "hallo wereld", "voorbeeld", "voorbeeld.", ".nl", "-a.nl", "a-.nl", "voor_beeld.nl",
    "a..nl", "voorbeeld.n1", "x" * 64 + ".nl", ("a" * 60 + ".") * 5 + "nl", "<b>x</b>.nl",
    "voorbeeld.nl met spatie", "ex ample.com",
])
def test_domain_names_are_rejected(typed: str) -> None:
    with pytest.raises(AnswerError) as raised:
        parse_domain(typed)
    assert raised.value.problem == "domain"


REGISTERED_FORMS = [form for dialog in DIALOGS for form in dialog.forms]
ACTIONS = get_args(FormCb.model_fields["action"].annotation)


def _option_values(form: Form, run: FormRun) -> list[str]:
    """Every value a button of the form can carry: the options of every step (with all the
    values that make optional options appear), the fields it edits, its final choices."""
    values = ["", *form.editable, *(option.value for option in form.finish)]
    for step in form.steps:
        run.step = step.name
        values.extend(option.value for option in step.options_for(run))
    return values


def _worst_buttons(form: Form) -> list[str]:
    """Buttons packed by the form mechanism itself (`_cb`, with a full-length run id), for
    every action, with the form's longest step name and its longest value: if these fit,
    every button the form can show fits."""
    services = SimpleNamespace(today=lambda: date(2026, 11, 28), config=Config())
    packed: list[str] = []
    for lang in LANGUAGES:
        conv: Any = SimpleNamespace(lang=lang, services=services)
        run = FormRun(form, conv, "", {"panel_stuck": True}, [], "f" * 12)
        longest_value = max(_option_values(form, run), key=lambda v: len(v.encode()))
        longest_step = max([SUMMARY, *(step.name for step in form.steps)],
                           key=lambda name: len(name.encode()))
        run.step = longest_step
        for action in ACTIONS:
            try:
                packed.append(_cb(run, action, longest_value))
            except ValueError:  # aiogram refuses to pack more than 64 bytes
                packed.append(f"TOO LONG: {form.name} {longest_step} {action} {longest_value}")
    return packed


def test_the_registry_has_the_forms_the_dialogs_declare() -> None:
    assert {form.name for form in REGISTERED_FORMS} >= {"cancellation", "deadlines"}
    assert set(ACTIONS) == {"pick", "next", "back", "stop", "edit", "done"}


@pytest.mark.parametrize("form", REGISTERED_FORMS, ids=lambda f: f.name)
def test_every_button_fits_telegrams_64_bytes(form: Form) -> None:
    packed = _worst_buttons(form)
    too_long = [data for data in packed if data.startswith("TOO LONG") or len(data.encode()) > 64]
    assert too_long == []
    assert all(data.endswith(f":{'f' * RUN_TAG}") for data in packed)  # the run tag is in


def test_ticket_fields_follow_the_contract() -> None:
    fields = cancellation.ticket_fields({
        "service": "domain", "domain": "voorbeeld.nl", "renewal_date": "unknown",
        "transfer": "move", "cancellation_type": "end_of_term", "reason": "skipped",
        "reason_text": None,
    })
    assert {"service", "domain", "renewal_date", "cancel_by", "transfer", "cancellation_type",
            "reason", "reason_text"} <= set(fields)
    assert fields["renewal_date"] is None and fields["transfer"] is True
    assert fields["reason"] is None


async def test_feedback_is_kept_once_per_run_for_statistics(balie: Balie) -> None:
    from tickets.feedback import CancellationFeedback

    store = FeedbackStore(balie.services.database)
    first = CancellationFeedback("run1", 1, "nl", "hosting", "end_of_term", "price", None, "panel")
    assert await store.record(first) is True
    assert await store.record(first) is False  # the same run again
    await store.record(CancellationFeedback("run2", 2, "en", "domain", "immediate", None, None,
                                            "request"))
    assert await store.reason_counts() == {"none": 1, "price": 1}


# --- every text follows what is being cancelled ---------------------------------------------------


SERVICE_LABELS = {"hosting": "Hostingpakket", "domain": "Domeinnaam",
                  "both": "Hosting én domein", "other": "Ander product"}


async def walk_guide(user: TelegramUser, service: str, name: str) -> dict[str, str]:
    """The whole guide in Dutch, "per direct" confirmed, done in the panel: every text it
    showed, by step."""
    seen: dict[str, str] = {}
    await open_guide(user)
    await user.press(SERVICE_LABELS[service])
    await user.send(name)
    await user.send("15-03-2027")
    await user.press("Volgende")
    if service in ("domain", "both"):
        await user.press("Laten verlopen")
    for number in range(1, PANEL_STEPS + 1):
        seen[f"panel_{number}"] = user.last_text()
        await user.press("Volgende")
    seen["cancellation_type"] = user.last_text()
    await user.press("Per direct")
    seen["confirm_immediate"] = user.last_text()
    await user.press("Ja, verwijder alles")
    await user.press("Prijs")
    await user.press("Overslaan")
    await user.press("Overslaan")
    seen["summary"] = user.last_text()
    await user.press("Ik doe het zelf in het klantenpanel")
    seen["done_panel"] = user.last_text()
    await user.press("Dien het verzoek toch via mij in")
    await user.press("Dien opzegverzoek in")
    seen["done_request"] = user.last_text()
    return seen


IMMEDIATE_TEXTS = ("panel_5", "cancellation_type", "confirm_immediate")
CHECK_TEXTS = ("panel_6", "done_panel")


async def test_hosting_only_never_speaks_of_the_domains_renewal(anna: TelegramUser) -> None:
    seen = await walk_guide(anna, "hosting", "voorbeeld.nl")
    assert "hostingpakket van voorbeeld.nl" in seen["panel_3"]
    assert "verlenging van de domeinnaam kunt" not in seen["panel_4"]
    assert "Zet die van het hostingpakket stop" in seen["panel_4"]
    assert "laat de verlenging van de domeinnaam dan gewoon aan staan" in seen["panel_4"]
    for step in CHECK_TEXTS:
        assert "Mijn Domeinen" not in seen[step], step
        assert "onder Diensten dat de verlenging van het hostingpakket van voorbeeld.nl" \
            in seen[step], step
    # filed after all from the panel route: nothing to check in the panel any more
    assert "Mijn Domeinen" not in seen["done_request"]
    for step in IMMEDIATE_TEXTS:
        assert "hosting space van voorbeeld.nl wordt direct" in seen[step], step
        assert "opgeheven" not in seen[step], step  # no domain name is cancelled


async def test_domain_only_immediately_speaks_of_the_domain(anna: TelegramUser) -> None:
    seen = await walk_guide(anna, "domain", "jansen.frl")
    assert "Klik op de domeinnaam jansen.frl" in seen["panel_3"]
    assert "automatische verlenging van de domeinnaam" in seen["panel_4"]
    for step in IMMEDIATE_TEXTS:
        assert "hosting space" not in seen[step], step
        assert "domeinnaam jansen.frl wordt direct opgeheven" in seen[step], step
    for step in CHECK_TEXTS:
        assert "onder Mijn Domeinen dat de verlenging van de domeinnaam jansen.frl" \
            in seen[step], step
        assert "Diensten" not in seen[step], step


async def test_hosting_and_domain_speak_of_both(anna: TelegramUser) -> None:
    seen = await walk_guide(anna, "both", "voorbeeld.nl")
    for step in IMMEDIATE_TEXTS:
        assert "hosting space van voorbeeld.nl" in seen[step], step
        assert "domeinnaam wordt meteen opgeheven" in seen[step], step
    for step in CHECK_TEXTS:
        assert "het hostingpakket is opgezegd" in seen[step], step
        assert "Mijn Domeinen" in seen[step], step


async def test_another_product_speaks_of_the_product_only(anna: TelegramUser) -> None:
    seen = await walk_guide(anna, "other", "E-mailpakket Plus")
    for step in ("panel_3", "panel_4", "panel_5", "panel_6", "cancellation_type",
                 "confirm_immediate", "done_panel", "done_request"):
        assert "domeinnaam" not in seen[step].lower(), step
        assert "hosting space" not in seen[step], step
        assert "Mijn Domeinen" not in seen[step], step
    assert "E-mailpakket Plus stopt direct" in seen["confirm_immediate"]
    assert "onder Diensten dat de verlenging van E-mailpakket Plus" in seen["done_panel"]


async def test_english_texts_follow_what_is_cancelled(john: TelegramUser) -> None:
    await open_guide(john, "Cancel a service")
    await john.press("Domain name")
    await john.send("jansen.frl")
    await john.send("March 15, 2027")
    await john.press("Next")
    await john.press("Let it expire")
    for _ in range(PANEL_STEPS - 1):
        await john.press("Next")
    assert "Mijn Domeinen" in john.last_text() and "jansen.frl" in john.last_text()
    await john.press("Next")
    await john.press("Immediately")
    text = john.last_text()
    assert "hosting space" not in text
    assert "the domain name jansen.frl is cancelled right away" in text


# --- "lukt niet → sla over": the summary and confirmation for who cannot log in ----------------


async def skip_the_panel(user: TelegramUser, stuck: str, skip: str, next_label: str,
                         end_of_term: str, no_reason: str, skip_label: str) -> None:
    await user.press(next_label)  # the deadlines
    await user.press(stuck)
    await user.press(skip)
    await user.press(end_of_term)
    await user.press(no_reason)
    await user.press(skip_label)  # no e-mail address


async def test_skipped_panel_summary_and_confirmation_ask_nothing_of_the_panel(
    anna: TelegramUser, balie: Balie
) -> None:
    await open_guide(anna)
    await anna.press("Hostingpakket")
    await anna.send("voorbeeld.nl")
    await anna.send("15-03-2027")
    await skip_the_panel(anna, "Lukt niet", "Sla over", "Volgende", "Einde van de termijn",
                         "Zeg ik liever niet", "Overslaan")
    summary = anna.last_text()
    assert "Overzicht van je opzegging" in summary
    assert "Zelf in het klantenpanel" not in summary and "stappen die ik liet zien" not in summary
    assert "hoef je zelf niet in te loggen" in summary
    assert "Ik doe het zelf in het klantenpanel" not in anna.buttons()
    await anna.press("Dien opzegverzoek in")
    done = anna.last_text()
    [ticket] = await tickets_of(balie)
    assert f"ticket #{ticket.id}" in done and ticket.fields["panel_skipped"] is True
    assert "Controleer" not in done and "Diensten" not in done
    assert "Je hoeft zelf niets in het klantenpanel te doen" in done


async def test_english_skipped_panel_summary_and_confirmation(
    john: TelegramUser, balie: Balie
) -> None:
    await open_guide(john, "Cancel a service")
    await john.press("Domain name")
    await john.send("example.com")
    await john.send("March 15, 2027")
    await john.press("Next")
    await john.press("Let it expire")
    await john.press("I'm stuck")
    await john.press("Skip: have me file the request")
    await john.press("End of term")
    await john.press("I'd rather not say")
    await john.press("Skip")
    summary = john.last_text()
    assert "Do it yourself in the client panel" not in summary
    assert "you don't have to log in yourself" in summary
    await john.press("File a cancellation request")
    done = john.last_text()
    assert "You don't need to do anything in the client panel yourself" in done
    assert "Mijn Domeinen" not in done
    [ticket] = await tickets_of(balie)
    assert ticket.fields["panel_skipped"] is True


# --- done in the panel, then "lukt het toch niet": the request from the same answers -------------


async def test_done_panel_files_the_request_from_the_same_answers(
    anna: TelegramUser, balie: Balie
) -> None:
    await to_summary(anna, service="Hostingpakket", domain="voorbeeld.nl", renewal="15-03-2027",
                     email="anna@voorbeeld.nl")
    await anna.press("Ik doe het zelf in het klantenpanel")
    assert "Start de opzeghulp opnieuw" not in anna.last_text()
    assert "je antwoorden heb ik nog" in anna.last_text()
    done = anna.last_message().message_id
    assert await tickets_of(balie) == []

    await anna.send("/menu")  # later, after a restart: the answers are still there
    await balie.restart()
    await anna.press("Dien het verzoek toch via mij in", message_id=done)

    summary = anna.last_text()
    assert "Overzicht van je opzegging" in summary
    assert "Opzeggen uiterlijk: 15 februari 2027" in summary
    assert "Te duur geworden" in summary and "anna@voorbeeld.nl" in summary
    assert "Zelf in het klantenpanel" not in summary
    assert "Ik doe het zelf in het klantenpanel" not in anna.buttons()
    await anna.press("Dien opzegverzoek in")
    [ticket] = await tickets_of(balie)
    assert f"ticket #{ticket.id}" in anna.last_text()
    assert ticket.fields["domain"] == "voorbeeld.nl" and ticket.fields["reason"] == "price"
    assert ticket.fields["reason_text"] == "Te duur geworden"
    assert ticket.fields["panel_skipped"] is True
    # still one guide in the statistics, now the request with its ticket
    [feedback] = await FeedbackStore(balie.services.database).all()
    assert (feedback.route, feedback.ticket_id) == ("request", ticket.id)


async def test_english_done_panel_offers_the_request(john: TelegramUser, balie: Balie) -> None:
    await open_guide(john, "Cancel a service")
    await john.press("Hosting package")
    await john.send("example.com")
    await john.press("January 1, 2027")
    await john.press("Next")
    for _ in range(PANEL_STEPS):
        await john.press("Next")
    await john.press("End of term")
    await john.press("Price")
    await john.press("Skip")
    await john.press("Skip")
    await john.press("I'll do it in the client panel")
    assert "Start the guide again" not in john.last_text()
    assert "I still have your answers" in john.last_text()
    await john.press("Have me file the request instead")
    assert "Summary of your cancellation" in john.last_text()
    await john.press("File a cancellation request")
    [ticket] = await tickets_of(balie)
    assert ticket.fields["renewal_date"] == "2027-01-01"
    assert ticket.customer.language == "en"


async def test_the_button_after_the_end_is_checked(
    anna: TelegramUser, john: TelegramUser, balie: Balie
) -> None:
    await to_summary(anna, service="Hostingpakket", domain="voorbeeld.nl", renewal="15-03-2027")
    await anna.press("Ik doe het zelf in het klantenpanel")
    done = anna.last_message()
    [data] = [data for label, data in (b for row in done.buttons for b in row)
              if "toch via mij" in label]
    assert data is not None and len(data.encode()) <= 64
    await john.send("/start")
    await john.press_data(data)  # another customer's guide: not his
    assert await tickets_of(balie) == []
    assert "Summary" not in john.last_text()
    forged = cancellation.AfterCb(action="request", run="0" * 12).pack()
    await anna.press_data(forged, message_id=done.message_id)
    assert "Deze knop hoort bij een eerder bericht" in " ".join(
        answer or "" for answer in anna.callback_answers())
    assert await tickets_of(balie) == []


# --- several domains typed at once: the next one is offered at the end ---------------------------


async def test_the_other_domain_typed_is_offered_at_the_end(
    anna: TelegramUser, balie: Balie
) -> None:
    await open_guide(anna)
    await anna.press("Domeinnaam")
    await anna.send("bakkerij-jansen.nl en jansen.com")
    assert "één voor één" in anna.last_text()
    await anna.send("bakkerij-jansen.nl")
    await anna.send("15-03-2027")
    await anna.press("Volgende")
    await anna.press("Laten verlopen")
    await walk_panel(anna)
    await anna.press("Einde van de termijn")
    await anna.press("Zeg ik liever niet")
    await anna.press("Overslaan")
    await anna.press("Ik doe het zelf in het klantenpanel")
    assert "Nu jansen.com opzeggen" in anna.buttons()

    await anna.press("Nu jansen.com opzeggen")

    text = anna.last_text()
    assert "Wanneer begint de volgende contractperiode van jansen.com?" in text
    await anna.send("1-4-2027")
    await anna.press("Volgende")
    await anna.press("Laten verlopen")
    await walk_panel(anna)
    await anna.press("Einde van de termijn")
    await anna.press("Zeg ik liever niet")
    await anna.press("Overslaan")
    assert "Wat: Domeinnaam" in anna.last_text() and "Domein: jansen.com" in anna.last_text()
    await anna.press("Dien opzegverzoek in")
    [ticket] = await tickets_of(balie)
    assert ticket.fields["domain"] == "jansen.com" and ticket.fields["service"] == "domain"
    assert not any("opzeggen" in label for label in anna.buttons())  # none left


async def test_three_domains_are_offered_one_after_another(
    john: TelegramUser, balie: Balie
) -> None:
    await open_guide(john, "Cancel a service")
    await john.press("Hosting and domain")
    await john.send("a.nl, b.nl, c.nl")
    await john.send("b.nl")
    await john.press("I don't know")
    await john.press("Next")
    await john.press("Let it expire")
    for _ in range(PANEL_STEPS):
        await john.press("Next")
    await john.press("End of term")
    await john.press("I'd rather not say")
    await john.press("Skip")
    await john.press("File a cancellation request")
    assert "Cancel a.nl now" in john.buttons()  # on the confirmation from the outbox
    await john.press("Cancel a.nl now")
    assert "a.nl" in john.last_text() and "When does the next contract period" in john.last_text()
    await john.press("I don't know")
    await john.press("Next")
    await john.press("Let it expire")
    for _ in range(PANEL_STEPS):
        await john.press("Next")
    await john.press("End of term")
    await john.press("I'd rather not say")
    await john.press("Skip")
    await john.press("I'll do it in the client panel")
    assert "Cancel c.nl now" in john.buttons()
    first, = [t for t in await tickets_of(balie)]
    assert first.fields["domain"] == "b.nl" and first.fields["service"] == "both"


# --- English as a native speaker writes it; one date style per language ---------------------------


_DAY_FIRST_EN = r"\b\d{1,2} (January|February|March|April|May|June|July|August|September|" \
    r"October|November|December)\b"


def test_english_dates_are_written_month_first_everywhere() -> None:
    import re

    from bot.texts import TEMPLATES

    for path in (TEMPLATES / "en").rglob("*"):
        if path.suffix in (".j2", ".toml"):
            assert not re.search(_DAY_FIRST_EN, path.read_text("utf-8")), path


async def test_english_guide_reads_as_english(john: TelegramUser) -> None:
    await open_guide(john, "Cancel a service")
    await john.press("Domain name")
    await john.send("example.com")
    prompt = john.last_text()
    assert "March 15, 2027" in prompt and "15 March" not in prompt
    assert "December 1, 2026" in john.buttons()  # the same style as the example
    await john.send("March 15, 2027")
    text = john.last_text()
    assert "Cancel by: February 15, 2027 (79 days left)" in text
    assert "also after cancelling" not in text and "Started too late" not in text
    assert "Once an invoice has been issued, it has to be paid" in text
    assert "If you start later, the domain won't move until the new contract period" in text
