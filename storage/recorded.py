"""Votes from the meeting room and the doorstep: meetings' sign-in and attendance, and
paper ballots waiting for their confirm button. (The votes themselves are ``votes``.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from domain.model import Attendance, PaperUpload, SignIn, UploadStatus
from domain.ports import Lock
from storage.base import Repository, required
from storage.orm import AttendanceRow, PaperUploadRow, SignInRow


def _sign_in(row: SignInRow) -> SignIn:
    return SignIn(
        meeting_id=row.meeting_id,
        council_id=row.council_id,
        opened_by=row.opened_by,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        message_ref=row.message_ref,
    )


class SqlSignInRepository(Repository):
    async def get(self, meeting_id: int) -> SignIn | None:
        row = await self.session.scalar(select(SignInRow).where(SignInRow.meeting_id == meeting_id))
        return None if row is None else _sign_in(row)

    async def add(self, sign_in: SignIn) -> bool:
        return await self.insert_ignore(
            self.insert(SignInRow)
            .values(
                meeting_id=sign_in.meeting_id,
                council_id=sign_in.council_id,
                opened_by=sign_in.opened_by,
                opened_at=sign_in.opened_at,
                closed_at=sign_in.closed_at,
                message_ref=sign_in.message_ref,
            )
            .on_conflict_do_nothing(index_elements=["meeting_id"])
        )

    async def update(self, sign_in: SignIn) -> None:
        await self.session.execute(
            update(SignInRow)
            .where(SignInRow.meeting_id == sign_in.meeting_id)
            .values(closed_at=sign_in.closed_at, message_ref=sign_in.message_ref)
        )

    async def open_of(self, council_id: int) -> SignIn | None:
        row = await self.session.scalar(
            select(SignInRow)
            .where(SignInRow.council_id == council_id, SignInRow.closed_at.is_(None))
            .order_by(SignInRow.opened_at.desc(), SignInRow.meeting_id.desc())
            .limit(1)
        )
        return None if row is None else _sign_in(row)

    async def attend(self, attendance: Attendance) -> bool:
        return await self.insert_ignore(
            self.insert(AttendanceRow)
            .values(
                meeting_id=attendance.meeting_id,
                member_id=attendance.member_id,
                at=attendance.at,
                by_user=attendance.by_user,
            )
            .on_conflict_do_nothing(index_elements=["meeting_id", "member_id"])
        )

    async def leave(self, meeting_id: int, member_id: int) -> bool:
        gone = await self.session.scalars(
            delete(AttendanceRow)
            .where(AttendanceRow.meeting_id == meeting_id, AttendanceRow.member_id == member_id)
            .returning(AttendanceRow.member_id)
        )
        return gone.first() is not None

    async def attendees(self, meeting_id: int) -> dict[int, Attendance]:
        rows = await self.session.scalars(
            select(AttendanceRow)
            .where(AttendanceRow.meeting_id == meeting_id)
            .order_by(AttendanceRow.at, AttendanceRow.member_id)
        )
        return {
            row.member_id: Attendance(row.meeting_id, row.member_id, row.at, row.by_user)
            for row in rows
        }


def _upload_values(upload: PaperUpload) -> dict[str, Any]:
    return {
        "ballot_id": upload.ballot_id,
        "council_id": upload.council_id,
        "user_id": upload.user_id,
        "file_name": upload.file_name,
        "digest": upload.digest,
        "plan": upload.plan,
        "status": upload.status.value,
        "created_at": upload.created_at,
        "decided_at": upload.decided_at,
    }


class SqlPaperUploadRepository(Repository):
    async def add(self, upload: PaperUpload) -> PaperUpload:
        upload.id = await self.session.scalar(
            self.insert(PaperUploadRow)
            .values(**_upload_values(upload))
            .returning(PaperUploadRow.id)
        )
        return upload

    async def get(self, upload_id: int, lock: Lock = Lock.NONE) -> PaperUpload | None:
        statement = select(PaperUploadRow).where(PaperUploadRow.id == upload_id)
        if lock is Lock.UPDATE:
            statement = statement.with_for_update()
        row = await self.session.scalar(statement)
        if row is None:
            return None
        return PaperUpload(
            id=row.id,
            ballot_id=row.ballot_id,
            council_id=row.council_id,
            user_id=row.user_id,
            file_name=row.file_name,
            digest=row.digest,
            plan=dict(row.plan),
            created_at=row.created_at,
            status=UploadStatus(row.status),
            decided_at=row.decided_at,
        )

    async def update(self, upload: PaperUpload) -> None:
        upload_id = required(upload.id, "paper upload")
        await self.session.execute(
            update(PaperUploadRow)
            .where(PaperUploadRow.id == upload_id)
            .values(**_upload_values(upload))
        )
