"""Owners counted as the law counts them (Civil Code art. 278; 法释〔2009〕7号, arts. 8-9):
each flat's registered area once, one flat one owner, one buyer of several flats one
owner, the developer's unsold flats one owner, co-owners one vote per flat."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.rules import PRESETS, Quantity, Result, Rule, Voter, count, decide, preset
from tests.domain.test_rules_properties import MOTION, ballots, rolls

OWNERS_RULES = [PRESETS["owners-ordinary"], PRESETS["owners-major"]]


def test_the_issue_s_four_flats_and_a_spouse_pass_as_the_law_says() -> None:
    """Four flats of 100 m², three vote for; the first flat's spouse joins and does not
    vote. The roll is 4 owners and 400 m², and the ballot passes (it was "no quorum",
    300/500 m² and 3/5 people, when each person counted)."""
    roll = [Voter(f"m{i}", f"3-2-{i}01", Fraction(100)) for i in range(4)]
    roll.append(Voter("spouse", "3-2-001", Fraction(100)))
    outcome = decide(preset("owners-ordinary"), roll, {"m0": "for", "m1": "for", "m2": "for"})
    assert outcome.tallies[Quantity.AREA].roll == 400
    assert outcome.tallies[Quantity.OWNERS].roll == 4
    assert outcome.tallies[Quantity.HEADCOUNT].roll == 5  # people are still people
    assert outcome.result is Result.PASSED


def test_co_owners_who_disagree_split_their_flat() -> None:
    roll = [Voter("wife", "1-1-101", Fraction(90)), Voter("husband", "1-1-101", Fraction(90))]
    roll.append(Voter("m2", "1-1-102", Fraction(60)))
    counts = count(roll, {"wife": "for", "husband": "against", "m2": "for"})
    assert counts.weight("abstain", Quantity.AREA) == 90  # took part, counted once
    assert counts.weight("abstain", Quantity.OWNERS) == 1
    assert counts.weight("for", Quantity.AREA) == 60
    assert counts.weight("against", Quantity.AREA) == 0


def test_one_buyer_of_several_flats_and_the_developer_are_one_owner_each() -> None:
    roll = [
        Voter("developer", "", flats=tuple((f"9-1-{r}", Fraction(80)) for r in range(10))),
        Voter("buyer", "1-1-101", flats=(("1-1-101", Fraction(90)), ("1-1-102", Fraction(70)))),
        Voter("tenant", "1-1-102", flats=()),
    ]
    counts = count(roll, {"developer": "against", "buyer": "for", "tenant": "for"})
    assert counts.roll[Quantity.OWNERS] == 2
    assert counts.roll[Quantity.AREA] == 800 + 160
    assert counts.weight("against", Quantity.AREA) == 800
    assert counts.weight("for", Quantity.OWNERS) == 1  # the tenant owns nothing
    assert counts.roll[Quantity.HEADCOUNT] == 3


def test_flats_linked_by_shared_holders_are_one_owner() -> None:
    roll = [
        Voter("a", "x", flats=(("f1", Fraction(50)), ("f2", Fraction(50)))),
        Voter("b", "x", flats=(("f2", Fraction(50)), ("f3", Fraction(50)))),
        Voter("c", "y", flats=(("f4", Fraction(50)),)),
    ]
    assert count(roll, {}).roll[Quantity.OWNERS] == 2


@settings(max_examples=300)
@given(st.sampled_from(OWNERS_RULES), st.data())
def test_a_co_owner_who_does_not_vote_never_changes_an_owners_outcome(
    rule: Rule, data: st.DataObject
) -> None:
    roll = data.draw(rolls())
    votes = data.draw(ballots(roll, MOTION, outsiders=False))
    flats = {flat: area for voter in roll for flat, area in voter.owned}
    if not flats:
        return
    flat = data.draw(st.sampled_from(sorted(flats)))
    with_co_owner = [*roll, Voter("co-owner", flat, flats=((flat, flats[flat]),))]
    before, after = decide(rule, roll, votes), decide(rule, with_co_owner, votes)
    assert after.result is before.result
    for quantity in (Quantity.AREA, Quantity.OWNERS):
        assert after.tallies[quantity] == before.tallies[quantity]


@settings(max_examples=300)
@given(st.data())
def test_a_buyer_s_further_flats_never_add_an_owner(data: st.DataObject) -> None:
    roll = data.draw(rolls())
    owners = [v for v in roll if v.owned]
    if not owners:
        return
    buyer = data.draw(st.sampled_from(owners))
    more = tuple((f"new-{i}", Fraction(data.draw(st.integers(0, 200)))) for i in range(3))
    grown = [
        Voter(v.member_id, v.household, flats=(*v.owned, *more)) if v is buyer else v for v in roll
    ]
    assert count(grown, {}).roll[Quantity.OWNERS] == count(roll, {}).roll[Quantity.OWNERS]
    assert count(grown, {}).roll[Quantity.AREA] == count(roll, {}).roll[Quantity.AREA] + sum(
        a for _, a in more
    )
