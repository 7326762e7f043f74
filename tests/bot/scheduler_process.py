"""A bot process without polling, for the multi-process scheduler test.

``python -m tests.bot.scheduler_process DATABASE_URL BASE_URL TOKEN POLL`` runs
the application's scheduler and outbox against a Bot API (the test's
emulator) until SIGTERM, and prints ``leader`` or ``follower`` whenever its
role changes, so the test can tell who runs the jobs.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from bot.config import Settings
from bot.telegram.app import build_application
from bot.telegram.context import Deps
from storage.uow import Database


async def main(database_url: str, base_url: str, token: str, poll: float) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_base_url=base_url,
        database_url=database_url,
        scheduler_poll=poll,
        group_messages_per_minute=600,
    )
    database = await Database.open(database_url, migrate=False)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    application = build_application(settings, database, token=token)
    async with application:
        deps: Deps = application.bot_data["deps"]
        await deps.scheduler.start()
        role = None
        while not stop.is_set():
            now = "leader" if deps.scheduler.leadership.is_leader else "follower"
            if now != role:
                print(now, flush=True)
                role = now
            await asyncio.sleep(0.05)
        await deps.scheduler.stop()
        await deps.outbox.drain()
    await database.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
