"""Engines: one URL in, an async engine configured for its database out.

SQLite (the default deployment) runs in WAL mode with a busy timeout, foreign
keys on, and every transaction opened with ``BEGIN IMMEDIATE``: SQLAlchemy takes
over BEGIN from the driver (the documented pysqlite/aiosqlite recipe), so
concurrent writers queue for the write lock at the start of their transaction
instead of failing with "database is locked" when a reader upgrades to a writer.

PostgreSQL uses psycopg 3's async driver with a pool.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

#: Seconds a SQLite connection waits for the write lock before giving up.
SQLITE_BUSY_TIMEOUT = 30.0

_POSTGRES_NAMES = ("postgresql", "postgres")


def _url(url: str | URL) -> URL:
    return make_url(url) if isinstance(url, str) else url


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def normalize_url(url: str) -> str:
    """The async driver URL for ``url``; an explicit driver is left alone.

    ``sqlite:///x`` -> ``sqlite+aiosqlite:///x``;
    ``postgresql://`` and ``postgres://`` -> ``postgresql+psycopg://``.
    """
    parsed = _url(url)
    backend, _, driver = parsed.drivername.partition("+")
    if driver:
        return url
    if backend == "sqlite":
        return _render(parsed.set(drivername="sqlite+aiosqlite"))
    if backend in _POSTGRES_NAMES:
        return _render(parsed.set(drivername="postgresql+psycopg"))
    return url


def sync_url(url: str) -> str:
    """A synchronous driver URL for the same database (for APScheduler's job store).

    SQLite -> ``sqlite:///…`` (pysqlite); PostgreSQL -> ``postgresql+psycopg://…``
    (psycopg 3 serves both sync and async).
    """
    parsed = _url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _render(parsed.set(drivername="sqlite"))
    if backend in _POSTGRES_NAMES:
        return _render(parsed.set(drivername="postgresql+psycopg"))
    return url


def is_sqlite(url: str | URL) -> bool:
    return _url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url`` (normalized first); ``kwargs`` go to SQLAlchemy.

    ``read_only`` (SQLite files only, see ``read_only_engine``): an engine whose
    transactions read a snapshot without taking the write lock."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed, read_only=read_only, **kwargs)
    elif parsed.get_backend_name() == "postgresql":
        options: dict[str, Any] = {"pool_pre_ping": True}
        if "poolclass" not in kwargs:
            options.update(pool_size=10, max_overflow=20, pool_timeout=60)
        options.update(kwargs)
        engine = create_async_engine(parsed, **options)
    else:
        engine = create_async_engine(parsed, **kwargs)
    _replace_nul(engine)
    return engine


NUL = "\x00"
REPLACEMENT = "\ufffd"  # one UTF-16 unit, like NUL: a message's entity offsets still fit


def _replace_nul(engine: AsyncEngine) -> None:
    """PostgreSQL's text cannot hold NUL, and a member can type one: it is stored as
    U+FFFD on every database, so both keep the same text and none refuses it."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute", retval=True)
    def scrub(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> tuple[str, Any]:
        return statement, _scrubbed(parameters)


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(NUL, REPLACEMENT) if NUL in value else value
    if isinstance(value, dict):
        return {key: _scrubbed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrubbed(item) for item in value)
    return value


def read_only_engine(url: str) -> bool:
    """Whether ``url`` gets an engine of its own for reads: a SQLite file. In WAL mode
    its readers see a snapshot while one writer writes, so a page view need not queue
    for the write lock every writing transaction takes (``BEGIN IMMEDIATE``). An
    in-memory database is one connection's; PostgreSQL's readers never block anyway."""
    parsed = make_url(normalize_url(url))
    return parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")


def _sqlite_engine(url: URL, *, read_only: bool = False, **kwargs: Any) -> AsyncEngine:
    connect_args: dict[str, Any] = {"timeout": SQLITE_BUSY_TIMEOUT}
    connect_args.update(kwargs.pop("connect_args", {}))
    if url.database in (None, "", ":memory:") or "poolclass" in kwargs:
        options: dict[str, Any] = {}
    elif read_only:
        from storage.sqlite_inline import inline_creator

        # Reads run on the loop's thread (``storage.sqlite_inline``), one at a time.
        options = {
            "pool_size": 2,
            "max_overflow": 0,
            "pool_timeout": 120,
            "async_creator": inline_creator(
                str(url.database),
                timeout=float(connect_args["timeout"]),
                uri=str(url.query.get("uri", "")).lower() in ("true", "1"),
            ),
        }
    else:
        # Every transaction takes the write lock, so a few connections are all
        # that help; the rest of a burst waits in the pool, not in SQLite's
        # sleeping busy handler.
        options = {"pool_size": 2, "max_overflow": 0, "pool_timeout": 120}
    options.update(kwargs)
    engine = create_async_engine(url, connect_args=connect_args, **options)
    _configure_sqlite(engine, read_only=read_only)
    return engine


def _configure_sqlite(engine: AsyncEngine, *, read_only: bool = False) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # busy_timeout comes from sqlite3's ``timeout`` connect argument.
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            if read_only:
                # A write by mistake fails at once instead of upgrading the lock.
                cursor.execute("PRAGMA query_only=ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Take the write lock up front: transactions queue (busy_timeout) rather
        # than failing with SQLITE_BUSY when a read lock would need upgrading.
        # A reader's deferred BEGIN takes no lock and reads one snapshot.
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def libpq_url(url: str) -> str:
    """The same URL without SQLAlchemy's ``+driver``, as psycopg and libpq take it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def with_search_path(url: str, schema: str) -> str:
    """A PostgreSQL URL whose connections put ``schema`` first in ``search_path``.

    psycopg hands the ``options`` query parameter to libpq, which sets it per
    connection: a whole database (migrations included) can live in one schema.
    """
    parsed = make_url(url)
    options = parsed.query.get("options")
    existing = options if isinstance(options, str) else " ".join(options or ())
    merged = f"{existing} -csearch_path={schema}".strip()
    return parsed.update_query_dict({"options": merged}).render_as_string(hide_password=False)


@contextmanager
def scratch_schema(url: str, prefix: str = "scratch") -> Iterator[str]:
    """A URL to a new, empty PostgreSQL schema, dropped with everything in it afterwards.

    For tests and benchmarks that need a database of their own on a shared server.
    """
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_search_path(url, schema)
    finally:
        with psycopg.connect(libpq_url(url), autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class DatabaseInUse(RuntimeError):
    """Another process is running Yishi on this SQLite file."""


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL or an in-memory database."""
    parsed = _url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database or "")


@contextmanager
def exclusive(url: str) -> Iterator[None]:
    """Hold the SQLite file for this process alone while the block runs.

    SQLite serves one bot process: two would both poll Telegram (409 conflicts)
    and both run the scheduled jobs. A second process finds the lock taken and
    gets :class:`DatabaseInUse` with a message saying what to do. The lock is an
    ``flock`` on a file beside the database, released by the kernel when the
    process dies, however it dies. PostgreSQL needs none (several processes
    share it, one leads).
    """
    path = sqlite_path(url)
    if path is None:
        yield
        return
    import fcntl

    lock_path = path.with_name(path.name + ".lock")
    handle = lock_path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise DatabaseInUse(
                f"{path} is in use by {holder}. SQLite serves one Yishi process: stop the"
                " other one first, or use PostgreSQL (YISHI_DATABASE_URL=postgresql://…)"
                " to run several."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing the file releases the lock
