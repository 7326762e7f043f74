"""The residents' page: a household signed in by its login key or the Mini App."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.web.context import language, page, resident_only
from domain.services.web_access import Visitor


@resident_only
async def home(request: Request, visitor: Visitor) -> Response:
    return page(request, "resident/home.html", lang=language(request, visitor), visitor=visitor)


routes = [Route("/r", home)]
