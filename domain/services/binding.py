"""Binding codes: cards for the roll's members without an account, and binding by one.

Staff print a card for each member the community's roll lists who has no account yet
(``Member.user_id`` None: an imported roster row); the resident scans its QR code (or
types the code) and the account is bound to that roll entry. A new card for a member
ends the older, unused ones, since only a code's digest is kept and it cannot be
printed again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.binding import (
    ATTEMPT_WINDOW,
    DEFAULT_FAILURES_PER_HOUR,
    DEFAULT_VALID_DAYS,
    BindingCode,
    BindingRefused,
    NothingToPrint,
    WhichCouncil,
    digest,
    new_code,
    read_code,
    retry_in_minutes,
)
from domain.errors import InvalidInput, NotStaff
from domain.model import Account, Council, Member, MemberStatus
from domain.numbers import fold
from domain.ports import UnitOfWork
from domain.services.council import parse_address
from domain.services.reading import require_council


@dataclass(frozen=True)
class Card:
    member: Member
    code: str  # as printed; nowhere else once the card is made
    login_key: str | None = None  # the household's key to the web page, when issued with it


@dataclass(frozen=True)
class CardBatch:
    council: Council
    cards: list[Card]  # in address order, for a walk from door to door
    expires_at: datetime
    replaced: int  # older unused codes these cards end


async def issue_cards(
    uow: UnitOfWork,
    *,
    council_id: int | None,
    user_id: int | None,
    households: Sequence[str] = (),
    now: datetime,
    valid_for: timedelta = timedelta(days=DEFAULT_VALID_DAYS),
    make_code: Callable[[], str] = new_code,
    key: bytes = b"",
) -> CardBatch:
    """A fresh code for each active member of the roll without an account (or only of
    ``households``: a household "3-2-301" or a building's or unit's prefix "3", "3-2"),
    ending their older unused codes. ``user_id`` must be a chair or staff; None is the
    operator at the command line, who holds the database already. Without
    ``council_id`` (a private chat) it is the council ``user_id`` keeps, if only one."""
    async with uow:
        batch = await issue_cards_within(
            uow,
            council_id=council_id,
            user_id=user_id,
            households=households,
            now=now,
            valid_for=valid_for,
            make_code=make_code,
            key=key,
        )
        await uow.commit()
        return batch


async def issue_cards_within(
    uow: UnitOfWork,
    *,
    council_id: int | None,
    user_id: int | None,
    households: Sequence[str] = (),
    now: datetime,
    valid_for: timedelta = timedelta(days=DEFAULT_VALID_DAYS),
    make_code: Callable[[], str] = new_code,
    key: bytes = b"",
) -> CardBatch:
    """``issue_cards`` in a transaction the caller commits (cards with login keys)."""
    wanted = [_household_key(h) for h in households]
    council = await kept_council(uow, council_id, user_id)
    assert council.id is not None
    council_id = council.id
    members = [
        m
        for m in await uow.members.list(council_id, (MemberStatus.ACTIVE,))
        if m.user_id is None and (not wanted or any(_within(m.household, w) for w in wanted))
    ]
    if not members:
        if households:
            raise NothingToPrint(field="households", households=" ".join(households))
        raise NothingToPrint()
    members.sort(key=lambda m: (_address_order(m.household), m.name, m.id or 0))
    member_ids = [m.id for m in members if m.id is not None]
    replaced = await uow.binding_codes.expire_unused(member_ids, now)
    expires_at = now + valid_for
    cards = [Card(m, make_code()) for m in members]
    await uow.binding_codes.add(
        [
            BindingCode(
                council_id=council_id,
                member_id=card.member.id,
                digest=digest(card.code, key),
                created_at=now,
                expires_at=expires_at,
            )
            for card in cards
            if card.member.id is not None
        ]
    )
    return CardBatch(council, cards, expires_at, replaced)


async def kept_council(uow: UnitOfWork, council_id: int | None, user_id: int | None) -> Council:
    if council_id is not None:
        council = await require_council(uow, council_id)
        if user_id is not None:
            council.require_staff(user_id)
        return council
    kept = await uow.councils.of_person(user_id) if user_id is not None else []
    if not kept:
        raise NotStaff()
    if len(kept) > 1:
        choices = "\n".join(f"#{c.id} {c.title}" for c in kept)
        raise WhichCouncil(choices=choices, first=kept[0].id)
    return kept[0]


def _household_key(text: str) -> str:
    """A household as the roll writes it ("3栋2单元301" is "3-2-301"), or a prefix."""
    try:
        address = parse_address(text)
    except InvalidInput:
        return fold(text).strip()
    return "-".join(p for p in (address.building, address.unit, address.room) if p)


def _within(household: str, key: str) -> bool:
    return household == key or household.startswith(key + "-")


def _address_order(household: str) -> tuple[tuple[int, int | str], ...]:
    """ "3-2-301" before "3-10-101" before "12-1-101": numbers as numbers."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[-/]", household))


@dataclass(frozen=True)
class Binding:
    """What became of a code: the member bound, or why not (``refusal``). Either way the
    attempt was recorded, so a refusal is returned, not raised: raising would roll back
    the record that limits guessing."""

    council: Council | None = None
    member: Member | None = None
    refusal: BindingRefused | None = None


async def bind(
    uow: UnitOfWork,
    *,
    text: str,
    user_id: int,
    language: str | None,
    now: datetime,
    failures_per_hour: int = DEFAULT_FAILURES_PER_HOUR,
    key: bytes = b"",
) -> Binding:
    """Bind the account ``user_id`` to the roll entry whose code ``text`` is. ``key`` is
    the one the codes were issued with (``issue_cards``): the front end's secret."""
    async with uow:
        failures = await uow.binding_codes.failures_since(user_id, now - ATTEMPT_WINDOW)
        if failures_per_hour and len(failures) >= failures_per_hour:
            await uow.binding_codes.attempt(user_id, now, ok=False)
            minutes = retry_in_minutes([*failures, now], failures_per_hour, now)
            await uow.commit()
            return Binding(refusal=BindingRefused(field="too_many", count=minutes))
        result = await _bind(uow, text=text, user_id=user_id, language=language, now=now, key=key)
        await uow.binding_codes.attempt(user_id, now, ok=result.refusal is None)
        await uow.commit()
        return result


async def _bind(
    uow: UnitOfWork, *, text: str, user_id: int, language: str | None, now: datetime, key: bytes
) -> Binding:
    code = read_code(text)
    if code is None:
        return Binding(refusal=BindingRefused(field="malformed", value=text[:40]))
    found = await uow.binding_codes.by_digest(digest(code, key))
    if found is None:
        return Binding(refusal=BindingRefused(field="unknown", code=code))
    if found.used_at is not None:
        return Binding(refusal=BindingRefused(field="used", code=code))
    if found.expired(now):
        return Binding(refusal=BindingRefused(field="expired", code=code))
    council = await require_council(uow, found.council_id)
    member = await uow.members.get(found.member_id)
    if member is None or member.status is MemberStatus.REMOVED:
        # The entry left the roll after the card was made: nobody used the code.
        return Binding(refusal=BindingRefused(field="removed", code=code))
    if member.user_id is not None:
        # The entry got an account another way (a /join matched by the import).
        return Binding(refusal=BindingRefused(field="used", code=code))
    mine = await uow.members.by_user(found.council_id, user_id)
    if mine is not None and mine.status is not MemberStatus.REMOVED:
        return Binding(
            council,
            mine,
            BindingRefused(field="already_bound", council=council.title, name=mine.name),
        )
    assert found.id is not None
    if not await uow.binding_codes.use(found.id, user_id, now):
        return Binding(refusal=BindingRefused(field="used", code=code))
    if mine is not None:
        # A removed entry of this account (a self-join the imported roll replaced) keeps
        # its history but lets the account go: an account is on one entry of a roll.
        mine.user_id = None
        await uow.members.update(mine)
    await uow.members.link_account(found.member_id, Account.telegram(user_id))
    bound = await uow.members.get(found.member_id)
    assert bound is not None
    if bound.language is None and language is not None:
        bound.language = language
        await uow.members.update(bound)
    return Binding(council, bound)
