"""Texts and keyboards of volunteers and dispatch: offers, tasks, hours, the skill picker."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Markup, catalogue, escape, joined, languages, t
from bot.telegram.buttons import Signer
from bot.telegram.render import fit, keyboard, mention, moment, plain, short
from domain.model import Council
from domain.task_rules import Offer, OfferState, Task, TaskSource, TaskState
from domain.volunteering import HoursView, Registry, TaskView

STATE_MARK = {
    TaskState.OPEN: "🆕",
    TaskState.OFFERED: "📨",
    TaskState.ACCEPTED: "🚶",
    TaskState.DONE: "✅",
    TaskState.CANCELLED: "🚫",
    TaskState.EXPIRED: "⚠️",
}


def skill_label(lang: str, skill: str) -> str:
    key = f"skill.{skill}"
    return t(lang, key) if key in catalogue(lang) else escape(skill)


def skill_from_word(council: Council, word: str) -> str | None:
    """A skill named by its code or by its label in either language."""
    wanted = word.strip().lower()
    for skill in council.all_skills:
        found = (catalogue(lang).get(f"skill.{skill}") for lang in languages())
        labels = {skill.lower()} | {label.lower() for label in found if isinstance(label, str)}
        if wanted in labels:
            return skill
    return None


def public_title(lang: str, task: Task) -> str:
    """What the group may read of a task: a resident's request is named by its kind only,
    since its words often carry an address ("老人独居 … 6-3-501"); a resolution's task
    is the council's own business."""
    if task.source is not TaskSource.REQUEST:
        return task.title
    if task.skill:
        return plain(t(lang, "task.request_kind", skill=Markup(skill_label(lang, task.skill))))
    return plain(t(lang, "task.request_any"))


def request_notice(
    lang: str,
    task: Task,
    *,
    offered: int,
    exhausted: bool,
    deleted: bool,
    requester: tuple[int, str] | None,
    bot: str,
) -> str:
    """The group's word on a request made there: that one was made, never what or where.
    ``requester`` (id, name) is named only when the bot could not tell them privately."""
    kind = (
        t(lang, "request.kind", skill=Markup(skill_label(lang, task.skill))) if task.skill else ""
    )
    if exhausted:
        lines = [t(lang, "request.public_exhausted", kind=Markup(kind))]
    else:
        lines = [t(lang, "request.public", kind=Markup(kind), count=offered)]
    lines.append(t(lang, "request.deleted" if deleted else "request.not_deleted"))
    if requester is not None:
        name = mention(*requester)
        lines.append(t(lang, "request.start_bot", name=name, bot=bot))
    return "\n".join(lines)


def assignee(lang: str, view: TaskView) -> str:
    task = view.task
    if view.unit is not None:
        return t(lang, "task.for_unit", name=view.unit.name)
    if view.team is not None:
        return t(lang, "task.for_team", name=view.team.name)
    if task.member_ids:
        names = joined(lang, [view.names.get(m, "?") for m in sorted(task.member_ids)])
        return t(lang, "task.for_people", names=names)
    return t(lang, "task.for_volunteers")


def task_line(lang: str, view: TaskView) -> str:
    task = view.task
    doer = (
        t(lang, "task.doer", name=view.names.get(task.accepted_by, "?"))
        if task.accepted_by is not None and task.state in (TaskState.ACCEPTED, TaskState.DONE)
        else ""
    )
    return t(
        lang,
        "task.line",
        mark=STATE_MARK[task.state],
        id=task.id,
        title=short(public_title(lang, task), 40),
        state=Markup(t(lang, f"task_state.{task.state.value}")),
        who=Markup(assignee(lang, view)),
        doer=Markup(doer),
    )


def task_details(lang: str, view: TaskView) -> list[str]:
    task, council = view.task, view.council
    lines: list[str] = [t(lang, "task.title", id=task.id, title=task.title)]
    if task.description and task.description != task.title:
        lines.append(escape(short(task.description, 600)))
    if task.skill:
        lines.append(t(lang, "task.skill", skill=Markup(skill_label(lang, task.skill))))
    if task.place:
        lines.append(t(lang, "task.place", place=task.place))
    if task.due:
        lines.append(t(lang, "task.due", when=moment(lang, task.due, council.timezone)))
    if task.requester_member_id is not None:
        lines.append(t(lang, "task.requester", name=view.names.get(task.requester_member_id, "?")))
    return lines


def offer_message(
    lang: str, offer: Offer, view: TaskView, signer: Signer
) -> tuple[str, InlineKeyboardMarkup | None]:
    assert offer.id is not None
    lines = [t(lang, "offer.head", council=view.council.title), *task_details(lang, view)]
    lines.append(
        t(lang, "offer.answer_by", when=moment(lang, offer.expires_at, view.council.timezone))
    )
    buttons = [
        [
            InlineKeyboardButton(
                t(lang, "button.accept"), callback_data=signer.data("o", offer.id, "y")
            ),
            InlineKeyboardButton(
                t(lang, "button.decline"), callback_data=signer.data("o", offer.id, "n")
            ),
        ]
    ]
    return fit("\n".join(lines)), keyboard(buttons)


def answered_offer(
    lang: str, offer: Offer, view: TaskView, signer: Signer
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The offer message once answered: what became of it, and the Done button if it is yours."""
    task = view.task
    lines = task_details(lang, view)
    buttons: list[list[InlineKeyboardButton]] = []
    if offer.state is OfferState.ACCEPTED and task.state is TaskState.ACCEPTED:
        assert task.id is not None
        lines.append(t(lang, "offer.yours"))
        buttons.append(
            [InlineKeyboardButton(t(lang, "button.done"), callback_data=signer.data("d", task.id))]
        )
    elif offer.state is OfferState.ACCEPTED and task.state is TaskState.DONE:
        lines.append(t(lang, "offer.done", hours=hours_text(task.hours)))
    elif offer.state is OfferState.DECLINED:
        lines.append(t(lang, "offer.declined"))
    else:
        lines.append(t(lang, "offer.closed"))
    return fit("\n".join(lines)), keyboard(buttons)


def done_message(
    lang: str, view: TaskView, signer: Signer, *, public: bool = False
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Done, for the requester to confirm: in the group (``public``) without the request's
    words or the volunteer's note, which may say where and what."""
    task = view.task
    assert task.id is not None
    text = t(
        lang,
        "task.done_requester",
        id=task.id,
        title=public_title(lang, task) if public else task.title,
        name=view.names.get(task.accepted_by or 0, "?"),
        **hours_params(task.hours),
    )
    if task.note and not public:
        text += "\n" + t(lang, "task.note", note=task.note)
    if task.confirmed:
        return text, None
    button = InlineKeyboardButton(
        t(lang, "button.confirm"), callback_data=signer.data("c", task.id)
    )
    return text, keyboard([[button]])


def chairs_mentions(lang: str, council: Council) -> str:
    return joined(
        lang, [mention(user_id, t(lang, "role.chair")) for user_id in sorted(council.chairs)]
    )


def skills_picker(
    lang: str, council: Council, signer: Signer
) -> tuple[str, InlineKeyboardMarkup | None]:
    assert council.id is not None
    rows: list[list[InlineKeyboardButton]] = []
    row: list[InlineKeyboardButton] = []
    for index, skill in enumerate(council.all_skills):
        row.append(
            InlineKeyboardButton(
                plain(skill_label(lang, skill)),
                callback_data=signer.data("k", council.id, str(index)),
            )
        )
        if len(row) == 3:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return t(lang, "volunteer.picker"), keyboard(rows)


def volunteer_summary(
    lang: str, skills: Sequence[str], grid: str, team: str | None, available: bool
) -> str:
    shown = joined(lang, [skill_label(lang, s) for s in sorted(skills)])
    shown = shown or t(lang, "volunteer.no_skills")
    return t(
        lang,
        "volunteer.summary",
        skills=Markup(shown),
        grid=grid or "—",
        team=team or "—",
        available=Markup(t(lang, "volunteer.on" if available else "volunteer.off")),
    )


def registry_message(lang: str, registry: Registry) -> str:
    lines = [
        t(lang, "registry.title", council=registry.council.title, count=len(registry.volunteers))
    ]
    teams = {team.id: team.name for team in registry.teams}
    for team in registry.teams:
        size = sum(1 for v in registry.volunteers if v.team_id == team.id)
        lines.append(t(lang, "registry.team", name=team.name, count=size))
    for unit in registry.units:
        services = joined(lang, [skill_label(lang, s) for s in sorted(unit.services)]) or "—"
        lines.append(t(lang, "registry.unit", name=unit.name, services=Markup(services)))
    for volunteer in registry.volunteers[:50]:
        skills = joined(lang, [skill_label(lang, s) for s in sorted(volunteer.skills)]) or "—"
        lines.append(
            t(
                lang,
                "registry.volunteer",
                name=registry.names.get(volunteer.member_id, "?"),
                skills=Markup(skills),
                team=teams.get(volunteer.team_id, "—"),
            )
        )
    return fit("\n".join(lines))


def tasks_message(lang: str, views: Sequence[TaskView]) -> str:
    if not views:
        return t(lang, "tasks.none")
    return fit("\n".join([t(lang, "tasks.title"), *(task_line(lang, v) for v in views)]))


def hours_message(lang: str, view: HoursView) -> str:
    lines = [t(lang, "hours.mine", name=view.member.name, hours=hours_text(view.mine))]
    if view.team is not None:
        total = sum(view.team_hours.values(), Decimal(0))
        lines.append(t(lang, "hours.team", team=view.team.name, hours=hours_text(total)))
        ranked = sorted(view.team_hours.items(), key=lambda item: (-item[1], item[0]))
        for member_id, hours in ranked[:20]:
            name = view.names.get(member_id, "?")
            lines.append(t(lang, "hours.line", name=name, hours=hours_text(hours)))
    return "\n".join(lines)


def hours_text(value: Decimal) -> str:
    # "f": 10 hours read "10", not "1E+1" as str() writes a normalized 10.0.
    return format(value.quantize(Decimal("0.1")).normalize(), "f") if value else "0"


def hours_params(value: Decimal) -> dict[str, object]:
    """``hours`` as a text shows them, and ``count``, the number shown, which picks the
    plural form ("1 service hour", "0.5 service hours")."""
    shown = hours_text(value)
    return {"hours": shown, "count": Decimal(shown)}


def progress_lines(lang: str, tasks: Sequence[Task], names: dict[int, str]) -> list[str]:
    """What the topic card shows of a resolution's tasks, until all are done."""
    if not tasks:
        return []
    live = [task for task in tasks if task.state is not TaskState.CANCELLED]
    done = sum(1 for task in live if task.state is TaskState.DONE)
    lines: list[str] = [t(lang, "card.tasks", done=done, total=len(live))]
    for task in live[:10]:
        doer = names.get(task.accepted_by or 0) if task.accepted_by else None
        lines.append(
            t(
                lang,
                "card.task_line",
                mark=STATE_MARK[task.state],
                title=short(task.title, 40),
                state=Markup(t(lang, f"task_state.{task.state.value}")),
                doer=Markup(t(lang, "task.doer", name=doer) if doer else ""),
            )
        )
    return lines
