"""The councils and their rolls (members)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, update

from domain import errors
from domain.model import Council, Member, MemberStatus
from storage.base import Repository, required
from storage.orm import BallotRow, CouncilChairRow, CouncilRow, MemberRow, ProposalRow, TopicRow
from storage.rule_json import rule_from_json, rule_to_json


class SqlCouncilRepository(Repository):
    async def get(self, council_id: int) -> Council | None:
        row = await self.session.scalar(select(CouncilRow).where(CouncilRow.id == council_id))
        return None if row is None else await self._load(row)

    async def by_chat(self, chat_id: int, thread_id: int) -> Council | None:
        row = await self.session.scalar(
            select(CouncilRow).where(
                CouncilRow.chat_id == chat_id, CouncilRow.thread_id == thread_id
            )
        )
        return None if row is None else await self._load(row)

    async def add(self, council: Council) -> Council:
        council.id = await self.session.scalar(
            self.insert(CouncilRow).values(**self._values(council)).returning(CouncilRow.id)
        )
        await self._put_chairs(council)
        return council

    async def update(self, council: Council) -> None:
        council_id = required(council.id, "council")
        await self.session.execute(
            update(CouncilRow).where(CouncilRow.id == council_id).values(**self._values(council))
        )
        await self.session.execute(
            delete(CouncilChairRow).where(CouncilChairRow.council_id == council_id)
        )
        await self._put_chairs(council)

    async def many(self, council_ids: Sequence[int]) -> dict[int, Council]:
        if not council_ids:
            return {}
        rows = list(
            await self.session.scalars(select(CouncilRow).where(CouncilRow.id.in_(council_ids)))
        )
        chairs: dict[int, set[int]] = {row.id: set() for row in rows}
        pairs = await self.session.execute(
            select(CouncilChairRow.council_id, CouncilChairRow.user_id).where(
                CouncilChairRow.council_id.in_(list(chairs))
            )
        )
        for council_id, user_id in pairs:
            chairs[council_id].add(user_id)
        return {row.id: self._council(row, chairs[row.id]) for row in rows}

    async def in_chat(self, chat_id: int) -> list[Council]:
        ids = await self.session.scalars(
            select(CouncilRow.id).where(CouncilRow.chat_id == chat_id).order_by(CouncilRow.id)
        )
        found = await self.many(list(ids))
        return [found[i] for i in sorted(found)]

    async def forget_messages(self, council_id: int) -> None:
        from storage.orm import MeetingRow, TaskRow

        for table, column in (
            (TopicRow, "card_ref"),
            (BallotRow, "message_ref"),
            (MeetingRow, "message_ref"),
            (TaskRow, "card_ref"),
        ):
            await self.session.execute(
                update(table).where(table.council_id == council_id).values({column: None}),
                execution_options={"synchronize_session": False},
            )
        topics = select(TopicRow.id).where(TopicRow.council_id == council_id)
        await self.session.execute(
            update(ProposalRow)
            .where(ProposalRow.topic_id.in_(topics))
            .values(source_ref=None, message_ref=None),
            execution_options={"synchronize_session": False},
        )

    async def _put_chairs(self, council: Council) -> None:
        if council.chairs:
            await self.session.execute(
                self.insert(CouncilChairRow),
                [{"council_id": council.id, "user_id": u} for u in sorted(council.chairs)],
            )

    @staticmethod
    def _values(council: Council) -> dict[str, Any]:
        return {
            "chat_id": council.chat_id,
            "thread_id": council.thread_id,
            "title": council.title,
            "rule": rule_to_json(council.rule),
            "timezone": council.timezone,
            "language": council.language,
            "require_approval": council.require_approval,
            "created_at": council.created_at,
            "meeting_reminders": list(council.meeting_reminders),
            "ballot_nudge": council.ballot_nudge,
            "skills": list(council.skills),
            "offer_minutes": council.offer_minutes,
            "offer_round": council.offer_round,
        }

    async def _load(self, row: CouncilRow) -> Council:
        chairs = await self.session.scalars(
            select(CouncilChairRow.user_id).where(CouncilChairRow.council_id == row.id)
        )
        return self._council(row, set(chairs))

    @staticmethod
    def _council(row: CouncilRow, chairs: set[int]) -> Council:
        return Council(
            id=row.id,
            chat_id=row.chat_id,
            thread_id=row.thread_id,
            title=row.title,
            rule=rule_from_json(row.rule),
            timezone=row.timezone,
            language=row.language,
            created_at=row.created_at,
            require_approval=row.require_approval,
            chairs=chairs,
            meeting_reminders=tuple(row.meeting_reminders),
            ballot_nudge=row.ballot_nudge,
            skills=tuple(row.skills),
            offer_minutes=row.offer_minutes,
            offer_round=row.offer_round,
        )


def _member(row: MemberRow) -> Member:
    return Member(
        id=row.id,
        council_id=row.council_id,
        user_id=row.user_id,
        name=row.name,
        building=row.building,
        unit=row.unit,
        room=row.room,
        household=row.household,
        area=row.area,
        status=MemberStatus(row.status),
        language=row.language,
        joined_at=row.joined_at,
    )


def _member_values(member: Member) -> dict[str, Any]:
    return {
        "council_id": member.council_id,
        "user_id": member.user_id,
        "name": member.name,
        "building": member.building,
        "unit": member.unit,
        "room": member.room,
        "household": member.household,
        "area": member.area,
        "status": member.status.value,
        "language": member.language,
        "joined_at": member.joined_at,
    }


class SqlMemberRepository(Repository):
    async def get(self, member_id: int) -> Member | None:
        row = await self.session.scalar(select(MemberRow).where(MemberRow.id == member_id))
        return None if row is None else _member(row)

    async def by_ids(self, member_ids: Sequence[int]) -> dict[int, Member]:
        if not member_ids:
            return {}
        rows = await self.session.scalars(
            select(MemberRow).where(MemberRow.id.in_(set(member_ids)))
        )
        return {row.id: _member(row) for row in rows}

    async def by_user(self, council_id: int, user_id: int) -> Member | None:
        row = await self.session.scalar(
            select(MemberRow).where(
                MemberRow.council_id == council_id, MemberRow.user_id == user_id
            )
        )
        return None if row is None else _member(row)

    async def by_users(self, council_id: int, user_ids: Sequence[int]) -> dict[int, Member]:
        if not user_ids:
            return {}
        rows = await self.session.scalars(
            select(MemberRow).where(
                MemberRow.council_id == council_id, MemberRow.user_id.in_(set(user_ids))
            )
        )
        return {row.user_id: _member(row) for row in rows if row.user_id is not None}

    async def add(self, member: Member) -> Member:
        """Raises ``errors.AlreadyMember`` if the account is already on this roll."""
        statement = (
            self.insert(MemberRow)
            .values(**_member_values(member))
            .on_conflict_do_nothing(index_elements=["council_id", "user_id"])
            .returning(MemberRow.id)
        )
        member_id = await self.session.scalar(statement)
        if member_id is None:
            raise errors.AlreadyMember(name=member.name)
        member.id = member_id
        return member

    async def update(self, member: Member) -> None:
        member_id = required(member.id, "member")
        await self.session.execute(
            update(MemberRow).where(MemberRow.id == member_id).values(**_member_values(member))
        )

    async def list(
        self, council_id: int, statuses: Sequence[MemberStatus] = (MemberStatus.ACTIVE,)
    ) -> list[Member]:
        rows = await self.session.scalars(
            select(MemberRow)
            .where(
                MemberRow.council_id == council_id,
                MemberRow.status.in_([s.value for s in statuses]),
            )
            .order_by(MemberRow.id)
        )
        return [_member(row) for row in rows]
