"""Keeping the roll: joins to approve (buttons, /pending), /verify, /remove, /settings."""

from __future__ import annotations

import contextlib
from decimal import Decimal

from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.i18n import t
from bot.telegram import render_roles
from bot.telegram.context import deps, is_private, keyed_uow, now, uow, user_language
from bot.telegram.handlers.common import council_here, group_only, private_only, refusals
from bot.telegram.handlers.roles import target_of
from bot.telegram.render import plain
from domain import errors, services

MAX_ENTRIES = 20  # entries /pending sends, each a message with its buttons
ON_WORDS = {
    "on": True,
    "开": True,
    "开启": True,
    "是": True,
    "off": False,
    "关": False,
    "关闭": False,
    "否": False,
}
SETTING_WORDS = {
    "approval": "require_approval",
    "审核": "require_approval",
    "入册审核": "require_approval",
    "selfjoin": "self_join",
    "self_join": "self_join",
    "自助加入": "self_join",
    "自助入册": "self_join",
}


@refusals
@private_only
async def pending(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The joins waiting for approval and the flats waiting for verification, in every
    council the user chairs or staffs: one message each, with its buttons."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    lang = user_language(update, context)
    signer = deps(context).signer
    sent = 0
    for waiting in await services.waiting(uow(context), user_id=user.id):
        head = t(
            lang,
            "pending.head",
            council=waiting.council.title,
            joins=t(lang, "pending.joins", count=len(waiting.joins)),
            flats=t(lang, "pending.flats", count=len(waiting.flats)),
        )
        await message.reply_text(head)
        for member in [*waiting.joins, *waiting.flats]:
            if sent == MAX_ENTRIES:
                break
            sent += 1
            await message.reply_text(
                render_roles.entry_text(lang, waiting.council, member),
                reply_markup=render_roles.entry_keyboard(lang, member, signer),
            )
        left = len(waiting.joins) + len(waiting.flats)
        if sent == MAX_ENTRIES and left > 0:
            await message.reply_text(t(lang, "pending.more", count=MAX_ENTRIES))
            return


@refusals
async def entry_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """✅ approve, ❌ reject, 📐 verify under a roll entry (a private message)."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    press = deps(context).signer.parse(query.data)
    arg = press.arg if press is not None and press.action == "j" else ""
    if press is None or arg not in (render_roles.APPROVE, render_roles.REJECT, render_roles.VERIFY):
        raise errors.StaleButton()
    lang = user_language(update, context)
    try:
        if arg == render_roles.VERIFY:
            await services.verify_flat(
                keyed_uow(update, context), council_id=None, user_id=user.id, member_id=press.target
            )
            answer = t(lang, "verify.pressed")
        else:
            approve = arg == render_roles.APPROVE
            await services.decide_join(
                keyed_uow(update, context),
                member_id=press.target,
                by_user=user.id,
                approve=approve,
                now=now(context),
            )
            answer = t(lang, "join.approved_pressed" if approve else "join.rejected_pressed")
    except errors.NotPending:
        # Another chair decided first: the message shows what became of the join.
        await _show_entry(update, context, press.target, lang, only_if_stale=True)
        raise
    await query.answer(plain(answer))
    await _show_entry(update, context, press.target, lang)


async def _show_entry(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    member_id: int,
    lang: str,
    *,
    only_if_stale: bool = False,
) -> None:
    """The pressed message, edited to show the entry as it now stands; ``only_if_stale``:
    unless its buttons are already the ones the entry has (it shows the decision)."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    shown = await services.entry(uow(context), member_id=member_id, user_id=user.id)
    markup = render_roles.entry_keyboard(lang, shown.member, deps(context).signer)
    if (
        only_if_stale
        and query.message is not None
        and _labels(markup) == _labels(getattr(query.message, "reply_markup", None))
    ):
        return
    with contextlib.suppress(BadRequest):  # unchanged: nothing to edit
        await query.edit_message_text(
            render_roles.entry_text(lang, shown.council, shown.member), reply_markup=markup
        )


def _labels(markup: InlineKeyboardMarkup | None) -> list[list[str]]:
    return [[b.text for b in row] for row in markup.inline_keyboard] if markup else []


@refusals
@private_only
async def verify(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/verify #12 [3-2-301] [85.5]`` or ``/verify 3-2-301 [85.5]``: staff confirm a
    flat (and its registered area) privately, where the area may be read."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    args = context.args or []
    if not args:
        raise errors.InvalidInput(field="verify_usage")
    target = target_of(update, args[:1], "verify_usage")
    household: str | None = None
    area: Decimal | None = None
    for word in args[1:]:
        if household is None and area is None and not _is_area(word):
            parts = services.parse_address(word)
            household = "-".join(p for p in (parts.building, parts.unit, parts.room) if p)
        elif area is None:
            area = services.parse_area(word)
        else:
            raise errors.InvalidInput(field="verify_usage")
    member = await services.verify_named(
        keyed_uow(update, context),
        council_id=None,
        user_id=user.id,
        target=target,
        household=household,
        area=area,
    )
    lang = user_language(update, context)
    council = await services.council_by_id(uow(context), council_id=member.council_id)
    await message.reply_text(
        t(lang, "verify.done", name=member.name)
        + "\n\n"
        + render_roles.entry_text(lang, council, member)
    )


def _is_area(word: str) -> bool:
    try:
        services.parse_area(word)
    except errors.DomainError:
        return False
    return True


@refusals
async def remove(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/remove`` replying to a member, ``/remove #12`` or ``/remove 3-2-301``."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    target = target_of(update, context.args or [], "remove_usage")
    council_id = None
    if not is_private(update):
        _council, council_id = await council_here(update, context)
    removed = await services.remove_member(
        keyed_uow(update, context),
        council_id=council_id,
        by_user=user.id,
        target=target,
        now=now(context),
    )
    lang = user_language(update, context)
    await message.reply_text(
        t(lang, "remove.done", name=removed.member.name, council=removed.council.title)
    )


@refusals
@group_only
async def settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/settings`` shows how residents join; ``/settings approval on`` or
    ``/settings selfjoin off`` (chairs) changes it."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    args = [a.lower() for a in context.args or []]
    changes: dict[str, bool] = {}
    if args:
        if len(args) != 2 or args[0] not in SETTING_WORDS or args[1] not in ON_WORDS:
            raise errors.InvalidInput(field="settings_usage")
        changes[SETTING_WORDS[args[0]]] = ON_WORDS[args[1]]
    _council, council_id = await council_here(update, context)
    council = await services.set_joining(
        keyed_uow(update, context) if changes else uow(context),
        council_id=council_id,
        by_user=user.id,
        require_approval=changes.get("require_approval"),
        self_join=changes.get("self_join"),
    )
    await message.reply_text(render_roles.settings_message(user_language(update, context), council))
