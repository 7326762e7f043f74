"""Webhook delivery, as Telegram does it once ``setWebhook`` was called.

Pending updates are POSTed as JSON to the webhook's URL, with the secret token in
the ``X-Telegram-Bot-Api-Secret-Token`` header, up to ``max_connections`` at a
time, oldest first. An update counts as delivered only on a 2xx answer; any
other answer, or none, and it is delivered again after a pause that grows with
each failure (Telegram's is longer; this one is scaled for tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from emulator.engine import Engine

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
FIRST_RETRY = 0.2  # seconds
MAX_RETRY = 2.0


@dataclass
class WebhookStats:
    delivered: int = 0
    failed: int = 0  # attempts answered with something other than 2xx, or not at all
    statuses: dict[int, int] = field(default_factory=dict)


class WebhookDelivery:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._task: asyncio.Task[None] | None = None
        self._url = ""
        self._secret: str | None = None
        self._connections = 40
        self._retry_at: dict[int, tuple[float, float]] = {}  # update id -> (when, pause)
        self._in_flight: set[int] = set()
        self.stats = WebhookStats()

    def start(self, url: str, secret: str | None, max_connections: int) -> None:
        self.stop()
        self._url, self._secret = url, secret
        self._connections = max(1, min(max_connections, 100))
        self._task = asyncio.create_task(self._run(), name="emulator:webhook")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._in_flight.clear()

    async def _run(self) -> None:
        engine = self._engine
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            tasks: set[asyncio.Task[None]] = set()
            try:
                while True:
                    now = time.monotonic()
                    for update in self._due(now):
                        if len(self._in_flight) >= self._connections:
                            break
                        self._in_flight.add(update["update_id"])
                        task = asyncio.create_task(self._post(http, update))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                    waits = [when - now for when, _ in self._retry_at.values()]
                    await engine.updates_signal.wait(max(0.01, min(waits, default=1.0)))
            finally:
                for task in tasks:
                    task.cancel()

    def _due(self, now: float) -> list[dict[str, Any]]:
        world = self._engine.world
        due = []
        for update_id in sorted(world.pending):
            if update_id in self._in_flight:
                continue
            retry = self._retry_at.get(update_id)
            if retry is not None and retry[0] > now:
                continue
            due.append(world.pending[update_id])
        return due

    async def _post(self, http: aiohttp.ClientSession, update: dict[str, Any]) -> None:
        update_id = update["update_id"]
        headers = {SECRET_HEADER: self._secret} if self._secret else {}
        status = 0
        try:
            async with http.post(self._url, json=update, headers=headers) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            log.debug("webhook delivery of %s failed: %s", update_id, error)
        finally:
            self._in_flight.discard(update_id)
        self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
        world = self._engine.world
        if 200 <= status < 300:
            self.stats.delivered += 1
            world.pending.pop(update_id, None)
            world.delivered_up_to = max(world.delivered_up_to, update_id)
            self._retry_at.pop(update_id, None)
            self._engine.touch()
        else:
            self.stats.failed += 1
            _, pause = self._retry_at.get(update_id, (0.0, FIRST_RETRY / 2))
            pause = min(pause * 2, MAX_RETRY)
            self._retry_at[update_id] = (time.monotonic() + pause, pause)
        self._engine.updates_signal.fire()  # a connection is free again

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
