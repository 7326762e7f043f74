"""The outbox of notices and the contacts table (``NoticeRepository``, ``ContactRepository``).

Claiming is one ``UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING``: on
PostgreSQL the inner select skips rows another sender has locked, so senders
in several processes never take the same notice; SQLite lets one writer in at
a time (``BEGIN IMMEDIATE``), which gives the same guarantee.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update

from domain.model import Notice, NoticeKind, NoticeState
from storage.base import CHUNK, Repository, required
from storage.orm import ContactRow, NoticeRow


def _notice(row: NoticeRow) -> Notice:
    return Notice(
        id=row.id,
        key=row.key,
        kind=NoticeKind(row.kind),
        council_id=row.council_id,
        chat_id=row.chat_id,
        thread_id=row.thread_id,
        private=row.private,
        subject=row.subject,
        params=dict(row.params),
        state=NoticeState(row.state),
        attempts=row.attempts,
        not_before=row.not_before,
        created_at=row.created_at,
        sent_at=row.sent_at,
        message_ref=row.message_ref,
    )


def _values(notice: Notice) -> dict[str, Any]:
    return {
        "key": notice.key,
        "kind": notice.kind.value,
        "council_id": notice.council_id,
        "chat_id": notice.chat_id,
        "thread_id": notice.thread_id,
        "private": notice.private,
        "subject": notice.subject,
        "params": notice.params,
        "state": notice.state.value,
        "attempts": notice.attempts,
        "not_before": notice.not_before,
        "created_at": notice.created_at,
        "sent_at": notice.sent_at,
        "message_ref": notice.message_ref,
    }


class SqlNoticeRepository(Repository):
    async def add(self, notice: Notice) -> bool:
        notice_id = await self.session.scalar(
            self.insert(NoticeRow)
            .values(**_values(notice))
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(NoticeRow.id)
        )
        if notice_id is None:
            return False
        notice.id = notice_id
        return True

    async def add_many(self, notices: Sequence[Notice]) -> int:
        ids: dict[str, int] = {}
        for start in range(0, len(notices), CHUNK):
            # Parameters apart from the statement: it is compiled once and cached, where
            # a VALUES list of 100 rows was compiled anew each time (~10 ms).
            rows = await self.session.execute(
                self.insert(NoticeRow)
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(NoticeRow.id, NoticeRow.key),
                [_values(notice) for notice in notices[start : start + CHUNK]],
            )
            ids.update({key: notice_id for notice_id, key in rows})
        for notice in notices:
            notice.id = ids.get(notice.key)
        return len(ids)

    async def get(self, notice_id: int) -> Notice | None:
        row = await self.session.scalar(select(NoticeRow).where(NoticeRow.id == notice_id))
        return None if row is None else _notice(row)

    async def update(self, notice: Notice) -> None:
        notice_id = required(notice.id, "notice")
        await self.session.execute(
            update(NoticeRow).where(NoticeRow.id == notice_id).values(**_values(notice))
        )

    async def claim(self, now: datetime, limit: int, claimed_by: int | None = None) -> list[Notice]:
        due = (
            select(NoticeRow.id)
            .where(
                NoticeRow.state == NoticeState.PENDING.value,
                or_(NoticeRow.not_before.is_(None), NoticeRow.not_before <= now),
            )
            .order_by(NoticeRow.id)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        rows = await self.session.scalars(
            update(NoticeRow)
            .where(NoticeRow.id.in_(due.scalar_subquery()))
            .values(
                state=NoticeState.SENDING.value,
                attempts=NoticeRow.attempts + 1,
                claimed_at=now,
                claimed_by=claimed_by,
            )
            .returning(NoticeRow),
            execution_options={"synchronize_session": False},
        )
        return sorted((_notice(row) for row in rows), key=lambda n: n.id or 0)

    async def claimers(self) -> set[int | None]:
        found = await self.session.scalars(
            select(NoticeRow.claimed_by)
            .where(NoticeRow.state == NoticeState.SENDING.value)
            .distinct()
        )
        return set(found)

    async def readdress(self, old_chat_id: int, new_chat_id: int) -> int:
        moved = await self.session.scalars(
            update(NoticeRow)
            .where(
                NoticeRow.chat_id == old_chat_id,
                NoticeRow.state.in_([NoticeState.PENDING.value, NoticeState.SENDING.value]),
            )
            .values(chat_id=new_chat_id)
            .returning(NoticeRow.id),
            execution_options={"synchronize_session": False},
        )
        return len(list(moved))

    async def in_flight(self, claimers: Sequence[int | None]) -> list[Notice]:
        known = [claimer for claimer in claimers if claimer is not None]
        owners = [NoticeRow.claimed_by.in_(known)] if known else []
        if None in claimers:
            owners.append(NoticeRow.claimed_by.is_(None))
        if not owners:
            return []
        query = (
            select(NoticeRow)
            .where(NoticeRow.state == NoticeState.SENDING.value, or_(*owners))
            .order_by(NoticeRow.id)
        )
        if self.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [_notice(row) for row in await self.session.scalars(query)]


class SqlContactRepository(Repository):
    async def mark(self, user_id: int, reachable: bool, at: datetime) -> None:
        values = {"reachable": reachable, "updated_at": at}
        await self.session.execute(
            self.insert(ContactRow)
            .values(user_id=user_id, **values)
            .on_conflict_do_update(index_elements=["user_id"], set_=values)
        )

    async def reachable(self, user_ids: Sequence[int]) -> set[int]:
        if not user_ids:
            return set()
        found = await self.session.scalars(
            select(ContactRow.user_id).where(
                ContactRow.user_id.in_(list(user_ids)), ContactRow.reachable.is_(True)
            )
        )
        return set(found)
