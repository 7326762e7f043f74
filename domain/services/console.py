"""What the staff console reads besides the chat's use cases: the council at a glance,
and a member's web access (login keys and sign-in trail). Chairs and staff only."""

from __future__ import annotations

from dataclasses import dataclass

from domain import errors
from domain.model import Council, Member, MemberStatus
from domain.ports import UnitOfWork
from domain.services.council import RollView
from domain.services.reading import require_council
from domain.web_access import AccessEvent, LoginKey

TRAIL = 50  # sign-in events shown for one member, newest first


@dataclass(frozen=True)
class Overview:
    roll: RollView
    open_topics: int  # collecting opinions or voting
    open_ballots: int


async def overview(uow: UnitOfWork, *, council_id: int, user_id: int) -> Overview:
    """Members, households, verified area, joins waiting, topics and ballots open."""
    async with uow:
        council = await require_council(uow, council_id)
        council.require_staff(user_id)
        members = await uow.members.list(council_id, (MemberStatus.ACTIVE,))
        pending = await uow.members.list(council_id, (MemberStatus.PENDING,))
        topics = await uow.topics.active(council_id)
        ballots = await uow.ballots.open(council_id)
        return Overview(RollView(council, members, pending), len(topics), len(ballots))


@dataclass(frozen=True)
class MemberAccess:
    council: Council
    member: Member
    keys: list[LoginKey]  # every key issued, in force or revoked
    trail: list[AccessEvent]  # newest first

    @property
    def key_in_force(self) -> bool:
        return any(k.revoked_at is None for k in self.keys)


async def member_access(
    uow: UnitOfWork, *, council_id: int, user_id: int, member_id: int
) -> MemberAccess:
    """A member's roll entry with its login keys and sign-in trail (``NotFound`` for a
    member of another council)."""
    async with uow:
        council = await require_council(uow, council_id)
        council.require_staff(user_id)
        member = await uow.members.get(member_id)
        if member is None or member.council_id != council_id:
            raise errors.NotFound(field="member", id=member_id)
        keys = await uow.web.keys_of(member_id)
        trail = await uow.web.trail(council_id, member_id=member_id, limit=TRAIL)
        return MemberAccess(council, member, keys, trail)
