"""What the console's downloads and pictures share: a file as an attachment (its name
in UTF-8 for the browser, an ASCII one for old clients), an SVG picture, and the
rule that every object shown belongs to the visitor's council."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from starlette.responses import Response

from domain import errors
from domain.services.web_access import Visitor

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ICS = "text/calendar; charset=utf-8"
SVG = "image/svg+xml"


def attachment(data: bytes, *, name: str, fallback: str, media_type: str) -> Response:
    """A download: ``name`` (UTF-8, RFC 6266's ``filename*``) is what the browser saves
    it as; ``fallback`` (ASCII) for a client that reads only ``filename``."""
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
    return Response(
        data,
        media_type=media_type,
        headers={
            "content-disposition": disposition,
            "cache-control": "private, no-store",
            "x-content-type-options": "nosniff",
        },
    )


def picture(data: bytes) -> Response:
    """A chart drawn for this request (figures change as votes come in)."""
    return Response(
        data,
        media_type=SVG,
        headers={"cache-control": "private, no-store", "x-content-type-options": "nosniff"},
    )


def require_own(visitor: Visitor, council_id: int | None, missing: errors.DomainError) -> None:
    """Refuses (as not found) what belongs to another council than the visitor's."""
    if council_id is None or council_id != visitor.council.id:
        raise missing


@contextmanager
def hidden_elsewhere(missing: errors.DomainError) -> Iterator[None]:
    """A report refusing the visitor (``NotStaff``: another council's object) reads as
    not found: the console does not say what other councils hold."""
    try:
        yield
    except errors.NotStaff:
        raise missing from None


def council_id(visitor: Visitor) -> int:
    found = visitor.council.id
    assert found is not None
    return found


def staff_id(visitor: Visitor) -> int:
    """The staff member's Telegram id, as the reports name readers (never None here:
    None would read as the operator)."""
    user_id = visitor.user_id
    if user_id is None or not visitor.is_staff:
        raise errors.NotStaff()
    return user_id
