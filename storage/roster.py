"""Roll files checked and waiting for confirmation, or being written (``roster_imports``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, cast, func, literal, select, update

from domain.ports import Lock
from domain.roster import ImportStatus, RosterImport
from storage.base import Repository, required
from storage.orm import RosterImportRow


class SqlRosterImportRepository(Repository):
    async def add(self, roster_import: RosterImport) -> RosterImport:
        roster_import.id = await self.session.scalar(
            self.insert(RosterImportRow)
            .values(**_values(roster_import))
            .returning(RosterImportRow.id)
        )
        return roster_import

    async def get(self, import_id: int, lock: Lock = Lock.NONE) -> RosterImport | None:
        statement = select(RosterImportRow).where(RosterImportRow.id == import_id)
        if lock is not Lock.NONE:
            # SQLite: BEGIN IMMEDIATE already holds the write lock; the clause is dropped.
            statement = statement.with_for_update().execution_options(populate_existing=True)
        row = await self.session.scalar(statement)
        return None if row is None else _import(row)

    async def update(self, roster_import: RosterImport) -> None:
        import_id = required(roster_import.id, "roster import")
        await self.session.execute(
            update(RosterImportRow)
            .where(RosterImportRow.id == import_id)
            .values(**_values(roster_import)),
            execution_options={"synchronize_session": False},
        )

    async def progress(self, import_id: int) -> tuple[ImportStatus, int] | None:
        statement = (
            select(RosterImportRow.status, RosterImportRow.plan["done"].as_integer())
            .where(RosterImportRow.id == import_id)
            .with_for_update()
        )
        found = (await self.session.execute(statement)).first()
        return None if found is None else (ImportStatus(found[0]), int(found[1] or 0))

    async def set_progress(
        self, import_id: int, status: ImportStatus, done: int, decided_at: datetime | None
    ) -> None:
        # Only "done" changes in the plan: set in the database, the plan is neither read
        # nor written whole (hundreds of kilobytes for thousands of households).
        plan: Any
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB, array

            plan = cast(
                func.jsonb_set(
                    cast(RosterImportRow.plan, JSONB),
                    array(["done"]),
                    func.to_jsonb(cast(literal(done), Integer)),
                ),
                JSON,
            )
        else:
            plan = func.json_set(RosterImportRow.plan, "$.done", done)
        await self.session.execute(
            update(RosterImportRow)
            .where(RosterImportRow.id == import_id)
            .values(status=status.value, decided_at=decided_at, plan=plan),
            execution_options={"synchronize_session": False},
        )

    async def cancel_pending(self, council_id: int, user_id: int, now: datetime) -> int:
        result = await self.session.execute(
            update(RosterImportRow)
            .where(
                RosterImportRow.council_id == council_id,
                RosterImportRow.user_id == user_id,
                RosterImportRow.status == ImportStatus.PENDING.value,
            )
            .values(status=ImportStatus.CANCELLED.value, decided_at=now)
            .returning(RosterImportRow.id),
            execution_options={"synchronize_session": False},
        )
        return len(result.all())


def _values(roster_import: RosterImport) -> dict[str, Any]:
    return {
        "council_id": roster_import.council_id,
        "user_id": roster_import.user_id,
        "file_name": roster_import.file_name,
        "digest": roster_import.digest,
        "plan": roster_import.plan,
        "status": roster_import.status.value,
        "created_at": roster_import.created_at,
        "decided_at": roster_import.decided_at,
    }


def _import(row: RosterImportRow) -> RosterImport:
    return RosterImport(
        id=row.id,
        council_id=row.council_id,
        user_id=row.user_id,
        file_name=row.file_name,
        digest=row.digest,
        plan=dict(row.plan),
        status=ImportStatus(row.status),
        created_at=row.created_at,
        decided_at=row.decided_at,
    )
