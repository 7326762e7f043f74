"""Shared fixtures: a database per test, on SQLite and (when available) PostgreSQL.

``database_url`` is parametrized over ``sqlite`` (a file in ``tmp_path``) and
``postgresql`` (``TEST_DATABASE_URL``, e.g.
``postgresql://postgres@127.0.0.1:5432/test``; skipped when unset or
unreachable). On PostgreSQL each test gets a fresh schema of its own, first in
``search_path`` through the URL's ``options=-csearch_path=…`` (which psycopg
hands to libpq), dropped with CASCADE afterwards: tests never see each other's
rows and may run against any database they are allowed to create schemas in.

``migrated_url`` is the same pair already at the newest schema and empty: on
SQLite a copy of a file migrated once per test process; on PostgreSQL a schema
migrated once and reused, emptied after each test (``_Schemas``). Tests of the
migrations themselves take ``database_url``; tests that only need a database take
``migrated_url`` (or ``database``, opened on it).

``database`` is an opened :class:`storage.uow.Database` on ``migrated_url``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
import pytest

from storage import orm
from storage.db import libpq_url, scratch_schema, with_search_path
from storage.migrate import upgrade
from storage.uow import Database

TEST_DATABASE_URL = "TEST_DATABASE_URL"


@cache
def _postgres_unavailable() -> str | None:
    """Why PostgreSQL tests cannot run, or None when they can."""
    url = os.environ.get(TEST_DATABASE_URL)
    if not url:
        return f"{TEST_DATABASE_URL} is not set"
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=5) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        return f"PostgreSQL at {TEST_DATABASE_URL} is unreachable: {error}".strip()
    return None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections use a fresh, empty schema of their own."""
    reason = _postgres_unavailable()
    if reason is not None:
        pytest.skip(reason)
    with scratch_schema(os.environ[TEST_DATABASE_URL], prefix="test") as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'yishi.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
    else:
        url = request.getfixturevalue("postgres_url")
    return url


def _migrate(url: str) -> None:
    """Bring ``url`` to the newest schema from a synchronous fixture, which may be set
    up inside a running event loop (when an async fixture asks for it first)."""
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, upgrade(url)).result()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the newest schema, to copy."""
    path = tmp_path_factory.mktemp("template") / "yishi.db"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_head_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "yishi.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


class _Schemas:
    """PostgreSQL schemas at the newest schema, reused from test to test.

    A schema is emptied after its test (every row deleted, child tables first, and
    every sequence restarted, so ids begin at 1 again as in a new database): ~1 ms,
    where making one costs ~170 ms of CPU (a migrated schema ~250 ms, a database
    copied from a template ~170 ms, most of it the server's). One that cannot be
    emptied is dropped, and the next test gets a new one."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.free: list[str] = []
        self.made: list[str] = []

    def take(self) -> str:
        if self.free:
            return self.free.pop()
        schema = f"test_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(libpq_url(self.base), autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{schema}"')
        self.made.append(schema)
        _migrate(with_search_path(self.base, schema))
        return schema

    def give_back(self, schema: str) -> None:
        try:
            with psycopg.connect(
                libpq_url(with_search_path(self.base, schema)), autocommit=False
            ) as connection:
                connection.execute("SET LOCAL lock_timeout = '5s'")
                connection.execute(self._emptying(connection, schema))
                connection.commit()
            self.free.append(schema)
        except psycopg.Error:
            self.drop(schema)

    @staticmethod
    def _emptying(connection: psycopg.Connection[Any], schema: str) -> str:
        ours = [table.name for table in reversed(orm.metadata.sorted_tables)]
        present = {
            name
            for (name,) in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
            )
        }
        others = sorted(present - set(ours) - {"alembic_version"})  # APScheduler's jobs
        sequences = [
            name
            for (name,) in connection.execute(
                "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = %s",
                (schema,),
            )
        ]
        statements = [f'DELETE FROM "{t}"' for t in ours + others if t in present]
        statements += [f"SELECT setval('\"{name}\"', 1, false)" for name in sequences]
        return ";\n".join(statements)

    def drop(self, schema: str) -> None:
        with psycopg.connect(libpq_url(self.base), autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    def close(self) -> None:
        for schema in self.made:
            self.drop(schema)


@pytest.fixture(scope="session")
def postgres_schemas() -> Iterator[_Schemas | None]:
    if _postgres_unavailable() is not None:
        yield None
        return
    schemas = _Schemas(os.environ[TEST_DATABASE_URL])
    try:
        yield schemas
    finally:
        schemas.close()


@pytest.fixture
def postgres_head_url(postgres_schemas: _Schemas | None) -> Iterator[str]:
    """A PostgreSQL schema of this test's own, at the newest schema and empty."""
    reason = _postgres_unavailable()
    if reason is not None or postgres_schemas is None:
        pytest.skip(reason or "PostgreSQL is unavailable")
    schema = postgres_schemas.take()
    try:
        yield with_search_path(postgres_schemas.base, schema)
    finally:
        postgres_schemas.give_back(schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_url(request: pytest.FixtureRequest) -> str:
    """A database at the newest schema, once on SQLite and once on PostgreSQL."""
    url: str = request.getfixturevalue(
        "sqlite_head_url" if request.param == "sqlite" else "postgres_head_url"
    )
    return url


@pytest.fixture
async def database(migrated_url: str) -> AsyncIterator[Database]:
    """An opened database at the newest schema; disposed after the test."""
    db = await Database.open(migrated_url)
    try:
        yield db
    finally:
        await db.dispose()
