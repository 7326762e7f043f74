"""Webhook mode: Telegram posts updates over HTTPS (through a reverse proxy) to this server.

Each request must carry the secret token given to ``setWebhook`` in the
``X-Telegram-Bot-Api-Secret-Token`` header; any other request is refused and
stores nothing. An update is answered 200 only after it is committed to the
inbox: python-telegram-bot's own webhook server answers before handling, so a
crash would lose what it had accepted. While the database is away the answer
is 503 and Telegram delivers the update again later; a button press is the
exception, because its member is waiting: they are told at once that it was
not recorded ("暂时无法记录，请稍后再按"), and the press is dropped.

Several processes may serve the same webhook (PostgreSQL): the proxy spreads
requests among them, and each handles what it stored.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Bot, Update
from telegram.error import TelegramError

from bot.i18n import language_of, t
from bot.runtime.inbox import Inbox
from bot.telegram.render import plain
from bot.telegram.startup_calls import retrying
from storage.errors import is_unavailable

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # an update is a few kilobytes; refuse what cannot be one


@dataclass(frozen=True)
class WebhookConfig:
    url: str  # the public HTTPS address Telegram posts to (the reverse proxy's)
    secret_token: str  # 1-256 characters of A-Z, a-z, 0-9, _ and -
    listen: str = "127.0.0.1"
    port: int = 8081
    max_connections: int = 40
    register: bool = True  # call setWebhook at start

    @property
    def path(self) -> str:
        """The path requests arrive on: the public URL's (the proxy passes it on)."""
        return urlsplit(self.url).path or "/"


class WebhookServer:
    def __init__(self, bot: Bot, inbox: Inbox, config: WebhookConfig, language: str) -> None:
        self._bot = bot
        self._inbox = inbox
        self._config = config
        self._language = language
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.refused = 0  # requests without the right secret
        self.unavailable = 0  # answered 503 while the database was away

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(self._config.path, self._receive)
        app.router.add_get("/healthz", _healthy)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._config.listen, self._config.port)
        await site.start()
        self._runner = runner
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self._config.port
        log.info("webhook listening on %s:%s%s", self._config.listen, self.port, self._config.path)
        if self._config.register:
            await retrying(
                lambda: self._bot.set_webhook(
                    url=self._config.url,
                    secret_token=self._config.secret_token,
                    allowed_updates=Update.ALL_TYPES,
                    max_connections=self._config.max_connections,
                    drop_pending_updates=False,
                ),
                what="setWebhook",
            )

    async def stop(self) -> None:
        """Stop accepting; the webhook stays set, for the other processes and the next start."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._config.secret_token.encode()):
            self.refused += 1
            log.warning("webhook request without the right secret token from %s", request.remote)
            return web.Response(status=403, text="forbidden")
        try:
            payload = await request.json(loads=json.loads)
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400, text="not JSON")
        if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
            return web.Response(status=400, text="not an update")
        try:
            await self._inbox.receive([payload])
        except Exception as error:
            if not is_unavailable(error):
                raise
            self.unavailable += 1
            if await self._refuse_press(payload):
                return web.Response(status=200)  # told it was not recorded: dropped
            return web.Response(status=503, text="database unavailable; retry later")
        return web.Response(status=200)

    async def _refuse_press(self, payload: dict[str, Any]) -> bool:
        query = payload.get("callback_query")
        if not isinstance(query, dict) or not isinstance(query.get("id"), str):
            return False
        sender = query.get("from") if isinstance(query.get("from"), dict) else {}
        lang = language_of(str((sender or {}).get("language_code") or ""), self._language)
        with contextlib.suppress(TelegramError):
            await self._bot.answer_callback_query(
                query["id"], plain(t(lang, "error.unavailable_press")), show_alert=True
            )
        return True


async def _healthy(_request: web.Request) -> web.Response:
    return web.Response(text="ok")
