"""Apply Alembic migrations from code: no alembic.ini, no working-directory magic.

``await upgrade(url)`` brings the database at ``url`` to the newest schema; the
bot does this at start-up and ``yishi db upgrade`` on deploy. On PostgreSQL the
upgrade holds an advisory lock, so several processes starting at once take
turns instead of racing to create the same tables; on SQLite the write lock
taken by ``BEGIN IMMEDIATE`` does the same.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from storage.db import SQLITE_BUSY_TIMEOUT, create_engine, normalize_url, sqlite_path

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported only where a migration runs (or where its answer is needed): its
# script and DDL machinery costs about a tenth of a second to import, on every start of
# the bot, which almost always finds the database at head already.

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSIONS = MIGRATIONS / "versions"
VERSION_TABLE = "alembic_version"  # Alembic's default; env.py does not change it

_Action = Callable[["Config"], None]

# Any constant will do; it only has to be the same in every process.
_ADVISORY_LOCK = 0x796973686921  # "yishi!"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config built in code, pointing at the packaged migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


@functools.cache
def head() -> str:
    """The newest revision shipped with this code (read once: the files ship with it).

    Read from the revision files' ``revision = "…"`` and ``down_revision = "…"`` lines
    when they form one straight line of revisions (as they always have here), without
    loading Alembic; anything else (a branch, a merge, a value that is not a literal, a
    file that does not parse) is left to Alembic, which then answers as it always did.
    """
    return linear_head(VERSIONS) or alembic_head()


def alembic_head() -> str:
    """Alembic's own answer: it imports every revision script."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


_FIELDS = ("revision", "down_revision", "branch_labels", "depends_on")


def linear_head(versions: Path) -> str | None:
    """The head of the revisions in ``versions`` if they form a single chain from one
    root, each a plain literal; None (ask Alembic) for anything else.

    A wrong answer here would make the bot skip a migration, so every doubt is None:
    the files are those Alembic itself reads (``*.py`` but ``__init__`` and editor lock
    files ``.#…``, not recursive, not sourceless: our config sets neither option)."""
    down_of: dict[str, str | None] = {}
    for path in sorted(versions.glob("*.py")):
        if path.name.startswith(("__init__", ".#")):
            continue
        fields = _literal_fields(path)
        if fields is None:
            return None
        revision, down = fields.get("revision"), fields.get("down_revision")
        if not isinstance(revision, str) or revision in down_of:
            return None
        if not (down is None or isinstance(down, str)):
            return None  # a merge (a tuple of parents)
        if fields.get("branch_labels") is not None or fields.get("depends_on") is not None:
            return None
        down_of[revision] = down
    parents = [down for down in down_of.values() if down is not None]
    if len(set(parents)) != len(parents) or not set(parents) <= set(down_of):
        return None  # a branch point, or a parent that is not shipped
    heads = set(down_of) - set(parents)
    roots = [revision for revision, down in down_of.items() if down is None]
    if len(heads) != 1 or len(roots) != 1:
        return None
    (found,) = heads
    # One chain: walking down from the head reaches every revision (no detached cycle).
    seen, at = 0, down_of.get(found)
    while at is not None and seen <= len(down_of):
        seen, at = seen + 1, down_of[at]
    return found if seen + 1 == len(down_of) else None


# Where a revision file's code begins (its first top-level def, class or decorator): the
# header above it is all that is parsed, since parsing a whole revision file costs far
# more (~40 ms for ours) than the database query it saves work for.
_CODE = re.compile(r"^(?:(?:async\s+)?def\b|class\b|@)", re.MULTILINE)
# A line below the header that may assign one of the fields (at any indentation, even
# in a comparison): then the file is left to Alembic, which runs it.
_FIELD_BELOW = re.compile(
    r"^[ \t(]*(?:revision|down_revision|branch_labels|depends_on)\b[^\n]*=", re.MULTILINE
)


def _literal_fields(path: Path) -> dict[str, object] | None:
    """The module-level ``revision`` … ``depends_on`` of a revision file, each assigned
    once, by a plain assignment, to a literal; None when one is assigned twice, in any
    other way, or below the header."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    code = _CODE.search(source)
    header = source[: code.start()] if code else source
    if code and _FIELD_BELOW.search(source, code.start()):
        return None
    try:
        tree = ast.parse(header, filename=str(path))
    except (SyntaxError, ValueError):
        return None  # e.g. a def at the start of a line inside the docstring
    fields: dict[str, object] = {}
    for node in tree.body:
        simple = isinstance(node, ast.Assign | ast.AnnAssign) and all(
            isinstance(target, ast.Name)
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
        if not simple:
            if any(
                isinstance(n, ast.Name) and n.id in _FIELDS and not isinstance(n.ctx, ast.Load)
                for n in ast.walk(node)
            ):
                return None  # ``revision, x = …``, ``if …: revision = …``, ``del`` …
            continue
        assert isinstance(node, ast.Assign | ast.AnnAssign)
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            assert isinstance(target, ast.Name)
            if target.id not in _FIELDS:
                continue
            if target.id in fields or node.value is None:
                return None
            try:
                fields[target.id] = ast.literal_eval(node.value)
            except ValueError:
                return None
    return fields


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: the newest).

    A database already at the newest revision is left alone after one query: every
    start of the bot asks, and Alembic would load and run its scripts to find that
    there is nothing to do (~0.1 s of CPU)."""
    if revision in ("head", head()) and await current(url) == head():
        return
    from alembic import command

    await _run(url, lambda config: command.upgrade(config, revision))


async def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"``: empty)."""
    from alembic import command

    await _run(url, lambda config: command.downgrade(config, revision))


async def current(url: str) -> str | None:
    """The revision the database at ``url`` is at; None when never migrated."""
    path = sqlite_path(url)
    if path is not None:
        known, revision = await asyncio.to_thread(_sqlite_revision, path)
        if known:
            return revision
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current_revision)
    finally:
        await engine.dispose()


def _sqlite_revision(path: Path) -> tuple[bool, str | None]:
    """(True, a SQLite file's revision), read with the standard library: an async engine
    costs ~20 ms to make and connect, for one query (and would create a missing file). A
    file that is not there has none; anything unusual (several rows, an error) is
    (False, None), for the engine to answer, or fail, as it always did."""
    if not path.exists():
        return True, None
    try:
        # mode=rw: never creates the file; the busy timeout as the bot's own connections.
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=SQLITE_BUSY_TIMEOUT
        )
    except sqlite3.Error:
        return False, None
    try:
        listed = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSION_TABLE,)
        ).fetchone()
        if listed is None:
            return True, None
        rows = connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    except sqlite3.Error:
        return False, None
    finally:
        connection.close()
    if len(rows) > 1:
        return False, None
    return True, (str(rows[0][0]) if rows else None)


def _current_revision(connection: Connection) -> str | None:
    """What Alembic's ``MigrationContext.get_current_revision`` answers, read with one
    query: no version table, or an empty one, is None; one row is its revision. Several
    rows (branches) are left to Alembic, which refuses them as it always did."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).fetchall()
    if len(rows) <= 1:
        return str(rows[0][0]) if rows else None
    from alembic.runtime.migration import MigrationContext

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
