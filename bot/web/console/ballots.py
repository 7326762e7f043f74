"""议题与表决: the council's topics with their proposals and ballots, a ballot's page
(the live tally while open, the chat's figures; once closed the outcome with its
figures and the result chart), and a ballot's audit trail.

A secret ballot is shown as the chat shows it: totals only. Its audit trail has who
voted, changed or was recorded, how and when, never a choice (the use case leaves the
choice out; the page adds no trace of it: no column, class or order by choice).
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.reports import charts
from bot.reports import wording as w
from bot.web.console.figures import figures
from bot.web.console.files import council_id, hidden_elsewhere, picture, require_own, staff_id
from bot.web.context import deps, language, page, staff_only
from domain import errors
from domain.services import reports
from domain.services.reports import BallotState
from domain.services.topic_board import staff_ballot_view, topic_board
from domain.services.web_access import Visitor


def _state(ballot_open: bool, cancelled: bool) -> BallotState:
    if ballot_open:
        return BallotState.OPEN
    return BallotState.CANCELLED if cancelled else BallotState.CLOSED


@staff_only
async def board(request: Request, visitor: Visitor) -> Response:
    lang = language(request, visitor)
    found = await topic_board(
        deps(request).database.uow(), council_id=council_id(visitor), user_id=staff_id(visitor)
    )
    tz = visitor.council.timezone
    topics = [
        {
            "record": record,
            "phase": w.text(lang, f"phase.{record.topic.phase.value}"),
            "opened": w.moment(record.topic.opened_at, tz),
            "ballots": [
                figures(lang, b.ballot, b.state, b.outcome, b.sources) for b in record.ballots
            ],
        }
        for record in found.topics
    ]
    return page(
        request,
        "console/ballots.html",
        lang=lang,
        visitor=visitor,
        topics=topics,
        more=found.more,
    )


def _ballot_id(request: Request) -> int:
    ballot_id: int = request.path_params["ballot_id"]
    return ballot_id


@staff_only
async def ballot(request: Request, visitor: Visitor) -> Response:
    lang = language(request, visitor)
    ballot_id = _ballot_id(request)
    uow = deps(request).database.uow
    with hidden_elsewhere(errors.BallotNotFound()):
        view = await staff_ballot_view(
            uow(), ballot_id=ballot_id, council_id=council_id(visitor), user_id=staff_id(visitor)
        )
        minutes = await reports.ballot_minutes(
            uow(), ballot_id=ballot_id, user_id=staff_id(visitor)
        )
    require_own(visitor, minutes.council.id, errors.BallotNotFound())
    shown = view.ballot
    state = _state(shown.is_open, shown.cancelled)
    tz = visitor.council.timezone
    return page(
        request,
        "console/ballot.html",
        lang=lang,
        visitor=visitor,
        ballot=shown,
        topic=minutes.topic,
        figures=figures(
            lang,
            shown,
            state,
            None if state is BallotState.CANCELLED else view.outcome,
            view.sources,
            view.voters,
        ),
        opened=w.moment(shown.opened_at, tz),
        closed=w.moment(shown.closed_at, tz),
        deadline=w.moment(shown.deadline, tz),
        meeting=minutes.meeting,
        meeting_at=w.moment(minutes.meeting.starts_at, tz) if minutes.meeting else "",
        chart=state is BallotState.CLOSED,
        moment=lambda at: w.moment(at, tz),
    )


@staff_only
async def chart(request: Request, visitor: Visitor) -> Response:
    """The result chart of a closed ballot (SVG): its figures per choice, the passing
    and quorum lines; totals only, on a secret ballot too."""
    lang = language(request, visitor)
    with hidden_elsewhere(errors.BallotNotFound()):
        view = await staff_ballot_view(
            deps(request).database.uow(),
            ballot_id=_ballot_id(request),
            council_id=council_id(visitor),
            user_id=staff_id(visitor),
        )
    if view.ballot.is_open or view.ballot.cancelled:
        raise errors.BallotNotFound()  # no result yet, or none ever
    data = await asyncio.to_thread(charts.result_chart, lang, view, "svg")
    return picture(data)


@staff_only
async def audit(request: Request, visitor: Visitor) -> Response:
    lang = language(request, visitor)
    with hidden_elsewhere(errors.BallotNotFound()):
        trail = await reports.ballot_audit(
            deps(request).database.uow(), ballot_id=_ballot_id(request), user_id=staff_id(visitor)
        )
    require_own(visitor, trail.council.id, errors.BallotNotFound())
    tz = visitor.council.timezone
    secret = trail.secret
    lines = [
        {
            "seq": line.seq,
            "at": w.moment(line.at, tz),
            "name": line.name,
            "household": line.household,
            "action": w.text(lang, f"web.audit.{line.action.value}"),
            "source": w.source(lang, line.source),
            "recorded_by": (
                ""
                if line.recorded_by is None
                else line.recorded_by_name or w.text(lang, "web.audit.user", id=line.recorded_by)
            ),
            "reason": line.reason or "",
            # Never on a secret ballot: the use case gives None, and the page asks not.
            "choice": ""
            if secret or line.choice is None
            else w.choice(lang, trail.ballot, line.choice),
            "previous": ""
            if secret or line.previous is None
            else w.choice(lang, trail.ballot, line.previous),
        }
        for line in trail.lines
    ]
    return page(
        request,
        "console/audit.html",
        lang=lang,
        visitor=visitor,
        trail=trail,
        secret=secret,
        lines=lines,
    )


routes = [
    Route("/console/ballots", board),
    Route("/console/ballots/{ballot_id:int}", ballot),
    Route("/console/ballots/{ballot_id:int}/chart.svg", chart),
    Route("/console/ballots/{ballot_id:int}/audit", audit),
]
