"""The schedule's read model (``domain.ports.ScheduleReader``): the moments every
planned job hangs on, read as columns in a few queries.

Planning at start-up looks at every open ballot and scheduled meeting; loading each
as its aggregate (a ballot parses its rule and options from JSON, a meeting its
agenda) cost more than the rest of a 100,000-job reconcile together, and none of it
decides a job's time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from domain.model import MeetingStatus, Phase
from domain.schedule import BallotMoments, CouncilMoments, MeetingMoments, Moments
from storage.base import Repository
from storage.orm import BallotRow, CouncilRow, MeetingRow, TopicRow
from storage.volunteering import SqlOfferRepository


class SqlScheduleReader(Repository):
    async def moments(self, after: datetime) -> Moments:
        ballots = [
            BallotMoments(ballot_id, council_id, opened_at, deadline)
            for ballot_id, council_id, opened_at, deadline in await self.session.execute(
                select(BallotRow.id, BallotRow.council_id, BallotRow.opened_at, BallotRow.deadline)
                .where(BallotRow.closed_at.is_(None), BallotRow.deadline.is_not(None))
                .order_by(BallotRow.id)
            )
            if deadline is not None  # as the WHERE says; for the type checker
        ]
        topics = {
            topic_id: deadline
            for topic_id, deadline in await self.session.execute(
                select(TopicRow.id, TopicRow.deadline)
                .where(TopicRow.phase == Phase.COLLECTING.value, TopicRow.deadline.is_not(None))
                .order_by(TopicRow.id)
            )
            if deadline is not None
        }
        meetings = [
            MeetingMoments(meeting_id, council_id, starts_at, version)
            for meeting_id, council_id, starts_at, version in await self.session.execute(
                select(
                    MeetingRow.id, MeetingRow.council_id, MeetingRow.starts_at, MeetingRow.version
                )
                .where(
                    MeetingRow.status == MeetingStatus.SCHEDULED.value, MeetingRow.starts_at > after
                )
                .order_by(MeetingRow.id)
            )
        ]
        # Councils are few (one per group), so all of them are read rather than an IN
        # list of those the ballots and meetings name.
        councils = {
            council_id: CouncilMoments(tuple(reminders), nudge)
            for council_id, reminders, nudge in await self.session.execute(
                select(CouncilRow.id, CouncilRow.meeting_reminders, CouncilRow.ballot_nudge)
            )
        }
        expiries = await SqlOfferRepository(self.session).pending_expiries()
        return Moments(ballots, topics, meetings, councils, expiries)
