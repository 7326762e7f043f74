"""What the residents' page's forms share: the nonce that makes a form's submits one
act, the idempotency key it gives, who is acting, and the note after a redirect."""

from __future__ import annotations

import re
import secrets

from starlette.datastructures import FormData
from starlette.requests import Request

from bot.i18n import t
from domain import errors
from domain.model import Member
from domain.services.web_access import Visitor

NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
DONE = {"proposed", "seconded", "already", "voted"}


def new_nonce() -> str:
    """Put in a form when its page is drawn: the form's submits are one act."""
    return secrets.token_urlsafe(16)


def member_of(visitor: Visitor) -> Member:
    if visitor.member is None or visitor.member.id is None:
        raise errors.NotMember()
    return visitor.member


def council_id_of(visitor: Visitor) -> int:
    assert visitor.council.id is not None
    return visitor.council.id


def act_key(visitor: Visitor, form: FormData) -> str | None:
    """The act's idempotency key, or None when the form has no good nonce."""
    nonce = form.get("nonce")
    if not isinstance(nonce, str) or not NONCE.fullmatch(nonce):
        return None
    return f"web:{visitor.session.id}:{nonce}"


def done_note(request: Request) -> str | None:
    done = request.query_params.get("done")
    return done if done in DONE else None


def stale_form(lang: str) -> str:
    return t(lang, "web.resident.stale_form")
