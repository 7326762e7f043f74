"""The update log (table ``processed_updates``): a key claimed once, so a redelivered
update or a job run again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import Repository
from storage.orm import ProcessedUpdateRow


class SqlUpdateLog(Repository):
    def __init__(self, session: AsyncSession, clock: Callable[[], datetime]) -> None:
        super().__init__(session)
        self.clock = clock

    async def claim(self, key: str) -> bool:
        """Atomic; True the first time ``key`` is seen, False for a redelivery."""
        statement = (
            self.insert(ProcessedUpdateRow)
            .values(key=key, seen_at=self.clock())
            .on_conflict_do_nothing(index_elements=["key"])
        )
        return await self.insert_ignore(statement)

    async def claim_many(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        seen_at = self.clock()
        claimed = await self.session.scalars(
            self.insert(ProcessedUpdateRow)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(ProcessedUpdateRow.key),
            [{"key": key, "seen_at": seen_at} for key in keys],
        )
        return set(claimed)

    async def seen(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        found = await self.session.scalars(
            select(ProcessedUpdateRow.key).where(ProcessedUpdateRow.key.in_(list(keys)))
        )
        return set(found)

    async def forget_before(self, moment: datetime) -> int:
        """Drop claims older than ``moment`` (housekeeping); returns how many."""
        result = await self.session.execute(
            delete(ProcessedUpdateRow).where(ProcessedUpdateRow.seen_at < moment)
        )
        return int(getattr(result, "rowcount", 0))
