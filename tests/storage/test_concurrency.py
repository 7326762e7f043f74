"""Many presses at the same moment: each counts once, and a close excludes late ones.

Every unit of work here is separate (its own session and connection), started
together with ``asyncio.gather``, as the bot's handlers would run them.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import defaultdict
from dataclasses import dataclass

import pytest

from domain.model import Vote, VoteEvent
from domain.ports import Lock
from storage.uow import Database
from tests.storage.helpers import at, make_ballot, make_council, make_members, make_topic

CHOICES = ("a", "b", "abstain")


@dataclass(frozen=True)
class Press:
    user_id: int
    choice: str
    previous: str | None  # what put() returned
    member_id: int


async def press(db: Database, ballot_id: int, council_id: int, user_id: int, choice: str) -> Press:
    """The vote use case's storage calls, as ``domain.services.cast_vote`` makes them."""
    async with db.uow() as uow:
        ballot = await uow.ballots.get(ballot_id, lock=Lock.SHARE)
        assert ballot is not None
        ballot.require_open()
        member = await uow.members.by_user(council_id, user_id)
        assert member is not None and member.id is not None
        previous = await uow.votes.put(Vote(ballot_id, member.id, choice, at(10)))
        await uow.commit()
    return Press(user_id, choice, previous, member.id)


def check_audit_trail(
    events: list[VoteEvent], current: dict[int, str], presses: list[Press]
) -> None:
    """Per member, the events chain (each previous is the choice before it), the
    last event is the current vote, and they are exactly the presses that changed
    something, with the previous choices that put() reported."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    chains: dict[int, list[VoteEvent]] = defaultdict(list)
    for event in events:
        chains[event.member_id].append(event)
    assert set(chains) == set(current)
    for member_id, chain in chains.items():
        assert chain[0].previous is None
        for before, after in itertools.pairwise(chain):
            assert after.previous == before.choice != after.choice
        assert chain[-1].choice == current[member_id]
    changed = sorted(
        (p.member_id, p.previous or "", p.choice) for p in presses if p.previous != p.choice
    )
    assert changed == sorted((e.member_id, e.previous or "", e.choice) for e in events)


async def test_300_members_vote_at_the_same_moment(database: Database) -> None:
    rng = random.Random(300)
    council_id = await make_council(database)
    await make_members(database, council_id, 300, first_user=1000)
    ballot_id = await make_ballot(database, council_id, await make_topic(database, council_id))

    users = list(range(1000, 1300))
    jobs = [(user, rng.choice(CHOICES)) for user in users]
    # Some change their minds: a second press, racing with everyone else's first.
    jobs += [(user, rng.choice(CHOICES)) for user in rng.sample(users, 60)]
    rng.shuffle(jobs)

    started = time.perf_counter()
    presses = await asyncio.gather(
        *(press(database, ballot_id, council_id, user, choice) for user, choice in jobs)
    )
    elapsed = time.perf_counter() - started
    dialect = database.engine.dialect.name
    print(f"\n{len(jobs)} concurrent presses on {dialect}: {elapsed:.2f} s")

    async with database.uow() as uow:
        current = await uow.votes.current(ballot_id)
        events = await uow.votes.events(ballot_id)
        last_seq = await uow.votes.last_seq(ballot_id)
    assert len(current) == 300
    assert last_seq == len(events)
    check_audit_trail(events, current, list(presses))
    # Whoever pressed once has exactly what they pressed.
    once = {u for u, _ in jobs if sum(1 for v, _ in jobs if v == u) == 1}
    for p in presses:
        if p.user_id in once:
            assert current[p.member_id] == p.choice


async def test_same_member_pressing_concurrently(database: Database) -> None:
    council_id = await make_council(database)
    await make_members(database, council_id, 20, first_user=1)
    ballot_id = await make_ballot(database, council_id, await make_topic(database, council_id))
    jobs = [(user, choice) for user in range(1, 21) for choice in ("a", "b", "a", "abstain")]
    presses = await asyncio.gather(
        *(press(database, ballot_id, council_id, user, choice) for user, choice in jobs)
    )
    async with database.uow() as uow:
        current = await uow.votes.current(ballot_id)
        events = await uow.votes.events(ballot_id)
    assert len(current) == 20
    assert sum(1 for p in presses if p.previous is None) == 20  # one first vote each
    check_audit_trail(events, current, list(presses))


async def test_close_racing_with_votes(database: Database) -> None:
    """Every vote committed before the close read the ballot (and is counted), or
    saw it closed; none is written after closed_at was set."""
    council_id = await make_council(database)
    await make_members(database, council_id, 200, first_user=1)
    ballot_id = await make_ballot(database, council_id, await make_topic(database, council_id))
    rng = random.Random(7)
    enough = asyncio.Event()
    counted: set[int] = set()
    refused: set[int] = set()

    async def vote(user: int, spread: float = 0.0) -> None:
        await asyncio.sleep(rng.random() * spread)  # presses arrive over a moment
        try:
            p = await press(database, ballot_id, council_id, user, "a" if user % 2 else "b")
        except Exception as error:
            assert type(error).__name__ == "BallotClosed", error
            refused.add(user)
        else:
            counted.add(p.member_id)
            if len(counted) >= 40:
                enough.set()

    async def close() -> dict[int, str]:
        await enough.wait()  # some votes are in, many are still in flight
        async with database.uow() as uow:
            ballot = await uow.ballots.get(ballot_id, lock=Lock.UPDATE)
            assert ballot is not None and ballot.is_open
            tally = await uow.votes.current(ballot_id)
            ballot.closed_at = at(20)
            await uow.ballots.update(ballot)
            await uow.commit()
        return tally

    results = await asyncio.gather(close(), *(vote(user, 0.5) for user in range(1, 161)))
    tally = results[0]
    assert isinstance(tally, dict)
    # Latecomers after the close are all refused.
    await asyncio.gather(*(vote(user) for user in range(161, 201)))

    async with database.uow() as uow:
        final = await uow.votes.current(ballot_id)
        events = await uow.votes.events(ballot_id)
    assert final == tally  # nothing was written after the close read the votes
    assert set(final) == counted
    assert len(counted) + len(refused) == 200
    assert set(range(161, 201)) <= refused
    assert len(counted) >= 40
    assert len(events) == len(final)
    print(
        f"\nclose on {database.engine.dialect.name}: {len(counted)} counted, {len(refused)} refused"
    )


async def test_concurrent_claims_and_seconds(database: Database) -> None:
    council_id = await make_council(database)
    author, seconder = await make_members(database, council_id, 2)
    topic_id = await make_topic(database, council_id)
    from domain.model import Proposal

    async with database.uow() as uow:
        proposal = await uow.proposals.add(Proposal(topic_id, author, "方案", at(1)))
        await uow.commit()
    assert proposal.id is not None
    proposal_id = proposal.id

    async def claim() -> bool:
        async with database.uow() as uow:
            first = await uow.updates.claim("update:42")
            await uow.commit()
            return first

    async def second() -> bool:
        async with database.uow() as uow:
            first = await uow.proposals.add_second(proposal_id, seconder, at(2))
            await uow.commit()
            return first

    claims = await asyncio.gather(*(claim() for _ in range(30)))
    seconds = await asyncio.gather(*(second() for _ in range(30)))
    assert sorted(claims) == [False] * 29 + [True]
    assert sorted(seconds) == [False] * 29 + [True]
    async with database.uow() as uow:
        loaded = await uow.proposals.get(proposal_id)
    assert loaded is not None and loaded.seconds == {seconder}


async def test_locks_on_postgresql(database: Database) -> None:
    """While a vote holds its lock: marking the ballot rendered goes ahead, a close waits."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serializes whole transactions")
    council_id = await make_council(database)
    (member_id,) = await make_members(database, council_id, 1)
    ballot_id = await make_ballot(database, council_id, await make_topic(database, council_id))

    async def set_rendered() -> None:
        async with database.uow() as uow:
            await uow.ballots.set_rendered(ballot_id, 1)
            await uow.commit()

    async def close() -> None:
        async with database.uow() as uow:
            ballot = await uow.ballots.get(ballot_id, lock=Lock.UPDATE)
            assert ballot is not None
            ballot.closed_at = at(20)
            await uow.ballots.update(ballot)
            await uow.commit()

    async with database.uow() as vote:
        assert await vote.ballots.get(ballot_id, lock=Lock.SHARE) is not None
        await vote.votes.put(Vote(ballot_id, member_id, "a", at(10)))
        await asyncio.wait_for(set_rendered(), timeout=5)
        closing = asyncio.create_task(close())
        await asyncio.sleep(0.3)
        assert not closing.done()  # waits for the vote in flight
        await vote.commit()
    await asyncio.wait_for(closing, timeout=5)
    async with database.uow() as uow:
        ballot = await uow.ballots.get(ballot_id)
        assert ballot is not None
        assert (ballot.rendered_seq, ballot.closed_at) == (1, at(20))
        assert await uow.votes.current(ballot_id) == {member_id: "a"}
