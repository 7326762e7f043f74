"""What every SQLAlchemy repository shares: the session, the dialect's INSERT, an
``INSERT … ON CONFLICT DO NOTHING`` that says whether the row went in, and the
check that an entity written back has an id.

Each repository works inside the session of one unit of work and returns fresh
domain dataclasses: rows never leak out, and changing a returned object changes
nothing until it is passed back to ``update``.

The operations that must stay correct under concurrent presses are single
statements guarded by a uniqueness constraint (``INSERT … ON CONFLICT DO
NOTHING``) or a row lock, never a read followed by a blind write.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.ext.asyncio import AsyncSession

CHUNK = 500  # rows per statement: SQLite allows 32,766 bound parameters


class Repository:
    """The base of every repository: one unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def insert(self, table: Any) -> Any:
        """The dialect's INSERT, which knows ``on_conflict_do_nothing``."""
        # Imported here: the PostgreSQL dialect is not loaded at all on SQLite.
        from sqlalchemy.dialects import postgresql, sqlite

        target: Table = table.__table__ if hasattr(table, "__table__") else table
        if self.dialect == "postgresql":
            return postgresql.insert(target)
        if self.dialect == "sqlite":
            return sqlite.insert(target)
        raise NotImplementedError(f"unsupported database dialect {self.dialect!r}")

    async def insert_ignore(self, statement: Insert) -> bool:
        """Run an ``INSERT … ON CONFLICT DO NOTHING``; True when the row went in.

        Asks for a column back rather than trusting ``rowcount``, which the
        ORM session does not always report (-1 through psycopg's async driver).
        """
        table = statement.table
        assert isinstance(table, Table)
        returned = await self.session.execute(statement.returning(*table.primary_key.columns))
        return returned.first() is not None


def required(value: int | None, what: str) -> int:
    """The id of an entity written back; a ``ValueError`` if it was never added."""
    if value is None:
        raise ValueError(f"{what} has no id: add it first")
    return value
