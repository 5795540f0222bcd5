"""The work of one update: the conversation state it changes, kept until the update is marked
done so that both are written in one transaction (see `bot.intake`)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass
class UpdateUnit:
    update_id: int
    open: bool = True  # False once committed or discarded: later writes go straight to disk
    fsm: dict[Any, list[Any]] = field(default_factory=dict)  # key -> [state, data JSON]
    fsm_loaded: dict[Any, list[Any]] = field(default_factory=dict)  # as read, to skip no-ops

    def discard(self) -> None:
        self.fsm.clear()
        self.open = False


current_unit: ContextVar[UpdateUnit | None] = ContextVar("balie_update_unit", default=None)
