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
    assert await migrate.current(database_url) == migrate.head() == "0001"
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
