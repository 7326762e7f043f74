"""In-memory fakes of the storage ports, for fast service-layer tests.

Every protocol in ``domain/ports.py`` is implemented with dicts, honouring its
documented semantics. The unit of work behaves like a database transaction:
it works on a private copy of the committed state taken when it is entered,
publishes that copy on ``commit`` and discards it on ``rollback`` or on exit
without a commit, so a test can check that a refusal changed nothing.
Repositories hand out copies of the stored entities, so mutating an entity
without ``update()`` is not persisted, as with a real database.

What is stored is what the databases give back (``tests/storage/test_contract_*.py``
runs one spec against these fakes and both databases): times aware and in UTC (a
naive time is refused), amounts with two decimals, notice parameters as JSON returns
them; an ``update`` without an id is refused and one of an id never added changes
nothing, as ``UPDATE … WHERE id = …`` does.
"""

from __future__ import annotations

import builtins
import copy
import dataclasses
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

from domain import errors, ports
from domain.binding import BindingCode
from domain.events import Event, Recorded
from domain.model import (
    TELEGRAM,
    Account,
    Attendance,
    Ballot,
    Council,
    Draft,
    Meeting,
    Member,
    MemberStatus,
    Notice,
    NoticeState,
    PaperUpload,
    Phase,
    Proposal,
    Resolution,
    RoleEvent,
    SignIn,
    Topic,
    Vote,
    VoteEvent,
    Voters,
    VoteSource,
)
from domain.ports import Lock
from domain.roster import ImportStatus, RosterImport
from domain.rules import Counts, Quantity, count
from domain.task_rules import (
    HoursEntry,
    MemberUnit,
    Offer,
    Task,
    TaskSource,
    TaskState,
    Team,
    Volunteer,
)
from domain.web_access import AccessEvent, LoginKey, SessionKind, WebLink, WebSession
from tests.schedule_moments import FakeScheduleReader

_T = TypeVar("_T")


def _clone(entity: _T) -> _T:
    """A copy that shares nothing mutable with ``entity``.

    Frozen dataclasses (rules, outcomes, votes, options) are immutable and are
    shared; the mutable containers of an entity (chairs, seconds) are copied.
    ``copy.deepcopy`` is not used because outcomes hold ``MappingProxyType``.
    """
    clone = copy.copy(entity)
    if dataclasses.is_dataclass(clone):
        for f in dataclasses.fields(clone):
            value = getattr(clone, f.name)
            if isinstance(value, set | list | dict):
                object.__setattr__(clone, f.name, copy.copy(value))
    return clone


CENT = Decimal("0.01")  # amounts are NUMERIC(n, 2) columns


def _utc(moment: datetime) -> datetime:
    """A time as a column keeps it (``storage.orm.UTCDateTime``): the same instant in UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass a timezone-aware time")
    return moment.astimezone(UTC)


def _stored(entity: _T) -> _T:
    """A clone of ``entity`` as a database gives it back: its times in UTC (a naive
    one refused) and its amounts with two decimals (rounded as PostgreSQL rounds)."""
    clone = _clone(entity)
    if dataclasses.is_dataclass(clone):
        for f in dataclasses.fields(clone):
            value = getattr(clone, f.name)
            if isinstance(value, datetime):
                object.__setattr__(clone, f.name, _utc(value))
            elif isinstance(value, Decimal):
                object.__setattr__(clone, f.name, value.quantize(CENT, ROUND_HALF_UP))
    return clone


def _required(value: int | None, what: str) -> int:
    """As ``storage.base.required``: an entity is written back by its id."""
    if value is None:
        raise ValueError(f"{what} has no id: add it first")
    return value


class _HasId(Protocol):
    id: int | None


_E = TypeVar("_E", bound=_HasId)


@dataclass
class Tables:
    """One consistent state of the whole store: what a transaction sees."""

    councils: dict[int, Council] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    topics: dict[int, Topic] = field(default_factory=dict)
    proposals: dict[int, Proposal] = field(default_factory=dict)
    seconds: dict[tuple[int, int], datetime] = field(default_factory=dict)
    ballots: dict[int, Ballot] = field(default_factory=dict)
    votes: dict[tuple[int, int], Vote] = field(default_factory=dict)
    events: list[VoteEvent] = field(default_factory=list)
    resolutions: dict[int, Resolution] = field(default_factory=dict)
    drafts: dict[int, Draft] = field(default_factory=dict)
    roster_imports: dict[int, RosterImport] = field(default_factory=dict)
    updates: set[str] = field(default_factory=set)
    meetings: dict[int, Meeting] = field(default_factory=dict)
    notices: dict[int, Notice] = field(default_factory=dict)
    contacts: dict[int, bool] = field(default_factory=dict)
    claimed_by: dict[int, int | None] = field(default_factory=dict)  # notice id -> process
    volunteers: dict[tuple[int, int], Volunteer] = field(default_factory=dict)
    teams: dict[int, Team] = field(default_factory=dict)
    units: dict[int, MemberUnit] = field(default_factory=dict)
    tasks: dict[int, Task] = field(default_factory=dict)
    offers: dict[int, Offer] = field(default_factory=dict)
    binding_codes: dict[int, BindingCode] = field(default_factory=dict)
    binding_attempts: list[tuple[int, datetime, bool]] = field(default_factory=list)
    hours: dict[int, HoursEntry] = field(default_factory=dict)  # task id -> entry
    role_events: list[RoleEvent] = field(default_factory=list)
    sign_ins: dict[int, SignIn] = field(default_factory=dict)  # meeting id -> sign-in
    attendance: dict[tuple[int, int], Attendance] = field(default_factory=dict)
    paper_uploads: dict[int, PaperUpload] = field(default_factory=dict)
    web_links: dict[int, WebLink] = field(default_factory=dict)
    login_keys: dict[int, LoginKey] = field(default_factory=dict)
    web_sessions: dict[int, WebSession] = field(default_factory=dict)
    web_access: list[AccessEvent] = field(default_factory=list)
    last_id: dict[str, int] = field(default_factory=dict)

    def copy(self) -> Tables:
        return Tables(
            councils={k: _clone(v) for k, v in self.councils.items()},
            members={k: _clone(v) for k, v in self.members.items()},
            topics={k: _clone(v) for k, v in self.topics.items()},
            proposals={k: _clone(v) for k, v in self.proposals.items()},
            seconds=dict(self.seconds),
            ballots={k: _clone(v) for k, v in self.ballots.items()},
            votes=dict(self.votes),  # Vote is frozen
            events=list(self.events),  # VoteEvent is frozen
            resolutions=dict(self.resolutions),  # Resolution is frozen
            drafts={k: _clone(v) for k, v in self.drafts.items()},
            roster_imports={k: _clone(v) for k, v in self.roster_imports.items()},
            updates=set(self.updates),
            meetings={k: _clone(v) for k, v in self.meetings.items()},
            notices={k: _clone(v) for k, v in self.notices.items()},
            contacts=dict(self.contacts),
            claimed_by=dict(self.claimed_by),
            volunteers={k: _clone(v) for k, v in self.volunteers.items()},
            teams={k: _clone(v) for k, v in self.teams.items()},
            units={k: _clone(v) for k, v in self.units.items()},
            tasks={k: _clone(v) for k, v in self.tasks.items()},
            offers={k: _clone(v) for k, v in self.offers.items()},
            binding_codes={k: _clone(v) for k, v in self.binding_codes.items()},
            binding_attempts=list(self.binding_attempts),
            hours=dict(self.hours),  # HoursEntry is frozen
            role_events=list(self.role_events),  # RoleEvent is frozen
            sign_ins={k: _clone(v) for k, v in self.sign_ins.items()},
            attendance=dict(self.attendance),  # Attendance is frozen
            paper_uploads={k: _clone(v) for k, v in self.paper_uploads.items()},
            web_links={k: _clone(v) for k, v in self.web_links.items()},
            login_keys={k: _clone(v) for k, v in self.login_keys.items()},
            web_sessions={k: _clone(v) for k, v in self.web_sessions.items()},
            web_access=list(self.web_access),  # AccessEvent is frozen
            last_id=dict(self.last_id),
        )

    def next_id(self, table: str) -> int:
        self.last_id[table] = self.last_id.get(table, 0) + 1
        return self.last_id[table]


class FakeStore:
    """The 'database': committed state shared by every unit of work."""

    def __init__(self) -> None:
        self.committed = Tables()
        self.commits = 0
        self.published: list[Event] = []  # every committed event, as the bus got them

    def snapshot(self) -> Tables:
        return self.committed.copy()


class _Repository:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    @property
    def _t(self) -> Tables:
        return self._uow.tables

    def _insert(self, table: str, rows: dict[int, _E], entity: _E) -> _E:
        """Store ``entity`` under a new id, which it gets too (as ``RETURNING id``)."""
        stored = _stored(entity)
        new_id = self._t.next_id(table)
        entity.id = stored.id = new_id
        rows[new_id] = stored
        return entity

    def _write_back(self, rows: dict[int, _E], entity: _E, what: str) -> None:
        """``UPDATE … WHERE id = …``: refused without an id, nothing for an unknown one."""
        entity_id = _required(entity.id, what)
        stored = _stored(entity)
        if entity_id in rows:
            rows[entity_id] = stored


class FakeCouncilRepository(_Repository):
    async def get(self, council_id: int) -> Council | None:
        council = self._t.councils.get(council_id)
        return None if council is None else _clone(council)

    async def by_chat(self, chat_id: int, thread_id: int) -> Council | None:
        for council in self._t.councils.values():
            if council.chat_id == chat_id and council.thread_id == thread_id:
                return _clone(council)
        return None

    async def add(self, council: Council) -> Council:
        _stored(council)  # a naive time is refused before anything else
        if await self.by_chat(council.chat_id, council.thread_id) is not None:
            raise AssertionError("unique constraint: one council per chat and thread")
        return self._insert("councils", self._t.councils, council)

    async def update(self, council: Council) -> None:
        self._write_back(self._t.councils, council, "council")

    async def many(self, council_ids: Sequence[int]) -> dict[int, Council]:
        return {i: _clone(self._t.councils[i]) for i in council_ids if i in self._t.councils}

    async def in_chat(self, chat_id: int) -> list[Council]:
        return [_clone(c) for _, c in sorted(self._t.councils.items()) if c.chat_id == chat_id]

    async def of_person(self, user_id: int) -> list[Council]:
        return [
            _clone(c)
            for _, c in sorted(self._t.councils.items())
            if user_id in c.chairs or user_id in c.staff
        ]

    async def forget_messages(self, council_id: int) -> None:
        for topic in self._t.topics.values():
            if topic.council_id == council_id:
                topic.card_ref = None
        for ballot in self._t.ballots.values():
            if ballot.council_id == council_id:
                ballot.message_ref = None
        for meeting in self._t.meetings.values():
            if meeting.council_id == council_id:
                meeting.message_ref = None
        for task in self._t.tasks.values():
            if task.council_id == council_id:
                task.card_ref = None
        for proposal in self._t.proposals.values():
            of_topic = self._t.topics.get(proposal.topic_id)
            if of_topic is not None and of_topic.council_id == council_id:
                proposal.source_ref = proposal.message_ref = None


class FakeMemberRepository(_Repository):
    async def get(self, member_id: int) -> Member | None:
        member = self._t.members.get(member_id)
        return None if member is None else _clone(member)

    async def by_ids(self, member_ids: Sequence[int]) -> dict[int, Member]:
        return {i: _clone(self._t.members[i]) for i in member_ids if i in self._t.members}

    async def by_user(self, council_id: int, user_id: int) -> Member | None:
        for member in self._t.members.values():
            if member.council_id == council_id and member.user_id == user_id:
                return _clone(member)
        return None

    async def by_users(self, council_id: int, user_ids: Sequence[int]) -> dict[int, Member]:
        wanted = set(user_ids)
        return {
            m.user_id: _clone(m)
            for m in self._t.members.values()
            if m.council_id == council_id and m.user_id in wanted and m.user_id is not None
        }

    async def by_account(self, council_id: int, account: Account) -> Member | None:
        for member in self._t.members.values():
            if member.council_id == council_id and account in member.accounts:
                return _clone(member)
        return None

    def _require_free(self, council_id: int, account: Account, member_id: int | None) -> None:
        """As the unique (council, messenger, account id) of ``member_accounts``."""
        for other in self._t.members.values():
            mine = other.id == member_id
            if other.council_id == council_id and not mine and account in other.accounts:
                raise errors.AccountTaken(messenger=account.messenger, account=account.id)

    async def add(self, member: Member) -> Member:
        _stored(member)
        taken = member.user_id is not None and await self.by_user(member.council_id, member.user_id)
        if taken:  # as SqlMemberRepository: the row it was asked to add is named
            raise errors.AlreadyMember(name=member.name)
        for account in member.accounts:
            self._require_free(member.council_id, account, None)
        return self._insert("members", self._t.members, member)

    async def update(self, member: Member) -> None:
        member_id = _required(member.id, "member")
        old = self._t.members.get(member_id)
        self._write_back(self._t.members, member, "member")
        if old is None:
            return
        # As SqlMemberRepository: linked accounts stay, the Telegram one follows user_id.
        kept = [a for a in old.accounts if a.messenger != TELEGRAM]
        if member.user_id is not None:
            kept.append(Account.telegram(member.user_id))
        self._t.members[member_id].accounts = tuple(sorted(kept))

    async def add_many(self, members: Sequence[Member]) -> None:
        for member in members:
            await self.add(member)

    async def update_many(self, members: Sequence[Member]) -> None:
        for member in members:
            await self.update(member)

    async def link_account(self, member_id: int, account: Account) -> bool:
        member = self._t.members.get(member_id)
        if member is None:
            raise errors.NotFound(field="member", id=member_id)
        if account in member.accounts:
            return False
        self._require_free(member.council_id, account, member_id)
        others = [a for a in member.accounts if a.messenger != account.messenger]
        member.accounts = tuple(sorted((*others, account)))
        if account.telegram_id is not None:
            member.user_id = account.telegram_id
        return True

    async def list(
        self, council_id: int, statuses: Sequence[MemberStatus] = (MemberStatus.ACTIVE,)
    ) -> list[Member]:
        return [
            _clone(m)
            for _, m in sorted(self._t.members.items())
            if m.council_id == council_id and m.status in statuses
        ]

    async def roll_size(self, council_id: int) -> int:
        return sum(
            1
            for m in self._t.members.values()
            if m.council_id == council_id and m.status is MemberStatus.ACTIVE and m.voting
        )

    async def of_flat(self, council_id: int, household: str) -> builtins.list[Member]:
        return [
            _clone(m)
            for _, m in sorted(self._t.members.items())
            if m.council_id == council_id and any(f.household == household for f in m.flats)
        ]


class FakeTopicRepository(_Repository):
    async def latest_decided(self, council_id: int) -> Topic | None:
        decided = [
            t
            for t in self._t.topics.values()
            if t.council_id == council_id and t.phase is Phase.DECIDED
        ]
        decided.sort(key=lambda t: (t.decided_at or t.opened_at, t.id or 0))
        return _clone(decided[-1]) if decided else None

    async def collecting_with_deadline(self) -> list[Topic]:
        return [
            _clone(t)
            for _, t in sorted(self._t.topics.items())
            if t.phase is Phase.COLLECTING and t.deadline is not None
        ]

    async def get(self, topic_id: int, lock: Lock = Lock.NONE) -> Topic | None:
        if lock is not Lock.NONE:
            self._uow.locked.append(("topic", topic_id, lock))
        topic = self._t.topics.get(topic_id)
        return None if topic is None else _clone(topic)

    async def many(self, topic_ids: Sequence[int]) -> dict[int, Topic]:
        return {i: _clone(self._t.topics[i]) for i in sorted(set(topic_ids)) if i in self._t.topics}

    async def add(self, topic: Topic) -> Topic:
        return self._insert("topics", self._t.topics, topic)

    async def update(self, topic: Topic) -> None:
        self._write_back(self._t.topics, topic, "topic")

    async def update_many(self, topics: Sequence[Topic]) -> None:
        for topic in topics:
            await self.update(topic)

    async def active(self, council_id: int) -> list[Topic]:
        found = [
            t
            for t in self._t.topics.values()
            if t.council_id == council_id and t.phase in (Phase.COLLECTING, Phase.VOTING)
        ]
        found.sort(key=lambda t: (t.opened_at, t.id or 0), reverse=True)
        return [_clone(t) for t in found]


class FakeProposalRepository(_Repository):
    def _filled(self, proposal: Proposal) -> Proposal:
        clone = _clone(proposal)
        clone.seconds = {m for (p, m) in self._t.seconds if p == proposal.id}
        return clone

    async def get(self, proposal_id: int, lock: Lock = Lock.NONE) -> Proposal | None:
        if lock is not Lock.NONE:
            self._uow.locked.append(("proposal", proposal_id, lock))
        proposal = self._t.proposals.get(proposal_id)
        return None if proposal is None else self._filled(proposal)

    async def by_source(self, council_id: int, source_ref: int) -> Proposal | None:
        for _, proposal in sorted(self._t.proposals.items(), reverse=True):
            topic = self._t.topics.get(proposal.topic_id)
            if proposal.source_ref == source_ref and topic and topic.council_id == council_id:
                return self._filled(proposal)
        return None

    async def set_text(self, proposal_id: int, text: str) -> None:
        if proposal_id in self._t.proposals:  # else, like an UPDATE, nothing
            self._t.proposals[proposal_id].text = text

    async def set_message(self, proposal_id: int, message_ref: int) -> None:
        if proposal_id in self._t.proposals:
            self._t.proposals[proposal_id].message_ref = message_ref

    async def count_by_author(self, member_id: int, since: datetime) -> int:
        return sum(
            1
            for p in self._t.proposals.values()
            if p.author_id == member_id and p.created_at >= since
        )

    async def add(self, proposal: Proposal) -> Proposal:
        self._insert("proposals", self._t.proposals, proposal)
        assert proposal.id is not None
        for member_id in proposal.seconds:
            self._t.seconds[(proposal.id, member_id)] = _utc(proposal.created_at)
        return proposal

    async def for_topic(self, topic_id: int) -> list[Proposal]:
        found = [p for p in self._t.proposals.values() if p.topic_id == topic_id]
        found.sort(key=lambda p: (p.created_at, p.id or 0))
        return [self._filled(p) for p in found]

    async def add_second(self, proposal_id: int, member_id: int, at: datetime) -> bool:
        assert proposal_id in self._t.proposals, "foreign key: no such proposal"
        if (proposal_id, member_id) in self._t.seconds:
            return False
        self._t.seconds[(proposal_id, member_id)] = _utc(at)
        return True


class FakeBallotRepository(_Repository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        super().__init__(uow)
        self.locks: list[tuple[int, Lock]] = []  # what the use cases asked for

    async def get(self, ballot_id: int, lock: Lock = Lock.NONE) -> Ballot | None:
        self.locks.append((ballot_id, lock))
        ballot = self._t.ballots.get(ballot_id)
        return None if ballot is None else _clone(ballot)

    async def many(self, ballot_ids: Sequence[int], lock: Lock = Lock.NONE) -> dict[int, Ballot]:
        found = {}
        for ballot_id in sorted(set(ballot_ids)):  # locked in id order, as the databases do
            ballot = await self.get(ballot_id, lock)
            if ballot is not None:
                found[ballot_id] = ballot
        return found

    async def add(self, ballot: Ballot) -> Ballot:
        return self._insert("ballots", self._t.ballots, ballot)

    async def update_many(self, ballots: Sequence[Ballot]) -> None:
        for ballot in ballots:
            stored = self._t.ballots.get(_required(ballot.id, "ballot"))
            if stored is not None:  # rendered_seq moves only through set_rendered
                kept = _clone(ballot)
                kept.rendered_seq = stored.rendered_seq
                await self.update(kept)

    async def update(self, ballot: Ballot) -> None:
        ballot_id = _required(ballot.id, "ballot")
        clone = _stored(ballot)
        stored = self._t.ballots.get(ballot_id)
        if stored is not None:
            # rendered_seq moves only through set_rendered, and never down.
            clone.rendered_seq = max(stored.rendered_seq, ballot.rendered_seq)
            self._t.ballots[ballot_id] = clone

    def _newest_first(self, ballots: list[Ballot]) -> list[Ballot]:
        ballots.sort(key=lambda b: (b.opened_at, b.id or 0), reverse=True)
        return [_clone(b) for b in ballots]

    async def for_topic(self, topic_id: int) -> list[Ballot]:
        return self._newest_first([b for b in self._t.ballots.values() if b.topic_id == topic_id])

    async def latest(self, council_id: int) -> Ballot | None:
        found = self._newest_first(
            [b for b in self._t.ballots.values() if b.council_id == council_id]
        )
        return found[0] if found else None

    async def open(self, council_id: int) -> list[Ballot]:
        return self._newest_first(
            [b for b in self._t.ballots.values() if b.council_id == council_id and b.is_open]
        )

    async def all_open(self) -> list[int]:
        return [ballot_id for ballot_id, b in sorted(self._t.ballots.items()) if b.is_open]

    async def open_with_deadline(self) -> list[Ballot]:
        return [
            _clone(b)
            for _, b in sorted(self._t.ballots.items())
            if b.is_open and b.deadline is not None
        ]

    async def set_rendered(self, ballot_id: int, seq: int) -> None:
        ballot = self._t.ballots.get(ballot_id)
        if ballot is not None and seq > ballot.rendered_seq:
            ballot.rendered_seq = seq

    async def behind(self) -> list[int]:
        events: dict[int, int] = {}
        for event in self._t.events:
            events[event.ballot_id] = events.get(event.ballot_id, 0) + 1
        return [
            ballot_id
            for ballot_id, b in sorted(self._t.ballots.items())
            if b.is_open and b.message_ref is not None and events.get(ballot_id, 0) > b.rendered_seq
        ]

    async def of_council(self, council_id: int) -> list[Ballot]:
        found = [b for b in self._t.ballots.values() if b.council_id == council_id]
        return [_clone(b) for b in sorted(found, key=lambda b: (b.opened_at, b.id or 0))]


class FakeVoteRepository(_Repository):
    async def put(self, vote: Vote) -> str | None:
        vote = _stored(vote)
        key = (vote.ballot_id, vote.member_id)
        current = self._t.votes.get(key)
        previous = None if current is None else current.choice
        if previous == vote.choice:
            return previous
        self._t.votes[key] = dataclasses.replace(vote, reason=None)  # the trail keeps it
        self._t.events.append(
            VoteEvent(
                ballot_id=vote.ballot_id,
                member_id=vote.member_id,
                choice=vote.choice,
                previous=previous,
                at=vote.cast_at,
                # Numbered per ballot, 1, 2, …, as SqlVoteRepository numbers them.
                seq=await self.last_seq(vote.ballot_id) + 1,
                source=vote.source,
                recorded_by=vote.recorded_by,
                reason=vote.reason,
            )
        )
        return previous

    async def put_many(self, votes: Sequence[Vote]) -> list[str | None]:
        slots = [(v.ballot_id, v.member_id) for v in votes]
        assert len(set(slots)) == len(slots), "put_many: two votes of one member on one ballot"
        return [await self.put(vote) for vote in votes]

    async def current(self, ballot_id: int) -> dict[int, str]:
        return {m: v.choice for (b, m), v in sorted(self._t.votes.items()) if b == ballot_id}

    async def choice_of(self, ballot_id: int, member_id: int) -> str | None:
        vote = self._t.votes.get((ballot_id, member_id))
        return None if vote is None else vote.choice

    async def events(self, ballot_id: int) -> list[VoteEvent]:
        return [e for e in self._t.events if e.ballot_id == ballot_id]

    async def last_seq(self, ballot_id: int) -> int:
        return sum(1 for e in self._t.events if e.ballot_id == ballot_id)

    async def seq_and_choice(self, ballot_id: int, member_id: int | None) -> tuple[int, str | None]:
        choice = None if member_id is None else await self.choice_of(ballot_id, member_id)
        return await self.last_seq(ballot_id), choice

    def _roll(self, council_id: int) -> list[Member]:
        return [
            m
            for _, m in sorted(self._t.members.items())
            if m.council_id == council_id and m.status is MemberStatus.ACTIVE and m.voting
        ]

    async def counts(
        self, ballot_id: int, council_id: int, quantities: Iterable[Quantity]
    ) -> Counts:
        votes = {str(m): choice for m, choice in (await self.current(ballot_id)).items()}
        return count([m.voter() for m in self._roll(council_id)], votes, quantities)

    async def counts_many(self, wanted: Mapping[int, Iterable[Quantity]]) -> dict[int, Counts]:
        return {
            ballot_id: await self.counts(ballot_id, self._t.ballots[ballot_id].council_id, q)
            for ballot_id, q in sorted(wanted.items())
            if ballot_id in self._t.ballots
        }

    async def of_members(self, ballot_id: int, member_ids: Sequence[int]) -> dict[int, Vote]:
        return {
            m: self._t.votes[(ballot_id, m)]
            for m in sorted(set(member_ids))
            if (ballot_id, m) in self._t.votes
        }

    async def by_source(self, ballot_id: int, council_id: int) -> dict[VoteSource, int]:
        on_roll = {m.id for m in self._roll(council_id)}
        found: dict[VoteSource, int] = {}
        for (b, m), vote in self._t.votes.items():
            if b == ballot_id and m in on_roll:
                found[vote.source] = found.get(vote.source, 0) + 1
        return found

    async def voters(
        self, ballot_id: int, council_id: int, limit: int, totals: Mapping[str, int]
    ) -> dict[str, Voters]:
        current = await self.current(ballot_id)
        names: dict[str, list[str]] = {}
        for member in self._roll(council_id):
            if member.id in current:
                names.setdefault(current[member.id], []).append(member.name)
        return {
            c: Voters(tuple(names.get(c, [])[:limit]), total)
            for c, total in totals.items()
            if total > 0
        }


class FakeResolutionRepository(_Repository):
    async def add(self, resolution: Resolution) -> Resolution:
        stored = _stored(resolution)
        added = dataclasses.replace(resolution, id=self._t.next_id("resolutions"))
        assert added.id is not None
        self._t.resolutions[added.id] = dataclasses.replace(stored, id=added.id)
        return added

    async def add_many(self, resolutions: Sequence[Resolution]) -> list[Resolution]:
        return [await self.add(r) for r in resolutions]

    async def for_topic(self, topic_id: int) -> list[Resolution]:
        found = [r for r in self._t.resolutions.values() if r.topic_id == topic_id]
        return sorted(found, key=lambda r: (r.recorded_at, r.id or 0))


class FakeDraftRepository(_Repository):
    async def get(self, user_id: int) -> Draft | None:
        draft = self._t.drafts.get(user_id)
        return None if draft is None else _clone(draft)

    async def put(self, draft: Draft) -> None:
        self._t.drafts[draft.user_id] = _stored(draft)

    async def delete(self, user_id: int) -> None:
        self._t.drafts.pop(user_id, None)


class FakeRosterImportRepository(_Repository):
    """As ``roster_imports``: the plan is kept as its JSON, so nothing shares it."""

    @staticmethod
    def _row(roster_import: RosterImport) -> RosterImport:
        row = _stored(roster_import)
        row.plan = json.loads(json.dumps(roster_import.plan))
        return row

    async def add(self, roster_import: RosterImport) -> RosterImport:
        added = self._insert("roster_imports", self._t.roster_imports, self._row(roster_import))
        roster_import.id = added.id
        return roster_import

    async def get(self, import_id: int, lock: Lock = Lock.NONE) -> RosterImport | None:
        found = self._t.roster_imports.get(import_id)
        if found is not None and lock is not Lock.NONE:
            self._uow.locked.append(("roster_import", import_id, lock))
        return None if found is None else self._row(found)

    async def update(self, roster_import: RosterImport) -> None:
        self._write_back(self._t.roster_imports, self._row(roster_import), "roster import")

    async def progress(self, import_id: int) -> tuple[ImportStatus, int] | None:
        found = self._t.roster_imports.get(import_id)
        if found is None:
            return None
        self._uow.locked.append(("roster_import", import_id, Lock.UPDATE))
        return found.status, found.done

    async def set_progress(
        self, import_id: int, status: ImportStatus, done: int, decided_at: datetime | None
    ) -> None:
        found = self._t.roster_imports.get(import_id)
        if found is not None:
            found.status, found.decided_at = status, decided_at and _utc(decided_at)
            found.plan = {**found.plan, "done": done}

    async def cancel_pending(self, council_id: int, user_id: int, now: datetime) -> int:
        found = [
            i
            for i in self._t.roster_imports.values()
            if (i.council_id, i.user_id, i.status) == (council_id, user_id, ImportStatus.PENDING)
        ]
        for roster_import in found:
            roster_import.status, roster_import.decided_at = ImportStatus.CANCELLED, _utc(now)
        return len(found)


class FakeUpdateLog(_Repository):
    async def claim(self, key: str) -> bool:
        if key in self._t.updates:
            return False
        self._t.updates.add(key)
        return True

    async def claim_many(self, keys: Sequence[str]) -> set[str]:
        assert len(set(keys)) == len(keys), "claim_many: keys must be distinct"
        return {key for key in keys if await self.claim(key)}

    async def seen(self, keys: Sequence[str]) -> set[str]:
        return {key for key in keys if key in self._t.updates}


class FakeMeetingRepository(_Repository):
    async def get(self, meeting_id: int) -> Meeting | None:
        meeting = self._t.meetings.get(meeting_id)
        return None if meeting is None else _clone(meeting)

    async def add(self, meeting: Meeting) -> Meeting:
        return self._insert("meetings", self._t.meetings, meeting)

    async def update(self, meeting: Meeting) -> None:
        self._write_back(self._t.meetings, meeting, "meeting")

    async def upcoming(self, council_id: int, after: datetime) -> list[Meeting]:
        found = [m for m in await self.all_upcoming(after) if m.council_id == council_id]
        return sorted(found, key=lambda m: (m.starts_at, m.id or 0))

    async def all_upcoming(self, after: datetime) -> list[Meeting]:
        return [
            _clone(m)
            for _, m in sorted(self._t.meetings.items())
            if m.is_scheduled and m.starts_at > after
        ]

    async def of_council(self, council_id: int) -> list[Meeting]:
        found = [m for m in self._t.meetings.values() if m.council_id == council_id]
        return [_clone(m) for m in sorted(found, key=lambda m: (m.starts_at, m.id or 0))]


class FakeNoticeRepository(_Repository):
    @staticmethod
    def _as_json(notice: Notice) -> Notice:
        """Parameters as a JSON column gives them back (tuples as lists, keys as strings);
        what JSON cannot hold is refused."""
        notice.params = json.loads(json.dumps(notice.params))
        return notice

    async def add(self, notice: Notice) -> bool:
        self._as_json(_stored(notice))
        if any(n.key == notice.key for n in self._t.notices.values()):
            return False
        self._insert("notices", self._t.notices, notice)
        assert notice.id is not None
        self._as_json(self._t.notices[notice.id])
        return True

    async def add_many(self, notices: Sequence[Notice]) -> int:
        queued: dict[str, int] = {}
        for notice in notices:
            if notice.key not in queued and await self.add(notice):
                assert notice.id is not None
                queued[notice.key] = notice.id
        for notice in notices:
            # As ``INSERT … ON CONFLICT DO NOTHING RETURNING`` tells it: the row queued
            # now under the notice's key (twice in one batch: one row), or none.
            notice.id = queued.get(notice.key)
        return len(queued)

    async def get(self, notice_id: int) -> Notice | None:
        notice = self._t.notices.get(notice_id)
        return None if notice is None else _clone(notice)

    async def update(self, notice: Notice) -> None:
        self._as_json(_stored(notice))
        self._write_back(self._t.notices, notice, "notice")
        if notice.id in self._t.notices:
            self._as_json(self._t.notices[notice.id])

    async def claim(self, now: datetime, limit: int, claimed_by: int | None = None) -> list[Notice]:
        taken: list[Notice] = []
        for _, notice in sorted(self._t.notices.items()):
            if len(taken) == limit:
                break
            due = notice.not_before is None or notice.not_before <= now
            if notice.state is NoticeState.PENDING and due:
                notice.state = NoticeState.SENDING
                notice.attempts += 1
                self._t.claimed_by[notice.id or 0] = claimed_by
                taken.append(_clone(notice))
        return taken

    async def claimers(self) -> set[int | None]:
        return {
            self._t.claimed_by.get(notice.id or 0)
            for notice in self._t.notices.values()
            if notice.state is NoticeState.SENDING
        }

    async def readdress(self, old_chat_id: int, new_chat_id: int) -> int:
        moved = 0
        for notice in self._t.notices.values():
            waiting = notice.state in (NoticeState.PENDING, NoticeState.SENDING)
            if waiting and notice.chat_id == old_chat_id:
                notice.chat_id = new_chat_id
                moved += 1
        return moved

    async def in_flight(self, claimers: Sequence[int | None]) -> list[Notice]:
        return [
            _clone(notice)
            for _, notice in sorted(self._t.notices.items())
            if notice.state is NoticeState.SENDING
            and self._t.claimed_by.get(notice.id or 0) in claimers
        ]


class FakeContactRepository(_Repository):
    async def mark(self, user_id: int, reachable: bool, at: datetime) -> None:
        _utc(at)
        self._t.contacts[user_id] = reachable

    async def reachable(self, user_ids: Sequence[int]) -> set[int]:
        return {u for u in user_ids if self._t.contacts.get(u)}


class FakeVolunteerRepository(_Repository):
    async def get(self, council_id: int, member_id: int) -> Volunteer | None:
        found = self._t.volunteers.get((council_id, member_id))
        return None if found is None else _clone(found)

    async def put(self, volunteer: Volunteer) -> Volunteer:
        self._t.volunteers[(volunteer.council_id, volunteer.member_id)] = _stored(volunteer)
        return volunteer

    async def of_council(self, council_id: int, team_id: int | None = None) -> list[Volunteer]:
        return [
            _clone(v)
            for (c, _), v in sorted(self._t.volunteers.items())
            if c == council_id and (team_id is None or v.team_id == team_id)
        ]


class _FakeNamed(_Repository):
    table: str
    columns: tuple[str, ...]  # what ``update`` writes: a row stays in its council

    def _rows(self) -> dict[int, Any]:
        rows: dict[int, Any] = getattr(self._t, self.table)
        return rows

    async def get(self, row_id: int) -> Any:
        found = self._rows().get(row_id)
        return None if found is None else _clone(found)

    async def by_name(self, council_id: int, name: str) -> Any:
        for row in self._rows().values():
            if row.council_id == council_id and row.name == name:
                return _clone(row)
        return None

    async def add(self, row: Any) -> Any:
        if await self.by_name(row.council_id, row.name) is not None:
            raise errors.AlreadyExists(name=row.name)
        return self._insert(self.table, self._rows(), row)

    async def update(self, row: Any) -> None:
        stored = self._rows().get(_required(row.id, self.table))
        if stored is not None:
            for column in self.columns:
                setattr(stored, column, copy.copy(getattr(row, column)))

    async def of_council(self, council_id: int) -> list[Any]:
        return [_clone(r) for _, r in sorted(self._rows().items()) if r.council_id == council_id]


class FakeTeamRepository(_FakeNamed):
    table = "teams"
    columns = ("name", "leader_member_ids")


class FakeUnitRepository(_FakeNamed):
    table = "units"
    columns = ("name", "contact_user_ids", "services")


class FakeTaskRepository(_Repository):
    async def get(self, task_id: int, lock: Lock = Lock.NONE) -> Task | None:
        found = self._t.tasks.get(task_id)
        return None if found is None else _clone(found)

    async def add(self, task: Task) -> Task:
        return self._insert("tasks", self._t.tasks, task)

    async def count_requests(self, member_id: int, since: datetime) -> int:
        return sum(
            1
            for t in self._t.tasks.values()
            if t.requester_member_id == member_id
            and t.source is TaskSource.REQUEST
            and t.created_at >= since
        )

    async def update(self, task: Task) -> None:
        self._write_back(self._t.tasks, task, "task")

    async def for_topic(self, topic_id: int) -> list[Task]:
        return [_clone(t) for _, t in sorted(self._t.tasks.items()) if t.topic_id == topic_id]

    async def recent(self, council_id: int, limit: int) -> list[Task]:
        mine = [t for t in self._t.tasks.values() if t.council_id == council_id]
        open_ = (TaskState.OPEN, TaskState.OFFERED, TaskState.ACCEPTED)
        mine.sort(key=lambda t: (t.state not in open_, -(t.id or 0)))
        return [_clone(t) for t in mine[:limit]]

    async def open_load(self, member_ids: Sequence[int]) -> dict[int, int]:
        load: dict[int, int] = {}
        for task in self._t.tasks.values():
            if task.state is TaskState.ACCEPTED and task.accepted_by in member_ids:
                assert task.accepted_by is not None
                load[task.accepted_by] = load.get(task.accepted_by, 0) + 1
        return load

    async def of_council(
        self, council_id: int, states: Sequence[TaskState], limit: int
    ) -> list[Task]:
        mine = [
            t for t in self._t.tasks.values() if t.council_id == council_id and t.state in states
        ]
        mine.sort(key=lambda t: (t.closed_at or t.created_at, t.id or 0), reverse=True)
        return [_clone(t) for t in mine[: max(limit, 0)]]

    async def count_by_state(self, council_id: int) -> dict[TaskState, int]:
        counts: dict[TaskState, int] = {}
        for task in self._t.tasks.values():
            if task.council_id == council_id:
                counts[task.state] = counts.get(task.state, 0) + 1
        return counts

    async def request_waits(
        self, council_id: int, since: datetime | None, until: datetime | None
    ) -> dict[str | None, ports.RequestWaits]:
        groups: dict[str | None, list[Task]] = {}
        for task in self._t.tasks.values():
            if (
                task.council_id == council_id
                and task.source is TaskSource.REQUEST
                and (since is None or task.created_at >= since)
                and (until is None or task.created_at < until)
            ):
                groups.setdefault(task.skill, []).append(task)
        found: dict[str | None, ports.RequestWaits] = {}
        for skill, tasks in groups.items():
            waits = sorted(t.accepted_at - t.created_at for t in tasks if t.accepted_at is not None)
            waiting = sum(
                1
                for t in tasks
                if t.accepted_at is None and t.state in (TaskState.OPEN, TaskState.OFFERED)
            )
            n = len(waits)
            median = p90 = None
            if n:
                median = (waits[(n + 1) // 2 - 1] + waits[n // 2]) / 2
                p90 = waits[(9 * n + 9) // 10 - 1]
            found[skill] = ports.RequestWaits(
                requests=len(tasks),
                taken=n,
                waiting=waiting,
                never_taken=len(tasks) - n - waiting,
                median=median,
                p90=p90,
            )
        return found


class FakeOfferRepository(_Repository):
    async def add(self, offer: Offer) -> Offer:
        if any(
            o.task_id == offer.task_id and o.member_id == offer.member_id
            for o in self._t.offers.values()
        ):
            raise AssertionError("a task is offered to a volunteer at most once")
        return self._insert("offers", self._t.offers, offer)

    async def add_many(self, offers: Sequence[Offer]) -> list[Offer]:
        return [await self.add(offer) for offer in offers]

    async def get(self, offer_id: int) -> Offer | None:
        found = self._t.offers.get(offer_id)
        return None if found is None else _clone(found)

    async def update(self, offer: Offer) -> None:
        answer = _stored(offer)
        stored = self._t.offers.get(_required(offer.id, "offer"))
        if stored is not None:
            # Only the answer is written back (SqlOfferRepository): to whom, in which
            # round and until when were fixed when the offer was made.
            stored.state = answer.state
            stored.answered_at = answer.answered_at
            stored.message_ref = answer.message_ref

    async def for_task(self, task_id: int) -> list[Offer]:
        return [_clone(o) for _, o in sorted(self._t.offers.items()) if o.task_id == task_id]

    async def last_offered(self, member_ids: Sequence[int]) -> dict[int, datetime]:
        last: dict[int, datetime] = {}
        for offer in self._t.offers.values():
            if offer.member_id in member_ids:
                seen = last.get(offer.member_id)
                if seen is None or offer.offered_at > seen:
                    last[offer.member_id] = offer.offered_at
        return last

    async def pending_expiries(self) -> dict[int, datetime]:
        found: dict[int, datetime] = {}
        for offer in self._t.offers.values():
            task = self._t.tasks.get(offer.task_id)
            if offer.is_pending and task is not None and task.state is TaskState.OFFERED:
                seen = found.get(offer.task_id)
                if seen is None or offer.expires_at < seen:
                    found[offer.task_id] = offer.expires_at
        return found


class FakeBindingCodeRepository(_Repository):
    async def add(self, codes: Sequence[BindingCode]) -> None:
        for code in codes:
            if any(c.digest == code.digest for c in self._t.binding_codes.values()):
                raise AssertionError("unique constraint: binding_codes.digest")
            self._insert("binding_codes", self._t.binding_codes, _clone(code))

    async def expire_unused(self, member_ids: Sequence[int], now: datetime) -> int:
        wanted, ended = set(member_ids), 0
        for code in self._t.binding_codes.values():
            if code.member_id in wanted and code.used_at is None and code.expires_at > now:
                code.expires_at = _utc(now)
                ended += 1
        return ended

    async def by_digest(self, digest: str) -> BindingCode | None:
        for code in self._t.binding_codes.values():
            if code.digest == digest:
                return _clone(code)
        return None

    async def use(self, code_id: int, user_id: int, now: datetime) -> bool:
        code = self._t.binding_codes.get(code_id)
        if code is None or code.used_at is not None:
            return False
        code.used_at, code.used_by = _utc(now), user_id
        return True

    async def attempt(self, user_id: int, at: datetime, ok: bool) -> None:
        self._t.binding_attempts.append((user_id, _utc(at), ok))

    async def failures_since(self, user_id: int, since: datetime) -> list[datetime]:
        attempts = self._t.binding_attempts
        return [at for who, at, ok in attempts if who == user_id and not ok and at >= since]


class FakeWebAccessRepository(_Repository):
    async def add_link(self, link: WebLink) -> WebLink:
        if any(x.digest == link.digest for x in self._t.web_links.values()):
            raise AssertionError("unique constraint: web_links.digest")
        return self._insert("web_links", self._t.web_links, link)

    async def link_by_digest(self, digest: str) -> WebLink | None:
        found = [x for x in self._t.web_links.values() if x.digest == digest]
        return _clone(found[0]) if found else None

    async def use_link(self, link_id: int, now: datetime) -> bool:
        link = self._t.web_links.get(link_id)
        if link is None or link.used_at is not None:
            return False
        link.used_at = _utc(now)
        return True

    async def links_since(self, user_id: int, since: datetime) -> int:
        links = self._t.web_links.values()
        return sum(1 for x in links if x.user_id == user_id and x.created_at >= since)

    async def add_key(self, key: LoginKey) -> LoginKey:
        if any(x.digest == key.digest for x in self._t.login_keys.values()):
            raise AssertionError("unique constraint: login_keys.digest")
        return self._insert("login_keys", self._t.login_keys, key)

    async def key_by_digest(self, digest: str) -> LoginKey | None:
        found = [x for x in self._t.login_keys.values() if x.digest == digest]
        return _clone(found[0]) if found else None

    async def keys_of(self, member_id: int) -> list[LoginKey]:
        keys = sorted(self._t.login_keys.items())
        return [_clone(x) for _, x in keys if x.member_id == member_id]

    async def revoke_keys(self, member_ids: Sequence[int], now: datetime) -> list[int]:
        wanted, revoked = set(member_ids), []
        for key_id, key in sorted(self._t.login_keys.items()):
            if key.member_id in wanted and key.revoked_at is None:
                key.revoked_at = _utc(now)
                revoked.append(key_id)
        for session in self._t.web_sessions.values():
            if session.key_id in revoked and session.revoked_at is None:
                session.revoked_at = _utc(now)
        return revoked

    async def add_session(self, session: WebSession) -> WebSession:
        if any(x.digest == session.digest for x in self._t.web_sessions.values()):
            raise AssertionError("unique constraint: web_sessions.digest")
        return self._insert("web_sessions", self._t.web_sessions, session)

    async def session_by_digest(self, digest: str) -> WebSession | None:
        found = [x for x in self._t.web_sessions.values() if x.digest == digest]
        return _clone(found[0]) if found else None

    async def signed_in(self, digest: str) -> tuple[WebSession, Council, Member | None] | None:
        session = await self.session_by_digest(digest)
        council = None if session is None else self._t.councils.get(session.council_id)
        if session is None or council is None:
            return None
        member = None
        if session.member_id is not None:
            member = self._t.members.get(session.member_id)
        elif session.kind is SessionKind.STAFF and session.user_id is not None:
            member = next(
                (
                    m
                    for m in self._t.members.values()
                    if m.council_id == council.id and m.user_id == session.user_id
                ),
                None,
            )
        return session, _clone(council), None if member is None else _clone(member)

    async def revoke_session(self, session_id: int, now: datetime) -> None:
        session = self._t.web_sessions.get(session_id)
        if session is not None and session.revoked_at is None:
            session.revoked_at = _utc(now)

    async def record(self, event: AccessEvent) -> None:
        stored = dataclasses.replace(event, at=_utc(event.at), id=len(self._t.web_access) + 1)
        self._t.web_access.append(stored)

    async def failures_since(self, client: str, since: datetime) -> list[datetime]:
        events = self._t.web_access
        return [e.at for e in events if e.client == client and not e.ok and e.at >= since]

    async def trail(
        self, council_id: int, *, member_id: int | None = None, limit: int = 200
    ) -> list[AccessEvent]:
        events = [
            e
            for e in self._t.web_access
            if e.council_id == council_id and (member_id is None or e.member_id == member_id)
        ]
        return sorted(events, key=lambda e: (e.at, e.id or 0), reverse=True)[:limit]


class FakeHoursLedger(_Repository):
    async def add(self, entry: HoursEntry) -> bool:
        entry = _stored(entry)
        if entry.task_id in self._t.hours:
            return False
        self._t.hours[entry.task_id] = entry
        return True

    async def total(self, council_id: int, member_id: int) -> Decimal:
        return sum(
            (
                e.hours
                for e in self._t.hours.values()
                if e.council_id == council_id and e.member_id == member_id
            ),
            Decimal(0),
        ).quantize(CENT)

    async def by_member(self, council_id: int, team_id: int | None) -> dict[int, Decimal]:
        totals: dict[int, Decimal] = {}
        for entry in self._t.hours.values():
            if entry.council_id == council_id and (team_id is None or entry.team_id == team_id):
                before = totals.get(entry.member_id, Decimal("0.00"))
                totals[entry.member_id] = before + entry.hours
        return totals

    def _within(
        self, council_id: int, since: datetime | None, until: datetime | None
    ) -> list[HoursEntry]:
        return [
            e
            for e in self._t.hours.values()
            if e.council_id == council_id
            and (since is None or e.at >= since)
            and (until is None or e.at < until)
        ]

    @staticmethod
    def _sum(entries: Sequence[HoursEntry]) -> ports.HoursSum:
        hours = sum((e.hours for e in entries), Decimal(0)).quantize(CENT)
        return ports.HoursSum(hours, len(entries), len({e.member_id for e in entries}))

    async def per_member(
        self, council_id: int, since: datetime | None, until: datetime | None
    ) -> dict[int, ports.HoursSum]:
        groups: dict[int, list[HoursEntry]] = {}
        for entry in self._within(council_id, since, until):
            groups.setdefault(entry.member_id, []).append(entry)
        return {member_id: self._sum(entries) for member_id, entries in groups.items()}

    async def per_team(
        self, council_id: int, since: datetime | None, until: datetime | None
    ) -> dict[int | None, ports.HoursSum]:
        groups: dict[int | None, list[HoursEntry]] = {}
        for entry in self._within(council_id, since, until):
            groups.setdefault(entry.team_id, []).append(entry)
        return {team_id: self._sum(entries) for team_id, entries in groups.items()}

    async def per_period(self, council_id: int, edges: Sequence[datetime]) -> list[ports.HoursSum]:
        return [
            self._sum(self._within(council_id, start, end))
            for start, end in itertools.pairwise(edges)
        ]

    async def span(
        self, council_id: int, since: datetime | None, until: datetime | None
    ) -> tuple[datetime, datetime] | None:
        moments = [e.at for e in self._within(council_id, since, until)]
        return (min(moments), max(moments)) if moments else None


class FakeRoleEventRepository(_Repository):
    async def add(self, event: RoleEvent) -> RoleEvent:
        stored = dataclasses.replace(_stored(event), id=self._t.next_id("role_events"))
        self._t.role_events.append(stored)
        return stored

    async def of_council(self, council_id: int, limit: int = 50) -> list[RoleEvent]:
        mine = [e for e in self._t.role_events if e.council_id == council_id]
        return sorted(mine, key=lambda e: (e.at, e.id or 0), reverse=True)[:limit]


class FakeSignInRepository(_Repository):
    async def get(self, meeting_id: int) -> SignIn | None:
        found = self._t.sign_ins.get(meeting_id)
        return None if found is None else _clone(found)

    async def add(self, sign_in: SignIn) -> bool:
        if sign_in.meeting_id in self._t.sign_ins:
            return False
        self._t.sign_ins[sign_in.meeting_id] = _stored(sign_in)
        return True

    async def update(self, sign_in: SignIn) -> None:
        if sign_in.meeting_id in self._t.sign_ins:
            self._t.sign_ins[sign_in.meeting_id] = _stored(sign_in)

    async def open_of(self, council_id: int) -> SignIn | None:
        found = [s for s in self._t.sign_ins.values() if s.council_id == council_id and s.is_open]
        found.sort(key=lambda s: (s.opened_at, s.meeting_id), reverse=True)
        return _clone(found[0]) if found else None

    async def attend(self, attendance: Attendance) -> bool:
        key = (attendance.meeting_id, attendance.member_id)
        if key in self._t.attendance:
            return False
        self._t.attendance[key] = _stored(attendance)
        return True

    async def leave(self, meeting_id: int, member_id: int) -> bool:
        return self._t.attendance.pop((meeting_id, member_id), None) is not None

    async def attendees(self, meeting_id: int) -> dict[int, Attendance]:
        found = [a for (m, _), a in self._t.attendance.items() if m == meeting_id]
        return {a.member_id: a for a in sorted(found, key=lambda a: (a.at, a.member_id))}


class FakePaperUploadRepository(_Repository):
    async def add(self, upload: PaperUpload) -> PaperUpload:
        upload.plan = json.loads(json.dumps(upload.plan))  # as a JSON column gives it back
        return self._insert("paper_uploads", self._t.paper_uploads, upload)

    async def get(self, upload_id: int, lock: Lock = Lock.NONE) -> PaperUpload | None:
        self._uow.locked.append(("paper_upload", upload_id, lock))
        found = self._t.paper_uploads.get(upload_id)
        return None if found is None else _clone(found)

    async def update(self, upload: PaperUpload) -> None:
        self._write_back(self._t.paper_uploads, upload, "paper upload")


class FakeUnitOfWork:
    """A transaction on a :class:`FakeStore`; may be entered again after it exits."""

    councils: ports.CouncilRepository
    members: ports.MemberRepository
    topics: ports.TopicRepository
    proposals: ports.ProposalRepository
    ballots: ports.BallotRepository
    votes: ports.VoteRepository
    resolutions: ports.ResolutionRepository
    drafts: ports.DraftRepository
    roster_imports: ports.RosterImportRepository
    meetings: ports.MeetingRepository
    notices: ports.NoticeRepository
    contacts: ports.ContactRepository
    volunteers: ports.VolunteerRepository
    teams: ports.TeamRepository
    units: ports.UnitRepository
    tasks: ports.TaskRepository
    offers: ports.OfferRepository
    binding_codes: ports.BindingCodeRepository
    web: ports.WebAccessRepository
    hours: ports.HoursLedger
    updates: ports.UpdateLog
    schedule: ports.ScheduleReader
    sign_ins: ports.SignInRepository
    paper_uploads: ports.PaperUploadRepository
    roles: ports.RoleEventRepository

    def __init__(self, store: FakeStore | None = None) -> None:
        self.store = store if store is not None else FakeStore()
        self.committed = 0  # commits made through this unit of work
        self.rolled_back = 0
        self.locked: list[tuple[str, int, Lock]] = []  # row locks asked for, in order
        self._events = Recorded()
        self._tables: Tables | None = None
        self.councils = FakeCouncilRepository(self)
        self.members = FakeMemberRepository(self)
        self.topics = FakeTopicRepository(self)
        self.proposals = FakeProposalRepository(self)
        self.ballot_repo = FakeBallotRepository(self)
        self.ballots = self.ballot_repo
        self.votes = FakeVoteRepository(self)
        self.resolutions = FakeResolutionRepository(self)
        self.drafts = FakeDraftRepository(self)
        self.roster_imports = FakeRosterImportRepository(self)
        self.updates = FakeUpdateLog(self)
        self.meetings = FakeMeetingRepository(self)
        self.notices = FakeNoticeRepository(self)
        self.contacts = FakeContactRepository(self)
        self.volunteers = FakeVolunteerRepository(self)
        self.teams = FakeTeamRepository(self)
        self.units = FakeUnitRepository(self)
        self.tasks = FakeTaskRepository(self)
        self.offers = FakeOfferRepository(self)
        self.binding_codes = FakeBindingCodeRepository(self)
        self.web = FakeWebAccessRepository(self)
        self.hours = FakeHoursLedger(self)
        self.schedule = FakeScheduleReader(self)
        self.sign_ins = FakeSignInRepository(self)
        self.paper_uploads = FakePaperUploadRepository(self)
        self.roles = FakeRoleEventRepository(self)

    @property
    def tables(self) -> Tables:
        if self._tables is None:
            raise AssertionError("repository used outside 'async with uow'")
        return self._tables

    async def __aenter__(self) -> Self:
        if self._tables is not None:
            raise AssertionError("unit of work entered twice")
        self._tables = self.store.snapshot()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._tables = None  # whatever was not committed is lost
        self.store.published += self._events.take()  # as a bus would receive them

    async def commit(self) -> None:
        self.store.committed = self.tables.copy()
        self.store.commits += 1
        self.committed += 1
        self._events.committed()

    async def rollback(self) -> None:
        self._tables = self.store.snapshot()
        self.rolled_back += 1
        self._events.rolled_back()

    def record(self, event: Event) -> None:
        self._events.record(event)


class FakeUnitOfWorkFactory:
    """Makes units of work that share one store, as connections share a database."""

    def __init__(self, store: FakeStore | None = None) -> None:
        self.store = store if store is not None else FakeStore()
        self.made: list[FakeUnitOfWork] = []

    def __call__(self) -> FakeUnitOfWork:
        uow = FakeUnitOfWork(self.store)
        self.made.append(uow)
        return uow

    @property
    def committed(self) -> int:
        return self.store.commits


def _typecheck(factory: FakeUnitOfWorkFactory) -> None:
    """mypy checks here that the fakes satisfy the ports."""
    _uow: ports.UnitOfWork = factory()
    _factory: ports.UnitOfWorkFactory = factory
