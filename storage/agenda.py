"""The meetings repository (``domain.ports.MeetingRepository``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from domain.model import Meeting, MeetingStatus
from storage.base import Repository, required
from storage.orm import MeetingRow


def _meeting(row: MeetingRow) -> Meeting:
    return Meeting(
        id=row.id,
        council_id=row.council_id,
        starts_at=row.starts_at,
        place=row.place,
        online=row.online,
        scheduled_by=row.scheduled_by,
        changed_at=row.changed_at,
        items=list(row.items),
        topic_ids=list(row.topic_ids),
        status=MeetingStatus(row.status),
        version=row.version,
        message_ref=row.message_ref,
    )


def _values(meeting: Meeting) -> dict[str, Any]:
    return {
        "council_id": meeting.council_id,
        "starts_at": meeting.starts_at,
        "place": meeting.place,
        "online": meeting.online,
        "scheduled_by": meeting.scheduled_by,
        "changed_at": meeting.changed_at,
        "items": list(meeting.items),
        "topic_ids": list(meeting.topic_ids),
        "status": meeting.status.value,
        "version": meeting.version,
        "message_ref": meeting.message_ref,
    }


class SqlMeetingRepository(Repository):
    async def get(self, meeting_id: int) -> Meeting | None:
        row = await self.session.scalar(select(MeetingRow).where(MeetingRow.id == meeting_id))
        return None if row is None else _meeting(row)

    async def add(self, meeting: Meeting) -> Meeting:
        meeting.id = await self.session.scalar(
            self.insert(MeetingRow).values(**_values(meeting)).returning(MeetingRow.id)
        )
        return meeting

    async def update(self, meeting: Meeting) -> None:
        meeting_id = required(meeting.id, "meeting")
        await self.session.execute(
            update(MeetingRow).where(MeetingRow.id == meeting_id).values(**_values(meeting))
        )

    async def upcoming(self, council_id: int, after: datetime) -> list[Meeting]:
        rows = await self.session.scalars(
            select(MeetingRow)
            .where(
                MeetingRow.council_id == council_id,
                MeetingRow.status == MeetingStatus.SCHEDULED.value,
                MeetingRow.starts_at > after,
            )
            .order_by(MeetingRow.starts_at, MeetingRow.id)
        )
        return [_meeting(row) for row in rows]

    async def all_upcoming(self, after: datetime) -> list[Meeting]:
        rows = await self.session.scalars(
            select(MeetingRow)
            .where(MeetingRow.status == MeetingStatus.SCHEDULED.value, MeetingRow.starts_at > after)
            .order_by(MeetingRow.id)
        )
        return [_meeting(row) for row in rows]

    async def of_council(self, council_id: int) -> list[Meeting]:
        rows = await self.session.scalars(
            select(MeetingRow)
            .where(MeetingRow.council_id == council_id)
            .order_by(MeetingRow.starts_at, MeetingRow.id)
        )
        return [_meeting(row) for row in rows]
