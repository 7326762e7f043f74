"""URLs and engine configuration."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from storage.db import create_engine, normalize_url, sync_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///yishi.db", "sqlite+aiosqlite:///yishi.db"),
        ("sqlite:////var/lib/yishi/yishi.db", "sqlite+aiosqlite:////var/lib/yishi/yishi.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+pysqlite:///x.db", "sqlite+pysqlite:///x.db"),
        ("postgresql://u:p%40ss@db:5432/yishi", "postgresql+psycopg://u:p%40ss@db:5432/yishi"),
        (
            "postgres://u@db/yishi?sslmode=require",
            "postgresql+psycopg://u@db/yishi?sslmode=require",
        ),
        ("postgresql+asyncpg://u@db/yishi", "postgresql+asyncpg://u@db/yishi"),
        ("postgresql+psycopg://u@db/yishi", "postgresql+psycopg://u@db/yishi"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///yishi.db", "sqlite:///yishi.db"),
        ("sqlite+aiosqlite:///yishi.db", "sqlite:///yishi.db"),
        ("postgresql://u@db/yishi", "postgresql+psycopg://u@db/yishi"),
        ("postgres://u@db/yishi", "postgresql+psycopg://u@db/yishi"),
        ("postgresql+asyncpg://u@db/yishi", "postgresql+psycopg://u@db/yishi"),
        ("postgresql+psycopg://u@db/yishi", "postgresql+psycopg://u@db/yishi"),
    ],
)
def test_sync_url(url: str, expected: str) -> None:
    assert sync_url(url) == expected


async def test_sqlite_pragmas(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            assert (await connection.scalar(text("PRAGMA journal_mode"))) == "wal"
            assert (await connection.scalar(text("PRAGMA foreign_keys"))) == 1
            assert (await connection.scalar(text("PRAGMA busy_timeout"))) == 30_000
    finally:
        await engine.dispose()


async def test_sqlite_transactions_take_the_write_lock(sqlite_url: str) -> None:
    """BEGIN IMMEDIATE: a second transaction waits for the first instead of failing."""
    engine = create_engine(sqlite_url, connect_args={"timeout": 0.2})
    try:
        async with engine.begin() as first:
            await first.execute(text("CREATE TABLE t (x INTEGER)"))
        async with engine.connect() as first, engine.connect() as second:
            await first.execute(text("SELECT 1"))  # a read already holds the write lock
            with pytest.raises(Exception, match="locked"):
                await second.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
