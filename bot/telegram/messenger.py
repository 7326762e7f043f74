"""The Telegram side of the messenger port (:mod:`bot.runtime.messenger`): calls made
with python-telegram-bot, its errors turned into the port's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from telegram import InlineKeyboardMarkup, InputFile, ReplyParameters
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ExtBot

from bot.runtime.messenger import (
    ChatMoved,
    FloodWait,
    InDoubt,
    MessageGone,
    NotModified,
    NotSent,
    Outgoing,
    Refused,
    Unreachable,
)

T = TypeVar("T")

CAPTION = 1024  # Telegram's limit on a photo's caption
PHOTO_NAME = "chart.png"  # the file name an uploaded image (bytes) is sent under

# What Telegram says when the message an edit, pin or answer is about is gone or too old.
_GONE = (
    "message to edit not found",
    "message to pin not found",
    "message_id_invalid",
    "message can't be edited",
    "query is too old",
    "query id is invalid",
)


class TelegramMessenger:
    """``rate_limit_args`` go with every call to PTB's rate limiter (the outbox asks
    for no retry, so that a 429 postpones one notice instead of holding every send)."""

    def __init__(self, bot: ExtBot[Any], *, rate_limit_args: int | None = None) -> None:
        self._bot = bot
        self._limits = rate_limit_args

    async def send(self, chat_id: int, out: Outgoing, *, thread_id: int | None = None) -> int:
        reply = (
            ReplyParameters(out.reply_to, allow_sending_without_reply=True)
            if out.reply_to
            else None
        )
        markup = out.markup if isinstance(out.markup, InlineKeyboardMarkup) else None
        common: dict[str, Any] = {
            "reply_markup": markup,
            "message_thread_id": thread_id or None,
            "reply_parameters": reply,
            "rate_limit_args": self._limits,
        }
        if out.photo is not None:
            photo = (
                InputFile(out.photo, filename=PHOTO_NAME)
                if isinstance(out.photo, bytes)
                else out.photo
            )
            message = await _call(
                lambda: self._bot.send_photo(chat_id, photo, caption=_caption(out.text), **common)
            )
        else:
            message = await _call(lambda: self._bot.send_message(chat_id, out.text, **common))
        return message.message_id

    async def edit(
        self, chat_id: int, message_id: int, text: str, *, markup: object | None = None
    ) -> None:
        keyboard = markup if isinstance(markup, InlineKeyboardMarkup) else None
        await _call(
            lambda: self._bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                reply_markup=keyboard,
                rate_limit_args=self._limits,
            )
        )

    async def answer(self, query_id: str, text: str = "", *, alert: bool = False) -> None:
        await _call(
            lambda: self._bot.answer_callback_query(
                query_id, text or None, show_alert=alert, rate_limit_args=self._limits
            )
        )

    async def send_file(
        self,
        chat_id: int,
        filename: str,
        content: bytes,
        *,
        caption: str = "",
        thread_id: int | None = None,
    ) -> int:
        message = await _call(
            lambda: self._bot.send_document(
                chat_id,
                InputFile(content, filename=filename),
                caption=_caption(caption) or None,
                message_thread_id=thread_id or None,
                rate_limit_args=self._limits,
            )
        )
        return message.message_id

    async def pin(self, chat_id: int, message_id: int) -> None:
        await _call(
            lambda: self._bot.pin_chat_message(
                chat_id, message_id, disable_notification=True, rate_limit_args=self._limits
            )
        )


def _caption(text: str) -> str:
    """``text`` cut to a caption's length at a line break, marked "…": the texts are HTML,
    and a cut inside a line could split a tag or an entity, which Telegram refuses (the
    renderers never let one span lines)."""
    if len(text) <= CAPTION:
        return text
    return text[: CAPTION - 2].rsplit("\n", 1)[0] + "\n…"


async def _call(call: Callable[[], Awaitable[T]]) -> T:
    with translated():
        return await call()
    raise AssertionError("unreachable")  # for mypy: translated() re-raises


@contextmanager
def translated() -> Iterator[None]:
    """PTB's errors as the port's. Order matters: PTB makes BadRequest (and so a
    refusal) a NetworkError."""
    try:
        yield
    except Forbidden as error:
        raise Unreachable(error.message) from error
    except RetryAfter as error:
        wait = error.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        raise FloodWait(seconds, error.message) from error
    except ChatMigrated as error:
        raise ChatMoved(error.new_chat_id, error.message) from error
    except BadRequest as error:
        text = error.message.lower()
        if "not modified" in text:
            raise NotModified(error.message) from error
        if any(words in text for words in _GONE):
            raise MessageGone(error.message) from error
        raise Refused(error.message) from error
    except NetworkError as error:
        if _never_sent(error):
            raise NotSent(error.message) from error
        raise InDoubt(error.message) from error
    except TelegramError as error:
        raise Refused(error.message) from error


def _never_sent(error: NetworkError) -> bool:
    """True when the request certainly never reached Telegram (no connection was made),
    so sending again cannot double the message."""
    return isinstance(
        error.__cause__, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
    )
