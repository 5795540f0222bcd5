"""Opzegtermijn berekenen (product.md §2.2) end to end. The bot believes it is 28 November 2026."""

from __future__ import annotations

from tests.client import TelegramUser
from tests.conftest import Balie


async def open_calculator(user: TelegramUser, label: str = "Opzegtermijn berekenen") -> None:
    await user.send("/start")
    await user.press(label)


async def test_explains_the_rules_and_computes_the_deadlines(
    anna: TelegramUser, balie: Balie
) -> None:
    await open_calculator(anna)
    text = anna.last_text()
    assert "Stap 1 van 2" in text
    assert "minimaal 1 maand" in text and "5 werkdagen" in text and "betaald worden" in text
    assert anna.buttons()[:4] == ["1 december 2026", "1 januari 2027", "1 februari 2027",
                                  "Weet ik niet"]
    await anna.send("15 maart 2027")
    text = anna.last_text()
    assert "Stap 2 van 2" in text
    assert "Opzeggen uiterlijk: 15 februari 2027 (nog 79 dagen)" in text
    assert "Start de verhuizing uiterlijk 8 maart 2027" in text
    assert "nog niet gemaakt" in text
    assert "▶️ Start de opzeghulp" in anna.buttons() and "✏️ Andere datum" in anna.buttons()
    assert await balie.services.tickets.list() == []


async def test_too_late_says_the_invoice_is_probably_generated(anna: TelegramUser) -> None:
    await open_calculator(anna)
    await anna.press("1 december 2026")
    text = anna.last_text()
    assert "Voor deze periode is het te laat" in text
    assert "kon tot en met 1 november 2026" in text
    assert "waarschijnlijk al gemaakt" in text


async def test_holidays_move_the_transfer_deadline(anna: TelegramUser) -> None:
    await open_calculator(anna)
    await anna.send("28-04-2027")  # Tuesday after King's Day (Tuesday 27 April)
    # 26 (Mon), 23, 22, 21, 20 April: King's Day is not a working day
    assert "Start de verhuizing uiterlijk 20 april 2027" in anna.last_text()


async def test_unknown_date_explains_where_to_find_it_then_another_date(
    anna: TelegramUser,
) -> None:
    await open_calculator(anna)
    await anna.press("Weet ik niet")
    text = anna.last_text()
    assert "laatste factuur" in text and "klantenpanel" in text and "uiterlijk" not in text
    await anna.press("Andere datum")
    await anna.send("1-4-2027")
    assert "Opzeggen uiterlijk: 1 maart 2027" in anna.last_text()


async def test_invalid_date_is_asked_again(anna: TelegramUser) -> None:
    await open_calculator(anna)
    await anna.send("31 februari 2027")
    assert "bestaat niet" in anna.last_text() and "Stap 1 van 2" in anna.last_text()
    await anna.send("1 januari 2026")
    assert "in het verleden" in anna.last_text()
    await anna.send("volgende week")
    assert "kan ik niet lezen" in anna.last_text()


async def test_continues_into_the_guide_with_the_date_filled_in(
    anna: TelegramUser, balie: Balie
) -> None:
    await open_calculator(anna)
    await anna.send("15-03-2027")
    await anna.press("Start de opzeghulp")
    assert "Wat wil je opzeggen?" in anna.last_text()
    assert "Stap 1 van 15" in anna.last_text()
    await anna.press("Domeinnaam")
    await anna.send("voorbeeld.nl")
    text = anna.last_text()  # the renewal date is not asked again
    assert "Je deadlines voor voorbeeld.nl" in text
    assert "Opzeggen uiterlijk: 15 februari 2027" in text
    await anna.press("Volgende")
    await anna.press("Verhuizen naar andere provider")
    for _ in range(6):
        await anna.press("Volgende")
    await anna.press("Einde van de termijn")
    await anna.press("Prijs")
    await anna.press("Overslaan")
    await anna.press("Overslaan")
    assert "Verlengdatum: 15 maart 2027" in anna.last_text()
    await anna.press("Dien opzegverzoek in")
    [ticket] = await balie.services.tickets.list()
    assert ticket.fields["renewal_date"] == "2027-03-15"
    assert ticket.fields["transfer_start_by"] == "2027-03-08"
    assert ticket.fields["transfer"] is True


async def test_back_to_the_menu(anna: TelegramUser) -> None:
    await open_calculator(anna)
    await anna.send("15-03-2027")
    await anna.press("Terug naar het menu")
    assert "Dienst opzeggen" in " ".join(anna.buttons())


async def test_english_via_deep_link(john: TelegramUser) -> None:
    await john.send("/start deadlines")
    assert "Notice period and deadlines" in john.last_text()
    assert "Step 1 of 2" in john.last_text()
    await john.send("March 15, 2027")
    text = john.last_text()
    assert "Cancel by: February 15, 2027 (79 days left)" in text
    assert "Start the transfer by March 8, 2027" in text
    assert "not been generated yet" in text
    await john.press("Start the cancellation guide")
    assert "What would you like to cancel?" in john.last_text()


async def test_english_ambiguous_date_is_asked_back_here_too(john: TelegramUser) -> None:
    await john.send("/start deadlines")
    await john.send("04/03/2027")
    assert "Is that March 4, 2027 or April 3, 2027?" in john.last_text()
    await john.send("4 March 2027")
    assert "Cancel by: February 4, 2027" in john.last_text()
