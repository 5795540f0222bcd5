"""A question typed in the middle of a form, end to end (the real bot over HTTP against the fake
Bot API): the answer and the form's step come in one message, so the customer carries on right
there; one Bot API call. The step's earlier message keeps its buttons, and a press on any of
them does the right thing or is answered as stale — never the wrong thing."""

from __future__ import annotations

from tests.client import TelegramUser
from tests.conftest import Balie
from tests.test_cancellation import open_guide, to_summary

QUESTION = "moet ik de factuur nog betalen als ik opzeg?"
CONFIDENT = "hoe zeg ik mijn hosting op"


def _calls(balie: Balie, since: int) -> list[str]:
    return [call.method for call in balie.tg.calls[since:] if call.method != "getUpdates"]


async def test_the_answer_and_the_step_come_in_one_message(
    anna: TelegramUser, balie: Balie
) -> None:
    await open_guide(anna)
    step = anna.last_message()
    assert "Stap 1 van" in step.plain
    calls, before = len(balie.tg.calls), len(anna.bot_messages())
    await anna.send(CONFIDENT)
    assert _calls(balie, calls) == ["sendMessage"]  # no buttons taken off, no step re-sent
    [shown] = anna.bot_messages()[before:]
    text = shown.plain
    assert "Hoe zeg ik mijn dienst op?" in text and "1 maand" in text  # the article
    assert text.index("Hoe zeg ik mijn dienst op?") < text.index("Stap 1 van")  # then the step
    assert "Wat wil je opzeggen?" in text
    assert "Hostingpakket" in shown.labels and "✖ Stop" in shown.labels  # carry on right here
    assert "👍 Dit hielp" in shown.labels  # and say whether it helped
    assert "Start de opzeghulp" not in shown.labels  # no way out of the form it is in
    assert anna.tg.message(anna.id, step.message_id).plain == step.plain  # the old one stands

    await anna.press("Hostingpakket", message_id=shown.message_id)
    assert "Stap 2 van" in anna.last_text()
    kept = anna.tg.message(anna.id, shown.message_id)
    assert kept.plain == text  # the answer is still there to read …
    assert "Hostingpakket" not in kept.labels and "👍 Dit hielp" in kept.labels  # … its step done
    await anna.press("Hostingpakket", message_id=step.message_id)  # the step before, pressed now
    assert anna.callback_answers()[-1]  # "this button belongs to an earlier message"
    assert "Stap 2 van" in anna.last_text()


async def test_a_press_on_the_step_shown_before_the_question_does_what_it_says(
    anna: TelegramUser, balie: Balie
) -> None:
    await open_guide(anna)
    step = anna.last_message()
    await anna.send(CONFIDENT)
    answer = anna.last_message()
    await anna.press("Domeinnaam", message_id=step.message_id)  # the same step: it counts
    assert "Stap 2 van" in anna.last_text()
    assert anna.last_message().message_id not in (step.message_id, answer.message_id)
    assert anna.tg.message(anna.id, step.message_id).buttons == []
    assert "Hoe zeg ik mijn dienst op?" in anna.tg.message(anna.id, answer.message_id).plain
    # The answer's step is past now: its buttons are stale, and change nothing.
    shown = len(anna.bot_messages())
    await anna.press("Hostingpakket", message_id=answer.message_id)
    assert anna.callback_answers()[-1]
    assert "Stap 2 van" in anna.last_text()
    assert "domeinnaam" in anna.last_text().lower()  # still the domain's way, not hosting's
    assert len(anna.bot_messages()) == shown + 1  # the current step, shown again below


async def test_feedback_on_the_answer_keeps_the_step_to_carry_on_with(
    anna: TelegramUser, balie: Balie
) -> None:
    await open_guide(anna)
    await anna.send(CONFIDENT)
    shown = anna.last_message()
    await anna.press("👍 Dit hielp")
    [row] = await balie.services.database.fetchall("SELECT feedback FROM questions")
    assert row["feedback"] == "helped"
    after = anna.tg.message(anna.id, shown.message_id)
    assert "👍 Dit hielp" not in after.labels and "Hostingpakket" in after.labels
    assert after.plain == shown.plain
    await anna.press("Hostingpakket", message_id=shown.message_id)
    assert "Stap 2 van" in anna.last_text()


async def test_stop_on_the_answer_keeps_the_answer_and_shows_the_menu_below(
    anna: TelegramUser,
) -> None:
    await open_guide(anna)
    await anna.send(CONFIDENT)
    shown = anna.last_message()
    await anna.press("✖ Stop", message_id=shown.message_id)
    assert anna.tg.message(anna.id, shown.message_id).plain == shown.plain
    assert anna.tg.message(anna.id, shown.message_id).buttons == []
    assert "Dienst opzeggen" in " ".join(anna.buttons())  # the menu, below


async def test_chatter_is_pointed_to_the_buttons_in_the_step_itself(
    anna: TelegramUser, balie: Balie
) -> None:
    await open_guide(anna)
    calls, before = len(balie.tg.calls), len(anna.bot_messages())
    await anna.send("asdfghjkl qwerty")
    assert _calls(balie, calls) == ["sendMessage"]
    [shown] = anna.bot_messages()[before:]
    assert "Kies een van de knoppen" in shown.plain and "Wat wil je opzeggen?" in shown.plain


async def test_a_question_at_the_summary_then_filing_keeps_the_answer(
    anna: TelegramUser, balie: Balie
) -> None:
    await to_summary(anna, service="Ander product", domain="SSL-certificaat",
                     renewal="weet ik niet", reason="Zeg ik liever niet")
    await anna.send(QUESTION)
    shown = anna.last_message()
    assert "factuur" in shown.plain.lower() and "📨 Dien opzegverzoek in" in shown.labels
    await anna.press("Dien opzegverzoek in", message_id=shown.message_id)
    [ticket] = await balie.services.tickets.list()
    assert anna.tg.message(anna.id, shown.message_id).plain == shown.plain  # still readable
    assert f"#{ticket.id}" in anna.last_text() and "ingediend" in anna.last_text()


async def test_an_older_summary_submits_nothing_once_a_field_changed(
    anna: TelegramUser, balie: Balie,
) -> None:
    """A question at the summary leaves the summary's message as it was; after a field is
    edited below it, that older summary shows other values than the form holds: pressing it
    files nothing (it is stale), the current summary does."""
    await to_summary(anna, service="Ander product", domain="SSL-certificaat",
                     renewal="weet ik niet", reason="Zeg ik liever niet")
    first = anna.last_message()
    assert first is not None
    await anna.send(QUESTION)
    combined = anna.last_message()
    assert combined is not None
    edit = next(label for label in combined.labels if label.startswith("✏") and
                "mail" in label.lower())
    await anna.press(edit, message_id=combined.message_id)
    await anna.send("nieuw@example.com")
    old = anna.tg.message(anna.id, first.message_id)
    assert old is not None and "nieuw@example.com" not in old.plain

    await anna.press("Dien opzegverzoek in", message_id=first.message_id)
    assert await balie.services.tickets.list() == []
    assert "Dien opzegverzoek in" not in " ".join(
        anna.tg.message(anna.id, first.message_id).labels)  # type: ignore[union-attr]
    current = anna.last_message()
    assert current is not None and "nieuw@example.com" in current.plain
    await anna.press("Dien opzegverzoek in", message_id=current.message_id)
    [ticket] = await balie.services.tickets.list()
    assert ticket.fields["email"] == "nieuw@example.com"
