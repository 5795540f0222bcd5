"""Questions in the customer's own words (product.md §2.5), end to end."""

from __future__ import annotations

import asyncio

import pytest

from bot.dialogs.question import QuestionCb
from tests.client import TelegramUser
from tests.conftest import Balie
from tests.test_cancellation import to_summary


async def logged(balie: Balie) -> list[dict[str, object]]:
    rows = await balie.services.database.fetchall(
        "SELECT customer_id, text, article, band, feedback FROM questions ORDER BY id")
    return [dict(row) for row in rows]


async def test_confident_answer_with_feedback_buttons(anna: TelegramUser, balie: Balie) -> None:
    await anna.send("hoe zeg ik mijn hosting op")
    text = anna.last_text()
    assert "Hoe zeg ik mijn dienst op?" in text
    assert "1 maand" in text  # the notice period comes from config into the article
    assert "👎 Dit hielp niet" in anna.buttons() and "👍 Dit hielp" in anna.buttons()
    assert "Start de opzeghulp" in anna.buttons()
    [row] = await logged(balie)
    assert row == {"customer_id": anna.id, "text": "hoe zeg ik mijn hosting op",
                   "article": "opzeggen-hoe", "band": "answer", "feedback": None}

    await anna.press("👍 Dit hielp")
    assert (await logged(balie))[0]["feedback"] == "helped"
    assert "Dit hielp" not in anna.buttons()  # the buttons are taken off after feedback


async def test_follow_up_button_starts_the_guide(anna: TelegramUser) -> None:
    await anna.send("hoe zeg ik mijn hosting op")
    await anna.press("Start de opzeghulp")
    assert "Wat wil je opzeggen?" in anna.last_text()


async def test_english_question_gets_english_answer(john: TelegramUser) -> None:
    await john.send("how do I cancel my hosting package")
    assert "How do I cancel my service?" in john.last_text()
    assert "👎 Didn't help" in john.buttons()


async def test_unsure_offers_did_you_mean(anna: TelegramUser, balie: Balie) -> None:
    await anna.send("factuur")
    assert "Bedoel je" in anna.last_text()
    suggestions = [label for label in anna.buttons() if label != "Geen van deze"]
    assert 2 <= len(suggestions) <= 3
    await anna.press(suggestions[0])
    assert "Heeft dit je geholpen?" in anna.last_text()
    assert (await logged(balie))[0]["band"] == "suggest"


async def test_no_match_says_so_honestly_and_offers_a_person(
    anna: TelegramUser, balie: Balie
) -> None:
    await anna.send("hoe stel ik een MX record in voor mijn mailserver")
    text = anna.last_text()
    assert "geen goed antwoord" in text
    assert balie.services.config.provider.email in text
    assert (await logged(balie))[0]["band"] == "none"


async def test_did_not_help_offers_other_articles_then_a_person(
    anna: TelegramUser, balie: Balie
) -> None:
    await anna.send("moet ik de factuur nog betalen als ik opzeg")
    assert "👎 Dit hielp niet" in anna.buttons()
    first = anna.last_text()
    await anna.press("👎 Dit hielp niet")
    assert (await logged(balie))[0]["feedback"] == "not_helped"
    assert anna.last_text() != first
    if "Geen van deze" in anna.buttons():
        await anna.press("Geen van deze")
    assert "collega" in anna.last_text()


async def test_small_talk_is_not_an_article(anna: TelegramUser, balie: Balie) -> None:
    await anna.send("hallo")
    assert "Waarmee kan ik je helpen" in anna.last_text()
    await anna.send("bedankt!")
    assert "Graag gedaan" in anna.last_text()
    assert await logged(balie) == []


async def test_question_in_the_middle_of_a_dialog_is_answered_and_the_dialog_resumes(
    anna: TelegramUser, balie: Balie
) -> None:
    await anna.send("/start")
    await anna.press("Dienst opzeggen")
    assert "Stap 1 van" in anna.last_text()
    before = len(anna.texts())
    await anna.send("moet ik de factuur nog betalen als ik opzeg?")
    [shown] = anna.texts()[before:]  # the answer, and the step below it: one message
    assert "factuur" in shown.lower()
    assert "Stap 1 van" in shown and "Wat wil je opzeggen?" in shown
    await anna.press("Hostingpakket")
    assert "Stap 2 van" in anna.last_text()


async def test_forged_question_buttons_are_refused(
    anna: TelegramUser, john: TelegramUser, balie: Balie
) -> None:
    await anna.send("hoe zeg ik mijn hosting op")
    [row] = await balie.services.database.fetchall("SELECT id FROM questions")
    await john.send("/start")
    # John presses a button that names Anna's question: refused, and nothing is stored.
    await john.press_data(QuestionCb(action="nothelp", question=row[0]).pack())
    await john.press_data(QuestionCb(action="show", question=row[0],
                                     article="opzeggen-hoe").pack())
    await anna.press_data(QuestionCb(action="show", question=row[0], article="bestaat-niet").pack())
    assert (await logged(balie))[0]["feedback"] is None
    assert all(answer for answer in john.callback_answers())
    assert "How do I cancel" not in " ".join(john.texts())


async def test_question_prompt_from_the_menu(anna: TelegramUser) -> None:
    await anna.send("/start")
    await anna.press("Vraag stellen")
    assert "eigen woorden" in anna.last_text()
    await anna.send("kan ik in termijnen betalen")
    assert "betalingsregeling" in anna.last_text().lower()


async def test_two_quick_taps_on_submit_make_one_ticket(anna: TelegramUser, balie: Balie) -> None:
    await to_summary(anna, service="Ander product", domain="SSL-certificaat",
                     renewal="weet ik niet", reason="Zeg ik liever niet")
    await asyncio.gather(anna.press("Dien opzegverzoek in"), anna.press("Dien opzegverzoek in"))
    assert len(await balie.services.tickets.list()) == 1
    assert sum("ingediend" in text for text in anna.texts()) == 1
    assert any(answer and "eerder bericht" in answer for answer in anna.callback_answers())


async def test_chatter_in_a_dialog_gets_pointed_to_the_buttons(anna: TelegramUser) -> None:
    await anna.send("/start")
    await anna.press("Dienst opzeggen")
    for typed in ("ok", "asdfghjkl qwerty"):
        before = len(anna.texts())
        await anna.send(typed)
        shown = anna.texts()[before:]
        assert "Kies een van de knoppen" in shown[0]
        assert "Wat wil je opzeggen?" in anna.last_text()
        assert not any("geen goed antwoord" in text for text in shown)


@pytest.mark.parametrize("question", ["99999999999999999999", "0", "-5", "1e3"])
async def test_forged_question_ids_beyond_sqlite_get_a_polite_answer(
    anna: TelegramUser, question: str,
) -> None:
    """No OverflowError from SQLite and no apology: the press is simply not one of ours."""
    await anna.send("/start")
    await anna.press_data(f"q:show:{question}:faq")
    assert anna.callback_answers()[-1]  # answered (the stale-button text)
    assert not any("iets mis" in text for text in anna.texts())
