"""签到: /signin posts a meeting's sign-in card; members check in with its button, a
chair marks those without a phone from a private list, and closes it."""

from __future__ import annotations

from telegram import Bot, Update
from telegram.error import Forbidden
from telegram.ext import ContextTypes

from bot.i18n import t
from bot.telegram import render_recorded
from bot.telegram.buttons import Signer
from bot.telegram.cards import edit_quietly
from bot.telegram.context import (
    command_text,
    deps,
    is_private,
    keyed_uow,
    now,
    uow,
    user_language,
)
from bot.telegram.handlers.common import council_here, group_only, refusals
from bot.telegram.handlers.recorded import numbers
from domain import errors
from domain.numbers import parse_id
from domain.ports import UnitOfWorkFactory
from domain.services import sign_in


@refusals
@group_only
async def signin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/signin [meeting]: open the sign-in of the meeting nearest now (or the one named)."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    words = command_text(message).split()
    if len(words) > 1:
        raise errors.InvalidInput(field="signin_usage")
    meeting_id = parse_id(words[0]) if words else None
    council, council_id = await council_here(update, context)
    view = await sign_in.open_sign_in(
        keyed_uow(update, context),
        council_id=council_id,
        user_id=user.id,
        meeting_id=meeting_id,
        now=now(context),
    )
    text, markup = render_recorded.sign_in_card(council.language, view, deps(context).signer)
    card = await message.reply_text(text, reply_markup=markup)
    assert view.meeting.id is not None
    await sign_in.set_sign_in_message(
        uow(context), meeting_id=view.meeting.id, message_ref=card.message_id
    )


def _press_target(
    update: Update, context: ContextTypes.DEFAULT_TYPE, action: str
) -> tuple[int, str]:
    query = update.callback_query
    assert query is not None
    press = deps(context).signer.parse(query.data)
    if press is None or press.action != action:
        raise errors.StaleButton()
    return press.target, press.arg


@refusals
async def check_in(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    meeting_id, _ = _press_target(update, context, render_recorded.CHECK_IN)
    query = update.callback_query
    assert query is not None
    member, new = await sign_in.check_in(
        keyed_uow(update, context),
        meeting_id=meeting_id,
        user_id=query.from_user.id,
        now=now(context),
    )
    lang = user_language(update, context)
    await query.answer(t(lang, "signin.done" if new else "signin.again", name=member.name))


@refusals
async def attendance(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """📋 on the card: the roll to mark, sent privately; in private, another page."""
    meeting_id, arg = _press_target(update, context, render_recorded.ATTENDANCE)
    (page,) = numbers(arg, 1)
    query = update.callback_query
    assert query is not None
    await _attendance_page(update, context, meeting_id, page)


async def _attendance_page(
    update: Update, context: ContextTypes.DEFAULT_TYPE, meeting_id: int, page: int, note: str = ""
) -> None:
    query = update.callback_query
    assert query is not None
    lang = user_language(update, context)
    view = await sign_in.attendance_page(
        uow(context), meeting_id=meeting_id, user_id=query.from_user.id, page=page
    )
    text, markup = render_recorded.attendance_message(lang, view, deps(context).signer)
    if is_private(update):
        await query.answer(note or None)
        await query.edit_message_text(text, reply_markup=markup)
        return
    try:
        await context.bot.send_message(query.from_user.id, text, reply_markup=markup)
    except Forbidden:
        await query.answer(t(lang, "attendance.start", bot=context.bot.username), show_alert=True)
        return
    await query.answer(t(lang, "attendance.sent"))


@refusals
async def toggle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    meeting_id, arg = _press_target(update, context, render_recorded.TOGGLE)
    member_id, page = numbers(arg, 2)
    query = update.callback_query
    assert query is not None
    member, present = await sign_in.toggle_present(
        keyed_uow(update, context),
        meeting_id=meeting_id,
        member_id=member_id,
        user_id=query.from_user.id,
        now=now(context),
    )
    lang = user_language(update, context)
    note = t(lang, "attendance.marked" if present else "attendance.unmarked", name=member.name)
    await _attendance_page(update, context, meeting_id, page, note)


@refusals
async def close(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    meeting_id, _ = _press_target(update, context, render_recorded.CLOSE)
    query = update.callback_query
    assert query is not None
    view = await sign_in.close_sign_in(
        keyed_uow(update, context),
        meeting_id=meeting_id,
        user_id=query.from_user.id,
        now=now(context),
    )
    lang = user_language(update, context)
    await query.answer(t(lang, "signin.closed_answer", count=len(view.present)))


async def refresh_card(bot: Bot, uow: UnitOfWorkFactory, signer: Signer, meeting_id: int) -> None:
    """Redraw a sign-in card after someone checked in or it closed (``SignInChanged``)."""
    view = await sign_in.sign_in_view(uow(), meeting_id=meeting_id)
    if view.sign_in.message_ref is None:
        return
    text, markup = render_recorded.sign_in_card(view.council.language, view, signer)
    await edit_quietly(
        bot,
        text,
        chat_id=view.council.chat_id,
        message_id=view.sign_in.message_ref,
        reply_markup=markup,
    )
