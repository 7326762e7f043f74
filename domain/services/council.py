"""Use cases of the council and its roll: set a chat up, join, read the roll."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain import errors
from domain.model import (
    MAX_ADDRESS_PART,
    MAX_NAME,
    MAX_TITLE,
    Account,
    Council,
    Flat,
    Member,
    MemberStatus,
    Role,
    RoleEvent,
)
from domain.notices import queue
from domain.numbers import fold, parse_decimal
from domain.ports import UnitOfWork
from domain.rules import Counts, Quantity, count
from domain.services.admission import approval_notices
from domain.services.reading import require_council, rule_named
from domain.services.targets import Target, resolve


async def set_up_council(
    uow: UnitOfWork,
    *,
    chat_id: int,
    thread_id: int,
    title: str,
    user_id: int,
    is_group_admin: bool,
    rule_name: str,
    timezone: str,
    language: str,
    now: datetime,
) -> Council:
    """Link a chat to a council; run again by a chair it changes the default rule."""
    rule = rule_named(rule_name)
    async with uow:
        council = await uow.councils.by_chat(chat_id, thread_id)
        if council is not None:
            if not (council.is_chair(user_id) or is_group_admin):
                raise errors.NotChair()
            council.rule = rule
            made_chair = not council.is_chair(user_id)
            council.chairs.add(user_id)
            await uow.councils.update(council)
        else:
            if not is_group_admin:
                raise errors.NotGroupAdmin()
            council = await uow.councils.add(
                Council(
                    chat_id=chat_id,
                    thread_id=thread_id,
                    # The chat's own title, not typed by the user: shorten, never refuse.
                    title=" ".join(title.split())[:MAX_TITLE] or str(chat_id),
                    rule=rule,
                    timezone=timezone,
                    language=language,
                    created_at=now,
                    chairs={user_id},
                )
            )
            made_chair = True
        if made_chair:  # a group admin chairs by /setup: in the audit trail, by themselves
            assert council.id is not None
            await uow.roles.add(
                RoleEvent(council.id, Role.CHAIR, True, now, user_id=user_id, by_user=user_id)
            )
        await uow.commit()
        return council


# Building, optional unit, room: "3-2-301", "3/2/301", "3栋2单元301", "10号楼2单元301室",
# "3-301". Separators are explicit so that "3-2301" is never read as unit 230, room 1.
ADDRESS = re.compile(
    r"(?P<building>[0-9A-Za-z]+)\s*(?:号楼|栋|幢|座|号|楼|[-－—–/]|\s)\s*"
    r"(?:(?P<unit>[0-9A-Za-z]+)\s*(?:单元|[-－—–/]|\s)\s*)?"
    r"(?P<room>[0-9A-Za-z]+)\s*(?:室|号)?"
)


@dataclass(frozen=True)
class Address:
    building: str
    unit: str
    room: str


def parse_address(text: str) -> Address:
    """Read "3-2-301", "3/2/301" or "3栋2单元301" as building, unit and room."""
    # Full-width digits and dashes ("３－２－３０１") are read as ASCII.
    match = ADDRESS.fullmatch(fold(text).strip())
    if match is None:
        raise errors.InvalidInput(field="address", value=text[:40])
    address = Address(match["building"], match["unit"] or "", match["room"])
    longest = max(len(address.building), len(address.unit), len(address.room))
    if longest > MAX_TYPED_ADDRESS_PART:
        raise errors.TextTooLong(field="address", limit=MAX_TYPED_ADDRESS_PART, length=longest)
    return address


# A building, unit or room as people write it ("10", "B2", "1203"): a 40-digit room is
# a typo or a prank, and would be a household of its own on the roll.
MAX_TYPED_ADDRESS_PART = 8
assert MAX_TYPED_ADDRESS_PART <= MAX_ADDRESS_PART


MAX_AREA = Decimal(100000)  # m² of one flat: more is a typo


def parse_area(text: str) -> Decimal:
    """Square metres, "85.5", "85.5㎡" or "85.5 m²", to the hundredth; more than 0 (a
    flat of no area is a typo, and would count as an owner with nothing to weigh)."""
    area = parse_decimal(text, field="area", maximum=MAX_AREA, units=("㎡", "m2", "m²"))
    if area <= 0:
        raise errors.InvalidInput(field="area", value=text.strip()[:40])
    return area


async def join(
    uow: UnitOfWork,
    *,
    council_id: int,
    user_id: int,
    name: str,
    address: Address,
    area: Decimal | None,
    language: str | None,
    now: datetime,
) -> Member:
    async with uow:
        council = await require_council(uow, council_id)
        existing = await uow.members.by_user(council_id, user_id)
        if existing is not None and existing.status is not MemberStatus.REMOVED:
            raise errors.AlreadyMember(status=existing.status.value)
        if not council.self_join:
            raise errors.SelfJoinClosed()
        status = MemberStatus.PENDING if council.require_approval else MemberStatus.ACTIVE
        household = "-".join(p for p in (address.building, address.unit, address.room) if p)
        member = Member(
            council_id=council_id,
            user_id=user_id,
            # Taken from the messenger profile, so shortened rather than refused.
            name=" ".join(name.split())[:MAX_NAME] or str(user_id),
            building=address.building,
            unit=address.unit,
            room=address.room,
            joined_at=now,
            area=area if area is not None else Decimal(0),
            status=status,
            language=language,
            flats=_declared_flats(existing, household, area),
        )
        if existing is not None:
            member.id = existing.id
            await uow.members.update(member)
        else:
            member = await uow.members.add(member)
        if status is MemberStatus.PENDING:
            await queue(uow, *await approval_notices(uow, council, member, now))
        await uow.commit()
        return member


def _declared_flats(
    existing: Member | None, household: str, area: Decimal | None
) -> tuple[Flat, ...]:
    """A flat a resident declares at /join counts for the owners' rules only once staff
    verify it; one already verified with the same area (a member back on the roll) stays
    verified."""
    if area is None:
        return ()
    kept = existing is not None and Flat(household, area, True) in existing.flats
    return (Flat(household, area, verified=kept),)


async def verify_flat(
    uow: UnitOfWork,
    *,
    council_id: int | None,
    user_id: int,
    member_id: int,
    household: str | None = None,
    area: Decimal | None = None,
) -> Member:
    """Staff confirm a member's flat (and may correct its registered area): from now on
    it counts for the owners' rules. Co-owners' rows of the flat take the same area, so
    the roll never gives one flat two areas. Without ``household``, the member's flat
    (its only one, or its only unverified one); without ``council_id``, the member's
    council."""
    return await verify_named(
        uow,
        council_id=council_id,
        user_id=user_id,
        target=Target(member_id=member_id),
        household=household,
        area=area,
    )


async def verify_named(
    uow: UnitOfWork,
    *,
    council_id: int | None,
    user_id: int,
    target: Target,
    household: str | None = None,
    area: Decimal | None = None,
) -> Member:
    """``verify_flat`` for the member a command names (a number, an address, a reply).
    A member who declared no area gets, from staff who give one, a verified flat at
    their address."""
    async with uow:
        person = await resolve(uow, council_id, user_id, target)
        council, member = person.council, person.member
        council.require_staff(user_id)
        if member is None:
            raise errors.NotMember(field="target", name=person.name)
        assert member.id is not None and council.id is not None
        household = household or target.household
        flat = _flat_to_verify(member, household, area)
        registered = flat.area if area is None else area
        for other in await uow.members.of_flat(council.id, flat.household):
            if other.id == member.id:
                continue
            other.flats = tuple(
                Flat(f.household, registered, f.verified) if f.household == flat.household else f
                for f in other.flats
            )
            await uow.members.update(other)
        member.flats = tuple(
            sorted(
                {
                    *(f for f in member.flats if f.household != flat.household),
                    Flat(flat.household, registered, True),
                }
            )
        )
        await uow.members.update(member)
        await uow.commit()
        return member


def _flat_to_verify(member: Member, household: str | None, area: Decimal | None) -> Flat:
    if household is not None:
        flat = next((f for f in member.flats if f.household == household), None)
    elif len(member.flats) == 1:
        flat = member.flats[0]
    else:
        unverified = [f for f in member.flats if not f.verified]
        if len(unverified) > 1:
            choices = ", ".join(f.household for f in unverified)
            raise errors.Ambiguous(field="flat", id=member.household, choices=choices)
        flat = unverified[0] if unverified else None
    if flat is not None:
        return flat
    wanted = household or member.household
    if area is not None:  # declared nothing there: staff, who give the area, add it
        return Flat(wanted, area)
    raise errors.NotFound(field="flat", id=wanted, name=member.name)


async def link_account(
    uow: UnitOfWork, *, council_id: int, member_id: int, account: Account
) -> Member:
    """Give a member of this council's roll an account on another messenger (or a
    new one on a messenger it had), so that messenger's front end knows who it is.
    Refuses a member not on the roll (or removed) with ``NotMember``, and an account
    another member of the council has with ``AccountTaken``; linking an account the
    member already has changes nothing. Returns the member with its accounts."""
    async with uow:
        await require_council(uow, council_id)
        member = await uow.members.get(member_id)
        if member is None or member.council_id != council_id:
            raise errors.NotMember()
        if member.status is MemberStatus.REMOVED:
            raise errors.NotMember()
        await uow.members.link_account(member_id, account)
        linked = await uow.members.get(member_id)
        assert linked is not None
        await uow.commit()
        return linked


@dataclass(frozen=True)
class RollView:
    council: Council
    members: list[Member]
    pending: list[Member]

    @property
    def households(self) -> int:
        return len({m.household for m in self.voting})

    @property
    def voting(self) -> list[Member]:
        """Those on a ballot's base: the roll without its participants (列席)."""
        return [m for m in self.members if m.voting]

    @functools.cached_property
    def _owners_roll(self) -> Counts:
        return count([m.voter() for m in self.voting], {}, (Quantity.AREA, Quantity.OWNERS))

    @property
    def area(self) -> Decimal:
        """The verified flats' registered area, each flat once: the owners' rules' base."""
        total = self._owners_roll.roll[Quantity.AREA]
        return (Decimal(total.numerator) / Decimal(total.denominator)).quantize(Decimal("0.01"))

    @property
    def owners(self) -> int:
        """Owners as the law counts them (one flat one owner, one buyer of several one)."""
        return int(self._owners_roll.roll[Quantity.OWNERS])

    @property
    def unverified(self) -> int:
        """Flats declared by residents that staff have not verified: not counted yet."""
        verified = {f.household for m in self.voting for f in m.flats if f.verified}
        return len({f.household for m in self.voting for f in m.flats} - verified)


async def roll(uow: UnitOfWork, *, council_id: int) -> RollView:
    """The roll as anyone may read it: the front end shows the group names and counts."""
    async with uow:
        council = await require_council(uow, council_id)
        members = await uow.members.list(council_id, (MemberStatus.ACTIVE,))
        pending = await uow.members.list(council_id, (MemberStatus.PENDING,))
        return RollView(council, members, pending)


async def full_roll(uow: UnitOfWork, *, council_id: int, user_id: int) -> RollView:
    """The roll with addresses and areas: for chairs and staff only (``NotStaff``)."""
    async with uow:
        council = await require_council(uow, council_id)
        council.require_staff(user_id)
        members = await uow.members.list(council_id, (MemberStatus.ACTIVE,))
        pending = await uow.members.list(council_id, (MemberStatus.PENDING,))
        return RollView(council, members, pending)
