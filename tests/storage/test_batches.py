"""Batched writes (group commit of votes) on both databases: the same guarantees as one by one.

Concurrent batches only: what ``put_many`` and ``by_users`` return is in the contract
tests (``test_contract_deliberation.py``), run on the fakes too.
"""

from __future__ import annotations

import asyncio
import random

from domain import errors, services
from domain.model import Vote
from domain.ports import Lock
from domain.services import VoteReceipt, VoteRequest
from storage.uow import Database
from tests.storage.helpers import at, make_ballot, make_council, make_members, make_topic
from tests.storage.test_concurrency import Press, check_audit_trail


async def _setup(db: Database, members: int) -> tuple[int, int, list[int]]:
    council_id = await make_council(db)
    member_ids = await make_members(db, council_id, members, first_user=1000)
    ballot_id = await make_ballot(db, council_id, await make_topic(db, council_id))
    return council_id, ballot_id, member_ids


async def test_concurrent_batches_with_overlapping_members(database: Database) -> None:
    """Several processes writing batches that share members: no deadlock, nothing lost."""
    rng = random.Random(7)
    _, ballot_id, member_ids = await _setup(database, 200)

    async def batch(members: list[int]) -> list[Press]:
        votes = [Vote(ballot_id, m, rng.choice(("a", "b", "abstain")), at(5)) for m in members]
        async with database.uow() as uow:
            await uow.ballots.get(ballot_id, lock=Lock.SHARE)
            previous = await uow.votes.put_many(votes)
            await uow.commit()
        return [
            Press(0, v.choice, before, v.member_id)
            for v, before in zip(votes, previous, strict=True)
        ]

    batches = [rng.sample(member_ids, 120) for _ in range(8)]
    presses = [p for done in await asyncio.gather(*(batch(b) for b in batches)) for p in done]
    async with database.uow() as uow:
        current = await uow.votes.current(ballot_id)
        events = await uow.votes.events(ballot_id)
    assert set(current) == {m for b in batches for m in b}
    assert sum(1 for p in presses if p.previous is None) == len(current)  # one first vote each
    check_audit_trail(events, current, presses)


async def test_claim_many_claims_each_key_once_across_concurrent_batches(
    database: Database,
) -> None:
    async def claim(keys: list[str]) -> set[str]:
        async with database.uow() as uow:
            fresh = await uow.updates.claim_many(keys)
            await uow.commit()
        return fresh

    rng = random.Random(3)
    everything = [f"update:{n}" for n in range(300)]
    batches = [sorted(rng.sample(everything, 100)) for _ in range(6)]
    claimed = await asyncio.gather(*(claim(b) for b in batches))
    flat = [key for fresh in claimed for key in fresh]
    assert len(flat) == len(set(flat))  # nobody claimed a key twice
    assert set(flat) == {k for b in batches for k in b}
    assert await claim(batches[0]) == set()


async def test_cast_votes_counts_a_burst_once_each_and_refuses_alone(database: Database) -> None:
    council_id, ballot_id, _ = await _setup(database, 300)
    users = list(range(1000, 1300))
    requests = [VoteRequest(f"update:{u}", ballot_id, u, "a" if u % 3 else "b") for u in users]
    requests.append(VoteRequest("update:stranger", ballot_id, 99, "a"))  # not on the roll
    requests.append(VoteRequest("update:1000", ballot_id, 1000, "b"))  # a redelivered copy
    chunks = [requests[i : i + 50] for i in range(0, len(requests), 50)]
    results = [
        r
        for chunk in await asyncio.gather(
            *(services.cast_votes(database.uow(), c, now=at(5)) for c in chunks)
        )
        for r in chunk
    ]
    receipts = [r for r in results if isinstance(r, VoteReceipt)]
    assert len(receipts) == 300
    assert sum(isinstance(r, errors.NotMember) for r in results) == 1
    assert sum(isinstance(r, errors.Redelivered) for r in results) == 1
    async with database.uow() as uow:
        current = await uow.votes.current(ballot_id)
        assert len(current) == 300
        assert await uow.votes.last_seq(ballot_id) == 300
        # The refusal was recorded too: its redelivery is not refused a second time.
        assert await uow.updates.claim_many(["update:stranger"]) == set()
    assert council_id
