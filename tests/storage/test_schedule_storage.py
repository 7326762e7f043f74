"""Storage of the schedule, where only a database will do; on SQLite and PostgreSQL.

Meetings, notices, contacts and the deadline jobs' queries are the contract tests
(``test_contract_schedule.py``), run on the fakes too. Here: the claim of notices run
from several units of work at once (each its own session and connection, started
together with ``asyncio.gather``), as several senders would: no notice is ever taken
twice, and none is left behind; a race the fakes (one sequential store) cannot run.
And what only the rows show: when a contact was marked, and councils written without
the reminder settings' columns.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import insert, select

from domain.model import NoticeState
from domain.rules import preset
from storage.orm import ContactRow, CouncilRow
from storage.uow import Database
from tests.storage.helpers import SHANGHAI, T0, add_notices, at, make_council, notice, stored


def is_postgresql(db: Database) -> bool:
    return db.engine.dialect.name == "postgresql"


# --- concurrent senders ------------------------------------------------------------


async def claim_together(db: Database, senders: int, limit: int, now: datetime) -> list[list[int]]:
    """``senders`` units of work claim at the same moment, each committing its own claim.

    On PostgreSQL all of them hold their claims uncommitted until every one has
    claimed (so the row locks overlap for certain); on SQLite, where each
    transaction holds the write lock from its start, they take turns.
    """
    barrier = asyncio.Barrier(senders) if is_postgresql(db) else None

    async def sender() -> list[int]:
        async with db.uow() as uow:
            claimed = await uow.notices.claim(now, limit)
            assert all(n.state is NoticeState.SENDING and n.attempts == 1 for n in claimed)
            if barrier is not None:
                await barrier.wait()
            else:
                await asyncio.sleep(0.01)
            await uow.commit()
        return [n.id for n in claimed if n.id is not None]

    results = await asyncio.wait_for(
        asyncio.gather(*(sender() for _ in range(senders))), timeout=60
    )
    return list(results)


async def check_claimed_once(db: Database, claims: list[list[int]], expected: list[int]) -> None:
    flat = [notice_id for claim in claims for notice_id in claim]
    assert len(flat) == len(set(flat)), "a notice was claimed by two senders"
    assert sorted(flat) == sorted(expected)
    for claim in claims:
        assert claim == sorted(claim)  # each sender gets its notices oldest first
    for n in await stored(db, expected):
        assert (n.state, n.attempts) == (NoticeState.SENDING, 1)


async def test_two_senders_claiming_at_once(database: Database) -> None:
    council_id = await make_council(database)
    ids = await add_notices(database, *(notice(council_id, f"two:{i}") for i in range(20)))
    claims = await claim_together(database, 2, 10, at(0))
    await check_claimed_once(database, claims, ids)
    assert [len(c) for c in claims] == [10, 10]


async def test_eight_senders_claiming_at_once(database: Database) -> None:
    council_id = await make_council(database)
    ids = await add_notices(database, *(notice(council_id, f"eight:{i}") for i in range(40)))
    # Some that none may take: not due yet, or already handled.
    others = await add_notices(
        database,
        notice(council_id, "later", not_before=at(1)),
        notice(council_id, "sent", state=NoticeState.SENT),
        notice(council_id, "unknown", state=NoticeState.UNKNOWN),
    )
    claims = await claim_together(database, 8, 5, at(0))
    await check_claimed_once(database, claims, ids)
    assert [len(c) for c in claims] == [5] * 8
    assert [n.attempts for n in await stored(database, others)] == [0, 0, 0]
    async with database.uow() as uow:
        assert await uow.notices.claim(at(0), 100) == []


async def test_more_senders_than_work(database: Database) -> None:
    """Eight senders, each willing to take ten, for twelve notices: each taken once."""
    council_id = await make_council(database)
    ids = await add_notices(database, *(notice(council_id, f"few:{i}") for i in range(12)))
    claims = await claim_together(database, 8, 10, at(0))
    await check_claimed_once(database, claims, ids)


async def test_senders_looping_until_the_outbox_is_empty(database: Database) -> None:
    """Senders claim small batches over and over, as the sender loop does, racing
    with each other: every due notice is taken exactly once, in increasing order
    per sender, and the rest is left alone."""
    council_id = await make_council(database)
    due = await add_notices(database, *(notice(council_id, f"loop:{i}") for i in range(60)))
    not_due = await add_notices(
        database, *(notice(council_id, f"loop:later:{i}", not_before=at(60)) for i in range(5))
    )

    async def sender() -> list[int]:
        taken: list[int] = []
        while True:
            async with database.uow() as uow:
                batch = await uow.notices.claim(at(30), 3)
                await asyncio.sleep(0)
                await uow.commit()
            if not batch:
                return taken
            taken.extend(n.id for n in batch if n.id is not None)

    claims = await asyncio.wait_for(asyncio.gather(*(sender() for _ in range(8))), timeout=60)
    await check_claimed_once(database, list(claims), due)
    assert [n.state for n in await stored(database, not_due)] == [NoticeState.PENDING] * 5


# --- contacts -------------------------------------------------------------------


async def test_contacts_keep_when_they_were_last_marked(database: Database) -> None:
    """The port does not read it back; the row keeps the last mark's time, in UTC."""
    alice, bob, carol = 8_000_000_001, 8_000_000_002, 2**40 + 3
    async with database.uow() as uow:
        await uow.contacts.mark(alice, True, at(1))
        await uow.contacts.mark(bob, False, at(1))
        await uow.contacts.mark(carol, True, at(1))
        await uow.commit()
    async with database.uow() as uow:
        await uow.contacts.mark(carol, False, at(2).astimezone(SHANGHAI))
        await uow.contacts.mark(bob, True, at(3))
        await uow.contacts.mark(bob, True, at(4))
        await uow.commit()
    async with database.uow() as uow:
        rows = {
            row.user_id: (row.reachable, row.updated_at)
            for row in await uow.session.scalars(select(ContactRow))
        }
    assert rows == {alice: (True, at(1)), bob: (True, at(4)), carol: (False, at(2))}
    assert all(updated.tzinfo is UTC for _, updated in rows.values())


# --- councils.many and the reminder settings ------------------------------------------


async def test_councils_created_before_the_settings_existed_get_the_defaults(
    database: Database,
) -> None:
    """Rows written without the new columns (as by the previous version) get the
    migration's defaults: 24 h and 1 h before a meeting, 2 h before a deadline."""
    async with database.uow() as uow:
        council_id = await uow.session.scalar(
            insert(CouncilRow)
            .values(
                chat_id=-105,
                thread_id=0,
                title="老议事会",
                rule=dict(preset("simple").to_dict()),
                timezone="Asia/Shanghai",
                language="zh",
                require_approval=False,
                created_at=T0,
            )
            .returning(CouncilRow.__table__.c.id)
        )
        await uow.commit()
    assert isinstance(council_id, int)
    async with database.uow() as uow:
        loaded = (await uow.councils.many([council_id]))[council_id]
    assert (loaded.meeting_reminders, loaded.ballot_nudge) == ((24 * 60, 60), 2 * 60)
    assert loaded.chairs == set()
