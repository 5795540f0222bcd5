"""What customers type in the chat, tried as a new user would (issue 12), end to end."""

from __future__ import annotations

from tests.client import TelegramUser
from tests.conftest import Balie


async def test_keep_the_domain_cancel_only_the_hosting(anna: TelegramUser) -> None:
    await anna.send("kan ik mijn domein houden en alleen hosting opzeggen")
    text = anna.last_text()
    assert "Alleen de hosting opzeggen en de domeinnaam houden" in text
    assert "Laat de automatische verlenging van de domeinnaam aan staan" in text
    # The guide starts with the choice made: the first question is not asked.
    await anna.press("Start de opzeghulp")
    assert "Wat wil je opzeggen?" not in anna.last_text()
    assert "Stap" in anna.last_text()


async def test_keep_the_hosting_cancel_only_the_domain(john: TelegramUser) -> None:
    await john.send("I want to cancel my domain but keep my hosting")
    assert "Cancel only the domain name and keep the hosting" in john.last_text()
    await john.press("Start the cancellation guide")
    assert "What would you like to cancel?" not in john.last_text()


async def test_cancelling_hosting_in_general_keeps_the_general_article(
    anna: TelegramUser,
) -> None:
    await anna.send("hoe zeg ik mijn hosting op")
    assert "Hoe zeg ik mijn dienst op?" in anna.last_text()


FILLER = ("Ik ben al jaren klant bij jullie en eigenlijk altijd tevreden geweest over de "
          "service en de snelheid van de website. ")


async def test_a_long_message_is_answered_and_says_what_it_understood(
    anna: TelegramUser,
) -> None:
    question = "Nu wil ik graag weten hoe ik mijn hosting kan opzeggen?"
    message = FILLER * 13 + question + " " + FILLER * 13
    assert len(message) >= 3000
    await anna.send(message)
    text = anna.last_text()
    assert f"Ik begreep je vraag als: “{question}”" in text
    assert "Hoe zeg ik mijn dienst op?" in text or "Bedoel je" in text


async def test_a_product_question_gets_an_honest_no_with_a_way_on(
    anna: TelegramUser, balie: Balie
) -> None:
    await anna.send("wat kost een vps")
    text = anna.last_text()
    assert "geen goed antwoord" in text
    assert balie.services.config.provider.website in text
    assert balie.services.config.provider.tickets_url in text
    assert balie.services.config.provider.email in text
    # The colleague and question-ticket buttons appear once those dialogs exist (the menu
    # decides); until then the ticket system and the e-mail address are the way on.
    assert "☰ Menu" in anna.buttons()
