"""The roll in the console: every member with household, flats (area, verified), role
and whether a Telegram account is bound, paged and filtered by building; the roll file
imported (the same dry-run diff as the chat, confirmed or cancelled) and exported; a
member's entry with its login key (reissued once shown, or revoked) and sign-in trail."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import PurePath

import segno
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.i18n import Markup, t
from bot.reports import roster_diff
from bot.web.console.common import (
    attachment,
    console_page,
    keyed_uow,
    local,
    staff_id,
    text,
)
from bot.web.context import deps, language, see_other, staff_only
from bot.web.security import checked_form, forbidden
from bot.web_links import key_url
from domain import errors, services
from domain.model import Council, Member
from domain.numbers import read_id
from domain.services import console, roster, web_access
from domain.services.targets import Target
from domain.services.web_access import Visitor

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAGE = 100  # members a page
# As the chat takes a roll file (bot.telegram.handlers.roster).
MAX_FILE = 10 * 1024 * 1024
TYPES = (".xlsx", ".csv", ".txt", ".tsv")
PAUSE = 0.05  # seconds between two chunks written: the scheduler's heartbeat gets in
SHOWN = 50  # names listed per part of the diff on a page (the chat lists 10)


def role_of(council: Council, member: Member) -> str:
    """chair, staff, voter or participant: what the roll's role column says."""
    if member.user_id is not None and member.user_id in council.chairs:
        return "chair"
    if member.user_id is not None and member.user_id in council.staff:
        return "staff"
    return "voter" if member.voting else "participant"


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """ "3-2-301" before "10-1-101": numbers as numbers."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


@dataclass(frozen=True)
class Row:
    member: Member
    role: str


@staff_only
async def roll_page(request: Request, visitor: Visitor) -> Response:
    d = deps(request)
    view = await services.full_roll(
        d.database.uow(), council_id=visitor.council.id or 0, user_id=staff_id(visitor)
    )
    council = view.council
    members = sorted(view.members, key=lambda m: (_natural(m.household), m.id or 0))
    buildings = sorted({m.building for m in members if m.building}, key=_natural)
    building = request.query_params.get("building", "")
    wanted = request.query_params.get("q", "").strip()
    shown = [
        m
        for m in members
        if (not building or m.building == building)
        and (not wanted or wanted in m.name or wanted in m.household)
    ]
    pages = max(1, -(-len(shown) // PAGE))
    number = min(max(read_id(request.query_params.get("page", "1")) or 1, 1), pages)
    rows = [Row(m, role_of(council, m)) for m in shown[(number - 1) * PAGE : number * PAGE]]
    lang = language(request, visitor)
    summary = t(
        lang,
        "roll.title",
        council=council.title,
        members=t(lang, "roll.members", count=len(view.members)),
        households=t(lang, "roll.households", count=view.households),
        owners=view.owners,
        area=f"{view.area:.2f}",
    )
    return console_page(
        request,
        "console/roll.html",
        visitor,
        summary=summary,
        rows=rows,
        found=len(shown),
        buildings=buildings,
        building=building,
        wanted=wanted,
        page_number=number,
        pages=pages,
        pending=len(view.pending),
        unverified=view.unverified,
    )


@staff_only
async def export(request: Request, visitor: Visitor) -> Response:
    """The roll as XLSX, as ``/roll export`` sends it: edit it and upload it again."""
    d = deps(request)
    lang = language(request, visitor)
    exported = await roster.export_roster(
        d.database.uow(),
        council_id=visitor.council.id or 0,
        user_id=staff_id(visitor),
        english=not lang.startswith("zh"),
    )
    data = await asyncio.to_thread(exported.xlsx)
    return Response(
        data,
        media_type=XLSX,
        headers=attachment(f"roll-{exported.council.id}.xlsx"),
    )


@staff_only
async def upload(request: Request, visitor: Visitor) -> Response:
    """A roll file uploaded: its dry-run diff, with confirm and cancel buttons."""
    form = await checked_form(request, visitor)
    if form is None:
        return forbidden()
    found = form.get("file")
    if not isinstance(found, UploadFile) or not found.filename:
        raise errors.InvalidInput(field="roster_resend")
    name = PurePath(found.filename).name
    suffix = PurePath(name).suffix.lower()
    if suffix == ".xls":
        raise errors.InvalidInput(field="sheet_xls")
    if suffix not in TYPES:
        raise errors.InvalidInput(field="roster_type", name=name[:40])
    data = await found.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise errors.InvalidInput(field="roster_size", limit=MAX_FILE // (1024 * 1024))
    # Reading a workbook is CPU work: on a thread, so other requests go on.
    roll = await asyncio.to_thread(roster.read_file, data)
    d = deps(request)
    try:
        checked = await roster.check_roster(
            keyed_uow(request, visitor, form),
            council_id=visitor.council.id or 0,
            user_id=staff_id(visitor),
            file_name=name,
            data=data,
            roll=roll,
            now=d.clock(),
        )
    except errors.Redelivered:
        return see_other("/console/roll")
    lang = language(request, visitor)
    return console_page(
        request,
        "console/roll_diff.html",
        visitor,
        head=roster_diff.diff_head(lang, checked, name),
        lines=Markup("\n").join(roster_diff.diff_lines(lang, checked, shown=SHOWN)),
        import_id=checked.import_id,
    )


@staff_only
async def decide_import(request: Request, visitor: Visitor) -> Response:
    """✅ writes the checked import in chunks (as the chat's button does), ✖ drops it.
    Both are safe to press twice: the import itself knows how far it got."""
    form = await checked_form(request, visitor)
    if form is None:
        return forbidden()
    d = deps(request)
    import_id = request.path_params["import_id"]
    lang = language(request, visitor)
    if text(form, "decision") == "apply":
        applied = await roster.apply_roster(
            d.database.uow,
            import_id=import_id,
            user_id=staff_id(visitor),
            now=d.clock(),
            between=lambda: asyncio.sleep(PAUSE),
        )
        message = roster_diff.applied_text(lang, applied)
    else:
        await roster.cancel_roster(
            d.database.uow(), import_id=import_id, user_id=staff_id(visitor), now=d.clock()
        )
        message = t(lang, "roster.cancelled")
    return console_page(
        request, "console/done.html", visitor, message=message, back="/console/roll"
    )


@staff_only
async def member_page(request: Request, visitor: Visitor) -> Response:
    d = deps(request)
    found = await console.member_access(
        d.database.uow(),
        council_id=visitor.council.id or 0,
        user_id=staff_id(visitor),
        member_id=request.path_params["member_id"],
    )
    return console_page(
        request,
        "console/member.html",
        visitor,
        found=found,
        member=found.member,
        role=role_of(found.council, found.member),
        local=lambda moment: local(moment, visitor.council.timezone),
    )


@staff_only
async def reissue_key(request: Request, visitor: Visitor) -> Response:
    """A new login key for the household (its old one and the browsers it signed in
    stop): its address and QR code shown this once, to print or hand over."""
    form = await checked_form(request, visitor)
    if form is None:
        return forbidden()
    d = deps(request)
    member_id = request.path_params["member_id"]
    try:
        issued = await web_access.issue_login_keys(
            keyed_uow(request, visitor, form),
            council_id=visitor.council.id or 0,
            member_ids=[member_id],
            user_id=staff_id(visitor),
            now=d.clock(),
            key=d.key,
        )
    except errors.Redelivered:  # shown once: a reload shows the member instead
        return see_other(f"/console/roll/{member_id}")
    url = key_url(d.settings, issued[0].token)
    qr = segno.make(url, error="m").svg_data_uri(scale=6, border=2)
    lang = language(request, visitor)
    return console_page(
        request,
        "console/done.html",
        visitor,
        message=t(lang, "web.roll.key_issued", name=issued[0].member.name),
        key_url=url,
        qr=qr,
        back=f"/console/roll/{member_id}",
    )


@staff_only
async def revoke_key(request: Request, visitor: Visitor) -> Response:
    form = await checked_form(request, visitor)
    if form is None:
        return forbidden()
    d = deps(request)
    member_id = request.path_params["member_id"]
    try:
        revoked = await web_access.revoke_login_key(
            keyed_uow(request, visitor, form),
            council_id=visitor.council.id or 0,
            member_id=member_id,
            user_id=staff_id(visitor),
            now=d.clock(),
        )
    except errors.Redelivered:
        return see_other(f"/console/roll/{member_id}")
    lang = language(request, visitor)
    key = "web.roll.key_revoked" if revoked else "web.roll.key_none"
    return console_page(
        request,
        "console/done.html",
        visitor,
        message=t(lang, key),
        back=f"/console/roll/{member_id}",
    )


@staff_only
async def verify(request: Request, visitor: Visitor) -> Response:
    """Staff confirm a member's flat (the one the form names): it counts from now on."""
    form = await checked_form(request, visitor)
    if form is None:
        return forbidden()
    member_id = request.path_params["member_id"]
    try:
        member = await services.verify_named(
            keyed_uow(request, visitor, form),
            council_id=visitor.council.id or 0,
            user_id=staff_id(visitor),
            target=Target(member_id=member_id),
            household=text(form, "household") or None,
        )
    except errors.Redelivered:
        return see_other(text(form, "back") or f"/console/roll/{member_id}")
    lang = language(request, visitor)
    return console_page(
        request,
        "console/done.html",
        visitor,
        message=t(lang, "verify.done", name=member.name),
        back=_back(text(form, "back"), f"/console/roll/{member_id}"),
    )


def _back(wanted: str, default: str) -> str:
    """A page of the console to go back to (never another site's)."""
    return wanted if wanted.startswith("/console") else default


routes = [
    Route("/console/roll", roll_page, methods=["GET"]),
    Route("/console/roll.xlsx", export, methods=["GET"]),
    Route("/console/roll/import", upload, methods=["POST"]),
    Route("/console/roll/import/{import_id:int}", decide_import, methods=["POST"]),
    Route("/console/roll/{member_id:int}", member_page, methods=["GET"]),
    Route("/console/roll/{member_id:int}/key", reissue_key, methods=["POST"]),
    Route("/console/roll/{member_id:int}/key/revoke", revoke_key, methods=["POST"]),
    Route("/console/roll/{member_id:int}/verify", verify, methods=["POST"]),
]
