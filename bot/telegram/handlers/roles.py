"""Roles: /grant, /revoke, /roles, and a chair's role following the group's admins."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import ChatMember, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.i18n import t
from bot.telegram import render_roles
from bot.telegram.context import is_private, keyed_uow, now, uow, user_language
from bot.telegram.handlers.common import council_here, group_only, refusals
from domain import errors, services
from domain.model import Role
from domain.numbers import looks_like_id, parse_id
from domain.services import Target

ROLE_WORDS = {
    "chair": Role.CHAIR,
    "召集人": Role.CHAIR,
    "staff": Role.STAFF,
    "社工": Role.STAFF,
    "网格员": Role.STAFF,
    "voter": Role.VOTER,
    "表决": Role.VOTER,
    "participant": Role.PARTICIPANT,
    "observer": Role.PARTICIPANT,
    "列席": Role.PARTICIPANT,
}
ADMIN_STATUSES = (ChatMember.OWNER, ChatMember.ADMINISTRATOR)
GONE_STATUSES = (ChatMember.LEFT, ChatMember.BANNED)


def target_of(update: Update, args: Sequence[str], usage: str) -> Target:
    """Whom a command names: ``#12`` (a member number), an address ("3-2-301"), or, with
    neither, the person whose message it replies to. Refused (``usage``) otherwise."""
    if args:
        word = args[0]
        if looks_like_id(word):
            return Target(member_id=parse_id(word))
        address = services.parse_address(word)
        return Target(
            household="-".join(p for p in (address.building, address.unit, address.room) if p)
        )
    message = update.effective_message
    replied = message.reply_to_message if message else None
    # In a forum every message "replies" to its topic's first message: that names nobody.
    if (
        replied is not None
        and replied.from_user is not None
        and not replied.from_user.is_bot
        and replied.forum_topic_created is None
    ):
        return Target(user_id=replied.from_user.id, name=replied.from_user.full_name)
    raise errors.InvalidInput(field=usage)


async def _council_id(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    """The council of the group the command came from; None in a private chat, where a
    member number or an address says which council."""
    if is_private(update):
        return None
    _council, council_id = await council_here(update, context)
    return council_id


@refusals
async def grant(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _change(update, context, granted=True)


@refusals
async def revoke(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _change(update, context, granted=False)


async def _change(update: Update, context: ContextTypes.DEFAULT_TYPE, *, granted: bool) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    usage = "grant_usage" if granted else "revoke_usage"
    args = context.args or []
    role = ROLE_WORDS.get(args[0].lower()) if args else None
    if role is None:
        raise errors.InvalidInput(field=usage)
    target = target_of(update, args[1:], usage)
    if len(args) > 2:  # one person a command: "#2 #3" is refused, not half done
        raise errors.InvalidInput(field=usage)
    change = await services.change_role(
        keyed_uow(update, context),
        council_id=await _council_id(update, context),
        by_user=user.id,
        role=role,
        granted=granted,
        target=target,
        now=now(context),
    )
    lang = user_language(update, context)
    key = f"role.{'granted' if change.granted else 'revoked'}.{change.role.value}"
    await message.reply_text(t(lang, key, name=change.name, council=change.council.title))


@refusals
@group_only
async def roles(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    council, council_id = await council_here(update, context)
    view = await services.roles_view(uow(context), council_id=council_id)
    names = {user_id: member.name for user_id, member in view.members.items()}
    for user_id in sorted((council.chairs | council.staff) - set(names)):
        try:  # not on the roll: their name as the group knows it
            names[user_id] = (
                await context.bot.get_chat_member(council.chat_id, user_id)
            ).user.full_name
        except TelegramError:
            continue
    lang = user_language(update, context)
    await message.reply_text(
        render_roles.roles_message(lang, view.council, names, view.participants)
    )


async def admins_changed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A chat_member update: someone stopped being an admin of the group, or left it.
    Wherever they chair a council of the group they stop, unless they are its only
    chair; the outbox tells the group either way. Telegram sends these updates only to
    a bot that is an admin of the group."""
    change = update.chat_member
    if change is None:
        return
    old, new = change.old_chat_member.status, change.new_chat_member.status
    demoted = old in ADMIN_STATUSES and new not in ADMIN_STATUSES
    if not (demoted or new in GONE_STATUSES):
        return
    person = change.new_chat_member.user
    try:
        await services.follow_admins(
            keyed_uow(update, context),
            chat_id=change.chat.id,
            user_id=person.id,
            name=person.full_name,
            now=now(context),
        )
    except errors.Redelivered:
        return
