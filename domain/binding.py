"""绑定码: the one-time code on a printed card that ties an account to a roll entry.

A code is 12 symbols of a 32-symbol alphabet without the look-alikes 0/O and 1/I:
60 bits, so a guess at one of a 3,000-household roll's codes succeeds about once in
4·10¹⁴ tries, and five wrong tries an hour per account make guessing hopeless. It is
printed in groups of four (``ABCD-EFGH-JKLM``), which is also the deep link's payload
(Telegram allows ``A-Z a-z 0-9 _ -``), so scanning the QR code and typing
``/start ABCD-EFGH-JKLM`` are the same. Only its HMAC-SHA256 under the bot's secret is
stored: with a plain hash, someone holding a copy of the database could try all 2⁶⁰
codes against 3,000 digests at once (hours on a GPU); without the key they cannot.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import DomainError

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
LENGTH = 12
GROUP = 4
DEFAULT_VALID_DAYS = 30
DEFAULT_FAILURES_PER_HOUR = 5
ATTEMPT_WINDOW = timedelta(hours=1)
_SEPARATORS = "-–—‐ "  # as printed, and as a phone may turn a typed hyphen


def new_code() -> str:
    """A fresh code as printed, ``ABCD-EFGH-JKLM``, from the system's CSPRNG."""
    return printed("".join(secrets.choice(ALPHABET) for _ in range(LENGTH)))


def printed(code: str) -> str:
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def _squeezed(text: str) -> str:
    # NFKC folds what a Chinese input method types in full width ("ＡＢＣＤ－２３").
    folded = unicodedata.normalize("NFKC", text)
    return "".join(c for c in folded if c not in _SEPARATORS).upper()


def looks_like_code(text: str) -> bool:
    """Whether ``/start text`` is meant as a binding code rather than one of the bot's
    signed links (which always carry ``_``): a hyphen, or twelve letters and digits.
    A mistyped code is then refused as a code, with a word about its shape."""
    folded = unicodedata.normalize("NFKC", text).strip()
    if not folded or "_" in folded or len(folded) > 4 * LENGTH:
        return False
    squeezed = _squeezed(folded)
    if not squeezed.isascii() or not squeezed.isalnum():
        return False
    return "-" in folded or len(squeezed) == LENGTH


def read_code(text: str) -> str | None:
    """The code typed or scanned, as printed; None when it cannot be one (wrong length,
    a symbol the alphabet has not)."""
    squeezed = _squeezed(text)
    if len(squeezed) != LENGTH or any(c not in ALPHABET for c in squeezed):
        return None
    return printed(squeezed)


def digest(code: str, key: bytes) -> str:
    """What is stored of a code: the HMAC-SHA256 of its twelve symbols under ``key``
    (the front end's, derived from the bot's secret), in hex."""
    return hmac.new(key, _squeezed(code).encode("ascii"), hashlib.sha256).hexdigest()


class BindingRefused(DomainError):
    """A code that binds nothing; ``params['field']`` says why: ``malformed`` (not the
    shape of a code), ``unknown``, ``expired`` (or replaced by a newer card), ``used``,
    ``removed`` (the entry left the roll after the card was printed),
    ``already_bound`` (``council``, ``name``: the account is on that roll already) or
    ``too_many`` (``count``: the minutes to wait). The attempt itself is recorded all the same."""

    code = "binding"


class NothingToPrint(DomainError):
    """Every member on the roll (or of the households asked for) has an account already."""

    code = "nothing_to_print"


class WhichCouncil(DomainError):
    """A private chat names no council, and the person keeps several; ``params``:
    ``choices`` (one "#id title" a line) and ``first`` (an id for the example)."""

    code = "which_council"


@dataclass
class BindingCode:
    council_id: int
    member_id: int
    digest: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    used_by: int | None = None  # the Telegram user id that bound with it
    id: int | None = None

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def retry_in_minutes(failures: list[datetime], limit: int, now: datetime) -> int:
    """Minutes until fewer than ``limit`` of ``failures`` (the account's failed attempts
    in the last window, any order) remain within the window: then it may try again."""
    newest_first = sorted(failures, reverse=True)
    if len(newest_first) < limit:
        return 0
    clears = newest_first[limit - 1] + ATTEMPT_WINDOW
    seconds = (clears - now).total_seconds()
    return max(1, -int(-seconds // 60))
