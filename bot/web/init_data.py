"""Telegram Mini App ``initData``, validated exactly as the Bot API documents
("Validating data received via the Mini App"): the data-check-string is every field
but ``hash``, sorted by key, as ``key=value`` lines; the secret key is
HMAC-SHA256("WebAppData", bot token); the hash is HMAC-SHA256(secret key,
data-check-string) in hex. ``auth_date`` must be recent, so a copy of old initData
signs nobody in."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

MAX_LENGTH = 4096


@dataclass(frozen=True)
class InitData:
    user_id: int
    language: str | None
    start_param: str | None
    auth_date: datetime


class InitDataRefused(Exception):
    """``why``: ``forged`` (missing or wrong hash, malformed) or ``stale`` (too old)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def sign(fields: dict[str, str], token: str) -> str:
    """The hash Telegram puts in ``initData`` for these fields (and tests forge with)."""
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "hash")
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    return hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()


def validate(raw: str, token: str, *, now: datetime, max_age: timedelta) -> InitData:
    if not raw or len(raw) > MAX_LENGTH:
        raise InitDataRefused("forged")
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InitDataRefused("forged") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):  # a key twice: which would Telegram have signed?
        raise InitDataRefused("forged")
    given = fields.get("hash", "")
    if not hmac.compare_digest(given.encode(), sign(fields, token).encode()):
        raise InitDataRefused("forged")
    try:
        auth_date = datetime.fromtimestamp(int(fields["auth_date"]), UTC)
        user = json.loads(fields["user"])
        user_id = int(user["id"])
    except (KeyError, ValueError, TypeError, OverflowError):
        raise InitDataRefused("forged") from None
    if not now - max_age <= auth_date <= now + timedelta(minutes=5):
        raise InitDataRefused("stale")
    language = user.get("language_code")
    return InitData(
        user_id=user_id,
        language=language if isinstance(language, str) else None,
        start_param=fields.get("start_param"),
        auth_date=auth_date,
    )
