"""The conversations, one module each; each declares its `DIALOG` (router, forms, menu
entries). The order here is the order in which their routers see an update."""

from bot.dialog import Dialog
from bot.dialogs import accidental, cancellation, deadlines, payment_arrangement, question, start

DIALOGS: tuple[Dialog, ...] = (
    start.DIALOG,
    cancellation.DIALOG,
    deadlines.DIALOG,
    payment_arrangement.DIALOG,
    accidental.DIALOG,
    question.DIALOG,
)

__all__ = ["DIALOGS", "accidental", "cancellation", "deadlines", "payment_arrangement",
           "question", "start"]
