"""What the use cases need from storage, stated as protocols.

``storage/`` implements these with SQLAlchemy; ``tests/fakes.py`` with dicts.
Operations that must be race-free under concurrent presses (a vote, a second,
claiming an update) are single repository calls, so storage can make each one
atomic with a uniqueness constraint instead of a read-then-write.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self

from domain.model import (
    Ballot,
    Council,
    Draft,
    Meeting,
    Member,
    MemberStatus,
    Notice,
    Proposal,
    Resolution,
    Topic,
    Vote,
    VoteEvent,
)


class Lock(StrEnum):
    NONE = "none"
    SHARE = "share"  # a vote: many at once, but not while the ballot closes
    UPDATE = "update"  # closing: waits for votes in flight, then excludes them


class CouncilRepository(Protocol):
    async def get(self, council_id: int) -> Council | None: ...
    async def by_chat(self, chat_id: int, thread_id: int) -> Council | None: ...
    async def add(self, council: Council) -> Council: ...
    async def update(self, council: Council) -> None: ...
    async def many(self, council_ids: Sequence[int]) -> dict[int, Council]: ...


class MemberRepository(Protocol):
    async def get(self, member_id: int) -> Member | None: ...
    async def by_user(self, council_id: int, user_id: int) -> Member | None: ...
    async def by_users(self, council_id: int, user_ids: Sequence[int]) -> dict[int, Member]:
        """user id -> member, for those of ``user_ids`` on this council's roll (any status)."""
        ...

    async def add(self, member: Member) -> Member:
        """Raises ``errors.AlreadyMember`` if the account is already on this roll."""
        ...

    async def update(self, member: Member) -> None: ...
    async def list(
        self, council_id: int, statuses: Sequence[MemberStatus] = (MemberStatus.ACTIVE,)
    ) -> list[Member]: ...


class TopicRepository(Protocol):
    async def get(self, topic_id: int) -> Topic | None: ...
    async def add(self, topic: Topic) -> Topic: ...
    async def update(self, topic: Topic) -> None: ...
    async def active(self, council_id: int) -> list[Topic]:
        """Topics collecting opinions or voting, newest first."""
        ...

    async def collecting_with_deadline(self) -> list[Topic]:
        """Topics of every council still collecting opinions that have a deadline."""
        ...


class ProposalRepository(Protocol):
    async def get(self, proposal_id: int) -> Proposal | None: ...
    async def add(self, proposal: Proposal) -> Proposal: ...
    async def for_topic(self, topic_id: int) -> list[Proposal]:
        """Oldest first, seconds filled in."""
        ...

    async def add_second(self, proposal_id: int, member_id: int, at: datetime) -> bool:
        """Atomic; False if this member had already seconded."""
        ...


class BallotRepository(Protocol):
    async def get(self, ballot_id: int, lock: Lock = Lock.NONE) -> Ballot | None: ...
    async def add(self, ballot: Ballot) -> Ballot: ...
    async def update(self, ballot: Ballot) -> None: ...
    async def for_topic(self, topic_id: int) -> list[Ballot]:
        """Newest first."""
        ...

    async def latest(self, council_id: int) -> Ballot | None: ...
    async def open(self, council_id: int) -> list[Ballot]:
        """Open ballots of one council, newest first."""
        ...

    async def all_open(self) -> list[int]:
        """Ids of open ballots in every council."""
        ...

    async def open_with_deadline(self) -> list[Ballot]:
        """Open ballots of every council that have a deadline."""
        ...

    async def set_rendered(self, ballot_id: int, seq: int) -> None:
        """Raise ``rendered_seq`` to ``seq`` (never lowers it)."""
        ...


class VoteRepository(Protocol):
    async def put(self, vote: Vote) -> str | None:
        """Make ``vote`` the member's current one and append it to the audit trail.

        Atomic per (ballot, member): returns the previous choice, or None for a
        first vote. Returns the same choice again when nothing changed, and then
        appends nothing.
        """
        ...

    async def put_many(self, votes: Sequence[Vote]) -> list[str | None]:
        """``put`` for several votes in one go; no two may share (ballot, member).

        Returns the previous choices in the order of ``votes``.
        """
        ...

    async def current(self, ballot_id: int) -> dict[int, str]:
        """member id -> current choice."""
        ...

    async def choice_of(self, ballot_id: int, member_id: int) -> str | None: ...
    async def events(self, ballot_id: int) -> list[VoteEvent]: ...
    async def last_seq(self, ballot_id: int) -> int: ...


class ResolutionRepository(Protocol):
    async def add(self, resolution: Resolution) -> Resolution: ...
    async def for_topic(self, topic_id: int) -> list[Resolution]: ...


class DraftRepository(Protocol):
    async def get(self, user_id: int) -> Draft | None: ...
    async def put(self, draft: Draft) -> None: ...
    async def delete(self, user_id: int) -> None: ...


class MeetingRepository(Protocol):
    async def get(self, meeting_id: int) -> Meeting | None: ...
    async def add(self, meeting: Meeting) -> Meeting: ...
    async def update(self, meeting: Meeting) -> None: ...
    async def upcoming(self, council_id: int, after: datetime) -> list[Meeting]:
        """Scheduled meetings of one council starting after ``after``, soonest first."""
        ...

    async def all_upcoming(self, after: datetime) -> list[Meeting]:
        """Scheduled meetings of every council starting after ``after``."""
        ...


class NoticeRepository(Protocol):
    """The outbox: messages decided in a transaction, delivered after it."""

    async def add(self, notice: Notice) -> bool:
        """Queue ``notice``; False (and nothing queued) if its key was queued before."""
        ...

    async def get(self, notice_id: int) -> Notice | None: ...
    async def update(self, notice: Notice) -> None: ...
    async def claim(self, now: datetime, limit: int) -> list[Notice]:
        """Atomically take up to ``limit`` due pending notices, oldest first, marking
        them SENDING with one more attempt; a notice is taken by one sender only."""
        ...

    async def abandon(self, claimed_before: datetime, now: datetime) -> int:
        """Mark notices left SENDING since before ``claimed_before`` UNKNOWN; how many."""
        ...


class ContactRepository(Protocol):
    """Who can be written to privately: they started the bot and did not block it."""

    async def mark(self, user_id: int, reachable: bool, at: datetime) -> None: ...
    async def reachable(self, user_ids: Sequence[int]) -> set[int]: ...


class UpdateLog(Protocol):
    async def claim(self, key: str) -> bool:
        """Atomic; True the first time ``key`` is seen, False for a redelivery."""
        ...

    async def seen(self, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` claimed before."""
        ...

    async def claim_many(self, keys: Sequence[str]) -> set[str]:
        """``claim`` for several distinct keys at once; returns those seen for the first time."""
        ...


class UnitOfWork(Protocol):
    # Read-only: a unit of work hands out its repositories, nobody replaces them.
    @property
    def councils(self) -> CouncilRepository: ...
    @property
    def members(self) -> MemberRepository: ...
    @property
    def topics(self) -> TopicRepository: ...
    @property
    def proposals(self) -> ProposalRepository: ...
    @property
    def ballots(self) -> BallotRepository: ...
    @property
    def votes(self) -> VoteRepository: ...
    @property
    def resolutions(self) -> ResolutionRepository: ...
    @property
    def drafts(self) -> DraftRepository: ...
    @property
    def meetings(self) -> MeetingRepository: ...
    @property
    def notices(self) -> NoticeRepository: ...
    @property
    def contacts(self) -> ContactRepository: ...
    @property
    def updates(self) -> UpdateLog: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Rolls back whatever was not committed."""
        ...

    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
