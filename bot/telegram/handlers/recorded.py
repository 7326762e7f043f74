"""Votes from the meeting room and the doorstep: /rollcall (raised hands, recorded in a
private roll call), /assist (代为录入 after a home visit), paper ballots (a file sent
privately with the caption /paper, checked, then confirmed), and a member's own vote
from the private notice that told them of a recorded one."""

from __future__ import annotations

import hashlib

from telegram import Update
from telegram.error import Forbidden
from telegram.ext import ContextTypes

from bot.i18n import t
from bot.telegram import render, render_recorded
from bot.telegram.buttons import Press
from bot.telegram.context import (
    command_text,
    deps,
    is_private,
    keyed_uow,
    now,
    uow,
    update_key,
    user_language,
)
from bot.telegram.handlers.common import (
    council_here,
    group_only,
    private_only,
    quiet_answer,
    refusals,
    refuse,
)
from domain import errors, services
from domain.model import VoteSource
from domain.numbers import is_digits, read_id
from domain.services import recorded
from domain.sheets import read_table

MAX_FILE = 2 * 1024 * 1024  # bytes: a paper file of a few thousand rows is far smaller


def _press(update: Update, context: ContextTypes.DEFAULT_TYPE, action: str) -> Press:
    query = update.callback_query
    assert query is not None
    press = deps(context).signer.parse(query.data)
    if press is None or press.action != action:
        raise errors.StaleButton()
    return press


def numbers(arg: str, count: int) -> list[int]:
    """``count`` numbers from button data "12.3" (a member and a page); stale if not."""
    parts = arg.split(".")
    if len(parts) != count or not all(p.isascii() and p.isdigit() and len(p) < 19 for p in parts):
        raise errors.StaleButton()
    return [int(p) for p in parts]


# --- the roll call ----------------------------------------------------------------------


@refusals
@group_only
async def rollcall(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/rollcall in the group: the roll call of the newest open ballot, sent privately."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    _council, council_id = await council_here(update, context)
    view = await recorded.roll_call(
        uow(context), user_id=user.id, council_id=council_id, now=now(context)
    )
    lang = user_language(update, context)
    text, markup = render_recorded.roll_call_message(lang, view, deps(context).signer)
    try:
        await context.bot.send_message(user.id, text, reply_markup=markup)
    except Forbidden:
        await message.reply_text(t(lang, "rollcall.start", bot=context.bot.username))
        return
    await message.reply_text(t(lang, "rollcall.sent"))


@refusals
async def rollcall_page(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    press = _press(update, context, render_recorded.PAGE)
    (page,) = numbers(press.arg, 1)
    await _show_page(update, context, press.target, page)


async def _show_page(
    update: Update, context: ContextTypes.DEFAULT_TYPE, ballot_id: int, page: int, note: str = ""
) -> None:
    query = update.callback_query
    assert query is not None
    view = await recorded.roll_call(
        uow(context), user_id=query.from_user.id, ballot_id=ballot_id, page=page, now=now(context)
    )
    text, markup = render_recorded.roll_call_message(
        user_language(update, context), view, deps(context).signer
    )
    await query.answer(note or None)  # an empty text is no text
    await query.edit_message_text(text, reply_markup=markup)


@refusals
async def rollcall_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    press = _press(update, context, render_recorded.MEMBER)
    member_id, page = numbers(press.arg, 2)
    query = update.callback_query
    assert query is not None
    view = await recorded.roll_call_member(
        uow(context),
        ballot_id=press.target,
        member_id=member_id,
        user_id=query.from_user.id,
        now=now(context),
    )
    text, markup = render_recorded.roll_call_member_message(
        user_language(update, context), view, page, deps(context).signer
    )
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


@refusals
async def record_raised_hand(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    press = _press(update, context, render_recorded.RECORD)
    member, _, rest = press.arg.partition(".")
    choice, _, page_text = rest.rpartition(".")
    member_id, page = numbers(f"{member}.{page_text}", 2)
    query = update.callback_query
    assert query is not None
    done = await recorded.record_vote(
        uow(context),
        ballot_id=press.target,
        member_id=member_id,
        choice=choice,
        user_id=query.from_user.id,
        source=VoteSource.ROOM,
        key=update_key(update, context),
        now=now(context),
    )
    await _show_page(update, context, press.target, page, _receipt(update, context, done))


def _receipt(
    update: Update, context: ContextTypes.DEFAULT_TYPE, done: recorded.RecordedVote
) -> str:
    lang = user_language(update, context)
    receipt = done.receipt
    label = render.plain(render.choice_label(lang, receipt.ballot, receipt.choice))
    key = "recorded.same" if receipt.repeated else "recorded.done"
    if receipt.member.user_id is None:  # on the roll, no account: nobody to write to
        told = t(lang, "recorded.no_account")
    else:
        told = t(lang, "recorded.told" if done.told else "recorded.not_told")
    text = t(
        lang,
        key,
        name=receipt.member.name,
        choice=label,
        source=t(lang, f"source.{done.source.value}"),
    )
    return render.plain(text + ("" if receipt.repeated else told))


# --- assisted votes ---------------------------------------------------------------------


@refusals
@private_only
async def assist(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/assist [ballot] <#member | address> <choice> <reason>, in a private chat."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    words = command_text(message).split()
    ballot_id = None
    if words and is_digits(words[0]):
        ballot_id = read_id(words[0])
        if ballot_id is None:
            raise errors.InvalidInput(field="assist_usage")
        words = words[1:]
    if len(words) < 3:
        raise errors.InvalidInput(field="assist_usage")
    who, choice, reason = words[0], words[1], " ".join(words[2:])
    target = await recorded.assist_target(
        uow(context), user_id=user.id, ballot_id=ballot_id, who=who, choice=choice, now=now(context)
    )
    done = await recorded.record_vote(
        uow(context),
        ballot_id=target.ballot_id,
        member_id=target.member_id,
        choice=target.choice,
        user_id=user.id,
        source=VoteSource.ASSISTED,
        reason=reason,
        key=update_key(update, context),
        now=now(context),
    )
    lang = user_language(update, context)
    await message.reply_text(
        t(lang, "assist.done", question=done.receipt.ballot.question, reason=reason)
        + "\n"
        + _receipt(update, context, done)
    )


# --- paper ballots ------------------------------------------------------------------------


@refusals
@private_only
async def paper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A CSV or XLSX file captioned "/paper [ballot]": checked, and a dry run to confirm.
    /paper typed without a file says how."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    document = message.document
    if document is None:
        raise errors.InvalidInput(field="paper_usage")
    words = (message.caption or "").split()[1:]
    ballot_id = None
    if words:
        ballot_id = read_id(words[0].lstrip("#＃"))
        if ballot_id is None:
            raise errors.InvalidInput(field="paper_usage")
    ballot = await recorded.paper_ballot(
        uow(context), user_id=user.id, ballot_id=ballot_id, now=now(context)
    )
    if document.file_size is not None and document.file_size > MAX_FILE:
        raise errors.InvalidInput(field="paper_size", limit=MAX_FILE // 1024 // 1024)
    file = await context.bot.get_file(document.file_id)
    data = bytes(await file.download_as_bytearray())
    if len(data) > MAX_FILE:
        raise errors.InvalidInput(field="paper_size", limit=MAX_FILE // 1024 // 1024)
    rows = read_table(data)
    assert ballot.id is not None
    check = await recorded.check_paper(
        uow(context),
        ballot_id=ballot.id,
        user_id=user.id,
        file_name=document.file_name or "paper",
        digest=hashlib.sha256(data).hexdigest(),
        rows=rows,
        now=now(context),
    )
    text, markup = render_recorded.paper_check_message(
        user_language(update, context), check, deps(context).signer
    )
    await message.reply_text(text, reply_markup=markup)


@refusals
async def paper_confirm(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    press = _press(update, context, render_recorded.PAPER_CONFIRM)
    query = update.callback_query
    assert query is not None
    applied = await recorded.confirm_paper(
        keyed_uow(update, context),
        upload_id=press.target,
        user_id=query.from_user.id,
        now=now(context),
    )
    lang = user_language(update, context)
    await query.answer(t(lang, "paper.applied_short", count=applied.recorded))
    await query.edit_message_text(render_recorded.paper_applied_message(lang, applied))


@refusals
async def paper_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    press = _press(update, context, render_recorded.PAPER_CANCEL)
    query = update.callback_query
    assert query is not None
    await recorded.cancel_paper(
        keyed_uow(update, context),
        upload_id=press.target,
        user_id=query.from_user.id,
        now=now(context),
    )
    lang = user_language(update, context)
    await query.answer(t(lang, "paper.cancelled"))
    await query.edit_message_text(t(lang, "paper.cancelled"))


# --- the member's own vote, from the private notice ---------------------------------


@refusals
async def own_vote(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A vote button under the notice of a recorded vote: the member's own vote, as
    on the ballot message (through the ballot box), from their private chat."""
    press = _press(update, context, render_recorded.OWN_VOTE)
    query = update.callback_query
    assert query is not None
    if not is_private(update):
        raise errors.StaleButton()
    result = await deps(context).ballot_box.cast(
        services.VoteRequest(
            key=update_key(update, context),
            ballot_id=press.target,
            user_id=query.from_user.id,
            choice=press.arg,
        )
    )
    if isinstance(result, errors.Redelivered):
        await quiet_answer(update)
        return
    if isinstance(result, errors.DomainError):
        await refuse(update, context, result)
        return
    lang = user_language(update, context)
    label = render.plain(render.choice_label(lang, result.ballot, result.choice))
    if result.repeated:
        answer = t(lang, "vote.same", choice=label)
    elif result.changed:
        previous = render.plain(render.choice_label(lang, result.ballot, result.previous or ""))
        answer = t(lang, "vote.changed", choice=label, previous=previous)
    else:
        answer = t(lang, "vote.recorded", choice=label)
    await query.answer(render.plain(answer))
