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

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from bot.reports import wording
from bot.web import resident_ballot
from bot.web.context import deps, language, page, refusal, resident_only, see_other
from bot.web.resident_forms import (
    act_key,
    council_id_of,
    done_note,
    member_of,
    new_nonce,
    stale_form,
)
from bot.web.security import checked_form, forbidden
from domain import errors
from domain.idempotency import IdempotentUnitOfWork
from domain.model import Phase
from domain.services import residents, second_proposal, submit_proposal
from domain.services.web_access import Visitor

# --- home ---------------------------------------------------------------------


@resident_only
async def home(request: Request, visitor: Visitor) -> Response:
    lang = language(request, visitor)
    board = await residents.noticeboard(
        deps(request).database.reader(), council_id=council_id_of(visitor)
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
    member = member_of(visitor)
    view = await residents.council_topic(
        deps(request).database.reader(), council_id=council_id_of(visitor), topic_id=topic_id
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
        done=done_note(request),
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
    member = member_of(visitor)
    lang = language(request, visitor)
    raw = form.get("text")
    text = raw if isinstance(raw, str) else ""
    key = act_key(visitor, form)
    if key is None:
        return await _topic_page(
            request, visitor, topic_id, error=stale_form(lang), text=text, status=400
        )
    d = deps(request)
    try:
        await submit_proposal(
            IdempotentUnitOfWork(d.database.uow(), key),
            council_id=council_id_of(visitor),
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
    except errors.DomainError as error:
        return await _topic_page(
            request, visitor, topic_id, error=refusal(lang, error), text=text, status=400
        )
    return see_other(f"/r/t/{topic_id}?done=proposed")


@resident_only
async def second(request: Request, visitor: Visitor) -> Response:
    form = await checked_form(request, visitor)
    if form is None:
        return forbidden()
    proposal_id: int = request.path_params["proposal_id"]
    member = member_of(visitor)
    lang = language(request, visitor)
    d = deps(request)
    topic_id = await residents.topic_of_proposal(
        d.database.reader(), council_id=council_id_of(visitor), proposal_id=proposal_id
    )
    key = act_key(visitor, form)
    if key is None:
        return await _topic_page(request, visitor, topic_id, error=stale_form(lang), status=400)
    try:
        seconded = await second_proposal(
            IdempotentUnitOfWork(d.database.uow(), key),
            proposal_id=proposal_id,
            member_id=member.id,
            council_id=council_id_of(visitor),
            now=d.clock(),
        )
    except errors.Redelivered:
        return see_other(f"/r/t/{topic_id}#p{proposal_id}")
    except (errors.ProposalNotFound, errors.NotMember):
        raise
    except errors.DomainError as error:
        return await _topic_page(
            request, visitor, topic_id, error=refusal(lang, error), status=400
        )
    done = "seconded" if seconded.added else "already"
    return see_other(f"/r/t/{topic_id}?done={done}#p{proposal_id}")


routes: list[BaseRoute] = [
    Route("/r", home),
    Route("/r/t/{topic_id:int}", topic),
    Route("/r/t/{topic_id:int}/propose", propose, methods=["POST"]),
    Route("/r/p/{proposal_id:int}/second", second, methods=["POST"]),
    *resident_ballot.routes,
]
