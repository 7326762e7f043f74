"""Exactly-once effects for redelivered updates.

A messenger may deliver the same update twice (a retry after a timeout, a
restart before the offset was confirmed). A unit of work opened for an update
claims the update's key in the same transaction as the change it makes, so the
change and the record that it was made commit together or not at all.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from domain import errors, ports
from domain.events import Event
from domain.ports import UnitOfWork


class IdempotentUnitOfWork:
    """Wraps a unit of work so that its commit happens at most once per ``key``."""

    def __init__(self, inner: UnitOfWork, key: str) -> None:
        self._inner = inner
        self.key = key

    # Repositories are looked up on each use: the inner unit of work makes
    # them when it is entered.
    @property
    def councils(self) -> ports.CouncilRepository:
        return self._inner.councils

    @property
    def members(self) -> ports.MemberRepository:
        return self._inner.members

    @property
    def topics(self) -> ports.TopicRepository:
        return self._inner.topics

    @property
    def proposals(self) -> ports.ProposalRepository:
        return self._inner.proposals

    @property
    def ballots(self) -> ports.BallotRepository:
        return self._inner.ballots

    @property
    def votes(self) -> ports.VoteRepository:
        return self._inner.votes

    @property
    def resolutions(self) -> ports.ResolutionRepository:
        return self._inner.resolutions

    @property
    def drafts(self) -> ports.DraftRepository:
        return self._inner.drafts

    @property
    def roster_imports(self) -> ports.RosterImportRepository:
        return self._inner.roster_imports

    @property
    def meetings(self) -> ports.MeetingRepository:
        return self._inner.meetings

    @property
    def notices(self) -> ports.NoticeRepository:
        return self._inner.notices

    @property
    def contacts(self) -> ports.ContactRepository:
        return self._inner.contacts

    @property
    def volunteers(self) -> ports.VolunteerRepository:
        return self._inner.volunteers

    @property
    def teams(self) -> ports.TeamRepository:
        return self._inner.teams

    @property
    def units(self) -> ports.UnitRepository:
        return self._inner.units

    @property
    def tasks(self) -> ports.TaskRepository:
        return self._inner.tasks

    @property
    def offers(self) -> ports.OfferRepository:
        return self._inner.offers

    @property
    def binding_codes(self) -> ports.BindingCodeRepository:
        return self._inner.binding_codes

    @property
    def web(self) -> ports.WebAccessRepository:
        return self._inner.web

    @property
    def hours(self) -> ports.HoursLedger:
        return self._inner.hours

    @property
    def updates(self) -> ports.UpdateLog:
        return self._inner.updates

    @property
    def schedule(self) -> ports.ScheduleReader:
        return self._inner.schedule

    @property
    def sign_ins(self) -> ports.SignInRepository:
        return self._inner.sign_ins

    @property
    def paper_uploads(self) -> ports.PaperUploadRepository:
        return self._inner.paper_uploads

    @property
    def roles(self) -> ports.RoleEventRepository:
        return self._inner.roles

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        if not await self._inner.updates.claim(self.key):
            await self._inner.rollback()
            raise errors.Redelivered()
        await self._inner.commit()

    async def rollback(self) -> None:
        await self._inner.rollback()

    def record(self, event: Event) -> None:
        self._inner.record(event)
