"""A ballot's figures counted where the rows are (``VoteRepository.counts`` and
``voters``) must be exactly what the rule engine counts from the whole roll
(``domain.rules.count``): on the fakes, SQLite and PostgreSQL, for random rolls with
shared households, areas to the hundredth, members who left or wait for approval,
split households and votes by members no longer on the roll.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import count as numbered

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.model import Ballot, BallotKind, Member, MemberStatus, Vote, Voters
from domain.ports import UnitOfWorkFactory
from domain.rules import Quantity, count, preset
from tests.storage.helpers import at, make_council, make_topic

_CHATS = numbered(-100_500_000_000, -1)
_CHOICES = ("for", "against", "abstain")


@dataclass(frozen=True)
class Person:
    household: int
    area_cents: int
    status: MemberStatus
    choice: str | None


people = st.lists(
    st.builds(
        Person,
        household=st.integers(0, 5),
        area_cents=st.integers(0, 30_000_00),
        status=st.sampled_from(
            [MemberStatus.ACTIVE] * 3 + [MemberStatus.REMOVED, MemberStatus.PENDING]
        ),
        choice=st.none() | st.sampled_from(_CHOICES),
    ),
    max_size=14,
)


async def _ballot_with(
    uows: UnitOfWorkFactory, roll: list[Person]
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
                        area=Decimal(person.area_cents).scaleb(-2),
                        joined_at=at(0),
                        status=MemberStatus.ACTIVE,
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
@given(roll=people, quantities=st.sets(st.sampled_from(Quantity)))
async def test_counts_are_the_rule_engines(
    uows: UnitOfWorkFactory, roll: list[Person], quantities: set[Quantity]
) -> None:
    quantities |= {Quantity.HEADCOUNT}  # every rule has it (Rule.quantities)
    council_id, ballot_id, members = await _ballot_with(uows, roll)
    active = [m for m, p in zip(members, roll, strict=True) if p.status is MemberStatus.ACTIVE]
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
        if person.choice and person.status is MemberStatus.ACTIVE:
            chose.setdefault(person.choice, []).append(member.name)
    assert voters == {c: Voters(tuple(names[:2]), len(names)) for c, names in chose.items()}
