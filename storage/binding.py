"""绑定码 and the attempts to use them (``binding_codes``, ``binding_attempts``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from domain.binding import BindingCode
from storage.base import CHUNK, Repository
from storage.orm import BindingAttemptRow, BindingCodeRow


class SqlBindingCodeRepository(Repository):
    async def add(self, codes: Sequence[BindingCode]) -> None:
        for start in range(0, len(codes), CHUNK):
            chunk = codes[start : start + CHUNK]
            await self.session.execute(
                self.insert(BindingCodeRow).values([_values(code) for code in chunk])
            )

    async def expire_unused(self, member_ids: Sequence[int], now: datetime) -> int:
        ended = 0
        for start in range(0, len(member_ids), CHUNK):
            result = await self.session.execute(
                update(BindingCodeRow)
                .where(
                    BindingCodeRow.member_id.in_(member_ids[start : start + CHUNK]),
                    BindingCodeRow.used_at.is_(None),
                    BindingCodeRow.expires_at > now,
                )
                .values(expires_at=now)
                .returning(BindingCodeRow.id)
            )
            ended += len(result.all())
        return ended

    async def by_digest(self, digest: str) -> BindingCode | None:
        row = await self.session.scalar(
            select(BindingCodeRow).where(BindingCodeRow.digest == digest)
        )
        return None if row is None else _code(row)

    async def use(self, code_id: int, user_id: int, now: datetime) -> bool:
        used = await self.session.scalar(
            update(BindingCodeRow)
            .where(BindingCodeRow.id == code_id, BindingCodeRow.used_at.is_(None))
            .values(used_at=now, used_by=user_id)
            .returning(BindingCodeRow.id)
        )
        return used is not None

    async def attempt(self, user_id: int, at: datetime, ok: bool) -> None:
        await self.session.execute(
            self.insert(BindingAttemptRow).values(user_id=user_id, at=at, ok=ok)
        )

    async def failures_since(self, user_id: int, since: datetime) -> list[datetime]:
        times = await self.session.scalars(
            select(BindingAttemptRow.at).where(
                BindingAttemptRow.user_id == user_id,
                BindingAttemptRow.at >= since,
                BindingAttemptRow.ok.is_(False),
            )
        )
        return list(times)


def _values(code: BindingCode) -> dict[str, object]:
    return {
        "council_id": code.council_id,
        "member_id": code.member_id,
        "digest": code.digest,
        "created_at": code.created_at,
        "expires_at": code.expires_at,
        "used_at": code.used_at,
        "used_by": code.used_by,
    }


def _code(row: BindingCodeRow) -> BindingCode:
    return BindingCode(
        council_id=row.council_id,
        member_id=row.member_id,
        digest=row.digest,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        used_by=row.used_by,
        id=row.id,
    )
