"""Callback data of the staff group's buttons (the ticket card, the queue)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class StaffCb(CallbackData, prefix="st"):
    """A colleague's button on a ticket: `action` one of claim, unclaim, wait, close, reopen,
    prio (with `value` the priority), show (the queue's page `value`)."""

    action: str
    ticket: int = 0
    value: str = ""
