"""Signing in on the web: one-time console links, households' login keys, sessions.

Three ways in, each ending in a session whose token only the browser's cookie holds
(the database keeps its HMAC, as it does of binding codes, so a copy of the database
signs nobody in):

- a chair or staff member asks the bot for ``/console`` and gets a link valid minutes,
  used once: the staff console;
- a household scans the login key on its printed card (a second QR code beside the
  binding code): the residents' page, as that roll entry. The key is like a paper
  voting card: kept by the household, used as often as it is scanned (WeChat's browser
  may forget the cookie), revoked and reissued by staff;
- Telegram opens the page as a Mini App and vouches for the user (``initData``,
  checked by the front end): the residents' page, as the member with that account.

Every use, refusal, issue and revocation is a row of the audit trail (``web_access``);
the refusals of one client within an hour are its rate limit.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from domain.errors import DomainError

TOKEN_BYTES = 24  # 192 bits, 32 URL-safe characters
ATTEMPT_WINDOW = timedelta(hours=1)
DEFAULT_LINK_MINUTES = 10
DEFAULT_STAFF_HOURS = 12  # a console session: a working day
DEFAULT_RESIDENT_DAYS = 180  # a household's browser stays signed in half a year
DEFAULT_FAILURES_PER_HOUR = 10  # refused links and keys per client
DEFAULT_LINKS_PER_HOUR = 10  # /console links one person may ask for
MAX_CLIENT = 64


def new_token() -> str:
    """A fresh link, key or session token from the system's CSPRNG."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def looks_like_token(text: str) -> bool:
    return 16 <= len(text) <= 64 and all(c.isascii() and (c.isalnum() or c in "-_") for c in text)


def digest(token: str, key: bytes) -> str:
    """What is stored of a token: its HMAC-SHA256 under the front end's key, in hex."""
    return hmac.new(key, token.encode("ascii", "replace"), hashlib.sha256).hexdigest()


class SessionKind(StrEnum):
    STAFF = "staff"  # the console: a chair or staff member (an account, maybe not on the roll)
    RESIDENT = "resident"  # the residents' page: a roll entry


class Via(StrEnum):
    LINK = "link"
    KEY = "key"
    TELEGRAM = "telegram"


class AccessKind(StrEnum):
    LINK_ISSUED = "link_issued"
    LINK_USED = "link_used"
    LINK_REFUSED = "link_refused"
    KEY_ISSUED = "key_issued"
    KEY_REVOKED = "key_revoked"
    KEY_USED = "key_used"
    KEY_REFUSED = "key_refused"
    TELEGRAM = "telegram"
    TELEGRAM_REFUSED = "telegram_refused"
    SIGNED_OUT = "signed_out"


class WebRefused(DomainError):
    """A link, key or Mini App sign-in that signs nobody in; ``params['field']``:
    ``malformed``, ``unknown``, ``used``, ``expired``, ``revoked`` (the key was
    revoked or reissued), ``removed`` (the entry left the roll), ``not_staff`` (no
    longer a chair or staff member), ``not_member`` (the Telegram account is on no
    roll of this council), ``forged`` or ``stale`` (``initData`` that does not verify,
    or is too old), ``too_many`` (``count``: minutes to wait). Recorded all the same."""

    code = "web_access"


@dataclass
class WebLink:
    council_id: int
    user_id: int
    digest: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    id: int | None = None


@dataclass
class LoginKey:
    council_id: int
    member_id: int
    digest: str
    created_at: datetime
    created_by: int | None = None  # the chair or staff member; None: the operator
    revoked_at: datetime | None = None
    id: int | None = None


@dataclass
class WebSession:
    digest: str
    council_id: int
    kind: SessionKind
    via: Via
    created_at: datetime
    expires_at: datetime
    user_id: int | None = None  # staff: the account signed in
    member_id: int | None = None  # a resident: the roll entry
    key_id: int | None = None  # signed in by this login key: revoking it ends the session
    revoked_at: datetime | None = None
    id: int | None = None

    def valid(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class AccessEvent:
    at: datetime
    kind: AccessKind
    ok: bool
    council_id: int | None = None
    member_id: int | None = None
    user_id: int | None = None
    client: str | None = None
    detail: str | None = None
    id: int | None = None


def retry_in_minutes(failures: list[datetime], limit: int, now: datetime) -> int:
    """Minutes until fewer than ``limit`` failures remain within the window."""
    newest_first = sorted(failures, reverse=True)
    if len(newest_first) < limit:
        return 0
    clears = newest_first[limit - 1] + ATTEMPT_WINDOW
    return max(1, -int(-(clears - now).total_seconds() // 60))
