"""Council set-up and the roll: /start, /help, /setup, /join, /roll, /rules."""

from __future__ import annotations

from telegram import ChatMember, Update
from telegram.ext import ContextTypes

from bot import render
from bot.context import (
    deps,
    is_private,
    keyed_uow,
    now,
    thread_of,
    uow,
    user_language,
)
from bot.handlers.common import council_here, group_only, refusals
from bot.handlers.meetings import send_calendar
from bot.handlers.topics import begin_draft
from bot.i18n import Markup, language_of, t
from domain import errors, outbox, services
from domain.model import MemberStatus
from domain.services import DEFAULT_RULE

ADMIN_STATUSES = (ChatMember.OWNER, ChatMember.ADMINISTRATOR)


@refusals
async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    if is_private(update) and context.args and context.args[0].startswith("p"):
        await begin_draft(update, context, context.args[0][1:])
        return
    lang = user_language(update, context)
    if is_private(update) and context.args and context.args[0].startswith("m"):
        # From a meeting card's 📅 button, for someone the bot could not write to yet.
        meeting_id = context.args[0][1:]
        if not meeting_id.isdigit():
            raise errors.StaleButton()
        await send_calendar(context, message.chat_id, int(meeting_id), lang)
        return
    await message.reply_text(t(lang, "start") + "\n\n" + t(lang, "help"))


async def note_contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Someone wrote to the bot privately: from now on it may write to them (nudges).

    Runs before every handler. Private updates are few (drafts, /start), and one
    after a block must count again, so each is written rather than cached.
    """
    user = update.effective_user
    if user is None or not is_private(update):
        return
    await outbox.note_private_chat(uow(context), user_id=user.id, now=now(context))


@refusals
async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(t(user_language(update, context), "help"))


@refusals
@group_only
async def setup(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    assert message is not None and user is not None and chat is not None
    member = await context.bot.get_chat_member(chat.id, user.id)
    settings = deps(context).settings
    lang = user_language(update, context)
    council = await services.set_up_council(
        keyed_uow(update, context),
        chat_id=chat.id,
        thread_id=thread_of(message),
        title=chat.title or str(chat.id),
        user_id=user.id,
        is_group_admin=member.status in ADMIN_STATUSES,
        rule_name=(context.args[0] if context.args else DEFAULT_RULE),
        timezone=settings.timezone,
        language=language_of(settings.language),
        now=now(context),
    )
    await message.reply_text(
        t(
            lang,
            "setup.done",
            council=council.title,
            rule=Markup(render.rule_text(lang, council.rule)),
        )
    )


@refusals
@group_only
async def join(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    lang = user_language(update, context)
    if not context.args:
        raise errors.InvalidInput(field="join_usage")
    address = services.parse_address(context.args[0])
    area = services.parse_area(context.args[1]) if len(context.args) > 1 else None
    council, council_id = await council_here(update, context)
    member = await services.join(
        keyed_uow(update, context),
        council_id=council_id,
        user_id=user.id,
        name=user.full_name,
        address=address,
        area=area,
        language=language_of(user.language_code, council.language),
        now=now(context),
    )
    key = "join.pending" if member.status is MemberStatus.PENDING else "join.done"
    await message.reply_text(
        t(lang, key, name=member.name, household=member.household, council=council.title)
    )


@refusals
@group_only
async def roll(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    _council, council_id = await council_here(update, context)
    view = await services.roll(uow(context), council_id=council_id)
    for page in render.roll_messages(user_language(update, context), view):
        await message.reply_text(page)


@refusals
async def rules(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    lang = user_language(update, context)
    default = services.rule_named(DEFAULT_RULE)
    if not is_private(update):
        try:
            council = await services.find_council(
                uow(context), chat_id=message.chat_id, thread_id=thread_of(message)
            )
            default = council.rule
        except errors.CouncilNotSetUp:
            pass
    await message.reply_text(render.rules_message(lang, default))
