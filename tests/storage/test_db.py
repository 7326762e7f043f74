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


async def test_a_sqlite_reader_reads_beside_a_writer_and_cannot_write(sqlite_url: str) -> None:
    """``Database.reader()`` on a SQLite file: its own engine, run on the loop's thread
    (``storage.sqlite_inline``), with the same pragmas, no write lock taken (a writer
    holds it meanwhile), what the writer committed seen, and any write refused."""
    from sqlalchemy.exc import OperationalError

    from storage.uow import Database

    db = await Database.open(sqlite_url, migrate=False)
    try:
        async with db.uow() as uow:
            await uow.session.execute(text("CREATE TABLE t (x INTEGER)"))
            await uow.session.execute(text("INSERT INTO t VALUES (1)"))
            await uow.commit()
        async with db.uow() as writer:
            await writer.session.execute(text("INSERT INTO t VALUES (2)"))  # holds the lock
            async with db.reader() as reader:
                assert await reader.session.scalar(text("PRAGMA journal_mode")) == "wal"
                assert await reader.session.scalar(text("PRAGMA foreign_keys")) == 1
                assert await reader.session.scalar(text("PRAGMA busy_timeout")) == 30_000
                assert await reader.session.scalar(text("PRAGMA query_only")) == 1
                # The writer's row is not committed yet: the reader sees the snapshot.
                assert list(await reader.session.scalars(text("SELECT x FROM t"))) == [1]
            await writer.commit()
        async with db.reader() as reader:
            assert list(await reader.session.scalars(text("SELECT x FROM t ORDER BY x"))) == [1, 2]
            with pytest.raises(OperationalError, match="readonly"):
                await reader.session.execute(text("INSERT INTO t VALUES (3)"))
        async with db.reader() as reader:  # the connection is still good after a refusal
            assert await reader.session.scalar(text("SELECT count(*) FROM t")) == 2
    finally:
        await db.dispose()


async def test_a_reader_is_the_same_database_where_reads_need_no_engine_of_their_own(
    database_url: str,
) -> None:
    """PostgreSQL (readers never wait for writers) and in-memory SQLite (one
    connection's) read through the writing engine."""
    from storage.uow import Database

    db = await Database.open(database_url, migrate=False)
    try:
        if not database_url.startswith("sqlite"):
            assert db.reader()._sessions is db.uow()._sessions
        async with db.uow() as uow:
            await uow.session.execute(text("CREATE TABLE t (x INTEGER)"))
            await uow.session.execute(text("INSERT INTO t VALUES (7)"))
            await uow.commit()
        async with db.reader() as reader:
            assert await reader.session.scalar(text("SELECT x FROM t")) == 7
    finally:
        await db.dispose()
