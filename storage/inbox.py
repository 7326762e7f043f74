"""The durable update inbox (table ``inbox``): updates are rows before they are work.

A messenger's update is stored here before the messenger is told it arrived
(the next ``getUpdates`` offset, or the webhook's 200), and handled from here:
a process that dies with updates in hand leaves them as rows that are handled
again at the next start. Each row is claimed by the process handling it
(``bot.runtime.presence``), so several processes never handle one update at the same
time, and a dead process's rows are taken over at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.orm import InboxRow, ProcessedUpdateRow

CHUNK = 500  # rows per statement: SQLite allows 32,766 bound parameters


@dataclass(frozen=True)
class Entry:
    id: int
    update_id: int
    payload: dict[str, Any]


class SqlInbox:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bot_id: int) -> None:
        self._sessions = sessions
        self.bot_id = bot_id

    async def store(
        self, payloads: Sequence[dict[str, Any]], *, claimed_by: int, now: datetime
    ) -> list[Entry]:
        """Store ``payloads`` (each with its ``update_id``) in one transaction, claimed by
        ``claimed_by``; returns the entries stored now, oldest first. An update stored
        before (a redelivery) is not stored again and not returned."""
        if not payloads:
            return []
        from sqlalchemy.dialects import postgresql, sqlite  # only the one in use is needed

        async with self._sessions() as session, session.begin():
            insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
            stored: list[Entry] = []
            for start in range(0, len(payloads), CHUNK):
                rows = [
                    {
                        "bot_id": self.bot_id,
                        "update_id": int(payload["update_id"]),
                        "payload": payload,
                        "received_at": now,
                        "claimed_by": claimed_by,
                    }
                    for payload in payloads[start : start + CHUNK]
                ]
                result = await session.execute(
                    insert(InboxRow)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=["bot_id", "update_id"])
                    .returning(InboxRow.id, InboxRow.update_id, InboxRow.payload)
                )
                stored.extend(Entry(row[0], row[1], row[2]) for row in result)
        return sorted(stored, key=lambda entry: entry.id)

    async def handled(self, entry_ids: Iterable[int], *, now: datetime) -> None:
        ids = sorted(set(entry_ids))
        if not ids:
            return
        async with self._sessions() as session, session.begin():
            for start in range(0, len(ids), CHUNK):
                await session.execute(
                    update(InboxRow)
                    .where(InboxRow.id.in_(ids[start : start + CHUNK]))
                    .values(handled_at=now),
                    execution_options={"synchronize_session": False},
                )

    async def claimers(self) -> set[int | None]:
        """The processes holding unhandled updates (None: stored by an older release)."""
        async with self._sessions() as session:
            found = await session.scalars(
                select(InboxRow.claimed_by)
                .where(InboxRow.handled_at.is_(None), InboxRow.bot_id == self.bot_id)
                .distinct()
            )
            return set(found)

    async def take_over(
        self, dead: Iterable[int | None], *, claimed_by: int, limit: int = 1000
    ) -> list[Entry]:
        """Claim the unhandled updates of the ``dead`` processes; oldest first."""
        gone = [claimer for claimer in dead if claimer is not None]
        legacy = None in set(dead)
        if not gone and not legacy:
            return []
        async with self._sessions() as session, session.begin():
            owners = [InboxRow.claimed_by.in_(gone)] if gone else []
            if legacy:
                owners.append(InboxRow.claimed_by.is_(None))
            owner = or_(*owners)
            ids = list(
                await session.scalars(
                    select(InboxRow.id)
                    .where(InboxRow.handled_at.is_(None), InboxRow.bot_id == self.bot_id, owner)
                    .order_by(InboxRow.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return []
            result = await session.execute(
                update(InboxRow)
                .where(InboxRow.id.in_(ids), InboxRow.handled_at.is_(None))
                .values(claimed_by=claimed_by)
                .returning(InboxRow.id, InboxRow.update_id, InboxRow.payload),
                execution_options={"synchronize_session": False},
            )
            return sorted((Entry(row[0], row[1], row[2]) for row in result), key=lambda e: e.id)

    async def prune(self, before: datetime) -> tuple[int, int]:
        """Forget handled updates received before ``before``, and the claims of updates
        seen before it (``update:…`` keys only): the messenger can no longer send them
        again, and a sequence of update ids that starts anew must find them gone.
        Returns (inbox rows, claims) deleted."""
        async with self._sessions() as session, session.begin():
            rows = await session.execute(
                delete(InboxRow).where(
                    InboxRow.handled_at.is_not(None), InboxRow.received_at < before
                )
            )
            claims = await session.execute(
                delete(ProcessedUpdateRow).where(
                    ProcessedUpdateRow.key.startswith("update:", autoescape=True),
                    ProcessedUpdateRow.seen_at < before,
                )
            )
            return int(getattr(rows, "rowcount", 0)), int(getattr(claims, "rowcount", 0))

    async def unhandled(self) -> int:
        """How many stored updates wait to be handled (for tests and the log)."""
        async with self._sessions() as session:
            found = await session.scalars(
                select(InboxRow.id).where(
                    InboxRow.handled_at.is_(None), InboxRow.bot_id == self.bot_id
                )
            )
            return len(list(found))


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name
