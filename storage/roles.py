"""The audit trail of roles (``role_events``)."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from domain.model import Role, RoleEvent
from storage.base import Repository
from storage.orm import RoleEventRow


class SqlRoleEventRepository(Repository):
    async def add(self, event: RoleEvent) -> RoleEvent:
        event_id = await self.session.scalar(
            self.insert(RoleEventRow)
            .values(
                council_id=event.council_id,
                user_id=event.user_id,
                member_id=event.member_id,
                role=event.role.value,
                granted=event.granted,
                by_user=event.by_user,
                at=event.at,
            )
            .returning(RoleEventRow.id)
        )
        return dataclasses.replace(event, id=event_id)

    async def of_council(self, council_id: int, limit: int = 50) -> list[RoleEvent]:
        rows = await self.session.scalars(
            select(RoleEventRow)
            .where(RoleEventRow.council_id == council_id)
            .order_by(RoleEventRow.at.desc(), RoleEventRow.id.desc())
            .limit(limit)
        )
        return [
            RoleEvent(
                id=row.id,
                council_id=row.council_id,
                role=Role(row.role),
                granted=row.granted,
                at=row.at,
                user_id=row.user_id,
                member_id=row.member_id,
                by_user=row.by_user,
            )
            for row in rows
        ]
