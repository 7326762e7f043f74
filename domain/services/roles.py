"""Roles: chairs (召集人), staff (社工 / 网格员), voters and participants (列席).

Chairs grant and revoke chair and staff; chairs and staff switch a member between
voter and participant. Every change writes a role event in its transaction, and a
council always keeps one chair. A chair's role follows the group's admins: a chair
who stops being an admin of the group (or leaves it) loses it, unless they are the
last chair, when the group is told the council needs another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain import errors
from domain.model import Council, Member, Notice, NoticeKind, Role, RoleEvent
from domain.notices import queue
from domain.ports import UnitOfWork
from domain.services.targets import Target, resolve


@dataclass(frozen=True)
class RoleChange:
    council: Council
    role: Role  # chair, staff, voter or participant: what the person now is or is not
    granted: bool
    name: str
    user_id: int | None
    member: Member | None


async def change_role(
    uow: UnitOfWork,
    *,
    council_id: int | None,
    by_user: int,
    role: Role,
    granted: bool,
    target: Target,
    now: datetime,
) -> RoleChange:
    """Grant or revoke ``role``. Revoking voter makes a participant and the reverse, so
    a member is always one of the two. Refuses (writing nothing) a role the person has
    already, or has not, and the last chair's revocation."""
    if role is Role.MEMBER:
        raise errors.InvalidInput(field="role", value=role.value)
    if role in (Role.VOTER, Role.PARTICIPANT) and not granted:
        role, granted = (Role.PARTICIPANT if role is Role.VOTER else Role.VOTER), True
    async with uow:
        person = await resolve(uow, council_id, by_user, target)
        council = person.council
        assert council.id is not None
        member = person.member
        if role in (Role.CHAIR, Role.STAFF):
            council.require_chair(by_user)
            if person.user_id is None:  # a roster row nobody has bound to an account yet
                raise errors.NotFound(field="account", name=person.name)
            people = council.chairs if role is Role.CHAIR else council.staff
            if (person.user_id in people) == granted:
                field = role.value if granted else f"not_{role.value}"
                raise errors.RoleUnchanged(field=field, name=person.name)
            if role is Role.CHAIR and not granted and len(council.chairs) == 1:
                raise errors.LastChair(name=person.name)
            if granted:
                people.add(person.user_id)
            else:
                people.discard(person.user_id)
            await uow.councils.update(council)
        else:
            council.require_staff(by_user)
            if member is None:
                raise errors.NotMember(field="target", name=person.name)
            voting = role is Role.VOTER
            if member.voting == voting:
                raise errors.RoleUnchanged(field=role.value, name=person.name)
            member.voting = voting
            await uow.members.update(member)
        await uow.roles.add(
            RoleEvent(
                council_id=council.id,
                role=role,
                granted=granted,
                at=now,
                user_id=person.user_id,
                member_id=member.id if member else None,
                by_user=by_user,
            )
        )
        await uow.commit()
        return RoleChange(council, role, granted, person.name, person.user_id, member)


@dataclass(frozen=True)
class ChairLeft:
    council: Council
    kept: bool  # the last chair: kept, and the group told it needs another


async def follow_admins(
    uow: UnitOfWork, *, chat_id: int, user_id: int, name: str, now: datetime
) -> list[ChairLeft]:
    """Someone stopped being an admin of the chat (or left it): wherever they chair a
    council of the chat they stop chairing it (a role event by nobody: the bot followed
    the group), unless they are its only chair. The group is told either way."""
    results: list[ChairLeft] = []
    async with uow:
        for council in await uow.councils.in_chat(chat_id):
            if not council.is_chair(user_id):
                continue
            assert council.id is not None
            kept = len(council.chairs) == 1
            if not kept:
                council.chairs.discard(user_id)
                await uow.councils.update(council)
                await uow.roles.add(
                    RoleEvent(council.id, Role.CHAIR, False, now, user_id=user_id, by_user=None)
                )
            await queue(
                uow,
                Notice(
                    key=f"chair_left:{council.id}:{user_id}:{now.isoformat()}",
                    kind=NoticeKind.CHAIR_LEFT,
                    council_id=council.id,
                    chat_id=council.chat_id,
                    thread_id=council.thread_id,
                    subject=council.id,
                    created_at=now,
                    params={"user_id": user_id, "name": name, "kept": kept},
                ),
            )
            results.append(ChairLeft(council, kept))
        if results:
            await uow.commit()
    return results


@dataclass(frozen=True)
class RolesView:
    council: Council
    participants: list[Member]
    members: dict[int, Member]  # user id -> roll entry, for the chairs and staff on it


async def roles_view(uow: UnitOfWork, *, council_id: int) -> RolesView:
    """Who chairs, who is staff, who takes part without a vote: names only, for anyone."""
    async with uow:
        council = await uow.councils.get(council_id)
        if council is None:
            raise errors.CouncilNotSetUp()
        active = await uow.members.list(council_id)
        people = council.chairs | council.staff
        return RolesView(
            council,
            [m for m in active if not m.voting],
            {m.user_id: m for m in active if m.user_id is not None and m.user_id in people},
        )
