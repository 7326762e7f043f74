"""Topics and their proposals (with the seconds)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from domain.model import Phase, Proposal, Topic
from domain.ports import Lock
from domain.rules import Result
from storage.base import CHUNK, Repository, required
from storage.orm import ProposalRow, SecondRow, TopicRow


def _topic(row: TopicRow) -> Topic:
    return Topic(
        id=row.id,
        council_id=row.council_id,
        title=row.title,
        description=row.description,
        opened_by=row.opened_by,
        opened_at=row.opened_at,
        phase=Phase(row.phase),
        deadline=row.deadline,
        decided_at=row.decided_at,
        result=None if row.result is None else Result(row.result),
        card_ref=row.card_ref,
    )


def _topic_values(topic: Topic) -> dict[str, Any]:
    return {
        "council_id": topic.council_id,
        "title": topic.title,
        "description": topic.description,
        "opened_by": topic.opened_by,
        "opened_at": topic.opened_at,
        "phase": topic.phase.value,
        "deadline": topic.deadline,
        "decided_at": topic.decided_at,
        "result": None if topic.result is None else topic.result.value,
        "card_ref": topic.card_ref,
    }


class SqlTopicRepository(Repository):
    async def get(self, topic_id: int, lock: Lock = Lock.NONE) -> Topic | None:
        statement = select(TopicRow).where(TopicRow.id == topic_id)
        if lock is not Lock.NONE:
            # SQLite: BEGIN IMMEDIATE already holds the write lock; the clause is dropped.
            statement = statement.with_for_update().execution_options(populate_existing=True)
        row = await self.session.scalar(statement)
        return None if row is None else _topic(row)

    async def many(self, topic_ids: Sequence[int]) -> dict[int, Topic]:
        wanted = sorted(set(topic_ids))
        found: dict[int, Topic] = {}
        for start in range(0, len(wanted), CHUNK):
            rows = await self.session.scalars(
                select(TopicRow)
                .where(TopicRow.id.in_(wanted[start : start + CHUNK]))
                .execution_options(populate_existing=True)
            )
            found.update((row.id, _topic(row)) for row in rows)
        return found

    async def add(self, topic: Topic) -> Topic:
        topic.id = await self.session.scalar(
            self.insert(TopicRow).values(**_topic_values(topic)).returning(TopicRow.id)
        )
        return topic

    async def update(self, topic: Topic) -> None:
        topic_id = required(topic.id, "topic")
        await self.session.execute(
            update(TopicRow).where(TopicRow.id == topic_id).values(**_topic_values(topic))
        )

    async def update_many(self, topics: Sequence[Topic]) -> None:
        if topics:  # an UPDATE by primary key, run once per topic in one executemany
            await self.session.execute(
                update(TopicRow),
                [{"id": required(t.id, "topic"), **_topic_values(t)} for t in topics],
            )

    async def active(self, council_id: int) -> list[Topic]:
        """Topics collecting opinions or voting, newest first."""
        rows = await self.session.scalars(
            select(TopicRow)
            .where(
                TopicRow.council_id == council_id,
                TopicRow.phase.in_([Phase.COLLECTING.value, Phase.VOTING.value]),
            )
            .order_by(TopicRow.opened_at.desc(), TopicRow.id.desc())
        )
        return [_topic(row) for row in rows]

    async def latest_decided(self, council_id: int) -> Topic | None:
        row = await self.session.scalar(
            select(TopicRow)
            .where(TopicRow.council_id == council_id, TopicRow.phase == Phase.DECIDED.value)
            .order_by(TopicRow.decided_at.desc(), TopicRow.id.desc())
            .limit(1)
        )
        return None if row is None else _topic(row)

    async def collecting_with_deadline(self) -> list[Topic]:
        rows = await self.session.scalars(
            select(TopicRow)
            .where(TopicRow.phase == Phase.COLLECTING.value, TopicRow.deadline.is_not(None))
            .order_by(TopicRow.id)
        )
        return [_topic(row) for row in rows]


class SqlProposalRepository(Repository):
    async def count_by_author(self, member_id: int, since: datetime) -> int:
        found = await self.session.scalar(
            select(func.count())
            .select_from(ProposalRow)
            .where(ProposalRow.author_id == member_id, ProposalRow.created_at >= since)
        )
        return int(found or 0)

    async def get(self, proposal_id: int, lock: Lock = Lock.NONE) -> Proposal | None:
        """PostgreSQL: ``Lock.UPDATE`` is ``FOR UPDATE``, which waits for a second being
        written (its foreign key holds ``FOR KEY SHARE`` on the proposal until it
        commits); the seconds are read after that, so they include it."""
        statement = select(ProposalRow).where(ProposalRow.id == proposal_id)
        if lock is not Lock.NONE:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        row = await self.session.scalar(statement)
        if row is None:
            return None
        return (await self._with_seconds([row]))[0]

    async def by_source(self, council_id: int, source_ref: int) -> Proposal | None:
        row = await self.session.scalar(
            select(ProposalRow)
            .join(TopicRow, TopicRow.id == ProposalRow.topic_id)
            .where(ProposalRow.source_ref == source_ref, TopicRow.council_id == council_id)
            .order_by(ProposalRow.id.desc())
            .limit(1)
        )
        if row is None:
            return None
        return (await self._with_seconds([row]))[0]

    async def set_text(self, proposal_id: int, text: str) -> None:
        await self.session.execute(
            update(ProposalRow).where(ProposalRow.id == proposal_id).values(text=text),
            execution_options={"synchronize_session": False},
        )

    async def set_message(self, proposal_id: int, message_ref: int) -> None:
        await self.session.execute(
            update(ProposalRow)
            .where(ProposalRow.id == proposal_id)
            .values(message_ref=message_ref),
            execution_options={"synchronize_session": False},
        )

    async def add(self, proposal: Proposal) -> Proposal:
        proposal.id = await self.session.scalar(
            self.insert(ProposalRow)
            .values(
                topic_id=proposal.topic_id,
                author_id=proposal.author_id,
                text=proposal.text,
                created_at=proposal.created_at,
                source_ref=proposal.source_ref,
                message_ref=proposal.message_ref,
            )
            .returning(ProposalRow.id)
        )
        for member_id in sorted(proposal.seconds):
            await self.add_second(proposal.id, member_id, proposal.created_at)
        return proposal

    async def for_topic(self, topic_id: int) -> list[Proposal]:
        """Oldest first, seconds filled in."""
        rows = await self.session.scalars(
            select(ProposalRow)
            .where(ProposalRow.topic_id == topic_id)
            .order_by(ProposalRow.created_at, ProposalRow.id)
        )
        return await self._with_seconds(list(rows))

    async def add_second(self, proposal_id: int, member_id: int, at: datetime) -> bool:
        """Atomic; False if this member had already seconded."""
        statement = (
            self.insert(SecondRow)
            .values(proposal_id=proposal_id, member_id=member_id, at=at)
            .on_conflict_do_nothing(index_elements=["proposal_id", "member_id"])
        )
        return await self.insert_ignore(statement)

    async def _with_seconds(self, rows: list[ProposalRow]) -> list[Proposal]:
        seconds: dict[int, set[int]] = {row.id: set() for row in rows}
        if rows:
            pairs = await self.session.execute(
                select(SecondRow.proposal_id, SecondRow.member_id).where(
                    SecondRow.proposal_id.in_(list(seconds))
                )
            )
            for proposal_id, member_id in pairs:
                seconds[proposal_id].add(member_id)
        return [
            Proposal(
                id=row.id,
                topic_id=row.topic_id,
                author_id=row.author_id,
                text=row.text,
                created_at=row.created_at,
                seconds=seconds[row.id],
                source_ref=row.source_ref,
                message_ref=row.message_ref,
            )
            for row in rows
        ]
