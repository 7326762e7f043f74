"""`yishi run` and `yishi db upgrade`: the bot for real, and its database."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from typing import TYPE_CHECKING

from bot.config import Settings

if TYPE_CHECKING:
    from storage.uow import Database

log = logging.getLogger("yishi")

NO_TOKEN = """\
yishi run: no Telegram bot token.

Set YISHI_TELEGRAM_TOKEN (in the environment or in a .env file here).
To get a token, open a chat with @BotFather in Telegram, send /newbot and follow
the steps; BotFather answers with a token like 123456789:AAE...

To see Yishi work without a token, run:  yishi demo
"""


NO_WEBHOOK_URL = """\
yishi run --webhook: no webhook address.

Set YISHI_WEBHOOK_URL to the public HTTPS address your reverse proxy serves, e.g.
https://yishi.example.org/telegram ; the proxy forwards that path to
YISHI_WEBHOOK_LISTEN:YISHI_WEBHOOK_PORT (default 127.0.0.1:8081). See deploy/.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run the bot (long polling, or --webhook)")
    run.add_argument(
        "--webhook",
        action="store_true",
        help="receive updates by webhook (YISHI_WEBHOOK_URL) instead of long polling",
    )
    run.set_defaults(handler=run_bot)
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="apply the database migrations")
    upgrade.set_defaults(handler=db_upgrade)
    current = db_sub.add_parser("current", help="show the database's migration revision")
    current.set_defaults(handler=db_current)


def run_bot(args: argparse.Namespace) -> int:
    settings = Settings()
    if settings.telegram_token is None or not settings.telegram_token.get_secret_value():
        print(NO_TOKEN, file=sys.stderr, end="")
        return 2
    webhook = bool(getattr(args, "webhook", False))
    if webhook and not settings.webhook_url:
        print(NO_WEBHOOK_URL, file=sys.stderr, end="")
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from storage.db import DatabaseInUse

    try:
        asyncio.run(serve(settings, settings.telegram_token.get_secret_value(), webhook=webhook))
    except DatabaseInUse as error:
        print(f"yishi run: {error}", file=sys.stderr)
        return 1
    return 0


async def serve(settings: Settings, token: str, *, webhook: bool = False) -> None:
    """Run until SIGINT or SIGTERM; the database is waited for and migrated first."""
    from bot.telegram.app import build_application, running, webhook_config
    from bot.telegram.web import web_beside
    from storage.db import exclusive

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    with exclusive(settings.database_url):
        database = await open_database(settings, stop)
        if database is None:
            return  # asked to stop while waiting
        try:
            application = build_application(settings, database, token=token)
            config = webhook_config(settings, token) if webhook else None
            async with running(application, webhook=config), web_beside(application, token):
                log.info(
                    "Yishi is running as @%s (%s); press Ctrl+C to stop",
                    application.bot.username,
                    "webhook" if config else "long polling",
                )
                await stop.wait()
        finally:
            await database.dispose()


async def open_database(settings: Settings, stop: asyncio.Event) -> Database | None:
    """Connect and migrate, waiting for a database that is not reachable yet (a server
    still starting, a network outage): try again with a growing pause, saying so."""
    from storage.errors import is_unavailable
    from storage.uow import Database

    pause = 1.0
    while True:
        try:
            return await Database.open(settings.database_url, migrate=True)
        except Exception as error:
            if not is_unavailable(error):
                raise
            log.warning(
                "database at %s unavailable (%s); trying again in %.0f s",
                _safe(settings.database_url),
                _first_line(error),
                pause,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
            return None
        pause = min(pause * 2, settings.database_retry_max)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def db_upgrade(args: argparse.Namespace) -> int:
    from storage.migrate import upgrade

    settings = Settings()
    asyncio.run(upgrade(settings.database_url))
    print(f"database at {_safe(settings.database_url)} is up to date")
    return 0


def db_current(args: argparse.Namespace) -> int:
    from storage.migrate import current

    settings = Settings()
    print(asyncio.run(current(settings.database_url)) or "(empty database)")
    return 0


def _safe(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
