"""The residents' page for a ballot: ``/r/b/{id}`` its question, each choice a large
button, the member's choice marked and the live tally (``/r/b/{id}/tally``, which
``static/resident.js`` refreshes while it is open); once closed, the outcome, its
figures and the chart (``/r/b/{id}/chart.png`` or ``.svg``).

A vote goes through the same ``BallotBox`` as a button press in the chat (source
``web``), keyed ``web:<session>:<nonce>``: a double submit or a retried POST counts
once, and the group's ballot message follows (the bus, in the bot's process). A
ballot of another council is not found, before anything is written.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from bot.reports import wording
from bot.reports.charts import Format, result_chart
from bot.web.context import deps, language, page, refusal, resident_only, see_other
from bot.web.resident_forms import (
    act_key,
    council_id_of,
    done_note,
    member_of,
    new_nonce,
    stale_form,
)
from bot.web.resident_tally import choice_label, tally
from bot.web.security import checked_form, forbidden
from domain import errors
from domain.model import VoteSource
from domain.services import VoteReceipt, VoteRequest, residents
from domain.services.web_access import Visitor


async def _council_ballot(
    request: Request, visitor: Visitor, ballot_id: int, member_id: int | None
) -> residents.MemberBallot:
    """The ballot as the page shows it, its view reused while fresh (``bot.web.tallies``)."""
    d = deps(request)
    now = d.clock()
    found = await residents.council_ballot(
        d.database.reader(),
        council_id=council_id_of(visitor),
        ballot_id=ballot_id,
        member_id=member_id,
        reuse=d.tallies.reuse(now),
    )
    d.tallies.put(found.view, now)
    return found


async def _ballot_page(
    request: Request,
    visitor: Visitor,
    ballot_id: int,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    lang = language(request, visitor)
    member = member_of(visitor)
    found = await _council_ballot(request, visitor, ballot_id, member.id)
    ballot = found.view.ballot
    choices = [(key, choice_label(lang, ballot, key)) for key in ballot.valid_choices()]
    tz = visitor.council.timezone
    return page(
        request,
        "resident/ballot.html",
        lang=lang,
        status=status,
        visitor=visitor,
        view=found.view,
        ballot=ballot,
        mine=found.choice,
        mine_label=choice_label(lang, ballot, found.choice) if found.choice else None,
        choices=choices,
        tally=tally(lang, found.view),
        rule=wording.rule_name(lang, ballot.rule),
        deadline=wording.moment(ballot.deadline, tz) if ballot.deadline else None,
        nonce=new_nonce(),
        error=error,
        done=done_note(request),
    )


@resident_only
async def ballot(request: Request, visitor: Visitor) -> Response:
    return await _ballot_page(request, visitor, request.path_params["ballot_id"])


@resident_only
async def vote(request: Request, visitor: Visitor) -> Response:
    form = await checked_form(request, visitor)
    if form is None:
        return forbidden()
    ballot_id: int = request.path_params["ballot_id"]
    member = member_of(visitor)
    assert member.id is not None
    lang = language(request, visitor)
    d = deps(request)
    # Another council's ballot is not found, before anything is written or claimed.
    await residents.require_ballot(
        d.database.reader(), council_id=council_id_of(visitor), ballot_id=ballot_id
    )
    key = act_key(visitor, form)
    choice = form.get("choice")
    if key is None or not isinstance(choice, str):
        return await _ballot_page(request, visitor, ballot_id, error=stale_form(lang), status=400)
    result = await d.ballot_box.cast(
        VoteRequest(
            key=key,
            ballot_id=ballot_id,
            user_id=member.user_id or 0,
            choice=choice,
            member_id=member.id,
            source=VoteSource.WEB,
        )
    )
    if isinstance(result, errors.Redelivered):
        return see_other(f"/r/b/{ballot_id}")
    if isinstance(result, errors.DomainError):
        return await _ballot_page(
            request, visitor, ballot_id, error=refusal(lang, result), status=400
        )
    assert isinstance(result, VoteReceipt)
    d.tallies.forget(ballot_id)  # the voter sees their vote counted at once
    return see_other(f"/r/b/{ballot_id}?done=voted")


@resident_only
async def ballot_tally(request: Request, visitor: Visitor) -> Response:
    """The tally alone, for ``resident.js`` to refresh while the ballot is open."""
    lang = language(request, visitor)
    found = await _council_ballot(request, visitor, request.path_params["ballot_id"], None)
    return page(
        request, "resident/_tally.html", lang=lang, visitor=visitor, tally=tally(lang, found.view)
    )


CHART_TYPES: dict[str, tuple[Format, str]] = {
    "png": ("png", "image/png"),
    "svg": ("svg", "image/svg+xml"),
}


@resident_only
async def chart(request: Request, visitor: Visitor) -> Response:
    """The result chart of a closed ballot (as the group got it); none while open."""
    wanted = CHART_TYPES.get(request.path_params["fmt"])
    if wanted is None:
        raise errors.BallotNotFound()
    fmt, media_type = wanted
    lang = language(request, visitor)
    found = await _council_ballot(request, visitor, request.path_params["ballot_id"], None)
    if found.view.ballot.outcome is None:
        raise errors.BallotNotFound()
    image = await asyncio.to_thread(result_chart, lang, found.view, fmt)
    return Response(image, media_type=media_type)


routes: list[BaseRoute] = [
    Route("/r/b/{ballot_id:int}", ballot),
    Route("/r/b/{ballot_id:int}/vote", vote, methods=["POST"]),
    Route("/r/b/{ballot_id:int}/tally", ballot_tally),
    Route("/r/b/{ballot_id:int}/chart.{fmt}", chart),
]
