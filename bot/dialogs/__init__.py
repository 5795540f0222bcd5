"""The conversations, one module each. A module offers `router()` and may offer `ENTRIES`
(its main-menu lines), `FORMS` (forms the form mechanism runs) and `setup(services)`.
The order here is the order in which their routers see an update."""

from bot.dialogs import start

DIALOGS = (start,)

__all__ = ["DIALOGS", "start"]
