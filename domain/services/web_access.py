"""Signing in on the web (``domain.web_access``): console links, households' login
keys, Mini App sign-ins, and the session a request carries.

Like binding, a refused attempt is recorded (the audit trail, and the client's rate
limit), so a refusal is returned in ``SignedIn.refusal``, not raised: raising would
roll the record back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import NotFound
from domain.model import Council, Member, MemberStatus
from domain.ports import UnitOfWork
from domain.services.binding import kept_council
from domain.services.reading import require_council
from domain.web_access import (
    ATTEMPT_WINDOW,
    DEFAULT_FAILURES_PER_HOUR,
    DEFAULT_LINK_MINUTES,
    DEFAULT_LINKS_PER_HOUR,
    DEFAULT_RESIDENT_DAYS,
    DEFAULT_STAFF_HOURS,
    MAX_CLIENT,
    AccessEvent,
    AccessKind,
    LoginKey,
    SessionKind,
    Via,
    WebLink,
    WebRefused,
    WebSession,
    digest,
    looks_like_token,
    new_token,
    retry_in_minutes,
)


@dataclass(frozen=True)
class Lifetimes:
    """How long links and sessions last, and how many refusals a client may have."""

    link: timedelta = timedelta(minutes=DEFAULT_LINK_MINUTES)
    staff: timedelta = timedelta(hours=DEFAULT_STAFF_HOURS)
    resident: timedelta = timedelta(days=DEFAULT_RESIDENT_DAYS)
    failures_per_hour: int = DEFAULT_FAILURES_PER_HOUR
    links_per_hour: int = DEFAULT_LINKS_PER_HOUR


@dataclass(frozen=True)
class ConsoleLink:
    council: Council
    token: str  # in the link sent; nowhere else
    expires_at: datetime


async def console_link(
    uow: UnitOfWork,
    *,
    user_id: int,
    council_id: int | None,
    now: datetime,
    key: bytes,
    lifetimes: Lifetimes = Lifetimes(),
    make_token: Callable[[], str] = new_token,
) -> ConsoleLink:
    """``/console``: a one-time sign-in link for a chair or staff member of the council
    (the one they keep, in a private chat: ``WhichCouncil`` when several)."""
    async with uow:
        council = await kept_council(uow, council_id, user_id)
        assert council.id is not None
        asked = await uow.web.links_since(user_id, now - ATTEMPT_WINDOW)
        if lifetimes.links_per_hour and asked >= lifetimes.links_per_hour:
            raise WebRefused(field="too_many", count=60)
        token = make_token()
        expires_at = now + lifetimes.link
        await uow.web.add_link(WebLink(council.id, user_id, digest(token, key), now, expires_at))
        await uow.web.record(
            AccessEvent(now, AccessKind.LINK_ISSUED, True, council.id, user_id=user_id)
        )
        await uow.commit()
        return ConsoleLink(council, token, expires_at)


@dataclass(frozen=True)
class SignedIn:
    """A new session (its token goes into the cookie), or why not."""

    session: WebSession | None = None
    token: str | None = None
    refusal: WebRefused | None = None


async def sign_in_by_link(
    uow: UnitOfWork,
    *,
    token: str,
    client: str,
    now: datetime,
    key: bytes,
    lifetimes: Lifetimes = Lifetimes(),
    make_token: Callable[[], str] = new_token,
) -> SignedIn:
    async with uow:
        client = client[:MAX_CLIENT]
        limited = await _limited(uow, client, now, lifetimes, AccessKind.LINK_REFUSED)
        if limited is not None:
            await uow.commit()
            return limited
        refusal: WebRefused | None = None
        link = await uow.web.link_by_digest(digest(token, key)) if looks_like_token(token) else None
        council: Council | None = None
        if link is None:
            refusal = WebRefused(field="unknown")
        elif link.used_at is not None:
            refusal = WebRefused(field="used")
        elif now >= link.expires_at:
            refusal = WebRefused(field="expired")
        else:
            council = await uow.councils.get(link.council_id)
            if council is None or not council.is_staff(link.user_id):
                refusal = WebRefused(field="not_staff")
            else:
                assert link.id is not None
                if not await uow.web.use_link(link.id, now):
                    refusal = WebRefused(field="used")
        if refusal is not None or link is None:
            assert refusal is not None
            await uow.web.record(
                AccessEvent(
                    now,
                    AccessKind.LINK_REFUSED,
                    False,
                    link.council_id if link else None,
                    user_id=link.user_id if link else None,
                    client=client,
                    detail=str(refusal.params["field"]),
                )
            )
            await uow.commit()
            return SignedIn(refusal=refusal)
        signed = await _open(
            uow,
            council_id=link.council_id,
            kind=SessionKind.STAFF,
            via=Via.LINK,
            now=now,
            lasts=lifetimes.staff,
            key=key,
            make_token=make_token,
            user_id=link.user_id,
        )
        await uow.web.record(
            AccessEvent(
                now, AccessKind.LINK_USED, True, link.council_id, user_id=link.user_id,
                client=client,
            )
        )  # fmt: skip
        await uow.commit()
        return signed


async def sign_in_by_key(
    uow: UnitOfWork,
    *,
    token: str,
    client: str,
    now: datetime,
    key: bytes,
    lifetimes: Lifetimes = Lifetimes(),
    make_token: Callable[[], str] = new_token,
) -> SignedIn:
    """A household's login key, scanned: a resident session for its roll entry, as
    often as it is scanned, until the key is revoked or reissued."""
    async with uow:
        client = client[:MAX_CLIENT]
        limited = await _limited(uow, client, now, lifetimes, AccessKind.KEY_REFUSED)
        if limited is not None:
            await uow.commit()
            return limited
        found = await uow.web.key_by_digest(digest(token, key)) if looks_like_token(token) else None
        refusal: WebRefused | None = None
        member: Member | None = None
        if found is None:
            refusal = WebRefused(field="unknown")
        elif found.revoked_at is not None:
            refusal = WebRefused(field="revoked")
        else:
            member = await uow.members.get(found.member_id)
            if member is None or member.status is MemberStatus.REMOVED:
                refusal = WebRefused(field="removed")
        if refusal is not None or found is None:
            assert refusal is not None
            await uow.web.record(
                AccessEvent(
                    now,
                    AccessKind.KEY_REFUSED,
                    False,
                    found.council_id if found else None,
                    member_id=found.member_id if found else None,
                    client=client,
                    detail=str(refusal.params["field"]),
                )
            )
            await uow.commit()
            return SignedIn(refusal=refusal)
        signed = await _open(
            uow,
            council_id=found.council_id,
            kind=SessionKind.RESIDENT,
            via=Via.KEY,
            now=now,
            lasts=lifetimes.resident,
            key=key,
            make_token=make_token,
            member_id=found.member_id,
            key_id=found.id,
        )
        await uow.web.record(
            AccessEvent(
                now, AccessKind.KEY_USED, True, found.council_id, member_id=found.member_id,
                client=client,
            )
        )  # fmt: skip
        await uow.commit()
        return signed


async def sign_in_by_telegram(
    uow: UnitOfWork,
    *,
    user_id: int,
    council_id: int,
    client: str,
    now: datetime,
    key: bytes,
    lifetimes: Lifetimes = Lifetimes(),
    make_token: Callable[[], str] = new_token,
) -> SignedIn:
    """The Mini App: Telegram vouched for ``user_id`` (the front end checked its
    ``initData``); a resident session for the member with that account."""
    async with uow:
        client = client[:MAX_CLIENT]
        member = await uow.members.by_user(council_id, user_id)
        if member is None or member.status is MemberStatus.REMOVED:
            refusal = WebRefused(field="not_member")
            await uow.web.record(
                AccessEvent(
                    now, AccessKind.TELEGRAM_REFUSED, False, None, user_id=user_id,
                    client=client, detail="not_member",
                )
            )  # fmt: skip
            await uow.commit()
            return SignedIn(refusal=refusal)
        signed = await _open(
            uow,
            council_id=council_id,
            kind=SessionKind.RESIDENT,
            via=Via.TELEGRAM,
            now=now,
            lasts=lifetimes.resident,
            key=key,
            make_token=make_token,
            member_id=member.id,
            user_id=user_id,
        )
        await uow.web.record(
            AccessEvent(
                now, AccessKind.TELEGRAM, True, council_id, member_id=member.id,
                user_id=user_id, client=client,
            )
        )  # fmt: skip
        await uow.commit()
        return signed


async def refused_telegram(
    uow: UnitOfWork, *, client: str, now: datetime, why: str, user_id: int | None = None
) -> None:
    """Records ``initData`` the front end refused (forged or stale)."""
    async with uow:
        await uow.web.record(
            AccessEvent(
                now, AccessKind.TELEGRAM_REFUSED, False, None, user_id=user_id,
                client=client[:MAX_CLIENT], detail=why,
            )
        )  # fmt: skip
        await uow.commit()


async def _limited(
    uow: UnitOfWork, client: str, now: datetime, lifetimes: Lifetimes, kind: AccessKind
) -> SignedIn | None:
    failures = await uow.web.failures_since(client, now - ATTEMPT_WINDOW)
    limit = lifetimes.failures_per_hour
    if not limit or len(failures) < limit:
        return None
    await uow.web.record(AccessEvent(now, kind, False, client=client, detail="too_many"))
    minutes = retry_in_minutes([*failures, now], limit, now)
    return SignedIn(refusal=WebRefused(field="too_many", count=minutes))


async def _open(
    uow: UnitOfWork,
    *,
    council_id: int,
    kind: SessionKind,
    via: Via,
    now: datetime,
    lasts: timedelta,
    key: bytes,
    make_token: Callable[[], str],
    user_id: int | None = None,
    member_id: int | None = None,
    key_id: int | None = None,
) -> SignedIn:
    token = make_token()
    session = await uow.web.add_session(
        WebSession(
            digest=digest(token, key),
            council_id=council_id,
            kind=kind,
            via=via,
            created_at=now,
            expires_at=now + lasts,
            user_id=user_id,
            member_id=member_id,
            key_id=key_id,
        )
    )
    return SignedIn(session=session, token=token)


@dataclass(frozen=True)
class Visitor:
    """Who a request's session signs in: a council's chair or staff member (``user_id``,
    perhaps on the roll too: ``member``), or a resident (``member``)."""

    session: WebSession
    council: Council
    member: Member | None

    @property
    def is_staff(self) -> bool:
        return self.session.kind is SessionKind.STAFF

    @property
    def user_id(self) -> int | None:
        return self.session.user_id


async def visitor(uow: UnitOfWork, *, token: str, now: datetime, key: bytes) -> Visitor | None:
    """The session a cookie carries, if it is still good: not expired or revoked, its
    staff member still chair or staff, its resident still on the roll."""
    if not looks_like_token(token):
        return None
    async with uow:
        found = await uow.web.signed_in(digest(token, key))
        if found is None:
            return None
        session, council, member = found
        if not session.valid(now):
            return None
        if session.kind is SessionKind.STAFF:
            if session.user_id is None or not council.is_staff(session.user_id):
                return None
        elif member is None or member.status is MemberStatus.REMOVED:
            return None
        return Visitor(session, council, member)


async def sign_out(uow: UnitOfWork, *, token: str, now: datetime, key: bytes) -> None:
    if not looks_like_token(token):
        return
    async with uow:
        session = await uow.web.session_by_digest(digest(token, key))
        if session is None or session.id is None or session.revoked_at is not None:
            return
        await uow.web.revoke_session(session.id, now)
        await uow.web.record(
            AccessEvent(
                now, AccessKind.SIGNED_OUT, True, session.council_id,
                member_id=session.member_id, user_id=session.user_id,
            )
        )  # fmt: skip
        await uow.commit()


@dataclass(frozen=True)
class IssuedKey:
    member: Member
    token: str  # printed on the card; nowhere else


async def issue_login_keys(
    uow: UnitOfWork,
    *,
    council_id: int,
    member_ids: Sequence[int],
    user_id: int | None,
    now: datetime,
    key: bytes,
    make_token: Callable[[], str] = new_token,
) -> list[IssuedKey]:
    """New login keys for these roll entries (a printed card each), revoking their
    older keys and the browsers those signed in. ``user_id``: the chair or staff member
    (None: the operator at the command line)."""
    async with uow:
        issued = await issue_keys_within(
            uow,
            council_id=council_id,
            member_ids=member_ids,
            user_id=user_id,
            now=now,
            key=key,
            make_token=make_token,
        )
        await uow.commit()
        return issued


async def issue_keys_within(
    uow: UnitOfWork,
    *,
    council_id: int,
    member_ids: Sequence[int],
    user_id: int | None,
    now: datetime,
    key: bytes,
    make_token: Callable[[], str] = new_token,
) -> list[IssuedKey]:
    """``issue_login_keys`` in a transaction the caller commits (printing cards)."""
    council = await require_council(uow, council_id)
    if user_id is not None:
        council.require_staff(user_id)
    members = await uow.members.by_ids(list(member_ids))
    wanted = [
        members[i]
        for i in member_ids
        if i in members
        and members[i].council_id == council_id
        and members[i].status is not MemberStatus.REMOVED
    ]
    if not wanted:
        raise NotFound(field="member", id=member_ids[0] if len(member_ids) == 1 else "")
    await uow.web.revoke_keys([m.id for m in wanted if m.id is not None], now)
    issued: list[IssuedKey] = []
    for member in wanted:
        assert member.id is not None
        token = make_token()
        await uow.web.add_key(
            LoginKey(council_id, member.id, digest(token, key), now, created_by=user_id)
        )
        await uow.web.record(
            AccessEvent(
                now, AccessKind.KEY_ISSUED, True, council_id, member_id=member.id,
                user_id=user_id,
            )
        )  # fmt: skip
        issued.append(IssuedKey(member, token))
    return issued


async def revoke_login_key(
    uow: UnitOfWork, *, council_id: int, member_id: int, user_id: int | None, now: datetime
) -> int:
    """Ends a household's login key and the browsers it signed in (a lost card); how
    many keys were in force."""
    async with uow:
        council = await require_council(uow, council_id)
        if user_id is not None:
            council.require_staff(user_id)
        member = await uow.members.get(member_id)
        if member is None or member.council_id != council_id:
            raise NotFound(field="member", id=member_id)
        revoked = await uow.web.revoke_keys([member_id], now)
        await uow.web.record(
            AccessEvent(
                now, AccessKind.KEY_REVOKED, True, council_id, member_id=member_id,
                user_id=user_id, detail=str(len(revoked)),
            )
        )  # fmt: skip
        await uow.commit()
        return len(revoked)
