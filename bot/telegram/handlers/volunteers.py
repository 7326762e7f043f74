"""The volunteer registry: /volunteer and its skill picker, /skills, /team, /unit,
/volunteers, /hours."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.i18n import t
from bot.telegram import render_dispatch
from bot.telegram.context import command_text, deps, keyed_uow, now, uow, user_language
from bot.telegram.handlers.common import council_here, group_only, refusals
from bot.telegram.render import plain
from domain import errors, services, volunteering
from domain.model import Council
from domain.numbers import read_index

GRID_WORDS = ("网格:", "网格：", "grid:")
TEAM_WORDS = ("队:", "队：", "team:")
OFF_WORDS = ("off", "暂停", "请假")
ON_WORDS = ("on", "恢复")


@refusals
@group_only
async def volunteer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/volunteer [skills…] [网格:3] [队:name] [off|on]; bare: the skill picker."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    council, council_id = await council_here(update, context)
    lang = user_language(update, context)
    words = command_text(message).split()
    current = await volunteering.volunteer_of(uow(context), council_id=council_id, user_id=user.id)
    skills = set(current.skills) if current else set()
    grid = current.grid if current else ""
    team_name: str | None = None  # None: stay in one's team
    available = current.available if current else True
    for word in words:
        lowered = word.lower()
        if lowered.startswith(GRID_WORDS):
            grid = word.split(":", 1)[-1].split("：", 1)[-1]
        elif lowered.startswith(TEAM_WORDS):
            team_name = word.split(":", 1)[-1].split("：", 1)[-1]
        elif lowered in OFF_WORDS:
            available = False
        elif lowered in ON_WORDS:
            available = True
        else:
            skill = render_dispatch.skill_from_word(council, word)
            if skill is None:
                raise errors.UnknownSkill(skill=word[:20], skills=_labels(lang, council))
            skills.add(skill)
    registered = await volunteering.register_volunteer(
        keyed_uow(update, context),
        council_id=council_id,
        user_id=user.id,
        skills=sorted(skills),
        grid=grid,
        team=team_name,
        available=available,
        now=now(context),
    )
    summary = render_dispatch.volunteer_summary(
        lang, sorted(registered.skills), registered.grid, registered.team, registered.available
    )
    await message.reply_text(t(lang, "volunteer.registered") + "\n" + summary)
    if not words:
        text, markup = render_dispatch.skills_picker(lang, council, deps(context).signer)
        await message.reply_text(text, reply_markup=markup)


def _labels(lang: str, council: Council) -> str:
    return "、".join(render_dispatch.skill_label(lang, s) for s in council.all_skills)


@refusals
async def toggle_skill(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    press = deps(context).signer.parse(query.data)
    if press is None or press.action != "k":
        raise errors.StaleButton()
    council = await services.council_by_id(uow(context), council_id=press.target)
    index = read_index(press.arg, len(council.all_skills))
    if index is None:
        raise errors.StaleButton()
    skill = council.all_skills[index]
    changed = await volunteering.toggle_skill(
        keyed_uow(update, context),
        council_id=press.target,
        user_id=query.from_user.id,
        skill=skill,
        now=now(context),
    )
    lang = user_language(update, context)
    shown = "、".join(render_dispatch.skill_label(lang, s) for s in sorted(changed.skills))
    key = "volunteer.skill_on" if skill in changed.skills else "volunteer.skill_off"
    label = render_dispatch.skill_label(lang, skill)
    now_shown = t(lang, "volunteer.now", skills=shown or "—")
    await query.answer(plain(t(lang, key, skill=label) + " " + now_shown))


@refusals
@group_only
async def skills(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/skills lists the council's skills; /skills add 园艺 (chair) adds one."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    council, council_id = await council_here(update, context)
    words = command_text(message).split(maxsplit=1)
    if words and words[0].lower() in ("add", "添加", "增加"):
        if len(words) < 2:
            raise errors.InvalidInput(field="skills_usage")
        council = await volunteering.add_skill(
            keyed_uow(update, context), council_id=council_id, user_id=user.id, skill=words[1]
        )
    elif words:
        raise errors.InvalidInput(field="skills_usage")
    lang = user_language(update, context)
    await message.reply_text(t(lang, "skills.list", skills=_labels(lang, council)))


@refusals
@group_only
async def team(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/team 畅大妈志愿服务队 (chair): a new volunteer team, led by the one who names it."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    name = command_text(message)
    if not name:
        raise errors.InvalidInput(field="team_usage")
    council, council_id = await council_here(update, context)
    leader = _replied_to(update) or user.id
    made = await volunteering.add_team(
        keyed_uow(update, context),
        council_id=council_id,
        user_id=user.id,
        name=name,
        leader_user_ids=[leader],
    )
    await message.reply_text(t(council.language, "team.added", name=made.name))


@refusals
@group_only
async def unit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unit 社区卫生服务站 健康 (chair): a member unit and what it offers; sent as a reply,
    the person replied to is its contact (else the chair)."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    words = command_text(message).split()
    if not words:
        raise errors.InvalidInput(field="unit_usage")
    council, council_id = await council_here(update, context)
    lang = user_language(update, context)
    services_: list[str] = []
    for word in words[1:]:
        skill = render_dispatch.skill_from_word(council, word)
        if skill is None:
            raise errors.UnknownSkill(skill=word[:20], skills=_labels(lang, council))
        services_.append(skill)
    made = await volunteering.add_unit(
        keyed_uow(update, context),
        council_id=council_id,
        user_id=user.id,
        name=words[0],
        services=services_,
        contact_user_ids=[_replied_to(update) or user.id],
    )
    await message.reply_text(t(council.language, "unit.added", name=made.name))


def _replied_to(update: Update) -> int | None:
    message = update.effective_message
    replied = message.reply_to_message if message else None
    if replied is None or replied.from_user is None or replied.from_user.is_bot:
        return None
    return replied.from_user.id


@refusals
@group_only
async def volunteers(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    _council, council_id = await council_here(update, context)
    registry = await volunteering.registry(uow(context), council_id=council_id)
    await message.reply_text(
        render_dispatch.registry_message(user_language(update, context), registry)
    )


@refusals
@group_only
async def hours(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    _council, council_id = await council_here(update, context)
    view = await volunteering.hours_view(uow(context), council_id=council_id, user_id=user.id)
    await message.reply_text(render_dispatch.hours_message(user_language(update, context), view))
