"""下载: the files a committee keeps. The minutes of a meeting and of a ballot (DOCX, to
print and sign), a ballot's votes and the service hours (XLSX), and a meeting as a
calendar file (ICS). Each download names itself in the council's words (UTF-8, with an
ASCII name beside it for old clients) and is the visitor's council's, or not found.

Documents are made in a thread (python-docx, openpyxl and icalendar are CPU work and
imported on first use, not when the bot starts)."""

from __future__ import annotations

import asyncio
import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.reports import wording as w
from bot.web.console.files import (
    DOCX,
    ICS,
    XLSX,
    attachment,
    council_id,
    hidden_elsewhere,
    require_own,
    staff_id,
)
from bot.web.context import deps, language, page, staff_only
from domain import errors
from domain.meetings import meeting_view
from domain.model import MeetingStatus
from domain.services import reports
from domain.services.web_access import Visitor
from domain.volunteering.reports import Viewer, hours_report

TITLE_CHARS = 30  # of a topic's title in a file's name
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def file_name(text: str) -> str:
    """A name any file system takes: no separators, quotes or control characters."""
    cleaned = " ".join(_UNSAFE.sub(" ", text).split())
    return cleaned or "yishi"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"


def _meeting_id(request: Request) -> int:
    meeting_id: int = request.path_params["meeting_id"]
    return meeting_id


def _ballot_id(request: Request) -> int:
    ballot_id: int = request.path_params["ballot_id"]
    return ballot_id


@staff_only
async def downloads(request: Request, visitor: Visitor) -> Response:
    lang = language(request, visitor)
    uow = deps(request).database.uow
    meetings = await reports.meeting_list(
        uow(), council_id=council_id(visitor), user_id=staff_id(visitor)
    )
    ballots = await reports.turnout(
        uow(), council_id=council_id(visitor), user_id=staff_id(visitor)
    )
    tz = visitor.council.timezone
    return page(
        request,
        "console/downloads.html",
        lang=lang,
        visitor=visitor,
        meetings=[
            {
                "id": m.id,
                "when": w.moment(m.starts_at, tz),
                "place": w.text(lang, "report.minutes.online") if m.online else m.place,
                "cancelled": m.status is MeetingStatus.CANCELLED,
            }
            for m in reversed(meetings)
        ],
        ballots=[
            {
                "id": b.ballot_id,
                "title": b.title,
                "state": w.text(lang, f"report.state.{b.state.value}"),
                "opened": w.moment(b.opened_at, tz),
                "result": w.result(lang, b.result) if b.result is not None else "",
            }
            for b in reversed(ballots)
        ],
    )


@staff_only
async def meeting_minutes(request: Request, visitor: Visitor) -> Response:
    from bot.reports.minutes import meeting_minutes_docx

    lang = language(request, visitor)
    meeting_id = _meeting_id(request)
    with hidden_elsewhere(errors.NotFound()):
        try:
            minutes = await reports.meeting_minutes(
                deps(request).database.uow(), meeting_id=meeting_id, user_id=staff_id(visitor)
            )
        except errors.MeetingNotFound:
            raise errors.NotFound() from None
    require_own(visitor, minutes.council.id, errors.NotFound())
    data = await asyncio.to_thread(meeting_minutes_docx, lang, minutes)
    day = w.day(minutes.meeting.starts_at, minutes.council.timezone)
    name = w.text(lang, "web.file.meeting_minutes", council=minutes.council.title, day=day)
    return attachment(
        data,
        name=file_name(name) + ".docx",
        fallback=f"meeting-{meeting_id}-minutes.docx",
        media_type=DOCX,
    )


@staff_only
async def ballot_minutes(request: Request, visitor: Visitor) -> Response:
    from bot.reports.minutes import ballot_minutes_docx

    lang = language(request, visitor)
    ballot_id = _ballot_id(request)
    with hidden_elsewhere(errors.BallotNotFound()):
        minutes = await reports.ballot_minutes(
            deps(request).database.uow(), ballot_id=ballot_id, user_id=staff_id(visitor)
        )
    require_own(visitor, minutes.council.id, errors.BallotNotFound())
    data = await asyncio.to_thread(ballot_minutes_docx, lang, minutes)
    name = w.text(
        lang, "web.file.ballot_minutes", id=ballot_id, title=_short(minutes.topic.topic.title)
    )
    return attachment(
        data,
        name=file_name(name) + ".docx",
        fallback=f"ballot-{ballot_id}-minutes.docx",
        media_type=DOCX,
    )


@staff_only
async def votes(request: Request, visitor: Visitor) -> Response:
    """A ballot's votes; on a secret ballot who took part and the totals only."""
    from bot.reports.workbooks import votes_xlsx

    lang = language(request, visitor)
    ballot_id = _ballot_id(request)
    with hidden_elsewhere(errors.BallotNotFound()):
        record = await reports.ballot_record(
            deps(request).database.uow(), ballot_id=ballot_id, user_id=staff_id(visitor)
        )
    require_own(visitor, record.council.id, errors.BallotNotFound())
    data = await asyncio.to_thread(votes_xlsx, lang, record)
    name = w.text(lang, "web.file.votes", id=ballot_id, title=_short(record.topic.title))
    return attachment(
        data,
        name=file_name(name) + ".xlsx",
        fallback=f"ballot-{ballot_id}-votes.xlsx",
        media_type=XLSX,
    )


@staff_only
async def hours(request: Request, visitor: Visitor) -> Response:
    from bot.reports.hours_book import hours_xlsx

    lang = language(request, visitor)
    report = await hours_report(
        deps(request).database.uow(),
        council_id=council_id(visitor),
        viewer=Viewer.user(staff_id(visitor)),
    )
    data = await asyncio.to_thread(hours_xlsx, lang, report)
    name = w.text(lang, "web.file.hours", council=report.council.title)
    return attachment(
        data, name=file_name(name) + ".xlsx", fallback="service-hours.xlsx", media_type=XLSX
    )


@staff_only
async def meeting_calendar(request: Request, visitor: Visitor) -> Response:
    """The meeting as the chat sends it privately: the same UID, so a calendar that
    has it from the chat updates it."""
    from bot.reports.ics import meeting_ics

    lang = language(request, visitor)
    meeting_id = _meeting_id(request)
    d = deps(request)
    try:
        view = await meeting_view(d.database.uow(), meeting_id=meeting_id)
    except errors.MeetingNotFound:
        raise errors.NotFound() from None
    require_own(visitor, view.council.id, errors.NotFound())
    data = meeting_ics(lang, view, now=d.clock(), domain=d.bot_username or "yishi")
    day = w.day(view.meeting.starts_at, view.council.timezone)
    name = w.text(lang, "web.file.meeting_ics", council=view.council.title, day=day)
    return attachment(
        data, name=file_name(name) + ".ics", fallback=f"meeting-{meeting_id}.ics", media_type=ICS
    )


routes = [
    Route("/console/downloads", downloads),
    Route("/console/meetings/{meeting_id:int}/minutes.docx", meeting_minutes),
    Route("/console/meetings/{meeting_id:int}.ics", meeting_calendar),
    Route("/console/ballots/{ballot_id:int}/minutes.docx", ballot_minutes),
    Route("/console/ballots/{ballot_id:int}/votes.xlsx", votes),
    Route("/console/hours.xlsx", hours),
]
