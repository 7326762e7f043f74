"""The registry: volunteers and their skills, teams, member units."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain import errors
from domain.model import MAX_NAME, MAX_SKILL, Council
from domain.ports import UnitOfWork
from domain.services import require_council
from domain.task_rules import MemberUnit, Team, Volunteer
from domain.volunteering.reading import active_member, clean_text, known_skill


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
        member = await active_member(uow, council_id, user_id)
        assert member.id is not None
        chosen = frozenset(s for s in (known_skill(council, k) for k in skills) if s is not None)
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
                grid=clean_text(grid, field="grid", limit=MAX_NAME, required=False)
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
        member = await active_member(uow, council_id, user_id)
        assert member.id is not None
        known_skill(council, skill)
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
        skill = clean_text(skill, field="skill", limit=MAX_SKILL)
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
                name=clean_text(name, field="team", limit=MAX_NAME),
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
                name=clean_text(name, field="unit", limit=MAX_NAME),
                contact_user_ids=frozenset(contact_user_ids),
                services=frozenset(s for s in (known_skill(council, k) for k in services) if s),
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
