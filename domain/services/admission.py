"""Who is on the roll: approving or rejecting a join, removing a member, what waits for
staff (joins, flats to verify), and the council's settings for joining.

A resident's address goes only to chairs and staff, in private chats: the approval
request is a private notice to each of them the bot can write to, and ``/pending``
lists the same privately.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain import errors
from domain.model import Council, Member, MemberStatus, Notice, NoticeKind, Role, RoleEvent
from domain.notices import queue
from domain.ports import UnitOfWork
from domain.services.reading import require_council
from domain.services.targets import Target, resolve


async def approval_notices(
    uow: UnitOfWork, council: Council, member: Member, now: datetime
) -> list[Notice]:
    """Within a transaction: the request to approve ``member``'s join, one for each chair
    and staff member the bot can write to privately."""
    assert council.id is not None and member.id is not None
    staff = sorted(council.chairs | council.staff)
    reachable = await uow.contacts.reachable(staff)
    return [
        Notice(
            key=f"join:{member.id}:{member.joined_at.isoformat()}:{user_id}",
            kind=NoticeKind.JOIN_PENDING,
            council_id=council.id,
            chat_id=user_id,
            subject=member.id,
            created_at=now,
            private=True,
        )
        for user_id in staff
        if user_id in reachable
    ]


@dataclass(frozen=True)
class Admitted:
    council: Council
    member: Member
    approved: bool


async def decide_join(
    uow: UnitOfWork, *, member_id: int, by_user: int, approve: bool, now: datetime
) -> Admitted:
    """A chair or staff member approves or rejects a join waiting for approval; the
    applicant is told privately (in the group, by name only, when the bot cannot write
    to them). A join already decided is refused with what became of it."""
    async with uow:
        member = await uow.members.get(member_id)
        if member is None:
            raise errors.NotFound(field="member", id=member_id)
        council = await require_council(uow, member.council_id)
        council.require_staff(by_user)
        if member.status is not MemberStatus.PENDING:
            raise errors.NotPending(field=member.status.value, name=member.name)
        member.status = MemberStatus.ACTIVE if approve else MemberStatus.REMOVED
        await uow.members.update(member)
        assert council.id is not None and member.id is not None
        await uow.roles.add(
            RoleEvent(
                council.id,
                Role.MEMBER,
                approve,
                now,
                user_id=member.user_id,
                member_id=member.id,
                by_user=by_user,
            )
        )
        reachable = member.user_id is not None and bool(
            await uow.contacts.reachable([member.user_id])
        )
        await queue(
            uow,
            Notice(
                key=f"join:{member.id}:{member.joined_at.isoformat()}:decided",
                kind=NoticeKind.JOIN_DECIDED,
                council_id=council.id,
                chat_id=member.user_id if reachable and member.user_id else council.chat_id,
                thread_id=0 if reachable else council.thread_id,
                subject=member.id,
                created_at=now,
                private=reachable,
                params={"approved": approve, "language": member.language or ""},
            ),
        )
        await uow.commit()
        return Admitted(council, member, approve)


@dataclass(frozen=True)
class Waiting:
    """What waits for a council's chairs and staff: joins to decide, and active members'
    self-declared flats to verify."""

    council: Council
    joins: list[Member]
    flats: list[Member]


async def waiting(uow: UnitOfWork, *, user_id: int) -> list[Waiting]:
    """For each council the user chairs or staffs: what waits for them (``/pending``)."""
    async with uow:
        councils = await uow.councils.of_person(user_id)
        if not councils:
            raise errors.NotStaff()
        found = []
        for council in councils:
            assert council.id is not None
            joins = await uow.members.list(council.id, (MemberStatus.PENDING,))
            active = await uow.members.list(council.id, (MemberStatus.ACTIVE,))
            flats = [m for m in active if any(not f.verified for f in m.flats)]
            found.append(Waiting(council, joins, flats))
        return found


@dataclass(frozen=True)
class Entry:
    council: Council
    member: Member


async def entry(uow: UnitOfWork, *, member_id: int, user_id: int) -> Entry:
    """A member's roll entry with its address and flats: for chairs and staff only."""
    async with uow:
        member = await uow.members.get(member_id)
        if member is None:
            raise errors.NotFound(field="member", id=member_id)
        council = await require_council(uow, member.council_id)
        council.require_staff(user_id)
        return Entry(council, member)


async def remove_member(
    uow: UnitOfWork, *, council_id: int | None, by_user: int, target: Target, now: datetime
) -> Admitted:
    """Chairs and staff take a member off the roll. The entry stays, REMOVED, with its
    votes and proposals: the history of what the council decided does not change."""
    async with uow:
        person = await resolve(uow, council_id, by_user, target)
        council = person.council
        council.require_staff(by_user)
        member = person.member
        if member is None:
            raise errors.NotMember(field="target", name=person.name)
        assert council.id is not None and member.id is not None
        member.status = MemberStatus.REMOVED
        await uow.members.update(member)
        await uow.roles.add(
            RoleEvent(
                council.id,
                Role.MEMBER,
                False,
                now,
                user_id=member.user_id,
                member_id=member.id,
                by_user=by_user,
            )
        )
        await uow.commit()
        return Admitted(council, member, False)


async def set_joining(
    uow: UnitOfWork,
    *,
    council_id: int,
    by_user: int,
    require_approval: bool | None = None,
    self_join: bool | None = None,
) -> Council:
    """A chair switches whether joins wait for approval and whether residents may
    ``/join`` at all (else staff add them, by the roster import)."""
    async with uow:
        council = await require_council(uow, council_id)
        if require_approval is None and self_join is None:
            return council
        council.require_chair(by_user)
        before = (council.require_approval, council.self_join)
        if require_approval is not None:
            council.require_approval = require_approval
        if self_join is not None:
            council.self_join = self_join
        if (council.require_approval, council.self_join) != before:
            await uow.councils.update(council)
            await uow.commit()
        return council
