"""Build the web app (Starlette): routes registered in one place.

One ASGI app for the staff console (``/console…``) and the residents' page (``/r…``),
over the same use cases, unit of work, idempotency keys and audit trail as the chat.
A vote on the page goes through the same ``BallotBox`` as a press; in the bot's
process its ``VoteCast`` reaches the live tally through the bus at once, and a bot in
another process catches up on its next tick (``TallyRefresher.catch_up``).

Starlette rather than FastAPI or Litestar: the pages are server-rendered forms, so a
JSON-API layer (pydantic models per route, OpenAPI) would be weight without use; it
is the toolkit FastAPI is built on, small, and typed.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from bot.config import Settings
from bot.keys import web_key
from bot.runtime.ballot_box import BallotBox
from bot.runtime.clock import utcnow
from bot.web import auth, console, resident
from bot.web.context import WebDeps
from bot.web.security import SecurityHeaders
from domain.ports import Clock
from domain.services.web_access import Lifetimes
from storage.uow import Database

HERE = Path(__file__).parent


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def lifetimes(settings: Settings) -> Lifetimes:
    return Lifetimes(
        link=timedelta(minutes=settings.web_link_minutes),
        staff=timedelta(hours=settings.web_staff_hours),
        resident=timedelta(days=settings.web_resident_days),
        failures_per_hour=settings.limit_web_failures_per_hour,
    )


def routes() -> list[BaseRoute]:
    return [
        *auth.routes,
        *console.routes,
        *resident.routes,
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


def build_web(
    settings: Settings,
    database: Database,
    *,
    token: str,
    clock: Clock = utcnow,
    ballot_box: BallotBox | None = None,
    bot_username: str | None = None,
) -> Starlette:
    """The web app; ``ballot_box`` is the bot's when both run in one process, so votes
    from the page and from buttons are written in the same batches."""
    app = Starlette(routes=routes(), middleware=[Middleware(SecurityHeaders)])
    app.state.deps = WebDeps(
        settings=settings,
        database=database,
        clock=clock,
        key=web_key(settings, token),
        token=token,
        ballot_box=ballot_box or BallotBox(database.uow, clock),
        templates=templates(),
        lifetimes=lifetimes(settings),
        bot_username=bot_username,
    )
    return app
