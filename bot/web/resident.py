"""The residents' page: a household signed in by its login key or the Mini App.

``/r`` the council's open topics and ballots and the latest outcomes; ``/r/t/{id}`` a
topic, its proposals, seconding and proposing; ``/r/b/{id}`` a ballot, voting and its
live tally (``/r/b/{id}/tally``, refreshed by ``static/resident.js``), and once closed
its outcome and chart (``/r/b/{id}/chart.png``).

Everything goes through the chat's use cases, with the same rules and refusals in the
chat's words: proposals and seconds by the member's roll entry (a household may have
no Telegram account), votes through the same ``BallotBox`` as a button press, so the
group's ballot message shows them at once. Every form carries a nonce made when the
page was drawn: a double submit or a retried POST counts once (the key
``web:<session>:<nonce>`` is claimed with the change). A topic, proposal or ballot of
another council is not found (404).
"""

from __future__ import annotations

import asyncio
import re
import secrets

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from bot.i18n import refusal_text, t
from bot.reports import wording
from bot.reports.charts import Format, result_chart
from bot.web.context import deps, language, page, resident_only, see_other
from bot.web.resident_tally import tally
from bot.web.security import checked_form, forbidden
from domain import errors
from domain.idempotency import IdempotentUnitOfWork
from domain.model import Member, Phase, VoteSource
from domain.services import VoteReceipt, VoteRequest, residents, second_proposal, submit_proposal
from domain.services.web_access import Visitor

NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
DONE = {"proposed", "seconded", "already", "voted"}


def new_nonce() -> str:
    """Put in a form when its page is drawn: the form's submits are one act."""
    return secrets.token_urlsafe(16)


def _member(visitor: Visitor) -> Member:
    if visitor.member is None or visitor.member.id is None:
        raise errors.NotMember()
    return visitor.member


def _council_id(visitor: Visitor) -> int:
    assert visitor.council.id is not None
    return visitor.council.id


def _key(visitor: Visitor, form: FormData) -> str | None:
    """The act's idempotency key, or None when the form has no good nonce."""
    nonce = form.get("nonce")
    if not isinstance(nonce, str) or not NONCE.fullmatch(nonce):
        return None
    return f"web:{visitor.session.id}:{nonce}"


def _done(request: Request) -> str | None:
    done = request.query_params.get("done")
    return done if done in DONE else None


# --- home ---------------------------------------------------------------------


@resident_only
async def home(request: Request, visitor: Visitor) -> Response:
    lang = language(request, visitor)
    board = await residents.noticeboard(
        deps(request).database.uow(), council_id=_council_id(visitor)
    )
    tz = visitor.council.timezone
    return page(
        request,
        "resident/home.html",
        lang=lang,
        visitor=visitor,
        board=board,
        when=lambda at: wording.moment(at, tz),
    )


# --- a topic and its proposals -------------------------------------------------


async def _topic_page(
    request: Request,
    visitor: Visitor,
    topic_id: int,
    *,
    error: str | None = None,
    text: str = "",
    status: int = 200,
) -> HTMLResponse:
    lang = language(request, visitor)
    member = _member(visitor)
    view = await residents.council_topic(
        deps(request).database.uow(), council_id=_council_id(visitor), topic_id=topic_id
    )
    tz = visitor.council.timezone
    return page(
        request,
        "resident/topic.html",
        lang=lang,
        status=status,
        visitor=visitor,
        view=view,
        me=member.id,
        collecting=view.topic.phase is Phase.COLLECTING,
        open_ballots=[b for b in view.ballots if b.is_open],
        nonce=new_nonce(),
        error=error,
        text=text,
        done=_done(request),
        when=lambda at: wording.moment(at, tz),
    )


@resident_only
async def topic(request: Request, visitor: Visitor) -> Response:
    return await _topic_page(request, visitor, request.path_params["topic_id"])


@resident_only
async def propose(request: Request, visitor: Visitor) -> Response:
    form = await checked_form(request, visitor)
    if form is None:
        return forbidden()
    topic_id: int = request.path_params["topic_id"]
    member = _member(visitor)
    lang = language(request, visitor)
    raw = form.get("text")
    text = raw if isinstance(raw, str) else ""
    key = _key(visitor, form)
    if key is None:
        return await _topic_page(
            request, visitor, topic_id, error=_stale(lang), text=text, status=400
        )
    d = deps(request)
    try:
        await submit_proposal(
            IdempotentUnitOfWork(d.database.uow(), key),
            council_id=_council_id(visitor),
            topic_id=topic_id,
            member_id=member.id,
            text=text,
            now=d.clock(),
            per_hour=d.settings.limit_proposals_per_hour,
        )
    except errors.Redelivered:
        return see_other(f"/r/t/{topic_id}")
    except (errors.TopicNotFound, errors.NotMember):
        raise
    except errors.DomainError as refusal:
        return await _topic_page(
            request, visitor, topic_id, error=refusal_text(lang, refusal), text=text, status=400
        )
    return see_other(f"/r/t/{topic_id}?done=proposed")


@resident_only
async def second(request: Request, visitor: Visitor) -> Response:
    form = await checked_form(request, visitor)
    if form is None:
        return forbidden()
    proposal_id: int = request.path_params["proposal_id"]
    member = _member(visitor)
    lang = language(request, visitor)
    d = deps(request)
    topic_id = await residents.topic_of_proposal(
        d.database.uow(), council_id=_council_id(visitor), proposal_id=proposal_id
    )
    key = _key(visitor, form)
    if key is None:
        return await _topic_page(request, visitor, topic_id, error=_stale(lang), status=400)
    try:
        seconded = await second_proposal(
            IdempotentUnitOfWork(d.database.uow(), key),
            proposal_id=proposal_id,
            member_id=member.id,
            council_id=_council_id(visitor),
            now=d.clock(),
        )
    except errors.Redelivered:
        return see_other(f"/r/t/{topic_id}#p{proposal_id}")
    except (errors.ProposalNotFound, errors.NotMember):
        raise
    except errors.DomainError as refusal:
        return await _topic_page(
            request, visitor, topic_id, error=refusal_text(lang, refusal), status=400
        )
    done = "seconded" if seconded.added else "already"
    return see_other(f"/r/t/{topic_id}?done={done}#p{proposal_id}")


def _stale(lang: str) -> str:
    return t(lang, "web.resident.stale_form")


# --- a ballot -----------------------------------------------------------------


async def _ballot_page(
    request: Request,
    visitor: Visitor,
    ballot_id: int,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    lang = language(request, visitor)
    member = _member(visitor)
    found = await residents.council_ballot(
        deps(request).database.uow(),
        council_id=_council_id(visitor),
        ballot_id=ballot_id,
        member_id=member.id,
    )
    ballot = found.view.ballot
    choices = [(key, wording.choice(lang, ballot, key)) for key in ballot.valid_choices()]
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
        mine_label=wording.choice(lang, ballot, found.choice) if found.choice else None,
        choices=choices,
        tally=tally(lang, found.view),
        rule=wording.rule_name(lang, ballot.rule),
        deadline=wording.moment(ballot.deadline, tz) if ballot.deadline else None,
        nonce=new_nonce(),
        error=error,
        done=_done(request),
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
    member = _member(visitor)
    assert member.id is not None
    lang = language(request, visitor)
    d = deps(request)
    # Another council's ballot is not found, before anything is written or claimed.
    await residents.require_ballot(
        d.database.uow(), council_id=_council_id(visitor), ballot_id=ballot_id
    )
    key = _key(visitor, form)
    choice = form.get("choice")
    if key is None or not isinstance(choice, str):
        return await _ballot_page(request, visitor, ballot_id, error=_stale(lang), status=400)
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
            request, visitor, ballot_id, error=refusal_text(lang, result), status=400
        )
    assert isinstance(result, VoteReceipt)
    return see_other(f"/r/b/{ballot_id}?done=voted")


@resident_only
async def ballot_tally(request: Request, visitor: Visitor) -> Response:
    """The tally alone, for ``resident.js`` to refresh while the ballot is open."""
    lang = language(request, visitor)
    found = await residents.council_ballot(
        deps(request).database.uow(),
        council_id=_council_id(visitor),
        ballot_id=request.path_params["ballot_id"],
        member_id=None,
    )
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
    found = await residents.council_ballot(
        deps(request).database.uow(),
        council_id=_council_id(visitor),
        ballot_id=request.path_params["ballot_id"],
        member_id=None,
    )
    if found.view.ballot.outcome is None:
        raise errors.BallotNotFound()
    image = await asyncio.to_thread(result_chart, lang, found.view, fmt)
    return Response(image, media_type=media_type)


routes: list[BaseRoute] = [
    Route("/r", home),
    Route("/r/t/{topic_id:int}", topic),
    Route("/r/t/{topic_id:int}/propose", propose, methods=["POST"]),
    Route("/r/p/{proposal_id:int}/second", second, methods=["POST"]),
    Route("/r/b/{ballot_id:int}", ballot),
    Route("/r/b/{ballot_id:int}/vote", vote, methods=["POST"]),
    Route("/r/b/{ballot_id:int}/tally", ballot_tally),
    Route("/r/b/{ballot_id:int}/chart.{fmt}", chart),
]
