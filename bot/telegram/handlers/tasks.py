"""Dispatch: /request (居民点单), /task, /tasks, /finish; the offer, done, confirm buttons."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal

from telegram import Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden
from telegram.ext import ContextTypes

from bot.i18n import Markup, t
from bot.telegram import render_dispatch
from bot.telegram.cards import edit_quietly
from bot.telegram.context import (
    command_text,
    deps,
    keyed_uow,
    now,
    thread_of,
    uow,
    user_language,
)
from bot.telegram.handlers.common import council_here, group_only, refusals
from domain import errors, services, volunteering
from domain.numbers import leading_id, looks_like_id, parse_id
from domain.when import parse_duration, parse_when

log = logging.getLogger(__name__)

PLACE_PREFIXES = ("地点:", "地点：", "place:", "@")
UNIT_PREFIXES = ("单位:", "单位：", "unit:")
TEAM_PREFIXES = ("队:", "队：", "team:")
DUE_PREFIXES = ("截止:", "截止：", "due:")
SKILL_PREFIXES = ("技能:", "技能：", "skill:")
CANCEL_WORDS = ("cancel", "取消")
# A time of day written after a due date, as in the help's "截止:12-05 18:00".
CLOCK_WORD = re.compile(
    r"[0-9]{1,2}[:：][0-9]{2}|(?:早上|上午|中午|下午|晚上)?[0-9]{1,2}点(?:半|[0-9]{1,2}分?)?"
)


def _text_of(update: Update) -> str:
    """A command's text, from a message or from a photo's caption."""
    message = update.effective_message
    assert message is not None
    if message.text is not None:
        return command_text(message)
    caption = (message.caption or "").split(maxsplit=1)
    return caption[1].strip() if len(caption) > 1 else ""


@refusals
@group_only
async def request(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/request [类别] 描述 (next lines: more, and "地点：…"); a photo may carry it as caption."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    text = _text_of(update)
    if not text:
        raise errors.InvalidInput(field="request_usage")
    council, council_id = await council_here(update, context)
    lines, place = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.lower().startswith(PLACE_PREFIXES):
            place = stripped.split(":", 1)[-1].split("：", 1)[-1].lstrip("@").strip()
        else:
            lines.append(line)
    first, _, rest = "\n".join(lines).strip().partition(" ")
    skill = render_dispatch.skill_from_word(council, first)
    description = "\n".join(lines).strip() if skill is None else rest.strip()
    photo = message.photo[-1].file_id if message.photo else None
    dispatched = await volunteering.request_service(
        keyed_uow(update, context),
        council_id=council_id,
        user_id=user.id,
        skill=skill,
        description=description,
        place=place,
        photo=photo,
        now=now(context),
        per_hour=deps(context).limits.requests_per_hour,
    )
    task = dispatched.task
    key = "request.exhausted" if dispatched.exhausted else "request.received"
    receipt = t(
        user_language(update, context),
        key,
        id=task.id,
        title=task.title,
        count=len(dispatched.offered),
    )
    # The request's words often say where someone lives: they leave the group, and go
    # only to the volunteers, the requester and (when nobody takes it) chairs and staff.
    deleted = await _delete_quietly(message)
    told = await _tell_privately(context, user.id, receipt)
    notice = render_dispatch.request_notice(
        council.language,
        task,
        offered=len(dispatched.offered),
        exhausted=dispatched.exhausted,
        deleted=deleted,
        requester=None if told else (user.id, user.full_name),
        bot=context.bot.username,
    )
    if deleted:
        await context.bot.send_message(
            message.chat_id, notice, message_thread_id=thread_of(message) or None
        )
    else:
        await message.reply_text(notice)


async def _delete_quietly(message: Message) -> bool:
    """Delete a member's message from the group; False when the bot may not (it is no
    admin there, or lacks the right to delete messages)."""
    try:
        return await message.delete()
    except (BadRequest, Forbidden) as error:
        log.info("could not delete message %s: %s", message.message_id, error)
        return False


async def _tell_privately(context: ContextTypes.DEFAULT_TYPE, user_id: int, text: str) -> bool:
    """False when the member never started the bot (or blocked it)."""
    try:
        await context.bot.send_message(user_id, text)
    except Forbidden:
        return False
    return True


@dataclass(frozen=True)
class TaskArgs:
    """What "/task [#议题] 标题 单位:… 队:… 技能:… 截止:…" says, as typed."""

    title: str
    topic_id: int | None = None
    unit: str | None = None
    team: str | None = None
    skill: str | None = None
    due: str | None = None


def cancel_target(text: str) -> int | None:
    """The task number of "cancel 5" (or "取消 #5"); None when ``text`` cancels nothing."""
    words = text.split()
    if not words or words[0].lower() not in CANCEL_WORDS:
        return None
    if len(words) != 2 or not looks_like_id(words[1]):
        raise errors.InvalidInput(field="task_usage")
    return parse_id(words[1])


def parse_task_args(text: str) -> TaskArgs:
    """Read what follows /task (not a cancel): "#3 清运垃圾 单位:物业公司 截止:后天18:00"."""
    topic_id, text = leading_id(text)
    unit = team = skill = due = None
    title_words = []
    after_due = False
    for word in text.split():
        lowered = word.lower()
        value = word.split(":", 1)[-1].split("：", 1)[-1]
        if after_due and CLOCK_WORD.fullmatch(word):  # "截止:12-05 18:00": the time goes on
            due = f"{due} {word}" if due else word
            after_due = False
            continue
        after_due = False
        if lowered.startswith(UNIT_PREFIXES):
            unit = value
        elif lowered.startswith(TEAM_PREFIXES):
            team = value
        elif lowered.startswith(SKILL_PREFIXES):
            skill = value
        elif lowered.startswith(DUE_PREFIXES):
            due = value or None
            after_due = True
        elif not word.startswith("@"):  # a mention: its user comes from the entities
            title_words.append(word)
    return TaskArgs(" ".join(title_words), topic_id, unit, team, skill, due)


@refusals
@group_only
async def task(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/task [#议题] 标题 单位:名称 | 队:名称 | @成员… [截止:时间] [技能:类别] (chair)."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    council, council_id = await council_here(update, context)
    text = command_text(message)
    cancel_id = cancel_target(text)
    if cancel_id is not None:
        await _cancel(update, context, cancel_id)
        return
    args = parse_task_args(text)
    skill = args.skill and (render_dispatch.skill_from_word(council, args.skill) or args.skill)
    due = (
        parse_when(args.due, now=now(context), timezone=council.timezone)
        if args.due is not None
        else None
    )
    people = tuple(_mentioned(update))
    if not args.title or not (args.unit or args.team or people):
        raise errors.InvalidInput(field="task_usage")
    dispatched = await volunteering.create_task(
        keyed_uow(update, context),
        council_id=council_id,
        user_id=user.id,
        topic_id=args.topic_id,
        title=args.title,
        assignee=volunteering.Assignee(unit=args.unit, team=args.team, user_ids=people),
        skill=skill,
        due=due,
        now=now(context),
    )
    created = dispatched.task
    view = await volunteering.task_view(uow(context), task_id=created.id or 0)
    lang = council.language
    key = "task.exhausted_now" if dispatched.exhausted else "task.created"
    await message.reply_text(
        t(
            lang,
            key,
            id=created.id,
            title=created.title,
            who=Markup(render_dispatch.assignee(lang, view)),
            count=len(dispatched.offered),
        )
    )


async def _cancel(update: Update, context: ContextTypes.DEFAULT_TYPE, task_id: int) -> None:
    """/task cancel 5: the chair, or the resident who asked, calls a task off."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    cancelled = await volunteering.cancel_task(
        keyed_uow(update, context), task_id=task_id, user_id=user.id, now=now(context)
    )
    lang = user_language(update, context)
    title = render_dispatch.public_title(lang, cancelled)  # said in the group
    await message.reply_text(t(lang, "task.cancelled", id=cancelled.id, title=title))


def _mentioned(update: Update) -> list[int]:
    """People named in the command: text mentions carry their ids, and a reply names one."""
    message = update.effective_message
    assert message is not None
    ids = [
        entity.user.id
        for entity in message.entities
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None
    ]
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and not replied.from_user.is_bot:
        ids.append(replied.from_user.id)
    return list(dict.fromkeys(ids))


@refusals
async def answer_offer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Accept / Decline on a private offer."""
    query = update.callback_query
    assert query is not None
    press = deps(context).signer.parse(query.data)
    if press is None or press.action != "o" or press.arg not in ("y", "n"):
        raise errors.StaleButton()
    answered = await volunteering.answer_offer(
        keyed_uow(update, context),
        offer_id=press.target,
        user_id=query.from_user.id,
        accept=press.arg == "y",
        now=now(context),
    )
    lang = user_language(update, context)
    await query.answer(t(lang, "offer.accepted" if answered.accepted else "offer.thanks"))
    await _show_offer(context, press.target, lang)


async def _show_offer(context: ContextTypes.DEFAULT_TYPE, offer_id: int, lang: str) -> None:
    offer, view = await volunteering.offer_view(uow(context), offer_id=offer_id)
    if offer.message_ref is None:
        return
    member = await services.member_by_id(uow(context), member_id=offer.member_id)
    if member is None or member.user_id is None:
        return
    text, markup = render_dispatch.answered_offer(lang, offer, view, deps(context).signer)
    await edit_quietly(
        context.bot,
        text,
        caption=view.task.photo is not None,  # the offer went out as a photo
        chat_id=member.user_id,
        message_id=offer.message_ref,
        reply_markup=markup,
    )


@refusals
async def done_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    press = deps(context).signer.parse(query.data)
    if press is None or press.action != "d":
        raise errors.StaleButton()
    finished = await volunteering.complete_task(
        keyed_uow(update, context),
        task_id=press.target,
        user_id=query.from_user.id,
        note="",
        hours=None,
        now=now(context),
    )
    lang = user_language(update, context)
    await query.answer(t(lang, "task.finished", **render_dispatch.hours_params(finished.hours)))
    view = await volunteering.task_view(uow(context), task_id=press.target)
    accepted = next((o for o in view.offers if o.member_id == finished.accepted_by), None)
    if accepted is not None and query.message is not None:
        text, markup = render_dispatch.answered_offer(lang, accepted, view, deps(context).signer)
        await edit_quietly(
            context.bot,
            text,
            caption=view.task.photo is not None,
            chat_id=query.message.chat.id,
            message_id=query.message.message_id,
            reply_markup=markup,
        )


def parse_finish(text: str) -> tuple[int, Decimal | None, str]:
    """ "5 2h 已换好水管" -> (task 5, 2.00 hours, the note); the hours are optional."""
    words = text.split(maxsplit=1)
    if not words or not looks_like_id(words[0]):
        raise errors.InvalidInput(field="finish_usage")
    task_id = parse_id(words[0])
    rest = words[1] if len(words) > 1 else ""
    first, _, after = rest.partition(" ")
    length = parse_duration(first) if first else None
    if length is None:
        return task_id, None, rest
    hours = Decimal(int(length.total_seconds() // 60)) / Decimal(60)
    return task_id, hours.quantize(Decimal("0.01")), after


@refusals
async def finish(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/finish 任务号 [2h] [说明]: done, with a note (a photo may carry it as caption)."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    task_id, hours, note = parse_finish(_text_of(update))
    finished = await volunteering.complete_task(
        keyed_uow(update, context),
        task_id=task_id,
        user_id=user.id,
        note=note,
        hours=hours,
        now=now(context),
    )
    await message.reply_text(
        t(
            user_language(update, context),
            "task.finished",
            **render_dispatch.hours_params(finished.hours),
        )
    )


@refusals
async def confirm_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    press = deps(context).signer.parse(query.data)
    if press is None or press.action != "c":
        raise errors.StaleButton()
    await volunteering.confirm_task(
        keyed_uow(update, context), task_id=press.target, user_id=query.from_user.id
    )
    lang = user_language(update, context)
    await query.answer(t(lang, "task.confirmed"))
    if query.message is not None:
        view = await volunteering.task_view(uow(context), task_id=press.target)
        text, markup = render_dispatch.done_message(
            lang, view, deps(context).signer, public=query.message.chat.type != ChatType.PRIVATE
        )
        await edit_quietly(
            context.bot,
            text,
            chat_id=query.message.chat.id,
            message_id=query.message.message_id,
            reply_markup=markup,
        )


@refusals
@group_only
async def task_list(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    _council, council_id = await council_here(update, context)
    views = await volunteering.tasks_of_council(uow(context), council_id=council_id)
    await message.reply_text(render_dispatch.tasks_message(user_language(update, context), views))
