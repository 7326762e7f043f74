"""Units of work over an ``async_sessionmaker``, and the ``Database`` that makes them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain import ports
from domain.events import Event, Recorded
from storage.agenda import SqlMeetingRepository
from storage.ballots import SqlBallotRepository, SqlResolutionRepository, SqlVoteRepository
from storage.binding import SqlBindingCodeRepository
from storage.council import SqlCouncilRepository, SqlMemberRepository
from storage.db import create_engine, read_only_engine
from storage.drafts import SqlDraftRepository
from storage.outbox import SqlContactRepository, SqlNoticeRepository
from storage.recorded import SqlPaperUploadRepository, SqlSignInRepository
from storage.roles import SqlRoleEventRepository
from storage.roster import SqlRosterImportRepository
from storage.schedule import SqlScheduleReader
from storage.topics import SqlProposalRepository, SqlTopicRepository
from storage.update_log import SqlUpdateLog
from storage.volunteering import (
    SqlHoursLedger,
    SqlOfferRepository,
    SqlTaskRepository,
    SqlTeamRepository,
    SqlUnitRepository,
    SqlVolunteerRepository,
)
from storage.web_access import SqlWebAccessRepository

# Where committed events go once a unit of work has ended (``bot.runtime.bus``).
Publish = Callable[[Sequence[Event]], Awaitable[None]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _nowhere(_events: Sequence[Event]) -> None:
    """Without a bus (the CLI, migrations), committed events have nobody to tell."""


class SqlUnitOfWork:
    """One transaction: ``async with uow: …; await uow.commit()``.

    Whatever was not committed when the block ends is rolled back. After a
    commit the same unit of work may go on (a new transaction begins on first
    use), and again only a second commit keeps that work.

    The events its use case recorded and committed are published when the block
    ends, after the session is closed: what follows them (a card edit, a job
    planned) runs outside the transaction and never holds its connection.
    """

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

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime] = _utcnow,
        publish: Publish = _nowhere,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._publish = publish
        self._session: AsyncSession | None = None
        self._events = Recorded()

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._session

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("unit of work is already open")
        session = self._sessions()
        self._session = session
        self.councils = SqlCouncilRepository(session)
        self.members = SqlMemberRepository(session)
        self.topics = SqlTopicRepository(session)
        self.proposals = SqlProposalRepository(session)
        self.ballots = SqlBallotRepository(session)
        self.votes = SqlVoteRepository(session)
        self.resolutions = SqlResolutionRepository(session)
        self.drafts = SqlDraftRepository(session)
        self.roster_imports = SqlRosterImportRepository(session)
        self.meetings = SqlMeetingRepository(session)
        self.notices = SqlNoticeRepository(session)
        self.contacts = SqlContactRepository(session)
        self.volunteers = SqlVolunteerRepository(session)
        self.teams = SqlTeamRepository(session)
        self.units = SqlUnitRepository(session)
        self.tasks = SqlTaskRepository(session)
        self.offers = SqlOfferRepository(session)
        self.binding_codes = SqlBindingCodeRepository(session)
        self.web = SqlWebAccessRepository(session)
        self.hours = SqlHoursLedger(session)
        self.updates = SqlUpdateLog(session, self._clock)
        self.schedule = SqlScheduleReader(session)
        self.sign_ins = SqlSignInRepository(session)
        self.paper_uploads = SqlPaperUploadRepository(session)
        self.roles = SqlRoleEventRepository(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Rolls back whatever was not committed, then publishes what was."""
        session, self._session = self._session, None
        if session is None:
            return
        try:
            await session.rollback()
        finally:
            await session.close()
        events = self._events.take()
        if events:
            await self._publish(events)

    async def commit(self) -> None:
        await self.session.commit()
        self._events.committed()

    async def rollback(self) -> None:
        await self.session.rollback()
        self._events.rolled_back()

    def record(self, event: Event) -> None:
        self._events.record(event)


class Database:
    """The engine and session factory of one database; makes units of work.

    ``db.uow`` is a ``domain.ports.UnitOfWorkFactory``.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Callable[[], datetime] = _utcnow,
        reads: AsyncEngine | None = None,
    ) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._clock = clock
        self._publish: Publish = _nowhere
        self._reads = reads
        self._read_sessions = (
            self.sessions
            if reads is None
            else async_sessionmaker(reads, expire_on_commit=False, autoflush=False)
        )

    def publish_to(self, publish: Publish) -> None:
        """From now on, units of work hand their committed events to ``publish``."""
        self._publish = publish

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        migrate: bool = True,
        clock: Callable[[], datetime] = _utcnow,
        **engine_options: Any,
    ) -> Database:
        """Connect to ``url``; with ``migrate`` first bring the schema to head."""
        if migrate:
            from storage.migrate import upgrade

            await upgrade(url)
        reads = None
        if read_only_engine(url) and "poolclass" not in engine_options:
            reads = create_engine(url, read_only=True, **engine_options)
        return cls(create_engine(url, **engine_options), clock=clock, reads=reads)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessions, clock=self._clock, publish=self._publish)

    def reader(self) -> SqlUnitOfWork:
        """A unit of work that only reads (a page view): on a SQLite file it reads a
        snapshot beside the writer instead of queueing for the write lock, and any
        write in it fails. Elsewhere it is ``uow()``."""
        return SqlUnitOfWork(self._read_sessions, clock=self._clock, publish=self._publish)

    async def dispose(self) -> None:
        if self._reads is not None:
            await self._reads.dispose()
        await self.engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.dispose()


if TYPE_CHECKING:
    # Checked by mypy: these classes satisfy the domain's protocols.
    def _conforms(db: Database) -> ports.UnitOfWorkFactory:
        return db.uow
