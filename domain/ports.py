"""What the use cases need from storage, stated as protocols.

``storage/`` implements these with SQLAlchemy; ``tests/fakes.py`` with dicts.
Operations that must be race-free under concurrent presses (a vote, a second,
claiming an update) are single repository calls, so storage can make each one
atomic with a uniqueness constraint instead of a read-then-write.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self

from domain.binding import BindingCode
from domain.events import Event
from domain.model import (
    Account,
    Attendance,
    Ballot,
    Council,
    Draft,
    Meeting,
    Member,
    MemberStatus,
    Notice,
    PaperUpload,
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
from domain.roster import ImportStatus, RosterImport
from domain.rules import Counts, Quantity
from domain.schedule import Moments
from domain.task_rules import HoursEntry, MemberUnit, Offer, Task, TaskState, Team, Volunteer
from domain.web_access import AccessEvent, LoginKey, WebLink, WebSession

# What time it is, passed in: the domain never reads a clock of its own.
Clock = Callable[[], datetime]


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
    async def in_chat(self, chat_id: int) -> list[Council]:
        """The councils of a chat, whatever its forum topic."""
        ...

    async def of_person(self, user_id: int) -> list[Council]:
        """The councils where the user is a chair or staff, by id."""
        ...

    async def forget_messages(self, council_id: int) -> None:
        """Forget which messages of the council's chat show its topics, ballots, meetings
        and tasks, and which made and announce its proposals: the chat got a new id,
        where message ids start again."""
        ...


class MemberRepository(Protocol):
    async def get(self, member_id: int) -> Member | None: ...
    async def by_ids(self, member_ids: Sequence[int]) -> dict[int, Member]:
        """member id -> member, for those of ``member_ids`` that exist (any status)."""
        ...

    async def by_user(self, council_id: int, user_id: int) -> Member | None: ...
    async def by_users(self, council_id: int, user_ids: Sequence[int]) -> dict[int, Member]:
        """user id -> member, for those of ``user_ids`` on this council's roll (any status)."""
        ...

    async def by_account(self, council_id: int, account: Account) -> Member | None:
        """The member of this council's roll (any status) that has ``account``."""
        ...

    async def add(self, member: Member) -> Member:
        """Adds the member with its ``accounts`` (its Telegram one among them).
        Raises ``errors.AlreadyMember`` if the Telegram account is already on this
        roll, ``errors.AccountTaken`` if another of its accounts is."""
        ...

    async def update(self, member: Member) -> None:
        """Writes the member's fields. Its linked accounts stay as they are, but for
        the Telegram one, which follows ``user_id`` (added, changed or removed)."""
        ...

    async def add_many(self, members: Sequence[Member]) -> None:
        """``add`` for many at once (a roll file's new entries), ids filled in."""
        ...

    async def update_many(self, members: Sequence[Member]) -> None:
        """``update`` for many at once."""
        ...

    async def link_account(self, member_id: int, account: Account) -> bool:
        """Gives the member ``account``, in place of its account on that messenger if
        it had another (a Telegram one also sets ``user_id``). False when it already
        had it. Raises ``errors.AccountTaken`` when another member of the council has
        it, ``errors.NotFound`` for an unknown member."""
        ...

    async def list(
        self, council_id: int, statuses: Sequence[MemberStatus] = (MemberStatus.ACTIVE,)
    ) -> list[Member]: ...

    async def of_flat(self, council_id: int, household: str) -> builtins.list[Member]:
        """Every member of the council (whatever its status) holding that flat."""
        ...

    async def roll_size(self, council_id: int) -> int:
        """How many active voting members the council's roll has (a ballot's headcount
        base), counted where the rows are."""
        ...


class RoleEventRepository(Protocol):
    async def add(self, event: RoleEvent) -> RoleEvent: ...
    async def of_council(self, council_id: int, limit: int = 50) -> list[RoleEvent]:
        """The council's latest role events, newest first."""
        ...


class TopicRepository(Protocol):
    async def get(self, topic_id: int, lock: Lock = Lock.NONE) -> Topic | None:
        """``Lock.UPDATE``: the row is locked until the transaction ends (an edited
        proposal against the topic moving to the vote)."""
        ...

    async def many(self, topic_ids: Sequence[int]) -> dict[int, Topic]:
        """topic id -> topic, for those of ``topic_ids`` that exist, in one query."""
        ...

    async def add(self, topic: Topic) -> Topic: ...
    async def update(self, topic: Topic) -> None: ...
    async def update_many(self, topics: Sequence[Topic]) -> None:
        """``update`` for several topics in one statement."""
        ...

    async def active(self, council_id: int) -> list[Topic]:
        """Topics collecting opinions or voting, newest first."""
        ...

    async def collecting_with_deadline(self) -> list[Topic]:
        """Topics of every council still collecting opinions that have a deadline."""
        ...

    async def latest_decided(self, council_id: int) -> Topic | None:
        """The topic decided last, for a bare /task."""
        ...


class ProposalRepository(Protocol):
    async def get(self, proposal_id: int, lock: Lock = Lock.NONE) -> Proposal | None:
        """``Lock.UPDATE``: locked until the transaction ends, after the seconds in
        flight (the seconds are read once the lock is held)."""
        ...

    async def add(self, proposal: Proposal) -> Proposal: ...
    async def by_source(self, council_id: int, source_ref: int) -> Proposal | None:
        """The proposal a member's message in the council's chat made, if any."""
        ...

    async def set_text(self, proposal_id: int, text: str) -> None: ...
    async def set_message(self, proposal_id: int, message_ref: int) -> None: ...
    async def for_topic(self, topic_id: int) -> list[Proposal]:
        """Oldest first, seconds filled in."""
        ...

    async def add_second(self, proposal_id: int, member_id: int, at: datetime) -> bool:
        """Atomic; False if this member had already seconded."""
        ...

    async def count_by_author(self, member_id: int, since: datetime) -> int:
        """How many proposals the member made at or after ``since`` (for their limit)."""
        ...


class BallotRepository(Protocol):
    async def get(self, ballot_id: int, lock: Lock = Lock.NONE) -> Ballot | None: ...
    async def many(self, ballot_ids: Sequence[int], lock: Lock = Lock.NONE) -> dict[int, Ballot]:
        """``get`` for several ballots in one query: ballot id -> ballot, for those that
        exist; locked in the order of their ids, so two batches never deadlock."""
        ...

    async def add(self, ballot: Ballot) -> Ballot: ...
    async def update(self, ballot: Ballot) -> None: ...
    async def update_many(self, ballots: Sequence[Ballot]) -> None:
        """``update`` for several ballots in a statement or two (each locked first, as
        ``update`` does), except ``rendered_seq``, which only ``set_rendered`` moves."""
        ...

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

    async def behind(self) -> list[int]:
        """Ids of open ballots with a message whose ``rendered_seq`` is below the number
        of their vote events (``VoteRepository.last_seq``): votes another process wrote
        that the message does not show yet. One query, however many ballots are open."""
        ...

    async def of_council(self, council_id: int) -> list[Ballot]:
        """Every ballot of one council, open, closed or cancelled, oldest first
        (by when it was opened, then id)."""
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

    async def seq_and_choice(self, ballot_id: int, member_id: int | None) -> tuple[int, str | None]:
        """``last_seq`` and ``choice_of`` (None without a member) in one read: what a
        page view of a ballot asks every time."""
        ...

    async def counts(
        self, ballot_id: int, council_id: int, quantities: Iterable[Quantity]
    ) -> Counts:
        """The ballot's current votes weighed against the council's active roll in
        ``quantities``: ``rules.count``'s figures, computed where the rows are, so a
        refresh never loads the roll."""
        ...

    async def counts_many(self, wanted: Mapping[int, Iterable[Quantity]]) -> dict[int, Counts]:
        """``counts`` of several ballots in a few statements however many they are:
        ballot id -> quantities in, ballot id -> what ``counts(ballot id, the ballot's
        council, quantities)`` gives out (ballots that do not exist left out)."""
        ...

    async def voters(
        self, ballot_id: int, council_id: int, limit: int, totals: Mapping[str, int]
    ) -> dict[str, Voters]:
        """For each choice in ``totals`` (choice -> how many on the roll chose it, as
        ``counts`` says): the names of the first ``limit`` of them, by member id."""
        ...

    async def of_members(self, ballot_id: int, member_ids: Sequence[int]) -> dict[int, Vote]:
        """member id -> current vote (with how it came and who recorded it), for those
        of ``member_ids`` who voted."""
        ...

    async def by_source(self, ballot_id: int, council_id: int) -> dict[VoteSource, int]:
        """How many current votes of members on the roll came each way."""
        ...


class SignInRepository(Protocol):
    """签到: a meeting's sign-in and who attended."""

    async def get(self, meeting_id: int) -> SignIn | None: ...
    async def add(self, sign_in: SignIn) -> bool:
        """False (and nothing written) when the meeting already has a sign-in."""
        ...

    async def update(self, sign_in: SignIn) -> None: ...
    async def open_of(self, council_id: int) -> SignIn | None:
        """The council's open sign-in, the newest if several."""
        ...

    async def attend(self, attendance: Attendance) -> bool:
        """Atomic; False when the member was already marked present."""
        ...

    async def leave(self, meeting_id: int, member_id: int) -> bool:
        """Unmark a member; False when they were not marked."""
        ...

    async def attendees(self, meeting_id: int) -> dict[int, Attendance]:
        """member id -> attendance, in the order they came."""
        ...


class PaperUploadRepository(Protocol):
    async def add(self, upload: PaperUpload) -> PaperUpload: ...
    async def get(self, upload_id: int, lock: Lock = Lock.NONE) -> PaperUpload | None:
        """``Lock.UPDATE``: two presses of its confirm button take turns."""
        ...

    async def update(self, upload: PaperUpload) -> None: ...


class ResolutionRepository(Protocol):
    async def add(self, resolution: Resolution) -> Resolution: ...
    async def add_many(self, resolutions: Sequence[Resolution]) -> list[Resolution]:
        """``add`` for several in one statement; returned with their ids, in order."""
        ...

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

    async def of_council(self, council_id: int) -> list[Meeting]:
        """Every meeting of one council, past, coming or cancelled, by when it starts
        (then id)."""
        ...


class NoticeRepository(Protocol):
    """The outbox: messages decided in a transaction, delivered after it."""

    async def add(self, notice: Notice) -> bool:
        """Queue ``notice``; False (and nothing queued) if its key was queued before."""
        ...

    async def add_many(self, notices: Sequence[Notice]) -> int:
        """``add`` for many at once; how many were queued (keys queued before are not)."""
        ...

    async def get(self, notice_id: int) -> Notice | None: ...
    async def update(self, notice: Notice) -> None: ...
    async def claim(self, now: datetime, limit: int, claimed_by: int | None = None) -> list[Notice]:
        """Atomically take up to ``limit`` due pending notices, oldest first, marking
        them SENDING by ``claimed_by`` (a process) with one more attempt; a notice is
        taken by one sender only."""
        ...

    async def claimers(self) -> set[int | None]:
        """The processes that have notices SENDING."""
        ...

    async def readdress(self, old_chat_id: int, new_chat_id: int) -> int:
        """Notices still to send to ``old_chat_id`` go to ``new_chat_id``; how many."""
        ...

    async def in_flight(self, claimers: Sequence[int | None]) -> list[Notice]:
        """The notices SENDING by ``claimers`` (None: by no known process), oldest first."""
        ...


class ContactRepository(Protocol):
    """Who can be written to privately: they started the bot and did not block it."""

    async def mark(self, user_id: int, reachable: bool, at: datetime) -> None: ...
    async def reachable(self, user_ids: Sequence[int]) -> set[int]: ...


class VolunteerRepository(Protocol):
    async def get(self, council_id: int, member_id: int) -> Volunteer | None: ...
    async def put(self, volunteer: Volunteer) -> Volunteer:
        """Register, or update the registration of, ``volunteer.member_id``."""
        ...

    async def of_council(self, council_id: int, team_id: int | None = None) -> list[Volunteer]:
        """The council's volunteers (of one team when ``team_id`` is given), by member id."""
        ...


class TeamRepository(Protocol):
    async def get(self, team_id: int) -> Team | None: ...
    async def by_name(self, council_id: int, name: str) -> Team | None: ...
    async def add(self, team: Team) -> Team:
        """Raises ``errors.AlreadyExists`` when the council has a team of that name."""
        ...

    async def update(self, team: Team) -> None: ...
    async def of_council(self, council_id: int) -> list[Team]: ...


class UnitRepository(Protocol):
    async def get(self, unit_id: int) -> MemberUnit | None: ...
    async def by_name(self, council_id: int, name: str) -> MemberUnit | None: ...
    async def add(self, unit: MemberUnit) -> MemberUnit:
        """Raises ``errors.AlreadyExists`` when the council has a unit of that name."""
        ...

    async def update(self, unit: MemberUnit) -> None: ...
    async def of_council(self, council_id: int) -> list[MemberUnit]: ...


class TaskRepository(Protocol):
    async def get(self, task_id: int, lock: Lock = Lock.NONE) -> Task | None:
        """With ``Lock.UPDATE``, two answers to one task's offers take turns."""
        ...

    async def add(self, task: Task) -> Task: ...
    async def update(self, task: Task) -> None: ...
    async def for_topic(self, topic_id: int) -> list[Task]: ...
    async def recent(self, council_id: int, limit: int) -> list[Task]:
        """Open tasks first, then the latest closed ones, newest first."""
        ...

    async def open_load(self, member_ids: Sequence[int]) -> dict[int, int]:
        """member id -> tasks they accepted and have not finished."""
        ...

    async def count_requests(self, member_id: int, since: datetime) -> int:
        """How many requests for help the member made at or after ``since``."""
        ...

    async def of_council(
        self, council_id: int, states: Sequence[TaskState], limit: int
    ) -> list[Task]:
        """At most ``limit`` of the council's tasks in ``states``, the latest first: by
        when they closed (when they were made, while open), then by id, descending."""
        ...

    async def count_by_state(self, council_id: int) -> dict[TaskState, int]:
        """How many of the council's tasks are in each state (states with none left out)."""
        ...

    async def request_waits(
        self, council_id: int, since: datetime | None, until: datetime | None
    ) -> dict[str | None, RequestWaits]:
        """Residents' requests (``TaskSource.REQUEST``) made in ``[since, until)`` (either
        end open when None), per category (the skill asked for; None: anyone), with how
        long each took from being made (``created_at``) to being taken (``accepted_at``).
        Categories with no request are left out. See ``RequestWaits`` for the figures."""
        ...


class OfferRepository(Protocol):
    async def add(self, offer: Offer) -> Offer: ...
    async def add_many(self, offers: Sequence[Offer]) -> list[Offer]:
        """``add`` for a round of offers at once (a call to a whole team), ids filled in."""
        ...

    async def get(self, offer_id: int) -> Offer | None: ...
    async def update(self, offer: Offer) -> None: ...
    async def for_task(self, task_id: int) -> list[Offer]: ...
    async def last_offered(self, member_ids: Sequence[int]) -> dict[int, datetime]:
        """member id -> when they were last offered any task."""
        ...

    async def pending_expiries(self) -> dict[int, datetime]:
        """task id -> the earliest expiry among its pending offers, for every task."""
        ...


class HoursLedger(Protocol):
    async def add(self, entry: HoursEntry) -> bool:
        """Credit ``entry``; False when its task was credited before."""
        ...

    async def total(self, council_id: int, member_id: int) -> Decimal: ...
    async def by_member(self, council_id: int, team_id: int | None) -> dict[int, Decimal]:
        """member id -> hours, for a team (or the whole council when ``team_id`` is None)."""
        ...

    async def per_member(
        self, council_id: int, since: datetime | None, until: datetime | None
    ) -> dict[int, HoursSum]:
        """member id -> the hours credited to them in ``[since, until)`` (by the ledger's
        ``at``; either end open when None), for members credited any."""
        ...

    async def per_team(
        self, council_id: int, since: datetime | None, until: datetime | None
    ) -> dict[int | None, HoursSum]:
        """team id -> the hours credited in ``[since, until)`` to members of that team at
        the time (``HoursEntry.team_id``; None: of no team), for teams credited any."""
        ...

    async def per_period(self, council_id: int, edges: Sequence[datetime]) -> list[HoursSum]:
        """The hours credited in each period ``[edges[i], edges[i + 1])``, in order, one
        sum per period (zero where none): ``len(edges) - 1`` sums, none for fewer than
        two edges. ``edges`` are aware and increasing."""
        ...

    async def span(
        self, council_id: int, since: datetime | None, until: datetime | None
    ) -> tuple[datetime, datetime] | None:
        """When the first and the last hours in ``[since, until)`` were credited; None
        when none were."""
        ...


@dataclass(frozen=True)
class HoursSum:
    """Service hours added up: the hours (exact, to the cent), how many tasks credited
    them, and how many different people."""

    hours: Decimal
    tasks: int
    people: int


@dataclass(frozen=True)
class RequestWaits:
    """Requests of one category and how fast they were taken. Every request is one of
    ``taken`` (a volunteer accepted it, whatever became of it since), ``waiting`` (open
    or offered, nobody took it yet) or ``never_taken`` (expired or cancelled before
    anyone took it). ``median`` and ``p90`` are of the waits of the taken ones (None
    when none was): the median is the middle wait, the mean of the two middle ones for
    an even number; the 90th percentile is the nearest-rank one, the wait at place
    ceil(0.9 n) of the n waits from shortest to longest."""

    requests: int
    taken: int
    waiting: int
    never_taken: int
    median: timedelta | None
    p90: timedelta | None


class ScheduleReader(Protocol):
    async def moments(self, after: datetime) -> Moments:
        """What every planned job hangs on, in a few queries: open ballots with a
        deadline, collecting topics with one, meetings scheduled after ``after``,
        the councils' reminder settings, tasks' earliest pending expiries."""
        ...


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


class BindingCodeRepository(Protocol):
    """绑定码 (only their digests) and every attempt to use one."""

    async def add(self, codes: Sequence[BindingCode]) -> None:
        """Stores fresh codes (their ids are not read back: nothing needs them)."""
        ...

    async def expire_unused(self, member_ids: Sequence[int], now: datetime) -> int:
        """Ends ``now`` the codes of these members that are neither used nor expired (a
        new card replaces them); how many it ended."""
        ...

    async def by_digest(self, digest: str) -> BindingCode | None: ...
    async def use(self, code_id: int, user_id: int, now: datetime) -> bool:
        """Marks the code used by ``user_id``, in one statement that takes only an unused
        code: False when another attempt used it first."""
        ...

    async def attempt(self, user_id: int, at: datetime, ok: bool) -> None:
        """Records an attempt to bind, whatever became of it."""
        ...

    async def failures_since(self, user_id: int, since: datetime) -> list[datetime]:
        """When the account's failed attempts at or after ``since`` were made."""
        ...


class WebAccessRepository(Protocol):
    """The web's links, login keys and sessions (their digests only), and the audit
    trail of signing in (``web_links``, ``login_keys``, ``web_sessions``, ``web_access``)."""

    async def add_link(self, link: WebLink) -> WebLink: ...
    async def link_by_digest(self, digest: str) -> WebLink | None: ...
    async def use_link(self, link_id: int, now: datetime) -> bool:
        """Marks the link used, in one statement taking only an unused one: False when
        another request used it first."""
        ...

    async def links_since(self, user_id: int, since: datetime) -> int: ...
    async def add_key(self, key: LoginKey) -> LoginKey: ...
    async def key_by_digest(self, digest: str) -> LoginKey | None: ...
    async def keys_of(self, member_id: int) -> list[LoginKey]: ...
    async def revoke_keys(self, member_ids: Sequence[int], now: datetime) -> list[int]:
        """Revokes the members' keys still in force, and the sessions they signed in;
        the ids of the keys revoked."""
        ...

    async def add_session(self, session: WebSession) -> WebSession: ...
    async def session_by_digest(self, digest: str) -> WebSession | None: ...
    async def signed_in(self, digest: str) -> tuple[WebSession, Council, Member | None] | None:
        """The session, its council and its member in one read (every page view asks):
        a resident session's ``member_id``, a staff session's entry on the roll by
        ``user_id`` (None when not on it). None without the session or its council."""
        ...

    async def revoke_session(self, session_id: int, now: datetime) -> None: ...
    async def record(self, event: AccessEvent) -> None: ...
    async def failures_since(self, client: str, since: datetime) -> list[datetime]:
        """When this client's refused links and keys at or after ``since`` were made."""
        ...

    async def trail(
        self, council_id: int, *, member_id: int | None = None, limit: int = 200
    ) -> list[AccessEvent]:
        """The council's latest access events (of one member), newest first."""
        ...


class RosterImportRepository(Protocol):
    """Roll files checked and waiting for their confirm button (``roster_imports``)."""

    async def add(self, roster_import: RosterImport) -> RosterImport: ...
    async def get(self, import_id: int, lock: Lock = Lock.NONE) -> RosterImport | None:
        """``Lock.UPDATE``: two presses of its confirm button take turns, chunk by chunk."""
        ...

    async def update(self, roster_import: RosterImport) -> None: ...
    async def progress(self, import_id: int) -> tuple[ImportStatus, int] | None:
        """The import's status and how many of its plan's changes are written, its row
        locked until the transaction ends."""
        ...

    async def set_progress(
        self, import_id: int, status: ImportStatus, done: int, decided_at: datetime | None
    ) -> None:
        """Writes the status, ``decided_at`` and ``plan["done"]``, leaving the rest of the
        plan as it is."""
        ...

    async def cancel_pending(self, council_id: int, user_id: int, now: datetime) -> int:
        """Cancels the user's pending imports of the council (a newer file replaces
        them); how many."""
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
    def roster_imports(self) -> RosterImportRepository: ...
    @property
    def meetings(self) -> MeetingRepository: ...
    @property
    def notices(self) -> NoticeRepository: ...
    @property
    def contacts(self) -> ContactRepository: ...
    @property
    def volunteers(self) -> VolunteerRepository: ...
    @property
    def teams(self) -> TeamRepository: ...
    @property
    def units(self) -> UnitRepository: ...
    @property
    def tasks(self) -> TaskRepository: ...
    @property
    def offers(self) -> OfferRepository: ...
    @property
    def binding_codes(self) -> BindingCodeRepository: ...
    @property
    def web(self) -> WebAccessRepository: ...
    @property
    def hours(self) -> HoursLedger: ...
    @property
    def updates(self) -> UpdateLog: ...
    @property
    def schedule(self) -> ScheduleReader: ...
    @property
    def sign_ins(self) -> SignInRepository: ...
    @property
    def paper_uploads(self) -> PaperUploadRepository: ...
    @property
    def roles(self) -> RoleEventRepository: ...

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

    def record(self, event: Event) -> None:
        """Keep ``event`` for the bus if (and once) this unit of work commits."""
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
