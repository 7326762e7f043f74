"""Which process runs the scheduled jobs: one at a time.

On PostgreSQL the leader holds a session-level advisory lock on a connection
of its own; if the process dies, the server drops the connection and the lock
with it, and another process takes over at its next try. SQLite is for one
process: the single process is the leader (two processes on one SQLite file
are not supported, and the start-up log says so).
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from storage.db import is_sqlite, libpq_url

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

# The two-key form of the advisory lock: this constant, and a hash of the database
# and schema, so that deployments (or test runs) in other schemas of one server do
# not take each other's lead. The one-key locks of storage/ never collide with it.
LEADER_LOCK = 0x5949_534C  # "YISL"
_SCOPE = "hashtext(current_database() || '.' || current_schema())"


class Leadership:
    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._connection: psycopg.AsyncConnection[tuple[Any, ...]] | None = None
        self.is_leader = False

    async def try_acquire(self) -> bool:
        """Become the leader if nobody is; True if this process leads now."""
        if self.is_leader:
            return True
        if is_sqlite(self._url):
            log.info("SQLite: this process runs the scheduled jobs (one process per database)")
            self.is_leader = True
            return True
        import psycopg  # imported where used: only PostgreSQL needs it (~0.1 s at start-up)

        try:
            if self._connection is None or self._connection.closed:
                self._connection = await psycopg.AsyncConnection.connect(
                    libpq_url(self._url), autocommit=True
                )
            cursor = await self._connection.execute(
                f"SELECT pg_try_advisory_lock(%s, {_SCOPE})", (LEADER_LOCK,)
            )
            row = await cursor.fetchone()
        except psycopg.Error:
            log.warning("could not try the scheduler's leader lock", exc_info=True)
            await self._drop()
            return False
        self.is_leader = bool(row and row[0])
        if self.is_leader:
            log.info("this process now runs the scheduled jobs (leader lock taken)")
        return self.is_leader

    async def still_leader(self) -> bool:
        """False once the lock's connection is gone (the lock went with it)."""
        if not self.is_leader or self._connection is None:
            return self.is_leader
        import psycopg

        try:
            await self._connection.execute("SELECT 1")
        except psycopg.Error:
            log.warning("lost the scheduler's leader lock with its connection", exc_info=True)
            self.is_leader = False
            await self._drop()
        return self.is_leader

    async def release(self) -> None:
        if self._connection is not None and self.is_leader:
            import psycopg

            with contextlib.suppress(psycopg.Error):
                await self._connection.execute(
                    f"SELECT pg_advisory_unlock(%s, {_SCOPE})", (LEADER_LOCK,)
                )
        self.is_leader = False
        await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            import psycopg

            with contextlib.suppress(psycopg.Error):
                await connection.close()
