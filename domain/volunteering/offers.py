"""Offers: each round to the best-ranked candidates, answers, expiry, the unreachable."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from domain import errors
from domain.events import TopicChanged
from domain.model import Council, Member, MemberStatus, Notice, NoticeKind
from domain.notices import queue
from domain.ports import Lock, UnitOfWork
from domain.schedule import Subject
from domain.services import require_council
from domain.services.planning import replan
from domain.task_rules import (
    CandidateFacts,
    Offer,
    OfferState,
    Task,
    TaskSource,
    TaskState,
    Volunteer,
    next_round,
)
from domain.volunteering.reading import active_member, members_in_order


@dataclass(frozen=True)
class Dispatched:
    task: Task
    offered: list[Offer] = field(default_factory=list)  # this round's new offers
    exhausted: bool = False  # nobody left to ask: the group was told


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


async def offer_next_round(
    uow: UnitOfWork, council: Council, task: Task, now: datetime
) -> Dispatched:
    """Offer ``task`` to the next round of candidates, or tell the group nobody is left."""
    assert task.id is not None
    candidates = await _candidates(uow, council, task)
    members = await members_in_order(uow, [v.member_id for v in candidates])
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
        await queue(
            uow,
            _group_notice(council, task, NoticeKind.TASK_EXHAUSTED, now),
            *await _to_staff(uow, council, task, NoticeKind.TASK_EXHAUSTED, now),
        )
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
    await queue(uow, *notices)
    if not made:
        return await offer_next_round(uow, council, task, now)
    return Dispatched(task, made)


def _user(people: dict[int | None, Member], volunteer: Volunteer) -> int | None:
    person = people.get(volunteer.member_id)
    return person.user_id if person else None


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


async def _to_staff(
    uow: UnitOfWork, council: Council, task: Task, kind: NoticeKind, now: datetime
) -> list[Notice]:
    """A resident's request shows its address and details only privately: to the chairs
    and staff who can be written to (the group's notice names the chairs for the rest)."""
    if task.source is not TaskSource.REQUEST:
        return []
    assert task.id is not None
    staff = sorted(council.chairs | council.staff)
    reachable = await uow.contacts.reachable(staff)
    return [
        Notice(
            key=f"task:{task.id}:{kind.value}:{task.round}:{user_id}",
            kind=kind,
            council_id=task.council_id,
            chat_id=user_id,
            subject=task.id,
            created_at=now,
            private=True,
        )
        for user_id in staff
        if user_id in reachable
    ]


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
        member = await active_member(uow, task.council_id, user_id)
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
                following = await offer_next_round(uow, council, task, now)
            await task_changed(uow, task)
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
            await tell_requester(uow, council, task, NoticeKind.TASK_ACCEPTED, now)
        await task_changed(uow, task)
        await uow.commit()
        return Answered(task, offer, accepted=True)


async def task_changed(uow: UnitOfWork, task: Task) -> None:
    """Within a transaction that changed a task: its expiry job follows its offers, and
    the card of the topic it carries out shows its progress."""
    assert task.id is not None
    await replan(uow, Subject.TASK, task.id)
    if task.topic_id is not None:
        uow.record(TopicChanged(task.topic_id))


async def tell_requester(
    uow: UnitOfWork, council: Council, task: Task, kind: NoticeKind, now: datetime
) -> None:
    """Within a transaction: a notice to whoever asked for the task, privately when the
    bot can write to them, else in the group."""
    assert task.id is not None and task.requester_member_id is not None
    requester = await uow.members.get(task.requester_member_id)
    if requester is None or requester.user_id is None:
        return
    reachable = await uow.contacts.reachable([requester.user_id])
    private = requester.user_id in reachable
    await queue(
        uow,
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
        ),
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
    return await offer_next_round(uow, council, task, now)


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
    await queue(
        uow,
        Notice(
            key=f"offer:{offer.id}:unreachable",
            kind=NoticeKind.OFFER_UNREACHABLE,
            council_id=task.council_id,
            chat_id=council.chat_id,
            thread_id=council.thread_id,
            subject=offer.task_id,
            created_at=now,
            params={"members": [[member.user_id if member else 0, member.name if member else ""]]},
        ),
    )
    if task.state is TaskState.OFFERED and await _round_over(uow, task):
        await offer_next_round(uow, council, task, now)
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
