"""A ballot's figures counted where the rows are (``VoteRepository.counts`` and
``voters``) must be exactly what the rule engine counts from the whole roll
(``domain.rules.count``): on the fakes, SQLite and PostgreSQL, for random rolls with
shared households, flats co-owned by up to all of the roll (so owner sets of more than
three people are named too), one person owning several flats, unverified flats,
participants who are never on the base, areas to the hundredth, members who left or wait
for approval, split households and flats, and votes by members no longer on the roll.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import count as numbered

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.model import Ballot, BallotKind, Flat, Member, MemberStatus, Vote, Voters
from domain.ports import UnitOfWorkFactory
from domain.rules import Counts, Quantity, count, preset
from tests.storage.helpers import at, make_council, make_topic

_CHATS = numbered(-100_500_000_000, -1)
_CHOICES = ("for", "against", "abstain")


@dataclass(frozen=True)
class Person:
    household: int
    flats: frozenset[int]  # indices into the roll's flats
    verified: bool
    voting: bool
    status: MemberStatus
    choice: str | None


people = st.lists(
    st.builds(
        Person,
        household=st.integers(0, 5),
        flats=st.frozensets(st.integers(0, 3), max_size=2),
        verified=st.sampled_from([True, True, True, False]),
        voting=st.sampled_from([True, True, True, False]),
        status=st.sampled_from(
            [MemberStatus.ACTIVE] * 3 + [MemberStatus.REMOVED, MemberStatus.PENDING]
        ),
        choice=st.none() | st.sampled_from(_CHOICES),
    ),
    max_size=14,
)
# Each flat's registered area, in hundredths of a m², repeated on every co-owner's row.
flat_areas = st.lists(st.integers(0, 30_000_00), min_size=6, max_size=6)


async def _ballot_with(
    uows: UnitOfWorkFactory, roll: list[Person], areas: list[int]
) -> tuple[int, int, list[Member]]:
    council_id = await make_council(uows, chat_id=next(_CHATS))
    topic_id = await make_topic(uows, council_id)
    async with uows() as uow:
        members = []
        for i, person in enumerate(roll):
            members.append(
                await uow.members.add(
                    Member(
                        council_id=council_id,
                        user_id=1000 + i,
                        name=f"居民{i}",
                        building="3",
                        unit="1",
                        room=str(100 + i),
                        household=f"3-1-{person.household}",
                        joined_at=at(0),
                        status=MemberStatus.ACTIVE,
                        voting=person.voting,
                        flats=tuple(
                            Flat(f"5-1-{f}", Decimal(areas[f]).scaleb(-2), person.verified)
                            for f in sorted(person.flats)
                        ),
                    )
                )
            )
        ballot = await uow.ballots.add(
            Ballot(
                topic_id=topic_id,
                council_id=council_id,
                kind=BallotKind.MOTION,
                question="加装电梯?",
                rule=preset("owners-ordinary"),
                secret=False,
                opened_by=1000,
                opened_at=at(1),
            )
        )
        assert ballot.id is not None
        for member, person in zip(members, roll, strict=True):
            assert member.id is not None
            if person.choice is not None:
                await uow.votes.put(Vote(ballot.id, member.id, person.choice, at(2)))
        # Status changes after the vote: a member who left keeps the vote in the
        # audit trail, but it no longer counts.
        for member, person in zip(members, roll, strict=True):
            if person.status is not MemberStatus.ACTIVE:
                member.status = person.status
                await uow.members.update(member)
        await uow.commit()
    return council_id, ballot.id, members


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@example(  # five co-owners of one flat, and four of another with one more flat each
    roll=[
        Person(0, frozenset({0}), True, True, MemberStatus.ACTIVE, c)
        for c in ("for", "for", None, "for", None)
    ]
    + [
        Person(1, frozenset({1, 2 + i % 2}), True, True, MemberStatus.ACTIVE, c)
        for i, c in enumerate(("against", "against", None, None))
    ],
    areas=[90_00, 80_50, 70_25, 60_00, 0, 0],
    quantities=set(Quantity),
)
@given(roll=people, areas=flat_areas, quantities=st.sets(st.sampled_from(Quantity)))
async def test_counts_are_the_rule_engines(
    uows: UnitOfWorkFactory, roll: list[Person], areas: list[int], quantities: set[Quantity]
) -> None:
    quantities |= {Quantity.HEADCOUNT}  # every rule has it (Rule.quantities)
    council_id, ballot_id, members = await _ballot_with(uows, roll, areas)
    active = [
        m
        for m, p in zip(members, roll, strict=True)
        if p.status is MemberStatus.ACTIVE and p.voting
    ]
    votes = {str(m.id): p.choice for m, p in zip(members, roll, strict=True) if p.choice}

    async with uows() as uow:
        counted = await uow.votes.counts(ballot_id, council_id, quantities)
        totals = {c: int(counted.weight(c, Quantity.HEADCOUNT)) for c in counted.labels}
        voters = await uow.votes.voters(ballot_id, council_id, 2, totals)

    expected = count([m.voter() for m in active], votes, quantities)
    assert dict(counted.roll) == dict(expected.roll)
    assert set(counted.roll) == quantities
    for label in {*counted.labels, *expected.labels}:
        for quantity in quantities:
            assert counted.weight(label, quantity) == expected.weight(label, quantity), (
                label,
                quantity,
            )
    assert counted.invalid_votes == expected.invalid_votes

    chose: dict[str, list[str]] = {}
    for member, person in zip(members, roll, strict=True):
        if person.choice and person.status is MemberStatus.ACTIVE and person.voting:
            chose.setdefault(person.choice, []).append(member.name)
    assert voters == {c: Voters(tuple(names[:2]), len(names)) for c, names in chose.items()}


def _figures(counted: Counts) -> tuple[object, ...]:
    return (
        dict(counted.roll),
        {label: dict(weights) for label, weights in counted.labels.items()},
        counted.invalid_votes,
    )


async def _other_ballot(
    uows: UnitOfWorkFactory, council_id: int, members: list[Member], shift: int
) -> int:
    """A second ballot of the same council, voted otherwise by the same people."""
    topic_id = await make_topic(uows, council_id)
    async with uows() as uow:
        ballot = await uow.ballots.add(
            Ballot(
                topic_id=topic_id,
                council_id=council_id,
                kind=BallotKind.MOTION,
                question="更换物业?",
                rule=preset("owners-major"),
                secret=False,
                opened_by=1000,
                opened_at=at(3),
            )
        )
        assert ballot.id is not None
        for i, member in enumerate(members):
            assert member.id is not None
            if (i + shift) % 4:
                choice = _CHOICES[(i + shift) % len(_CHOICES)]
                await uow.votes.put(Vote(ballot.id, member.id, choice, at(4)))
        await uow.commit()
    return ballot.id


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    councils=st.lists(
        st.tuples(people, flat_areas, st.sets(st.sampled_from(Quantity))), min_size=1, max_size=3
    ),
    shift=st.integers(0, 3),
)
async def test_counts_many_counts_each_ballot_as_counts_does(
    uows: UnitOfWorkFactory,
    councils: list[tuple[list[Person], list[int], set[Quantity]]],
    shift: int,
) -> None:
    """A batch of closings counts its ballots together (``counts_many``): ballots of
    several councils, two in each (one wanting every quantity, owners and area
    included), each on its own council's roll, exactly as ``counts`` counts it alone;
    a ballot that does not exist is left out."""
    wanted: dict[int, frozenset[Quantity]] = {}
    council_of: dict[int, int] = {}
    for roll, areas, quantities in councils:
        council_id, ballot_id, members = await _ballot_with(uows, roll, areas)
        other = await _other_ballot(uows, council_id, members, shift)
        wanted[ballot_id] = frozenset(quantities | {Quantity.HEADCOUNT})
        wanted[other] = frozenset(Quantity)
        council_of[ballot_id] = council_of[other] = council_id

    async with uows() as uow:
        together = await uow.votes.counts_many({**wanted, 999_999_999: {Quantity.HEADCOUNT}})
        alone = {b: await uow.votes.counts(b, council_of[b], q) for b, q in wanted.items()}

    assert together.keys() == wanted.keys()
    for ballot_id in wanted:
        assert _figures(together[ballot_id]) == _figures(alone[ballot_id]), ballot_id
