"""Validation and normalisation of ``reply_markup``, with Telegram's error texts."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from emulator.errors import bad_request
from emulator.limits import MAX_CALLBACK_DATA_BYTES, MAX_INLINE_BUTTONS

# Exactly one of these must accompany an inline button's text.
_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_OTHER_KEYBOARDS = ("keyboard", "remove_keyboard", "force_reply")


def validate_markup(markup: Any, *, private: bool = True) -> dict[str, Any] | None:
    """Return the markup as stored, or None when it carries no inline keyboard.

    An empty inline keyboard is normalised to None because Telegram treats it as "no
    keyboard" (this matters for the "message is not modified" comparison). A ``web_app``
    button is allowed only in a ``private`` chat, and only with an HTTPS address.
    """
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        if any(key in markup for key in _OTHER_KEYBOARDS):
            return dict(markup)
        raise bad_request("can't parse reply keyboard markup JSON object")
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'can\'t parse inline keyboard button: field "inline_keyboard" '
            "must be an Array of Arrays"
        )
    clean_rows = [[_validate_button(button, private) for button in row] for row in rows]
    clean_rows = [row for row in clean_rows if row]
    if sum(len(row) for row in clean_rows) > MAX_INLINE_BUTTONS:
        raise bad_request("reply markup is too long")
    return {"inline_keyboard": clean_rows} if clean_rows else None


def _validate_button(button: Any, private: bool) -> dict[str, Any]:
    if not isinstance(button, dict):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    text = button.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("can't parse inline keyboard button: Text must be non-empty")
    actions = [key for key in _ACTIONS if button.get(key) is not None]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        raise bad_request(
            "can't parse inline keyboard button: exactly one of the optional fields must be used"
        )
    if "callback_data" in actions:
        data = button["callback_data"]
        size = len(data.encode("utf-8")) if isinstance(data, str) else 0
        if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in actions:
        url = urlparse(str(button["url"]))
        if url.scheme not in ("http", "https", "tg") or (url.scheme != "tg" and not url.netloc):
            raise bad_request("BUTTON_URL_INVALID")
    if "web_app" in actions:
        _validate_web_app(button["web_app"], private)
    # Drop nulls so that equal keyboards compare equal however they were serialised.
    return {key: value for key, value in button.items() if value is not None}


def _validate_web_app(web_app: Any, private: bool) -> None:
    """A Mini App button: Telegram allows it in private chats only, opening HTTPS."""
    if not private:
        raise bad_request("BUTTON_TYPE_INVALID")
    url = str(web_app.get("url", "")) if isinstance(web_app, dict) else ""
    parsed = urlparse(url)
    if parsed.scheme != "https" or not parsed.netloc:
        raise bad_request(
            f"inline keyboard button Web App URL '{url}' is invalid: Only HTTPS links are allowed"
        )
