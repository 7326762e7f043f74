"""The real bot wired to the local Bot API emulator: for the demo, tests and benchmarks."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from telegram.ext import Application

from bot.config import Settings
from bot.telegram.app import build_application, running
from bot.telegram.context import Clock, Deps, utcnow
from bot.telegram.web import web_beside
from bot.telegram.webhook import WebhookConfig
from emulator import BotApiEmulator, RateLimits
from storage.db import exclusive
from storage.uow import Database


@dataclass
class LocalBot:
    emulator: BotApiEmulator
    application: Application  # type: ignore[type-arg]
    database: Database
    web_url: str | None = None  # the web's address, when it runs beside the bot

    @property
    def deps(self) -> Deps:
        deps: Deps = self.application.bot_data["deps"]
        return deps

    async def idle(self) -> None:
        """Return once the bot has nothing in hand: every fetched update stored and
        handled, every queued notice sent (or postponed), every tally edit made. The
        signal the tests and the demo wait for, instead of a quiet period."""
        deps = self.deps
        while True:
            receiver = self.application.bot_data.get("receiver")
            while getattr(receiver, "in_hand", 0):
                await asyncio.sleep(0.001)
            await deps.inbox.drain()
            while deps.scheduler.running:  # a job already running, not one merely due
                await asyncio.sleep(0.005)
            await deps.refresher.drain()
            await deps.outbox.drain()
            if not (
                getattr(receiver, "in_hand", 0)
                or deps.inbox.in_flight
                or deps.scheduler.running
                or deps.refresher.busy
                or deps.outbox.busy
            ):
                return


def local_settings(emulator: BotApiEmulator, database_url: str, **settings: Any) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_base_url=emulator.base_url,
        database_url=database_url,
        **settings,
    )


@asynccontextmanager
async def bot_on(
    emulator: BotApiEmulator,
    database_url: str,
    *,
    clock: Clock = utcnow,
    tally_edit_interval: float = 0.05,
    language: str = "zh-CN",
    webhook: WebhookConfig | None = None,
    web: bool = False,
    **settings: Any,
) -> AsyncIterator[LocalBot]:
    """Run the bot against a running emulator until the block ends (a restart is
    leaving one block and entering another on the same database); with ``webhook``
    the emulator posts updates to the bot's webhook server instead of being polled;
    with ``web`` the web is served beside it on a free port of 127.0.0.1."""
    if web:
        settings.setdefault("web_port", free_port())
        settings.update(web_host="127.0.0.1", web_in_run=True)
    config = local_settings(
        emulator,
        database_url,
        tally_edit_interval=tally_edit_interval,
        group_messages_per_minute=emulator.limits.group_per_minute,
        language=language,
        **settings,
    )
    with exclusive(database_url):
        database = await Database.open(database_url, migrate=True)
        try:
            assert emulator.token is not None
            application = build_application(config, database, token=emulator.token, clock=clock)
            async with (
                running(application, poll_timeout=1, webhook=webhook),
                web_beside(application, emulator.token),
            ):
                web_url = config.public_web_url() if web else None
                local = LocalBot(emulator, application, database, web_url)
                unwatch = emulator.watch(local.idle)
                try:
                    yield local
                finally:
                    unwatch()
        finally:
            await database.dispose()


@asynccontextmanager
async def local_bot(
    database_url: str,
    *,
    group_messages_per_minute: int = 600,
    **settings: Any,
) -> AsyncIterator[LocalBot]:
    """Start the emulator, migrate the database and run the bot against both.

    The emulator enforces the same group flood limit that the bot's rate limiter keeps
    to; Telegram's is 20 a minute, which makes a scripted chat crawl, so local runs
    default to a faster one.
    """
    limits = RateLimits(group_per_minute=group_messages_per_minute)
    async with (
        BotApiEmulator(limits=limits) as emulator,
        bot_on(emulator, database_url, **settings) as running_bot,
    ):
        yield running_bot


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on now (the web binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
