"""Meetings, the agenda, deadlines and reminders: /meeting, /agenda, /deadline, /reminders."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from telegram import InputFile, Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import ContextTypes

from bot.i18n import Markup, t
from bot.telegram import render
from bot.telegram.context import command_text, deps, keyed_uow, now, uow, user_language
from bot.telegram.handlers.common import council_here, group_only, refusals
from domain import errors, meetings
from domain.numbers import looks_like_id, parse_id, read_id
from domain.when import find_when, parse_deadline, parse_duration, parse_when

MOVE_WORDS = ("move", "改期", "改时间")
CANCEL_WORDS = ("cancel", "取消")
ONLINE_WORDS = ("online", "线上", "网上", "视频会议", "腾讯会议")
OFF_WORDS = ("off", "关", "关闭", "不提醒", "none")
BALLOT_WORDS = ("ballot", "vote", "表决", "投票")


def split_target(words: Sequence[str]) -> tuple[int | None, str]:
    """ "3 12-01 19:30" -> (3, "12-01 19:30"); "#3" -> (3, ""); "12-01 19:30" -> (None, …).

    A first word meant as a meeting number ("#3", or digits alone or before a time) is
    read by ``domain.numbers``: "#²" or "#99999999999999999999" is refused, not passed on."""
    if not words:
        return None, ""
    first = words[0]
    if looks_like_id(first) and (
        first.startswith(("#", "＃")) or len(words) == 1 or len(first) <= 4
    ):
        return parse_id(first), " ".join(words[1:])
    return None, " ".join(words)


@refusals
@group_only
async def meeting(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    first, _, rest = command_text(message).partition("\n")
    words = first.split()
    if not words:
        raise errors.InvalidInput(field="meeting_usage")
    council, council_id = await council_here(update, context)
    action = words[0].lower()
    if action in MOVE_WORDS:
        meeting_id, when = split_target(words[1:])
        if not when:
            raise errors.InvalidInput(field="meeting_usage")
        starts_at = parse_when(when, now=now(context), timezone=council.timezone)
        before = await meetings.find_meeting(
            uow(context), council_id=council_id, meeting_id=meeting_id, now=now(context)
        )
        moved = await meetings.move_meeting(
            keyed_uow(update, context),
            council_id=council_id,
            meeting_id=before.id,
            user_id=user.id,
            starts_at=starts_at,
            now=now(context),
        )
        lang = council.language
        await message.reply_text(
            t(
                lang,
                "meeting.moved",
                id=moved.id,
                old=render.moment(lang, before.starts_at, council.timezone),
                new=render.moment(lang, moved.starts_at, council.timezone),
            )
        )
        return
    if action in CANCEL_WORDS:
        meeting_id, _ = split_target(words[1:])
        cancelled = await meetings.cancel_meeting(
            keyed_uow(update, context),
            council_id=council_id,
            meeting_id=meeting_id,
            user_id=user.id,
            now=now(context),
        )
        lang = council.language
        when = render.moment(lang, cancelled.starts_at, council.timezone)
        await message.reply_text(t(lang, "meeting.cancelled", id=cancelled.id, when=when))
        return
    found = find_when(first, now=now(context), timezone=council.timezone)
    if found is None:
        raise errors.InvalidInput(field="when", value=first[:40])
    place = found.text[found.end :].strip()
    online = place.lower() in ONLINE_WORDS
    scheduled = await meetings.schedule_meeting(
        keyed_uow(update, context),
        council_id=council_id,
        user_id=user.id,
        starts_at=found.at,
        place="" if online else place,
        online=online,
        items=rest.splitlines(),
        now=now(context),
    )
    assert scheduled.id is not None
    view = await meetings.meeting_view(uow(context), meeting_id=scheduled.id)
    text, markup = render.meeting_card(council.language, view, deps(context).signer)
    card = await message.reply_text(text, reply_markup=markup)
    await meetings.set_meeting_message(
        uow(context), meeting_id=scheduled.id, message_ref=card.message_id
    )
    # Pinned when the bot may pin; a group that does not let it still has the card.
    with contextlib.suppress(BadRequest, Forbidden):
        await card.pin(disable_notification=True)


@refusals
async def toggle_agenda(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    press = deps(context).signer.parse(query.data)
    topic_id = read_id(press.arg) if press is not None else None
    if press is None or press.action != "a" or topic_id is None:
        raise errors.StaleButton()
    _meeting, on = await meetings.toggle_agenda_topic(
        keyed_uow(update, context),
        meeting_id=press.target,
        topic_id=topic_id,
        user_id=query.from_user.id,
    )
    await query.answer(t(user_language(update, context), "agenda.on" if on else "agenda.off"))


@refusals
async def calendar(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The 📅 button: the meeting's .ics file, sent privately."""
    query = update.callback_query
    assert query is not None
    press = deps(context).signer.parse(query.data)
    if press is None or press.action != "i":
        raise errors.StaleButton()
    lang = user_language(update, context)
    try:
        await send_calendar(context, query.from_user.id, press.target, lang)
    except Forbidden:
        # Telegram opens this link in the private chat, where /start sends the file.
        link = deps(context).signer.link("m", press.target)
        await query.answer(t(lang, "ics.start"), url=render.deep_link(context.bot.username, link))
        return
    await query.answer(t(lang, "ics.sent"))


async def send_calendar(
    context: ContextTypes.DEFAULT_TYPE, user_id: int, meeting_id: int, lang: str
) -> None:
    from bot.reports.ics import meeting_ics  # icalendar: loaded when a member asks for a file

    view = await meetings.calendar_view(uow(context), meeting_id=meeting_id, user_id=user_id)
    data = meeting_ics(lang, view, now=now(context), domain=context.bot.username or "yishi")
    when = render.moment(lang, view.meeting.starts_at, view.council.timezone)
    await context.bot.send_document(
        user_id,
        InputFile(data, filename=f"meeting-{meeting_id}.ics"),
        caption=t(lang, "ics.caption", id=meeting_id, when=when),
    )


@refusals
@group_only
async def agenda(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    _council, council_id = await council_here(update, context)
    view = await meetings.agenda(uow(context), council_id=council_id, now=now(context))
    await message.reply_text(render.agenda_message(user_language(update, context), view))


@refusals
@group_only
async def deadline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    text = command_text(message)
    if not text:
        raise errors.InvalidInput(field="deadline_usage")
    council, council_id = await council_here(update, context)
    when = (
        None
        if text.lower() in OFF_WORDS
        else parse_deadline(text, now=now(context), timezone=council.timezone)
    )
    result = await meetings.set_deadline(
        keyed_uow(update, context),
        council_id=council_id,
        user_id=user.id,
        deadline=when,
        now=now(context),
    )
    lang = council.language
    if when is None:
        await message.reply_text(t(lang, "deadline.cleared"))
        return
    shown = render.moment(lang, when, council.timezone)
    if result.ballot is None:
        await message.reply_text(
            t(lang, "deadline.collecting", title=result.topic.title, when=shown)
        )
        return
    nudge = (
        t(lang, "deadline.nudge", before=render.duration(lang, council.ballot_nudge))
        if council.ballot_nudge
        else ""
    )
    await message.reply_text(
        t(lang, "deadline.ballot", question=result.ballot.question, when=shown, nudge=Markup(nudge))
    )


def parse_offsets(words: Sequence[str]) -> list[int]:
    minutes = []
    for word in words:
        length = parse_duration(word)
        if length is None:
            raise errors.InvalidInput(field="reminders", limit=4)
        minutes.append(int(length.total_seconds() // 60))
    return minutes


@refusals
@group_only
async def reminders(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    words = [w.lower() for w in (context.args or [])]
    council, council_id = await council_here(update, context)
    if words:
        if words[0] in BALLOT_WORDS:
            rest = words[1:]
            if len(rest) != 1:
                raise errors.InvalidInput(field="reminders", limit=4)
            nudge = 0 if rest[0] in OFF_WORDS else parse_offsets(rest)[0]
            council = await meetings.set_reminders(
                keyed_uow(update, context),
                council_id=council_id,
                user_id=user.id,
                ballot_nudge=nudge,
            )
        else:
            offsets = (
                [] if words == [OFF_WORDS[0]] or words[0] in OFF_WORDS else parse_offsets(words)
            )
            council = await meetings.set_reminders(
                keyed_uow(update, context),
                council_id=council_id,
                user_id=user.id,
                meeting_offsets=offsets,
            )
    lang = user_language(update, context)
    await message.reply_text(
        t(
            lang,
            "reminders.show",
            meeting=render.offsets(lang, council.meeting_reminders),
            nudge=render.offsets(lang, [council.ballot_nudge] if council.ballot_nudge else []),
        )
    )
