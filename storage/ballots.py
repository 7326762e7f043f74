"""Ballots, the votes cast on them (current votes and the audit trail), and the
resolutions they record.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    text,
    update,
)

from domain.model import (
    Ballot,
    BallotKind,
    BallotOption,
    MemberStatus,
    Resolution,
    Vote,
    VoteEvent,
    Voters,
    VoteSource,
)
from domain.ports import Lock
from domain.rules import Choice, Counts, Quantity, Result, owners_by_label
from storage.base import CHUNK, Repository, required
from storage.orm import BallotRow, MemberFlatRow, MemberRow, ResolutionRow, VoteEventRow, VoteRow
from storage.rule_json import outcome_from_json, outcome_to_json, rule_from_json, rule_to_json


def _ballot(row: BallotRow) -> Ballot:
    return Ballot(
        id=row.id,
        topic_id=row.topic_id,
        council_id=row.council_id,
        kind=BallotKind(row.kind),
        question=row.question,
        rule=rule_from_json(row.rule),
        secret=row.secret,
        opened_by=row.opened_by,
        opened_at=row.opened_at,
        options=tuple(
            BallotOption(key=o["key"], label=o["label"], proposal_id=o.get("proposal_id"))
            for o in row.options
        ),
        deadline=row.deadline,
        closed_at=row.closed_at,
        outcome=outcome_from_json(row.outcome),
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
        "rule": rule_to_json(ballot.rule),
        "secret": ballot.secret,
        "opened_by": ballot.opened_by,
        "opened_at": ballot.opened_at,
        "deadline": ballot.deadline,
        "closed_at": ballot.closed_at,
        "outcome": outcome_to_json(ballot.outcome),
        "message_ref": ballot.message_ref,
    }


def _seq(ballot_id: int) -> Select[int]:
    """A ballot's latest vote event's number (its events are numbered 1, 2, … in order)."""
    return select(func.count()).select_from(VoteEventRow).where(VoteEventRow.ballot_id == ballot_id)


class SqlBallotRepository(Repository):
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

    async def many(self, ballot_ids: Sequence[int], lock: Lock = Lock.NONE) -> dict[int, Ballot]:
        """``get`` for many (locks as ``get`` takes them), in id order: every batch
        locks in the same order, so two never wait on each other."""
        wanted = sorted(set(ballot_ids))
        found: dict[int, Ballot] = {}
        for start in range(0, len(wanted), CHUNK):
            statement = (
                select(BallotRow)
                .where(BallotRow.id.in_(wanted[start : start + CHUNK]))
                .order_by(BallotRow.id)
                .execution_options(populate_existing=True)
            )
            if lock is Lock.SHARE:
                statement = statement.with_for_update(read=True, key_share=True)
            elif lock is Lock.UPDATE:
                statement = statement.with_for_update()
            found.update((row.id, _ballot(row)) for row in await self.session.scalars(statement))
        return found

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
        ballot_id = required(ballot.id, "ballot")
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

    async def update_many(self, ballots: Sequence[Ballot]) -> None:
        """``update`` for many: locked in one statement (at once, if the caller read them
        with ``Lock.UPDATE``), written in one executemany. ``rendered_seq`` is left as it
        is: only ``set_rendered`` moves it, and a lock held since the read keeps it still."""
        if not ballots:
            return
        ids = sorted({required(b.id, "ballot") for b in ballots})
        for start in range(0, len(ids), CHUNK):
            await self.session.execute(
                select(BallotRow.id)
                .where(BallotRow.id.in_(ids[start : start + CHUNK]))
                .order_by(BallotRow.id)
                .with_for_update()
            )
        await self.session.execute(
            update(BallotRow), [{"id": b.id, **_ballot_values(b)} for b in ballots]
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

    async def behind(self) -> list[int]:
        # A correlated count a ballot: the index on vote_events.ballot_id answers it,
        # and only open ballots with a message are counted.
        shown = (
            select(func.count())
            .select_from(VoteEventRow)
            .where(VoteEventRow.ballot_id == BallotRow.id)
            .scalar_subquery()
        )
        rows = await self.session.scalars(
            select(BallotRow.id)
            .where(
                BallotRow.closed_at.is_(None),
                BallotRow.message_ref.is_not(None),
                shown > BallotRow.rendered_seq,
            )
            .order_by(BallotRow.id)
        )
        return list(rows)

    async def of_council(self, council_id: int) -> list[Ballot]:
        rows = await self.session.scalars(
            select(BallotRow)
            .where(BallotRow.council_id == council_id)
            .order_by(BallotRow.opened_at, BallotRow.id)
        )
        return [_ballot(row) for row in rows]


def _vote_row(vote: Vote) -> dict[str, Any]:
    return {
        "ballot_id": vote.ballot_id,
        "member_id": vote.member_id,
        "choice": vote.choice,
        "cast_at": vote.cast_at,
        "source": vote.source.value,
        "recorded_by": vote.recorded_by,
    }


def _event_row(vote: Vote, previous: str | None) -> dict[str, Any]:
    return {
        "ballot_id": vote.ballot_id,
        "member_id": vote.member_id,
        "choice": vote.choice,
        "previous": previous,
        "at": vote.cast_at,
        "source": vote.source.value,
        "recorded_by": vote.recorded_by,
        "reason": vote.reason,
    }


# Advisory lock keys for vote batches: one per ballot, away from the migration lock's.
VOTE_BATCH_LOCK = 0x5949_5348_0000_0000  # "YISH" in the high bytes


class SqlVoteRepository(Repository):
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
                inserted = await self.insert_ignore(
                    self.insert(VoteRow)
                    .values(**_vote_row(vote))
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
                    update(VoteRow)
                    .where(*key)
                    .values(
                        choice=vote.choice,
                        cast_at=vote.cast_at,
                        source=vote.source.value,
                        recorded_by=vote.recorded_by,
                    )
                )
            await self.session.execute(
                self.insert(VoteEventRow).values(**_event_row(vote, previous))
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
                [_event_row(v, previous[(ballot_id, v.member_id)]) for v in changed],
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
                source=VoteSource(row.source),
                recorded_by=row.recorded_by,
                reason=row.reason,
            )
            for seq, row in enumerate(rows, start=1)
        ]

    async def last_seq(self, ballot_id: int) -> int:
        count = await self.session.scalar(_seq(ballot_id))
        return int(count or 0)

    async def seq_and_choice(self, ballot_id: int, member_id: int | None) -> tuple[int, str | None]:
        if member_id is None:
            return await self.last_seq(ballot_id), None
        choice = (
            select(VoteRow.choice)
            .where(VoteRow.ballot_id == ballot_id, VoteRow.member_id == member_id)
            .scalar_subquery()
        )
        row = (await self.session.execute(select(_seq(ballot_id).scalar_subquery(), choice))).one()
        return int(row[0] or 0), row[1]

    @asynccontextmanager
    async def _hash_joins(self) -> AsyncIterator[None]:
        """On PostgreSQL, join votes to the roll by hashing, never by nested loops.

        Statistics lag behind a burst of votes or a roster just imported (autovacuum
        analyzes a table a minute or more later); on a table it believes tiny the
        planner picks a nested loop, and the count becomes quadratic: 340 ms for 2,000
        members, against 4.6 ms with a hash join, measured here. A hash join is linear
        whatever the statistics say. SET LOCAL ends with the transaction; RESET ends it
        sooner, so the rest of the transaction plans as usual."""
        if self.dialect != "postgresql":
            yield
            return
        await self.session.execute(text("SET LOCAL enable_nestloop = off"))
        try:
            yield
        finally:
            await self.session.execute(text("RESET enable_nestloop"))

    async def counts(
        self, ballot_id: int, council_id: int, quantities: Iterable[Quantity]
    ) -> Counts:
        wanted = set(quantities)
        on_roll = and_(
            MemberRow.council_id == council_id,
            MemberRow.status == MemberStatus.ACTIVE.value,
            MemberRow.voting.is_(True),
        )
        people, households = (
            await self.session.execute(
                select(
                    func.count(),
                    func.count(MemberRow.household.distinct())
                    if Quantity.HOUSEHOLDS in wanted
                    else literal(0),
                ).where(on_roll)
            )
        ).one()
        roll = {Quantity.HEADCOUNT: Fraction(people), Quantity.HOUSEHOLDS: Fraction(households)}
        labels: dict[str, dict[Quantity, Fraction]] = {}
        invalid = False
        async with self._hash_joins():
            # One pass over the ballot's votes: per choice, those by members on the roll
            # and whether any vote is by someone no longer on it.
            valid = MemberRow.id.is_not(None).label("valid")
            for choice, on, heads in await self.session.execute(
                select(VoteRow.choice, valid, func.count())
                .outerjoin(MemberRow, and_(MemberRow.id == VoteRow.member_id, on_roll))
                .where(VoteRow.ballot_id == ballot_id)
                .group_by(VoteRow.choice, valid)
            ):
                if not on:
                    invalid = True
                    continue
                labels[choice] = {Quantity.HEADCOUNT: Fraction(heads)}
            if Quantity.HOUSEHOLDS in wanted:
                for choice, count in await self._household_labels(ballot_id, on_roll):
                    labels.setdefault(choice, {})[Quantity.HOUSEHOLDS] = Fraction(count)
            if wanted & {Quantity.AREA, Quantity.OWNERS}:
                area, owners = await self._flat_labels(ballot_id, council_id, on_roll)
                roll[Quantity.AREA] = sum(area.values(), Fraction(0))
                roll[Quantity.OWNERS] = Fraction(sum(owners.values()))
                for label in area.keys() - {None}:
                    assert label is not None
                    labels.setdefault(label, {})[Quantity.AREA] = area[label]
                    labels[label][Quantity.OWNERS] = Fraction(owners.get(label, 0))
        invalid_ids = (
            await self.session.scalars(
                select(VoteRow.member_id)
                .outerjoin(MemberRow, and_(MemberRow.id == VoteRow.member_id, on_roll))
                .where(VoteRow.ballot_id == ballot_id, MemberRow.id.is_(None))
            )
            if invalid
            else ()
        )
        return Counts(
            roll=MappingProxyType({q: roll[q] for q in wanted}),
            labels=MappingProxyType(
                {
                    k: MappingProxyType({q: w for q, w in v.items() if q in wanted})
                    for k, v in labels.items()
                }
            ),
            invalid_votes=tuple(sorted(str(member_id) for member_id in invalid_ids)),
        )

    async def counts_many(self, wanted: Mapping[int, Iterable[Quantity]]) -> dict[int, Counts]:
        """``counts`` of many ballots, each against its own council's roll, in the same few
        statements however many there are (a batch of closings): the rolls, the votes
        per ballot and choice, then households, flats and votes no longer on the roll
        only where some ballot needs them."""
        asked = {ballot_id: frozenset(q) for ballot_id, q in wanted.items()}
        found: dict[int, Counts] = {}
        ballot_ids = sorted(asked)
        for start in range(0, len(ballot_ids), CHUNK):
            chunk = ballot_ids[start : start + CHUNK]
            found.update(await self._counts_of({b: asked[b] for b in chunk}))
        return found

    async def _counts_of(self, asked: dict[int, frozenset[Quantity]]) -> dict[int, Counts]:
        active = and_(MemberRow.status == MemberStatus.ACTIVE.value, MemberRow.voting.is_(True))
        # A vote counts against the roll of its ballot's council.
        on_roll = and_(MemberRow.council_id == BallotRow.council_id, active)
        households = [b for b, q in asked.items() if Quantity.HOUSEHOLDS in q]
        rolls = (
            select(
                MemberRow.council_id,
                func.count().label("people"),
                (func.count(MemberRow.household.distinct()) if households else literal(0)).label(
                    "households"
                ),
            )
            .where(
                active,
                MemberRow.council_id.in_(
                    select(BallotRow.council_id).where(BallotRow.id.in_(list(asked)))
                ),
            )
            .group_by(MemberRow.council_id)
            .subquery()
        )
        council_of: dict[int, int] = {}
        roll: dict[int, dict[Quantity, Fraction]] = {}
        for ballot_id, council_id, people, homes in await self.session.execute(
            select(BallotRow.id, BallotRow.council_id, rolls.c.people, rolls.c.households)
            .outerjoin(rolls, rolls.c.council_id == BallotRow.council_id)
            .where(BallotRow.id.in_(list(asked)))
        ):
            council_of[ballot_id] = council_id
            roll[ballot_id] = {
                Quantity.HEADCOUNT: Fraction(people or 0),
                Quantity.HOUSEHOLDS: Fraction(homes or 0),
            }
        ballot_ids = sorted(council_of)
        labels: dict[int, dict[str, dict[Quantity, Fraction]]] = {b: {} for b in ballot_ids}
        invalid: set[int] = set()
        async with self._hash_joins():
            valid = MemberRow.id.is_not(None).label("valid")
            for ballot_id, choice, on, heads in await self.session.execute(
                select(VoteRow.ballot_id, VoteRow.choice, valid, func.count())
                .join(BallotRow, BallotRow.id == VoteRow.ballot_id)
                .outerjoin(MemberRow, and_(MemberRow.id == VoteRow.member_id, on_roll))
                .where(VoteRow.ballot_id.in_(ballot_ids))
                .group_by(VoteRow.ballot_id, VoteRow.choice, valid)
            ):
                if not on:
                    invalid.add(ballot_id)
                    continue
                labels[ballot_id][choice] = {Quantity.HEADCOUNT: Fraction(heads)}
            split = [b for b in households if b in council_of]
            if split:
                for ballot_id, choice, count in await self._households_of(split, on_roll):
                    labels[ballot_id].setdefault(choice, {})[Quantity.HOUSEHOLDS] = Fraction(count)
            flats = [b for b in ballot_ids if asked[b] & {Quantity.AREA, Quantity.OWNERS}]
            if flats:
                councils = sorted({council_of[b] for b in flats})
                for ballot_id, (area, owners) in (await self._flats_of(flats, councils)).items():
                    roll[ballot_id][Quantity.AREA] = sum(area.values(), Fraction(0))
                    roll[ballot_id][Quantity.OWNERS] = Fraction(sum(owners.values()))
                    for label in area.keys() - {None}:
                        assert label is not None
                        weights = labels[ballot_id].setdefault(label, {})
                        weights[Quantity.AREA] = area[label]
                        weights[Quantity.OWNERS] = Fraction(owners.get(label, 0))
        invalid_ids: dict[int, list[int]] = {b: [] for b in invalid}
        if invalid:
            for ballot_id, member_id in await self.session.execute(
                select(VoteRow.ballot_id, VoteRow.member_id)
                .join(BallotRow, BallotRow.id == VoteRow.ballot_id)
                .outerjoin(MemberRow, and_(MemberRow.id == VoteRow.member_id, on_roll))
                .where(VoteRow.ballot_id.in_(sorted(invalid)), MemberRow.id.is_(None))
            ):
                invalid_ids[ballot_id].append(member_id)
        return {
            b: Counts(
                roll=MappingProxyType({q: roll[b][q] for q in asked[b]}),
                labels=MappingProxyType(
                    {
                        k: MappingProxyType({q: w for q, w in v.items() if q in asked[b]})
                        for k, v in labels[b].items()
                    }
                ),
                invalid_votes=tuple(sorted(str(m) for m in invalid_ids.get(b, ()))),
            )
            for b in ballot_ids
        }

    async def _households_of(
        self, ballot_ids: list[int], on_roll: ColumnElement[bool]
    ) -> list[tuple[int, str, int]]:
        """``_household_labels`` of many ballots: (ballot, label, households) rows."""
        per_household = (
            select(
                VoteRow.ballot_id.label("ballot_id"),
                func.min(VoteRow.choice).label("low"),
                func.max(VoteRow.choice).label("high"),
            )
            .join(BallotRow, BallotRow.id == VoteRow.ballot_id)
            .join(MemberRow, and_(MemberRow.id == VoteRow.member_id, on_roll))
            .where(VoteRow.ballot_id.in_(ballot_ids))
            .group_by(VoteRow.ballot_id, MemberRow.household)
            .subquery()
        )
        label = case(
            (per_household.c.low == per_household.c.high, per_household.c.low),
            else_=literal(Choice.ABSTAIN.value),
        )
        rows = await self.session.execute(
            select(per_household.c.ballot_id, label, func.count()).group_by(
                per_household.c.ballot_id, label
            )
        )
        return [(int(b), str(choice), int(n)) for b, choice, n in rows]

    async def _flats_of(
        self, ballot_ids: list[int], councils: list[int]
    ) -> dict[int, tuple[dict[str | None, Fraction], dict[str | None, int]]]:
        """``_flat_labels`` of many ballots (in ``councils``): per ballot, per label, the
        verified flats' area and the owners. Each ballot's flats are its council's."""
        centi: ColumnElement[Any] = (
            MemberFlatRow.area * 100
            if self.dialect == "postgresql"
            else cast(func.round(MemberFlatRow.area * 100), BigInteger)
        )
        holder_on_roll = and_(
            MemberRow.id == MemberFlatRow.member_id,
            MemberRow.council_id == MemberFlatRow.council_id,
            MemberRow.status == MemberStatus.ACTIVE.value,
            MemberRow.voting.is_(True),
        )
        verified = MemberFlatRow.verified.is_(True)
        per_member = (
            select(MemberFlatRow.member_id, func.count().label("n"))
            .join(MemberRow, holder_on_roll)
            .where(MemberFlatRow.council_id.in_(councils), verified)
            .group_by(MemberFlatRow.member_id)
            .subquery()
        )
        low, high = func.min(VoteRow.choice), func.max(VoteRow.choice)
        per_flat = (
            select(
                BallotRow.id.label("ballot_id"),
                MemberFlatRow.council_id.label("council_id"),
                MemberFlatRow.household.label("household"),
                func.max(centi).label("centi"),
                (func.max(per_member.c.n) == 1).label("alone"),
                case(
                    (low.is_(None), None),
                    (low == high, low),
                    else_=literal(Choice.ABSTAIN.value),
                ).label("label"),
            )
            .select_from(BallotRow)
            .join(
                MemberFlatRow,
                and_(MemberFlatRow.council_id == BallotRow.council_id, verified),
            )
            .join(per_member, per_member.c.member_id == MemberFlatRow.member_id)
            .outerjoin(
                VoteRow,
                and_(
                    VoteRow.member_id == MemberFlatRow.member_id, VoteRow.ballot_id == BallotRow.id
                ),
            )
            .where(BallotRow.id.in_(ballot_ids))
            .group_by(BallotRow.id, MemberFlatRow.council_id, MemberFlatRow.household)
            .subquery()
        )
        alone = per_flat.c.alone.is_(True)
        found: dict[int, tuple[dict[str | None, Fraction], dict[str | None, int]]] = {
            b: ({}, {}) for b in ballot_ids
        }
        linked: set[int] = set()
        for ballot_id, label, centi_sum, single, shared in await self.session.execute(
            select(
                per_flat.c.ballot_id,
                per_flat.c.label,
                func.sum(per_flat.c.centi),
                func.sum(case((alone, 1), else_=0)),
                func.sum(case((alone, 0), else_=1)),
            ).group_by(per_flat.c.ballot_id, per_flat.c.label)
        ):
            area, owners = found[ballot_id]
            area[label] = Fraction(int(centi_sum or 0), 100)
            owners[label] = int(single or 0)
            if shared:
                linked.add(ballot_id)
        if linked:
            links: dict[int, list[tuple[str, int, str | None]]] = {b: [] for b in linked}
            for ballot_id, flat, holder, label in await self.session.execute(
                select(
                    per_flat.c.ballot_id,
                    MemberFlatRow.household,
                    MemberFlatRow.member_id,
                    per_flat.c.label,
                )
                .select_from(MemberFlatRow)
                .join(
                    per_flat,
                    and_(
                        per_flat.c.household == MemberFlatRow.household,
                        per_flat.c.council_id == MemberFlatRow.council_id,
                    ),
                )
                .join(MemberRow, holder_on_roll)
                .where(verified, ~alone, per_flat.c.ballot_id.in_(sorted(linked)))
            ):
                links[ballot_id].append((flat, holder, label))
            for ballot_id, rows in links.items():
                owners = found[ballot_id][1]
                for label, number in owners_by_label(rows).items():
                    owners[label] = owners.get(label, 0) + number
        return found

    async def _flat_labels(
        self, ballot_id: int, council_id: int, on_roll: ColumnElement[bool]
    ) -> tuple[dict[str | None, Fraction], dict[str | None, int]]:
        """Per label (None: did not vote): the verified flats' area, each flat once, and
        the owners, flats linked by a shared holder counted once (``domain.rules``).

        A flat's label is its co-owners' one vote (split: abstain). Most flats are held
        by people who hold nothing else (one owner, or a couple owning it together):
        each such flat is an owner of its own, counted in SQL. The others (a buyer's
        several flats, and the flats linked to them by a co-owner) are merged into
        owners here, by union-find over their (flat, holder) rows."""
        centi: ColumnElement[Any] = (
            MemberFlatRow.area * 100
            if self.dialect == "postgresql"
            else cast(func.round(MemberFlatRow.area * 100), BigInteger)
        )
        counted = and_(MemberFlatRow.council_id == council_id, MemberFlatRow.verified.is_(True))
        per_member = (
            select(MemberFlatRow.member_id, func.count().label("n"))
            .join(MemberRow, and_(MemberRow.id == MemberFlatRow.member_id, on_roll))
            .where(counted)
            .group_by(MemberFlatRow.member_id)
            .subquery()
        )
        low, high = func.min(VoteRow.choice), func.max(VoteRow.choice)
        per_flat = (
            select(
                MemberFlatRow.household.label("household"),
                func.max(centi).label("centi"),
                (func.max(per_member.c.n) == 1).label("alone"),
                case(
                    (low.is_(None), None),
                    (low == high, low),
                    else_=literal(Choice.ABSTAIN.value),
                ).label("label"),
            )
            .join(per_member, per_member.c.member_id == MemberFlatRow.member_id)
            .outerjoin(
                VoteRow,
                and_(VoteRow.member_id == MemberFlatRow.member_id, VoteRow.ballot_id == ballot_id),
            )
            .where(counted)
            .group_by(MemberFlatRow.household)
            .subquery()
        )
        alone = per_flat.c.alone.is_(True)
        area: dict[str | None, Fraction] = {}
        owners: dict[str | None, int] = {}
        linked = 0
        for label, centi_sum, single, shared in await self.session.execute(
            select(
                per_flat.c.label,
                func.sum(per_flat.c.centi),
                func.sum(case((alone, 1), else_=0)),
                func.sum(case((alone, 0), else_=1)),
            ).group_by(per_flat.c.label)
        ):
            area[label] = Fraction(int(centi_sum or 0), 100)
            owners[label] = int(single or 0)
            linked += int(shared or 0)
        if linked:
            rows = await self.session.execute(
                select(MemberFlatRow.household, MemberFlatRow.member_id, per_flat.c.label)
                .join(per_flat, per_flat.c.household == MemberFlatRow.household)
                .join(MemberRow, and_(MemberRow.id == MemberFlatRow.member_id, on_roll))
                .where(counted, ~alone)
            )
            links = ((flat, holder, label) for flat, holder, label in rows)
            for label, number in owners_by_label(links).items():
                owners[label] = owners.get(label, 0) + number
        return area, owners

    async def _household_labels(
        self, ballot_id: int, on_roll: ColumnElement[bool]
    ) -> list[tuple[str, int]]:
        """label -> households: a household whose members chose differently is split,
        and counts as abstaining."""
        per_household = (
            select(func.min(VoteRow.choice).label("low"), func.max(VoteRow.choice).label("high"))
            .join(MemberRow, and_(MemberRow.id == VoteRow.member_id, on_roll))
            .where(VoteRow.ballot_id == ballot_id)
            .group_by(MemberRow.household)
            .subquery()
        )
        label = case(
            (per_household.c.low == per_household.c.high, per_household.c.low),
            else_=literal(Choice.ABSTAIN.value),
        )
        rows = await self.session.execute(select(label, func.count()).group_by(label))
        return [(str(choice), int(households)) for choice, households in rows]

    async def voters(
        self, ballot_id: int, council_id: int, limit: int, totals: Mapping[str, int]
    ) -> dict[str, Voters]:
        # Per choice: the ballot's votes in member order (the primary key's order),
        # ``limit`` at a time, then their names by key. No join, so no plan for stale
        # statistics to spoil; members no longer on the roll are skipped, and rare.
        found: dict[str, Voters] = {}
        for choice, total in totals.items():
            if total <= 0:
                continue
            names: list[str] = []
            after = -1
            while len(names) < limit:
                member_ids = list(
                    await self.session.scalars(
                        select(VoteRow.member_id)
                        .where(
                            VoteRow.ballot_id == ballot_id,
                            VoteRow.choice == choice,
                            VoteRow.member_id > after,
                        )
                        .order_by(VoteRow.member_id)
                        .limit(limit)
                    )
                )
                if not member_ids:
                    break
                after = member_ids[-1]
                rows = await self.session.execute(
                    select(
                        MemberRow.id,
                        MemberRow.name,
                        MemberRow.council_id,
                        MemberRow.status,
                        MemberRow.voting,
                    ).where(MemberRow.id.in_(member_ids))
                )
                by_id = {
                    member_id: name
                    for member_id, name, council, status, voting in rows
                    if council == council_id and status == MemberStatus.ACTIVE.value and voting
                }
                names.extend(by_id[m] for m in member_ids if m in by_id)
            found[choice] = Voters(tuple(names[:limit]), total)
        return found

    async def of_members(self, ballot_id: int, member_ids: Sequence[int]) -> dict[int, Vote]:
        found: dict[int, Vote] = {}
        wanted = sorted(set(member_ids))
        for start in range(0, len(wanted), CHUNK):
            rows = await self.session.scalars(
                select(VoteRow).where(
                    VoteRow.ballot_id == ballot_id,
                    VoteRow.member_id.in_(wanted[start : start + CHUNK]),
                )
            )
            for row in rows:
                found[row.member_id] = Vote(
                    ballot_id=row.ballot_id,
                    member_id=row.member_id,
                    choice=row.choice,
                    cast_at=row.cast_at,
                    source=VoteSource(row.source),
                    recorded_by=row.recorded_by,
                )
        return found

    async def by_source(self, ballot_id: int, council_id: int) -> dict[VoteSource, int]:
        rows = await self.session.execute(
            select(VoteRow.source, func.count())
            .join(
                MemberRow,
                and_(
                    MemberRow.id == VoteRow.member_id,
                    MemberRow.council_id == council_id,
                    MemberRow.status == MemberStatus.ACTIVE.value,
                    MemberRow.voting.is_(True),
                ),
            )
            .where(VoteRow.ballot_id == ballot_id)
            .group_by(VoteRow.source)
        )
        return {VoteSource(source): int(count) for source, count in rows}


def _resolution_values(resolution: Resolution) -> dict[str, Any]:
    return {
        "council_id": resolution.council_id,
        "topic_id": resolution.topic_id,
        "ballot_id": resolution.ballot_id,
        "result": resolution.result.value,
        "summary": resolution.summary,
        "recorded_at": resolution.recorded_at,
        "winner": resolution.winner,
    }


class SqlResolutionRepository(Repository):
    async def add(self, resolution: Resolution) -> Resolution:
        resolution_id = await self.session.scalar(
            self.insert(ResolutionRow)
            .values(**_resolution_values(resolution))
            .returning(ResolutionRow.id)
        )
        return replace(resolution, id=resolution_id)  # Resolution is frozen

    async def add_many(self, resolutions: Sequence[Resolution]) -> list[Resolution]:
        """One INSERT … RETURNING; the ids are matched to the rows by ballot (asking for
        them in the rows' order makes SQLite insert one row at a time)."""
        if not resolutions:
            return []
        returned = await self.session.execute(
            self.insert(ResolutionRow).returning(ResolutionRow.id, ResolutionRow.ballot_id),
            [_resolution_values(r) for r in resolutions],
        )
        ids: dict[int, list[int]] = {}
        for resolution_id, ballot_id in sorted(returned.all()):
            ids.setdefault(ballot_id, []).append(resolution_id)
        return [replace(r, id=ids[r.ballot_id].pop(0)) for r in resolutions]

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
