"""Inline-button data: short, signed, parsed strictly.

Telegram returns ``callback_data`` verbatim from the client, so anyone can send
any bytes. Each payload carries a truncated HMAC; a press whose data does not
verify is refused before touching the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from bot.keys import base_key, purpose_key
from domain.numbers import read_id

MAX_BYTES = 64  # Telegram's limit on callback_data
MAX_LINK = 64  # Telegram's limit on a deep link's start parameter


@dataclass(frozen=True)
class Press:
    action: str  # "v" vote, "s" second, "a" agenda topic, "i" calendar file
    target: int  # ballot, proposal or meeting id
    arg: str  # the choice for a vote, the topic id for the agenda, "" otherwise


class Signer:
    def __init__(self, secret: bytes) -> None:
        self._key = base_key(secret)

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()[:6]
        return base64.urlsafe_b64encode(digest).decode()

    def key_for(self, purpose: str) -> bytes:
        """A key of its own for another use of the secret (binding codes' digests)."""
        return purpose_key(self._key, purpose)

    def data(self, action: str, target: int, arg: str = "") -> str:
        payload = f"{action}:{target}:{arg}"
        data = f"{payload}:{self._mac(payload)}"
        assert len(data.encode()) <= MAX_BYTES, data
        return data

    def link(self, kind: str, target: int) -> str:
        """A signed deep-link payload (``t.me/<bot>?start=<payload>``), e.g. ``p12_Ab3-x_9Q``.

        Telegram sends it as ``/start <payload>`` when the link is opened, so anyone can
        type any payload: one that opens a draft or sends a meeting's calendar file
        carries a truncated HMAC like button data, and its handler checks the roll too.
        Telegram allows 64 characters of A-Z, a-z, 0-9, _ and -, which is what the
        URL-safe base64 MAC uses."""
        payload = f"{kind}{target}"
        return f"{payload}_{self._mac('link:' + payload)}"

    def parse_link(self, payload: str | None, kinds: str) -> tuple[str, int] | None:
        """(kind, id) of a signed payload whose kind is one of ``kinds``; None if forged,
        malformed or unsigned."""
        if not payload or len(payload) > MAX_LINK:
            return None
        body, sep, mac = payload.partition("_")
        if not sep or not body or body[0] not in kinds:
            return None
        target = read_id(body[1:])
        if target is None:
            return None
        if not _same(mac, self._mac("link:" + body)):
            return None
        return body[0], target

    def parse(self, data: str | None) -> Press | None:
        """The press the data stands for, or None if it is malformed or forged."""
        if not data or len(data.encode()) > MAX_BYTES:
            return None
        parts = data.split(":")
        if len(parts) != 4:
            return None
        action, target, arg, mac = parts
        if not _same(mac, self._mac(f"{action}:{target}:{arg}")):
            return None
        number = read_id(target)
        if number is None:
            return None
        return Press(action, number, arg)


def _same(given: str, expected: str) -> bool:
    """A constant-time comparison that takes any text: ``hmac.compare_digest`` raises
    TypeError on a str with non-ASCII characters, which forged data may carry."""
    return hmac.compare_digest(given.encode(), expected.encode())


def vote_data(signer: Signer, ballot_id: int, choice: str) -> str:
    return signer.data("v", ballot_id, choice)


def second_data(signer: Signer, proposal_id: int) -> str:
    return signer.data("s", proposal_id)


def agenda_data(signer: Signer, meeting_id: int, topic_id: int) -> str:
    return signer.data("a", meeting_id, str(topic_id))


def calendar_data(signer: Signer, meeting_id: int) -> str:
    return signer.data("i", meeting_id)
