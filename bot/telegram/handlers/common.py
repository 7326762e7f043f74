"""Refusals: every ``DomainError`` becomes a clear, localized answer."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.i18n import refusal_text
from bot.telegram.context import is_private, thread_of, uow, update_key, user_language
from bot.telegram.render import plain
from domain import errors, services
from domain.model import Council

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]

async def refuse(
    update: Update, context: ContextTypes.DEFAULT_TYPE, error: errors.DomainError
) -> None:
    text = refusal_text(user_language(update, context), error)
    if update.callback_query is not None:
        # A press may be answered only once; if it already was, there is nobody to tell.
        with contextlib.suppress(BadRequest):
            await update.callback_query.answer(plain(text), show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)


def refusals(handler: Handler) -> Handler:
    """Answer a refused use case instead of failing; stay silent on a redelivery."""

    @functools.wraps(handler)
    async def wrapper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await handler(update, context)
        except errors.Redelivered:
            await quiet_answer(update)
        except errors.DomainError as error:
            # A refusal is an answer too: record it, so a redelivered copy of the
            # update is not refused (and answered) a second time.
            if await services.mark_handled(uow(context), key=update_key(update, context)):
                await refuse(update, context, error)
            else:
                await quiet_answer(update)

    return wrapper


async def quiet_answer(update: Update) -> None:
    if update.callback_query is not None:
        with contextlib.suppress(BadRequest):
            await update.callback_query.answer()


async def council_here(update: Update, context: ContextTypes.DEFAULT_TYPE) -> tuple[Council, int]:
    """The council of the chat (or forum topic) the update came from, and its id."""
    message = update.effective_message
    assert message is not None
    council = await services.find_council(
        uow(context), chat_id=message.chat_id, thread_id=thread_of(message)
    )
    assert council.id is not None
    return council, council.id


def group_only(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if is_private(update):
            raise errors.InvalidInput(field="group_only")
        await handler(update, context)

    return wrapper


def private_only(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not is_private(update):
            raise errors.InvalidInput(field="private_only")
        await handler(update, context)

    return wrapper
