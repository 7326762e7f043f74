"""The buttons that open the residents' page inside Telegram (the Mini App).

Telegram allows ``web_app`` inline buttons in private chats only, and only to an HTTPS
page; in a group the way in is a ``t.me`` link with ``startapp``, which Telegram opens
as the bot's Mini App and hands to the page as ``start_param`` (``bot/web/auth.py``
resolves it: ``b<ballot id>``, ``t<topic id>``). Shown only where the web is
configured (``YISHI_WEB_URL``, or the web in the bot's process).
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, WebAppInfo

from bot.config import Settings
from bot.i18n import t
from bot.web_links import mini_app_link, mini_app_url, web_configured


def ballot_start(ballot_id: int) -> str:
    return f"b{ballot_id}"


def topic_start(topic_id: int) -> str:
    return f"t{topic_id}"


@dataclass(frozen=True)
class MiniApp:
    settings: Settings
    bot_username: str

    @classmethod
    def of(cls, settings: Settings | None, bot_username: str) -> MiniApp | None:
        """The Mini App's buttons, or None where the web is not configured."""
        if settings is None or not web_configured(settings):
            return None
        return cls(settings, bot_username)

    def group_button(self, lang: str, start: str) -> InlineKeyboardButton:
        """For a group: a ``t.me`` link that opens the Mini App at ``start``."""
        return InlineKeyboardButton(
            t(lang, "button.mini_app"),
            url=mini_app_link(self.settings, self.bot_username, start),
        )

    def private_button(self, lang: str, start: str) -> InlineKeyboardButton | None:
        """For a private chat: a real ``web_app`` button, where the page is HTTPS
        (Telegram refuses any other); None otherwise."""
        url = mini_app_url(self.settings, start)
        if not url.startswith("https://"):
            return None
        return InlineKeyboardButton(t(lang, "button.mini_app"), web_app=WebAppInfo(url))


def group_row(app: MiniApp | None, lang: str, start: str) -> list[list[InlineKeyboardButton]]:
    """The keyboard row of a group's message (none without the web)."""
    return [] if app is None else [[app.group_button(lang, start)]]


def private_row(app: MiniApp | None, lang: str, start: str) -> list[list[InlineKeyboardButton]]:
    """The keyboard row of a private message (none without the web or HTTPS)."""
    button = None if app is None else app.private_button(lang, start)
    return [] if button is None else [[button]]
