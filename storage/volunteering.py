"""Repositories of volunteers, teams, member units, tasks, offers and service hours."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, case, func, select, update

from domain import errors
from domain.ports import HoursSum, Lock, RequestWaits
from domain.task_rules import (
    HoursEntry,
    MemberUnit,
    Offer,
    OfferState,
    Task,
    TaskSource,
    TaskState,
    Team,
    Volunteer,
)
from storage.base import CHUNK, Repository, required
from storage.orm import HoursRow, OfferRow, TaskRow, TeamRow, UnitRow, VolunteerRow


def _volunteer(row: VolunteerRow) -> Volunteer:
    return Volunteer(
        member_id=row.member_id,
        council_id=row.council_id,
        skills=frozenset(row.skills),
        grid=row.grid,
        registered_at=row.registered_at,
        team_id=row.team_id,
        available=row.available,
    )


class SqlVolunteerRepository(Repository):
    async def get(self, council_id: int, member_id: int) -> Volunteer | None:
        row = await self.session.get(VolunteerRow, (council_id, member_id))
        return None if row is None else _volunteer(row)

    async def put(self, volunteer: Volunteer) -> Volunteer:
        values = {
            "skills": sorted(volunteer.skills),
            "grid": volunteer.grid,
            "team_id": volunteer.team_id,
            "available": volunteer.available,
            "registered_at": volunteer.registered_at,
        }
        await self.session.execute(
            self.insert(VolunteerRow)
            .values(council_id=volunteer.council_id, member_id=volunteer.member_id, **values)
            .on_conflict_do_update(index_elements=["council_id", "member_id"], set_=values)
        )
        return volunteer

    async def of_council(self, council_id: int, team_id: int | None = None) -> list[Volunteer]:
        statement = select(VolunteerRow).where(VolunteerRow.council_id == council_id)
        if team_id is not None:
            statement = statement.where(VolunteerRow.team_id == team_id)
        rows = await self.session.scalars(
            statement.order_by(VolunteerRow.member_id).execution_options(populate_existing=True)
        )
        return [_volunteer(row) for row in rows]


class _Named(Repository):
    """Teams and units: named per council, the name unique within it."""

    row: Any

    async def _add(self, council_id: int, name: str, values: dict[str, Any]) -> int:
        added = await self.session.scalar(
            self.insert(self.row)
            .values(council_id=council_id, name=name, **values)
            .on_conflict_do_nothing(index_elements=["council_id", "name"])
            .returning(self.row.id)
        )
        if added is None:
            raise errors.AlreadyExists(name=name)
        return int(added)

    async def _by_name(self, council_id: int, name: str) -> Any:
        return await self.session.scalar(
            select(self.row).where(self.row.council_id == council_id, self.row.name == name)
        )

    async def _of_council(self, council_id: int) -> Sequence[Any]:
        rows = await self.session.scalars(
            select(self.row).where(self.row.council_id == council_id).order_by(self.row.id)
        )
        return list(rows)


def _team(row: TeamRow) -> Team:
    return Team(
        id=row.id,
        council_id=row.council_id,
        name=row.name,
        leader_member_ids=frozenset(row.leader_member_ids),
    )


class SqlTeamRepository(_Named):
    row = TeamRow

    async def get(self, team_id: int) -> Team | None:
        row = await self.session.get(TeamRow, team_id)
        return None if row is None else _team(row)

    async def by_name(self, council_id: int, name: str) -> Team | None:
        row = await self._by_name(council_id, name)
        return None if row is None else _team(row)

    async def add(self, team: Team) -> Team:
        leaders = sorted(team.leader_member_ids)
        team.id = await self._add(team.council_id, team.name, {"leader_member_ids": leaders})
        return team

    async def update(self, team: Team) -> None:
        await self.session.execute(
            update(TeamRow)
            .where(TeamRow.id == required(team.id, "team"))
            .values(name=team.name, leader_member_ids=sorted(team.leader_member_ids))
        )

    async def of_council(self, council_id: int) -> list[Team]:
        return [_team(row) for row in await self._of_council(council_id)]


def _unit(row: UnitRow) -> MemberUnit:
    return MemberUnit(
        id=row.id,
        council_id=row.council_id,
        name=row.name,
        contact_user_ids=frozenset(row.contact_user_ids),
        services=frozenset(row.services),
    )


class SqlUnitRepository(_Named):
    row = UnitRow

    async def get(self, unit_id: int) -> MemberUnit | None:
        row = await self.session.get(UnitRow, unit_id)
        return None if row is None else _unit(row)

    async def by_name(self, council_id: int, name: str) -> MemberUnit | None:
        row = await self._by_name(council_id, name)
        return None if row is None else _unit(row)

    async def add(self, unit: MemberUnit) -> MemberUnit:
        values = {
            "contact_user_ids": sorted(unit.contact_user_ids),
            "services": sorted(unit.services),
        }
        unit.id = await self._add(unit.council_id, unit.name, values)
        return unit

    async def update(self, unit: MemberUnit) -> None:
        await self.session.execute(
            update(UnitRow)
            .where(UnitRow.id == required(unit.id, "unit"))
            .values(
                name=unit.name,
                contact_user_ids=sorted(unit.contact_user_ids),
                services=sorted(unit.services),
            )
        )

    async def of_council(self, council_id: int) -> list[MemberUnit]:
        return [_unit(row) for row in await self._of_council(council_id)]


def _task(row: TaskRow) -> Task:
    return Task(
        id=row.id,
        council_id=row.council_id,
        title=row.title,
        description=row.description,
        skill=row.skill,
        grid=row.grid,
        place=row.place,
        source=TaskSource(row.source),
        topic_id=row.topic_id,
        requester_member_id=row.requester_member_id,
        unit_id=row.unit_id,
        team_id=row.team_id,
        member_ids=frozenset(row.member_ids),
        due=row.due,
        state=TaskState(row.state),
        round=row.round,
        accepted_by=row.accepted_by,
        accepted_at=row.accepted_at,
        closed_at=row.closed_at,
        hours=row.hours,
        photo=row.photo,
        note=row.note,
        confirmed=row.confirmed,
        card_ref=row.card_ref,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _task_values(task: Task) -> dict[str, Any]:
    return {
        "council_id": task.council_id,
        "title": task.title,
        "description": task.description,
        "skill": task.skill,
        "grid": task.grid,
        "place": task.place,
        "source": task.source.value,
        "topic_id": task.topic_id,
        "requester_member_id": task.requester_member_id,
        "unit_id": task.unit_id,
        "team_id": task.team_id,
        "member_ids": sorted(task.member_ids),
        "due": task.due,
        "state": task.state.value,
        "round": task.round,
        "accepted_by": task.accepted_by,
        "accepted_at": task.accepted_at,
        "closed_at": task.closed_at,
        "hours": task.hours,
        "photo": task.photo,
        "note": task.note,
        "confirmed": task.confirmed,
        "card_ref": task.card_ref,
        "created_by": task.created_by,
        "created_at": task.created_at,
    }


OPEN_STATES = (TaskState.OPEN.value, TaskState.OFFERED.value, TaskState.ACCEPTED.value)


class SqlTaskRepository(Repository):
    async def count_requests(self, member_id: int, since: datetime) -> int:
        found = await self.session.scalar(
            select(func.count())
            .select_from(TaskRow)
            .where(
                TaskRow.requester_member_id == member_id,
                TaskRow.source == TaskSource.REQUEST.value,
                TaskRow.created_at >= since,
            )
        )
        return int(found or 0)

    async def get(self, task_id: int, lock: Lock = Lock.NONE) -> Task | None:
        statement = select(TaskRow).where(TaskRow.id == task_id)
        if lock is not Lock.NONE:
            # SQLite: BEGIN IMMEDIATE already holds the write lock; the clause is dropped.
            statement = statement.with_for_update()
        row = await self.session.scalar(statement.execution_options(populate_existing=True))
        return None if row is None else _task(row)

    async def add(self, task: Task) -> Task:
        task.id = await self.session.scalar(
            self.insert(TaskRow).values(**_task_values(task)).returning(TaskRow.id)
        )
        return task

    async def update(self, task: Task) -> None:
        await self.session.execute(
            update(TaskRow)
            .where(TaskRow.id == required(task.id, "task"))
            .values(**_task_values(task))
        )

    async def for_topic(self, topic_id: int) -> list[Task]:
        rows = await self.session.scalars(
            select(TaskRow).where(TaskRow.topic_id == topic_id).order_by(TaskRow.id)
        )
        return [_task(row) for row in rows]

    async def recent(self, council_id: int, limit: int) -> list[Task]:
        is_open = TaskRow.state.in_(OPEN_STATES)
        rows = await self.session.scalars(
            select(TaskRow)
            .where(TaskRow.council_id == council_id)
            .order_by(is_open.desc(), TaskRow.id.desc())
            .limit(limit)
        )
        return [_task(row) for row in rows]

    async def open_load(self, member_ids: Sequence[int]) -> dict[int, int]:
        if not member_ids:
            return {}
        rows = await self.session.execute(
            select(TaskRow.accepted_by, func.count())
            .where(
                TaskRow.accepted_by.in_(list(member_ids)),
                TaskRow.state == TaskState.ACCEPTED.value,
            )
            .group_by(TaskRow.accepted_by)
        )
        return {member_id: int(count) for member_id, count in rows if member_id is not None}

    async def of_council(
        self, council_id: int, states: Sequence[TaskState], limit: int
    ) -> list[Task]:
        if not states or limit <= 0:
            return []
        rows = await self.session.scalars(
            select(TaskRow)
            .where(TaskRow.council_id == council_id, TaskRow.state.in_([s.value for s in states]))
            .order_by(
                func.coalesce(TaskRow.closed_at, TaskRow.created_at).desc(), TaskRow.id.desc()
            )
            .limit(limit)
        )
        return [_task(row) for row in rows]

    async def count_by_state(self, council_id: int) -> dict[TaskState, int]:
        rows = await self.session.execute(
            select(TaskRow.state, func.count())
            .where(TaskRow.council_id == council_id)
            .group_by(TaskRow.state)
        )
        return {TaskState(state): int(count) for state, count in rows}

    async def request_waits(
        self, council_id: int, since: datetime | None, until: datetime | None
    ) -> dict[str | None, RequestWaits]:
        where = [TaskRow.council_id == council_id, TaskRow.source == TaskSource.REQUEST.value]
        if since is not None:
            where.append(TaskRow.created_at >= since)
        if until is not None:
            where.append(TaskRow.created_at < until)
        taken = TaskRow.accepted_at.is_not(None)
        untaken_in = (TaskState.OPEN.value, TaskState.OFFERED.value)
        counts = await self.session.execute(
            select(
                TaskRow.skill,
                func.count(),
                func.count(TaskRow.accepted_at),
                func.sum(case((~taken & TaskRow.state.in_(untaken_in), 1), else_=0)),
            )
            .where(*where)
            .group_by(TaskRow.skill)
        )
        figures = {
            skill: (int(n), int(n_taken), int(waiting or 0))
            for skill, n, n_taken, waiting in counts
        }
        # The waits at the ranks the median and the 90th percentile need, per category:
        # the database ranks them, only those few rows come back.
        ranked = (
            select(
                TaskRow.skill.label("skill"),
                TaskRow.created_at.label("created_at"),
                TaskRow.accepted_at.label("accepted_at"),
                func.row_number()
                .over(partition_by=TaskRow.skill, order_by=(self._wait(), TaskRow.id))
                .label("place"),
                func.count().over(partition_by=TaskRow.skill).label("n"),
            )
            .where(*where, taken)
            .subquery()
        )
        place, n = ranked.c.place, ranked.c.n
        low, high, p90 = (n + 1) // 2, n // 2 + 1, (9 * n + 9) // 10
        rows = await self.session.execute(
            select(ranked.c.skill, place, n, ranked.c.created_at, ranked.c.accepted_at).where(
                (place == low) | (place == high) | (place == p90)
            )
        )
        waits: dict[str | None, dict[int, timedelta]] = {}
        sizes: dict[str | None, int] = {}
        for skill, at, size, created_at, accepted_at in rows:
            wait = _aware(accepted_at) - _aware(created_at)
            waits.setdefault(skill, {})[int(at)] = wait
            sizes[skill] = int(size)
        found: dict[str | None, RequestWaits] = {}
        for skill, (total, n_taken, waiting) in figures.items():
            median = p90_wait = None
            if n_taken:
                size, at = sizes[skill], waits[skill]
                median = (at[(size + 1) // 2] + at[size // 2 + 1]) / 2
                p90_wait = at[(9 * size + 9) // 10]
            found[skill] = RequestWaits(
                requests=total,
                taken=n_taken,
                waiting=waiting,
                never_taken=total - n_taken - waiting,
                median=median,
                p90=p90_wait,
            )
        return found

    def _wait(self) -> ColumnElement[Any]:
        """A request's wait, in an order the database can sort by."""
        if self.dialect == "sqlite":
            return func.julianday(TaskRow.accepted_at) - func.julianday(TaskRow.created_at)
        return TaskRow.accepted_at - TaskRow.created_at


def _offer(row: OfferRow) -> Offer:
    return Offer(
        id=row.id,
        task_id=row.task_id,
        member_id=row.member_id,
        round=row.round,
        offered_at=row.offered_at,
        expires_at=row.expires_at,
        state=OfferState(row.state),
        answered_at=row.answered_at,
        message_ref=row.message_ref,
    )


# Rows per INSERT: well within SQLite's limit on bound parameters in one statement.


def _offer_values(offer: Offer) -> dict[str, Any]:
    return {
        "task_id": offer.task_id,
        "member_id": offer.member_id,
        "round": offer.round,
        "offered_at": offer.offered_at,
        "expires_at": offer.expires_at,
        "state": offer.state.value,
        "answered_at": offer.answered_at,
        "message_ref": offer.message_ref,
    }


class SqlOfferRepository(Repository):
    async def add(self, offer: Offer) -> Offer:
        offer.id = await self.session.scalar(
            self.insert(OfferRow).values(**_offer_values(offer)).returning(OfferRow.id)
        )
        return offer

    async def add_many(self, offers: Sequence[Offer]) -> list[Offer]:
        ids: dict[int, int] = {}
        for start in range(0, len(offers), CHUNK):
            rows = await self.session.execute(
                self.insert(OfferRow)
                .values([_offer_values(offer) for offer in offers[start : start + CHUNK]])
                .returning(OfferRow.id, OfferRow.member_id)
            )
            ids.update({member_id: offer_id for offer_id, member_id in rows})
        for offer in offers:
            offer.id = ids[offer.member_id]  # (task, member) is unique
        return list(offers)

    async def get(self, offer_id: int) -> Offer | None:
        row = await self.session.scalar(
            select(OfferRow)
            .where(OfferRow.id == offer_id)
            .execution_options(populate_existing=True)
        )
        return None if row is None else _offer(row)

    async def update(self, offer: Offer) -> None:
        await self.session.execute(
            update(OfferRow)
            .where(OfferRow.id == required(offer.id, "offer"))
            .values(
                state=offer.state.value,
                answered_at=offer.answered_at,
                message_ref=offer.message_ref,
            )
        )

    async def for_task(self, task_id: int) -> list[Offer]:
        rows = await self.session.scalars(
            select(OfferRow)
            .where(OfferRow.task_id == task_id)
            .order_by(OfferRow.id)
            .execution_options(populate_existing=True)
        )
        return [_offer(row) for row in rows]

    async def last_offered(self, member_ids: Sequence[int]) -> dict[int, datetime]:
        if not member_ids:
            return {}
        rows = await self.session.execute(
            select(OfferRow.member_id, func.max(OfferRow.offered_at))
            .where(OfferRow.member_id.in_(list(member_ids)))
            .group_by(OfferRow.member_id)
        )
        return {member_id: _aware(at) for member_id, at in rows if at is not None}

    async def pending_expiries(self) -> dict[int, datetime]:
        rows = await self.session.execute(
            select(OfferRow.task_id, func.min(OfferRow.expires_at))
            .join(TaskRow, TaskRow.id == OfferRow.task_id)
            .where(
                OfferRow.state == OfferState.PENDING.value,
                TaskRow.state == TaskState.OFFERED.value,
            )
            .group_by(OfferRow.task_id)
        )
        return {task_id: _aware(at) for task_id, at in rows if at is not None}


def _aware(value: datetime) -> datetime:
    """Aggregates of times as aware UTC, whatever the driver hands back."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _cents(column: Any) -> Any:
    """Hours summed as whole cents: exact on SQLite too, which keeps NUMERIC as REAL."""
    return func.coalesce(func.sum(func.round(column * 100)), 0)


def _hours(cents: object) -> Decimal:
    return Decimal(int(Decimal(str(cents)))).scaleb(-2)


def _hours_sum(cents: object, tasks: object, people: object) -> HoursSum:
    return HoursSum(_hours(cents), int(str(tasks or 0)), int(str(people or 0)))


class SqlHoursLedger(Repository):
    async def add(self, entry: HoursEntry) -> bool:
        return await self.insert_ignore(
            self.insert(HoursRow)
            .values(
                task_id=entry.task_id,
                council_id=entry.council_id,
                member_id=entry.member_id,
                team_id=entry.team_id,
                hours=entry.hours,
                at=entry.at,
            )
            .on_conflict_do_nothing(index_elements=["task_id"])
        )

    async def total(self, council_id: int, member_id: int) -> Decimal:
        total = await self.session.scalar(
            select(func.coalesce(func.sum(HoursRow.hours), 0)).where(
                HoursRow.council_id == council_id, HoursRow.member_id == member_id
            )
        )
        return Decimal(str(total or 0)).quantize(Decimal("0.01"))

    async def by_member(self, council_id: int, team_id: int | None) -> dict[int, Decimal]:
        statement = select(HoursRow.member_id, func.sum(HoursRow.hours)).where(
            HoursRow.council_id == council_id
        )
        if team_id is not None:
            statement = statement.where(HoursRow.team_id == team_id)
        rows = await self.session.execute(statement.group_by(HoursRow.member_id))
        return {
            member_id: Decimal(str(hours)).quantize(Decimal("0.01")) for member_id, hours in rows
        }

    def _within(self, council_id: int, since: datetime | None, until: datetime | None) -> list[Any]:
        where: list[Any] = [HoursRow.council_id == council_id]
        if since is not None:
            where.append(HoursRow.at >= since)
        if until is not None:
            where.append(HoursRow.at < until)
        return where

    def _sums(self) -> tuple[Any, Any, Any]:
        return (
            _cents(HoursRow.hours),
            func.count(),
            func.count(func.distinct(HoursRow.member_id)),
        )

    async def per_member(
        self, council_id: int, since: datetime | None, until: datetime | None
    ) -> dict[int, HoursSum]:
        rows = await self.session.execute(
            select(HoursRow.member_id, *self._sums())
            .where(*self._within(council_id, since, until))
            .group_by(HoursRow.member_id)
        )
        return {member_id: _hours_sum(*sums) for member_id, *sums in rows}

    async def per_team(
        self, council_id: int, since: datetime | None, until: datetime | None
    ) -> dict[int | None, HoursSum]:
        rows = await self.session.execute(
            select(HoursRow.team_id, *self._sums())
            .where(*self._within(council_id, since, until))
            .group_by(HoursRow.team_id)
        )
        return {team_id: _hours_sum(*sums) for team_id, *sums in rows}

    async def per_period(self, council_id: int, edges: Sequence[datetime]) -> list[HoursSum]:
        if len(edges) < 2:
            return []
        # Each entry's period by a CASE over the edges (as UTC instants), so the periods
        # may be any (a council's local months) and both databases count them the same.
        # Grouped in an outer query: PostgreSQL would not see two renderings of the CASE,
        # each with its own parameters, as the same expression.
        periods = (
            select(
                case(
                    *((HoursRow.at < edge, index) for index, edge in enumerate(edges[1:])),
                    else_=-1,
                ).label("period"),
                HoursRow.hours,
                HoursRow.member_id,
            )
            .where(*self._within(council_id, edges[0], edges[-1]))
            .subquery()
        )
        rows = await self.session.execute(
            select(
                periods.c.period,
                _cents(periods.c.hours),
                func.count(),
                func.count(func.distinct(periods.c.member_id)),
            ).group_by(periods.c.period)
        )
        found = {int(index): _hours_sum(*sums) for index, *sums in rows}
        empty = HoursSum(Decimal("0.00"), 0, 0)
        return [found.get(index, empty) for index in range(len(edges) - 1)]

    async def span(
        self, council_id: int, since: datetime | None, until: datetime | None
    ) -> tuple[datetime, datetime] | None:
        row = (
            await self.session.execute(
                select(func.min(HoursRow.at), func.max(HoursRow.at)).where(
                    *self._within(council_id, since, until)
                )
            )
        ).one()
        first, last = row
        if first is None or last is None:
            return None
        return _aware(first), _aware(last)
