"""Drafts: long proposals being written in a private chat."""

from __future__ import annotations

from sqlalchemy import delete, select

from domain.model import Draft
from storage.base import Repository
from storage.orm import DraftRow


class SqlDraftRepository(Repository):
    async def get(self, user_id: int) -> Draft | None:
        row = await self.session.scalar(select(DraftRow).where(DraftRow.user_id == user_id))
        if row is None:
            return None
        return Draft(
            user_id=row.user_id, topic_id=row.topic_id, text=row.text, updated_at=row.updated_at
        )

    async def put(self, draft: Draft) -> None:
        values = {"topic_id": draft.topic_id, "text": draft.text, "updated_at": draft.updated_at}
        statement = self.insert(DraftRow).values(user_id=draft.user_id, **values)
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=["user_id"], set_=values)
        )

    async def delete(self, user_id: int) -> None:
        await self.session.execute(delete(DraftRow).where(DraftRow.user_id == user_id))
