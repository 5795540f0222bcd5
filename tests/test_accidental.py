"""Per ongeluk direct opgezegd (product.md §2.4) end to end: three questions, one tap, an urgent
ticket, the staff group alerted (also through Telegram's refusals), an honest answer.

The bot believes it is Saturday 28 November 2026 (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.dialogs import accidental
from tests.client import TelegramUser
from tests.conftest import STAFF_CHAT_ID, Balie
from tests.fakeapi import FakeTelegram
from tickets.models import Category, Priority, Ticket

MENU_NL = "Per ongeluk direct opgezegd"
MENU_EN = "Cancelled immediately by mistake"


async def tickets_of(balie: Balie) -> list[Ticket]:
    return await balie.services.tickets.list()


async def to_summary(user: TelegramUser, *, email: str = "anna@example.nl",
                     domain: str = "bakkerij-jansen.nl", when: str = "gisteren") -> None:
    await user.send("/start")
    await user.press(MENU_NL)
    await user.send(email)
    await user.send(domain)
    await user.send(when)


async def staff_alerts(tg: FakeTelegram, ticket: Ticket, timeout: float = 10.0) -> list[str]:
    """The staff group's alerts about `ticket` in its General topic (the card is in the
    ticket's own topic), once at least one arrived (or the timeout)."""
    for _ in range(int(timeout * 100)):
        found = [m.plain for m in tg.chat(STAFF_CHAT_ID)
                 if m.thread_id is None and f"#{ticket.id}" in m.plain]
        if found:
            return found
        await asyncio.sleep(0.01)
    return []


# --- the journey --------------------------------------------------------------------------------


async def test_dutch_journey_files_an_urgent_ticket_and_alerts_the_staff(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    await anna.send("/start")
    await anna.press(MENU_NL)
    text = anna.last_text()
    assert "Stap 1 van 4" in text and "spoedticket" in text and "e-mailadres" in text
    assert "Overslaan" not in anna.buttons()  # required here
    await anna.send("anna@example.nl")
    assert "Stap 2 van 4" in anna.last_text() and "domeinnaam" in anna.last_text()
    await anna.send("bakkerij-jansen.nl")
    assert "Stap 3 van 4" in anna.last_text()
    assert "Wanneer heb je bakkerij-jansen.nl per direct opgezegd?" in anna.last_text()
    assert {"Vandaag", "Gisteren"} <= set(anna.buttons())
    await anna.press("Gisteren")
    summary = anna.last_text()
    assert "Stap 4 van 4" in summary
    assert "E-mailadres: anna@example.nl" in summary
    assert "Domein: bakkerij-jansen.nl" in summary
    assert "Per direct opgezegd op: 27 november 2026" in summary
    assert await tickets_of(balie) == []  # nothing before the confirmation

    await anna.press("Maak het spoedticket aan")
    [ticket] = await tickets_of(balie)
    assert ticket.category == Category.ACCIDENTAL_CANCELLATION
    assert ticket.priority == Priority.URGENT
    assert ticket.fields == {"email": "anna@example.nl", "domain": "bakkerij-jansen.nl",
                             "is_domain": True, "happened_on": "2026-11-27"}
    assert ticket.customer.email == "anna@example.nl"
    done = anna.last_text()
    assert f"ticket #{ticket.id}" in done
    assert "niet garanderen" in done and "proberen" in done
    assert "Bestel het pakket niet opnieuw" in done and "DNS" in done and "back-ups" in done
    assert anna.buttons() == []  # the summary became the confirmation: nothing to press twice

    [alert] = await staff_alerts(tg, ticket)
    assert alert.startswith(f"🚨 Spoed: ticket #{ticket.id} · bakkerij-jansen.nl, "
                            "per direct opgezegd op 27 november 2026")
    await balie.settled()
    ticket = await balie.services.tickets.get(ticket.id)
    assert ticket.topic_id is not None and ticket.card_message_id is not None
    assert tg.topics(STAFF_CHAT_ID)[ticket.topic_id].name.startswith(f"#{ticket.id} 🚨🔴")
    card = tg.message(STAFF_CHAT_ID, ticket.card_message_id)
    assert card is not None
    assert "Per ongeluk direct opgezegd · 🚨 spoed" in card.plain
    assert "👤 Anna · @anna · Nederlands · anna@example.nl" in card.plain
    assert "Opgezegd op: 27 november 2026" in card.plain and "Soort: domeinnaam" in card.plain


async def test_english_journey(john: TelegramUser, balie: Balie, tg: FakeTelegram) -> None:
    await john.send("/start")
    await john.press(MENU_EN)
    assert "Step 1 of 4" in john.last_text() and "urgent ticket" in john.last_text()
    await john.send("john@example.com")
    await john.send("example.com")
    assert {"Today", "Yesterday"} <= set(john.buttons())
    await john.send("3 days ago")
    summary = john.last_text()
    assert "Cancelled immediately on: November 25, 2026" in summary
    await john.press("File the urgent ticket")
    [ticket] = await tickets_of(balie)
    assert ticket.priority == Priority.URGENT
    assert ticket.fields["happened_on"] == "2026-11-25"
    assert ticket.fields["email"] == "john@example.com"
    done = john.last_text()
    assert f"ticket #{ticket.id}" in done and "cannot guarantee" in done
    assert "Do not order the package again" in done
    [alert] = await staff_alerts(tg, ticket)
    assert "🚨 Spoed" in alert  # the colleagues read Dutch


async def test_a_product_without_a_domain(anna: TelegramUser, balie: Balie) -> None:
    await anna.send("/start per-ongeluk")
    await anna.send("anna@example.nl")
    await anna.press("Geen domeinnaam")
    assert "Om welk product gaat het?" in anna.last_text()
    await anna.send("  Mailpakket   Zakelijk ")
    await anna.press("Vandaag")
    assert "Product: Mailpakket   Zakelijk" in anna.last_text()  # as typed
    assert "28 november 2026" in anna.last_text()
    await anna.press("Maak het spoedticket aan")
    [ticket] = await tickets_of(balie)
    assert ticket.fields["domain"] == "Mailpakket   Zakelijk"  # stored as typed, trimmed
    assert ticket.fields["is_domain"] is False
    assert ticket.fields["happened_on"] == "2026-11-28"


async def test_typed_dates_are_stored_as_iso_dates(anna: TelegramUser, balie: Balie) -> None:
    for typed, iso in (("gisteren", "2026-11-27"), ("3 dagen geleden", "2026-11-25"),
                       ("eergisteren", "2026-11-26"), ("afgelopen maandag", "2026-11-23"),
                       ("12-11-2026", "2026-11-12")):
        await to_summary(anna, when=typed)
        await anna.press("Maak het spoedticket aan")
        newest = max(await tickets_of(balie), key=lambda ticket: ticket.id)
        assert newest.fields["happened_on"] == iso, typed


# --- bad input ------------------------------------------------------------------------------


async def test_every_bad_answer_is_explained_and_asked_again(
    anna: TelegramUser, balie: Balie,
) -> None:
    await anna.send("/start")
    await anna.press(MENU_NL)
    await anna.send("anna at example")
    assert "geen e-mailadres" in anna.last_text() and "Stap 1 van 4" in anna.last_text()
    assert "Overslaan" not in anna.last_text()
    await anna.send("anna@example.nl")
    for bad in ("hallo wereld", "voorbeeld", "a.nl en b.nl"):
        await anna.send(bad)
        assert "Stap 2 van 4" in anna.last_text(), bad
    await anna.send("hallo wereld")
    assert "geen geldige domeinnaam" in anna.last_text()
    await anna.send("bakkerij-jansen.nl")
    for bad, problem in (("morgen", "kan ik niet lezen"), ("1-12-2026", "in de toekomst"),
                         ("31-02-2026", "bestaat niet"), ("1 januari 2020", "te ver terug"),
                         ("weet ik niet", "echt een datum nodig"),
                         ("<b>gisteren</b>", "kan ik niet lezen")):
        await anna.send(bad)
        text = anna.last_text()
        assert problem in text, bad
        assert "Stap 3 van 4" in text and "Wanneer heb je" in text, bad
    await anna.send("x" * 200)
    assert "te lang" in anna.last_text()
    assert await tickets_of(balie) == []
    await anna.send("gisteren")
    assert "27 november 2026" in anna.last_text()


async def test_an_english_future_date_is_refused(john: TelegramUser) -> None:
    await john.send("/start accidental")
    await john.send("john@example.com")
    await john.send("example.com")
    await john.send("next week")
    assert "Step 3 of 4" in john.last_text()
    await john.send("December 1, 2026")
    assert "future" in john.last_text()


# --- robustness ---------------------------------------------------------------------------------


async def test_double_confirmation_files_one_ticket(anna: TelegramUser, balie: Balie) -> None:
    await to_summary(anna)
    summary = anna.last_message()
    data = next(data for label, data in (b for row in summary.buttons for b in row)
                if label.endswith("Maak het spoedticket aan"))
    assert data is not None
    await anna.press_data(data, message_id=summary.message_id)
    await anna.press_data(data, message_id=summary.message_id)
    [ticket] = await tickets_of(balie)
    assert sum(f"ticket #{ticket.id}" in text for text in anna.texts()) == 1


async def test_restart_midway_resumes(anna: TelegramUser, balie: Balie) -> None:
    await anna.send("/start")
    await anna.press(MENU_NL)
    await anna.send("anna@example.nl")
    await anna.send("bakkerij-jansen.nl")

    await balie.restart()

    await anna.send("eergisteren")
    assert "Stap 4 van 4" in anna.last_text() and "bakkerij-jansen.nl" in anna.last_text()
    await anna.press("Maak het spoedticket aan")
    [ticket] = await tickets_of(balie)
    assert ticket.fields["email"] == "anna@example.nl"
    assert ticket.fields["happened_on"] == "2026-11-26"


async def test_editing_from_the_summary(anna: TelegramUser, balie: Balie) -> None:
    await to_summary(anna)
    await anna.press("✏️ Datum")
    await anna.send("3 dagen geleden")
    assert "Per direct opgezegd op: 25 november 2026" in anna.last_text()
    await anna.press("✏️ Domein/product")
    await anna.send("jansen.com")
    assert "Domein: jansen.com" in anna.last_text()
    await anna.press("Maak het spoedticket aan")
    [ticket] = await tickets_of(balie)
    assert ticket.fields["domain"] == "jansen.com"
    assert ticket.fields["happened_on"] == "2026-11-25"


async def test_stop_midway_files_nothing(anna: TelegramUser, balie: Balie) -> None:
    await to_summary(anna)
    await anna.press("Stop")
    assert await tickets_of(balie) == []


# --- ways in ------------------------------------------------------------------------------------


async def test_deep_links_open_the_dialog(anna: TelegramUser, john: TelegramUser) -> None:
    await anna.send("/start per-ongeluk")
    assert "Stap 1 van 4" in anna.last_text() and "spoedticket" in anna.last_text()
    await john.send("/start accidental")
    assert "Step 1 of 4" in john.last_text()


async def test_the_article_leads_into_the_dialog(anna: TelegramUser, balie: Balie) -> None:
    await anna.send("ik heb per ongeluk direct opgezegd")
    article = anna.last_text()
    assert "Per ongeluk direct opgezegd" in article
    assert "spoedticket" in article
    assert "Mail nu" not in article  # the bot files it; no e-mail first
    await anna.press("Meld per ongeluk opgezegd")
    assert "Stap 1 van 4" in anna.last_text() and "e-mailadres" in anna.last_text()


# --- the colleagues are alerted, also when Telegram refuses at first ----------------------------


async def test_the_alert_waits_out_server_errors(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    await to_summary(anna)
    tg.fail_all(502, methods=["sendMessage"])
    await anna.press("Maak het spoedticket aan")
    [ticket] = await tickets_of(balie)
    assert f"ticket #{ticket.id}" in anna.last_text()  # the confirmation is an edit
    waiting = await balie.services.outbox.listing(states=("pending",))
    assert [(item.chat_id, item.ticket_id, item.kind) for item in waiting] == [
        (STAFF_CHAT_ID, ticket.id, "card"), (STAFF_CHAT_ID, ticket.id, "send")]
    assert await staff_alerts(tg, ticket, timeout=0.3) == []
    tg.heal()
    [alert] = await staff_alerts(tg, ticket)
    assert alert.startswith("🚨 Spoed")


async def test_the_alert_waits_out_a_flood_limit(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    await to_summary(anna)
    tg.fail_next_flood("sendMessage", retry_after=1)
    await anna.press("Maak het spoedticket aan")
    [ticket] = await tickets_of(balie)
    [alert] = await staff_alerts(tg, ticket)
    assert alert.startswith("🚨 Spoed") and "bakkerij-jansen.nl" in alert
    assert len(await staff_alerts(tg, ticket)) == 1  # once, not twice


def test_ticket_fields_follow_the_contract() -> None:
    fields = accidental.ticket_fields({"email": "a@b.nl", "domain": "b.nl",
                                       "happened_on": "2026-11-27"})
    assert {"email", "domain", "happened_on"} <= set(fields)


# --- office hours: what the customer may expect, honestly -----------------------------------------


async def test_on_saturday_the_customer_hears_when_colleagues_are_back(
    anna: TelegramUser, balie: Balie,
) -> None:
    await to_summary(anna)  # Saturday 28 November 2026, 10:00 (tests/conftest.py)
    await anna.press("Maak het spoedticket aan")
    done = anna.last_text()
    assert "Ze zijn er nu niet: ze zijn er weer op maandag 30 november 2026 om 09:00" in done
    assert "aan het werk" not in done


async def test_during_office_hours_colleagues_are_at_work(
    john: TelegramUser, balie: Balie,
) -> None:
    monday = datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    balie.services.now = lambda: monday  # type: ignore[method-assign]
    await john.send("/start per-ongeluk")
    await john.send("john@example.com")
    await john.send("example.com")
    await john.press("Today")
    await john.press("File the urgent ticket")
    done = john.last_text()
    assert "They are at work now" in done and "not in right now" not in done


async def test_a_product_can_turn_out_to_be_a_domain_after_all(
    anna: TelegramUser, balie: Balie,
) -> None:
    await anna.send("/start per-ongeluk")
    await anna.send("anna@example.nl")
    await anna.press("Geen domeinnaam")
    await anna.press("Het is toch een domeinnaam")
    assert "Om welke domeinnaam gaat het?" in anna.last_text()
    await anna.send("hallo wereld")
    assert "geen geldige domeinnaam" in anna.last_text()  # checked as a domain again
    await anna.send("jansen.com")
    await anna.press("Gisteren")
    assert "Domein: jansen.com" in anna.last_text()
