"""`yishi run` and `yishi db upgrade`: the bot for real, and its database."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from bot.config import Settings

log = logging.getLogger("yishi")

NO_TOKEN = """\
yishi run: no Telegram bot token.

Set YISHI_TELEGRAM_TOKEN (in the environment or in a .env file here).
To get a token, open a chat with @BotFather in Telegram, send /newbot and follow
the steps; BotFather answers with a token like 123456789:AAE...

To see Yishi work without a token, run:  yishi demo
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run the bot (long polling)")
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
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(serve(settings, settings.telegram_token.get_secret_value()))
    return 0


async def serve(settings: Settings, token: str) -> None:
    """Run until SIGINT or SIGTERM; migrations are applied first."""
    from bot.app import build_application, running
    from storage.uow import Database

    database = await Database.open(settings.database_url, migrate=True)
    try:
        application = build_application(settings, database, token=token)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with running(application):
            log.info("Yishi is running as @%s; press Ctrl+C to stop", application.bot.username)
            await stop.wait()
    finally:
        await database.dispose()


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
