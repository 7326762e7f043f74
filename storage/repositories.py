"""SQLAlchemy implementations of the repository protocols in ``domain.ports``.

Each repository works inside the session of one unit of work and returns fresh
domain dataclasses: rows never leak out, and changing a returned object changes
nothing until it is passed back to ``update``.

The operations that must stay correct under concurrent presses are single
statements guarded by a uniqueness constraint (``INSERT … ON CONFLICT DO
NOTHING``) or a row lock, never a read followed by a blind write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Table, case, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from domain import errors
from domain.model import (
    Ballot,
    BallotKind,
    BallotOption,
    Council,
    Draft,
    Member,
    MemberStatus,
    Phase,
    Proposal,
    Resolution,
    Topic,
    Vote,
    VoteEvent,
)
from domain.ports import Lock
from domain.rules import Outcome, Result, Rule
from storage.orm import (
    BallotRow,
    CouncilChairRow,
    CouncilRow,
    DraftRow,
    MemberRow,
    ProcessedUpdateRow,
    ProposalRow,
    ResolutionRow,
    SecondRow,
    TopicRow,
    VoteEventRow,
    VoteRow,
)

__all__ = [
    "SqlBallotRepository",
    "SqlCouncilRepository",
    "SqlDraftRepository",
    "SqlMemberRepository",
    "SqlProposalRepository",
    "SqlResolutionRepository",
    "SqlTopicRepository",
    "SqlUpdateLog",
    "SqlVoteRepository",
]


class _Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def insert(self, table: Any) -> Any:
        """The dialect's INSERT, which knows ``on_conflict_do_nothing``."""
        target: Table = table.__table__ if hasattr(table, "__table__") else table
        if self.dialect == "postgresql":
            return postgresql.insert(target)
        if self.dialect == "sqlite":
            return sqlite.insert(target)
        raise NotImplementedError(f"unsupported database dialect {self.dialect!r}")

    async def _insert_ignore(self, statement: Insert) -> bool:
        """Run an ``INSERT … ON CONFLICT DO NOTHING``; True when the row went in.

        Asks for a column back rather than trusting ``rowcount``, which the
        ORM session does not always report (-1 through psycopg's async driver).
        """
        table = statement.table
        assert isinstance(table, Table)
        returned = await self.session.execute(statement.returning(*table.primary_key.columns))
        return returned.first() is not None


def _required(value: int | None, what: str) -> int:
    if value is None:
        raise ValueError(f"{what} has no id: add it first")
    return value


# --- rules and outcomes -------------------------------------------------------


def _rule_to_json(rule: Rule) -> dict[str, Any]:
    return dict(rule.to_dict())


def _rule_from_json(data: Mapping[str, Any]) -> Rule:
    return Rule.from_dict(data)


def _outcome_to_json(outcome: Outcome | None) -> dict[str, Any] | None:
    return None if outcome is None else dict(outcome.to_dict())


def _outcome_from_json(data: Mapping[str, Any] | None) -> Outcome | None:
    return None if data is None else Outcome.from_dict(data)


# --- councils -----------------------------------------------------------------


class SqlCouncilRepository(_Repository):
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
        council_id = _required(council.id, "council")
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
            "rule": _rule_to_json(council.rule),
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
            rule=_rule_from_json(row.rule),
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


# --- members ------------------------------------------------------------------


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


class SqlMemberRepository(_Repository):
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
        member_id = _required(member.id, "member")
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


# --- topics -------------------------------------------------------------------


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


class SqlTopicRepository(_Repository):
    async def get(self, topic_id: int, lock: Lock = Lock.NONE) -> Topic | None:
        statement = select(TopicRow).where(TopicRow.id == topic_id)
        if lock is not Lock.NONE:
            # SQLite: BEGIN IMMEDIATE already holds the write lock; the clause is dropped.
            statement = statement.with_for_update().execution_options(populate_existing=True)
        row = await self.session.scalar(statement)
        return None if row is None else _topic(row)

    async def add(self, topic: Topic) -> Topic:
        topic.id = await self.session.scalar(
            self.insert(TopicRow).values(**_topic_values(topic)).returning(TopicRow.id)
        )
        return topic

    async def update(self, topic: Topic) -> None:
        topic_id = _required(topic.id, "topic")
        await self.session.execute(
            update(TopicRow).where(TopicRow.id == topic_id).values(**_topic_values(topic))
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


# --- proposals ----------------------------------------------------------------


class SqlProposalRepository(_Repository):
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
        return await self._insert_ignore(statement)

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


# --- ballots ------------------------------------------------------------------


def _ballot(row: BallotRow) -> Ballot:
    return Ballot(
        id=row.id,
        topic_id=row.topic_id,
        council_id=row.council_id,
        kind=BallotKind(row.kind),
        question=row.question,
        rule=_rule_from_json(row.rule),
        secret=row.secret,
        opened_by=row.opened_by,
        opened_at=row.opened_at,
        options=tuple(
            BallotOption(key=o["key"], label=o["label"], proposal_id=o.get("proposal_id"))
            for o in row.options
        ),
        deadline=row.deadline,
        closed_at=row.closed_at,
        outcome=_outcome_from_json(row.outcome),
        message_ref=row.message_ref,
        rendered_seq=row.rendered_seq,
    )


def _ballot_values(ballot: Ballot) -> dict[str, Any]:
    return {
        "topic_id": ballot.topic_id,
        "council_id": ballot.council_id,
        "kind": ballot.kind.value,
        "question": ballot.question,
        "options": [
            {"key": o.key, "label": o.label, "proposal_id": o.proposal_id} for o in ballot.options
        ],
        "rule": _rule_to_json(ballot.rule),
        "secret": ballot.secret,
        "opened_by": ballot.opened_by,
        "opened_at": ballot.opened_at,
        "deadline": ballot.deadline,
        "closed_at": ballot.closed_at,
        "outcome": _outcome_to_json(ballot.outcome),
        "message_ref": ballot.message_ref,
    }


class SqlBallotRepository(_Repository):
    async def get(self, ballot_id: int, lock: Lock = Lock.NONE) -> Ballot | None:
        """Read a ballot, optionally locking its row until the transaction ends.

        PostgreSQL: ``Lock.SHARE`` is ``FOR KEY SHARE``: votes run side by side,
        and not while a close holds ``Lock.UPDATE`` (``FOR UPDATE``), which waits
        for the votes in flight and then excludes new ones until it commits.
        ``KEY SHARE`` rather than ``SHARE`` lets ``set_rendered`` (a plain
        update of a non-key column) proceed during a burst of votes instead of
        queueing behind them; every other change of a ballot goes through
        ``update``, which takes ``FOR UPDATE`` first and so still excludes votes.
        SQLite: every transaction already holds the database's write lock
        (``BEGIN IMMEDIATE``), so the lock is implied.
        """
        statement = select(BallotRow).where(BallotRow.id == ballot_id)
        if lock is Lock.SHARE:
            statement = statement.with_for_update(read=True, key_share=True)
        elif lock is Lock.UPDATE:
            statement = statement.with_for_update()
        row = await self.session.scalar(statement)
        return None if row is None else _ballot(row)

    async def add(self, ballot: Ballot) -> Ballot:
        ballot.id = await self.session.scalar(
            self.insert(BallotRow)
            .values(**_ballot_values(ballot), rendered_seq=ballot.rendered_seq)
            .returning(BallotRow.id)
        )
        return ballot

    async def update(self, ballot: Ballot) -> None:
        """Write ``ballot`` back; waits for votes in flight and excludes new ones
        until the transaction ends (a close or cancel must not interleave with a
        vote, even when the caller read the ballot without ``Lock.UPDATE``)."""
        ballot_id = _required(ballot.id, "ballot")
        await self.session.execute(
            select(BallotRow.id).where(BallotRow.id == ballot_id).with_for_update()
        )
        await self.session.execute(
            update(BallotRow)
            .where(BallotRow.id == ballot_id)
            .values(
                **_ballot_values(ballot),
                # A stale copy must not lower what set_rendered raised.
                rendered_seq=case(
                    (BallotRow.rendered_seq < ballot.rendered_seq, ballot.rendered_seq),
                    else_=BallotRow.rendered_seq,
                ),
            )
        )

    async def for_topic(self, topic_id: int) -> list[Ballot]:
        """Newest first."""
        rows = await self.session.scalars(
            select(BallotRow)
            .where(BallotRow.topic_id == topic_id)
            .order_by(BallotRow.opened_at.desc(), BallotRow.id.desc())
        )
        return [_ballot(row) for row in rows]

    async def latest(self, council_id: int) -> Ballot | None:
        row = await self.session.scalar(
            select(BallotRow)
            .where(BallotRow.council_id == council_id)
            .order_by(BallotRow.opened_at.desc(), BallotRow.id.desc())
            .limit(1)
        )
        return None if row is None else _ballot(row)

    async def open(self, council_id: int) -> list[Ballot]:
        rows = await self.session.scalars(
            select(BallotRow)
            .where(BallotRow.council_id == council_id, BallotRow.closed_at.is_(None))
            .order_by(BallotRow.opened_at.desc(), BallotRow.id.desc())
        )
        return [_ballot(row) for row in rows]

    async def all_open(self) -> list[int]:
        rows = await self.session.scalars(
            select(BallotRow.id).where(BallotRow.closed_at.is_(None)).order_by(BallotRow.id)
        )
        return list(rows)

    async def open_with_deadline(self) -> list[Ballot]:
        rows = await self.session.scalars(
            select(BallotRow)
            .where(BallotRow.closed_at.is_(None), BallotRow.deadline.is_not(None))
            .order_by(BallotRow.id)
        )
        return [_ballot(row) for row in rows]

    async def set_rendered(self, ballot_id: int, seq: int) -> None:
        """Raise ``rendered_seq`` to ``seq`` (never lowers it)."""
        await self.session.execute(
            update(BallotRow)
            .where(BallotRow.id == ballot_id, BallotRow.rendered_seq < seq)
            .values(rendered_seq=seq)
        )


# --- votes --------------------------------------------------------------------


def _vote_row(vote: Vote) -> dict[str, Any]:
    return {
        "ballot_id": vote.ballot_id,
        "member_id": vote.member_id,
        "choice": vote.choice,
        "cast_at": vote.cast_at,
    }


# Advisory lock keys for vote batches: one per ballot, away from the migration lock's.
VOTE_BATCH_LOCK = 0x5949_5348_0000_0000  # "YISH" in the high bytes


class SqlVoteRepository(_Repository):
    """Current votes plus an append-only audit trail.

    Sequence numbers: ``last_seq`` is the number of events recorded for the
    ballot and ``events`` numbers them 1, 2, … in the order they were written.
    A database-assigned id would not do: on PostgreSQL votes commit side by
    side, so event 41 may become visible after 42 was rendered and would then
    never be shown. A count only grows, by one per committed event, so reading
    ``last_seq`` before the tally and comparing it with ``rendered_seq``
    later never misses a vote.
    """

    async def put(self, vote: Vote) -> str | None:
        """Make ``vote`` the member's current one and append it to the audit trail.

        Atomic per (ballot, member); returns the previous choice (None for a
        first vote), and appends nothing when the choice is unchanged.
        """
        key = (VoteRow.ballot_id == vote.ballot_id, VoteRow.member_id == vote.member_id)
        while True:
            previous = await self.session.scalar(
                select(VoteRow.choice).where(*key).with_for_update()
            )
            if previous is None:
                inserted = await self._insert_ignore(
                    self.insert(VoteRow)
                    .values(
                        ballot_id=vote.ballot_id,
                        member_id=vote.member_id,
                        choice=vote.choice,
                        cast_at=vote.cast_at,
                    )
                    .on_conflict_do_nothing(index_elements=["ballot_id", "member_id"])
                )
                if not inserted:
                    # A concurrent press by the same member inserted first and has
                    # committed now: read (and lock) its choice, then change it.
                    continue
            elif previous == vote.choice:
                return previous
            else:
                await self.session.execute(
                    update(VoteRow).where(*key).values(choice=vote.choice, cast_at=vote.cast_at)
                )
            await self.session.execute(
                self.insert(VoteEventRow).values(
                    ballot_id=vote.ballot_id,
                    member_id=vote.member_id,
                    choice=vote.choice,
                    previous=previous,
                    at=vote.cast_at,
                )
            )
            return previous

    async def put_many(self, votes: Sequence[Vote]) -> list[str | None]:
        """``put`` for a batch: a handful of statements however many votes it holds."""
        previous: dict[tuple[int, int], str | None] = {}
        by_ballot: dict[int, list[Vote]] = {}
        for vote in votes:
            by_ballot.setdefault(vote.ballot_id, []).append(vote)
        for ballot_id, group in by_ballot.items():
            previous.update(await self._put_group(ballot_id, group))
        return [previous[(v.ballot_id, v.member_id)] for v in votes]

    async def _put_group(
        self, ballot_id: int, votes: list[Vote]
    ) -> dict[tuple[int, int], str | None]:
        if self.dialect == "postgresql":
            # Batches on one ballot from several processes take turns: each locks
            # existing rows and inserts new ones, and two such steps interleaved
            # could wait on each other. A batch is a few statements; the wait is short.
            # (SQLite's BEGIN IMMEDIATE already lets one writer in at a time.)
            await self.session.execute(
                select(func.pg_advisory_xact_lock(VOTE_BATCH_LOCK + ballot_id))
            )
        previous: dict[tuple[int, int], str | None] = {}
        changed: list[Vote] = []
        pending = votes
        while pending:
            members = [v.member_id for v in pending]
            rows = await self.session.execute(
                select(VoteRow.member_id, VoteRow.choice)
                .where(VoteRow.ballot_id == ballot_id, VoteRow.member_id.in_(members))
                # One order for every process, so that two batches never deadlock.
                .order_by(VoteRow.member_id)
                .with_for_update()
            )
            existing = {member_id: choice for member_id, choice in rows}
            new = sorted(
                (v for v in pending if v.member_id not in existing), key=lambda v: v.member_id
            )
            inserted: set[int] = set()
            if new:
                inserted = set(
                    await self.session.scalars(
                        self.insert(VoteRow)
                        .values([_vote_row(v) for v in new])
                        .on_conflict_do_nothing(index_elements=["ballot_id", "member_id"])
                        .returning(VoteRow.member_id)
                    )
                )
            for vote in pending:
                if vote.member_id in existing:
                    before = existing[vote.member_id]
                    previous[(ballot_id, vote.member_id)] = before
                    if before != vote.choice:
                        changed.append(vote)
                elif vote.member_id in inserted:
                    previous[(ballot_id, vote.member_id)] = None
                    changed.append(vote)
            # Rows another process inserted meanwhile: read (and lock) them, then change them.
            pending = [v for v in new if v.member_id not in inserted]
        updates = [v for v in changed if previous[(ballot_id, v.member_id)] is not None]
        if updates:
            await self.session.execute(
                update(VoteRow),
                [_vote_row(v) for v in updates],
            )
        if changed:
            await self.session.execute(
                insert(VoteEventRow),
                [
                    {
                        "ballot_id": v.ballot_id,
                        "member_id": v.member_id,
                        "choice": v.choice,
                        "previous": previous[(ballot_id, v.member_id)],
                        "at": v.cast_at,
                    }
                    for v in changed
                ],
            )
        return previous

    async def current(self, ballot_id: int) -> dict[int, str]:
        """member id -> current choice."""
        rows = await self.session.execute(
            select(VoteRow.member_id, VoteRow.choice).where(VoteRow.ballot_id == ballot_id)
        )
        return {member_id: choice for member_id, choice in rows}

    async def choice_of(self, ballot_id: int, member_id: int) -> str | None:
        return await self.session.scalar(
            select(VoteRow.choice).where(
                VoteRow.ballot_id == ballot_id, VoteRow.member_id == member_id
            )
        )

    async def events(self, ballot_id: int) -> list[VoteEvent]:
        rows = await self.session.scalars(
            select(VoteEventRow)
            .where(VoteEventRow.ballot_id == ballot_id)
            .order_by(VoteEventRow.id)
        )
        return [
            VoteEvent(
                ballot_id=row.ballot_id,
                member_id=row.member_id,
                choice=row.choice,
                previous=row.previous,
                at=row.at,
                seq=seq,
            )
            for seq, row in enumerate(rows, start=1)
        ]

    async def last_seq(self, ballot_id: int) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(VoteEventRow)
            .where(VoteEventRow.ballot_id == ballot_id)
        )
        return int(count or 0)


# --- resolutions, drafts, updates -----------------------------------------------


class SqlResolutionRepository(_Repository):
    async def add(self, resolution: Resolution) -> Resolution:
        resolution_id = await self.session.scalar(
            self.insert(ResolutionRow)
            .values(
                council_id=resolution.council_id,
                topic_id=resolution.topic_id,
                ballot_id=resolution.ballot_id,
                result=resolution.result.value,
                summary=resolution.summary,
                recorded_at=resolution.recorded_at,
                winner=resolution.winner,
            )
            .returning(ResolutionRow.id)
        )
        return replace(resolution, id=resolution_id)  # Resolution is frozen

    async def for_topic(self, topic_id: int) -> list[Resolution]:
        rows = await self.session.scalars(
            select(ResolutionRow)
            .where(ResolutionRow.topic_id == topic_id)
            .order_by(ResolutionRow.recorded_at, ResolutionRow.id)
        )
        return [
            Resolution(
                id=row.id,
                council_id=row.council_id,
                topic_id=row.topic_id,
                ballot_id=row.ballot_id,
                result=Result(row.result),
                summary=row.summary,
                recorded_at=row.recorded_at,
                winner=row.winner,
            )
            for row in rows
        ]


class SqlDraftRepository(_Repository):
    async def get(self, user_id: int) -> Draft | None:
        row = await self.session.scalar(select(DraftRow).where(DraftRow.user_id == user_id))
        if row is None:
            return None
        return Draft(
            user_id=row.user_id, topic_id=row.topic_id, text=row.text, updated_at=row.updated_at
        )

    async def put(self, draft: Draft) -> None:
        values = {"topic_id": draft.topic_id, "text": draft.text, "updated_at": draft.updated_at}
        statement = self.insert(DraftRow).values(user_id=draft.user_id, **values)
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=["user_id"], set_=values)
        )

    async def delete(self, user_id: int) -> None:
        await self.session.execute(delete(DraftRow).where(DraftRow.user_id == user_id))


class SqlUpdateLog(_Repository):
    def __init__(self, session: AsyncSession, clock: Callable[[], datetime]) -> None:
        super().__init__(session)
        self.clock = clock

    async def claim(self, key: str) -> bool:
        """Atomic; True the first time ``key`` is seen, False for a redelivery."""
        statement = (
            self.insert(ProcessedUpdateRow)
            .values(key=key, seen_at=self.clock())
            .on_conflict_do_nothing(index_elements=["key"])
        )
        return await self._insert_ignore(statement)

    async def claim_many(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        seen_at = self.clock()
        claimed = await self.session.scalars(
            self.insert(ProcessedUpdateRow)
            .values([{"key": key, "seen_at": seen_at} for key in keys])
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(ProcessedUpdateRow.key)
        )
        return set(claimed)

    async def seen(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        found = await self.session.scalars(
            select(ProcessedUpdateRow.key).where(ProcessedUpdateRow.key.in_(list(keys)))
        )
        return set(found)

    async def forget_before(self, moment: datetime) -> int:
        """Drop claims older than ``moment`` (housekeeping); returns how many."""
        result = await self.session.execute(
            delete(ProcessedUpdateRow).where(ProcessedUpdateRow.seen_at < moment)
        )
        return int(getattr(result, "rowcount", 0))
