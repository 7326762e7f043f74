"""The web's links, login keys, sessions and audit trail of signing in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import aliased

from domain.model import Council, Member
from domain.web_access import (
    AccessEvent,
    AccessKind,
    LoginKey,
    SessionKind,
    Via,
    WebLink,
    WebSession,
)
from storage.base import CHUNK, Repository
from storage.council import SqlCouncilRepository, SqlMemberRepository
from storage.orm import CouncilRow, LoginKeyRow, MemberRow, WebAccessRow, WebLinkRow, WebSessionRow


class SqlWebAccessRepository(Repository):
    async def add_link(self, link: WebLink) -> WebLink:
        link.id = await self.session.scalar(
            self.insert(WebLinkRow)
            .values(
                council_id=link.council_id,
                user_id=link.user_id,
                digest=link.digest,
                created_at=link.created_at,
                expires_at=link.expires_at,
                used_at=link.used_at,
            )
            .returning(WebLinkRow.id)
        )
        return link

    async def link_by_digest(self, digest: str) -> WebLink | None:
        row = await self.session.scalar(select(WebLinkRow).where(WebLinkRow.digest == digest))
        if row is None:
            return None
        return WebLink(
            row.council_id, row.user_id, row.digest, row.created_at, row.expires_at,
            row.used_at, row.id,
        )  # fmt: skip

    async def use_link(self, link_id: int, now: datetime) -> bool:
        used = await self.session.scalar(
            update(WebLinkRow)
            .where(WebLinkRow.id == link_id, WebLinkRow.used_at.is_(None))
            .values(used_at=now)
            .returning(WebLinkRow.id)
        )
        return used is not None

    async def links_since(self, user_id: int, since: datetime) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(WebLinkRow)
            .where(WebLinkRow.user_id == user_id, WebLinkRow.created_at >= since)
        )
        return int(count or 0)

    async def add_key(self, key: LoginKey) -> LoginKey:
        key.id = await self.session.scalar(
            self.insert(LoginKeyRow)
            .values(
                council_id=key.council_id,
                member_id=key.member_id,
                digest=key.digest,
                created_at=key.created_at,
                created_by=key.created_by,
                revoked_at=key.revoked_at,
            )
            .returning(LoginKeyRow.id)
        )
        return key

    async def key_by_digest(self, digest: str) -> LoginKey | None:
        row = await self.session.scalar(select(LoginKeyRow).where(LoginKeyRow.digest == digest))
        return None if row is None else _key(row)

    async def keys_of(self, member_id: int) -> list[LoginKey]:
        rows = await self.session.scalars(
            select(LoginKeyRow).where(LoginKeyRow.member_id == member_id).order_by(LoginKeyRow.id)
        )
        return [_key(row) for row in rows]

    async def revoke_keys(self, member_ids: Sequence[int], now: datetime) -> list[int]:
        revoked: list[int] = []
        for start in range(0, len(member_ids), CHUNK):
            result = await self.session.execute(
                update(LoginKeyRow)
                .where(
                    LoginKeyRow.member_id.in_(member_ids[start : start + CHUNK]),
                    LoginKeyRow.revoked_at.is_(None),
                )
                .values(revoked_at=now)
                .returning(LoginKeyRow.id)
            )
            revoked.extend(result.scalars())
        for start in range(0, len(revoked), CHUNK):
            await self.session.execute(
                update(WebSessionRow)
                .where(
                    WebSessionRow.key_id.in_(revoked[start : start + CHUNK]),
                    WebSessionRow.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
        return revoked

    async def add_session(self, session: WebSession) -> WebSession:
        session.id = await self.session.scalar(
            self.insert(WebSessionRow)
            .values(
                digest=session.digest,
                council_id=session.council_id,
                kind=session.kind.value,
                user_id=session.user_id,
                member_id=session.member_id,
                via=session.via.value,
                key_id=session.key_id,
                created_at=session.created_at,
                expires_at=session.expires_at,
                revoked_at=session.revoked_at,
            )
            .returning(WebSessionRow.id)
        )
        return session

    async def session_by_digest(self, digest: str) -> WebSession | None:
        row = await self.session.scalar(select(WebSessionRow).where(WebSessionRow.digest == digest))
        return None if row is None else _session(row)

    async def signed_in(self, digest: str) -> tuple[WebSession, Council, Member | None] | None:
        resident, staff = _RESIDENT, _STAFF
        found = (
            await self.session.execute(
                select(WebSessionRow, CouncilRow, resident, staff)
                .join(CouncilRow, CouncilRow.id == WebSessionRow.council_id)
                .outerjoin(resident, resident.id == WebSessionRow.member_id)
                .outerjoin(
                    staff,
                    and_(
                        WebSessionRow.kind == SessionKind.STAFF.value,
                        staff.council_id == WebSessionRow.council_id,
                        staff.user_id == WebSessionRow.user_id,
                    ),
                )
                .where(WebSessionRow.digest == digest)
            )
        ).one_or_none()
        if found is None:
            return None
        session_row, council_row, resident_row, staff_row = found
        council = await SqlCouncilRepository(self.session).from_row(council_row)
        member_row = resident_row if session_row.member_id is not None else staff_row
        member = None
        if member_row is not None:
            member = (await SqlMemberRepository(self.session).from_rows([member_row]))[0]
        return _session(session_row), council, member

    async def revoke_session(self, session_id: int, now: datetime) -> None:
        await self.session.execute(
            update(WebSessionRow)
            .where(WebSessionRow.id == session_id, WebSessionRow.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def record(self, event: AccessEvent) -> None:
        await self.session.execute(
            self.insert(WebAccessRow).values(
                at=event.at,
                kind=event.kind.value,
                ok=event.ok,
                council_id=event.council_id,
                member_id=event.member_id,
                user_id=event.user_id,
                client=event.client,
                detail=event.detail,
            )
        )

    async def failures_since(self, client: str, since: datetime) -> list[datetime]:
        times = await self.session.scalars(
            select(WebAccessRow.at).where(
                WebAccessRow.client == client,
                WebAccessRow.at >= since,
                WebAccessRow.ok.is_(False),
            )
        )
        return list(times)

    async def trail(
        self, council_id: int, *, member_id: int | None = None, limit: int = 200
    ) -> list[AccessEvent]:
        query = select(WebAccessRow).where(WebAccessRow.council_id == council_id)
        if member_id is not None:
            query = query.where(WebAccessRow.member_id == member_id)
        rows = await self.session.scalars(
            query.order_by(WebAccessRow.at.desc(), WebAccessRow.id.desc()).limit(limit)
        )
        return [
            AccessEvent(
                at=row.at,
                kind=AccessKind(row.kind),
                ok=row.ok,
                council_id=row.council_id,
                member_id=row.member_id,
                user_id=row.user_id,
                client=row.client,
                detail=row.detail,
                id=row.id,
            )
            for row in rows
        ]


def _key(row: LoginKeyRow) -> LoginKey:
    return LoginKey(
        row.council_id, row.member_id, row.digest, row.created_at, row.created_by,
        row.revoked_at, row.id,
    )  # fmt: skip


# A resident's member by id; a staff member's entry on the roll by user id. Made once:
# a statement built with new aliases each time is compiled anew each time.
_RESIDENT = aliased(MemberRow, name="resident")
_STAFF = aliased(MemberRow, name="staff_entry")


def _session(row: WebSessionRow) -> WebSession:
    return WebSession(
        digest=row.digest,
        council_id=row.council_id,
        kind=SessionKind(row.kind),
        via=Via(row.via),
        created_at=row.created_at,
        expires_at=row.expires_at,
        user_id=row.user_id,
        member_id=row.member_id,
        key_id=row.key_id,
        revoked_at=row.revoked_at,
        id=row.id,
    )
