"""Apply Alembic migrations from code: no alembic.ini, no working-directory magic.

``await upgrade(url)`` brings the database at ``url`` to the newest schema; the
bot does this at start-up and ``yishi db upgrade`` on deploy. On PostgreSQL the
upgrade holds an advisory lock, so several processes starting at once take
turns instead of racing to create the same tables; on SQLite the write lock
taken by ``BEGIN IMMEDIATE`` does the same.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from storage.db import create_engine, normalize_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

_Action = Callable[[Config], None]

# Any constant will do; it only has to be the same in every process.
_ADVISORY_LOCK = 0x796973686921  # "yishi!"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config built in code, pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


@functools.cache
def head() -> str:
    """The newest revision shipped with this code (read once: the files ship with it)."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: the newest).

    A database already at the newest revision is left alone after one query: every
    start of the bot asks, and Alembic would load and run its scripts to find that
    there is nothing to do (~0.1 s of CPU)."""
    if revision in ("head", head()) and await current(url) == head():
        return
    await _run(url, lambda config: command.upgrade(config, revision))


async def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"``: empty)."""
    await _run(url, lambda config: command.downgrade(config, revision))


async def current(url: str) -> str | None:
    """The revision the database at ``url`` is at; None when never migrated."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current_revision)
    finally:
        await engine.dispose()


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def _run(url: str, action: _Action) -> None:
    engine = create_engine(url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        _foreign_keys_off(engine)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_locked, url, action)
    finally:
        await engine.dispose()


def _foreign_keys_off(engine: AsyncEngine) -> None:
    """SQLite migrations run with foreign keys off, as SQLite's own recipe for schema
    changes says: Alembic's batch mode rebuilds a table by creating a copy, dropping
    the original and renaming the copy, and with foreign keys on, dropping ``councils``
    deletes every member, topic and vote through ON DELETE CASCADE. The pragma is a
    no-op inside a transaction, so it is set on connecting; ``_check_foreign_keys``
    then proves, before the commit, that no reference was broken."""

    @event.listens_for(engine.sync_engine, "connect")
    def _off(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=OFF")
        finally:
            cursor.close()


def _locked(connection: Connection, url: str, action: _Action) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
    config = alembic_config(url)
    config.attributes["connection"] = connection
    action(config)
    if connection.dialect.name == "sqlite":
        _check_foreign_keys(connection)


class BrokenReferences(RuntimeError):
    """A migration left rows pointing at rows that are not there; nothing was committed."""


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        sample = ", ".join(f"{row[0]} row {row[1]} -> {row[2]}" for row in broken[:5])
        raise BrokenReferences(f"{len(broken)} broken references after migrating: {sample}")
