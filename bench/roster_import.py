"""Checking and writing a roll file of 3,000 households (名册导入), on SQLite and PostgreSQL.

A staff member sends the committee's spreadsheet; the bot answers with the dry-run diff
(``domain.services.roster.check_roster``: the file read, the roll loaded, the diff, the
plan stored) and writes it when confirmed (``apply_roster``: 500 changes a transaction,
with the bot's pause between two). Generated from a fixed seed, untimed: an XLSX of
N households in buildings of 6 units × 18 floors × 4 flats, one or two co-owners a flat
(a couple, the same area on both rows), one buyer in twenty with a second flat, one flat
in ten let to a resident (住户, no flat), 60 flats of the developer's, phones for most.

Figures, per database: the check against the empty roll (the first import) and against
the full roll (a file sent again; both the median of K runs), the apply (one run: its
wall time with the pauses and its longest transaction, which is what the scheduler's
heartbeat may wait for on SQLite), and ``/roll export`` of the full roll.

Targets: after the apply the same file changes nothing, and neither does the exported
roll imported again; the roll has every person of the file (correctness: exit status 1
otherwise); a check takes under 5 s (reported).

    python bench/roster_import.py [--households N] [--runs K]
                                  [--database sqlite|postgresql|all] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
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

from domain import services
from domain.services import roster
from storage import migrate
from storage.uow import Database

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CHAIR = 1
CHECK_TARGET = 5.0  # seconds
PAUSE = 0.05  # as bot/telegram/handlers/roster.py pauses between two chunks
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华慧建平刚桂兰玉梅文斌志红霞宇鹏飞浩"


def roll_file(households: int, seed: int = 7) -> tuple[bytes, int]:
    """The XLSX of ``households`` flats and how many people (roll entries) it names."""
    from openpyxl import Workbook

    rng = random.Random(seed)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("名册")
    sheet.append(["序号", "姓名", "地址", "面积（㎡）", "身份", "电话"])
    rows = 0

    def put(*cells: object) -> None:
        nonlocal rows
        rows += 1
        sheet.append([rows, *cells])

    def name(other: str = "") -> str:
        while True:
            found = rng.choice(SURNAMES) + "".join(
                rng.choice(GIVEN) for _ in range(rng.randint(1, 2))
            )
            if found != other:
                return found

    flats = [
        f"{b}-{u}-{floor}{door:02d}"
        for b in range(1, 100)
        for u in range(1, 7)
        for floor in range(1, 19)
        for door in range(1, 5)
    ][:households]
    developer, spare = flats[-60:], flats[-60 - households // 40 : -60]
    people = 1  # the developer's one entry
    for household in flats[: len(flats) - len(developer) - len(spare)]:
        area = rng.randint(5500, 14500) / 100
        owner = name()
        holders = [(owner, f"13{rng.randint(0, 999_999_999):09d}")]
        if rng.random() < 0.35:  # a couple: co-owners, the same area on both rows
            holders.append((name(owner), f"15{rng.randint(0, 999_999_999):09d}"))
        for holder, number in holders:
            phone = number if rng.random() < 0.8 else None
            put(holder, household, area, "业主", phone)
            people += 1
            if phone and spare and rng.random() < 0.05:  # one buyer, a second flat
                put(holder, spare.pop(), rng.randint(5500, 14500) / 100, "业主", phone)
        if rng.random() < 0.1:
            put(name(), household, None, "住户", None)
            people += 1
    for household in spare:
        put(name(), household, rng.randint(5500, 14500) / 100, "业主", None)
        people += 1
    for household in developer:
        put("滨江置业有限公司", household, rng.randint(5500, 14500) / 100, "开发商", None)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), people


async def council(db: Database) -> int:
    found = await services.set_up_council(
        db.uow(),
        chat_id=-100_777,
        thread_id=0,
        title="杨家园社区小院议事会",
        user_id=CHAIR,
        is_group_admin=True,
        rule_name="owners-ordinary",
        timezone="Asia/Shanghai",
        language="zh-CN",
        now=NOW,
    )
    assert found.id is not None
    return found.id


async def check(db: Database, council_id: int, data: bytes) -> tuple[float, roster.Checked]:
    start = time.perf_counter()
    roll = roster.read_file(data)
    checked = await roster.check_roster(
        db.uow(),
        council_id=council_id,
        user_id=CHAIR,
        file_name="名册.xlsx",
        data=data,
        roll=roll,
        now=NOW,
    )
    return time.perf_counter() - start, checked


async def measure(
    kind: str, postgres_url: str | None, data: bytes, people: int, runs: int
) -> dict[str, Any]:
    with fresh_database(kind, postgres_url) as url:
        await migrate.upgrade(url)
        db = await Database.open(url, migrate=False)
        try:
            council_id = await council(db)
            first = [await check(db, council_id, data) for _ in range(runs)]
            checked = first[-1][1]
            assert checked.import_id is not None
            chunks: list[float] = []
            last = time.perf_counter()

            async def pause() -> None:
                nonlocal last
                chunks.append(time.perf_counter() - last)
                await asyncio.sleep(PAUSE)
                last = time.perf_counter()

            start = time.perf_counter()
            await roster.apply_roster(
                db.uow, import_id=checked.import_id, user_id=CHAIR, now=NOW, between=pause
            )
            applied = time.perf_counter() - start
            chunks.append(time.perf_counter() - last)
            again = [await check(db, council_id, data) for _ in range(runs)]
            start = time.perf_counter()
            exported = await roster.export_roster(
                db.uow(), council_id=council_id, user_id=CHAIR, english=False
            )
            workbook = exported.xlsx()
            export_s = time.perf_counter() - start
            _, round_trip = await check(db, council_id, workbook)
        finally:
            await db.dispose()
    return {
        "database": kind,
        "rows": checked.plan.rows,
        "people": people,
        "errors": len(checked.plan.errors),
        "check_empty_s": statistics.median(s for s, _ in first),
        "check_full_s": statistics.median(s for s, _ in again),
        "apply_s": applied,
        "chunks": len(chunks),
        "longest_chunk_s": max(chunks),
        "export_s": export_s,
        "added": len(checked.plan.changes),
        "same_file_changes": len(again[-1][1].plan.changes),
        "round_trip_changes": len(round_trip.plan.changes),
        "exported": exported.members,
    }


def targets(rows: list[dict[str, Any]], households: int) -> list[Target]:
    found: list[Target] = []
    for r in rows:
        kind = r["database"]
        found += [
            Target(
                f"{kind}: every person of the file is on the roll after the apply",
                r["errors"] == 0 and r["added"] == r["people"] == r["exported"],
                f"{r['added']:,} added, {r['people']:,} in the file, {r['exported']:,} exported, "
                f"{r['errors']} rows in error",
            ),
            Target(
                f"{kind}: the same file again, and the exported roll, change nothing",
                r["same_file_changes"] == 0 and r["round_trip_changes"] == 0,
                f"{r['same_file_changes']} and {r['round_trip_changes']} changes",
            ),
            Target(
                f"{kind}: a {households:,}-household file is checked in under {CHECK_TARGET:g} s",
                max(r["check_empty_s"], r["check_full_s"]) < CHECK_TARGET,
                f"{r['check_empty_s']:.2f} s (empty roll), {r['check_full_s']:.2f} s (full roll)",
                correctness=False,
            ),
        ]
    return found


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=None, help="flats in the file")
    parser.add_argument("--runs", type=int, default=None, help="checks timed per roll")
    parser.add_argument("--quick", action="store_true", help="smoke check: 300 households")
    parser.add_argument("--json", action="store_true", help="figures as JSON on stdout")
    add_database_args(parser, runs_on="the import")
    args = parser.parse_args(argv)
    if args.households is None:
        args.households = 300 if args.quick else 3_000
    if args.runs is None:
        args.runs = 1 if args.quick else 5
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    kinds, postgres_url, notes = databases(args)
    data, people = roll_file(args.households)
    log(f"a roll file of {args.households:,} households, {people:,} people, {len(data):,} bytes")
    rows = []
    for kind in kinds:
        log(f"{kind} …")
        rows.append(asyncio.run(measure(kind, postgres_url, data, people, args.runs)))
    found = targets(rows, args.households)
    if args.json:
        print(json.dumps({"rows": rows, "notes": notes, "targets": targets_json(found)}))
        return 1 if any(t.correctness and not t.ok for t in found) else 0
    print(
        f"{'database':<11}{'rows':>7}{'people':>8}{'check (empty)':>15}{'check (full)':>14}"
        f"{'apply':>9}{'chunks':>8}{'longest':>9}{'export':>8}"
    )
    for r in rows:
        print(
            f"{r['database']:<11}{r['rows']:>7,}{r['people']:>8,}{r['check_empty_s']:>13.2f} s"
            f"{r['check_full_s']:>12.2f} s{r['apply_s']:>7.2f} s{r['chunks']:>8}"
            f"{r['longest_chunk_s']:>7.2f} s{r['export_s']:>6.2f} s"
        )
    for note in notes:
        print(note)
    return print_targets(found)


if __name__ == "__main__":
    sys.exit(main())
