"""Shared fixtures: a database per test, on SQLite and (when available) PostgreSQL.

``database_url`` is parametrized over ``sqlite`` (a file in ``tmp_path``) and
``postgresql`` (``TEST_DATABASE_URL``, e.g.
``postgresql://postgres@127.0.0.1:5432/test``; skipped when unset or
unreachable). On PostgreSQL each test gets a fresh schema of its own, first in
``search_path`` through the URL's ``options=-csearch_path=…`` (which psycopg
hands to libpq), dropped with CASCADE afterwards: tests never see each other's
rows and may run against any database they are allowed to create schemas in.

``database`` is an opened, migrated :class:`storage.uow.Database` on that URL.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from functools import cache
from pathlib import Path

import psycopg
import pytest

from storage.db import libpq_url, scratch_schema
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


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """An opened database, migrated to head; disposed after the test."""
    db = await Database.open(database_url)
    try:
        yield db
    finally:
        await db.dispose()
