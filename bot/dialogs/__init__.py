"""The conversations, one module each. A module offers `router()` and may offer `ENTRIES`
(its main-menu lines), `FORMS` (forms the form mechanism runs) and `setup(services)`.
The order here is the order in which their routers see an update."""

from bot.dialogs import cancellation, deadlines, question, start

DIALOGS = (
    start,
    cancellation,
    deadlines,
    question,
)

__all__ = ["DIALOGS", "cancellation", "deadlines", "question", "start"]
