"""What customers type instead of a command or a button (issue 12), end to end.

A whole message "help", "stop", "terug", "menu", "start"/"opnieuw" (any case, with
punctuation) acts as what it names; inside a sentence it is a question. At a button step a
typed answer that names one button presses it, through the press path (so "per direct" still
asks its confirmation). Every test pins the day: 28 November 2026, a renewal on 15 March 2027
means "cancel by 15 February 2027".
"""

from __future__ import annotations

import tomllib
from datetime import date
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.texts import LANGUAGES, TEMPLATES
from knowledge.typed import COMMANDS, TypedWords, command_of, pick
from tests.client import TelegramUser
from tests.conftest import Balie, BalieConsole
from tests.test_cancellation import walk_panel
from tests.test_my_tickets import file
from tests.test_payment import REASON_NL
from tickets.feedback import FeedbackStore

TODAY = date(2026, 11, 28)
HELP = "Zo werk ik"
STOPPED = "Gestopt. Er is niets verstuurd."
SERVICE = "Wat wil je opzeggen?"
DOMAIN = "Bij welke domeinnaam hoort het hostingpakket?"
SURE = "Weet je het zeker?"
REASON = "Mag ik vragen waarom je opzegt?"


@pytest.fixture
def pinned(balie: Balie) -> Balie:
    balie.today = TODAY
    return balie


async def state_of(balie: Balie, user: TelegramUser) -> tuple[str | None, dict[str, Any]]:
    assert balie.app is not None
    key = StorageKey(bot_id=balie.app.bot.id, chat_id=user.id, user_id=user.id)
    return await balie.app.storage.get_state(key), await balie.app.storage.get_data(key)


async def questions(balie: Balie) -> list[str]:
    rows = await balie.services.database.fetchall("SELECT text FROM questions ORDER BY id")
    return [row["text"] for row in rows]


async def to_cancellation_type(user: TelegramUser) -> None:
    await user.send("/start opzeggen")
    await user.press("Hostingpakket")
    await user.send("voorbeeld.nl")
    await user.send("15-03-2027")
    await user.press("Volgende")
    await walk_panel(user)
    assert "Einde van de termijn" in " ".join(user.buttons())


# --- commands typed as words ---------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["help", "Help?", "HULP!", " help ", "help 🙏"])
async def test_help_typed_is_the_help_not_a_question(
    typed: str, anna: TelegramUser, pinned: Balie
) -> None:
    await anna.send(typed)
    assert HELP in anna.last_text()
    assert "Bedoel je" not in anna.last_text()
    assert await questions(pinned) == []  # not a question: nothing in the question log


async def test_menu_start_opnieuw_and_stop_outside_a_dialog(
    anna: TelegramUser, pinned: Balie
) -> None:
    await anna.send("menu")
    assert "Waarmee kan ik je helpen? Kies hieronder" in anna.last_text()
    assert "✂️ Dienst opzeggen" in anna.buttons()
    await anna.send("Start")
    assert "Hoi Anna! 👋" in anna.last_text()
    await anna.send("opnieuw")
    assert "Hoi Anna! 👋" in anna.last_text()
    await anna.send("stop.")
    assert "niets om te stoppen" in anna.last_text()  # as /stop says it
    await anna.send("terug")  # outside a dialog there is no step to go back to: the menu
    assert "✂️ Dienst opzeggen" in anna.buttons()
    assert await questions(pinned) == []


async def test_stop_typed_at_a_button_step_stops_like_stop(
    anna: TelegramUser, pinned: Balie
) -> None:
    await anna.send("/start opzeggen")
    guide = anna.last_message().message_id
    await anna.send("Stop!")
    assert STOPPED in anna.last_text()
    assert "✂️ Dienst opzeggen" in anna.buttons()  # the menu, as after /stop
    assert not anna._message(anna.id, guide).buttons  # the guide cannot be pressed on
    assert await state_of(pinned, anna) == (None, {})


async def test_stop_typed_at_the_reason_text_stops_and_files_nothing(
    anna: TelegramUser, pinned: Balie
) -> None:
    """At a text step a lone "stop" is no reason anyone gives: it stops (as Stop would),
    nothing is filed and no reason is recorded."""
    await to_cancellation_type(anna)
    await anna.press("Einde van de termijn")
    await anna.press("Prijs")
    assert "Overslaan" in anna.buttons()  # the optional explanation, a text step
    await anna.send("stop")
    assert STOPPED in anna.last_text()
    assert await state_of(pinned, anna) == (None, {})
    assert await pinned.services.tickets.list() == []
    assert await FeedbackStore(pinned.services.database).all() == []


async def test_terug_goes_back_a_step_keeping_the_answers(
    anna: TelegramUser, pinned: Balie
) -> None:
    await anna.send("/start opzeggen")
    await anna.press("Hostingpakket")
    await anna.send("voorbeeld.nl")
    assert "Stap 3 van" in anna.last_text()
    await anna.send("Terug")  # at the renewal date, a text step
    assert "Stap 2 van" in anna.last_text() and DOMAIN in anna.last_text()
    await anna.send("terug!")
    assert "Stap 1 van" in anna.last_text() and SERVICE in anna.last_text()
    _, data = await state_of(pinned, anna)
    assert data["values"]["domain"] == "voorbeeld.nl"  # Back keeps what was answered
    await anna.send("terug")  # nothing before the first step: it is asked again
    assert SERVICE in anna.last_text()
    await anna.press("Hostingpakket")
    assert DOMAIN in anna.last_text()


async def test_menu_and_start_typed_in_a_form_leave_it(anna: TelegramUser, pinned: Balie) -> None:
    await anna.send("/start opzeggen")
    await anna.press("Domeinnaam")
    await anna.send("Menu")
    assert "Waarmee kan ik je helpen? Kies hieronder" in anna.last_text()
    assert await state_of(pinned, anna) == (None, {})
    await anna.send("/start betaling")
    await anna.send("opnieuw")
    assert "Hoi Anna! 👋" in anna.last_text()
    assert await state_of(pinned, anna) == (None, {})


async def test_a_sentence_with_stop_in_it_is_a_question(anna: TelegramUser, pinned: Balie) -> None:
    await anna.send("ik wil stoppen met mijn hosting")
    assert STOPPED not in anna.last_text() and "niets om te stoppen" not in anna.last_text()
    assert "opzeg" in anna.last_text().lower()  # the knowledge base answered it
    await anna.send("/start opzeggen")
    await anna.send("help me met mijn factuur")  # "help" inside a sentence: a question
    assert HELP not in anna.texts()[-2:]
    assert (await state_of(pinned, anna))[0] is not None  # still in the guide
    assert SERVICE in anna.last_text()
    assert await questions(pinned) == ["ik wil stoppen met mijn hosting",
                                       "help me met mijn factuur"]


async def test_stop_in_a_reason_sentence_is_the_reason(anna: TelegramUser, pinned: Balie) -> None:
    await to_cancellation_type(anna)
    await anna.press("Einde van de termijn")
    await anna.press("Bedrijf gestopt")
    await anna.send("Ik stop met mijn webshop")
    assert "e-mailadres" in anna.last_text()
    _, data = await state_of(pinned, anna)
    assert data["values"]["reason_text"] == "Ik stop met mijn webshop"


async def test_overslaan_typed_at_an_optional_step_skips_it(
    anna: TelegramUser, pinned: Balie
) -> None:
    """Typed "overslaan" is the Skip button, not an explanation "Overslaan" on the ticket."""
    await to_cancellation_type(anna)
    await anna.press("Einde van de termijn")
    await anna.press("Prijs")
    await anna.send("Overslaan")
    assert "e-mailadres" in anna.last_text()
    await anna.send("sla over")
    assert "Overzicht van je opzegging" in anna.last_text()
    await anna.press("Dien opzegverzoek in")
    [ticket] = await pinned.services.tickets.list()
    assert (ticket.fields["reason"], ticket.fields["reason_text"], ticket.fields["email"]) == (
        "price", None, None)


async def test_skip_outside_an_optional_step_is_plain_text(
    anna: TelegramUser, pinned: Balie
) -> None:
    await anna.send("/start opzeggen")
    await anna.press("Domeinnaam")
    await anna.send("overslaan")  # the domain cannot be skipped: it is checked as a domain
    assert "Om welke domeinnaam gaat het?" in anna.last_text()
    assert "service" in (await state_of(pinned, anna))[1]["values"]
    assert "domain" not in (await state_of(pinned, anna))[1]["values"]


async def test_stop_at_a_ticket_reply_prompt_sends_nothing(
    anna: TelegramUser, pinned: Balie
) -> None:
    ticket = await file(pinned, "Mail werkt niet")
    await pinned.services.ticket_service.claim(ticket.id, "Kees")
    await pinned.settled()
    await anna.send("menu")  # a colleague is on a ticket: still the menu, not "which ticket?"
    assert "Waarmee kan ik je helpen? Kies hieronder" in anna.last_text()
    await anna.send("/tickets")
    await anna.press(f"#{ticket.id} Mail werkt niet")
    await anna.press("✏️ Reageren")
    assert f"Typ je bericht voor ticket #{ticket.id}" in anna.last_text()
    await anna.send("stop")
    assert STOPPED in anna.last_text()
    assert await pinned.services.tickets.count_customer_thread(ticket.id) == 0
    assert await state_of(pinned, anna) == (None, {})


# --- buttons typed -------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["hostingpakket", "de hosting", "Hostingpakket!", "hostingpaket",
                                   "HOSTING"])
async def test_a_typed_option_is_that_button(typed: str, anna: TelegramUser, pinned: Balie) -> None:
    await anna.send("/start opzeggen")
    await anna.send(typed)
    assert "Stap 2 van" in anna.last_text() and DOMAIN in anna.last_text()
    _, data = await state_of(pinned, anna)
    assert data["values"]["service"] == "hosting"
    assert await questions(pinned) == []


async def test_a_guide_typed_all_the_way_files_what_the_buttons_would(
    anna: TelegramUser, pinned: Balie
) -> None:
    await anna.send("/start opzeggen")
    await anna.send("de hosting")
    await anna.send("voorbeeld.nl")
    await anna.send("15 maart 2027")
    assert "Opzeggen uiterlijk: 15 februari 2027" in anna.last_text()
    await anna.send("volgende")  # the Next button of an information step
    for _ in range(6):
        assert "klantenpanel" in anna.last_text()
        await anna.send("Volgende")
    await anna.send("einde termijn")
    assert REASON in anna.last_text()
    await anna.send("prijs")
    await anna.send("Te duur geworden")
    await anna.press("Overslaan")
    assert "Overzicht van je opzegging" in anna.last_text()
    assert "einde van de termijn" in anna.last_text().lower()
    await anna.press("Dien opzegverzoek in")
    [ticket] = await pinned.services.tickets.list()
    assert {key: ticket.fields[key] for key in ("service", "domain", "cancellation_type",
                                                "reason", "reason_text", "cancel_by")} == {
        "service": "hosting", "domain": "voorbeeld.nl", "cancellation_type": "end_of_term",
        "reason": "price", "reason_text": "Te duur geworden", "cancel_by": "2027-02-15"}


async def test_per_direct_typed_still_asks_the_confirmation(
    anna: TelegramUser, pinned: Balie
) -> None:
    await to_cancellation_type(anna)
    await anna.send("per direct")
    assert SURE in anna.last_text()
    _, data = await state_of(pinned, anna)
    assert data["step"] == "confirm_immediate"
    assert "confirm_immediate" not in data["values"]
    # Deleting everything is confirmed by pressing: typing the label itself does not do it.
    await anna.send("Ja, verwijder alles: ik heb een back-up")
    assert SURE in anna.last_text()
    assert (await state_of(pinned, anna))[1]["step"] == "confirm_immediate"
    await anna.press("Ja, verwijder alles")
    assert REASON in anna.last_text()
    _, data = await state_of(pinned, anna)
    assert (data["values"]["cancellation_type"], data["values"]["confirm_immediate"]) == (
        "immediate", "confirmed")


async def test_end_of_term_typed_at_the_confirmation_takes_the_safe_way(
    anna: TelegramUser, pinned: Balie
) -> None:
    await to_cancellation_type(anna)
    await anna.send("doe maar per direct")
    assert SURE in anna.last_text()
    await anna.send("nee, toch einde van de termijn")
    assert REASON in anna.last_text()
    _, data = await state_of(pinned, anna)
    assert data["values"]["cancellation_type"] == "end_of_term"


async def test_typing_what_names_no_button_or_two_picks_nothing(
    anna: TelegramUser, pinned: Balie
) -> None:
    await anna.send("/start opzeggen")
    await anna.send("hosting of domein")  # the customer is not sure: no button is pressed
    assert SERVICE in anna.last_text()
    assert "service" not in (await state_of(pinned, anna))[1]["values"]
    # The payment arrangement's instalments: "termijnen" is on every button.
    await anna.send("/start betaling")
    await anna.send("anna@voorbeeld.nl")
    await anna.send("2026001234")
    await anna.press("Overslaan")
    await anna.send(REASON_NL)
    await anna.send("in termijnen")  # a typed answer works in every form
    assert anna.buttons()[:2] == ["2 termijnen", "3 termijnen"]
    await anna.send("termijnen")  # as before: a question, answered with the step below it
    assert anna.buttons()[:2] == ["👍 Dit hielp", "👎 Dit hielp niet"]
    assert anna.buttons()[2:4] == ["2 termijnen", "3 termijnen"]
    assert "instalments" not in (await state_of(pinned, anna))[1]["values"]
    await anna.send("3 termijnen")
    assert "Overzicht van je verzoek" in anna.last_text()
    assert (await state_of(pinned, anna))[1]["values"]["instalments"] == "3"


async def test_english_buttons_typed(john: TelegramUser, pinned: Balie) -> None:
    await john.send("/start cancel")
    await john.send("the hosting")
    assert "Which domain name is the hosting package for?" in john.last_text()
    await john.send("Back")
    assert "What would you like to cancel?" in john.last_text()
    await john.send("help")
    assert "How I work" in john.last_text()
    await john.send("Stop")
    assert "Stopped" in john.last_text()


async def test_the_console_understands_the_same_words(console: BalieConsole) -> None:
    console.today = TODAY
    out = await console.chat("help\n1\nde hosting\nterug\nstop\n")
    assert HELP in out
    assert DOMAIN in out
    assert out.count(SERVICE) == 2  # the guide's first step, then again after "terug"
    assert STOPPED in out
    assert "Bedoel je" not in out


# --- the words and the matching, without a bot ----------------------------------------------------


def _words(lang: str) -> dict[str, Any]:
    return tomllib.loads((TEMPLATES / lang / "typed.toml").read_text(encoding="utf-8"))


def test_both_languages_name_every_command_and_no_word_names_two() -> None:
    languages = [TypedWords.from_data(_words(lang)) for lang in LANGUAGES]
    for language in languages:
        assert set(language.commands) == set(COMMANDS)
    for name in COMMANDS:
        for other in COMMANDS:
            if name != other:
                for first in languages:
                    for second in languages:
                        assert not first.commands[name] & second.commands[other]


@pytest.mark.parametrize(("typed", "command"), [
    ("help", "help"), ("Help?", "help"), ("hulp!", "help"), ("STOP", "stop"),
    ("stoppen", "stop"), ("terug", "back"), ("back", "back"), ("opnieuw", "start"),
    ("menu 🙂", "menu"), ("Overslaan", "skip"), ("/stop", None),
    ("ik wil stoppen met mijn hosting", None),
    ("stop mijn domein", None), ("help" * 20, None), ("", None), ("?!", None),
])
def test_command_of(typed: str, command: str | None) -> None:
    languages = [TypedWords.from_data(_words(lang)) for lang in LANGUAGES]
    assert command_of(typed, languages) == command


SERVICES_NL = ["Hostingpakket", "Domeinnaam", "Hosting én domein", "Ander product"]
TYPES_NL = ["✅ Einde van de termijn (aangeraden)", "⚠️ Per direct"]


@pytest.mark.parametrize(("typed", "labels", "chosen"), [
    ("de hosting", SERVICES_NL, 0), ("hostnig", SERVICES_NL, 0), ("domein", SERVICES_NL, 1),
    ("hosting en domein", SERVICES_NL, 2), ("hosting of domein", SERVICES_NL, None),
    ("iets anders", SERVICES_NL, None), ("einde termijn", TYPES_NL, 0),
    ("per direct", TYPES_NL, 1), ("perdirect", TYPES_NL, 1), ("einde", TYPES_NL, None),
    ("termijnen", ["2 termijnen", "3 termijnen"], None), ("3", ["2 termijnen", "3 termijnen"], 1),
    ("x" * 500, SERVICES_NL, None),
])
def test_pick(typed: str, labels: list[str], chosen: int | None) -> None:
    fillers = TypedWords.from_data(_words("nl")).fillers
    assert pick(typed, labels, fillers) == chosen
