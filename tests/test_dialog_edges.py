"""Edges of the form mechanism found in review: answers that a changed answer makes necessary,
commands and language changes in the middle of a dialog, late transfers, console restarts."""

from __future__ import annotations

from datetime import date

from tests.client import TelegramUser
from tests.conftest import Balie, BalieConsole
from tests.fakeapi import FakeTelegram
from tests.test_cancellation import to_summary


async def test_immediately_cannot_be_filed_without_its_confirmation(
    anna: TelegramUser, balie: Balie
) -> None:
    await to_summary(anna, service="Hostingpakket", domain="voorbeeld.nl",
                     renewal="15-03-2027")
    await anna.press("✏️ Wanneer")
    await anna.press("Per direct")
    assert "Weet je het zeker?" in anna.last_text()
    await anna.press("‹ Terug")
    await anna.press("‹ Terug")  # back to where the summary was: the confirmation comes first
    assert "Weet je het zeker?" in anna.last_text()
    assert "Beantwoord eerst deze vraag" in anna.last_text()
    assert "Dien opzegverzoek in" not in anna.buttons()
    await anna.press("Ja, verwijder alles")
    assert "per direct (bevestigd" in anna.last_text()
    await anna.press("Dien opzegverzoek in")
    [ticket] = await balie.services.tickets.list()
    assert ticket.fields["cancellation_type"] == "immediate"


async def test_changing_what_to_cancel_asks_the_domain_again(
    anna: TelegramUser, balie: Balie
) -> None:
    await to_summary(anna, service="Ander product", domain="E-mailpakket Plus",
                     renewal="weet ik niet", reason="Zeg ik liever niet")
    assert "Product: E-mailpakket Plus" in anna.last_text()
    await anna.press("✏️ Wat")
    await anna.press("Domeinnaam")
    assert "Om welke domeinnaam gaat het?" in anna.last_text()
    await anna.send("voorbeeld.nl")
    assert "Wat wil je met de domeinnaam voorbeeld.nl?" in anna.last_text()
    await anna.press("Laten verlopen")
    assert "Domein: voorbeeld.nl" in anna.last_text()
    await anna.press("Dien opzegverzoek in")
    [ticket] = await balie.services.tickets.list()
    assert ticket.fields["service"] == "domain" and ticket.fields["domain"] == "voorbeeld.nl"


async def test_a_transfer_deadline_in_the_past_is_flagged_everywhere(
    anna: TelegramUser,
) -> None:
    await anna.send("/start opzeggen")
    await anna.press("Domeinnaam")
    await anna.send("voorbeeld.nl")
    await anna.send("2-12-2026")  # cancel-by and transfer start were in November
    assert "Die dag is al voorbij" in anna.last_text()
    await anna.press("Volgende")
    assert "is al voorbij" in anna.last_text()
    assert "Start uiterlijk" not in anna.last_text()


async def test_unknown_command_in_a_dialog_is_not_taken_as_an_answer(
    anna: TelegramUser,
) -> None:
    await anna.send("/start opzeggen")
    await anna.press("Domeinnaam")
    await anna.send("/facturen")  # /tickets is known now (my tickets)
    assert "Dat commando ken ik hier niet" in anna.last_text()
    assert "Om welke domeinnaam gaat het?" in anna.last_text()
    await anna.send("voorbeeld.nl")
    assert "Wanneer begint de volgende contractperiode van voorbeeld.nl" in anna.last_text()


async def test_language_change_in_a_dialog_continues_the_dialog(anna: TelegramUser) -> None:
    await anna.send("/start opzeggen")
    await anna.press("Domeinnaam")
    await anna.send("/taal")
    await anna.press("English")
    assert "Which domain name would you like to cancel?" in anna.last_text()
    assert "Step 2 of" in anna.last_text()
    await anna.send("example.com")
    assert "renewal" in anna.last_text().lower()


async def test_console_carries_on_with_an_unfinished_dialog(console: BalieConsole) -> None:
    first = await console.chat("1\n1\nvoorbeeld.nl\n")  # menu → Dienst opzeggen → Hosting
    assert "[1] 1 december 2026" in first  # quick picks from the pinned 28 November 2026
    later = await console.chat("15 maart 2027\n")
    assert "Welkom terug" in later
    assert "Opzeggen uiterlijk: 15 februari 2027" in later
    assert "te laat" not in later


async def test_the_console_believes_the_pinned_date(console: BalieConsole) -> None:
    console.today = date(2027, 2, 20)  # past 15 February: too late for a 15 March renewal
    out = await console.chat("1\n1\nvoorbeeld.nl\n15 maart 2027\n")
    assert "[1] 1 maart 2027" in out
    assert "Voor deze periode is het te laat." in out
    assert "kon tot en met 15 februari 2027" in out


async def test_the_bot_believes_the_pinned_date(anna: TelegramUser, balie: Balie) -> None:
    balie.today = date(2027, 2, 20)  # the same dialog as above, a few months later
    await anna.send("/start opzeggen")
    await anna.press("Hostingpakket")
    await anna.send("voorbeeld.nl")
    assert anna.buttons()[0] == "1 maart 2027"
    await anna.send("15 maart 2027")
    assert "Voor deze periode is het te laat." in anna.last_text()


async def test_a_summary_from_an_earlier_run_cannot_submit_the_current_one(
    anna: TelegramUser, balie: Balie
) -> None:
    await to_summary(anna, service="Hostingpakket", domain="voorbeeld.nl",
                     renewal="15-03-2027")
    first_summary = anna.last_message().message_id
    old_button = next(data for row in anna.last_message().buttons for label, data in row
                      if "Dien opzegverzoek in" in label)
    await anna.send("/menu")
    assert anna.tg.message(anna.id, first_summary).buttons == []  # the old card is disarmed
    await to_summary(anna, service="Hostingpakket", domain="voorbeeld.nl",
                     renewal="15-03-2027", immediate=True)
    assert old_button is not None
    await anna.press_data(old_button, message_id=first_summary)
    assert await balie.services.tickets.list() == []
    assert "eerder bericht" in (anna.callback_answers()[-1] or "")
    assert "Overzicht van je opzegging" in anna.last_text()


async def test_a_question_in_a_dialog_that_did_not_help_returns_to_the_dialog(
    anna: TelegramUser,
) -> None:
    await anna.send("/start opzeggen")
    await anna.press("Hostingpakket")
    await anna.send("voorbeeld.nl")
    await anna.send("15-03-2027")
    assert "Opzeggen uiterlijk: 15 februari 2027" in anna.last_text()
    await anna.send("moet ik de factuur nog betalen als ik opzeg?")
    assert "Opzeggen uiterlijk: 15 februari 2027" in anna.last_text()
    answer = next(m for m in reversed(anna.bot_messages()) if "👎 Dit hielp niet" in m.labels)
    assert "Menu" not in " ".join(answer.labels)  # no way out of the dialog under the answer
    await anna.press("👎 Dit hielp niet", message_id=answer.message_id)
    assert "Opzeggen uiterlijk: 15 februari 2027" in anna.last_text()
    await anna.press("Volgende")
    assert "(1/6)" in anna.last_text()


async def test_skipping_the_panel_steps_leaves_only_the_request(anna: TelegramUser) -> None:
    await anna.send("/start opzeggen")
    await anna.press("Hostingpakket")
    await anna.send("voorbeeld.nl\u200b")  # a zero-width space pasted along
    await anna.send("15-03-2027")
    await anna.press("Volgende")
    await anna.press("Lukt niet")
    await anna.press("Sla over")
    await anna.press("Einde van de termijn")
    await anna.press("Prijs")
    await anna.press("Overslaan")
    await anna.press("Overslaan")
    assert "Domein: voorbeeld.nl\n" in anna.last_text() + "\n"
    assert "\u200b" not in anna.last_text()
    assert "Ik doe het zelf in het klantenpanel" not in anna.buttons()
    assert "📨 Dien opzegverzoek in" in anna.buttons()


async def test_english_numeric_dates_that_read_both_ways_are_asked_back(
    john: TelegramUser,
) -> None:
    await john.send("/start cancel")
    await john.press("Hosting package")
    await john.send("example.com")
    await john.send("04/03/2027")
    assert "Is that March 4, 2027 or April 3, 2027?" in john.last_text()
    await john.send("3/15/2027")  # only month-first makes sense
    assert "Cancel by: February 15, 2027" in john.last_text()


async def test_dutch_numeric_dates_stay_day_first(anna: TelegramUser) -> None:
    await anna.send("/start opzeggen")
    await anna.press("Hostingpakket")
    await anna.send("voorbeeld.nl")
    await anna.send("04/03/2027")
    assert "Verlengdatum: 4 maart 2027" in anna.last_text()


async def test_quick_taps_on_a_step_button_send_nothing_twice(
    anna: TelegramUser, tg: FakeTelegram,
) -> None:
    """Tapping "Hostingpakket" five times before the message changed: the first tap answers
    the step, the others are answered quietly — no extra copies, no refused edits."""
    await anna.send("/start")
    await anna.press("Dienst opzeggen")
    step = anna.last_message()
    data = next(data for label, data in (b for row in step.buttons for b in row)
                if label == "Hostingpakket")
    assert data is not None
    sent_before = len(tg.calls_to("sendMessage"))
    for _ in range(5):
        await anna.press_data(data, message_id=step.message_id)
    assert "Stap 2 van" in anna.last_text()
    assert len(tg.calls_to("sendMessage")) == sent_before  # the step was edited in place
    refused = [call for call in tg.calls if call.error and "not modified" in call.error]
    assert refused == []
    assert len(anna.callback_answers()) >= 6  # every tap answered


async def test_free_text_is_stored_as_typed(anna: TelegramUser, balie: Balie) -> None:
    """Emoji sequences with zero-width joiners, the non-joiner Persian needs and line breaks
    stay as typed; an answer of only blanks and invisible characters is asked again."""
    typed = "Te duur 👨‍👩‍👧 🏳️‍🌈\nمی‌خواهم\nnieuwe regel"
    await anna.send("/start opzeggen")
    await anna.press("Ander product")
    await anna.send("Mailpakket\nZakelijk 🏳️‍🌈")
    await anna.send("15-03-2027")
    await anna.press("Volgende")
    for _ in range(6):
        await anna.press("Volgende")
    await anna.press("Einde van de termijn")
    await anna.press("Prijs")
    await anna.send(" \u200b \u2060 ")  # nothing visible: asked again, not stored as nothing
    assert "Wil je er nog iets over kwijt" in anna.last_text()
    await anna.send(typed)
    await anna.press("Overslaan")
    await anna.press("Dien opzegverzoek in")
    [ticket] = await balie.services.tickets.list()
    assert ticket.fields["reason_text"] == typed
    assert ticket.fields["domain"] == "Mailpakket\nZakelijk 🏳️‍🌈"
