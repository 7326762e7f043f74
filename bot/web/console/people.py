"""Who is on the roll and in which role: joins waiting for approval (approve, reject),
flats waiting to be verified, and the council's roles with grant and revoke forms. The
same use cases, refusals and words as the chat's /pending, /grant and /revoke."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.i18n import t
from bot.web.console.common import console_page, keyed_uow, staff_id, text
from bot.web.context import deps, language, see_other, staff_only
from bot.web.security import checked_form, forbidden
from domain import errors, services
from domain.model import Role
from domain.numbers import looks_like_id, parse_id
from domain.services import Target
from domain.services.web_access import Visitor

ROLES = {
    "chair": Role.CHAIR,
    "staff": Role.STAFF,
    "voter": Role.VOTER,
    "participant": Role.PARTICIPANT,
}


@staff_only
async def pending_page(request: Request, visitor: Visitor) -> Response:
    d = deps(request)
    everything = await services.waiting(d.database.uow(), user_id=staff_id(visitor))
    mine = next((w for w in everything if w.council.id == visitor.council.id), None)
    if mine is None:
        raise errors.NotStaff()
    lang = language(request, visitor)
    head = t(
        lang,
        "pending.head",
        council=mine.council.title,
        joins=t(lang, "pending.joins", count=len(mine.joins)),
        flats=t(lang, "pending.flats", count=len(mine.flats)),
    )
    return console_page(request, "console/pending.html", visitor, head=head, waiting=mine)


@staff_only
async def decide(request: Request, visitor: Visitor) -> Response:
    """Approve or reject a join waiting for approval; the applicant is told (the outbox)."""
    form = await checked_form(request, visitor)
    if form is None:
        return forbidden()
    d = deps(request)
    approve = text(form, "decision") == "approve"
    member_id = request.path_params["member_id"]
    # The session's council only, though its staff member may keep another's roll too.
    shown = await services.entry(d.database.uow(), member_id=member_id, user_id=staff_id(visitor))
    if shown.council.id != visitor.council.id:
        raise errors.NotFound(field="member", id=member_id)
    try:
        admitted = await services.decide_join(
            keyed_uow(request, visitor, form),
            member_id=member_id,
            by_user=staff_id(visitor),
            approve=approve,
            now=d.clock(),
        )
    except errors.Redelivered:
        return see_other("/console/roll/pending")
    lang = language(request, visitor)
    key = "join.approved_group" if admitted.approved else "join.rejected_group"
    return console_page(
        request,
        "console/done.html",
        visitor,
        message=t(lang, key, name=admitted.member.name),
        back="/console/roll/pending",
    )


@staff_only
async def roles_page(request: Request, visitor: Visitor) -> Response:
    d = deps(request)
    # The roll's full entries are for chairs and staff only: checked here as everywhere.
    visitor.council.require_staff(staff_id(visitor))
    view = await services.roles_view(d.database.uow(), council_id=visitor.council.id or 0)
    council = view.council

    def named(user_id: int) -> str:
        member = view.members.get(user_id)
        return member.name if member is not None else f"ID {user_id}"

    return console_page(
        request,
        "console/roles.html",
        visitor,
        chairs=[named(u) for u in sorted(council.chairs)],
        staff=[named(u) for u in sorted(council.staff)],
        participants=view.participants,
        is_chair=council.is_chair(staff_id(visitor)),
        chosen=request.query_params.get("who", ""),
    )


def target_of(words: str) -> Target:
    """Whom the form names: a member number ("12", "#12") or an address ("3-2-301"),
    as the chat's /grant reads its argument."""
    if not words:
        raise errors.InvalidInput(field="grant_usage")
    if looks_like_id(words):
        return Target(member_id=parse_id(words))
    address = services.parse_address(words)
    return Target(
        household="-".join(p for p in (address.building, address.unit, address.room) if p)
    )


@staff_only
async def change(request: Request, visitor: Visitor) -> Response:
    """Grant or revoke a role, as /grant and /revoke: chairs name chairs and staff;
    chairs and staff switch a member between voter and participant."""
    form = await checked_form(request, visitor)
    if form is None:
        return forbidden()
    d = deps(request)
    granted = text(form, "action") != "revoke"
    role = ROLES.get(text(form, "role"))
    if role is None:
        raise errors.InvalidInput(field="grant_usage" if granted else "revoke_usage")
    try:
        changed = await services.change_role(
            keyed_uow(request, visitor, form),
            council_id=visitor.council.id or 0,
            by_user=staff_id(visitor),
            role=role,
            granted=granted,
            target=target_of(text(form, "who")),
            now=d.clock(),
        )
    except errors.Redelivered:
        return see_other("/console/roll/roles")
    lang = language(request, visitor)
    key = f"role.{'granted' if changed.granted else 'revoked'}.{changed.role.value}"
    return console_page(
        request,
        "console/done.html",
        visitor,
        message=t(lang, key, name=changed.name, council=changed.council.title),
        back="/console/roll/roles",
    )


routes = [
    Route("/console/roll/pending", pending_page, methods=["GET"]),
    Route("/console/roll/pending/{member_id:int}", decide, methods=["POST"]),
    Route("/console/roll/roles", roles_page, methods=["GET"]),
    Route("/console/roll/roles", change, methods=["POST"]),
]
