"""Dispatch (派单): tasks, offers to volunteers, and who is asked first.

A task (任务) implements a resolution or answers a resident's service request
(居民点单). The bot offers it by private message to a few volunteers at a time
(a *round*); when nobody accepts in time it escalates to the next ones. This
module holds the entities, their state machine and the ranking that picks each
round. It is pure: no I/O and no clock reads; the time is always passed in as an
aware UTC ``now`` so that a decision can be replayed and tested.

Choices made here, because a volunteer must be able to see why they were (or
were not) asked:

* The pool is the caller's. ``rank_candidates`` ranks the volunteers it is given;
  a task given to a team is ranked over that team's volunteers only, and a task
  given to a member unit is not dispatched to volunteers at all.
* The ranking is a total, deterministic order (see ``rank_candidates``): the
  same facts in any order give the same list, so escalation never skips or
  repeats anyone because of how storage happened to return rows.
* Service hours are rounded *up* to a step with a minimum, in exact ``Decimal``
  arithmetic (see ``service_hours``): a volunteer who came for ten minutes is
  still credited for coming.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType

from domain import errors

__all__ = [
    "TRANSITIONS",
    "CandidateFacts",
    "MemberUnit",
    "Offer",
    "OfferState",
    "Ranked",
    "Task",
    "TaskSource",
    "TaskState",
    "TaskTaken",
    "Team",
    "Volunteer",
    "next_round",
    "rank_candidates",
    "require_transition",
    "service_hours",
]


class TaskTaken(errors.DomainError):
    """Another volunteer accepted the task first (a stale Accept button)."""

    code = "task_taken"


class TaskState(StrEnum):
    OPEN = "open"  # created, not yet offered to anyone
    OFFERED = "offered"  # a round of offers is out
    ACCEPTED = "accepted"  # one volunteer took it
    DONE = "done"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # nobody accepted before the offers ran out


# Allowed moves. OFFERED -> OFFERED is escalation to the next candidates;
# ACCEPTED -> OFFERED is a volunteer withdrawing, so the task goes out again.
# DONE, CANCELLED and EXPIRED are final: a new need is a new task.
TRANSITIONS: Mapping[TaskState, frozenset[TaskState]] = MappingProxyType(
    {
        # OPEN -> EXPIRED: nobody at all could be asked.
        TaskState.OPEN: frozenset({TaskState.OFFERED, TaskState.CANCELLED, TaskState.EXPIRED}),
        TaskState.OFFERED: frozenset(
            {TaskState.OFFERED, TaskState.ACCEPTED, TaskState.EXPIRED, TaskState.CANCELLED}
        ),
        TaskState.ACCEPTED: frozenset({TaskState.DONE, TaskState.CANCELLED, TaskState.OFFERED}),
        TaskState.DONE: frozenset(),
        TaskState.CANCELLED: frozenset(),
        TaskState.EXPIRED: frozenset(),
    }
)


def require_transition(current: TaskState, new: TaskState) -> None:
    """Refuse a move the table does not allow, so no path can skip a state."""
    if new not in TRANSITIONS[current]:
        raise errors.WrongPhase(field="task", task_state=current.value, to=new.value)


class TaskSource(StrEnum):
    RESOLUTION = "resolution"  # implements a 决议
    REQUEST = "request"  # a resident's 居民点单


class OfferState(StrEnum):
    PENDING = "pending"  # sent, no answer yet
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"  # no answer in time
    WITHDRAWN = "withdrawn"  # taken by someone else, or the task was cancelled
    UNREACHABLE = "unreachable"  # never started the bot: Telegram answered 403


@dataclass
class Volunteer:
    """A member who takes tasks (志愿者).

    ``skills`` are codes from the council's list (``repair``, ``health``, …) and
    are compared exactly; ``grid`` is the 网格 they live or serve in.
    """

    member_id: int
    council_id: int
    skills: frozenset[str]
    grid: str
    registered_at: datetime
    team_id: int | None = None
    available: bool = True  # False: on leave, asks not to be offered tasks
    id: int | None = None

    def has_skill(self, skill: str) -> bool:
        return skill in self.skills


@dataclass
class Team:
    """A volunteer team (志愿服务队), e.g. 畅大妈志愿服务队."""

    council_id: int
    name: str
    leader_member_ids: frozenset[int] = frozenset()
    id: int | None = None


@dataclass
class MemberUnit:
    """A member unit (成员单位 / 共建单位) that can take tasks as an organisation."""

    council_id: int
    name: str
    contact_user_ids: frozenset[int] = frozenset()  # messenger user ids
    services: frozenset[str] = frozenset()  # the same codes as volunteer skills
    id: int | None = None


@dataclass
class Task:
    """Work that implements a resolution or answers a service request.

    At most one assignee kind is set: a member unit, a team, or named members;
    none means any volunteer of the council may be asked. ``round`` counts the
    rounds of offers sent, so offers of an earlier round can be told apart.
    """

    council_id: int
    title: str
    description: str
    skill: str | None  # the category needed; None: anyone can help
    grid: str  # "" when the place is not in any grid
    source: TaskSource
    created_at: datetime
    topic_id: int | None = None
    requester_member_id: int | None = None
    unit_id: int | None = None
    team_id: int | None = None
    member_ids: frozenset[int] = frozenset()
    due: datetime | None = None
    state: TaskState = TaskState.OPEN
    round: int = 0
    accepted_by: int | None = None  # member id
    accepted_at: datetime | None = None
    closed_at: datetime | None = None  # when it became done, cancelled or expired
    hours: Decimal = Decimal(0)  # credited to accepted_by on done
    card_ref: int | None = None
    place: str = ""
    photo: str | None = None  # the messenger's file id of a photo of the need
    note: str = ""  # the volunteer's word on what was done
    confirmed: bool = False  # the requester confirmed it was done
    created_by: int = 0  # messenger user id of the chair or requester
    id: int | None = None

    def __post_init__(self) -> None:
        kinds = (self.unit_id is not None) + (self.team_id is not None) + bool(self.member_ids)
        if kinds > 1:
            raise ValueError("a task has at most one assignee kind: unit, team or members")

    def _move(self, new: TaskState) -> None:
        require_transition(self.state, new)
        self.state = new

    def offer(self) -> int:
        """Send a (next) round of offers; returns the round number.

        From ACCEPTED this is the volunteer withdrawing: the task is nobody's
        again, and goes out to the next candidates.
        """
        self._move(TaskState.OFFERED)
        self.round += 1
        self.accepted_by = None
        self.accepted_at = None
        return self.round

    def accept(self, member_id: int, now: datetime) -> bool:
        """Give the task to ``member_id``; returns False when they already had it.

        A second volunteer pressing Accept is refused with ``TaskTaken`` rather
        than a phase error, so they are told someone else is coming.
        """
        if self.accepted_by is not None and self.state in (TaskState.ACCEPTED, TaskState.DONE):
            if self.accepted_by != member_id:
                raise TaskTaken(task=self.title)
            if self.state is TaskState.ACCEPTED:
                return False
        self._move(TaskState.ACCEPTED)
        self.accepted_by = member_id
        self.accepted_at = now
        return True

    def complete(self, now: datetime, hours: Decimal) -> None:
        """Record the work as done and the service hours credited for it."""
        if not hours.is_finite() or hours < 0:
            raise errors.InvalidInput(field="hours")
        self._move(TaskState.DONE)
        self.hours = hours
        self.closed_at = now

    def cancel(self, now: datetime) -> None:
        self._move(TaskState.CANCELLED)
        self.closed_at = now

    def expire(self, now: datetime) -> None:
        """Nobody accepted before the last round ran out."""
        self._move(TaskState.EXPIRED)
        self.closed_at = now


@dataclass
class Offer:
    """One private message offering a task to one volunteer, with its answer."""

    task_id: int
    member_id: int
    round: int
    offered_at: datetime
    expires_at: datetime
    state: OfferState = OfferState.PENDING
    answered_at: datetime | None = None  # when it left PENDING
    message_ref: int | None = None  # the private message, to edit its buttons
    id: int | None = None

    def __post_init__(self) -> None:
        if self.round < 1:
            raise ValueError("offer rounds start at 1")
        if self.expires_at <= self.offered_at:
            raise ValueError("an offer must expire after it was made")

    @property
    def is_pending(self) -> bool:
        return self.state is OfferState.PENDING

    def is_due(self, now: datetime) -> bool:
        """Still waiting for an answer but out of time."""
        return self.state is OfferState.PENDING and now >= self.expires_at

    def close(self, state: OfferState, now: datetime) -> None:
        """Settle the offer once; a second answer to the same message is refused."""
        if self.state is not OfferState.PENDING or state is OfferState.PENDING:
            raise errors.WrongPhase(field="offer", offer_state=self.state.value, to=state.value)
        self.state = state
        self.answered_at = now


@dataclass(frozen=True)
class CandidateFacts:
    """What the ranking needs to know about one volunteer for one task."""

    volunteer: Volunteer
    open_load: int  # tasks this volunteer accepted and has not finished
    last_offered_at: datetime | None  # any task, any council; None: never asked
    declined_this_task: bool
    already_offered_this_task: bool

    def __post_init__(self) -> None:
        if self.open_load < 0:
            raise ValueError("open_load cannot be negative")
        _require_aware("last_offered_at", self.last_offered_at)


@dataclass(frozen=True)
class Ranked:
    """An eligible volunteer with the reasons for their place, for explanation."""

    volunteer: Volunteer
    skill_match: bool  # has the skill the task needs (False when none is needed)
    same_grid: bool  # lives or serves in the task's grid
    load: int  # open tasks already accepted
    last_offered_at: datetime | None  # None: never asked before

    @property
    def member_id(self) -> int:
        return self.volunteer.member_id

    def sort_key(self) -> tuple[bool, bool, int, bool, datetime | None, int]:
        """Smaller is better; the last element makes the order total."""
        never = self.last_offered_at is None
        # When never asked the datetime slot is None for everyone who shares the
        # preceding elements, so None is never compared with a datetime.
        return (
            not self.skill_match,
            not self.same_grid,
            self.load,
            not never,
            self.last_offered_at,
            self.member_id,
        )


def _require_aware(name: str, moment: datetime | None) -> None:
    if moment is not None and moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _eligible(task: Task, fact: CandidateFacts) -> bool:
    volunteer = fact.volunteer
    return (
        volunteer.available
        and not fact.declined_this_task
        and not fact.already_offered_this_task
        and (task.skill is None or volunteer.has_skill(task.skill))
    )


def rank_candidates(task: Task, facts: Sequence[CandidateFacts], now: datetime) -> list[Ranked]:
    """The eligible volunteers for ``task``, best first.

    Excluded:

    * volunteers who are not available;
    * those who declined this task, and those already offered it (in any round:
      escalation goes to *new* people, the earlier ones may still accept);
    * when the task needs a skill, those without it.

    The rest are ordered lexicographically by:

    1. skill match: having the needed skill comes first. Since those lacking a
       required skill are excluded, this is equal for everyone in one ranking
       (and False for all when the task needs no skill); it is kept first in the
       key and in the breakdown so the reason is shown and a later relaxation of
       the exclusion could not put non-matching volunteers ahead;
    2. same grid as the task (a task with grid "" matches nobody): neighbours
       arrive sooner and know the place;
    3. lower open load: do not pile work on the same few people;
    4. fairness: asked least recently first, never asked before all others;
    5. lower member id, so the order is total and reproducible.

    Each volunteer may appear once in ``facts`` and must belong to the task's
    council; anything else is a caller's mistake and raises ``ValueError``.
    ``now`` must be aware; the order itself depends only on the facts.
    """
    _require_aware("now", now)
    seen: set[int] = set()
    ranked: list[Ranked] = []
    for fact in facts:
        volunteer = fact.volunteer
        if volunteer.member_id in seen:
            raise ValueError(f"volunteer {volunteer.member_id} appears twice")
        seen.add(volunteer.member_id)
        if volunteer.council_id != task.council_id:
            raise ValueError(f"volunteer {volunteer.member_id} is not in the task's council")
        if not _eligible(task, fact):
            continue
        ranked.append(
            Ranked(
                volunteer=volunteer,
                skill_match=task.skill is not None and volunteer.has_skill(task.skill),
                same_grid=bool(task.grid) and volunteer.grid == task.grid,
                load=fact.open_load,
                last_offered_at=fact.last_offered_at,
            )
        )
    ranked.sort(key=_sort_key)
    return ranked


def _sort_key(ranked: Ranked) -> tuple[bool, bool, int, bool, datetime | None, int]:
    return ranked.sort_key()


def next_round(
    task: Task, facts: Sequence[CandidateFacts], now: datetime, size: int
) -> list[Volunteer]:
    """The volunteers to offer the task to next: the first ``size`` of the ranking."""
    if size < 0:
        raise ValueError("a round cannot have a negative size")
    return [r.volunteer for r in rank_candidates(task, facts, now)[:size]]


_HOUR = timedelta(hours=1)


def service_hours(
    accepted_at: datetime,
    done_at: datetime,
    *,
    minimum: Decimal = Decimal("0.5"),
    step: Decimal = Decimal("0.5"),
) -> Decimal:
    """Hours credited for a task: the time taken rounded up to ``step``, at least ``minimum``.

    Rounding up, not to nearest: 31 minutes of help count as one hour with the
    default half-hour step, never as half an hour. The elapsed time is counted
    in whole microseconds and divided as a ``Fraction``, so no float or decimal
    context rounding can move a result across a step. The minimum is returned as
    given even when it is not a multiple of the step.
    """
    _require_aware("accepted_at", accepted_at)
    _require_aware("done_at", done_at)
    if not step.is_finite() or step <= 0:
        raise ValueError("step must be a positive number of hours")
    if not minimum.is_finite() or minimum < 0:
        raise ValueError("minimum must be a non-negative number of hours")
    elapsed = done_at - accepted_at
    if elapsed < timedelta(0):
        raise ValueError("done_at is before accepted_at")
    hours = Fraction(elapsed // timedelta(microseconds=1), _HOUR // timedelta(microseconds=1))
    steps = math.ceil(hours / Fraction(step))
    return max(step * steps, minimum)


@dataclass(frozen=True)
class HoursEntry:
    """One line of the service-hours ledger (志愿服务时长): credited once per task."""

    council_id: int
    member_id: int
    task_id: int
    hours: Decimal
    at: datetime
    team_id: int | None = None  # the volunteer's team then, for team totals
