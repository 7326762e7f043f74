"""Done, hours, lists: finishing, confirming or cancelling a task, the service hours
it credits, and what the task lists and messages show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain import errors
from domain.model import MAX_DESCRIPTION, Council, Member, NoticeKind
from domain.ports import Lock, UnitOfWork
from domain.services import TopicView, read_topic_view, require_council
from domain.task_rules import (
    HoursEntry,
    MemberUnit,
    Offer,
    OfferState,
    Task,
    TaskState,
    Team,
    service_hours,
)
from domain.volunteering.offers import task_changed, tell_requester
from domain.volunteering.reading import active_member, clean_text, members_in_order

MAX_HOURS = Decimal(12)  # one task credits at most a long day's work
RECENT_TASKS = 15


async def complete_task(
    uow: UnitOfWork,
    *,
    task_id: int,
    user_id: int,
    note: str,
    hours: Decimal | None,
    now: datetime,
) -> Task:
    """The volunteer (or a chair) reports the task done; service hours are credited."""
    async with uow:
        task = await uow.tasks.get(task_id, lock=Lock.UPDATE)
        if task is None:
            raise errors.TaskNotFound()
        council = await require_council(uow, task.council_id)
        member = await uow.members.by_user(task.council_id, user_id)
        is_doer = member is not None and member.id == task.accepted_by
        if not (is_doer or council.is_chair(user_id)):
            raise errors.NotAssignee()
        if task.state is not TaskState.ACCEPTED or task.accepted_by is None:
            raise errors.WrongPhase(
                field="task", task_state=task.state.value, to=TaskState.DONE.value
            )
        assert task.accepted_at is not None and task.id is not None
        if hours is not None and not (hours.is_finite() and Decimal(0) < hours <= MAX_HOURS):
            raise errors.InvalidInput(field="hours", limit=MAX_HOURS)
        credited = hours or min(service_hours(task.accepted_at, now), MAX_HOURS)
        task.complete(now, credited)
        task.note = clean_text(note, field="note", limit=MAX_DESCRIPTION, required=False)
        await uow.tasks.update(task)
        volunteer = await uow.volunteers.get(task.council_id, task.accepted_by)
        await uow.hours.add(
            HoursEntry(
                council_id=task.council_id,
                member_id=task.accepted_by,
                task_id=task.id,
                hours=credited,
                at=now,
                team_id=volunteer.team_id if volunteer else None,
            )
        )
        if task.requester_member_id is not None:
            await tell_requester(uow, council, task, NoticeKind.TASK_DONE, now)
        await task_changed(uow, task)
        await uow.commit()
        return task


async def confirm_task(uow: UnitOfWork, *, task_id: int, user_id: int) -> Task:
    """The resident who asked confirms that the help came."""
    async with uow:
        task = await uow.tasks.get(task_id)
        if task is None:
            raise errors.TaskNotFound()
        member = await uow.members.by_user(task.council_id, user_id)
        if member is None or member.id != task.requester_member_id:
            raise errors.NotRequester()
        if task.state is not TaskState.DONE:
            raise errors.WrongPhase(field="task", task_state=task.state.value, to="confirmed")
        task.confirmed = True
        await uow.tasks.update(task)
        await uow.commit()
        return task


async def cancel_task(uow: UnitOfWork, *, task_id: int, user_id: int, now: datetime) -> Task:
    async with uow:
        task = await uow.tasks.get(task_id, lock=Lock.UPDATE)
        if task is None:
            raise errors.TaskNotFound()
        council = await require_council(uow, task.council_id)
        member = await uow.members.by_user(task.council_id, user_id)
        requester = member is not None and member.id == task.requester_member_id
        if not (requester or council.is_chair(user_id)):
            raise errors.NotChair()
        task.cancel(now)
        assert task.id is not None
        for offer in await uow.offers.for_task(task.id):
            if offer.state is OfferState.PENDING:
                offer.close(OfferState.WITHDRAWN, now)
                await uow.offers.update(offer)
        await uow.tasks.update(task)
        await task_changed(uow, task)
        await uow.commit()
        return task


@dataclass(frozen=True)
class TaskView:
    task: Task
    council: Council
    offers: list[Offer]
    names: dict[int, str]  # member id -> name, of everyone named by the task
    unit: MemberUnit | None
    team: Team | None


async def task_view(uow: UnitOfWork, *, task_id: int, with_offers: bool = True) -> TaskView:
    """The task and the names its messages show; ``with_offers`` False leaves out its
    offers (a call to a thousand volunteers has a thousand)."""
    async with uow:
        task = await uow.tasks.get(task_id)
        if task is None:
            raise errors.TaskNotFound()
        return await _task_view(uow, task, None if with_offers else [])


async def _task_view(uow: UnitOfWork, task: Task, offers: list[Offer] | None = None) -> TaskView:
    """The task with what a message about it names; ``offers`` None: all of them."""
    assert task.id is not None
    council = await require_council(uow, task.council_id)
    if offers is None:
        offers = await uow.offers.for_task(task.id)
    ids = {o.member_id for o in offers} | set(task.member_ids)
    for member_id in (task.accepted_by, task.requester_member_id):
        if member_id is not None:
            ids.add(member_id)
    names = {m.id: m.name for m in await members_in_order(uow, sorted(ids)) if m.id is not None}
    unit = await uow.units.get(task.unit_id) if task.unit_id is not None else None
    team = await uow.teams.get(task.team_id) if task.team_id is not None else None
    return TaskView(task, council, offers, names, unit, team)


async def offer_of(uow: UnitOfWork, *, offer_id: int) -> Offer:
    async with uow:
        offer = await uow.offers.get(offer_id)
        if offer is None:
            raise errors.StaleButton()
        return offer


async def offer_view(uow: UnitOfWork, *, offer_id: int) -> tuple[Offer, TaskView]:
    async with uow:
        offer = await uow.offers.get(offer_id)
        if offer is None:
            raise errors.StaleButton()
        task = await uow.tasks.get(offer.task_id)
        if task is None:
            raise errors.TaskNotFound()
        # One offer of a call to a thousand: the others are none of its message's business.
        return offer, await _task_view(uow, task, [offer])


async def tasks_of_council(uow: UnitOfWork, *, council_id: int) -> list[TaskView]:
    async with uow:
        return [await _task_view(uow, t) for t in await uow.tasks.recent(council_id, RECENT_TASKS)]


async def _progress(uow: UnitOfWork, topic_id: int) -> tuple[list[Task], dict[int, str]]:
    tasks = await uow.tasks.for_topic(topic_id)
    doers = sorted({t.accepted_by for t in tasks if t.accepted_by is not None})
    names = {m.id: m.name for m in await members_in_order(uow, doers) if m.id is not None}
    return tasks, names


@dataclass(frozen=True)
class TopicCard:
    """What a topic's card shows: its proposals and ballots, and the tasks carrying it out."""

    view: TopicView
    council: Council
    tasks: list[Task]
    names: dict[int, str]  # member id -> name, of those who took a task


async def topic_card(uow: UnitOfWork, *, topic_id: int) -> TopicCard:
    """Everything a topic card shows, read in one transaction."""
    async with uow:
        view = await read_topic_view(uow, topic_id)
        council = await require_council(uow, view.topic.council_id)
        tasks, names = await _progress(uow, topic_id)
        return TopicCard(view, council, tasks, names)


@dataclass(frozen=True)
class HoursView:
    council: Council
    member: Member
    mine: Decimal
    team: Team | None
    team_hours: dict[int, Decimal]  # member id -> hours, of the member's team
    names: dict[int, str]


async def hours_view(uow: UnitOfWork, *, council_id: int, user_id: int) -> HoursView:
    async with uow:
        council = await require_council(uow, council_id)
        member = await active_member(uow, council_id, user_id)
        assert member.id is not None
        mine = await uow.hours.total(council_id, member.id)
        volunteer = await uow.volunteers.get(council_id, member.id)
        team = None
        team_hours: dict[int, Decimal] = {}
        if volunteer is not None and volunteer.team_id is not None:
            team = await uow.teams.get(volunteer.team_id)
            team_hours = await uow.hours.by_member(council_id, volunteer.team_id)
        names = {m.id: m.name for m in await members_in_order(uow, sorted(team_hours)) if m.id}
        return HoursView(council, member, mine, team, team_hours, names)
