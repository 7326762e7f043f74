"""The console's first page: the council, and where to go from here."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.web.context import language, page, staff_only
from domain.services.web_access import Visitor


@staff_only
async def home(request: Request, visitor: Visitor) -> Response:
    return page(
        request, "console/home.html", lang=language(request, visitor), visitor=visitor
    )


routes = [Route("/console", home)]
