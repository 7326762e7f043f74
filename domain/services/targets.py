"""Whom a roll or role command names: a person replied to, a member number, an address."""

from __future__ import annotations

from dataclasses import dataclass

from domain import errors
from domain.model import Council, Member, MemberStatus
from domain.ports import UnitOfWork
from domain.services.reading import require_council


@dataclass(frozen=True)
class Target:
    """What a command gave to name someone: the account (and name) of the person whose
    message it replied to, a member number (``#12``), or an address on the roll."""

    user_id: int | None = None
    name: str = ""
    member_id: int | None = None
    household: str | None = None


@dataclass(frozen=True)
class Person:
    """Who a target turned out to be, in which council: their roll entry if they have one
    (not removed), and their account if they have one."""

    council: Council
    member: Member | None
    user_id: int | None
    name: str


async def resolve(uow: UnitOfWork, council_id: int | None, by_user: int, target: Target) -> Person:
    """Within a transaction: the person ``target`` names. Without ``council_id`` (a private
    chat) a member number names its council, and an address is looked up in the councils
    ``by_user`` keeps; a person replied to needs the council of the chat."""
    if target.member_id is not None:
        member = await uow.members.get(target.member_id)
        if member is None or (council_id is not None and member.council_id != council_id):
            raise errors.NotFound(field="member", id=target.member_id)
        council = await require_council(uow, member.council_id)
        return _person(council, member)
    if target.household is not None:
        councils = (
            [await require_council(uow, council_id)]
            if council_id is not None
            else await uow.councils.of_person(by_user)
        )
        if not councils:
            raise errors.NotStaff()
        found = [
            (council, member)
            for council in councils
            for member in await _live(uow, council)
            if member.household == target.household
        ]
        if not found:
            raise errors.NotFound(field="household", id=target.household)
        if len(found) > 1:
            choices = ", ".join(f"#{m.id} {m.name}" for _, m in found)
            raise errors.Ambiguous(field="household", id=target.household, choices=choices)
        return _person(*found[0])
    if target.user_id is not None and council_id is not None:
        council = await require_council(uow, council_id)
        member = await uow.members.by_user(council_id, target.user_id)
        if member is not None and member.status is MemberStatus.REMOVED:
            member = None
        return Person(council, member, target.user_id, member.name if member else target.name)
    raise errors.InvalidInput(field="target")


async def _live(uow: UnitOfWork, council: Council) -> list[Member]:
    assert council.id is not None
    return await uow.members.list(council.id, (MemberStatus.ACTIVE, MemberStatus.PENDING))


def _person(council: Council, member: Member) -> Person:
    if member.status is MemberStatus.REMOVED:
        return Person(council, None, member.user_id, member.name)
    return Person(council, member, member.user_id, member.name)
