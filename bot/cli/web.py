"""`yishi web`: the staff console and the residents' page, without the bot.

On PostgreSQL it runs beside `yishi run` processes (a vote from the page reaches the
group's live tally when the bot next catches up, within its scheduler tick). A SQLite
file has one process: there, serve the web from the bot's own process instead
(``YISHI_WEB_IN_RUN=true yishi run``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from bot.config import Settings

log = logging.getLogger("yishi")

NO_TOKEN = """\
yishi web: no Telegram bot token.

The web checks Mini App sign-ins with the bot's token and derives its keys from it
(or from YISHI_SECRET): set YISHI_TELEGRAM_TOKEN as for `yishi run`.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    web = sub.add_parser("web", help="serve the staff console and the residents' page")
    web.add_argument("--host", help="address to listen on (YISHI_WEB_HOST)")
    web.add_argument("--port", type=int, help="port to listen on (YISHI_WEB_PORT)")
    web.set_defaults(handler=run_web)


def run_web(args: argparse.Namespace) -> int:
    overrides = {
        name: value
        for name, value in (("web_host", args.host), ("web_port", args.port))
        if value is not None
    }
    settings = Settings(**overrides)
    if settings.telegram_token is None or not settings.telegram_token.get_secret_value():
        print(NO_TOKEN, file=sys.stderr, end="")
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from storage.db import DatabaseInUse

    try:
        asyncio.run(serve_web(settings, settings.telegram_token.get_secret_value()))
    except DatabaseInUse as error:
        print(f"yishi web: {error}", file=sys.stderr)
        hint = "On SQLite, serve the web from the bot: YISHI_WEB_IN_RUN=true yishi run"
        print(hint, file=sys.stderr)
        return 1
    return 0


async def serve_web(settings: Settings, token: str) -> None:
    from bot.cli.run import open_database
    from bot.web.app import build_web
    from bot.web.server import serving
    from storage.db import exclusive

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    with exclusive(settings.database_url):
        database = await open_database(settings, stop)
        if database is None:
            return
        try:
            app = build_web(settings, database, token=token)
            async with serving(app, settings.web_host, settings.web_port) as port:
                log.info(
                    "Yishi's web is serving on %s:%d (%s); press Ctrl+C to stop",
                    settings.web_host,
                    port,
                    settings.public_web_url(),
                )
                await stop.wait()
        finally:
            await database.dispose()
