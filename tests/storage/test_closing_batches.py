"""Closings that fall due together, on both databases (``due_jobs.run_jobs`` with
``services.Closings``): a batch costs the same few statements whether it closes 3
ballots or 30, and a chair's /close racing it closes a ballot once, whoever wins.

Database-only: the statements are the databases', and the race needs real row locks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select

from domain import errors, services
from domain.due_jobs import Ran, run_jobs
from domain.model import BallotKind, NoticeKind
from domain.schedule import DEFAULT_GRACE, Job, JobKind
from domain.services import VoteRequest
from storage.orm import NoticeRow, ResolutionRow
from storage.uow import Database

NOW = datetime(2025, 5, 6, 9, 30, tzinfo=UTC)
CLOSING = NOW + timedelta(days=2)
CHAIR = 1


async def _councils(db: Database, count: int) -> list[int]:
    """Councils of three members each."""
    made = []
    for c in range(count):
        council = await services.set_up_council(
            db.uow(),
            chat_id=-100_200_000_000 - c,
            thread_id=0,
            title=f"议事会{c}",
            user_id=CHAIR,
            is_group_admin=True,
            rule_name="simple",
            timezone="Asia/Shanghai",
            language="zh-CN",
            now=NOW,
        )
        assert council.id is not None
        for m in range(3):
            await services.join(
                db.uow(),
                council_id=council.id,
                user_id=1000 + m,
                name=f"居民{m}",
                address=services.parse_address(f"{c + 1}-1-{m + 101}"),
                area=None,
                language=None,
                now=NOW,
            )
        made.append(council.id)
    return made


async def _ballots(db: Database, councils: list[int], count: int, deadline: datetime) -> list[int]:
    """``count`` motions over the councils, all closing at ``deadline``, voted on."""
    made = []
    for i in range(count):
        council_id = councils[i % len(councils)]
        topic = await services.open_topic(
            db.uow(),
            council_id=council_id,
            user_id=CHAIR,
            title=f"议题{i}",
            description="",
            deadline=None,
            now=NOW,
        )
        ballot = await services.put_ballot(
            db.uow(),
            council_id=council_id,
            topic_id=topic.id,
            user_id=CHAIR,
            kind=BallotKind.MOTION,
            deadline=deadline,
            now=NOW,
        )
        assert ballot.id is not None
        choices = ("for", "against", "for") if i % 2 else ("against", "abstain", "against")
        requests = [
            VoteRequest(None, ballot.id, 1000 + m, choice) for m, choice in enumerate(choices)
        ]
        await services.cast_votes(db.uow(), requests, now=NOW)
        made.append(ballot.id)
    return made


def close_id(ballot_id: int) -> str:
    return Job(CLOSING, JobKind.BALLOT_CLOSE, ballot_id).id


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block (an executemany: one)."""
    sent: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)


async def _resolutions(db: Database) -> dict[int, int]:
    async with db.uow() as uow:
        rows = await uow.session.execute(
            select(ResolutionRow.ballot_id, func.count()).group_by(ResolutionRow.ballot_id)
        )
        return {ballot_id: n for ballot_id, n in rows}


async def test_a_batch_of_closings_costs_the_same_statements_for_3_ballots_as_for_30(
    database: Database,
) -> None:
    councils = await _councils(database, 3)
    later = CLOSING + timedelta(hours=1)
    few = await _ballots(database, councils, 3, CLOSING)
    many = await _ballots(database, councils, 30, later)

    with statements(database) as for_few:
        small = await run_jobs(
            database.uow, [close_id(b) for b in few], now=CLOSING, grace=DEFAULT_GRACE
        )
    jobs = [Job(later, JobKind.BALLOT_CLOSE, b).id for b in many]
    with statements(database) as for_many:
        big = await run_jobs(database.uow, jobs, now=later, grace=DEFAULT_GRACE)

    assert all(
        r is not None and r.ran is Ran.DONE for r in [*small.runs.values(), *big.runs.values()]
    )
    assert len(for_many) == len(for_few), (for_few, for_many)
    # 15 on SQLite, 16 on PostgreSQL; it was 8 a closing (10 on PostgreSQL) besides these.
    assert len(for_few) <= 20, for_few
    assert await _resolutions(database) == {b: 1 for b in few + many}


async def test_a_chairs_close_racing_the_batch_closes_each_ballot_once(
    database: Database,
) -> None:
    """The batch locks its ballots as it reads them; a chair's /close of one of them
    waits, then finds it closed (or closes it first, and the batch skips it)."""
    councils = await _councils(database, 2)
    ballots = await _ballots(database, councils, 20, CLOSING)
    by_hand = ballots[3::4]
    council_of = {b: councils[i % 2] for i, b in enumerate(ballots)}

    async def chair_closes(ballot_id: int) -> bool:
        try:
            await services.close_ballot(
                database.uow(),
                council_id=council_of[ballot_id],
                ballot_id=ballot_id,
                user_id=CHAIR,
                now=CLOSING,
            )
        except errors.BallotClosed:
            return False
        return True

    # Some chairs press before the batch starts, some after: either may get there first.
    early = [asyncio.create_task(chair_closes(b)) for b in by_hand[:2]]
    closing = asyncio.create_task(
        run_jobs(database.uow, [close_id(b) for b in ballots], now=CLOSING, grace=DEFAULT_GRACE)
    )
    late = [asyncio.create_task(chair_closes(b)) for b in by_hand[2:]]
    closed_by_hand = await asyncio.gather(*early, *late)
    batch = await closing

    ran = {b: batch.runs[close_id(b)] for b in ballots}
    for ballot_id, chair in zip(by_hand, closed_by_hand, strict=True):
        result = ran[ballot_id]
        assert result is not None
        assert (result.ran is Ran.DONE) != chair, ballot_id  # one of them closed it
    others = [ran[b] for b in ballots if b not in by_hand]
    assert all(r is not None and r.ran is Ran.DONE for r in others)
    assert await _resolutions(database) == {b: 1 for b in ballots}
    async with database.uow() as uow:
        keys = list(
            await uow.session.scalars(
                select(NoticeRow.key).where(NoticeRow.kind == NoticeKind.BALLOT_OUTCOME.value)
            )
        )
    assert sorted(keys) == sorted(f"ballot:{b}:outcome" for b in ballots)
