"""Keys derived from the bot's secret (``YISHI_SECRET``, else the token), one per use,
shared by every front end: button data and deep links, binding codes' digests, the
web's links, keys, sessions and forms."""

from __future__ import annotations

import hashlib
import hmac

from bot.config import Settings

WEB_PURPOSE = "web"


def secret_of(settings: Settings, token: str) -> str:
    return settings.secret.get_secret_value() if settings.secret else token


def signing_key(settings: Settings, token: str) -> bytes:
    """The key buttons and deep links are signed with (``bot.telegram.buttons.Signer``)."""
    return base_key(hashlib.sha256(secret_of(settings, token).encode()).digest())


def base_key(secret: bytes) -> bytes:
    return hashlib.sha256(b"yishi-buttons:" + secret).digest()


def purpose_key(key: bytes, purpose: str) -> bytes:
    """A key of its own for another use of the signing key."""
    return hmac.new(key, b"purpose:" + purpose.encode(), hashlib.sha256).digest()


def web_key(settings: Settings, token: str) -> bytes:
    """The web's: links, login keys and sessions are stored as HMACs under it."""
    return purpose_key(signing_key(settings, token), WEB_PURPOSE)
