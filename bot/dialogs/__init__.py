"""The conversations, one module each; each declares its `DIALOG` (router, forms, menu
entries). The order here is the order in which their routers see an update."""

from bot.dialog import Dialog
from bot.dialogs import (
    accidental,
    cancellation,
    deadlines,
    live_chat,
    my_tickets,
    payment_arrangement,
    question,
    start,
    ticket_reply,
)

DIALOGS: tuple[Dialog, ...] = (
    live_chat.DIALOG,  # first: while chatting live, everything goes to the colleague
    start.DIALOG,
    ticket_reply.DIALOG,  # a reply to a ticket's message, whatever dialog is running
    cancellation.DIALOG,
    deadlines.DIALOG,
    payment_arrangement.DIALOG,
    accidental.DIALOG,
    question.DIALOG,
    # Free text of a customer whose ticket a colleague is on: "which ticket is this about?"
    # before the knowledge base (the fallback) answers it.
    my_tickets.DIALOG,
)

__all__ = ["DIALOGS", "accidental", "cancellation", "deadlines", "live_chat", "my_tickets",
           "payment_arrangement",
           "question", "start", "ticket_reply"]
