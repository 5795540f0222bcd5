"""The work of one update: the conversation state it changes and the replies that must wait for
the outbox, kept until the update is marked done, so that all of it is written in one
transaction (see `bot.intake`)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from storage.outbox import Notice


@dataclass
class UpdateUnit:
    update_id: int
    open: bool = True  # False once committed or discarded: later writes go straight to disk
    fsm: dict[Any, list[Any]] = field(default_factory=dict)  # key -> [state, data JSON]
    fsm_loaded: dict[Any, list[Any]] = field(default_factory=dict)  # as read, to skip no-ops
    later: list[Notice] = field(default_factory=list)  # replies Telegram did not take in time

    def discard(self) -> None:
        self.fsm.clear()
        self.later.clear()
        self.open = False


current_unit: ContextVar[UpdateUnit | None] = ContextVar("balie_update_unit", default=None)
