"""Topics and proposals: /topic, /propose, drafts in a private chat, seconding."""

from __future__ import annotations

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.i18n import t
from bot.telegram import render
from bot.telegram.context import (
    command_text,
    deps,
    is_private,
    keyed_uow,
    now,
    uow,
    user_language,
)
from bot.telegram.handlers.common import council_here, group_only, private_only, refusals
from bot.telegram.mini_app import MiniApp
from domain import errors, services
from domain.model import Phase


@refusals
@group_only
async def topic(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    title, _, description = command_text(message).partition("\n")
    if not title.strip():
        raise errors.InvalidInput(field="topic_usage")
    council, council_id = await council_here(update, context)
    opened = await services.open_topic(
        keyed_uow(update, context),
        council_id=council_id,
        user_id=user.id,
        title=title,
        description=description,
        deadline=None,
        now=now(context),
    )
    assert opened.id is not None
    view = await services.topic_view(uow(context), topic_id=opened.id)
    app = MiniApp.of(deps(context).settings, context.bot.username)
    text, markup = render.topic_card(
        council.language, view, context.bot.username, deps(context).signer, app=app
    )
    card = await message.reply_text(text, reply_markup=markup)
    await services.set_card(uow(context), topic_id=opened.id, card_ref=card.message_id)


@refusals
async def propose(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    text = command_text(message)
    if is_private(update):
        # In a private chat, /propose continues the draft started from a topic card.
        if text:
            await _add_draft_text(update, context, text)
        else:
            await message.reply_text(t(user_language(update, context), "draft.how_to_start"))
        return
    if not text:
        raise errors.InvalidInput(field="propose_usage")
    _council, council_id = await council_here(update, context)
    submitted = await services.submit_proposal(
        keyed_uow(update, context),
        council_id=council_id,
        topic_id=None,
        user_id=user.id,
        text=text,
        now=now(context),
        per_hour=deps(context).limits.proposals_per_hour,
        source_ref=message.message_id,  # editing this message edits the proposal
    )
    await _announce(context, submitted, reply_to=message.message_id)


async def _announce(
    context: ContextTypes.DEFAULT_TYPE, submitted: services.Submitted, reply_to: int | None
) -> None:
    council = submitted.council
    text, markup = render.proposal_message(
        council.language,
        submitted.proposal,
        submitted.author,
        deps(context).signer,
        open_for_seconds=True,
    )
    announced = await context.bot.send_message(
        council.chat_id,
        text,
        reply_markup=markup,
        message_thread_id=council.thread_id or None,
        reply_to_message_id=reply_to,
    )
    assert submitted.topic.id is not None and submitted.proposal.id is not None
    await services.set_proposal_message(
        uow(context), proposal_id=submitted.proposal.id, message_ref=announced.message_id
    )


async def begin_draft(update: Update, context: ContextTypes.DEFAULT_TYPE, topic_id: int) -> None:
    """/start p<topic id> from a topic card: open a private draft for that topic."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    topic_ = await services.start_draft(
        keyed_uow(update, context), topic_id=topic_id, user_id=user.id, now=now(context)
    )
    await message.reply_text(t(user_language(update, context), "draft.started", title=topic_.title))


async def _add_draft_text(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    lang = user_language(update, context)
    draft = await services.add_to_draft(
        keyed_uow(update, context), user_id=user.id, text=text, now=now(context)
    )
    if draft is None:
        await message.reply_text(t(lang, "draft.how_to_start"))
    else:
        await message.reply_text(t(lang, "draft.saved", count=len(draft.text)))


@refusals
@private_only
async def draft_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.text is not None
    await _add_draft_text(update, context, message.text)


@refusals
@private_only
async def done(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    submitted = await services.submit_draft(
        keyed_uow(update, context),
        user_id=user.id,
        now=now(context),
        per_hour=deps(context).limits.proposals_per_hour,
    )
    await message.reply_text(
        t(user_language(update, context), "draft.submitted", id=submitted.proposal.id)
    )
    await _announce(context, submitted, reply_to=None)


@refusals
async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a private chat: discard the draft. In the group: the chair cancels the topic."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    lang = user_language(update, context)
    if is_private(update):
        had = await services.discard_draft(keyed_uow(update, context), user_id=user.id)
        await message.reply_text(t(lang, "draft.discarded" if had else "draft.none"))
        return
    council, council_id = await council_here(update, context)
    cancelled = await services.cancel_topic(
        keyed_uow(update, context),
        council_id=council_id,
        topic_id=None,
        user_id=user.id,
        now=now(context),
    )
    assert cancelled.id is not None
    await message.reply_text(t(council.language, "topic.cancelled", title=cancelled.title))


@refusals
async def second(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    press = deps(context).signer.parse(query.data)
    if press is None or press.action != "s":
        raise errors.StaleButton()
    lang = user_language(update, context)
    seconded = await services.second_proposal(
        keyed_uow(update, context),
        proposal_id=press.target,
        user_id=query.from_user.id,
        now=now(context),
    )
    await query.answer(t(lang, "second.done" if seconded.added else "second.already"))
    if not seconded.added:
        return
    text, markup = render.proposal_message(
        seconded.council.language,
        seconded.proposal,
        seconded.author,
        deps(context).signer,
        open_for_seconds=seconded.topic.phase is Phase.COLLECTING,
    )
    if query.message is not None:
        try:
            await query.edit_message_text(text, reply_markup=markup)
        except BadRequest as error:
            if "not modified" not in error.message.lower():
                raise
