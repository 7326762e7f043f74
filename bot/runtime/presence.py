"""Which bot processes are alive: work a dead process left half-done is taken over at once.

Every running process has an instance id. What it claims (an update from the
inbox it is handling, a notice it is sending) carries that id, so another
process can tell work in progress from work abandoned by a crash, without
waiting for a timeout and without ever taking work from a living process.

On PostgreSQL a process shows it is alive by holding a session advisory lock
keyed by its instance id on a connection of its own: when the process dies the
server drops the connection, and the lock with it. ``alive()`` reads
``pg_locks``. SQLite is for one process (``storage.db.lock_sqlite``), so every
instance but this one is dead.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from storage.db import is_sqlite, libpq_url

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

# The two-key form of the advisory lock: this class, and the instance id. The leader
# lock (bot.runtime.leader) uses another class, storage's one-key locks never collide.
PRESENCE_LOCK = 0x5949_5350  # "YISP"
MAX_INSTANCE = 2**31 - 1  # an int4, the advisory lock's second key


def new_instance_id() -> int:
    return secrets.randbelow(MAX_INSTANCE - 1) + 1


class Presence:
    def __init__(self, database_url: str, instance_id: int | None = None) -> None:
        self._url = database_url
        self.instance_id = instance_id if instance_id is not None else new_instance_id()
        self._connection: psycopg.AsyncConnection[tuple[Any, ...]] | None = None

    @property
    def shared(self) -> bool:
        """True when other processes may share the database (PostgreSQL)."""
        return not is_sqlite(self._url)

    async def announce(self) -> bool:
        """Hold this process's presence lock (again, after a lost connection); True if held."""
        if not self.shared:
            return True
        if self._connection is not None and not self._connection.closed:
            return True
        import psycopg  # imported where used: only PostgreSQL needs it (~0.1 s at start-up)

        try:
            self._connection = await psycopg.AsyncConnection.connect(
                libpq_url(self._url), autocommit=True
            )
            await self._connection.execute(
                "SELECT pg_advisory_lock(%s, %s)", (PRESENCE_LOCK, self.instance_id)
            )
        except psycopg.Error:
            log.warning("could not announce this process (database unreachable?)", exc_info=True)
            await self._drop()
            return False
        return True

    async def alive(self, instance_ids: Iterable[int | None]) -> set[int]:
        """Those of ``instance_ids`` whose process is running now.

        When the database cannot be asked, every one of them counts as alive: nothing
        is taken over on a guess."""
        wanted = {i for i in instance_ids if i is not None}
        if not self.shared or not wanted:
            return wanted & {self.instance_id}
        if not await self.announce():
            return wanted
        assert self._connection is not None
        import psycopg

        try:
            cursor = await self._connection.execute(
                "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory'"
                " AND classid = %s AND objsubid = 2 AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (PRESENCE_LOCK,),
            )
            held = {int(row[0]) for row in await cursor.fetchall()}
        except psycopg.Error:
            log.warning("could not read which processes are alive", exc_info=True)
            await self._drop()
            return wanted
        return wanted & (held | {self.instance_id})

    async def close(self) -> None:
        await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            import psycopg

            with contextlib.suppress(psycopg.Error):
                await connection.close()
