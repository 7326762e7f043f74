"""The web's server answers at once: no response waits for the client's delayed ACK.

Without TCP_NODELAY on its connections, a response written in two parts (uvicorn
writes the headers, then the body) holds its second part until the first is
acknowledged, and the client delays that ACK by up to ~40 ms on Linux: every request
took 40 ms or more, whatever it did (bench/web.py found it: a bare route managed ~1,100
requests a second at 50 connections, ~22 on one).
"""

from __future__ import annotations

import statistics
import time

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.web.server import serving


async def _hello(request: Request) -> Response:
    return PlainTextResponse("好")


async def test_a_kept_alive_connection_is_answered_without_the_delayed_ack_wait() -> None:
    app = Starlette(routes=[Route("/", _hello)])
    async with (
        serving(app, "127.0.0.1", 0) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        seconds = []
        for _ in range(15):
            started = time.perf_counter()
            response = await client.get("/")
            seconds.append(time.perf_counter() - started)
            assert response.text == "好"
    # ~1 ms each here; 40 ms or more each while the server's connections were Nagled.
    assert statistics.median(seconds) < 0.025, [round(s * 1000, 1) for s in seconds]
