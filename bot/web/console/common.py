"""What the console's pages share: the staff member's id, a page with the forms'
nonce, and the unit of work a form's POST writes through (once per nonce)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bot.web.context import deps, language, page
from domain import errors
from domain.idempotency import IdempotentUnitOfWork
from domain.ports import UnitOfWork
from domain.services.web_access import Visitor


def staff_id(visitor: Visitor) -> int:
    """The chair's or staff member's Telegram id (a staff session always has one)."""
    if visitor.user_id is None:
        raise errors.NotStaff()
    return visitor.user_id


def new_nonce() -> str:
    """A form's one-time key: the same form posted twice takes effect once."""
    return secrets.token_urlsafe(12)


def console_page(
    request: Request, template: str, visitor: Visitor, *, status: int = 200, **context: Any
) -> HTMLResponse:
    return page(
        request,
        template,
        lang=language(request, visitor),
        status=status,
        visitor=visitor,
        nonce=new_nonce,
        **context,
    )


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def keyed_uow(request: Request, visitor: Visitor, form: FormData) -> UnitOfWork:
    """A unit of work whose commit takes effect once per form (its nonce), however
    often it is posted (a double click, a reload of the answer)."""
    nonce = text(form, "nonce")[:64] or new_nonce()
    return IdempotentUnitOfWork(deps(request).database.uow(), f"web:{visitor.session.id}:{nonce}")


def local(moment: object, timezone: str) -> str:
    """A moment as the council's local time ("2026-12-03 19:05"); "" for None."""
    if not isinstance(moment, datetime):
        return ""
    if moment.tzinfo is None:  # stored as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def attachment(name: str) -> dict[str, str]:
    """Headers of a download saved as ``name``."""
    return {"content-disposition": f'attachment; filename="{name}"'}
