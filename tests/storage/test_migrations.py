"""Migrations: from empty to head, in step with the models, independent of the cwd."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from domain.rules import preset
from storage import migrate
from storage.db import create_engine
from storage.orm import metadata
from storage.uow import Database
from tests.storage.migration_data import SEEDS, Snapshot, seed, snapshot

TABLES = {
    "councils",
    "council_chairs",
    "members",
    "member_accounts",
    "council_staff",
    "role_events",
    "member_flats",
    "roster_imports",
    "binding_codes",
    "binding_attempts",
    "web_links",
    "login_keys",
    "web_sessions",
    "web_access",
    "sign_ins",
    "attendance",
    "paper_uploads",
    "topics",
    "proposals",
    "seconds",
    "ballots",
    "votes",
    "vote_events",
    "resolutions",
    "drafts",
    "processed_updates",
    "meetings",
    "notices",
    "contacts",
    "teams",
    "units",
    "volunteers",
    "tasks",
    "offers",
    "service_hours",
    "inbox",
}


async def _inspect(url: str, fn: Any) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_upgrade_from_empty(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no alembic.ini to be found here, and none needed
    assert await migrate.current(database_url) is None
    await migrate.upgrade(database_url)
    assert await migrate.current(database_url) == migrate.head() == "0009"
    assert await _inspect(database_url, _tables) == TABLES | {"alembic_version"}
    await migrate.upgrade(database_url)  # again: nothing to do
    assert await migrate.current(database_url) == migrate.head()


async def test_schema_matches_models(database_url: str) -> None:
    await migrate.upgrade(database_url)
    assert await _inspect(database_url, _diff) == []


async def test_downgrade_to_base_and_back(database_url: str) -> None:
    await migrate.upgrade(database_url)
    await migrate.downgrade(database_url, "base")
    assert await migrate.current(database_url) is None
    assert await _inspect(database_url, _tables) == {"alembic_version"}
    await migrate.upgrade(database_url)
    assert await migrate.current(database_url) == migrate.head()


async def test_open_migrates_unless_told_not_to(database_url: str) -> None:
    db = await Database.open(database_url, migrate=False)
    await db.dispose()
    assert await migrate.current(database_url) is None
    db = await Database.open(database_url)
    try:
        assert await migrate.current(database_url) == migrate.head()
        async with db.uow() as uow:
            assert await uow.councils.by_chat(1, 0) is None
    finally:
        await db.dispose()


def test_alembic_runs_env_py_without_a_connection(database_url: str) -> None:
    """As the ``alembic`` command would: env.py makes its own async engine."""
    config = migrate.alembic_config(database_url)
    command.upgrade(config, "head")
    assert asyncio.run(migrate.current(database_url)) == migrate.head()


def test_offline_sql(capsys: pytest.CaptureFixture[str]) -> None:
    command.upgrade(migrate.alembic_config("postgresql://u@db/yishi"), "head", sql=True)
    sql = capsys.readouterr().out
    assert "CREATE TABLE votes" in sql
    assert "PRIMARY KEY (ballot_id, member_id)" in sql


async def test_upgrade_keeps_councils_and_gives_them_default_reminders(database_url: str) -> None:
    """A council set up before meetings existed gets 24 h and 1 h reminders, 2 h nudges."""
    from tests.storage.helpers import make_council

    await build(database_url, "0001")
    await migrate.upgrade(database_url)
    db = await Database.open(database_url, migrate=False)
    try:
        async with db.uow() as uow:
            found = await uow.councils.many([1])
        assert found[1].meeting_reminders == (1440, 60) and found[1].ballot_nudge == 120
        assert await make_council(db, chat_id=-200) == 3  # new rows still go in
    finally:
        await db.dispose()


# --- every row kept, on every upgrade and downgrade path ---------------------------


def revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


REVISIONS = revisions()


async def _sync(url: str, fn: Callable[[Connection], Any]) -> Any:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


async def build(url: str, target: str) -> Snapshot:
    """A database at ``target`` made the way it grew: each revision applied in turn,
    with real rows put in the tables it created. Every table holds rows."""
    for revision in REVISIONS[: REVISIONS.index(target) + 1]:
        await migrate.upgrade(url, revision)
        await _sync(url, functools.partial(seed, revision=revision))
    rows: Snapshot = await _sync(url, snapshot)
    empty = sorted(name for name, found in rows.items() if not found)
    assert not empty, f"no seed for {empty} at {target}: add one to tests/storage/migration_data"
    return rows


def assert_kept(before: Snapshot, after: Snapshot) -> int:
    """Every row of ``before`` is in ``after`` with the same values in the columns both
    have (a migration may add or drop columns). Returns how many rows were compared."""
    compared = 0
    for name, rows in before.items():
        assert name in after, f"table {name} is gone"
        assert len(after[name]) == len(rows), f"{name}: {len(rows)} rows became {len(after[name])}"
        for old, new in zip(rows, after[name], strict=True):
            common = old.keys() & new.keys()
            assert {c: old[c] for c in common} == {c: new[c] for c in common}, name
            compared += 1
    return compared


def test_every_revision_is_seeded() -> None:
    assert list(SEEDS) == REVISIONS


@pytest.mark.parametrize("start", REVISIONS[:-1])
async def test_upgrading_from_an_earlier_revision_keeps_every_row(
    database_url: str, start: str
) -> None:
    before = await build(database_url, start)
    await migrate.upgrade(database_url)
    after: Snapshot = await _sync(database_url, snapshot)
    assert assert_kept(before, after) == sum(len(rows) for rows in before.values())


@pytest.mark.parametrize("revision", REVISIONS[1:])
async def test_downgrading_one_step_and_upgrading_again_keeps_every_row(
    database_url: str, revision: str
) -> None:
    before = await build(database_url, revision)
    previous = REVISIONS[REVISIONS.index(revision) - 1]
    await migrate.downgrade(database_url, previous)
    assert await migrate.current(database_url) == previous
    down: Snapshot = await _sync(database_url, snapshot)
    # The tables it made: seeded first by this revision (every table is seeded by the
    # revision that made it; a later seed adds rows to an older table).
    earlier = {name for r in REVISIONS[: REVISIONS.index(revision)] for name in SEEDS[r]()}
    created = set(SEEDS[revision]()) - earlier
    assert set(down) == set(before) - created  # only the tables it made are gone
    assert_kept({name: before[name] for name in down}, down)
    await migrate.upgrade(database_url, revision)
    again: Snapshot = await _sync(database_url, snapshot)
    assert_kept(down, again)


async def test_a_migration_that_would_break_references_is_not_committed(sqlite_url: str) -> None:
    """The check after a SQLite migration: a row pointing nowhere stops the commit."""
    await build(sqlite_url, REVISIONS[-2])
    path = sqlite_url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("DELETE FROM members WHERE id = 1")  # foreign keys are off here
    with pytest.raises(migrate.BrokenReferences, match="broken references"):
        await migrate.upgrade(sqlite_url)
    assert await migrate.current(sqlite_url) == REVISIONS[-2]


async def test_0007_makes_every_member_a_verified_flat_of_its_household(
    database_url: str,
) -> None:
    """Before 0007 each member stood for its household with the area it declared, and the
    owners' rules counted it so: the upgrade keeps that count as verified flats."""
    await build(database_url, "0006")
    members = await _sync(
        database_url,
        lambda c: sorted(
            (row.id, row.household, row.area)
            for row in c.exec_driver_sql("SELECT id, household, area FROM members")
        ),
    )
    await migrate.upgrade(database_url, "0007")
    flats = await _sync(
        database_url,
        lambda c: sorted(
            (row.member_id, row.household, row.area, bool(row.verified))
            for row in c.exec_driver_sql(
                "SELECT member_id, household, area, verified FROM member_flats"
            )
        ),
    )
    assert len(members) == 6
    assert flats == [(m, household, area, True) for m, household, area in members]


async def test_0007_makes_the_owners_presets_count_owners_and_back(database_url: str) -> None:
    """A council on an owners' preset counted people before 0007; after it, owners as the
    law counts them. A custom rule is left as its council wrote it."""
    import json

    await build(database_url, "0006")
    old_preset = json.loads(
        json.dumps(preset("owners-major").to_dict()).replace('"owners"', '"headcount"')
    )
    custom = {**old_preset, "name": "custom"}

    def put(connection: Connection) -> None:
        for council_id, rule in ((1, old_preset), (2, custom)):
            connection.execute(
                text("UPDATE councils SET rule = :rule WHERE id = :id"),
                {"rule": json.dumps(rule), "id": council_id},
            )

    def rules(connection: Connection) -> dict[int, Any]:
        found = connection.execute(text("SELECT id, rule FROM councils ORDER BY id"))
        return {i: r if isinstance(r, dict) else json.loads(r) for i, r in found}

    await _sync(database_url, put)
    await migrate.upgrade(database_url, "0007")
    upgraded = await _sync(database_url, rules)
    assert upgraded[1] == preset("owners-major").to_dict()
    assert upgraded[2] == custom
    await migrate.downgrade(database_url, "0006")
    assert await _sync(database_url, rules) == {1: old_preset, 2: custom}
