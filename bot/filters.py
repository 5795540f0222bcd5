"""Synchronous filters run in the event loop's thread.

aiogram calls every synchronous filter — each `F.…` magic filter, any plain function — through
`asyncio.to_thread` (`CallableObject.call`), so each check of an update costs a hand-off to a
worker thread and back for what is an attribute comparison. `inline_sync_filters` replaces them,
once the routers are composed, with filters that aiogram awaits directly and that call the same
callable with the same arguments. Asynchronous filters and `Filter` classes are left as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.handler import FilterObject, HandlerObject


class InlineFilter(FilterObject):
    """A synchronous filter, called where it is checked (no thread hop)."""

    async def call(self, *args: Any, **kwargs: Any) -> Any:
        return self.callback(*args, **self._prepare_kwargs(kwargs))


def inline(filter_: FilterObject) -> FilterObject:
    if filter_.awaitable or isinstance(filter_, InlineFilter):
        return filter_
    # A magic filter is given as itself, so that it is resolved as aiogram resolves it.
    inlined = InlineFilter(filter_.magic if filter_.magic is not None else filter_.callback)
    inlined.awaitable = True  # what aiogram reads to decide whether to await it
    return inlined


def handler_objects(router: Router) -> Iterator[HandlerObject]:
    """Every handler of `router` and the routers below it, and each observer's own filters."""
    for each in router.chain_tail:
        for observer in each.observers.values():
            yield observer._handler  # the filters given with `router.message.filter(…)`
            yield from observer.handlers


def inline_sync_filters(router: Router) -> int:
    """Make every synchronous filter below `router` run inline; how many were changed."""
    changed = 0
    for handler in handler_objects(router):
        if not handler.filters:
            continue
        filters = [inline(filter_) for filter_ in handler.filters]
        changed += sum(new is not old for new, old in zip(filters, handler.filters, strict=True))
        handler.filters = filters
    return changed
