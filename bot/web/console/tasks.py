"""志愿服务: open and done tasks (who took each, when), service hours per person, team
and month, and residents' requests by category with how fast they were taken (the
median and 90th-percentile wait, how many never were), with bar charts as SVG
pictures at their own addresses (``/console/tasks/<chart>.svg``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.i18n import catalogue
from bot.reports import charts
from bot.reports import wording as w
from bot.web.console.files import council_id, picture, staff_id
from bot.web.context import deps, language, page, staff_only
from domain import errors
from domain.services.web_access import Visitor
from domain.task_rules import TaskState
from domain.volunteering.reports import (
    HoursReport,
    RequestsReport,
    TaskLine,
    Viewer,
    hours_report,
    requests_report,
    task_board,
)


def skill_text(lang: str, skill: str | None) -> str:
    if skill is None:
        return w.text(lang, "web.tasks.any_skill")
    key = f"skill.{skill}"
    return w.text(lang, key) if key in catalogue(lang) else skill


def wait_text(lang: str, wait: timedelta | None) -> str:
    """A wait as people read it: "1 天 2 小时", "35 分钟" ("—" for none)."""
    if wait is None:
        return "—"
    if timedelta(0) < wait < timedelta(minutes=1):
        return w.text(lang, "web.tasks.under_a_minute")
    minutes = max(int(wait.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [
        w.text(lang, f"duration.{unit}", n=n)
        for unit, n in (("days", days), ("hours", hours), ("minutes", mins))
        if n
    ]
    if not parts:
        return w.text(lang, "duration.minutes", n=0)
    return w.text(lang, "duration.join").join(parts)


def _month(lang: str, year: int, month: int) -> str:
    return w.text(lang, "report.hours.month", year=year, month=month)


def _team(lang: str, name: str | None, team_id: int | None) -> str:
    if team_id is None:
        return w.text(lang, "report.hours.no_team")
    return name or w.text(lang, "report.hours.removed_team", id=team_id)


def _task(lang: str, line: TaskLine, tz: str) -> dict[str, str | int]:
    return {
        "id": line.id,
        "title": line.title,
        "skill": skill_text(lang, line.skill),
        "state": w.text(lang, f"task_state.{line.state.value}"),
        "requested": w.moment(line.requested_at, tz),
        "taken": w.moment(line.taken_at, tz),
        "done": w.moment(line.done_at, tz),
        "by": line.taken_by or "",
        "requester": line.requester or "",
        "team": line.team or line.unit or "",
        "hours": str(line.hours) if line.state is TaskState.DONE else "",
    }


def _viewer(visitor: Visitor) -> Viewer:
    return Viewer.user(staff_id(visitor))


@staff_only
async def tasks(request: Request, visitor: Visitor) -> Response:
    lang = language(request, visitor)
    uow = deps(request).database.uow
    viewer = _viewer(visitor)
    board = await task_board(uow(), council_id=council_id(visitor), viewer=viewer)
    hours = await hours_report(uow(), council_id=council_id(visitor), viewer=viewer)
    asked = await requests_report(uow(), council_id=council_id(visitor), viewer=viewer)
    tz = visitor.council.timezone
    return page(
        request,
        "console/tasks.html",
        lang=lang,
        visitor=visitor,
        board=board,
        counts=[
            (w.text(lang, f"task_state.{state.value}"), n) for state, n in board.counts.items()
        ],
        open_tasks=[_task(lang, line, tz) for line in board.open],
        done_tasks=[_task(lang, line, tz) for line in board.done],
        hours=hours,
        people=[
            (
                p.name or w.text(lang, "report.hours.unknown_member", id=p.member_id),
                p.hours,
                p.tasks,
            )
            for p in hours.people
        ],
        teams=[(_team(lang, t.name, t.team_id), t.hours, t.tasks, t.people) for t in hours.teams],
        months=[(_month(lang, m.year, m.month), m.hours, m.tasks, m.people) for m in hours.months],
        requests=asked,
        categories=[
            {
                "skill": skill_text(lang, c.skill),
                "requests": c.requests,
                "taken": c.taken,
                "waiting": c.waiting,
                "never": c.never_taken,
                "median": wait_text(lang, c.median),
                "p90": wait_text(lang, c.p90),
            }
            for c in asked.categories
        ],
    )


# --- charts --------------------------------------------------------------------------

Items = list[tuple[str, float]]


def _hours_people(lang: str, report: HoursReport) -> Items:
    return [
        (p.name or w.text(lang, "report.hours.unknown_member", id=p.member_id), float(p.hours))
        for p in report.people[:20]
    ]


def _hours_teams(lang: str, report: HoursReport) -> Items:
    return [(_team(lang, t.name, t.team_id), float(t.hours)) for t in report.teams]


def _hours_months(lang: str, report: HoursReport) -> Items:
    return [(_month(lang, m.year, m.month), float(m.hours)) for m in report.months[-24:]]


def _requests(lang: str, report: RequestsReport) -> Items:
    return [(skill_text(lang, c.skill), float(c.requests)) for c in report.categories]


def _waits(lang: str, report: RequestsReport) -> Items:
    return [
        (skill_text(lang, c.skill), round(c.median.total_seconds() / 3600, 2))
        for c in report.categories
        if c.median is not None
    ]


HOURS_CHARTS: dict[str, tuple[str, Callable[[str, HoursReport], Items]]] = {
    "hours-people": ("web.chart.hours_people", _hours_people),
    "hours-teams": ("web.chart.hours_teams", _hours_teams),
    "hours-months": ("web.chart.hours_months", _hours_months),
}
REQUEST_CHARTS: dict[str, tuple[str, str, Callable[[str, RequestsReport], Items]]] = {
    "requests": ("web.chart.requests", "web.chart.unit_requests", _requests),
    "waits": ("web.chart.waits", "web.chart.unit_hours", _waits),
}


@staff_only
async def chart(request: Request, visitor: Visitor) -> Response:
    lang = language(request, visitor)
    name: str = request.path_params["chart"]
    uow = deps(request).database.uow
    viewer = _viewer(visitor)
    items: Items
    if name in HOURS_CHARTS:
        title, pick = HOURS_CHARTS[name]
        hours = await hours_report(uow(), council_id=council_id(visitor), viewer=viewer)
        items, unit = pick(lang, hours), w.text(lang, "web.chart.unit_hours")
    elif name in REQUEST_CHARTS:
        title, unit_key, chosen = REQUEST_CHARTS[name]
        asked = await requests_report(uow(), council_id=council_id(visitor), viewer=viewer)
        items, unit = chosen(lang, asked), w.text(lang, unit_key)
    else:
        raise errors.NotFound()
    draw: Callable[[], bytes] = lambda: charts.bar_chart(  # noqa: E731
        lang, w.text(lang, title), items, unit, "svg"
    )
    data = await asyncio.to_thread(draw)
    return picture(data)


routes = [
    Route("/console/tasks", tasks),
    Route("/console/tasks/{chart:str}.svg", chart),
]
