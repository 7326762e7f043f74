"""The message bus: what follows a committed domain event (cosmicpython's ``messagebus``).

Each unit of work publishes the events its use case committed when it ends
(``storage.uow.Database.publish_to``); the bus hands each to the handlers subscribed
to its type, in the order they subscribed. The runtime subscribes the scheduler and
the outbox, a front end its cards and tallies (``bot.telegram.app``), so neither the
use cases nor the handlers call them.

An event's change is already committed: a handler that fails is logged and the
others still run. What a failed one left undone is repaired where it always is — the
scheduler reconciles with the state at start and as leader, the outbox's heartbeat
finds queued notices, the next change redraws a card.
"""

from __future__ import annotations

import inspect
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from domain.events import Event

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
Handler = Callable[[Any], Awaitable[None] | None]


@dataclass
class _Held:
    events: list[Event] = field(default_factory=list)
    open: bool = True


# The events held back while one update is handled (``MessageBus.held``).
_held: ContextVar[_Held | None] = ContextVar("yishi_bus_held", default=None)


class MessageBus:
    def __init__(self) -> None:
        self._handlers: defaultdict[type[Event], list[Handler]] = defaultdict(list)
        self.handled = 0  # events handed out, for tests and the benchmarks

    def subscribe(self, kind: type[E], handler: Callable[[E], Awaitable[None] | None]) -> None:
        self._handlers[kind].append(handler)

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Hold back the events committed within the block, and follow them once it
        ends (each once): a handler's own answer — the reply, the answered button, the
        edited message — goes out before the cards and tallies that follow it, as a
        member expects. A task started within the block (a writer that outlives it)
        publishes at once after the block has ended."""
        held = _Held()
        token = _held.set(held)
        try:
            yield
        finally:
            _held.reset(token)
            held.open = False
            await self._dispatch(list(dict.fromkeys(held.events)))

    async def handle(self, events: Sequence[Event]) -> None:
        """Follow ``events`` now, or when the ``held`` block they were committed in ends."""
        held = _held.get()
        if held is not None and held.open:
            held.events += events
            return
        await self._dispatch(events)

    async def _dispatch(self, events: Sequence[Event]) -> None:
        for event in events:
            for handler in self._handlers.get(type(event), ()):
                try:
                    result = handler(event)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("%s failed to follow %s", _name(handler), event)
            self.handled += 1


def _name(handler: Handler) -> str:
    return getattr(handler, "__qualname__", repr(handler))
