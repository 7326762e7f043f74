"""The roll file in a private chat: a chair or staff member sends an XLSX or CSV, gets the
dry-run diff with confirm and cancel buttons; ``/roll export`` sends the roll back.

Which council: the one whose roll the sender keeps; with several, buttons ask. The file
stays in the chat: the picker replies to it, and a press reads it from there.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import PurePath

from telegram import Document, InputFile, Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.i18n import language_of, refusal_text, t
from bot.telegram import render_roster
from bot.telegram.context import (
    deps,
    is_private,
    keyed_uow,
    now,
    uow,
    update_key,
    user_language,
)
from bot.telegram.handlers.common import refusals
from bot.telegram.render import plain
from domain import errors, services
from domain.numbers import read_id
from domain.services import roster

MAX_FILE = 10 * 1024 * 1024  # bytes; a roll of 20,000 households is about 1 MB as XLSX
TYPES = (".xlsx", ".csv", ".txt", ".tsv")
EXPORT_WORDS = ("export", "导出")
PAUSE = 0.05  # seconds between two chunks written: the scheduler's heartbeat gets in


@refusals
async def document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A file sent privately: a roll to check, for whoever keeps one."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None and message.document is not None
    lang = user_language(update, context)
    councils = await roster.staffed_councils(uow(context), user_id=user.id)
    _require_readable(message.document)
    if len(councils) == 1:
        assert councils[0].id is not None
        await _check(update, context, message, councils[0].id, lang)
        return
    text, markup = render_roster.council_picker(
        lang, councils, render_roster.PICK_IMPORT, deps(context).signer
    )
    # Quoting the file (not done by default in a private chat): a press reads it there.
    await message.reply_text(text, reply_markup=markup, do_quote=True)


def _require_readable(document: Document) -> None:
    suffix = PurePath(document.file_name or "").suffix.lower()
    if suffix == ".xls":
        raise errors.InvalidInput(field="sheet_xls")
    if document.file_name and suffix not in TYPES:
        raise errors.InvalidInput(field="roster_type", name=document.file_name[:40])
    if (document.file_size or 0) > MAX_FILE:
        raise errors.InvalidInput(field="roster_size", limit=MAX_FILE // (1024 * 1024))


async def _check(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    file_message: Message,
    council_id: int,
    lang: str,
) -> None:
    """Check the file of ``file_message`` against the council's roll; the diff replies."""
    found = file_message.document
    assert found is not None and update.effective_user is not None
    file = await context.bot.get_file(found.file_id)
    data = bytes(await file.download_as_bytearray())
    # Reading a workbook is CPU work: on a thread, so other members' presses go on.
    roll = await asyncio.to_thread(roster.read_file, data)
    name = found.file_name or "roll"
    checked = await roster.check_roster(
        keyed_uow(update, context),
        council_id=council_id,
        user_id=update.effective_user.id,
        file_name=name,
        data=data,
        roll=roll,
        now=now(context),
    )
    signer = deps(context).signer
    for text, markup in render_roster.diff_messages(lang, checked, name, signer):
        await file_message.reply_text(text, reply_markup=markup, do_quote=True)


@refusals
async def pick_for_import(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The council chosen for the file the picker replies to."""
    query = update.callback_query
    assert query is not None
    press = deps(context).signer.parse(query.data)
    if press is None or press.action != render_roster.PICK_IMPORT:
        raise errors.StaleButton()
    picker = query.message
    asked = picker.reply_to_message if isinstance(picker, Message) else None
    if asked is None or asked.document is None:
        raise errors.InvalidInput(field="roster_resend")
    lang = user_language(update, context)
    await query.answer()
    with contextlib.suppress(BadRequest):  # pressed twice: already without buttons
        await query.edit_message_reply_markup(None)
    await _check(update, context, asked, press.target, lang)


@refusals
async def decide(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """✅ writes the checked import, ✖ drops it."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    press = deps(context).signer.parse(query.data)
    if press is None or press.action != render_roster.DECIDE or press.arg not in ("y", "n"):
        raise errors.StaleButton()
    lang = user_language(update, context)
    if press.arg == "n":
        await roster.cancel_roster(
            uow(context), import_id=press.target, user_id=user.id, now=now(context)
        )
        await query.answer(plain(t(lang, "roster.cancelled")))
        await _close(query.message, t(lang, "roster.cancelled"))
        return
    # Answered at once: thousands of rows take seconds, and the button must not spin.
    await query.answer(plain(t(lang, "roster.applying")))
    try:
        applied = await roster.apply_roster(
            deps(context).database.uow,
            import_id=press.target,
            user_id=user.id,
            now=now(context),
            between=lambda: asyncio.sleep(PAUSE),
        )
    except errors.DomainError as error:
        if await services.mark_handled(uow(context), key=update_key(update, context)):
            await context.bot.send_message(user.id, refusal_text(lang, error))
        return
    # The update counts as handled once its import is written: a delivery of it again
    # (after a crash mid-way, the inbox hands it over at start-up) finishes the writing.
    if await services.mark_handled(uow(context), key=update_key(update, context)):
        await _close(query.message, t(lang, "roster.confirmed"))
        await context.bot.send_message(user.id, render_roster.applied_text(lang, applied))


async def _close(message: object, note: str) -> None:
    """The diff, its buttons gone, with what became of it below (once)."""
    if not isinstance(message, Message) or message.text_html is None:
        return
    if message.reply_markup is None:  # closed by an earlier press
        return
    with contextlib.suppress(BadRequest):  # already closed by an earlier press
        await message.edit_text(f"{message.text_html}\n\n{note}", reply_markup=None)


@refusals
async def export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/roll export [#council]``: the roll as XLSX, to edit and send back."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    if not is_private(update):  # addresses and phones never go to a group
        raise errors.InvalidInput(field="roster_private")
    lang = user_language(update, context)
    councils = await roster.staffed_councils(uow(context), user_id=user.id)
    wanted = [a for a in (context.args or [])[1:] if a.startswith(("#", "＃"))]
    if wanted:
        council_id = read_id(wanted[0][1:])
        if council_id is None or all(c.id != council_id for c in councils):
            raise errors.NotStaff()
    elif len(councils) == 1:
        council_id = councils[0].id
    else:
        text, markup = render_roster.council_picker(
            lang, councils, render_roster.PICK_EXPORT, deps(context).signer
        )
        await message.reply_text(text, reply_markup=markup)
        return
    assert council_id is not None
    await send_export(context, user.id, council_id, lang)


@refusals
async def pick_for_export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    press = deps(context).signer.parse(query.data)
    if press is None or press.action != render_roster.PICK_EXPORT:
        raise errors.StaleButton()
    await send_export(context, query.from_user.id, press.target, user_language(update, context))
    await query.answer()
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(None)


async def send_export(
    context: ContextTypes.DEFAULT_TYPE, user_id: int, council_id: int, lang: str
) -> None:
    exported = await roster.export_roster(
        uow(context), council_id=council_id, user_id=user_id, english=lang != language_of("zh")
    )
    data = await asyncio.to_thread(exported.xlsx)
    council = exported.council
    await context.bot.send_document(
        user_id,
        InputFile(data, filename=f"roll-{council.id}.xlsx"),
        caption=t(lang, "roster.exported", council=council.title, count=exported.members),
    )
