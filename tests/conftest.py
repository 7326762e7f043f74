"""Shared fixtures: a database per test, on SQLite and (when available) PostgreSQL.

``database_url`` is parametrized over ``sqlite`` (a file in ``tmp_path``) and
``postgresql`` (``TEST_DATABASE_URL``, e.g.
``postgresql://postgres@127.0.0.1:5432/test``; skipped when unset or
unreachable). On PostgreSQL each test gets a fresh schema of its own, first in
``search_path`` through the URL's ``options=-csearch_path=…`` (which psycopg
hands to libpq), dropped with CASCADE afterwards: tests never see each other's
rows and may run against any database they are allowed to create schemas in.

``migrated_url`` is the same pair already at the newest schema, copied from a
template migrated once per test process: a SQLite file copied, a PostgreSQL
database made with ``CREATE DATABASE … TEMPLATE`` (server-side, ~40 ms, where
running the migrations costs ~0.1 s of this process's CPU and ~0.25 s; where the
role may not create databases, a fresh schema migrated as before). Tests of the
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

import psycopg
import pytest
from sqlalchemy.engine import make_url

from storage.db import libpq_url, scratch_schema
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


def _database_url(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str | None]:
    """A PostgreSQL database at the newest schema, to copy; None where this role may
    not create databases (then each test migrates a schema of its own)."""
    if _postgres_unavailable() is not None:
        yield None
        return
    base = os.environ[TEST_DATABASE_URL]
    name = f"yishi_template_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(libpq_url(base), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.errors.InsufficientPrivilege:
        yield None
        return
    try:
        _migrate(_database_url(base, name))
        yield name
    finally:
        with psycopg.connect(libpq_url(base), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_head_url(postgres_template: str | None) -> Iterator[str]:
    """A PostgreSQL database of its own at the newest schema, dropped afterwards."""
    reason = _postgres_unavailable()
    if reason is not None:
        pytest.skip(reason)
    base = os.environ[TEST_DATABASE_URL]
    if postgres_template is None:
        with scratch_schema(base, prefix="test") as url:
            _migrate(url)
            yield url
        return
    name = f"yishi_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(libpq_url(base), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    try:
        yield _database_url(base, name)
    finally:
        with psycopg.connect(libpq_url(base), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
