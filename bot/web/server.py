"""Serving the web app with uvicorn inside an asyncio program (``yishi web``, the bot's
process with ``YISHI_WEB_IN_RUN``, the demo and the tests)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def serving(app: Starlette, host: str, port: int) -> AsyncIterator[int]:
    """Serve ``app`` until the block ends; yields the port (``port`` 0: a free one,
    chosen by binding here, so the tests and the demo know it before anyone asks)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not left 0: asyncio sets TCP_NODELAY on an accepted connection
    # only when its socket says TCP, and without it every response (headers and body
    # written apart) waited ~40 ms for the client's delayed ACK (bench/web.py).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="httptools",
        # Behind a reverse proxy on this host, take its X-Forwarded-For and -Proto.
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
    )
    server = uvicorn.Server(config)
    # The program serving it owns SIGINT and SIGTERM (``yishi run`` stops the bot and
    # the web together): uvicorn's own capture_signals would take them over.
    task = asyncio.create_task(server._serve(sockets=[sock]), name="yishi:web")
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    if task.done():
        task.result()  # raises what stopped it
    try:
        yield bound
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()
