"""The web in the bot's process (``YISHI_WEB_IN_RUN``; the demo and the tests)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from telegram.ext import Application

from bot.telegram.context import Deps

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def web_beside(
    application: Application,  # type: ignore[type-arg]
    token: str,
) -> AsyncIterator[None]:
    """With ``YISHI_WEB_IN_RUN``, the web in the bot's process: its votes share the bot's
    ballot box, and what they set off follows through the same bus at once."""
    deps: Deps = application.bot_data["deps"]
    settings = deps.settings
    if not settings.web_in_run:
        yield
        return
    from bot.web.app import build_web
    from bot.web.server import serving

    app = build_web(
        settings,
        deps.database,
        token=token,
        clock=deps.clock,
        ballot_box=deps.ballot_box,
        bot_username=application.bot.username,
    )
    async with serving(app, settings.web_host, settings.web_port) as port:
        url = settings.public_web_url()
        log.info("the web is serving on %s:%d (%s)", settings.web_host, port, url)
        yield
