"""Group commit for votes: presses that arrive together are written together.

A burst of presses (a whole council voting at the end of a meeting) would
otherwise be a burst of tiny transactions, each paying for its own begin,
lookups and commit; on SQLite they also queue for the single writer. While one
batch is being written, new presses wait in the box; the next batch takes them
all. A lone press is written at once, so nobody waits for company.
"""

from __future__ import annotations

import asyncio
import contextlib

from domain import errors, services
from domain.ports import Clock, UnitOfWorkFactory
from domain.services import VoteReceipt, VoteRequest

MAX_BATCH = 128


class BallotBox:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, max_batch: int = MAX_BATCH) -> None:
        self._uow = uow
        self._clock = clock
        self._max_batch = max_batch
        self._waiting: list[tuple[VoteRequest, asyncio.Future[VoteReceipt | errors.DomainError]]]
        self._waiting = []
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0  # written so far, for the benchmark

    async def cast(self, request: VoteRequest) -> VoteReceipt | errors.DomainError:
        """Count one press; returns the receipt, or the refusal (``Redelivered`` for a copy)."""
        future: asyncio.Future[VoteReceipt | errors.DomainError]
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                try:
                    results = await services.cast_votes(
                        self._uow(), [request for request, _ in batch], now=self._clock()
                    )
                except Exception as failure:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(failure)
                    continue
                self.batches += 1
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._writer = None

    async def close(self) -> None:
        """Let the presses already in the box be written (shutdown)."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer
