"""The council's entities: who may vote, what is being decided, and how.

Entities are plain dataclasses with the behaviour that keeps them consistent
(a topic moves through its phases only forwards; a closed ballot takes no
votes). Persistence and messaging live outside; ``*_ref`` fields hold the
messenger's opaque message ids so a card can be edited later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from domain import errors
from domain.rules import Choice, Outcome, Result, Rule, Voter

# Limits on what a member may type, so one message can always carry it.
MAX_TITLE = 120
MAX_DESCRIPTION = 1500
MAX_PROPOSAL = 1500
MAX_NAME = 64


class MemberStatus(StrEnum):
    PENDING = "pending"  # asked to join; a chair must approve
    ACTIVE = "active"
    REMOVED = "removed"


class Phase(StrEnum):
    COLLECTING = "collecting"  # 征集意见
    VOTING = "voting"  # 表决
    DECIDED = "decided"
    CANCELLED = "cancelled"


class BallotKind(StrEnum):
    MOTION = "motion"  # for / against / abstain
    OPTIONS = "options"  # a choice among shortlisted proposals


@dataclass
class Council:
    chat_id: int
    thread_id: int  # 0: the whole chat; else one forum topic
    title: str
    rule: Rule
    timezone: str
    language: str
    created_at: datetime
    require_approval: bool = False
    chairs: set[int] = field(default_factory=set)  # messenger user ids
    id: int | None = None

    def is_chair(self, user_id: int) -> bool:
        return user_id in self.chairs

    def require_chair(self, user_id: int) -> None:
        if not self.is_chair(user_id):
            raise errors.NotChair()


@dataclass
class Member:
    council_id: int
    user_id: int | None  # None: a roster row not yet bound to an account
    name: str
    building: str
    unit: str
    room: str
    joined_at: datetime
    household: str = ""  # defaults to building-unit-room
    area: Decimal = Decimal(0)
    status: MemberStatus = MemberStatus.ACTIVE
    language: str | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if not self.household:
            self.household = "-".join(p for p in (self.building, self.unit, self.room) if p)

    @property
    def address(self) -> str:
        return self.household

    def voter(self) -> Voter:
        assert self.id is not None
        return Voter(str(self.id), self.household, Fraction(self.area))


@dataclass
class Topic:
    council_id: int
    title: str
    description: str
    opened_by: int
    opened_at: datetime
    phase: Phase = Phase.COLLECTING
    deadline: datetime | None = None
    decided_at: datetime | None = None
    result: Result | None = None
    card_ref: int | None = None
    id: int | None = None

    def require_phase(self, *phases: Phase) -> None:
        if self.phase not in phases:
            raise errors.WrongPhase(topic=self.title, phase=self.phase.value)

    def start_voting(self) -> None:
        self.require_phase(Phase.COLLECTING)
        self.phase = Phase.VOTING

    def decide(self, result: Result, at: datetime) -> None:
        self.require_phase(Phase.VOTING)
        self.phase = Phase.DECIDED
        self.result = result
        self.decided_at = at

    def cancel(self, at: datetime) -> None:
        self.require_phase(Phase.COLLECTING, Phase.VOTING)
        self.phase = Phase.CANCELLED
        self.decided_at = at


@dataclass
class Proposal:
    topic_id: int
    author_id: int  # member id
    text: str
    created_at: datetime
    seconds: set[int] = field(default_factory=set)  # member ids
    id: int | None = None

    def second(self, member_id: int) -> bool:
        """Record a second; returns False when this member had already seconded."""
        if member_id == self.author_id:
            raise errors.OwnProposal()
        if member_id in self.seconds:
            return False
        self.seconds.add(member_id)
        return True


@dataclass(frozen=True)
class BallotOption:
    key: str  # short and stable: fits in button data
    label: str
    proposal_id: int | None = None


@dataclass
class Ballot:
    topic_id: int
    council_id: int
    kind: BallotKind
    question: str
    rule: Rule
    secret: bool
    opened_by: int
    opened_at: datetime
    options: tuple[BallotOption, ...] = ()
    deadline: datetime | None = None
    closed_at: datetime | None = None
    outcome: Outcome | None = None
    message_ref: int | None = None
    rendered_seq: int = 0  # last vote event shown on the ballot message
    id: int | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def valid_choices(self) -> tuple[str, ...]:
        if self.kind is BallotKind.MOTION:
            return (Choice.FOR.value, Choice.AGAINST.value, Choice.ABSTAIN.value)
        return (*(o.key for o in self.options), Choice.ABSTAIN.value)

    def require_open(self, now: datetime | None = None) -> None:
        """Refuse once closed, or once the deadline has passed even if not yet closed."""
        if not self.is_open or (
            now is not None and self.deadline is not None and now >= self.deadline
        ):
            raise errors.BallotClosed(question=self.question)

    @property
    def cancelled(self) -> bool:
        return self.closed_at is not None and self.outcome is None

    def require_choice(self, choice: str) -> None:
        if choice not in self.valid_choices():
            raise errors.InvalidChoice(choice=choice)

    def option_keys(self) -> list[str] | None:
        return [o.key for o in self.options] if self.kind is BallotKind.OPTIONS else None

    def label_of(self, choice: str) -> str:
        for option in self.options:
            if option.key == choice:
                return option.label
        return choice


@dataclass(frozen=True)
class Vote:
    """A member's current choice on a ballot."""

    ballot_id: int
    member_id: int
    choice: str
    cast_at: datetime


@dataclass(frozen=True)
class VoteEvent:
    """One line of the audit trail: every vote and every change is kept."""

    ballot_id: int
    member_id: int
    choice: str
    previous: str | None
    at: datetime
    seq: int = 0  # assigned by storage, increasing


@dataclass(frozen=True)
class Resolution:
    """决议: the recorded decision of a closed ballot."""

    council_id: int
    topic_id: int
    ballot_id: int
    result: Result
    summary: str
    recorded_at: datetime
    winner: str | None = None
    id: int | None = None


@dataclass
class Draft:
    """A proposal being written in a private chat, kept until sent."""

    user_id: int
    topic_id: int
    text: str
    updated_at: datetime
