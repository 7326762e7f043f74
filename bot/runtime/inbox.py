"""The durable update inbox at work: store first, confirm after, handle from the store.

The front end (polling or the webhook) gives :meth:`Inbox.receive` a batch of
updates as the messenger sent them; it returns once they are committed to the
``inbox`` table, and only then may the front end tell the messenger they arrived
(the next ``getUpdates`` offset, the webhook's 200). Each stored update is
handled by ``handle`` in a task of its own; when it is done its row is marked
handled, in batches. A process that dies leaves its unhandled rows behind, and
:meth:`recover` (at start-up, and by the leader every poll) hands them to a
living process. Handling twice is harmless for what changes state: every
state-changing use case claims the update's key in its own transaction
(``domain.idempotency``), so a second handling changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from bot.runtime.presence import Presence
from domain.ports import Clock
from storage.errors import is_unavailable
from storage.inbox import Entry, SqlInbox
from storage.uow import Database

log = logging.getLogger(__name__)

# Telegram keeps an update for 24 hours; an hour more for clocks that disagree.
REDELIVERY_WINDOW = timedelta(hours=25)
PRUNE_EVERY = timedelta(hours=1)
FLUSH_DELAY = 0.05  # seconds: handled marks are written in batches
FLUSH_RETRY = 1.0  # seconds between tries while the database is away

Handle = Callable[[dict[str, Any], object | None], Awaitable[None]]


class Inbox:
    def __init__(
        self,
        database: Database,
        presence: Presence,
        bot_id: int,
        clock: Clock,
        handle: Handle,
    ) -> None:
        self._store = SqlInbox(database.sessions, bot_id)
        self._presence = presence
        self._clock = clock
        self._handle = handle
        self._tasks: set[asyncio.Task[None]] = set()
        self._handled: list[int] = []
        self._flusher: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._last_prune = self._clock() - PRUNE_EVERY * 2
        self.received = 0  # updates stored by this process
        self.recovered = 0  # updates of dead processes handled here

    @property
    def bot_id(self) -> int:
        return self._store.bot_id

    @property
    def in_flight(self) -> int:
        """Updates being handled, plus handled ones whose mark is not written yet."""
        return len(self._tasks) + len(self._handled)

    async def receive(
        self, payloads: Sequence[dict[str, Any]], parsed: Sequence[object] | None = None
    ) -> int:
        """Store the updates, then start handling them; how many were new.

        Raises the database's error when they could not be stored: the caller must
        then not confirm them to the messenger. ``parsed`` are the same updates as
        the front end's objects, to save parsing them again.
        """
        by_id = (
            {int(p["update_id"]): u for p, u in zip(payloads, parsed, strict=True)}
            if parsed is not None
            else {}
        )
        entries = await self._store.store(
            payloads, claimed_by=self._presence.instance_id, now=self._clock()
        )
        self.received += len(entries)
        for entry in entries:
            self._start(entry, by_id.get(entry.update_id))
        return len(entries)

    def _start(self, entry: Entry, parsed: object | None) -> None:
        self._idle.clear()
        task = asyncio.create_task(self._run(entry, parsed), name=f"inbox:{entry.update_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, entry: Entry, parsed: object | None) -> None:
        try:
            await self._handle(entry.payload, parsed)
        except Exception:  # the front end reports its own failures; this is a last resort
            log.exception("update %s could not be handled", entry.update_id)
        finally:
            if (task := asyncio.current_task()) is not None:
                self._tasks.discard(task)
            self._handled.append(entry.id)
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        """Write the handled marks, a batch at a time; keep them while the database is away."""
        while self._handled:
            await asyncio.sleep(FLUSH_DELAY)
            batch, self._handled = self._handled, []
            try:
                await self._store.handled(batch, now=self._clock())
            except Exception as error:
                self._handled = batch + self._handled
                if not is_unavailable(error):
                    log.exception("could not mark %d updates handled", len(batch))
                await asyncio.sleep(FLUSH_RETRY)
        if not self._tasks:
            self._idle.set()

    async def recover(self) -> int:
        """Handle the stored updates that processes which are gone left unhandled
        (this process's own earlier life included); how many were taken over."""
        taken = 0
        while True:
            claimers = await self._store.claimers()
            alive = await self._presence.alive(claimers)
            dead = [claimer for claimer in claimers if claimer not in alive]
            entries = await self._store.take_over(dead, claimed_by=self._presence.instance_id)
            if not entries:
                break
            taken += len(entries)
            for entry in entries:
                self._start(entry, None)
        if taken:
            log.warning("handling %d updates a stopped process had stored but not handled", taken)
        self.recovered += taken
        return taken

    async def prune(self, *, force: bool = False) -> None:
        """Now and then: forget updates the messenger can no longer send again."""
        now = self._clock()
        if not force and now - self._last_prune < PRUNE_EVERY:
            return
        self._last_prune = now
        rows, claims = await self._store.prune(now - REDELIVERY_WINDOW)
        if rows or claims:
            log.info("inbox: forgot %d handled updates and %d claims older than 25 h", rows, claims)

    async def housekeeping(self) -> None:
        """What the leader does at every heartbeat: take over and prune."""
        try:
            await self.recover()
            await self.prune()
        except Exception as error:
            if not is_unavailable(error):
                raise
            log.warning("inbox housekeeping postponed: the database is unavailable")

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every update in hand is handled and marked (shutdown, tests)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self._tasks or self._handled:
                    await self._idle.wait()
                    await asyncio.sleep(0)

    async def unhandled(self) -> int:
        return await self._store.unhandled()
