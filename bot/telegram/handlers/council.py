"""Council set-up and the roll: /start, /help, /setup, /join, /roll, /rules."""

from __future__ import annotations

import logging

from telegram import ChatMember, Update
from telegram.error import Forbidden
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.i18n import Markup, language_of, t
from bot.telegram import render
from bot.telegram.context import (
    deps,
    is_private,
    keyed_uow,
    now,
    thread_of,
    uow,
    user_language,
)
from bot.telegram.handlers import roster
from bot.telegram.handlers.binding import bind_by_code
from bot.telegram.handlers.common import council_here, group_only, refusals
from bot.telegram.handlers.meetings import send_calendar
from bot.telegram.handlers.topics import begin_draft
from domain import errors, outbox, services
from domain.binding import looks_like_code
from domain.model import MemberStatus
from domain.services import DEFAULT_RULE
from domain.services import roster as roster_services
from storage.errors import is_unavailable

log = logging.getLogger(__name__)

ADMIN_STATUSES = (ChatMember.OWNER, ChatMember.ADMINISTRATOR)


@refusals
async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    lang = user_language(update, context)
    if is_private(update) and context.args:
        code = " ".join(context.args)
        if looks_like_code(code):  # a printed card's QR code, or its code typed
            await bind_by_code(update, context, code)
            return
        # A deep link: from a topic card's "write a proposal" (p), or for someone the bot
        # could not write to yet, from a meeting card's 📅 (m) or the roll's 🔒 (r).
        # Signed, like buttons.
        link = deps(context).signer.parse_link(context.args[0], "pmr")
        if link is None:
            raise errors.StaleLink()
        kind, target = link
        if kind == "p":
            await begin_draft(update, context, target)
        elif kind == "m":
            await send_calendar(context, user.id, target, lang)
        else:
            await send_full_roll(context, user.id, target, lang)
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
    try:
        await outbox.note_private_chat(uow(context), user_id=user.id, now=now(context))
    except Exception as error:
        if not is_unavailable(error):
            raise
        # The handler that follows meets the same outage and says so; once is enough.


async def limit_commands(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A member's commands in the group, counted: past the limit, told once, then ignored."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    limits = deps(context).limits
    verdict = limits.command(message.chat_id, user.id)
    if verdict == "ok":
        return
    if verdict == "tell":
        minutes = limits.retry_in_minutes(message.chat_id, user.id)
        text = t(
            user_language(update, context),
            "limit.group_commands",
            name=user.full_name,
            count=minutes,
        )
        await message.reply_text(text)
    raise ApplicationHandlerStop


async def chat_migrated(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Telegram upgraded the group to a supergroup, with a new chat id: move its council.

    Both chats announce it (``migrate_to_chat_id`` in the old one, ``migrate_from_chat_id``
    in the new one); the second announcement finds nothing left to move."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        old, new = message.chat_id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat_id
    else:
        return
    moved = await services.move_chat(
        uow(context), old_chat_id=old, new_chat_id=new, now=now(context)
    )
    if moved:
        log.info("chat %s became supergroup %s: %d council(s) moved", old, new, moved)


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
    text = t(
        lang, "setup.done", council=council.title, rule=Markup(render.rule_text(lang, council.rule))
    )
    assert council.id is not None
    entry = await services.member_of(uow(context), council_id=council.id, user_id=user.id)
    if entry is None or entry.status is MemberStatus.REMOVED:
        # Chairing gives no vote: a chair who is also a resident joins like anyone.
        text += "\n\n" + t(lang, "setup.chair_joins")
    await message.reply_text(text)


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
async def roll(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In the group: names and counts, and 🔒 for chairs and staff to get the rest privately."""
    message = update.effective_message
    assert message is not None
    if context.args and context.args[0].lower() in roster.EXPORT_WORDS:
        await roster.export(update, context)
        return
    if is_private(update):
        await _private_roll(update, context)
        return
    _council, council_id = await council_here(update, context)
    view = await services.roll(uow(context), council_id=council_id)
    lang = user_language(update, context)
    pages = render.roll_messages(lang, view)
    markup = render.roll_keyboard(lang, council_id, deps(context).signer)
    for n, page in enumerate(pages, 1):
        await message.reply_text(page, reply_markup=markup if n == len(pages) else None)


async def _private_roll(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/roll in a private chat: the detailed roll of the council the user keeps, or
    buttons when they keep several. Anyone else is told to ask in the group."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    try:
        councils = await roster_services.staffed_councils(uow(context), user_id=user.id)
    except errors.NotStaff:
        raise errors.InvalidInput(field="roll_private") from None
    lang = user_language(update, context)
    if len(councils) == 1:
        assert councils[0].id is not None
        await send_full_roll(context, user.id, councils[0].id, lang)
        return
    await message.reply_text(
        t(lang, "roll.pick"), reply_markup=render.roll_picker(councils, deps(context).signer)
    )


@refusals
async def roll_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """🔒 under the group's roll: the roll with addresses and areas, sent privately."""
    query = update.callback_query
    assert query is not None
    press = deps(context).signer.parse(query.data)
    if press is None or press.action != "r":
        raise errors.StaleButton()
    lang = user_language(update, context)
    try:
        await send_full_roll(context, query.from_user.id, press.target, lang)
    except Forbidden:
        # Telegram opens this link in the private chat, where /start sends the roll.
        link = deps(context).signer.link("r", press.target)
        await query.answer(t(lang, "roll.start"), url=render.deep_link(context.bot.username, link))
        return
    await query.answer(t(lang, "roll.sent"))


async def send_full_roll(
    context: ContextTypes.DEFAULT_TYPE, user_id: int, council_id: int, lang: str
) -> None:
    """The detailed roll, to a chair or staff member's private chat (``NotStaff`` else)."""
    view = await services.full_roll(uow(context), council_id=council_id, user_id=user_id)
    for page in render.roll_messages(lang, view, detailed=True):
        await context.bot.send_message(user_id, page)


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
