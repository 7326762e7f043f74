"""cast_votes: a burst of presses in one transaction, each counted or refused on its own."""

from __future__ import annotations

from domain import errors, services
from domain.services import VoteReceipt, VoteRequest
from tests.domain.builders import unchanged
from tests.domain.test_services import LATER, bid, council_with_roll, motion
from tests.fakes import FakeUnitOfWorkFactory


async def test_a_batch_counts_valid_presses_and_refuses_the_others_alone() -> None:
    factory = FakeUnitOfWorkFactory()
    council_id, (alice, bob, carol) = await council_with_roll(factory, 3)
    ballot = bid(await motion(factory, council_id))
    results = await services.cast_votes(
        factory(),
        [
            VoteRequest("u:1", ballot, alice, "for"),
            VoteRequest("u:2", ballot, 999, "for"),  # not on the roll
            VoteRequest("u:3", ballot, bob, "maybe"),  # not a choice
            VoteRequest("u:4", ballot, carol, "against"),
            VoteRequest("u:5", ballot + 100, alice, "for"),  # no such ballot
        ],
        now=LATER,
    )
    assert [type(r) for r in results] == [
        VoteReceipt,
        errors.NotMember,
        errors.InvalidChoice,
        VoteReceipt,
        errors.BallotNotFound,
    ]
    async with factory() as uow:
        assert sorted((await uow.votes.current(ballot)).values()) == ["against", "for"]


async def test_one_members_presses_in_a_batch_apply_in_order() -> None:
    factory = FakeUnitOfWorkFactory()
    council_id, (alice, _) = await council_with_roll(factory, 2)
    ballot = bid(await motion(factory, council_id))
    results = await services.cast_votes(
        factory(),
        [
            VoteRequest("u:1", ballot, alice, "for"),
            VoteRequest("u:2", ballot, alice, "against"),
            VoteRequest("u:3", ballot, alice, "abstain"),
        ],
        now=LATER,
    )
    receipts = [r for r in results if isinstance(r, VoteReceipt)]
    assert [(r.previous, r.choice) for r in receipts] == [
        (None, "for"),
        ("for", "against"),
        ("against", "abstain"),
    ]
    async with factory() as uow:
        events = await uow.votes.events(ballot)
    assert [e.choice for e in events] == ["for", "against", "abstain"]


async def test_a_redelivered_press_is_neither_counted_nor_refused_twice() -> None:
    factory = FakeUnitOfWorkFactory()
    council_id, (alice, _) = await council_with_roll(factory, 2)
    ballot = bid(await motion(factory, council_id))
    first = await services.cast_votes(
        factory(),
        [VoteRequest("u:1", ballot, alice, "for"), VoteRequest("u:2", ballot, 999, "for")],
        now=LATER,
    )
    assert isinstance(first[0], VoteReceipt) and isinstance(first[1], errors.NotMember)
    again = await services.cast_votes(
        factory(),
        [
            VoteRequest("u:1", ballot, alice, "for"),
            VoteRequest("u:2", ballot, 999, "for"),
            VoteRequest("u:3", ballot, alice, "against"),
            VoteRequest("u:3", ballot, alice, "against"),  # the same update twice in one batch
        ],
        now=LATER,
    )
    assert [type(r) for r in again] == [
        errors.Redelivered,
        errors.Redelivered,
        VoteReceipt,
        errors.Redelivered,
    ]
    async with factory() as uow:
        assert len(await uow.votes.events(ballot)) == 2


async def test_a_batch_of_refusals_without_keys_changes_nothing() -> None:
    factory = FakeUnitOfWorkFactory()
    council_id, _ = await council_with_roll(factory, 1)
    ballot = bid(await motion(factory, council_id))
    with unchanged(factory):
        results = await services.cast_votes(
            factory(), [VoteRequest(None, ballot, 999, "for")], now=LATER
        )
    assert isinstance(results[0], errors.NotMember)
