"""What one live-tally refresh costs as the council grows: 100 to 20,000 members.

A refresh (``domain.services.ballot_view``: the figures, the outcome so far, the first
names per choice) runs every few seconds per ballot during a vote. It must cost about
the same whatever the size of the roll; the figures come from the database's aggregates.

On PostgreSQL the tables' statistics are left as a burst leaves them (autovacuum off
for the run, nothing analyzed), the case where a planner's guess goes most wrong.

The anchor, in the same run on the same database: the way it was done before — load
the whole roll (``members.list``) and every current vote, and let ``rules.decide``
weigh them in Python. Both must give the same outcome (a correctness target).

    python bench/refresh.py [--members 100,1000,5000,20000] [--runs K]
                            [--database sqlite|postgresql|all] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from common import (
    Target,
    add_database_args,
    databases,
    fresh_database,
    log,
    print_targets,
    targets_json,
)
from sqlalchemy import insert, text

from domain import services
from domain.model import Ballot, BallotKind, Council, Topic
from domain.ports import UnitOfWorkFactory
from domain.rules import Outcome, decide, preset
from storage import migrate
from storage.orm import MemberRow, VoteEventRow, VoteRow
from storage.uow import Database

DEFAULT_SIZES = [100, 1_000, 5_000, 20_000]
QUICK_SIZES = [100, 2_000]
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
FLAT_TARGET = 2.0  # refresh at the largest size ÷ at the smallest


async def seed(db: Database, members: int) -> int:
    """A council of ``members`` (households of one to three, areas to the hundredth) on
    owners-ordinary, and an open ballot on which about two thirds voted; its id."""
    async with db.uow() as uow:
        council = await uow.councils.add(
            Council(
                chat_id=-100_777,
                thread_id=0,
                title="压测小区",
                rule=preset("owners-ordinary"),
                timezone="Asia/Shanghai",
                language="zh",
                created_at=NOW,
                chairs={1},
            )
        )
        assert council.id is not None
        topic = await uow.topics.add(
            Topic(
                council_id=council.id,
                title="加装电梯",
                description="",
                opened_by=1,
                opened_at=NOW,
            )
        )
        assert topic.id is not None
        ballot = await uow.ballots.add(
            Ballot(
                topic_id=topic.id,
                council_id=council.id,
                kind=BallotKind.MOTION,
                question="加装电梯?",
                rule=preset("owners-ordinary"),
                secret=False,
                opened_by=1,
                opened_at=NOW,
            )
        )
        assert ballot.id is not None
        await uow.commit()
    rows = []
    for i in range(members):
        flat = i * 2 // 3  # households of one to three people
        rows.append(
            {
                "council_id": council.id,
                "user_id": 10_000 + i,
                "name": f"居民{i}",
                "building": str(1 + flat // 200),
                "unit": str(1 + flat // 20 % 10),
                "room": str(101 + flat % 20),
                "household": f"{1 + flat // 200}-{1 + flat // 20 % 10}-{101 + flat % 20}",
                "area": Decimal(6_000 + (flat * 7_919) % 9_000).scaleb(-2),
                "status": "active",
                "joined_at": NOW,
            }
        )
    choices = ("for", "for", "against", "abstain")
    async with db.engine.begin() as connection:
        await connection.execute(insert(MemberRow), rows)
        member_ids = [
            row.id
            for row in await connection.execute(
                MemberRow.__table__.select().where(MemberRow.council_id == council.id)
            )
        ]
        votes = [
            {"ballot_id": ballot.id, "member_id": m, "choice": choices[m % 4], "cast_at": NOW}
            for m in member_ids
            if m % 3
        ]
        await connection.execute(insert(VoteRow), votes)
        await connection.execute(
            insert(VoteEventRow),
            [{**{k: v for k, v in vote.items() if k != "cast_at"}, "at": NOW} for vote in votes],
        )
    return ballot.id


async def old_way(uows: UnitOfWorkFactory, ballot_id: int) -> Outcome:
    """The refresh as it was: the whole roll and every vote, weighed in Python."""
    async with uows() as uow:
        ballot = await uow.ballots.get(ballot_id)
        assert ballot is not None
        members = await uow.members.list(ballot.council_id)
        votes = await uow.votes.current(ballot_id)
        await uow.votes.last_seq(ballot_id)
        return decide(
            ballot.rule,
            [m.voter() for m in members],
            {str(k): v for k, v in votes.items()},
            ballot.option_keys(),
        )


async def new_way(uows: UnitOfWorkFactory, ballot_id: int) -> Outcome:
    return (await services.ballot_view(uows(), ballot_id=ballot_id)).outcome


async def timed(call: Callable[[], Awaitable[Outcome]], runs: int) -> tuple[float, Outcome]:
    outcome = await call()  # warm the caches and the connection pool
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        outcome = await call()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds) * 1000, outcome


async def measure(kind: str, postgres_url: str | None, size: int, runs: int) -> dict[str, Any]:
    with fresh_database(kind, postgres_url) as url:
        await migrate.upgrade(url)
        db = await Database.open(url)
        try:
            if kind == "postgresql":
                # As during a burst or after a roster import: the planner's statistics
                # have not caught up (autovacuum would analyze a minute or more later).
                async with db.engine.begin() as connection:
                    for table in ("members", "votes", "vote_events"):
                        await connection.execute(
                            text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
                        )
            ballot_id = await seed(db, size)
            # Interleaved, so both ways see the same machine.
            new_ms, old_ms = [], []
            outcomes = []
            for _ in range(3):
                ms, new = await timed(lambda: new_way(db.uow, ballot_id), runs)
                new_ms.append(ms)
                ms, old = await timed(lambda: old_way(db.uow, ballot_id), max(1, runs // 3))
                old_ms.append(ms)
                outcomes.append(new.to_dict() == old.to_dict())
        finally:
            await db.dispose()
    return {
        "database": kind,
        "members": size,
        "new_ms": statistics.median(new_ms),
        "old_ms": statistics.median(old_ms),
        "same_outcome": all(outcomes),
    }


def targets(rows: list[dict[str, Any]]) -> list[Target]:
    found = [
        Target(
            "the aggregates give the outcome the whole roll gives, at every size",
            all(r["same_outcome"] for r in rows),
            ", ".join(f"{r['database']}/{r['members']}" for r in rows if not r["same_outcome"]),
        )
    ]
    for kind in sorted({r["database"] for r in rows}):
        mine = sorted((r for r in rows if r["database"] == kind), key=lambda r: r["members"])
        small, large = mine[0], mine[-1]
        growth = large["new_ms"] / small["new_ms"]
        found.append(
            Target(
                f"{kind}: a refresh at {large['members']:,} members costs at most "
                f"{FLAT_TARGET:g}× one at {small['members']:,}",
                growth <= FLAT_TARGET,
                f"{growth:.2f}× ({small['new_ms']:.2f} → {large['new_ms']:.2f} ms; "
                f"the old way {small['old_ms']:.2f} → {large['old_ms']:.2f} ms)",
                correctness=False,
            )
        )
    return found


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", default=None, help="comma-separated council sizes")
    parser.add_argument("--runs", type=int, default=None, help="refreshes timed per round")
    parser.add_argument("--quick", action="store_true", help="smoke check: 100 and 2,000")
    parser.add_argument("--json", action="store_true", help="figures as JSON on stdout")
    add_database_args(parser, runs_on="the refreshes")
    args = parser.parse_args(argv)
    if args.members is None:
        args.members = QUICK_SIZES if args.quick else DEFAULT_SIZES
    else:
        args.members = [int(x.replace("_", "")) for x in args.members.split(",")]
    if args.runs is None:
        args.runs = 3 if args.quick else 15
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    kinds, postgres_url, notes = databases(args)
    rows = []
    for kind in kinds:
        for size in args.members:
            log(f"{kind}: {size:,} members …")
            rows.append(asyncio.run(measure(kind, postgres_url, size, args.runs)))
    found = targets(rows)
    if args.json:
        print(json.dumps({"rows": rows, "notes": notes, "targets": targets_json(found)}))
        return 1 if any(t.correctness and not t.ok for t in found) else 0
    print(f"{'database':<11}{'members':>9}{'refresh ms':>12}{'old way ms':>12}{'old ÷ new':>11}")
    for r in rows:
        print(
            f"{r['database']:<11}{r['members']:>9,}{r['new_ms']:>12.2f}{r['old_ms']:>12.2f}"
            f"{r['old_ms'] / r['new_ms']:>11.1f}"
        )
    for note in notes:
        print(note)
    return print_targets(found)


if __name__ == "__main__":
    sys.exit(main())
