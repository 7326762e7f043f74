"""Where tasks come from: a resident's request (居民点单) or a chair's resolution (落实)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain import errors
from domain.model import MAX_DESCRIPTION, MAX_PLACE, MAX_TITLE, Phase, Topic
from domain.ports import UnitOfWork
from domain.services import LIMIT_WINDOW, require_council, require_topic, within_limit
from domain.task_rules import Task, TaskSource
from domain.volunteering.offers import Dispatched, offer_next_round, task_changed
from domain.volunteering.reading import active_member, clean_text, known_skill

MAX_ASSIGNEES = 20


async def request_service(
    uow: UnitOfWork,
    *,
    council_id: int,
    user_id: int,
    skill: str | None,
    description: str,
    place: str,
    photo: str | None,
    now: datetime,
    per_hour: int = 0,
) -> Dispatched:
    """居民点单: a resident asks for help; the best volunteers get an offer. ``per_hour``
    > 0 caps a member's requests in an hour (each reaches several volunteers)."""
    async with uow:
        council = await require_council(uow, council_id)
        requester = await active_member(uow, council_id, user_id)
        if per_hour > 0:
            assert requester.id is not None
            made = await uow.tasks.count_requests(requester.id, now - LIMIT_WINDOW)
            within_limit(made, per_hour, field="requests")
        text = clean_text(description, field="description", limit=MAX_DESCRIPTION)
        task = await uow.tasks.add(
            Task(
                council_id=council_id,
                title=" ".join(text.splitlines()[0].split())[:MAX_TITLE],
                description=text,
                skill=known_skill(council, skill),
                grid=requester.building,
                source=TaskSource.REQUEST,
                created_at=now,
                requester_member_id=requester.id,
                place=clean_text(place, field="place", limit=MAX_PLACE, required=False)
                or requester.household,
                photo=photo,
                created_by=user_id,
            )
        )
        dispatched = await offer_next_round(uow, council, task, now)
        await task_changed(uow, dispatched.task)
        await uow.commit()
        return dispatched


@dataclass(frozen=True)
class Assignee:
    """Who a resolution's task is for: a member unit, a team, or named people."""

    unit: str | None = None
    team: str | None = None
    user_ids: tuple[int, ...] = ()


async def create_task(
    uow: UnitOfWork,
    *,
    council_id: int,
    user_id: int,
    topic_id: int | None,
    title: str,
    assignee: Assignee,
    skill: str | None,
    due: datetime | None,
    now: datetime,
) -> Dispatched:
    """落实: a chair turns a resolution into a task for a unit, a team or people."""
    async with uow:
        council = await require_council(uow, council_id)
        council.require_chair(user_id)
        topic = await _decided_topic(uow, council_id, topic_id)
        if due is not None and due <= now:
            raise errors.InvalidInput(field="due")
        unit_id = team_id = None
        member_ids: frozenset[int] = frozenset()
        if assignee.unit:
            unit = await uow.units.by_name(council_id, assignee.unit)
            if unit is None:
                raise errors.NotFound(field="unit", name=assignee.unit)
            unit_id = unit.id
        elif assignee.team:
            team = await uow.teams.by_name(council_id, assignee.team)
            if team is None:
                raise errors.NotFound(field="team", name=assignee.team)
            team_id = team.id
        elif assignee.user_ids:
            if len(assignee.user_ids) > MAX_ASSIGNEES:
                raise errors.InvalidInput(field="assignees", limit=MAX_ASSIGNEES)
            members = await uow.members.by_users(council_id, list(assignee.user_ids))
            member_ids = frozenset(m.id for m in members.values() if m.id is not None)
            if not member_ids:
                raise errors.NotMember()
        task = await uow.tasks.add(
            Task(
                council_id=council_id,
                title=clean_text(title, field="title", limit=MAX_TITLE),
                description="",
                skill=known_skill(council, skill),
                grid="",
                source=TaskSource.RESOLUTION,
                created_at=now,
                topic_id=topic.id,
                unit_id=unit_id,
                team_id=team_id,
                member_ids=member_ids,
                due=due,
                created_by=user_id,
            )
        )
        dispatched = await offer_next_round(uow, council, task, now)
        await task_changed(uow, dispatched.task)
        await uow.commit()
        return dispatched


async def _decided_topic(uow: UnitOfWork, council_id: int, topic_id: int | None) -> Topic:
    if topic_id is not None:
        topic = await require_topic(uow, topic_id)
        if topic.council_id != council_id:
            raise errors.TopicNotFound()
    else:
        latest = await uow.topics.latest_decided(council_id)
        if latest is None:
            raise errors.NoDecidedTopic()
        topic = latest
    topic.require_phase(Phase.DECIDED)
    return topic
