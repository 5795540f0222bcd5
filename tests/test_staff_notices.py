"""Until every ticket has its own topic, a new ticket is announced in the staff group through
the outbox — also when Telegram refuses the first tries."""

from __future__ import annotations

import asyncio

from tests.client import TelegramUser
from tests.conftest import STAFF_CHAT_ID, Balie
from tests.fakeapi import FakeTelegram
from tests.test_cancellation import to_summary


async def test_a_filed_request_is_announced_in_the_staff_group(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    await to_summary(anna, service="Hostingpakket", domain="voorbeeld.nl",
                     renewal="15 maart 2027", email="anna@example.nl")
    before = len(tg.chat(STAFF_CHAT_ID))
    await anna.press("Dien opzegverzoek in")
    [ticket] = await balie.services.tickets.list()
    staff = [m.text for m in tg.chat(STAFF_CHAT_ID)][before:]
    assert len(staff) == 1
    assert f"Nieuw ticket #{ticket.id}</b>: Opzegging voorbeeld.nl" in staff[0]
    assert "Anna (@anna) · anna@example.nl" in staff[0]
    assert "Te duur geworden" not in staff[0]  # what the customer wrote stays on the ticket
    assert f"ticket #{ticket.id}" in anna.last_text()


async def test_the_announcement_waits_out_server_errors(
    anna: TelegramUser, balie: Balie, tg: FakeTelegram,
) -> None:
    await to_summary(anna, service="Hostingpakket", domain="voorbeeld.nl",
                     renewal="15 maart 2027")
    tg.fail_all(502, methods=["sendMessage"])
    await anna.press("Dien opzegverzoek in")
    [ticket] = await balie.services.tickets.list()
    [waiting] = await balie.services.outbox.listing(states=("pending",))
    assert waiting.chat_id == STAFF_CHAT_ID and waiting.ticket_id == ticket.id
    tg.heal()
    for _ in range(1000):  # the worker's back-off: the first retry within a second or two
        if any(f"#{ticket.id}" in m.text for m in tg.chat(STAFF_CHAT_ID)):
            break
        await asyncio.sleep(0.01)
    assert len([m for m in tg.chat(STAFF_CHAT_ID) if f"ticket #{ticket.id}" in m.text]) == 1
