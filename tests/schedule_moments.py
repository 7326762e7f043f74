"""The schedule's moments read through the ordinary repositories: what
``domain.ports.ScheduleReader.moments`` must return, defined by the aggregates.

The fakes' reader is this; the storage tests compare the SQL reader with it on
the same database, so the fast column reads cannot drift from the aggregates."""

from __future__ import annotations

from datetime import datetime

from domain import ports
from domain.schedule import BallotMoments, CouncilMoments, MeetingMoments, Moments


async def moments_through(uow: ports.UnitOfWork, after: datetime) -> Moments:
    """In an open unit of work: the moments, from whole ballots, topics and meetings."""
    ballots = [b for b in await uow.ballots.open_with_deadline()]
    meetings = [m for m in await uow.meetings.all_upcoming(after) if m.is_scheduled]
    topics = await uow.topics.collecting_with_deadline()
    council_ids = {b.council_id for b in ballots} | {m.council_id for m in meetings}
    councils = await uow.councils.many(sorted(council_ids))
    return Moments(
        ballots=[
            BallotMoments(b.id, b.council_id, b.opened_at, b.deadline)
            for b in ballots
            if b.id is not None and b.deadline is not None and b.is_open
        ],
        topics={t.id: t.deadline for t in topics if t.id is not None and t.deadline is not None},
        meetings=[
            MeetingMoments(m.id, m.council_id, m.starts_at, m.version)
            for m in meetings
            if m.id is not None
        ],
        councils={
            c: CouncilMoments(council.meeting_reminders, council.ballot_nudge)
            for c, council in councils.items()
        },
        expiries=await uow.offers.pending_expiries(),
    )


class FakeScheduleReader:
    """``ScheduleReader`` for ``tests/fakes.py``: the aggregates' own answer."""

    def __init__(self, uow: ports.UnitOfWork) -> None:
        self._uow = uow

    async def moments(self, after: datetime) -> Moments:
        return await moments_through(self._uow, after)
