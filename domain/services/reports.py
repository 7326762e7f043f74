"""What the staff's reports read: the turnout of every ballot, a ballot's audit trail,
the minutes (会议纪要) of a meeting and of a ballot, and the list of a ballot's votes.

Read-only use cases: each opens the unit of work, reads and returns plain frozen
values; nothing is written. Figures come from the repositories' aggregates (a
ballot's ``Counts``, the roll's size, votes per source), never from loading the roll.

Who may read them: the council's chairs and staff. Every use case takes

* ``user_id``: a messenger user id (a chair's or staff member's Telegram id), or None
  for the operator at the command line, who holds the database already;
* ``member_id`` (optional, instead): a member of the council's roll, as the web signs
  people in. The member must be active on this council's roll and its Telegram
  account a chair or staff of the council (chairs and staff are kept as messenger
  user ids). When ``member_id`` is given, ``user_id`` is ignored.

Anyone else gets ``errors.NotStaff``. Beware: ``user_id=None`` (with no ``member_id``)
reads as the operator; a front end passes the signed-in staff member's user id, never
a resident's missing one.

Secret ballots. Nothing returned here says how one member voted, not even indirectly:
the audit trail of a secret ballot has every line's moment, member, source and who
recorded it, but no choice (``choice`` and ``previous`` None) and lines stay in the
order they were written, never grouped or sorted by choice; ``ballot_record`` lists
who took part (by address, then name; no moments, sources or choices) and only the
totals per choice. A reason staff typed for an assisted vote is shown as typed: staff
are told on the form not to write the choice into it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType

from domain import errors
from domain.model import (
    Ballot,
    Council,
    Meeting,
    MeetingStatus,
    MemberStatus,
    Topic,
    VoteSource,
)
from domain.ports import UnitOfWork
from domain.rules import Counts, Outcome, Quantity, Result, decide_counts
from domain.services.reading import require_council

__all__ = [
    "Attendee",
    "AuditAction",
    "AuditLine",
    "AuditTrail",
    "BallotFigures",
    "BallotMinutes",
    "BallotRecord",
    "BallotState",
    "MeetingMinutes",
    "ProposalRecord",
    "TopicRecord",
    "Turnout",
    "VoteLine",
    "ballot_audit",
    "ballot_minutes",
    "ballot_record",
    "meeting_list",
    "meeting_minutes",
    "require_reader",
    "turnout",
]

_ZERO = Fraction(0)


class BallotState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # closed with an outcome
    CANCELLED = "cancelled"  # closed without one (its topic was cancelled)


def _state(ballot: Ballot) -> BallotState:
    if ballot.is_open:
        return BallotState.OPEN
    return BallotState.CANCELLED if ballot.cancelled else BallotState.CLOSED


# --- who may read -------------------------------------------------------------


async def require_reader(
    uow: UnitOfWork, council: Council, *, user_id: int | None, member_id: int | None = None
) -> None:
    """Refuses (``errors.NotStaff``) anyone but the council's chairs and staff, named
    by their messenger ``user_id`` or by their ``member_id`` on its roll; ``user_id``
    None without ``member_id`` is the operator, who may read everything."""
    if member_id is not None:
        member = await uow.members.get(member_id)
        if (
            member is None
            or member.council_id != council.id
            or member.status is not MemberStatus.ACTIVE
            or member.user_id is None
        ):
            raise errors.NotStaff()
        council.require_staff(member.user_id)
        return
    if user_id is not None:
        council.require_staff(user_id)


async def _readable_ballot(
    uow: UnitOfWork, ballot_id: int, user_id: int | None, member_id: int | None
) -> tuple[Ballot, Council]:
    ballot = await uow.ballots.get(ballot_id)
    if ballot is None:
        raise errors.BallotNotFound()
    council = await require_council(uow, ballot.council_id)
    await require_reader(uow, council, user_id=user_id, member_id=member_id)
    return ballot, council


async def _topic(uow: UnitOfWork, topic_id: int) -> Topic:
    topic = await uow.topics.get(topic_id)
    if topic is None:
        raise errors.TopicNotFound()
    return topic


# --- turnout ------------------------------------------------------------------


@dataclass(frozen=True)
class Turnout:
    """How many took part in one ballot, in each quantity its rule counts (always
    ``HEADCOUNT``, people; ``HOUSEHOLDS``, ``AREA`` and ``OWNERS`` when the rule uses
    them). A closed ballot's figures are those its outcome recorded (the roll as it
    was when it closed); an open or cancelled one's are counted now."""

    ballot_id: int
    topic_id: int
    title: str  # the topic's title
    opened_at: datetime
    closed_at: datetime | None
    state: BallotState
    secret: bool
    result: Result | None  # the outcome's, once closed
    quantities: tuple[Quantity, ...]
    roll: Mapping[Quantity, Fraction]  # the base: people (households, …) on the roll
    took_part: Mapping[Quantity, Fraction]  # voted, abstaining included

    def fraction_in(self, quantity: Quantity) -> Fraction:
        """took part / roll in ``quantity`` (0 for an empty roll)."""
        base = self.roll.get(quantity, _ZERO)
        return self.took_part.get(quantity, _ZERO) / base if base > 0 else _ZERO

    @property
    def fraction(self) -> Fraction:
        """The turnout of people: took part / roll, exactly."""
        return self.fraction_in(Quantity.HEADCOUNT)

    @property
    def people(self) -> int:
        return int(self.took_part.get(Quantity.HEADCOUNT, _ZERO))

    @property
    def roll_size(self) -> int:
        return int(self.roll.get(Quantity.HEADCOUNT, _ZERO))


def _took_part(counts: Counts, quantity: Quantity) -> Fraction:
    return sum((counts.weight(label, quantity) for label in counts.labels), _ZERO)


async def turnout(
    uow: UnitOfWork, *, council_id: int, user_id: int | None, member_id: int | None = None
) -> list[Turnout]:
    """Every ballot of the council, open, closed and cancelled, oldest first, with
    its turnout. One statement for the ballots, one for their topics, and the open
    and cancelled ballots' figures counted together (``counts_many``)."""
    async with uow:
        council = await require_council(uow, council_id)
        await require_reader(uow, council, user_id=user_id, member_id=member_id)
        ballots = await uow.ballots.of_council(council_id)
        topics = await uow.topics.many(sorted({b.topic_id for b in ballots}))
        wanted = {
            b.id: b.rule.quantities for b in ballots if b.outcome is None and b.id is not None
        }
        counted = await uow.votes.counts_many(wanted) if wanted else {}
        found: list[Turnout] = []
        for ballot in ballots:
            assert ballot.id is not None
            quantities = ballot.rule.quantities
            if ballot.outcome is not None:
                tallies = ballot.outcome.tallies
                roll = {q: tallies[q].roll for q in quantities if q in tallies}
                took = {q: tallies[q].participants for q in quantities if q in tallies}
            else:
                counts = counted[ballot.id]
                roll = {q: counts.roll.get(q, _ZERO) for q in quantities}
                took = {q: _took_part(counts, q) for q in quantities}
            topic = topics.get(ballot.topic_id)
            found.append(
                Turnout(
                    ballot_id=ballot.id,
                    topic_id=ballot.topic_id,
                    title=topic.title if topic is not None else ballot.question,
                    opened_at=ballot.opened_at,
                    closed_at=ballot.closed_at,
                    state=_state(ballot),
                    secret=ballot.secret,
                    result=None if ballot.outcome is None else ballot.outcome.result,
                    quantities=tuple(q for q in quantities if q in roll),
                    roll=MappingProxyType(roll),
                    took_part=MappingProxyType(took),
                )
            )
        return found


# --- the audit trail ----------------------------------------------------------


class AuditAction(StrEnum):
    VOTED = "voted"  # a first vote
    CHANGED = "changed"  # a vote in place of an earlier one (there is no withdrawing)


@dataclass(frozen=True)
class AuditLine:
    """One vote event. ``choice`` and ``previous`` are None on a secret ballot;
    ``recorded_by`` None: the member voted themselves."""

    seq: int  # 1, 2, … in the order they were written
    at: datetime
    member_id: int
    name: str
    household: str
    action: AuditAction
    source: VoteSource
    recorded_by: int | None  # the chair's or staff member's messenger user id
    recorded_by_name: str | None  # their name on the roll, when they are on it
    reason: str | None  # an assisted vote's reason, a paper file's name
    choice: str | None
    previous: str | None


@dataclass(frozen=True)
class AuditTrail:
    council: Council
    ballot: Ballot
    topic: Topic
    lines: tuple[AuditLine, ...]  # oldest first

    @property
    def secret(self) -> bool:
        return self.ballot.secret


async def ballot_audit(
    uow: UnitOfWork, *, ballot_id: int, user_id: int | None, member_id: int | None = None
) -> AuditTrail:
    """Every vote and change of a ballot, who and when, how it came and who recorded
    it; the choices only for an open (non-secret) ballot."""
    async with uow:
        ballot, council = await _readable_ballot(uow, ballot_id, user_id, member_id)
        topic = await _topic(uow, ballot.topic_id)
        events = await uow.votes.events(ballot_id)
        members = await uow.members.by_ids(sorted({e.member_id for e in events}))
        recorders = sorted({e.recorded_by for e in events if e.recorded_by is not None})
        by_user = await uow.members.by_users(ballot.council_id, recorders) if recorders else {}
        secret = ballot.secret
        lines = []
        for event in events:
            member = members.get(event.member_id)
            recorder = None if event.recorded_by is None else by_user.get(event.recorded_by)
            lines.append(
                AuditLine(
                    seq=event.seq,
                    at=event.at,
                    member_id=event.member_id,
                    name=member.name if member is not None else "",
                    household=member.household if member is not None else "",
                    action=AuditAction.VOTED if event.previous is None else AuditAction.CHANGED,
                    source=event.source,
                    recorded_by=event.recorded_by,
                    recorded_by_name=None if recorder is None else recorder.name,
                    reason=event.reason,
                    choice=None if secret else event.choice,
                    previous=None if secret else event.previous,
                )
            )
        return AuditTrail(council, ballot, topic, tuple(lines))


# --- minutes ------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalRecord:
    proposal_id: int
    text: str
    author: str  # the author's name ("" when no longer known)
    created_at: datetime
    seconded_by: tuple[str, ...]  # names, by member id

    @property
    def seconds(self) -> int:
        return len(self.seconded_by)


@dataclass(frozen=True)
class BallotFigures:
    """A ballot as the minutes give it: its rule (``ballot.rule``), the outcome with
    its figures (recorded once closed; ``provisional`` while open; None when it was
    cancelled), and how many counted votes came from the chat, the room, paper and
    home visits."""

    ballot: Ballot
    state: BallotState
    outcome: Outcome | None
    provisional: bool
    sources: Mapping[VoteSource, int]

    @property
    def roll_size(self) -> int:
        if self.outcome is None:
            return 0
        return int(self.outcome.tallies[Quantity.HEADCOUNT].roll)

    @property
    def took_part(self) -> int:
        if self.outcome is None:
            return 0
        return int(self.outcome.tallies[Quantity.HEADCOUNT].participants)


@dataclass(frozen=True)
class TopicRecord:
    topic: Topic
    proposals: tuple[ProposalRecord, ...]  # oldest first
    ballots: tuple[BallotFigures, ...]  # oldest first


@dataclass(frozen=True)
class Attendee:
    member_id: int
    name: str
    household: str
    at: datetime
    marked_by: int | None  # None: checked in themselves; else a chair's user id


@dataclass(frozen=True)
class MeetingMinutes:
    """会议纪要 of a meeting: where and when, who attended (of how many on the roll),
    the agenda's free items and its topics, each with its proposals and ballots."""

    council: Council
    meeting: Meeting
    signed_in: bool  # whether a sign-in was held (else ``attendance`` is empty)
    attendance: tuple[Attendee, ...]  # in the order they came
    roll_size: int  # voting members on the roll now
    items: tuple[str, ...]
    topics: tuple[TopicRecord, ...]  # in the agenda's order


@dataclass(frozen=True)
class BallotMinutes:
    """The minutes of one ballot: its council and topic with the proposals, the
    ballot's rule, figures and outcome; and the meeting whose agenda held the topic
    (the latest such, not cancelled), with its attendance, when there is one."""

    council: Council
    topic: TopicRecord  # ``topic.ballots`` is this ballot alone
    figures: BallotFigures
    meeting: Meeting | None
    signed_in: bool
    attendance: tuple[Attendee, ...]
    roll_size: int  # voting members on the roll now

    @property
    def ballot(self) -> Ballot:
        return self.figures.ballot


async def _figures(uow: UnitOfWork, ballot: Ballot) -> BallotFigures:
    assert ballot.id is not None
    state = _state(ballot)
    outcome = ballot.outcome
    provisional = False
    if state is BallotState.OPEN:
        counts = await uow.votes.counts(ballot.id, ballot.council_id, ballot.rule.quantities)
        outcome = decide_counts(ballot.rule, counts, options=ballot.option_keys())
        provisional = True
    sources = (
        {}
        if state is BallotState.CANCELLED
        else await uow.votes.by_source(ballot.id, ballot.council_id)
    )
    ordered = {s: sources[s] for s in VoteSource if s in sources}
    return BallotFigures(ballot, state, outcome, provisional, MappingProxyType(ordered))


async def _topic_record(
    uow: UnitOfWork, topic: Topic, ballots: Sequence[Ballot] | None = None
) -> TopicRecord:
    assert topic.id is not None
    proposals = await uow.proposals.for_topic(topic.id)
    people = sorted({p.author_id for p in proposals} | {m for p in proposals for m in p.seconds})
    names = await uow.members.by_ids(people) if people else {}

    def name(member_id: int) -> str:
        member = names.get(member_id)
        return member.name if member is not None else ""

    records = tuple(
        ProposalRecord(
            proposal_id=p.id or 0,
            text=p.text,
            author=name(p.author_id),
            created_at=p.created_at,
            seconded_by=tuple(name(m) for m in sorted(p.seconds)),
        )
        for p in proposals
    )
    if ballots is None:
        ballots = list(reversed(await uow.ballots.for_topic(topic.id)))  # oldest first
    figures = tuple([await _figures(uow, b) for b in ballots])
    return TopicRecord(topic, records, figures)


async def _attendance(uow: UnitOfWork, meeting_id: int) -> tuple[bool, tuple[Attendee, ...]]:
    sign_in = await uow.sign_ins.get(meeting_id)
    if sign_in is None:
        return False, ()
    attendees = await uow.sign_ins.attendees(meeting_id)
    members = await uow.members.by_ids(list(attendees))
    return True, tuple(
        Attendee(
            member_id=member_id,
            name=members[member_id].name,
            household=members[member_id].household,
            at=attendance.at,
            marked_by=attendance.by_user,
        )
        for member_id, attendance in attendees.items()
        if member_id in members
    )


async def meeting_minutes(
    uow: UnitOfWork, *, meeting_id: int, user_id: int | None, member_id: int | None = None
) -> MeetingMinutes:
    """What a committee's minutes of a meeting hold (see ``MeetingMinutes``)."""
    async with uow:
        meeting = await uow.meetings.get(meeting_id)
        if meeting is None:
            raise errors.MeetingNotFound(count=-1)
        council = await require_council(uow, meeting.council_id)
        await require_reader(uow, council, user_id=user_id, member_id=member_id)
        signed_in, attendance = await _attendance(uow, meeting_id)
        topics = await uow.topics.many(meeting.topic_ids)
        records = tuple(
            [await _topic_record(uow, topics[t]) for t in meeting.topic_ids if t in topics]
        )
        return MeetingMinutes(
            council=council,
            meeting=meeting,
            signed_in=signed_in,
            attendance=attendance,
            roll_size=await uow.members.roll_size(meeting.council_id),
            items=tuple(meeting.items),
            topics=records,
        )


async def ballot_minutes(
    uow: UnitOfWork, *, ballot_id: int, user_id: int | None, member_id: int | None = None
) -> BallotMinutes:
    """What a committee's minutes of one ballot hold (see ``BallotMinutes``)."""
    async with uow:
        ballot, council = await _readable_ballot(uow, ballot_id, user_id, member_id)
        topic = await _topic(uow, ballot.topic_id)
        record = await _topic_record(uow, topic, [ballot])
        held = [
            m
            for m in await uow.meetings.of_council(ballot.council_id)
            if ballot.topic_id in m.topic_ids and m.status is not MeetingStatus.CANCELLED
        ]
        meeting = held[-1] if held else None
        signed_in, attendance = (
            await _attendance(uow, meeting.id)
            if meeting is not None and meeting.id is not None
            else (False, ())
        )
        return BallotMinutes(
            council=council,
            topic=record,
            figures=record.ballots[0],
            meeting=meeting,
            signed_in=signed_in,
            attendance=attendance,
            roll_size=await uow.members.roll_size(ballot.council_id),
        )


async def meeting_list(
    uow: UnitOfWork, *, council_id: int, user_id: int | None, member_id: int | None = None
) -> list[Meeting]:
    """Every meeting of the council, past, coming and cancelled, by when it starts:
    the ones whose minutes staff may download."""
    async with uow:
        council = await require_council(uow, council_id)
        await require_reader(uow, council, user_id=user_id, member_id=member_id)
        return await uow.meetings.of_council(council_id)


# --- the votes of a ballot ----------------------------------------------------


@dataclass(frozen=True)
class VoteLine:
    """A member's current vote. On a secret ballot only who took part: ``choice``,
    ``source`` and ``at`` are None. ``counted``: the member is on the roll the ballot
    counts (active and voting); a vote of someone who left is listed, not counted."""

    member_id: int
    name: str
    household: str
    choice: str | None
    source: VoteSource | None
    at: datetime | None
    counted: bool


@dataclass(frozen=True)
class BallotRecord:
    """A ballot's votes for a workbook: the figures (totals per choice are in
    ``figures.outcome``) and one line per member who voted, by address then name
    (never by choice or by time, on a secret ballot too)."""

    council: Council
    topic: Topic
    figures: BallotFigures
    lines: tuple[VoteLine, ...]

    @property
    def ballot(self) -> Ballot:
        return self.figures.ballot

    @property
    def secret(self) -> bool:
        return self.figures.ballot.secret


async def ballot_record(
    uow: UnitOfWork, *, ballot_id: int, user_id: int | None, member_id: int | None = None
) -> BallotRecord:
    """The ballot's figures and who voted; how each voted only on an open ballot."""
    async with uow:
        ballot, council = await _readable_ballot(uow, ballot_id, user_id, member_id)
        topic = await _topic(uow, ballot.topic_id)
        figures = await _figures(uow, ballot)
        current = await uow.votes.current(ballot_id)
        members = await uow.members.by_ids(sorted(current))
        votes = {} if ballot.secret else await uow.votes.of_members(ballot_id, sorted(current))
        lines = []
        for voter_id in current:
            member = members.get(voter_id)
            vote = votes.get(voter_id)
            lines.append(
                VoteLine(
                    member_id=voter_id,
                    name=member.name if member is not None else "",
                    household=member.household if member is not None else "",
                    choice=None if ballot.secret else current[voter_id],
                    source=None if vote is None else vote.source,
                    at=None if vote is None else vote.cast_at,
                    counted=member is not None
                    and member.council_id == ballot.council_id
                    and member.status is MemberStatus.ACTIVE
                    and member.voting,
                )
            )
        lines.sort(key=lambda line: (line.household, line.name, line.member_id))
        return BallotRecord(council, topic, figures, tuple(lines))
