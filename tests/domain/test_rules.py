"""Table tests for the decision-rule engine, with the exact boundaries of every preset."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from domain.rules import (
    PRESETS,
    Base,
    Choice,
    Condition,
    Counted,
    Quantity,
    Result,
    Rule,
    RuleError,
    Tally,
    UnknownRule,
    Voter,
    decide,
    preset,
)


def people(n: int) -> list[Voter]:
    """n members, each their own household, no area."""
    return [Voter(f"m{i}", f"h{i}") for i in range(n)]


def ballots(for_: int = 0, against: int = 0, abstain: int = 0, start: int = 0) -> dict[str, str]:
    """Votes for members m{start}.. in the order for, against, abstain."""
    choices = ["for"] * for_ + ["against"] * against + ["abstain"] * abstain
    return {f"m{start + i}": c for i, c in enumerate(choices)}


# (preset, roll size, for, against, abstain, expected)
MOTION_TABLE = [
    # simple: FOR / CAST > 1/2, no quorum, abstentions ignored
    ("simple", 10, 5, 5, 0, Result.TIED),
    ("simple", 10, 6, 4, 0, Result.PASSED),
    ("simple", 10, 4, 6, 0, Result.REJECTED),
    ("simple", 10, 1, 0, 9, Result.PASSED),
    ("simple", 10, 0, 0, 10, Result.REJECTED),
    ("simple", 10, 0, 0, 0, Result.REJECTED),
    ("simple", 10, 3, 3, 4, Result.TIED),
    # two-thirds: FOR / CAST >= 2/3
    ("two-thirds", 9, 6, 3, 0, Result.PASSED),  # exactly two thirds
    ("two-thirds", 12, 6, 3, 3, Result.PASSED),  # abstentions do not count
    ("two-thirds", 8, 5, 3, 0, Result.REJECTED),  # 5/8 < 2/3
    ("two-thirds", 10, 5, 5, 0, Result.TIED),
    ("two-thirds", 100, 66, 34, 0, Result.REJECTED),  # 0.66 is not two thirds
    ("two-thirds", 100, 67, 33, 0, Result.PASSED),
    # residents-meeting: PARTICIPANTS / ROLL > 1/2; FOR / PARTICIPANTS > 1/2
    ("residents-meeting", 10, 5, 0, 0, Result.NO_QUORUM),  # 5/10 is not more than half
    ("residents-meeting", 10, 3, 1, 1, Result.NO_QUORUM),
    ("residents-meeting", 10, 3, 2, 1, Result.REJECTED),  # 3/6 is not more than half
    ("residents-meeting", 10, 3, 3, 0, Result.TIED),
    ("residents-meeting", 10, 4, 2, 0, Result.PASSED),
    ("residents-meeting", 10, 4, 0, 2, Result.PASSED),
    ("residents-meeting", 10, 3, 0, 3, Result.REJECTED),  # abstaining counts as not for
    ("residents-meeting", 11, 6, 0, 0, Result.PASSED),
    # consensus: PARTICIPANTS / ROLL > 1/2; nobody against (FOR / CAST >= 1)
    ("consensus", 10, 6, 0, 0, Result.PASSED),
    ("consensus", 10, 5, 1, 0, Result.REJECTED),
    ("consensus", 10, 1, 0, 5, Result.PASSED),
    ("consensus", 10, 0, 0, 6, Result.REJECTED),  # nobody cast a vote: nothing agreed
    ("consensus", 10, 5, 0, 0, Result.NO_QUORUM),
    ("consensus", 10, 3, 3, 0, Result.TIED),
    # owners-*: with every area 0 the area quorum cannot hold
    ("owners-ordinary", 3, 3, 0, 0, Result.NO_QUORUM),
]


@pytest.mark.parametrize(("name", "size", "for_", "against", "abstain", "expected"), MOTION_TABLE)
def test_motion_table(
    name: str, size: int, for_: int, against: int, abstain: int, expected: Result
) -> None:
    outcome = decide(preset(name), people(size), ballots(for_, against, abstain))
    assert outcome.result is expected
    assert outcome.quorum_met is (expected is not Result.NO_QUORUM)
    headcount = outcome.tallies[Quantity.HEADCOUNT]
    assert headcount == Tally(
        roll=Fraction(size),
        participants=Fraction(for_ + against + abstain),
        for_=Fraction(for_),
        against=Fraction(against),
        abstain=Fraction(abstain),
    )
    assert outcome.winner is None
    assert outcome.option_totals == {}


def owners(areas: list[Fraction | int]) -> list[Voter]:
    return [Voter(f"m{i}", f"h{i}", Fraction(a)) for i, a in enumerate(areas)]


# (preset, areas, votes by index, expected, quorum_met)
OWNERS_TABLE = [
    # 2 of 3 members (exactly 2/3 headcount) holding 2/3 of the area: quorum, both pass.
    ("owners-ordinary", [100, 100, 100], "ff-", Result.PASSED, True),
    # headcount quorum 2/3 exactly but area 150/350 < 2/3 -> no quorum
    ("owners-ordinary", [50, 100, 200], "ff-", Result.NO_QUORUM, False),
    # area quorum holds (300/350) but headcount 2/4 < 2/3 -> no quorum
    ("owners-ordinary", [100, 200, 25, 25], "ff--", Result.NO_QUORUM, False),
    # quorum: all 4 take part. Headcount for 3/4 > 1/2, area for 30/230 -> rejected
    ("owners-ordinary", [10, 10, 10, 200], "fffa", Result.REJECTED, True),
    # area for 200/230 > 1/2 but headcount for 1/4 -> rejected
    ("owners-ordinary", [10, 10, 10, 200], "aaaf", Result.REJECTED, True),
    # headcount 2 for 2 against (a tie) while area passes: the only failure is a tie
    ("owners-ordinary", [100, 100, 10, 10], "ffaa", Result.TIED, True),
    ("owners-ordinary", [10, 10, 10, 10], "ffaa", Result.TIED, True),
    # headcount ties but area is a plain defeat: rejected
    ("owners-ordinary", [10, 10, 10, 200], "ffaa", Result.REJECTED, True),
    # area for exactly half (50/100) is not more than half; abstaining area counts as not for
    ("owners-ordinary", [30, 10, 10, 30, 20], "fffax", Result.REJECTED, True),
    ("owners-ordinary", [30, 10, 11, 30, 20], "fffax", Result.PASSED, True),
    # area 50 for, 50 against: a tie in the only failed condition
    ("owners-ordinary", [30, 10, 10, 25, 25], "fffaa", Result.TIED, True),
    # owners-major: exactly 3/4 of both passes
    ("owners-major", [10, 10, 10, 10], "fffa", Result.PASSED, True),
    ("owners-major", [10, 10, 10, 11], "fffa", Result.REJECTED, True),  # area 30/41 < 3/4
    ("owners-major", [30, 30, 30, 10, 10, 10, 10, 10], "fffffaa-", Result.REJECTED, True),
    ("owners-major", [30, 30, 30, 10, 10, 10, 10, 10], "ffffffa-", Result.PASSED, True),
    # exact fractional areas: 3 of 4 equal thirds-of-a-unit shares is exactly 3/4
    (
        "owners-major",
        [Fraction(170, 3), Fraction(170, 3), Fraction(170, 3), Fraction(170, 3)],
        "fffa",
        Result.PASSED,
        True,
    ),
]

_CODE = {"f": "for", "a": "against", "x": "abstain"}


@pytest.mark.parametrize(("name", "areas", "code", "expected", "quorum_met"), OWNERS_TABLE)
def test_owners_table(
    name: str, areas: list[Fraction | int], code: str, expected: Result, quorum_met: bool
) -> None:
    votes = {f"m{i}": _CODE[c] for i, c in enumerate(code) if c != "-"}
    outcome = decide(preset(name), owners(areas), votes)
    assert outcome.result is expected
    assert outcome.quorum_met is quorum_met
    assert set(outcome.tallies) == {Quantity.HEADCOUNT, Quantity.AREA, Quantity.OWNERS}


def test_owners_one_quantity_passes_other_fails_is_reported_per_check() -> None:
    outcome = decide(preset("owners-ordinary"), owners([10, 10, 10, 200]), ballots(3, 1))
    area_check, head_check = outcome.pass_checks
    assert area_check.condition.quantity is Quantity.AREA
    assert head_check.condition.quantity is Quantity.OWNERS
    assert (area_check.value, area_check.base, area_check.met) == (30, 230, False)
    assert (head_check.value, head_check.base, head_check.met) == (3, 4, True)


def test_two_thirds_boundary_is_exact_not_float() -> None:
    # 2/3 as a float is 0.666..., below the rational; the rule must still pass at 6 of 9.
    check = (
        preset("two-thirds")
        .passing[0]
        .check({Quantity.HEADCOUNT: Tally(*(Fraction(x) for x in (9, 9, 6, 3, 0)))})
    )
    assert check.met
    assert check.value / check.base == Fraction(2, 3)


def test_pass_checks_evaluated_even_without_quorum() -> None:
    outcome = decide(preset("residents-meeting"), people(10), ballots(5))
    assert outcome.result is Result.NO_QUORUM
    assert len(outcome.pass_checks) == 1
    assert outcome.pass_checks[0].met


def test_tie_needs_votes() -> None:
    # for == against == 0 is not a tie: nothing was put to the vote.
    outcome = decide(preset("simple"), people(3), ballots(abstain=3))
    assert outcome.result is Result.REJECTED


# --- households -------------------------------------------------------------------------


def household_roll() -> list[Voter]:
    return [
        Voter("a1", "A"),
        Voter("a2", "A"),
        Voter("b1", "B"),
        Voter("b2", "B"),
        Voter("c1", "C"),
        Voter("d1", "D"),
    ]


def households_rule(fraction: Fraction = Fraction(1, 2)) -> Rule:
    return Rule(
        "custom",
        (Condition(Quantity.HOUSEHOLDS, Counted.PARTICIPANTS, Base.ROLL, fraction, False),),
        (Condition(Quantity.HOUSEHOLDS, Counted.FOR, Base.CAST, fraction, False),),
    )


def test_households_agreeing_and_split() -> None:
    votes = {"a1": "for", "a2": "for", "b1": "for", "b2": "against", "c1": "against"}
    outcome = decide(households_rule(), household_roll(), votes)
    tally = outcome.tallies[Quantity.HOUSEHOLDS]
    # A agrees (for), B is split (takes part, abstains), C against, D absent.
    assert tally == Tally(
        roll=Fraction(4),
        participants=Fraction(3),
        for_=Fraction(1),
        against=Fraction(1),
        abstain=Fraction(1),
    )
    assert outcome.result is Result.TIED
    assert outcome.tallies[Quantity.HEADCOUNT].participants == 5


def test_household_takes_part_when_one_member_abstains() -> None:
    outcome = decide(households_rule(), household_roll(), {"a1": "abstain", "b2": "for"})
    tally = outcome.tallies[Quantity.HOUSEHOLDS]
    assert (tally.participants, tally.for_, tally.abstain) == (2, 1, 1)
    assert outcome.quorum_met is False  # 2 of 4 households is not more than half


def test_household_split_between_abstain_and_for_abstains() -> None:
    tally = decide(households_rule(), household_roll(), {"a1": "abstain", "a2": "for"}).tallies[
        Quantity.HOUSEHOLDS
    ]
    assert (tally.participants, tally.for_, tally.abstain) == (1, 0, 1)


def test_household_one_member_voting_speaks_for_household() -> None:
    tally = decide(households_rule(), household_roll(), {"a1": "for"}).tallies[Quantity.HOUSEHOLDS]
    assert (tally.participants, tally.for_) == (1, 1)


# --- invalid input ----------------------------------------------------------------------


def test_votes_off_the_roll_are_excluded_and_reported_sorted() -> None:
    votes = {**ballots(6, 4), "zz": "for", "outsider": "against", "aa": "abstain"}
    outcome = decide(preset("simple"), people(10), votes)
    assert outcome.invalid_votes == ("aa", "outsider", "zz")
    assert outcome.tallies[Quantity.HEADCOUNT].participants == 10
    assert outcome.result is Result.PASSED
    assert outcome.to_dict()["invalid_votes"] == ["aa", "outsider", "zz"]


def test_bad_choice_names_the_member() -> None:
    with pytest.raises(RuleError, match="m3"):
        decide(preset("simple"), people(5), {"m3": "yes"})
    with pytest.raises(ValueError, match="m1"):
        decide(preset("simple"), people(5), {"m1": "A"})


def test_duplicate_member_on_roll() -> None:
    with pytest.raises(RuleError, match="m1"):
        decide(preset("simple"), [Voter("m1", "h"), Voter("m1", "h2")], {})


def test_choice_enum_values_are_accepted() -> None:
    outcome = decide(preset("simple"), people(2), {"m0": Choice.FOR, "m1": Choice.ABSTAIN})
    assert outcome.result is Result.PASSED


def test_voter_area_validation() -> None:
    with pytest.raises(RuleError, match="negative"):
        Voter("m1", "h", Fraction(-1))
    with pytest.raises(RuleError, match="exact"):
        Voter("m1", "h", 1.5)  # type: ignore[arg-type]
    from decimal import Decimal

    assert Voter("m1", "h", Decimal("89.15")).area == Fraction(8915, 100)  # type: ignore[arg-type]


# --- options ballots --------------------------------------------------------------------


def test_options_winner() -> None:
    votes = {"m0": "A", "m1": "A", "m2": "A", "m3": "B", "m4": "abstain"}
    outcome = decide(preset("simple"), people(6), votes, options=["A", "B", "C"])
    assert outcome.result is Result.PASSED
    assert outcome.winner == "A"
    assert outcome.option_totals["A"][Quantity.HEADCOUNT] == 3
    assert outcome.option_totals["B"][Quantity.HEADCOUNT] == 1
    assert outcome.option_totals["C"][Quantity.HEADCOUNT] == 0
    tally = outcome.tallies[Quantity.HEADCOUNT]
    assert (tally.for_, tally.against, tally.abstain) == (3, 1, 1)
    data = outcome.to_dict()
    assert data["winner"] == "A"
    assert data["option_totals"] == {
        "A": {"headcount": 3},
        "B": {"headcount": 1},
        "C": {"headcount": 0},
    }


def test_options_tie_at_top() -> None:
    votes = {"m0": "A", "m1": "A", "m2": "B", "m3": "B", "m4": "C"}
    outcome = decide(preset("simple"), people(5), votes, options=["A", "B", "C"])
    assert outcome.result is Result.TIED
    assert outcome.winner is None


def test_options_leader_below_threshold_is_rejected() -> None:
    # A leads with 2 of 5, not more than half of the votes cast: no option adopted.
    votes = {"m0": "A", "m1": "A", "m2": "B", "m3": "C", "m4": "D"}
    outcome = decide(preset("simple"), people(5), votes, options=["A", "B", "C", "D"])
    assert outcome.result is Result.REJECTED
    assert outcome.winner is None


def test_options_leader_with_exact_half_against_others_is_rejected_not_tied() -> None:
    votes = {"m0": "A", "m1": "A", "m2": "B", "m3": "C"}
    outcome = decide(preset("simple"), people(4), votes, options=["A", "B", "C"])
    assert outcome.result is Result.REJECTED


def test_options_no_quorum_wins_over_tie() -> None:
    votes = {"m0": "A", "m1": "B"}
    outcome = decide(preset("residents-meeting"), people(10), votes, options=["A", "B"])
    assert outcome.result is Result.NO_QUORUM


def test_options_nobody_chose_an_option() -> None:
    outcome = decide(preset("simple"), people(3), ballots(abstain=3), options=["A", "B"])
    assert outcome.result is Result.REJECTED
    assert outcome.winner is None


def test_options_leader_by_area_in_owners_rule() -> None:
    # By headcount B leads (3 to 1), but the first pass condition is by area: A leads.
    roll = owners([300, 10, 10, 10])
    votes = {"m0": "A", "m1": "B", "m2": "B", "m3": "B"}
    outcome = decide(preset("owners-ordinary"), roll, votes, options=["A", "B"])
    assert outcome.option_totals["A"][Quantity.AREA] == 300
    # A: area 300/330 passes, headcount 1/4 fails -> no option adopted.
    assert outcome.result is Result.REJECTED


def test_options_household_split_between_options_abstains() -> None:
    rule = Rule(
        "custom",
        (),
        (Condition(Quantity.HOUSEHOLDS, Counted.FOR, Base.CAST, Fraction(1, 2), False),),
    )
    votes = {"a1": "A", "a2": "B", "b1": "A", "c1": "B", "d1": "A"}
    outcome = decide(rule, household_roll(), votes, options=["A", "B"])
    totals = outcome.option_totals
    assert totals["A"][Quantity.HOUSEHOLDS] == 2  # B and D; A is split
    assert totals["B"][Quantity.HOUSEHOLDS] == 1
    assert outcome.winner == "A"
    assert outcome.result is Result.PASSED


@pytest.mark.parametrize(
    "options",
    [["A"], ["A", "A"], ["A", "abstain"], ["A", ""], []],
)
def test_bad_options(options: list[str]) -> None:
    with pytest.raises(RuleError):
        decide(preset("simple"), people(2), {}, options=options)


def test_motion_word_is_not_an_option() -> None:
    with pytest.raises(RuleError, match="m0"):
        decide(preset("simple"), people(2), {"m0": "for"}, options=["A", "B"])


# --- presets and serialisation ---------------------------------------------------------


def test_preset_keys() -> None:
    assert list(PRESETS) == [
        "simple",
        "two-thirds",
        "residents-meeting",
        "owners-ordinary",
        "owners-major",
        "consensus",
    ]
    for name, rule in PRESETS.items():
        assert rule.name == name


def test_unknown_preset_lists_valid_ones() -> None:
    with pytest.raises(UnknownRule, match="simple, two-thirds") as info:
        preset("majority")
    assert isinstance(info.value, RuleError)
    assert "majority" in str(info.value)


def test_preset_definitions() -> None:
    owners_major = preset("owners-major")
    assert [c.to_dict() for c in owners_major.passing] == [
        {
            "quantity": "area",
            "counted": "for",
            "base": "participants",
            "fraction": "3/4",
            "inclusive": True,
        },
        {
            "quantity": "owners",
            "counted": "for",
            "base": "participants",
            "fraction": "3/4",
            "inclusive": True,
        },
    ]
    assert preset("consensus").passing[0].fraction == 1
    assert preset("simple").quorum == ()


@pytest.mark.parametrize("name", list(PRESETS))
def test_round_trip_presets(name: str) -> None:
    rule = preset(name)
    data = rule.to_dict()
    assert Rule.from_dict(json.loads(json.dumps(data))) == rule


def test_round_trip_custom() -> None:
    rule = Rule(
        "custom",
        (Condition(Quantity.HOUSEHOLDS, Counted.PARTICIPANTS, Base.ROLL, Fraction(3, 5), True),),
        (
            Condition(Quantity.AREA, Counted.FOR, Base.CAST, Fraction(5, 7), False),
            Condition(Quantity.HEADCOUNT, Counted.FOR, Base.ROLL, Fraction(1, 2), False),
        ),
    )
    data = rule.to_dict()
    assert data["passing"][0]["fraction"] == "5/7"  # type: ignore[index]
    assert Rule.from_dict(data) == rule


def test_from_dict_defaults() -> None:
    rule = Rule.from_dict(
        {
            "passing": [
                {
                    "quantity": "headcount",
                    "counted": "for",
                    "base": "cast",
                    "fraction": "0.5",
                    "inclusive": False,
                }
            ]
        }
    )
    assert rule.name == "custom"
    assert rule.quorum == ()
    assert rule.passing[0].fraction == Fraction(1, 2)


def _cond(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "quantity": "headcount",
        "counted": "for",
        "base": "cast",
        "fraction": "1/2",
        "inclusive": False,
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"name": "x", "quorum": [], "passing": []}, "at least one passing"),
        ({"name": "x"}, "passing"),
        ({"passing": [_cond(fraction="0")]}, r"\(0, 1\]"),
        ({"passing": [_cond(fraction="3/2")]}, r"\(0, 1\]"),
        ({"passing": [_cond(fraction="-1/2")]}, r"\(0, 1\]"),
        ({"passing": [_cond(fraction=0.5)]}, "exact"),
        ({"passing": [_cond(fraction="half")]}, "not a number"),
        ({"passing": [_cond(fraction="1/0")]}, "not a number"),
        ({"passing": [_cond(quantity="rooms")]}, "quantity must be one of"),
        ({"passing": [_cond(counted="against")]}, "counted must be one of"),
        ({"passing": [_cond(base="everyone")]}, "base must be one of"),
        ({"passing": [_cond(inclusive="yes")]}, "inclusive"),
        ({"passing": [_cond(counted="participants", base="cast")]}, "base=roll"),
        ({"passing": [_cond(counted="participants", base="participants")]}, "base=roll"),
        ({"quorum": [_cond(counted="participants", base="cast")], "passing": [_cond()]}, "quorum"),
        ({"passing": [{"quantity": "headcount"}]}, "missing"),
        ({"passing": [_cond(threshold="1/2")]}, "unknown field"),
        ({"passing": [_cond()], "pass": []}, "unknown field"),
        ({"passing": _cond()}, "list"),
        ({"passing": ["simple"]}, "object"),
        ({"name": 3, "passing": [_cond()]}, "name"),
        ({"name": " ", "passing": [_cond()]}, "name"),
    ],
)
def test_from_dict_validation(data: dict[str, object], reason: str) -> None:
    with pytest.raises(RuleError, match=reason):
        Rule.from_dict(data)


def test_condition_constructor_validates() -> None:
    with pytest.raises(RuleError):
        Condition(Quantity.HEADCOUNT, Counted.PARTICIPANTS, Base.CAST, Fraction(1, 2), True)
    with pytest.raises(RuleError):
        Condition(Quantity.HEADCOUNT, Counted.FOR, Base.CAST, Fraction(0), True)


def test_outcome_to_dict_numbers_and_json() -> None:
    roll = owners([Fraction(170, 3), Fraction(170, 3), Fraction(170, 3), 50])
    outcome = decide(preset("owners-ordinary"), roll, {"m0": "for", "m1": "for", "m2": "against"})
    data = outcome.to_dict()
    json.dumps(data)  # JSON-able
    assert data["outcome"] == "passed"
    assert data["quorum_met"] is True
    assert data["rule"] == preset("owners-ordinary").to_dict()
    tallies = data["tallies"]
    assert isinstance(tallies, dict)
    assert tallies["headcount"] == {
        "roll": 4,
        "participants": 3,
        "for": 2,
        "against": 1,
        "abstain": 0,
        "cast": 3,
    }
    assert tallies["area"]["participants"] == 170
    assert tallies["area"]["for"] == {"exact": "340/3", "decimal": "113.33"}
    assert tallies["area"]["roll"] == 220
    quorum = data["quorum_checks"]
    assert isinstance(quorum, list)
    assert quorum[0]["value"] == 170
    assert quorum[0]["base"] == 220
    assert quorum[0]["ratio"] == {"exact": "17/22", "decimal": "0.77"}
    assert quorum[0]["met"] is True
    assert data["winner"] is None
    assert data["option_totals"] == {}
    assert data["invalid_votes"] == []


def test_decimal_rounding_for_humans() -> None:
    roll = owners([Fraction(1, 200), Fraction(1, 3)])
    outcome = decide(preset("owners-ordinary"), roll, {"m0": "for"})
    area = outcome.to_dict()["tallies"]["area"]  # type: ignore[index]
    assert area["for"] == {"exact": "1/200", "decimal": "0.01"}  # half rounds up
    assert area["roll"] == {"exact": "203/600", "decimal": "0.34"}


def test_outcome_is_frozen() -> None:
    outcome = decide(preset("simple"), people(2), ballots(1, 1))
    with pytest.raises(AttributeError):
        outcome.result = Result.PASSED  # type: ignore[misc]
    with pytest.raises(TypeError):
        outcome.tallies[Quantity.AREA] = outcome.tallies[Quantity.HEADCOUNT]  # type: ignore[index]


def test_recorded_outcome_reads_back_exactly() -> None:
    from domain.rules import Outcome, Voter, decide, preset

    roll = [Voter(str(i), f"h{i // 2}", Fraction(8530 + i, 100)) for i in range(9)]
    votes = {"0": "for", "1": "for", "2": "against", "3": "abstain", "4": "for", "5": "for"}
    outcome = decide(preset("owners-ordinary"), roll, votes)
    assert Outcome.from_dict(outcome.to_dict()) == outcome
    options = decide(preset("simple"), roll, {"0": "a", "1": "b", "2": "a"}, options=["a", "b"])
    assert Outcome.from_dict(options.to_dict()) == options
