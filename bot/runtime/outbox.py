"""The outbox sender: delivers queued notices through the messenger port.

``kick()`` asks for a delivery round soon; rounds never overlap within a
process, and notices are claimed in the database by this process
(``bot.runtime.presence``), so several processes may deliver side by side
without taking the same notice. Sending goes through the messenger
(:mod:`bot.runtime.messenger`); a flood wait postpones just that notice. A notice that
certainly did not go out (refused, the connection never made) is retried
later; one that may or may not have gone out (a timeout, a connection lost
mid-request) is repeated only if repeating it is harmless
(``domain.outbox.repeatable``), else given up as UNKNOWN and logged. One whose
recipient never started the bot is handed to the domain
(``recipient_unreachable``), which may name them in the group instead. Notices
a dead process left half-sent are recovered the same way (``recover``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.runtime.messenger import (
    ChatMoved,
    FloodWait,
    InDoubt,
    Messenger,
    MessengerError,
    Outgoing,
    Unreachable,
)
from bot.runtime.presence import Presence
from domain import outbox
from domain.model import Notice
from domain.ports import Clock, UnitOfWorkFactory

log = logging.getLogger(__name__)

BATCH = 8  # claimed at a time: at most WORKERS × BATCH are in doubt after a crash
WORKERS = 2
CONCURRENCY = 16  # messages in flight; the rate limiter spaces them out
RETRY = timedelta(seconds=15)
RETRY_IN_DOUBT = timedelta(seconds=2)  # a lost connection: soon, but not in a tight loop

Renderer = Callable[[Notice], Awaitable[Outgoing | None]]


class Outbox:
    def __init__(
        self,
        messenger: Messenger,
        uow: UnitOfWorkFactory,
        clock: Clock,
        render: Renderer,
        presence: Presence,
        on_chat_moved: Callable[[int, int], Awaitable[None]] | None = None,
        on_in_doubt: Callable[[Notice], Awaitable[None]] | None = None,
    ) -> None:
        self._messenger = messenger
        self._uow = uow
        self._clock = clock
        self._render = render
        self._presence = presence
        self._on_chat_moved = on_chat_moved
        self._on_in_doubt = on_in_doubt
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self.sent = 0  # messages sent by this process, for tests and benchmarks
        self.postponed = 0  # 429s met
        self.in_doubt = 0  # notices given up because they may have gone out

    def kick(self) -> None:
        """Deliver whatever is due, soon; several kicks in a row make one round."""
        self._again = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._rounds())

    async def _rounds(self) -> None:
        while self._again:
            self._again = False
            # Two at once: one claims and records its batch while the other sends.
            await asyncio.gather(*(self._drain_batches() for _ in range(WORKERS)))

    async def _drain_batches(self) -> None:
        try:
            while await self.flush():
                pass
        except Exception:
            log.exception("outbox delivery failed; the next kick tries again")

    async def flush(self) -> int:
        """One batch: claim due notices and send them; returns how many were claimed."""
        notices = await outbox.claim_notices(
            self._uow(), now=self._clock(), limit=BATCH, claimed_by=self._presence.instance_id
        )
        delivered = [
            done
            for done in await asyncio.gather(*(self._deliver(notice) for notice in notices))
            if done is not None
        ]
        if delivered:
            sent = [(notice_id, message_id) for notice_id, message_id, _ in delivered]
            await outbox.notices_sent(self._uow(), sent=sent, now=self._clock())
            self.sent += len(sent)
        for notice_id, message_id, out in delivered:
            if out.after is not None:
                try:
                    await out.after(message_id)
                except Exception:
                    log.exception("follow-up of notice %s failed", notice_id)
        return len(notices)

    async def recover(self) -> None:
        """Take back what processes that are gone left SENDING, then deliver.

        At start-up (this process's earlier life is one of them) and at every
        heartbeat of the leader."""
        claimers = await outbox.in_flight_claimers(self._uow())
        if claimers:
            alive = await self._presence.alive(claimers)
            dead = [claimer for claimer in claimers if claimer not in alive]
            found = await outbox.recover_notices(self._uow(), dead=dead, now=self._clock())
            if found.resent:
                log.warning(
                    "%d notices a stopped process was sending are sent again (harmless to"
                    " repeat): %s",
                    len(found.resent),
                    ", ".join(n.key for n in found.resent),
                )
            for notice in found.in_doubt:
                log.warning(
                    "notice %s (%s) was being sent when its process stopped: it may or may"
                    " not have arrived, and it is not sent again",
                    notice.key,
                    notice.kind.value,
                )
                await self._gave_up(notice)
        self.kick()

    async def _gave_up(self, notice: Notice) -> None:
        self.in_doubt += 1
        if self._on_in_doubt is not None:
            try:
                await self._on_in_doubt(notice)
            except Exception:
                log.exception("could not settle notice %s left in doubt", notice.key)

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def drain(self) -> None:
        """Wait until the current delivery rounds are over (shutdown, tests)."""
        while self._task is not None and not self._task.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._task)

    async def _deliver(self, notice: Notice) -> tuple[int, int, Outgoing] | None:
        """Send one notice; (notice id, message id, what was sent) when it went out.

        Whatever else happens to it (dropped, unreachable, postponed, failed) is
        recorded here; its being sent is recorded with the batch (``flush``)."""
        assert notice.id is not None
        async with self._slots:
            try:
                out = await self._render(notice)
                if out is None:
                    await outbox.notice_dropped(self._uow(), notice_id=notice.id, now=self._clock())
                    return None
                message_id = await self._messenger.send(
                    notice.chat_id, out, thread_id=notice.thread_id or None
                )
            except Unreachable:
                queued = await outbox.recipient_unreachable(
                    self._uow(), notice_id=notice.id, now=self._clock()
                )
                if queued:
                    self._again = True
                return None
            except FloodWait as error:
                await self._postpone(notice, error)
                return None
            except ChatMoved as error:  # a Telegram group became a supergroup
                await self._moved(notice, error)
                return None
            except InDoubt as error:
                await self._doubt(notice, error)
                return None
            except MessengerError as error:  # refused, or never sent: certainly not out
                await self._failed(notice, error)
                return None
            return notice.id, message_id, out

    async def _postpone(self, notice: Notice, error: FloodWait) -> None:
        assert notice.id is not None
        seconds = error.retry_after
        await outbox.notice_postponed(
            self._uow(), notice_id=notice.id, until=self._clock() + timedelta(seconds=seconds)
        )
        self.postponed += 1
        # A little after: a kick before the notice is due would find nothing to send.
        asyncio.get_running_loop().call_later(seconds + 0.05, self.kick)

    async def _moved(self, notice: Notice, error: ChatMoved) -> None:
        assert notice.id is not None
        if self._on_chat_moved is not None:
            await self._on_chat_moved(notice.chat_id, error.new_chat_id)
        # The move re-addressed the queued notices of the old chat, this one too.
        await outbox.notice_postponed(self._uow(), notice_id=notice.id, until=self._clock())
        self._again = True

    async def _doubt(self, notice: Notice, error: MessengerError) -> None:
        assert notice.id is not None
        again = await outbox.delivery_in_doubt(
            self._uow(), notice_id=notice.id, now=self._clock(), retry_in=RETRY_IN_DOUBT
        )
        if again:
            asyncio.get_running_loop().call_later(RETRY_IN_DOUBT.total_seconds() + 0.05, self.kick)
        else:
            await self._gave_up(notice)
        log.warning(
            "notice %s may or may not have been sent (%s); %s",
            notice.key,
            error,
            "sending it again (harmless to repeat)" if again else "not sent again",
        )

    async def _failed(self, notice: Notice, error: MessengerError) -> None:
        assert notice.id is not None
        again = await outbox.notice_failed(
            self._uow(), notice_id=notice.id, now=self._clock(), retry_in=RETRY
        )
        log.warning(
            "notice %s not sent (%s); %s",
            notice.key,
            error,
            "will retry" if again else "given up",
        )
