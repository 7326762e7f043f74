"""Who sees residents' personal data, and what a chair off the roll is told (on the fakes).

Addresses and areas are for chairs and staff; a resident's request goes to the group
without its words, and its details reach chairs and staff privately when nobody takes
it. A chair or staff member who is not on the roll is refused as anyone would be, but
told that their role gives no vote and how to join.
"""

from __future__ import annotations

import pytest

from domain import errors, services, volunteering
from domain.model import NoticeKind
from domain.rules import Choice
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

STAFF = 7  # a social worker (社工) of the council, not on the roll
RESIDENT = 101


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


async def council_with_staff(factory: FakeUnitOfWorkFactory) -> int:
    council_id = await set_up(factory)
    await update_council(factory, council_id, staff={STAFF})
    await join(factory, council_id, RESIDENT, address="3-2-301")
    return council_id


async def test_the_full_roll_is_for_chairs_and_staff(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await council_with_staff(factory)
    for user_id in (CHAIR, STAFF):
        view = await services.full_roll(factory(), council_id=council_id, user_id=user_id)
        assert [m.household for m in view.members] == ["3-2-301"]
    for user_id in (RESIDENT, STRANGER):
        with unchanged(factory), pytest.raises(errors.NotStaff):
            await services.full_roll(factory(), council_id=council_id, user_id=user_id)


@pytest.mark.parametrize(
    ("user_id", "field"), [(CHAIR, "chair"), (STAFF, "staff"), (STRANGER, None)]
)
async def test_voting_off_the_roll_says_whether_a_role_was_the_reason(
    factory: FakeUnitOfWorkFactory, user_id: int, field: str | None
) -> None:
    council_id = await council_with_staff(factory)
    ballot = await put_motion(factory, council_id, await open_topic(factory, council_id))
    with unchanged(factory), pytest.raises(errors.NotMember) as refused:
        await services.cast_vote(
            factory(), ballot_id=ident(ballot), user_id=user_id, choice=Choice.FOR, now=NOW
        )
    assert refused.value.params.get("field") == field


@pytest.mark.parametrize(
    ("user_id", "field"), [(CHAIR, "chair"), (STAFF, "staff"), (STRANGER, None)]
)
async def test_proposing_off_the_roll_says_whether_a_role_was_the_reason(
    factory: FakeUnitOfWorkFactory, user_id: int, field: str | None
) -> None:
    council_id = await council_with_staff(factory)
    await open_topic(factory, council_id)
    with unchanged(factory), pytest.raises(errors.NotMember) as refused:
        await services.submit_proposal(
            factory(), council_id=council_id, topic_id=None, user_id=user_id, text="建花园", now=NOW
        )
    assert refused.value.params.get("field") == field


async def test_a_request_nobody_can_take_reaches_chairs_and_staff_privately(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await council_with_staff(factory)
    await update_council(factory, council_id, chairs={CHAIR, 2})
    await reachable(factory, CHAIR, STAFF)  # chair 2 never opened a private chat

    dispatched = await volunteering.request_service(
        factory(),
        council_id=council_id,
        user_id=RESIDENT,
        skill="repair",
        description="老人独居，水管漏水",
        place="6-3-501",
        photo=None,
        now=NOW,
    )

    assert dispatched.exhausted
    told = notices(factory, NoticeKind.TASK_EXHAUSTED)
    assert [(n.chat_id, n.private) for n in told] == [(CHAT, False), (CHAIR, True), (STAFF, True)]
    assert {n.subject for n in told} == {ident(dispatched.task)}
