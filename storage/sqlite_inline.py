"""SQLite reads run on the event loop's own thread, for the engine that only reads.

aiosqlite runs every call in a thread of its own and hands each result back through
the event loop: a statement costs four such round trips (cursor, execute, fetch,
close), about 0.2 ms each on this machine, where an indexed read itself takes a few
microseconds. A residents' page made of a dozen reads spent ~9 ms so (bench/web.py).
A read-only connection in WAL mode never waits for a lock (readers see a snapshot
beside the writer), so running it in place holds the loop only for the read itself.

These classes give SQLAlchemy's aiosqlite dialect the parts of aiosqlite's interface
it uses, on a plain ``sqlite3`` connection (``create_async_engine(async_creator=…)``).
Writing connections keep aiosqlite: a commit may wait for the write lock, and the
loop must not wait with it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        self._cursor.execute(sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _AtOnce:
    """aiosqlite's queue of calls for its thread, as the dialect's isolation-level
    setter uses it: here each call runs when it is put."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to the awaiting caller, as aiosqlite does
            future.set_exception(error)


class InlineConnection:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._tx = _AtOnce(connection)
        self._open = True

    @property
    def _connection(self) -> sqlite3.Connection | None:
        # The dialect commits and rolls back only while this is set (not after close).
        return self._conn if self._open else None

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._open:
            self._open = False
            self._conn.close()

    def stop(self) -> None:
        if self._open:
            self._open = False
            self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: Any) -> None:
        self._conn.isolation_level = value


def inline_creator(database: str, *, timeout: float, uri: bool = False) -> Callable[[], Any]:
    """``async_creator`` for a read-only SQLite engine on ``database``."""

    async def connect() -> InlineConnection:
        return InlineConnection(
            sqlite3.connect(database, timeout=timeout, isolation_level=None, uri=uri)
        )

    return connect
