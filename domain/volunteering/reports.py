"""What the staff console shows of volunteering: the task board, service hours per
person, team and month, and residents' requests by category with how fast they were
taken. Read-only use cases over a unit of work; the figures are added up by the
database (``TaskRepository.count_by_state`` and ``request_waits``, ``HoursLedger``'s
``per_member``, ``per_team``, ``per_period`` and ``span``), never by loading every row.

Who may read them: the council's chairs and staff, named by a ``Viewer``:

* ``Viewer.user(user_id)``: a messenger user id (Telegram's), as the chat knows people;
* ``Viewer.member(member_id)``: an entry on the council's roll, as the web signs people
  in; it reads when the member is active and its Telegram account is a chair's or
  staff's (roles are held by accounts: ``Council.chairs`` and ``Council.staff``);
* ``OPERATOR``: the operator at the command line, who holds the database already.

Anyone else is refused with ``errors.NotStaff``. Times in and out are aware UTC; months
are the council's local months (``Council.timezone``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain import errors
from domain.model import Council, MemberStatus
from domain.ports import HoursSum, RequestWaits, UnitOfWork
from domain.services import require_council
from domain.task_rules import Task, TaskSource, TaskState
from domain.volunteering.reading import members_in_order
from domain.when import zone

__all__ = [
    "DONE_TASKS",
    "MAX_MONTHS",
    "OPEN_STATES",
    "OPEN_TASKS",
    "OPERATOR",
    "HoursReport",
    "MonthHours",
    "PersonHours",
    "RequestCategory",
    "RequestsReport",
    "TaskBoard",
    "TaskLine",
    "TeamHours",
    "Viewer",
    "hours_report",
    "month_edges",
    "requests_report",
    "task_board",
]

OPEN_TASKS = 200  # open tasks the board lists at most (the count says how many there are)
DONE_TASKS = 50  # done tasks the board lists, the latest first
MAX_MONTHS = 120  # months one hours report spans at most
OPEN_STATES = (TaskState.OPEN, TaskState.OFFERED, TaskState.ACCEPTED)


@dataclass(frozen=True)
class Viewer:
    """Who reads a report: a messenger user id, a roll entry, or neither (the operator).
    Make one with ``Viewer.user``, ``Viewer.member`` or use ``OPERATOR``."""

    user_id: int | None = None
    member_id: int | None = None

    def __post_init__(self) -> None:
        if self.user_id is not None and self.member_id is not None:
            raise ValueError("a viewer is a user or a member, not both")

    @classmethod
    def user(cls, user_id: int) -> Viewer:
        return cls(user_id=user_id)

    @classmethod
    def member(cls, member_id: int) -> Viewer:
        return cls(member_id=member_id)


OPERATOR = Viewer()


async def _readable(uow: UnitOfWork, council_id: int, viewer: Viewer) -> Council:
    """The council, when ``viewer`` is one of its chairs or staff (or the operator)."""
    council = await require_council(uow, council_id)
    if viewer.user_id is not None:
        council.require_staff(viewer.user_id)
    elif viewer.member_id is not None:
        member = await uow.members.get(viewer.member_id)
        if (
            member is None
            or member.council_id != council_id
            or member.status is not MemberStatus.ACTIVE
            or member.user_id is None
            or not council.is_staff(member.user_id)
        ):
            raise errors.NotStaff()
    return council


# --- the task board ----------------------------------------------------------


@dataclass(frozen=True)
class TaskLine:
    """One task as the board lists it. ``skill`` is its category's code (None: anyone
    can help); names are the roll's (None: nobody, or no longer on the roll)."""

    id: int
    title: str
    skill: str | None
    source: TaskSource
    state: TaskState
    requested_at: datetime  # when it was made (a request) or given (a resolution's)
    taken_at: datetime | None  # when a volunteer accepted it
    closed_at: datetime | None  # when it was done, cancelled or expired
    taken_by: str | None  # the volunteer's name
    taken_by_id: int | None  # their member id
    requester: str | None  # the resident who asked, for a request
    team: str | None  # the team it was given to
    unit: str | None  # the member unit it was given to
    hours: Decimal  # credited when done
    confirmed: bool  # the requester confirmed the help came
    topic_id: int | None  # the topic whose resolution it carries out

    @property
    def done_at(self) -> datetime | None:
        return self.closed_at if self.state is TaskState.DONE else None


@dataclass(frozen=True)
class TaskBoard:
    council: Council
    open: list[TaskLine]  # open, offered or accepted, the latest made first
    done: list[TaskLine]  # done, the latest done first
    counts: dict[TaskState, int]  # all the council's tasks by state (0 for none)

    @property
    def open_count(self) -> int:
        return sum(self.counts[s] for s in OPEN_STATES)

    @property
    def done_count(self) -> int:
        return self.counts[TaskState.DONE]


async def task_board(
    uow: UnitOfWork,
    *,
    council_id: int,
    viewer: Viewer,
    open_limit: int = OPEN_TASKS,
    done_limit: int = DONE_TASKS,
) -> TaskBoard:
    """The council's open tasks (at most ``open_limit``) and its latest done ones (at
    most ``done_limit``), with who took them and when, and how many there are of each
    state. Chairs and staff only."""
    async with uow:
        council = await _readable(uow, council_id, viewer)
        open_ = await uow.tasks.of_council(council_id, OPEN_STATES, open_limit)
        done = await uow.tasks.of_council(council_id, (TaskState.DONE,), done_limit)
        counted = await uow.tasks.count_by_state(council_id)
        tasks = [*open_, *done]
        people = sorted(
            {i for t in tasks for i in (t.accepted_by, t.requester_member_id) if i is not None}
        )
        names = {m.id: m.name for m in await members_in_order(uow, people) if m.id is not None}
        teams = {t.id: t.name for t in await uow.teams.of_council(council_id)}
        units = {u.id: u.name for u in await uow.units.of_council(council_id)}

    def line(task: Task) -> TaskLine:
        assert task.id is not None
        return TaskLine(
            id=task.id,
            title=task.title,
            skill=task.skill,
            source=task.source,
            state=task.state,
            requested_at=task.created_at,
            taken_at=task.accepted_at,
            closed_at=task.closed_at,
            taken_by=names.get(task.accepted_by) if task.accepted_by is not None else None,
            taken_by_id=task.accepted_by,
            requester=(
                names.get(task.requester_member_id)
                if task.requester_member_id is not None
                else None
            ),
            team=teams.get(task.team_id) if task.team_id is not None else None,
            unit=units.get(task.unit_id) if task.unit_id is not None else None,
            hours=task.hours,
            confirmed=task.confirmed,
            topic_id=task.topic_id,
        )

    counts = {state: counted.get(state, 0) for state in TaskState}
    return TaskBoard(council, [line(t) for t in open_], [line(t) for t in done], counts)


# --- service hours -----------------------------------------------------------


@dataclass(frozen=True)
class PersonHours:
    member_id: int
    name: str  # "" when the member is no longer on the roll
    hours: Decimal
    tasks: int


@dataclass(frozen=True)
class TeamHours:
    team_id: int | None  # None: volunteers of no team
    name: str | None  # None: no team, or a team since removed
    hours: Decimal
    tasks: int
    people: int


@dataclass(frozen=True)
class MonthHours:
    year: int
    month: int
    start: datetime  # where the period starts (aware UTC): the local month's start, or since
    end: datetime  # where it ends, excluded: the next month's start, or until
    hours: Decimal
    tasks: int
    people: int  # different volunteers credited that month


@dataclass(frozen=True)
class HoursReport:
    """Service hours credited in ``[since, until)`` (either end open when None)."""

    council: Council
    since: datetime | None
    until: datetime | None
    people: list[PersonHours]  # most hours first, then by name and member id
    teams: list[TeamHours]  # most hours first; "no team" last
    months: list[MonthHours]  # in order, every month of the span (zero where none)
    total: HoursSum


def month_edges(first: datetime, last: datetime, timezone: str) -> list[tuple[int, int, datetime]]:
    """The local months (year, month, start as aware UTC) from the one holding ``first``
    to the one after the one holding ``last``: n months and the end of the last, as
    n + 1 entries. Refused with ``InvalidInput`` (field ``period``) past ``MAX_MONTHS``."""
    tz = zone(timezone)
    start, end = first.astimezone(tz), last.astimezone(tz)
    count = (end.year - start.year) * 12 + end.month - start.month + 1
    if count > MAX_MONTHS:
        raise errors.InvalidInput(field="period", limit=MAX_MONTHS)
    edges: list[tuple[int, int, datetime]] = []
    year, month = start.year, start.month
    for _ in range(max(count, 0) + 1):
        edges.append((year, month, datetime(year, month, 1, tzinfo=tz).astimezone(UTC)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return edges


async def hours_report(
    uow: UnitOfWork,
    *,
    council_id: int,
    viewer: Viewer,
    since: datetime | None = None,
    until: datetime | None = None,
) -> HoursReport:
    """Service hours per person, per team (the volunteer's team when the hours were
    credited) and per local month, in ``[since, until)``. Months run from ``since``'s
    (else the first hours') to ``until``'s (else the last hours'); the first and the
    last are cut at ``since`` and ``until``. Chairs and staff only."""
    if since is not None and until is not None and until <= since:
        raise errors.InvalidInput(field="period")
    async with uow:
        council = await _readable(uow, council_id, viewer)
        per_member = await uow.hours.per_member(council_id, since, until)
        per_team = await uow.hours.per_team(council_id, since, until)
        span = await uow.hours.span(council_id, since, until)
        first = since if since is not None else (span[0] if span else None)
        last = until - timedelta(microseconds=1) if until is not None else None
        if last is None and span is not None:
            last = span[1]
        months: list[MonthHours] = []
        if first is not None and last is not None and first <= last:
            edges = month_edges(first, last, council.timezone)
            cuts = [at for _, _, at in edges]
            if since is not None:
                cuts[0] = since
            if until is not None:
                cuts[-1] = until
            sums = await uow.hours.per_period(council_id, cuts)
            months = [
                MonthHours(year, month, start, end, s.hours, s.tasks, s.people)
                for (year, month, _), start, end, s in zip(
                    edges, cuts, cuts[1:], sums, strict=False
                )
            ]
        found = await members_in_order(uow, sorted(per_member))
        names = {m.id: m.name for m in found if m.id is not None}
        teams = {t.id: t.name for t in await uow.teams.of_council(council_id)}

    people = sorted(
        (PersonHours(i, names.get(i, ""), s.hours, s.tasks) for i, s in per_member.items()),
        key=lambda p: (-p.hours, p.name, p.member_id),
    )
    by_team = sorted(
        (
            TeamHours(i, teams.get(i) if i is not None else None, s.hours, s.tasks, s.people)
            for i, s in per_team.items()
        ),
        key=lambda t: (t.team_id is None, -t.hours, t.name or "", t.team_id or 0),
    )
    total = HoursSum(
        sum((p.hours for p in people), Decimal("0.00")),
        sum(p.tasks for p in people),
        len(people),
    )
    return HoursReport(council, since, until, people, by_team, months, total)


# --- residents' requests -----------------------------------------------------


@dataclass(frozen=True)
class RequestCategory:
    """Requests of one category (``skill`` None: anyone can help) and how fast they were
    taken: see ``domain.ports.RequestWaits`` for what each figure counts."""

    skill: str | None
    requests: int
    taken: int
    waiting: int
    never_taken: int
    median: timedelta | None  # request -> accepted, of the taken ones
    p90: timedelta | None


@dataclass(frozen=True)
class RequestsReport:
    """Residents' requests made in ``[since, until)`` (either end open when None)."""

    council: Council
    since: datetime | None
    until: datetime | None
    categories: list[RequestCategory]  # most requests first, then by skill code
    requests: int
    taken: int
    waiting: int
    never_taken: int


async def requests_report(
    uow: UnitOfWork,
    *,
    council_id: int,
    viewer: Viewer,
    since: datetime | None = None,
    until: datetime | None = None,
) -> RequestsReport:
    """Residents' requests (居民点单) by category, with how many were taken, are still
    waiting or were never taken, and the median and 90th percentile of the time from
    request to acceptance. Chairs and staff only."""
    if since is not None and until is not None and until <= since:
        raise errors.InvalidInput(field="period")
    async with uow:
        council = await _readable(uow, council_id, viewer)
        waits = await uow.tasks.request_waits(council_id, since, until)
    categories = sorted(
        (_category(skill, w) for skill, w in waits.items()),
        key=lambda c: (-c.requests, c.skill is None, c.skill or ""),
    )
    return RequestsReport(
        council,
        since,
        until,
        categories,
        requests=sum(c.requests for c in categories),
        taken=sum(c.taken for c in categories),
        waiting=sum(c.waiting for c in categories),
        never_taken=sum(c.never_taken for c in categories),
    )


def _category(skill: str | None, waits: RequestWaits) -> RequestCategory:
    return RequestCategory(
        skill,
        waits.requests,
        waits.taken,
        waits.waiting,
        waits.never_taken,
        waits.median,
        waits.p90,
    )
