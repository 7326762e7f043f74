"""The console's first page: the council at a glance (the roll's figures, what waits,
what is open) and the turnout of every ballot over time, as a chart and a workbook."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.reports.charts import turnout_chart
from bot.reports.workbooks import turnout_xlsx
from bot.web.console.common import attachment, console_page, local, staff_id
from bot.web.context import deps, language, staff_only
from domain.services import console, reports
from domain.services.web_access import Visitor

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHART_LABEL = 14  # characters of a topic's title under its point


@staff_only
async def home(request: Request, visitor: Visitor) -> Response:
    d = deps(request)
    council_id, user_id = visitor.council.id or 0, staff_id(visitor)
    seen = await console.overview(d.database.uow(), council_id=council_id, user_id=user_id)
    turnouts = await reports.turnout(d.database.uow(), council_id=council_id, user_id=user_id)
    return console_page(
        request,
        "console/home.html",
        visitor,
        seen=seen,
        turnouts=list(reversed(turnouts)),  # newest first in the table
        local=lambda moment: local(moment, visitor.council.timezone),
    )


@staff_only
async def turnout_svg(request: Request, visitor: Visitor) -> Response:
    d = deps(request)
    turnouts = await reports.turnout(
        d.database.uow(), council_id=visitor.council.id or 0, user_id=staff_id(visitor)
    )
    points = [(f"#{x.ballot_id} {x.title}"[:CHART_LABEL], float(x.fraction)) for x in turnouts]
    # Drawing is CPU work: on a thread, so other requests go on.
    svg = await asyncio.to_thread(turnout_chart, language(request, visitor), points, "svg")
    return Response(svg, media_type="image/svg+xml")


@staff_only
async def turnout_book(request: Request, visitor: Visitor) -> Response:
    d = deps(request)
    turnouts = await reports.turnout(
        d.database.uow(), council_id=visitor.council.id or 0, user_id=staff_id(visitor)
    )
    data = await asyncio.to_thread(
        turnout_xlsx, language(request, visitor), visitor.council, turnouts
    )
    return Response(
        data,
        media_type=XLSX,
        headers=attachment(f"turnout-{visitor.council.id}.xlsx"),
    )


routes = [
    Route("/console", home),
    Route("/console/turnout.svg", turnout_svg),
    Route("/console/turnout.xlsx", turnout_book),
]
