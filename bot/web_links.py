"""The web's addresses as the chat hands them out: a console sign-in link, a
household's login key (the card's second QR code), the Mini App's. Shared by the
Telegram front end and the command line, which do not import the web app itself."""

from __future__ import annotations

from urllib.parse import quote

from bot.config import Settings
from bot.keys import WEB_PURPOSE

__all__ = [
    "WEB_PURPOSE",
    "console_url",
    "key_url",
    "mini_app_link",
    "mini_app_url",
    "web_configured",
]


def web_configured(settings: Settings) -> bool:
    """Whether the web is served where people can reach it: its public address set
    (``YISHI_WEB_URL``), or served by the bot's process (``YISHI_WEB_IN_RUN``). Only
    then do the chat and the cards hand out its addresses."""
    return bool(settings.web_url) or settings.web_in_run


def console_url(settings: Settings, token: str) -> str:
    return f"{settings.public_web_url()}/login/{token}"


def key_url(settings: Settings, token: str) -> str:
    return f"{settings.public_web_url()}/k/{token}"


def mini_app_url(settings: Settings, start: str) -> str:
    """The page Telegram opens as a Mini App (a ``web_app`` button, private chats)."""
    return f"{settings.public_web_url()}/app?to={quote(start)}"


def mini_app_link(settings: Settings, bot_username: str, start: str) -> str:
    """A ``t.me`` link that opens the Mini App from a group, where ``web_app`` buttons
    are not allowed: the named app, or the bot's main Mini App."""
    if settings.web_app_name:
        return f"https://t.me/{bot_username}/{settings.web_app_name}?startapp={quote(start)}"
    return f"https://t.me/{bot_username}?startapp={quote(start)}"
