"""The HTTP face of the emulator: Telegram's ``/bot<token>/<method>`` endpoints."""

from __future__ import annotations

import functools
import json
import logging
import re
import socket
from types import TracebackType
from typing import Any

from aiohttp import web

from emulator.control import add_routes as add_control_routes
from emulator.engine import Engine
from emulator.errors import NOT_FOUND, UNAUTHORIZED, ApiError
from emulator.faults import server_error
from emulator.limits import SENDING_METHODS, RateLimits
from emulator.methods import METHODS
from emulator.models import User
from emulator.params import Params, read_params
from emulator.simulate import UserSimulation
from emulator.transcript import Entry

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456789:TEST-yishi-emulator-token"
_TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")
# Thousands of simulated clients may connect at once; the default 128 drops SYNs
# and delays requests by whole seconds (TCP retransmits), which bunches them up.
_BACKLOG = 4096
_dumps = functools.partial(json.dumps, ensure_ascii=False)


class BotApiEmulator(UserSimulation):
    """A local Telegram Bot API server plus the simulated users that talk to the bot.

    ``token=None`` accepts any well-formed token (the bot's id is then taken from the first
    request); otherwise only ``token`` is accepted and other tokens get 401, like Telegram.
    ``control=True`` also serves ``/_control/…`` (``emulator/control.py``), through which
    another process plays the users: ``python -m emulator`` does.
    """

    def __init__(
        self,
        token: str | None = DEFAULT_TOKEN,
        *,
        bot_username: str = "yishi_bot",
        bot_name: str = "Yishi",
        limits: RateLimits | None = None,
        strict_ampersand: bool = True,
        control: bool = False,
    ) -> None:
        if token is not None and not _TOKEN.fullmatch(token):
            raise ValueError("a bot token looks like '<digits>:<letters, digits, _ or ->'")
        bot = User(
            id=int(token.split(":", 1)[0]) if token else 0,
            first_name=bot_name,
            username=bot_username,
            language_code=None,
            is_bot=True,
        )
        super().__init__(Engine(bot, limits or RateLimits(), strict_ampersand=strict_ampersand))
        self._token = token
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port: int | None = None
        self._control = control

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        app = web.Application(client_max_size=60 * 1024 * 1024)  # Telegram's upload limit
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._serve_file)
        if self._control:
            add_control_routes(app, self)
        # No access log: benchmarks make thousands of calls per second.
        # Short shutdown_timeout: long polls are released explicitly in stop().
        runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1.0, handler_cancellation=True
        )
        await runner.setup()
        sock = socket.create_server((host, port), backlog=_BACKLOG)
        await web.SockSite(runner, sock, backlog=_BACKLOG).start()
        self._runner, self._host, self._port = runner, host, sock.getsockname()[1]
        self._engine.closing = False

    async def stop(self) -> None:
        if self._runner is None:
            return
        self._engine.closing = True
        await self._engine.webhook.close()
        self._engine.updates_signal.fire()  # let waiting getUpdates calls return []
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- addresses -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("emulator not started")
        return self._port

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends ``token/method``."""
        return f"http://{self._host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self._host}:{self.port}/file/bot"

    @property
    def token(self) -> str | None:
        return self._token

    # -- HTTP ----------------------------------------------------------------------------

    def _check_token(self, token: str) -> ApiError | None:
        if not _TOKEN.fullmatch(token):
            return NOT_FOUND  # Telegram answers malformed tokens with 404
        if self._token is None:
            if self.bot.id == 0:
                self.bot.id = int(token.split(":", 1)[0])
            return None
        return None if token == self._token else UNAUTHORIZED

    async def _handle(self, request: web.Request) -> web.Response:
        engine = self._engine
        error = self._check_token(request.match_info["token"])
        found = METHODS.get(request.match_info["method"].lower())
        if error is None and found is None:
            error = NOT_FOUND
        if error is not None or found is None:
            return self._error(error or NOT_FOUND)
        name, handler = found
        engine.stats.calls[name] += 1
        params: Params | None = None
        fault = engine.faults.decide(name)
        try:
            if fault == "before":
                raise server_error()
            params = await read_params(request)
            if name.lower() in SENDING_METHODS:
                engine.limiter.check_injected()
            result: Any = await handler(engine, params)
            if fault == "after":
                raise server_error()  # it took effect; the answer is lost on the way
        except ApiError as exc:
            self._note_error(name, exc, params)
            return self._error(exc)
        except Exception as exc:  # a bug here must reach the test, not hang PTB's retries
            log.exception("emulator failure in %s", name)
            return self._error(ApiError(500, f"Internal Server Error: {exc!r}"))
        finally:
            if name != "getUpdates":
                engine.touch()
        return web.json_response({"ok": True, "result": result}, dumps=_dumps)

    def _error(self, error: ApiError) -> web.Response:
        return web.json_response(error.payload(), status=error.code, dumps=_dumps)

    def _note_error(self, method: str, error: ApiError, params: Params | None) -> None:
        stats = self._engine.stats
        stats.errors[error.code] += 1
        if error.code == 429:
            stats.too_many_requests += 1
        if method == "getUpdates":
            return
        chat = None
        if params is not None and _has_int_chat(params):
            chat = self._engine.world.chats.get(params.get_int("chat_id") or 0)
        label = chat.label if chat is not None else "-"
        text = f"{method} → {error.code} {error.description}"
        self.transcript.add(Entry("error", label, text=text))

    async def _serve_file(self, request: web.Request) -> web.StreamResponse:
        if self._check_token(request.match_info["token"]) is not None:
            return self._error(UNAUTHORIZED)
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        stored = self._engine.world.files.get(file_id)
        if stored is None:
            return self._error(NOT_FOUND)
        _name, mime, data = stored
        return web.Response(body=data, content_type=mime)


def _has_int_chat(params: Params) -> bool:
    value = params.values.get("chat_id")
    return isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit())
