"""Migrations: from empty to head, in step with the models, independent of the cwd."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from storage import migrate
from storage.db import create_engine
from storage.orm import metadata
from storage.uow import Database

TABLES = {
    "councils",
    "council_chairs",
    "members",
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
    assert await migrate.current(database_url) == migrate.head() == "0003"
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
    import json

    from domain.rules import preset
    from tests.storage.helpers import make_council

    await migrate.upgrade(database_url, "0001")
    engine = create_engine(database_url)
    rule = json.dumps(dict(preset("simple").to_dict()))
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(
                "INSERT INTO councils (chat_id, thread_id, title, rule, timezone, language,"
                f" require_approval, created_at) VALUES (-100, 0, 'old', '{rule}', 'Asia/Shanghai',"
                " 'zh-CN', false, '2025-01-01 00:00:00')"
            )
    finally:
        await engine.dispose()
    await migrate.upgrade(database_url)
    db = await Database.open(database_url, migrate=False)
    try:
        async with db.uow() as uow:
            found = await uow.councils.many([1])
        assert found[1].meeting_reminders == (1440, 60) and found[1].ballot_nudge == 120
        assert await make_council(db, chat_id=-200) == 2  # new rows still go in
    finally:
        await db.dispose()
