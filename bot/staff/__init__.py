"""The colleagues' side: the staff supergroup, a forum topic per ticket.

- `context`: where an update comes from (the topic) and who sent it (a member of the group);
- `topics`: a ticket's topic and its card, created and kept in step by the outbox worker;
- `relay`: what a colleague writes in a ticket's topic goes to the customer;
- `commands`: /queue, /claim, /close … and the card's buttons.
"""

from __future__ import annotations

from aiogram import Router

from bot.staff import commands, relay
from bot.staff.context import StaffContext, StaffMiddleware, check_staff_group
from bot.staff.context import router as context_router

__all__ = ["StaffContext", "StaffMiddleware", "check_staff_group", "router"]


def router(staff_chat_id: int) -> Router:
    """Commands first (they act on the topic's ticket), then the relay to the customer."""
    staff = context_router(staff_chat_id)
    staff.include_router(commands.router())
    staff.include_router(relay.router())
    return staff
