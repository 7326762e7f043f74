"""Use cases of volunteers and dispatch: register, order help, offer, accept, finish.

A task comes from a resolution (``create_task``) or a resident's request
(``request_service``) and has one life cycle (``domain.dispatch.TaskState``).
Offers go out in rounds to the best-ranked candidates as private notices with
Accept / Decline buttons; a round ends when everyone in it declined, could not
be reached, or did not answer in time (the ``OFFER_EXPIRY`` job), and the next
round goes to the next candidates. When nobody is left, the group is told.

Every answer locks the task (``Lock.UPDATE``), so of two volunteers pressing
Accept at the same instant exactly one gets it and the other is told it is taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from domain import errors
from domain.dispatch import (
    CandidateFacts,
    HoursEntry,
    MemberUnit,
    Offer,
    OfferState,
    Task,
    TaskSource,
    TaskState,
    Team,
    Volunteer,
    next_round,
    service_hours,
)
from domain.model import (
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_PLACE,
    MAX_SKILL,
    MAX_TITLE,
    Council,
    Member,
    MemberStatus,
    Notice,
    NoticeKind,
    Phase,
    Topic,
)
from domain.ports import Lock, UnitOfWork
from domain.services import LIMIT_WINDOW, require_council, require_topic, within_limit

MAX_HOURS = Decimal(12)  # one task credits at most a long day's work
MAX_ASSIGNEES = 20
RECENT_TASKS = 15


def _text(text: str, *, field: str, limit: int, required: bool = True) -> str:
    text = " ".join(text.split()) if field != "description" else text.strip()
    if required and not text:
        raise errors.InvalidInput(field=field)
    if len(text) > limit:
        raise errors.TextTooLong(field=field, limit=limit, length=len(text))
    return text


async def _member(uow: UnitOfWork, council_id: int, user_id: int) -> Member:
    member = await uow.members.by_user(council_id, user_id)
    if member is None or member.status is not MemberStatus.ACTIVE:
        raise errors.NotMember()
    assert member.id is not None
    return member


def _skill(council: Council, skill: str | None) -> str | None:
    if skill is None:
        return None
    if skill not in council.all_skills:
        raise errors.UnknownSkill(skill=skill, skills=", ".join(council.all_skills))
    return skill


# --- the registry ----------------------------------------------------------------------


async def register_volunteer(
    uow: UnitOfWork,
    *,
    council_id: int,
    user_id: int,
    skills: Sequence[str],
    grid: str,
    team: str | None,
    available: bool,
    now: datetime,
) -> Registered:
    """Join (or update one's entry in) the council's volunteers; ``team`` None keeps
    the team one is in."""
    async with uow:
        council = await require_council(uow, council_id)
        member = await _member(uow, council_id, user_id)
        assert member.id is not None
        chosen = frozenset(s for s in (_skill(council, k) for k in skills) if s is not None)
        existing = await uow.volunteers.get(council_id, member.id)
        team_id = existing.team_id if existing else None
        if team:
            found = await uow.teams.by_name(council_id, team)
            if found is None:
                raise errors.NotFound(field="team", name=team)
            team_id = found.id
        volunteer = await uow.volunteers.put(
            Volunteer(
                member_id=member.id,
                council_id=council_id,
                skills=chosen,
                grid=_text(grid, field="grid", limit=MAX_NAME, required=False)
                or (existing.grid if existing else member.building),
                registered_at=existing.registered_at if existing else now,
                team_id=team_id,
                available=available,
            )
        )
        await uow.commit()
        return Registered(volunteer, await _team_name(uow, volunteer.team_id))


@dataclass(frozen=True)
class Registered:
    volunteer: Volunteer
    team: str | None

    @property
    def skills(self) -> frozenset[str]:
        return self.volunteer.skills

    @property
    def grid(self) -> str:
        return self.volunteer.grid

    @property
    def available(self) -> bool:
        return self.volunteer.available


async def _team_name(uow: UnitOfWork, team_id: int | None) -> str | None:
    team = await uow.teams.get(team_id) if team_id is not None else None
    return team.name if team else None


async def toggle_skill(
    uow: UnitOfWork, *, council_id: int, user_id: int, skill: str, now: datetime
) -> Volunteer:
    """A press on the skill picker: add the skill or take it away (registering if new)."""
    async with uow:
        council = await require_council(uow, council_id)
        member = await _member(uow, council_id, user_id)
        assert member.id is not None
        _skill(council, skill)
        volunteer = await uow.volunteers.get(council_id, member.id) or Volunteer(
            member_id=member.id,
            council_id=council_id,
            skills=frozenset(),
            grid=member.building,
            registered_at=now,
        )
        volunteer.skills = volunteer.skills ^ {skill}
        await uow.volunteers.put(volunteer)
        await uow.commit()
        return volunteer


async def volunteer_of(uow: UnitOfWork, *, council_id: int, user_id: int) -> Volunteer | None:
    async with uow:
        member = await uow.members.by_user(council_id, user_id)
        if member is None or member.id is None:
            return None
        return await uow.volunteers.get(council_id, member.id)


async def add_skill(uow: UnitOfWork, *, council_id: int, user_id: int, skill: str) -> Council:
    async with uow:
        council = await require_council(uow, council_id)
        council.require_chair(user_id)
        skill = _text(skill, field="skill", limit=MAX_SKILL)
        if skill not in council.all_skills:
            council.skills = (*council.skills, skill)
            await uow.councils.update(council)
        await uow.commit()
        return council


async def add_team(
    uow: UnitOfWork, *, council_id: int, user_id: int, name: str, leader_user_ids: Sequence[int]
) -> Team:
    async with uow:
        council = await require_council(uow, council_id)
        council.require_chair(user_id)
        leaders = await uow.members.by_users(council_id, list(leader_user_ids))
        team = await uow.teams.add(
            Team(
                council_id=council_id,
                name=_text(name, field="team", limit=MAX_NAME),
                leader_member_ids=frozenset(m.id for m in leaders.values() if m.id is not None),
            )
        )
        await uow.commit()
        return team


async def add_unit(
    uow: UnitOfWork,
    *,
    council_id: int,
    user_id: int,
    name: str,
    services: Sequence[str],
    contact_user_ids: Sequence[int],
) -> MemberUnit:
    async with uow:
        council = await require_council(uow, council_id)
        council.require_chair(user_id)
        unit = await uow.units.add(
            MemberUnit(
                council_id=council_id,
                name=_text(name, field="unit", limit=MAX_NAME),
                contact_user_ids=frozenset(contact_user_ids),
                services=frozenset(s for s in (_skill(council, k) for k in services) if s),
            )
        )
        await uow.commit()
        return unit


@dataclass(frozen=True)
class Registry:
    council: Council
    teams: list[Team]
    units: list[MemberUnit]
    volunteers: list[Volunteer]
    names: dict[int, str]  # member id -> name


async def registry(uow: UnitOfWork, *, council_id: int) -> Registry:
    async with uow:
        council = await require_council(uow, council_id)
        volunteers = await uow.volunteers.of_council(council_id)
        members = {m.id: m.name for m in await uow.members.list(council_id) if m.id is not None}
        return Registry(
            council,
            await uow.teams.of_council(council_id),
            await uow.units.of_council(council_id),
            volunteers,
            members,
        )


# --- where tasks come from -----------------------------------------------------------


@dataclass(frozen=True)
class Dispatched:
    task: Task
    offered: list[Offer] = field(default_factory=list)  # this round's new offers
    exhausted: bool = False  # nobody left to ask: the group was told


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
        requester = await _member(uow, council_id, user_id)
        if per_hour > 0:
            assert requester.id is not None
            made = await uow.tasks.count_requests(requester.id, now - LIMIT_WINDOW)
            within_limit(made, per_hour, field="requests")
        text = _text(description, field="description", limit=MAX_DESCRIPTION)
        task = await uow.tasks.add(
            Task(
                council_id=council_id,
                title=" ".join(text.splitlines()[0].split())[:MAX_TITLE],
                description=text,
                skill=_skill(council, skill),
                grid=requester.building,
                source=TaskSource.REQUEST,
                created_at=now,
                requester_member_id=requester.id,
                place=_text(place, field="place", limit=MAX_PLACE, required=False)
                or requester.household,
                photo=photo,
                created_by=user_id,
            )
        )
        dispatched = await _dispatch(uow, council, task, now)
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
                title=_text(title, field="title", limit=MAX_TITLE),
                description="",
                skill=_skill(council, skill),
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
        dispatched = await _dispatch(uow, council, task, now)
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


# --- offers -------------------------------------------------------------------------------


async def _candidates(uow: UnitOfWork, council: Council, task: Task) -> list[Volunteer]:
    """Who may be asked: the unit's contacts, the named people, the team, or everyone."""
    assert council.id is not None
    if task.unit_id is not None:
        unit = await uow.units.get(task.unit_id)
        contacts = await uow.members.by_users(
            council.id, sorted(unit.contact_user_ids if unit else ())
        )
        return [_as_volunteer(m, council.id) for m in contacts.values()]
    if task.member_ids:
        members = [await uow.members.get(member_id) for member_id in sorted(task.member_ids)]
        return [_as_volunteer(m, council.id) for m in members if m is not None]
    return await uow.volunteers.of_council(council.id, task.team_id)


def _as_volunteer(member: Member, council_id: int) -> Volunteer:
    """A unit's contact or a named member is asked whether or not they registered."""
    assert member.id is not None
    return Volunteer(
        member_id=member.id,
        council_id=council_id,
        skills=frozenset(),
        grid=member.building,
        registered_at=member.joined_at,
    )


def _round_size(council: Council, task: Task, pool: int) -> int:
    """A request asks a few at a time; a unit, a team or named people are all asked."""
    if task.source is TaskSource.REQUEST and task.team_id is None:
        return council.offer_round
    return pool


async def _dispatch(uow: UnitOfWork, council: Council, task: Task, now: datetime) -> Dispatched:
    """Offer ``task`` to the next round of candidates, or tell the group nobody is left."""
    assert task.id is not None
    candidates = await _candidates(uow, council, task)
    members = await _members(uow, [v.member_id for v in candidates])
    active = {m.id for m in members if m.status is MemberStatus.ACTIVE}
    # Whoever asked for help is not asked to give it; nor is anyone off the roll.
    pool = [
        v for v in candidates if v.member_id in active and v.member_id != task.requester_member_id
    ]
    offers = await uow.offers.for_task(task.id)
    asked = {o.member_id for o in offers}
    declined = {o.member_id for o in offers if o.state is OfferState.DECLINED}
    ids = [v.member_id for v in pool]
    load = await uow.tasks.open_load(ids)
    last = await uow.offers.last_offered(ids)
    facts = [
        CandidateFacts(
            volunteer=v,
            open_load=load.get(v.member_id, 0),
            last_offered_at=last.get(v.member_id),
            declined_this_task=v.member_id in declined,
            already_offered_this_task=v.member_id in asked,
        )
        for v in pool
    ]
    # A unit's contacts and named people were chosen by the chair: no skill to match.
    chosen_by_chair = task.unit_id is not None or bool(task.member_ids)
    ranked = replace(task, skill=None) if chosen_by_chair else task
    chosen = next_round(ranked, facts, now, _round_size(council, task, len(pool)))
    if not chosen:
        task.expire(now)
        await uow.tasks.update(task)
        await uow.notices.add(_group_notice(council, task, NoticeKind.TASK_EXHAUSTED, now))
        return Dispatched(task, [], exhausted=True)
    round_ = task.offer()
    await uow.tasks.update(task)
    expires = now + timedelta(minutes=council.offer_minutes)
    people = {m.id: m for m in members}
    # A roster row with no account has nobody to message: offered, and unreachable.
    offers = await uow.offers.add_many(
        [
            Offer(
                task.id,
                v.member_id,
                round_,
                now,
                expires,
                state=OfferState.PENDING if _user(people, v) else OfferState.UNREACHABLE,
                answered_at=None if _user(people, v) else now,
            )
            for v in chosen
        ]
    )
    made = [offer for offer in offers if offer.is_pending]
    notices = []
    for offer in made:
        person = people[offer.member_id]
        assert offer.id is not None and person.user_id is not None
        notices.append(
            Notice(
                key=f"offer:{offer.id}",
                kind=NoticeKind.OFFER,
                council_id=task.council_id,
                chat_id=person.user_id,
                subject=offer.id,
                created_at=now,
                private=True,
                params={
                    "task": task.id,
                    "group": council.chat_id,
                    "thread": council.thread_id,
                    "language": person.language,
                },
            )
        )
    await uow.notices.add_many(notices)
    if not made:
        return await _dispatch(uow, council, task, now)
    return Dispatched(task, made)


def _user(people: dict[int | None, Member], volunteer: Volunteer) -> int | None:
    person = people.get(volunteer.member_id)
    return person.user_id if person else None


async def _members(uow: UnitOfWork, member_ids: Sequence[int]) -> list[Member]:
    found = await uow.members.by_ids(member_ids)
    return [found[i] for i in member_ids if i in found]


def _group_notice(council: Council, task: Task, kind: NoticeKind, now: datetime) -> Notice:
    assert task.id is not None
    return Notice(
        key=f"task:{task.id}:{kind.value}:{task.round}",
        kind=kind,
        council_id=task.council_id,
        chat_id=council.chat_id,
        thread_id=council.thread_id,
        subject=task.id,
        created_at=now,
    )


async def _round_over(uow: UnitOfWork, task: Task) -> bool:
    assert task.id is not None
    offers = await uow.offers.for_task(task.id)
    return not any(o.state is OfferState.PENDING and o.round == task.round for o in offers)


@dataclass(frozen=True)
class Answered:
    task: Task
    offer: Offer
    accepted: bool
    next: Dispatched | None = None  # a decline that ended the round sent the next one


async def answer_offer(
    uow: UnitOfWork, *, offer_id: int, user_id: int, accept: bool, now: datetime
) -> Answered:
    """A volunteer's Accept or Decline. The first accept wins; a later one is told
    the task is taken (``TaskTaken``), and pressing the same answer twice changes nothing."""
    async with uow:
        offer = await uow.offers.get(offer_id)
        if offer is None:
            raise errors.StaleButton()
        task = await uow.tasks.get(offer.task_id, lock=Lock.UPDATE)
        assert task is not None and task.id is not None
        council = await require_council(uow, task.council_id)
        member = await _member(uow, task.council_id, user_id)
        if member.id != offer.member_id:
            raise errors.StaleButton()  # an offer forwarded to someone else
        offer = await uow.offers.get(offer_id)  # again, now that the task is locked
        assert offer is not None
        if task.state in (TaskState.CANCELLED, TaskState.EXPIRED):
            raise errors.WrongPhase(field="task", task_state=task.state.value, to="accepted")
        if not accept:
            if offer.state is OfferState.DECLINED:
                return Answered(task, offer, accepted=False)
            if offer.state is OfferState.PENDING:
                offer.close(OfferState.DECLINED, now)
                await uow.offers.update(offer)
            following = None
            if task.state is TaskState.OFFERED and await _round_over(uow, task):
                following = await _dispatch(uow, council, task, now)
            await uow.commit()
            return Answered(task, offer, accepted=False, next=following)
        fresh = task.accept(member.id, now)  # TaskTaken when someone else was first
        if not fresh:
            return Answered(task, offer, accepted=True)
        if offer.state is OfferState.PENDING:
            offer.close(OfferState.ACCEPTED, now)
        else:  # expired or declined, but the task was still free: take it all the same
            offer.state, offer.answered_at = OfferState.ACCEPTED, now
        await uow.offers.update(offer)
        for other in await uow.offers.for_task(task.id):
            if other.id != offer.id and other.state is OfferState.PENDING:
                other.close(OfferState.WITHDRAWN, now)
                await uow.offers.update(other)
        await uow.tasks.update(task)
        if task.requester_member_id is not None:
            await _tell_requester(uow, council, task, NoticeKind.TASK_ACCEPTED, now)
        await uow.commit()
        return Answered(task, offer, accepted=True)


async def _tell_requester(
    uow: UnitOfWork, council: Council, task: Task, kind: NoticeKind, now: datetime
) -> None:
    assert task.id is not None and task.requester_member_id is not None
    requester = await uow.members.get(task.requester_member_id)
    if requester is None or requester.user_id is None:
        return
    reachable = await uow.contacts.reachable([requester.user_id])
    private = requester.user_id in reachable
    await uow.notices.add(
        Notice(
            key=f"task:{task.id}:{kind.value}",
            kind=kind,
            council_id=task.council_id,
            chat_id=requester.user_id if private else council.chat_id,
            thread_id=0 if private else council.thread_id,
            subject=task.id,
            created_at=now,
            private=private,
            params={"group": council.chat_id, "thread": council.thread_id},
        )
    )


async def expire_round(uow: UnitOfWork, task_id: int, now: datetime) -> Dispatched | None:
    """Within a transaction (the ``OFFER_EXPIRY`` job): unanswered offers whose time ran
    out expire, and when the round is over the next one goes out.

    Returns None when there was nothing more to do (answered or moved on meanwhile).
    """
    task = await uow.tasks.get(task_id, lock=Lock.UPDATE)
    if task is None or task.state is not TaskState.OFFERED:
        return None
    for offer in await uow.offers.for_task(task_id):
        if offer.is_due(now):
            offer.close(OfferState.EXPIRED, now)
            await uow.offers.update(offer)
    if not await _round_over(uow, task):
        return None
    council = await require_council(uow, task.council_id)
    return await _dispatch(uow, council, task, now)


async def offer_unreachable(uow: UnitOfWork, offer: Offer, now: datetime) -> bool:
    """Within a transaction: the volunteer never started the bot (403). They are named
    in the group and asked to start it; the task goes on to others. True when
    something was queued."""
    task = await uow.tasks.get(offer.task_id, lock=Lock.UPDATE)
    if task is None or offer.state is not OfferState.PENDING:
        return False
    offer.close(OfferState.UNREACHABLE, now)
    await uow.offers.update(offer)
    council = await require_council(uow, task.council_id)
    member = await uow.members.get(offer.member_id)
    assert offer.id is not None
    await uow.notices.add(
        Notice(
            key=f"offer:{offer.id}:unreachable",
            kind=NoticeKind.OFFER_UNREACHABLE,
            council_id=task.council_id,
            chat_id=council.chat_id,
            thread_id=council.thread_id,
            subject=offer.task_id,
            created_at=now,
            params={"members": [[member.user_id if member else 0, member.name if member else ""]]},
        )
    )
    if task.state is TaskState.OFFERED and await _round_over(uow, task):
        await _dispatch(uow, council, task, now)
    return True


async def offer_sent(uow: UnitOfWork, *, offer_id: int, message_ref: int) -> None:
    async with uow:
        if await remember_offer_message(uow, offer_id, message_ref):
            await uow.commit()


async def remember_offer_message(uow: UnitOfWork, offer_id: int, message_ref: int) -> bool:
    """Within a transaction: which message carries the offer, to edit it once answered."""
    offer = await uow.offers.get(offer_id)
    if offer is None:
        return False
    offer.message_ref = message_ref
    await uow.offers.update(offer)
    return True


# --- done, hours, lists ----------------------------------------------------------------


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
        task.note = _text(note, field="note", limit=MAX_DESCRIPTION, required=False)
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
            await _tell_requester(uow, council, task, NoticeKind.TASK_DONE, now)
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
    names = {m.id: m.name for m in await _members(uow, sorted(ids)) if m.id is not None}
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


async def topic_progress(uow: UnitOfWork, *, topic_id: int) -> tuple[list[Task], dict[int, str]]:
    """A resolution's tasks, and the names of those who took them."""
    async with uow:
        tasks = await uow.tasks.for_topic(topic_id)
        doers = sorted({t.accepted_by for t in tasks if t.accepted_by is not None})
        names = {m.id: m.name for m in await _members(uow, doers) if m.id is not None}
        return tasks, names


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
        member = await _member(uow, council_id, user_id)
        assert member.id is not None
        mine = await uow.hours.total(council_id, member.id)
        volunteer = await uow.volunteers.get(council_id, member.id)
        team = None
        team_hours: dict[int, Decimal] = {}
        if volunteer is not None and volunteer.team_id is not None:
            team = await uow.teams.get(volunteer.team_id)
            team_hours = await uow.hours.by_member(council_id, volunteer.team_id)
        names = {m.id: m.name for m in await _members(uow, sorted(team_hours)) if m.id}
        return HoursView(council, member, mine, team, team_hours, names)
