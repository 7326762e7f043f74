"""Roles and keeping the roll, on the fakes: chairs grant and revoke chair and staff,
staff switch members between voter and participant, a council keeps one chair, a
chair follows the group's admins, joins wait for approval, members are removed with
their history, self-declared flats are verified. Every change is a role event in its
transaction; every refusal writes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain import errors, services
from domain.model import Member, MemberStatus, NoticeKind, Role
from domain.rules import Choice
from domain.services import Target
from tests.domain.builders import (
    CHAIR,
    CHAT,
    NOW,
    STRANGER,
    ident,
    join,
    notices,
    open_topic,
    put_motion,
    reachable,
    set_up,
    unchanged,
    update_council,
)
from tests.fakes import FakeUnitOfWorkFactory

STAFF = 7  # a social worker (社工), not on the roll
OTHER_CHAIR = 2
RESIDENT = 101
NEIGHBOUR = 102


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


def events(factory: FakeUnitOfWorkFactory) -> list[tuple[Role, bool, int | None, int | None]]:
    """(role, granted, whose user id, by whom) of every role event, oldest first."""
    return [
        (e.role, e.granted, e.user_id, e.by_user)
        for e in sorted(factory.store.committed.role_events, key=lambda e: e.id or 0)
    ]


async def council(factory: FakeUnitOfWorkFactory) -> int:
    council_id = await set_up(factory)
    await join(factory, council_id, RESIDENT, address="3-2-301")
    await join(factory, council_id, NEIGHBOUR, address="3-2-302")
    return council_id


async def change(
    factory: FakeUnitOfWorkFactory,
    council_id: int | None,
    role: Role,
    target: Target,
    *,
    by: int = CHAIR,
    granted: bool = True,
) -> services.RoleChange:
    return await services.change_role(
        factory(),
        council_id=council_id,
        by_user=by,
        role=role,
        granted=granted,
        target=target,
        now=NOW,
    )


# --- chairs and staff ------------------------------------------------------------------


async def test_setup_makes_its_admin_chair_in_the_audit_trail(
    factory: FakeUnitOfWorkFactory,
) -> None:
    await set_up(factory)
    assert events(factory) == [(Role.CHAIR, True, CHAIR, CHAIR)]


async def test_a_chair_grants_and_revokes_staff(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await council(factory)

    granted = await change(factory, council_id, Role.STAFF, Target(user_id=STAFF, name="王社工"))

    assert granted.name == "王社工" and granted.member is None
    assert factory.store.committed.councils[council_id].staff == {STAFF}
    view = await services.full_roll(factory(), council_id=council_id, user_id=STAFF)
    assert [m.household for m in view.members] == ["3-2-301", "3-2-302"]

    await change(factory, council_id, Role.STAFF, Target(user_id=STAFF), granted=False)

    assert factory.store.committed.councils[council_id].staff == set()
    assert events(factory)[1:] == [
        (Role.STAFF, True, STAFF, CHAIR),
        (Role.STAFF, False, STAFF, CHAIR),
    ]


async def test_only_chairs_grant_chair_and_staff(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await council(factory)
    await update_council(factory, council_id, staff={STAFF})
    for by in (STAFF, RESIDENT, STRANGER):
        for role in (Role.CHAIR, Role.STAFF):
            with unchanged(factory), pytest.raises(errors.NotChair):
                await change(factory, council_id, role, Target(user_id=NEIGHBOUR), by=by)


async def test_granting_a_role_one_has_or_revoking_one_one_lacks_is_refused(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await council(factory)
    await update_council(factory, council_id, staff={STAFF})
    with unchanged(factory), pytest.raises(errors.RoleUnchanged) as has:
        await change(factory, council_id, Role.STAFF, Target(user_id=STAFF, name="王社工"))
    assert has.value.params == {"field": "staff", "name": "王社工"}
    with unchanged(factory), pytest.raises(errors.RoleUnchanged) as lacks:
        await change(factory, council_id, Role.CHAIR, Target(user_id=RESIDENT), granted=False)
    assert lacks.value.params == {"field": "not_chair", "name": "居民101"}


async def test_the_last_chair_cannot_be_revoked(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await council(factory)
    with unchanged(factory), pytest.raises(errors.LastChair):
        await change(factory, council_id, Role.CHAIR, Target(user_id=CHAIR), granted=False)

    await change(factory, council_id, Role.CHAIR, Target(user_id=RESIDENT))
    await change(factory, council_id, Role.CHAIR, Target(user_id=CHAIR), granted=False)

    assert factory.store.committed.councils[council_id].chairs == {RESIDENT}
    with unchanged(factory), pytest.raises(errors.LastChair):
        await change(
            factory, council_id, Role.CHAIR, Target(user_id=RESIDENT), by=RESIDENT, granted=False
        )


async def test_a_member_number_names_its_council_in_a_private_chat(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await council(factory)
    resident = await services.member_of(factory(), council_id=council_id, user_id=RESIDENT)
    assert resident is not None

    made = await change(factory, None, Role.STAFF, Target(member_id=ident(resident)))

    assert made.council.id == council_id and made.user_id == RESIDENT
    assert factory.store.committed.councils[council_id].staff == {RESIDENT}
    # Another council's chair cannot reach into this one by its member numbers.
    other = await set_up(factory, chat_id=CHAT - 1)
    await update_council(factory, other, chairs={STAFF})
    with unchanged(factory), pytest.raises(errors.NotChair):
        await change(factory, None, Role.CHAIR, Target(member_id=ident(resident)), by=STAFF)
    with unchanged(factory), pytest.raises(errors.NotFound):
        await change(factory, other, Role.STAFF, Target(member_id=ident(resident)), by=STAFF)


async def test_a_roster_row_without_an_account_cannot_chair(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await council(factory)
    async with factory() as uow:
        row = await uow.members.add(
            Member(council_id, None, "刘大姐", "5", "1", "101", joined_at=NOW)
        )
        await uow.commit()
    with unchanged(factory), pytest.raises(errors.NotFound) as refused:
        await change(factory, council_id, Role.STAFF, Target(member_id=ident(row)))
    assert refused.value.params == {"field": "account", "name": "刘大姐"}


# --- voters and participants -------------------------------------------------------------


async def test_staff_make_a_participant_whose_vote_is_refused(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await council(factory)
    await update_council(factory, council_id, staff={STAFF})

    made = await change(
        factory, council_id, Role.PARTICIPANT, Target(household="3-2-301"), by=STAFF
    )

    assert made.member is not None and not made.member.voting
    assert not factory.store.committed.members[ident(made.member)].voting
    ballot = await put_motion(factory, council_id, await open_topic(factory, council_id))
    with unchanged(factory), pytest.raises(errors.NotVoter):
        await services.cast_vote(
            factory(), ballot_id=ident(ballot), user_id=RESIDENT, choice=Choice.FOR, now=NOW
        )
    refused, counted = await services.cast_votes(
        factory(),
        [
            services.VoteRequest("u1", ident(ballot), RESIDENT, Choice.FOR),
            services.VoteRequest("u2", ident(ballot), NEIGHBOUR, Choice.FOR),
        ],
        now=NOW,
    )
    assert isinstance(refused, errors.NotVoter)
    assert isinstance(counted, services.VoteReceipt)
    assert set(factory.store.committed.votes) == {(ident(ballot), counted.member.id)}

    # "revoke voter" is "grant participant"; back to voter, the vote counts.
    with unchanged(factory), pytest.raises(errors.RoleUnchanged):
        await change(factory, council_id, Role.VOTER, Target(user_id=RESIDENT), granted=False)
    await change(factory, council_id, Role.VOTER, Target(user_id=RESIDENT), by=STAFF)
    await services.cast_vote(
        factory(), ballot_id=ident(ballot), user_id=RESIDENT, choice=Choice.FOR, now=NOW
    )
    assert [(r, g, by) for r, g, _u, by in events(factory)[1:]] == [
        (Role.PARTICIPANT, True, STAFF),
        (Role.VOTER, True, STAFF),
    ]


async def test_residents_do_not_switch_voters(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await council(factory)
    with unchanged(factory), pytest.raises(errors.NotStaff):
        await change(factory, council_id, Role.PARTICIPANT, Target(user_id=NEIGHBOUR), by=RESIDENT)
    with unchanged(factory), pytest.raises(errors.NotMember) as off_roll:
        await change(factory, council_id, Role.PARTICIPANT, Target(user_id=STRANGER, name="路人"))
    assert off_roll.value.params == {"field": "target", "name": "路人"}


# --- following the group's admins -------------------------------------------------------


async def test_a_demoted_admin_stops_chairing_unless_the_last_chair(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await council(factory)
    await update_council(factory, council_id, chairs={CHAIR, OTHER_CHAIR})

    left = await services.follow_admins(
        factory(), chat_id=CHAT, user_id=CHAIR, name="杨静", now=NOW
    )

    assert [r.kept for r in left] == [False]
    assert factory.store.committed.councils[council_id].chairs == {OTHER_CHAIR}
    assert events(factory)[-1] == (Role.CHAIR, False, CHAIR, None)
    (told,) = notices(factory, NoticeKind.CHAIR_LEFT)
    assert (told.chat_id, told.private, told.params) == (
        CHAT,
        False,
        {"user_id": CHAIR, "name": "杨静", "kept": False},
    )

    kept = await services.follow_admins(
        factory(), chat_id=CHAT, user_id=OTHER_CHAIR, name="王主任", now=NOW
    )

    assert [r.kept for r in kept] == [True]
    assert factory.store.committed.councils[council_id].chairs == {OTHER_CHAIR}
    assert events(factory)[-1] == (Role.CHAIR, False, CHAIR, None)  # nothing new
    assert notices(factory, NoticeKind.CHAIR_LEFT)[-1].params["kept"] is True

    with unchanged(factory):  # not a chair: nothing to follow
        assert (
            await services.follow_admins(
                factory(), chat_id=CHAT, user_id=RESIDENT, name="居民", now=NOW
            )
            == []
        )


# --- joining ------------------------------------------------------------------------------


async def test_a_join_waiting_for_approval_goes_privately_to_reachable_chairs_and_staff(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await update_council(
        factory, council_id, require_approval=True, staff={STAFF}, chairs={CHAIR, OTHER_CHAIR}
    )
    await reachable(factory, CHAIR, STAFF)  # the other chair never opened a private chat

    asked = await join(factory, council_id, RESIDENT, address="3-2-301")

    assert asked.status is MemberStatus.PENDING
    told = notices(factory, NoticeKind.JOIN_PENDING)
    assert [(n.chat_id, n.private, n.subject) for n in told] == [
        (CHAIR, True, ident(asked)),
        (STAFF, True, ident(asked)),
    ]


async def test_staff_approve_a_join_once(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    await update_council(factory, council_id, require_approval=True, staff={STAFF})
    await reachable(factory, RESIDENT)
    asked = await join(factory, council_id, RESIDENT)
    with unchanged(factory), pytest.raises(errors.NotStaff):
        await services.decide_join(
            factory(), member_id=ident(asked), by_user=RESIDENT, approve=True, now=NOW
        )

    admitted = await services.decide_join(
        factory(), member_id=ident(asked), by_user=STAFF, approve=True, now=NOW
    )

    assert admitted.member.status is MemberStatus.ACTIVE
    assert events(factory)[-1] == (Role.MEMBER, True, RESIDENT, STAFF)
    (answer,) = notices(factory, NoticeKind.JOIN_DECIDED)
    assert (answer.chat_id, answer.private, answer.params["approved"]) == (RESIDENT, True, True)
    with unchanged(factory), pytest.raises(errors.NotPending) as again:
        await services.decide_join(
            factory(), member_id=ident(asked), by_user=CHAIR, approve=False, now=NOW
        )
    assert again.value.params["field"] == "active"


async def test_a_rejected_applicant_who_never_started_the_bot_is_answered_in_the_group(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await update_council(factory, council_id, require_approval=True)
    asked = await join(factory, council_id, RESIDENT)

    await services.decide_join(
        factory(), member_id=ident(asked), by_user=CHAIR, approve=False, now=NOW
    )

    assert factory.store.committed.members[ident(asked)].status is MemberStatus.REMOVED
    (answer,) = notices(factory, NoticeKind.JOIN_DECIDED)
    assert (answer.chat_id, answer.private, answer.params["approved"]) == (CHAT, False, False)


async def test_without_self_join_residents_are_told_staff_add_them(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await update_council(factory, council_id, staff={STAFF})
    with unchanged(factory), pytest.raises(errors.NotChair):
        await services.set_joining(factory(), council_id=council_id, by_user=STAFF, self_join=False)

    settings = await services.set_joining(
        factory(), council_id=council_id, by_user=CHAIR, self_join=False, require_approval=True
    )

    assert (settings.self_join, settings.require_approval) == (False, True)
    with unchanged(factory), pytest.raises(errors.SelfJoinClosed):
        await join(factory, council_id, RESIDENT)


async def test_pending_lists_joins_and_flats_to_verify_for_chairs_and_staff(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await update_council(factory, council_id, staff={STAFF})
    declared = await services.join(
        factory(),
        council_id=council_id,
        user_id=NEIGHBOUR,
        name="李叔叔",
        address=services.parse_address("3-2-302"),
        area=Decimal("85.5"),
        language=None,
        now=NOW,
    )
    await update_council(factory, council_id, require_approval=True)
    asked = await join(factory, council_id, RESIDENT)

    (waiting,) = await services.waiting(factory(), user_id=STAFF)

    assert [m.id for m in waiting.joins] == [asked.id]
    assert [m.id for m in waiting.flats] == [declared.id]
    with pytest.raises(errors.NotStaff):
        await services.waiting(factory(), user_id=RESIDENT)


# --- removing and verifying ---------------------------------------------------------------


async def test_a_removed_member_keeps_their_history(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await council(factory)
    ballot = await put_motion(factory, council_id, await open_topic(factory, council_id))
    await services.cast_vote(
        factory(), ballot_id=ident(ballot), user_id=RESIDENT, choice=Choice.FOR, now=NOW
    )
    with unchanged(factory), pytest.raises(errors.NotStaff):
        await services.remove_member(
            factory(),
            council_id=council_id,
            by_user=NEIGHBOUR,
            target=Target(user_id=RESIDENT),
            now=NOW,
        )

    removed = await services.remove_member(
        factory(), council_id=council_id, by_user=CHAIR, target=Target(user_id=RESIDENT), now=NOW
    )

    assert factory.store.committed.members[ident(removed.member)].status is MemberStatus.REMOVED
    assert len(factory.store.committed.events) == 1  # the vote's audit trail stays
    assert events(factory)[-1] == (Role.MEMBER, False, RESIDENT, CHAIR)
    with unchanged(factory), pytest.raises(errors.NotMember):
        await services.remove_member(
            factory(),
            council_id=council_id,
            by_user=CHAIR,
            target=Target(user_id=RESIDENT),
            now=NOW,
        )


async def test_staff_verify_a_declared_area_by_address_or_number(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await council(factory)  # both joined without an area
    await update_council(factory, council_id, staff={STAFF})
    declared = await services.join(
        factory(),
        council_id=council_id,
        user_id=103,
        name="刘大姐",
        address=services.parse_address("5-1-101"),
        area=Decimal("90"),
        language=None,
        now=NOW,
    )
    with unchanged(factory), pytest.raises(errors.NotStaff):
        await services.verify_flat(
            factory(), council_id=None, user_id=RESIDENT, member_id=ident(declared)
        )

    by_number = await services.verify_flat(
        factory(), council_id=None, user_id=STAFF, member_id=ident(declared)
    )
    by_address = await services.verify_named(
        factory(),
        council_id=None,
        user_id=STAFF,
        target=Target(household="3-2-301"),
        area=Decimal("72.3"),
    )

    assert [(f.household, f.area, f.verified) for f in by_number.flats] == [
        ("5-1-101", Decimal("90"), True)
    ]
    assert [(f.household, f.area, f.verified) for f in by_address.flats] == [
        ("3-2-301", Decimal("72.3"), True)
    ]
    # Without a declared area there is nothing to verify until staff give one.
    with unchanged(factory), pytest.raises(errors.NotFound) as nothing:
        await services.verify_named(
            factory(), council_id=council_id, user_id=STAFF, target=Target(user_id=NEIGHBOUR)
        )
    assert nothing.value.params == {"field": "flat", "id": "3-2-302", "name": "居民102"}
    # With an area, staff add a flat the member owns elsewhere (a buyer of a second one).
    second = await services.verify_flat(
        factory(),
        council_id=None,
        user_id=STAFF,
        member_id=ident(declared),
        household="5-1-102",
        area=Decimal("60"),
    )
    assert [(f.household, f.area, f.verified) for f in second.flats] == [
        ("5-1-101", Decimal("90"), True),
        ("5-1-102", Decimal("60"), True),
    ]


async def test_an_address_with_several_members_asks_for_a_number(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await council(factory)
    spouse = await join(factory, council_id, 103, address="3-2-301", name="配偶")
    with unchanged(factory), pytest.raises(errors.Ambiguous) as both:
        await services.remove_member(
            factory(),
            council_id=council_id,
            by_user=CHAIR,
            target=Target(household="3-2-301"),
            now=NOW,
        )
    resident = await services.member_of(factory(), council_id=council_id, user_id=RESIDENT)
    assert resident is not None
    assert both.value.params["choices"] == f"#{resident.id} 居民101, #{spouse.id} 配偶"
