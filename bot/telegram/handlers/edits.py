"""Edited messages: an edited command edits, it does not repeat.

Telegram sends an ``edited_message`` when a member edits what they wrote. Command
handlers take new messages only (``bot.telegram.app.register``); the edits come here:

- ``/propose …`` edited in the council's chat edits the proposal that message made
  (``services.revise_proposal`` says who may, and when), and the bot's message
  announcing it and the topic card show the new text. A refusal is answered.
- Any other command of ours, edited, is not run again: the member is told so once
  per edited message (the claim is the message's, so neither a redelivery nor a
  second edit of it repeats the note).
- In a private chat, an edited line of a draft (or ``/propose …`` there, which adds
  to the draft) is not added again: the draft is one text, with no record of which
  message gave which part. The member is told the draft keeps the original text.
- Other edits in a group (ordinary chat) are ignored without a word.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection

from telegram import Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.i18n import t
from bot.telegram import render
from bot.telegram.cards import edit_quietly
from bot.telegram.context import (
    command_text,
    deps,
    is_private,
    keyed_uow,
    thread_of,
    uow,
    user_language,
)
from bot.telegram.handlers.common import Handler, refusals
from domain import services

log = logging.getLogger(__name__)

_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{1,64}))?(?![A-Za-z0-9_@])")


def command_of(message: Message, bot_username: str | None) -> str | None:
    """The command a message (or a photo's caption) starts with, lower case; None when
    it starts with none, or with one addressed to another bot (``/join@other_bot``)."""
    text = message.text if message.text is not None else message.caption
    match = _COMMAND.match(text or "")
    if match is None:
        return None
    name, addressee = match.groups()
    if addressee and (bot_username is None or addressee.lower() != bot_username.lower()):
        return None
    return name.lower()


def edit_key(context: ContextTypes.DEFAULT_TYPE, message: Message) -> str:
    """The claim of an edited message's note: one per message, however often it is
    edited or delivered. Under ``update:`` so it is pruned with the update claims."""
    return f"update:{context.bot.id}:edited:{message.chat_id}:{message.message_id}"


def edited_messages(commands: Collection[str]) -> Handler:
    """The handler of ``edited_message`` updates; ``commands`` are the bot's own."""
    known = frozenset(commands)

    @refusals
    async def edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.edited_message, update.effective_user
        if message is None or user is None:
            return
        command = command_of(message, context.bot.username)
        if command == "propose" and not is_private(update):
            await _revise(update, context, message, user.id)
        elif is_private(update) and (command == "propose" or (not command and message.text)):
            await _note_once(update, context, message, "edit.draft_unchanged")
        elif command in known:
            await _note_once(update, context, message, "edit.not_again")

    return edited


async def _note_once(
    update: Update, context: ContextTypes.DEFAULT_TYPE, message: Message, key: str
) -> None:
    if await services.mark_handled(uow(context), key=edit_key(context, message)):
        await message.reply_text(t(user_language(update, context), key))


async def _revise(
    update: Update, context: ContextTypes.DEFAULT_TYPE, message: Message, user_id: int
) -> None:
    revised = await services.revise_proposal(
        keyed_uow(update, context),
        chat_id=message.chat_id,
        thread_id=thread_of(message),
        source_ref=message.message_id,
        user_id=user_id,
        text=command_text(message),
    )
    if not revised.changed:
        return
    proposal, council = revised.proposal, revised.council
    if proposal.message_ref is not None:
        text, markup = render.proposal_message(
            council.language, proposal, revised.author, deps(context).signer, open_for_seconds=True
        )
        try:
            await edit_quietly(
                context.bot,
                text,
                chat_id=council.chat_id,
                message_id=proposal.message_ref,
                reply_markup=markup,
            )
        except BadRequest as error:
            if "not found" not in error.message.lower():
                raise
            log.info("proposal %s: its announcement is gone (%s)", proposal.id, error.message)
