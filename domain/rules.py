"""Decision rules: quorum and pass conditions evaluated with exact arithmetic.

A rule is data: a tuple of quorum conditions and a tuple of pass conditions, all of
which must hold. Each condition says what is counted (participants or votes for), in
which quantity (headcount, households or floor area), against which base (the roll,
those taking part, or the votes cast), the fraction and whether reaching it exactly
is enough. Thresholds are compared by integer cross-multiplication of
``fractions.Fraction`` values, never floats, so 6 of 9 is exactly two thirds.

Choices made here, because the result of a council vote must not depend on them
being guessed:

* Households. A household takes part when any of its members voted; abstaining
  counts as taking part. Its choice is its voting members' choice when they agree.
  When they disagree it is a *split household*: it takes part and counts as
  abstaining. Picking "the first vote" or "the majority of the household" would make
  the result depend on vote order or on how many relatives are on the roll.
* Consensus ("nobody votes against") is written as FOR / CAST >= 1. When nobody
  casts a vote for or against (everyone abstains), the cast base is zero and the
  condition is not met: a council that only abstained has not agreed to anything.
* Ties. When every failed pass condition has for == against > 0 in its quantity the
  result is TIED, never silently REJECTED, so the chair knows a casting decision or
  a second round is needed.
* Options ballots. The leader is the option with the most votes in the quantity of
  the first pass condition. For the pass conditions the leader's votes count as
  "for" and the votes for all other options as "against"; abstentions as usual. A
  shared top total (> 0) with quorum met is TIED; a leader that misses a threshold is
  REJECTED (no option adopted). A household whose voting members chose different
  options is split, as above.
* Votes by member ids that are not on the roll are excluded from every count and
  reported, sorted, in ``Outcome.invalid_votes``.
* Owners (``AREA`` and ``OWNERS``) are counted as the Supreme People's Court's
  interpretation on building ownership counts them (法释〔2009〕7号, arts. 8-9). The
  unit is the flat (专有部分): its registered area counts once however many co-owners
  hold it; if the roll gives one flat two areas, the larger is taken (the roll import
  refuses such a file, so only an old roll can disagree). Co-owners cast one vote for
  their flat: when they disagree the flat is split, exactly as a household is (it takes
  part and abstains), so the result never depends on which co-owner pressed first.
  The owner count merges the flats of one buyer: flats that share a holder count as
  one owner ("同一买受人拥有一个以上专有部分的，按一人计算"), and so, step by step, do
  all flats linked by shared holders (if flats 1 and 2 are one owner and so are 2 and
  3, then 1, 2 and 3 are). The developer's unsold flats, held by the developer's one
  roll entry, are one owner by the same rule. Merging this way means that putting a
  co-owner who does not vote on the roll never changes an owners' outcome. An owner's
  vote is its holders' one vote (split: abstain), as a flat's is.
  The residents' rules keep counting people (``HEADCOUNT``) or households.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType
from typing import Any, TypeVar

__all__ = [
    "PRESETS",
    "Base",
    "Choice",
    "Condition",
    "ConditionCheck",
    "Counted",
    "Counts",
    "Outcome",
    "Quantity",
    "Result",
    "Rule",
    "RuleError",
    "Tally",
    "UnknownRule",
    "Voter",
    "count",
    "decide",
    "decide_counts",
    "owners_by_label",
    "preset",
]


_E = TypeVar("_E", bound=StrEnum)


class RuleError(ValueError):
    """A rule, roll or set of votes that cannot be evaluated as given."""


class UnknownRule(RuleError):
    """A preset name that does not exist."""


class Choice(StrEnum):
    FOR = "for"
    AGAINST = "against"
    ABSTAIN = "abstain"


class Quantity(StrEnum):
    HEADCOUNT = "headcount"  # people on the roll
    HOUSEHOLDS = "households"  # the households they live in
    AREA = "area"  # flats' registered area, each flat once
    OWNERS = "owners"  # owners as the law counts them: flats grouped by who holds them


class Counted(StrEnum):
    PARTICIPANTS = "participants"
    FOR = "for"


class Base(StrEnum):
    ROLL = "roll"
    PARTICIPANTS = "participants"
    CAST = "cast"


class Result(StrEnum):
    PASSED = "passed"
    REJECTED = "rejected"
    NO_QUORUM = "no_quorum"
    TIED = "tied"


def _exact(value: object, what: str) -> Fraction:
    # Floats are refused: 0.1 + 0.2 style errors are exactly what this module avoids.
    if isinstance(value, bool | float):
        raise RuleError(f"{what} must be exact (int, Fraction, Decimal or 'p/q'), got {value!r}")
    if isinstance(value, Fraction | int | Decimal):
        try:
            return Fraction(value)
        except (ValueError, OverflowError):
            raise RuleError(f"{what} must be finite, got {value!r}") from None
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise RuleError(f"{what} is not a number: {value!r}") from None
    raise RuleError(f"{what} must be a number, got {type(value).__name__}")


def _enum(kind: type[_E], value: object, what: str) -> _E:
    if isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            pass
    valid = ", ".join(m.value for m in kind)
    raise RuleError(f"{what} must be one of {valid}; got {value!r}")


def _json_number(value: Fraction) -> int | dict[str, str]:
    """Integers as ints; anything else exact plus a 2-place decimal for humans."""
    if value.denominator == 1:
        return value.numerator
    # Round half away from zero on integers so huge values never hit Decimal precision.
    sign = -1 if value < 0 else 1
    quotient, remainder = divmod(abs(value.numerator) * 100, value.denominator)
    if 2 * remainder >= value.denominator:
        quotient += 1
    shown = Decimal(sign * quotient).scaleb(-2)
    return {"exact": f"{value.numerator}/{value.denominator}", "decimal": str(shown)}


def _from_json_number(value: object, what: str) -> Fraction:
    """Inverse of ``_json_number``: the exact value, never the rounded decimal."""
    if isinstance(value, Mapping):
        return _exact(value.get("exact"), what)
    return _exact(value, what)


@dataclass(frozen=True)
class Tally:
    """One quantity's figures; participants = for_ + against + abstain."""

    roll: Fraction
    participants: Fraction
    for_: Fraction
    against: Fraction
    abstain: Fraction

    @property
    def cast(self) -> Fraction:
        return self.for_ + self.against

    def to_dict(self) -> dict[str, object]:
        return {
            "roll": _json_number(self.roll),
            "participants": _json_number(self.participants),
            "for": _json_number(self.for_),
            "against": _json_number(self.against),
            "abstain": _json_number(self.abstain),
            "cast": _json_number(self.cast),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Tally:
        return cls(
            *(
                _from_json_number(data[key], key)
                for key in ("roll", "participants", "for", "against", "abstain")
            )
        )


@dataclass(frozen=True)
class Condition:
    quantity: Quantity
    counted: Counted
    base: Base
    fraction: Fraction
    inclusive: bool

    def __post_init__(self) -> None:
        # Normalise so that Condition("area", ...) built from loose data is still typed.
        object.__setattr__(self, "quantity", _enum(Quantity, self.quantity, "quantity"))
        object.__setattr__(self, "counted", _enum(Counted, self.counted, "counted"))
        object.__setattr__(self, "base", _enum(Base, self.base, "base"))
        fraction = _exact(self.fraction, "fraction")
        object.__setattr__(self, "fraction", fraction)
        if not isinstance(self.inclusive, bool):
            raise RuleError(f"inclusive must be true or false, got {self.inclusive!r}")
        if not 0 < fraction <= 1:
            raise RuleError(f"fraction must be in (0, 1], got {fraction}")
        if self.counted is Counted.PARTICIPANTS and self.base is not Base.ROLL:
            # Participants over participants is always 1 and participants over cast >= 1:
            # such a condition is a mistake, not a rule.
            raise RuleError("counted=participants is only meaningful with base=roll")

    def check(self, tallies: Mapping[Quantity, Tally]) -> ConditionCheck:
        try:
            tally = tallies[self.quantity]
        except KeyError:
            raise RuleError(f"no tally for quantity {self.quantity.value}") from None
        value = tally.participants if self.counted is Counted.PARTICIPANTS else tally.for_
        if self.base is Base.ROLL:
            base = tally.roll
        elif self.base is Base.PARTICIPANTS:
            base = tally.participants
        else:
            base = tally.cast
        return ConditionCheck(self, value, base, self._met(value, base))

    def _met(self, value: Fraction, base: Fraction) -> bool:
        if base <= 0:
            return False
        # value/base vs p/q  <=>  value*q vs base*p, both sides exact rationals.
        lhs = value * self.fraction.denominator
        rhs = base * self.fraction.numerator
        return lhs >= rhs if self.inclusive else lhs > rhs

    def to_dict(self) -> dict[str, object]:
        return {
            "quantity": self.quantity.value,
            "counted": self.counted.value,
            "base": self.base.value,
            "fraction": str(self.fraction),
            "inclusive": self.inclusive,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Condition:
        if not isinstance(data, Mapping):
            raise RuleError(f"a condition must be an object, got {type(data).__name__}")
        keys = {"quantity", "counted", "base", "fraction", "inclusive"}
        missing = sorted(keys - set(data))
        if missing:
            raise RuleError(f"condition is missing {', '.join(missing)}")
        extra = sorted(str(k) for k in set(data) - keys)
        if extra:
            raise RuleError(f"condition has unknown field(s) {', '.join(extra)}")
        return cls(
            quantity=_enum(Quantity, data["quantity"], "quantity"),
            counted=_enum(Counted, data["counted"], "counted"),
            base=_enum(Base, data["base"], "base"),
            fraction=_exact(data["fraction"], "fraction"),
            inclusive=data["inclusive"],  # type: ignore[arg-type]  # checked in __post_init__
        )


@dataclass(frozen=True)
class ConditionCheck:
    condition: Condition
    value: Fraction
    base: Fraction
    met: bool

    def to_dict(self) -> dict[str, object]:
        ratio = _json_number(self.value / self.base) if self.base > 0 else None
        return {
            "condition": self.condition.to_dict(),
            "value": _json_number(self.value),
            "base": _json_number(self.base),
            "ratio": ratio,
            "met": self.met,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ConditionCheck:
        condition = data["condition"]
        if not isinstance(condition, Mapping):
            raise RuleError("check.condition must be an object")
        return cls(
            Condition.from_dict(condition),
            _from_json_number(data["value"], "value"),
            _from_json_number(data["base"], "base"),
            bool(data["met"]),
        )


@dataclass(frozen=True)
class Rule:
    name: str
    quorum: tuple[Condition, ...]
    passing: tuple[Condition, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise RuleError("a rule needs a non-empty name")
        object.__setattr__(self, "quorum", tuple(self.quorum))
        object.__setattr__(self, "passing", tuple(self.passing))
        for condition in (*self.quorum, *self.passing):
            if not isinstance(condition, Condition):
                raise RuleError(f"conditions must be Condition, got {type(condition).__name__}")
        if not self.passing:
            raise RuleError("a rule needs at least one passing condition")

    @property
    def quantities(self) -> tuple[Quantity, ...]:
        """Every quantity the rule uses, plus headcount, in a fixed order."""
        used = {c.quantity for c in (*self.quorum, *self.passing)} | {Quantity.HEADCOUNT}
        return tuple(q for q in Quantity if q in used)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "quorum": [c.to_dict() for c in self.quorum],
            "passing": [c.to_dict() for c in self.passing],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Rule:
        if not isinstance(data, Mapping):
            raise RuleError(f"a rule must be an object, got {type(data).__name__}")
        extra = sorted(str(k) for k in set(data) - {"name", "quorum", "passing"})
        if extra:
            raise RuleError(f"rule has unknown field(s) {', '.join(extra)}")
        name = data.get("name", "custom")
        if not isinstance(name, str):
            raise RuleError(f"rule name must be a string, got {name!r}")
        if "passing" not in data:
            raise RuleError("rule is missing 'passing' (at least one condition)")
        return cls(
            name=name,
            quorum=cls._conditions(data.get("quorum", []), "quorum"),
            passing=cls._conditions(data["passing"], "passing"),
        )

    @staticmethod
    def _conditions(raw: object, where: str) -> tuple[Condition, ...]:
        if not isinstance(raw, list | tuple):
            raise RuleError(f"'{where}' must be a list of conditions")
        conditions = []
        for index, item in enumerate(raw):
            try:
                conditions.append(Condition.from_dict(item))
            except RuleError as error:
                raise RuleError(f"{where}[{index}]: {error}") from None
        return tuple(conditions)


def _c(
    quantity: Quantity, counted: Counted, base: Base, fraction: Fraction, inclusive: bool
) -> Condition:
    return Condition(quantity, counted, base, fraction, inclusive)


_H, _A, _O = Quantity.HEADCOUNT, Quantity.AREA, Quantity.OWNERS
_HALF, _TWO_THIRDS, _THREE_QUARTERS = Fraction(1, 2), Fraction(2, 3), Fraction(3, 4)
# Article 278: "以上" includes the number itself; "过半数" is strictly more than half.
_OWNERS_QUORUM = (
    _c(_A, Counted.PARTICIPANTS, Base.ROLL, _TWO_THIRDS, True),
    _c(_O, Counted.PARTICIPANTS, Base.ROLL, _TWO_THIRDS, True),
)
_MAJORITY_OF_ROLL = (_c(_H, Counted.PARTICIPANTS, Base.ROLL, _HALF, False),)

PRESETS: Mapping[str, Rule] = MappingProxyType(
    {
        "simple": Rule("simple", (), (_c(_H, Counted.FOR, Base.CAST, _HALF, False),)),
        "two-thirds": Rule("two-thirds", (), (_c(_H, Counted.FOR, Base.CAST, _TWO_THIRDS, True),)),
        "residents-meeting": Rule(
            "residents-meeting",
            _MAJORITY_OF_ROLL,
            (_c(_H, Counted.FOR, Base.PARTICIPANTS, _HALF, False),),
        ),
        "owners-ordinary": Rule(
            "owners-ordinary",
            _OWNERS_QUORUM,
            (
                _c(_A, Counted.FOR, Base.PARTICIPANTS, _HALF, False),
                _c(_O, Counted.FOR, Base.PARTICIPANTS, _HALF, False),
            ),
        ),
        "owners-major": Rule(
            "owners-major",
            _OWNERS_QUORUM,
            (
                _c(_A, Counted.FOR, Base.PARTICIPANTS, _THREE_QUARTERS, True),
                _c(_O, Counted.FOR, Base.PARTICIPANTS, _THREE_QUARTERS, True),
            ),
        ),
        "consensus": Rule(
            "consensus",
            _MAJORITY_OF_ROLL,
            (_c(_H, Counted.FOR, Base.CAST, Fraction(1), True),),
        ),
    }
)


def preset(name: str) -> Rule:
    try:
        return PRESETS[name]
    except KeyError:
        valid = ", ".join(PRESETS)
        raise UnknownRule(f"unknown rule {name!r}; valid presets: {valid}") from None


@dataclass(frozen=True)
class Voter:
    """A member on the roll: the household it lives in (the residents' rules) and the
    flats it owns, each ``(household, registered area)`` (the owners' rules). Without
    ``flats`` the member owns its own household, of ``area``; ``flats=()`` owns none (a
    tenant, or a flat not yet verified) and is not counted by ``AREA`` or ``OWNERS``."""

    member_id: str
    household: str
    area: Fraction = Fraction(0)
    flats: tuple[tuple[str, Fraction], ...] | None = None

    def __post_init__(self) -> None:
        area = _exact(self.area, f"area of member {self.member_id!r}")
        if area < 0:
            raise RuleError(f"area of member {self.member_id!r} is negative: {area}")
        object.__setattr__(self, "area", area)
        if self.flats is None:
            return
        checked: dict[str, Fraction] = {}
        for household, flat_area in self.flats:
            exact = _exact(flat_area, f"area of flat {household!r}")
            if exact < 0:
                raise RuleError(f"area of flat {household!r} is negative: {exact}")
            if household in checked:
                raise RuleError(f"member {self.member_id!r} holds flat {household!r} twice")
            checked[household] = exact
        object.__setattr__(self, "flats", tuple(checked.items()))

    @property
    def owned(self) -> tuple[tuple[str, Fraction], ...]:
        """The flats this member holds, with their registered areas."""
        return ((self.household, self.area),) if self.flats is None else self.flats


@dataclass(frozen=True)
class Outcome:
    result: Result
    quorum_met: bool
    quorum_checks: tuple[ConditionCheck, ...]
    pass_checks: tuple[ConditionCheck, ...]
    tallies: Mapping[Quantity, Tally]
    option_totals: Mapping[str, Mapping[Quantity, Fraction]]
    winner: str | None
    invalid_votes: tuple[str, ...]
    rule: Rule

    def to_dict(self) -> dict[str, object]:
        return {
            "outcome": self.result.value,
            "quorum_met": self.quorum_met,
            "rule": self.rule.to_dict(),
            "tallies": {q.value: t.to_dict() for q, t in self.tallies.items()},
            "quorum_checks": [c.to_dict() for c in self.quorum_checks],
            "pass_checks": [c.to_dict() for c in self.pass_checks],
            "option_totals": {
                option: {q.value: _json_number(v) for q, v in totals.items()}
                for option, totals in self.option_totals.items()
            },
            "winner": self.winner,
            "invalid_votes": list(self.invalid_votes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outcome:
        """Read back what ``to_dict`` wrote (a recorded outcome stored as JSON)."""
        try:
            return cls(
                result=Result(data["outcome"]),
                quorum_met=bool(data["quorum_met"]),
                quorum_checks=tuple(ConditionCheck.from_dict(c) for c in data["quorum_checks"]),
                pass_checks=tuple(ConditionCheck.from_dict(c) for c in data["pass_checks"]),
                tallies=MappingProxyType(
                    {Quantity(q): Tally.from_dict(t) for q, t in data["tallies"].items()}
                ),
                option_totals=MappingProxyType(
                    {
                        option: MappingProxyType(
                            {Quantity(q): _from_json_number(v, q) for q, v in totals.items()}
                        )
                        for option, totals in data["option_totals"].items()
                    }
                ),
                winner=data["winner"],
                invalid_votes=tuple(data["invalid_votes"]),
                rule=Rule.from_dict(data["rule"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise RuleError(f"not a recorded outcome: {error}") from None


# A unit is one thing that is weighed in a quantity: a member (headcount, area) or a
# household. Its label is a vote value ("for", an option key, "abstain") or None.
_Unit = tuple[Fraction, str | None]
_ONE = Fraction(1)
_ZERO = Fraction(0)


@dataclass(frozen=True)
class Counts:
    """All a rule needs of a roll and its votes: per quantity, the weight of the roll and
    the weight behind each vote label ("for", an option key, "abstain"). A split household
    is already under "abstain" in ``HOUSEHOLDS``. Counting (``count``, or a database's
    aggregates) and deciding (``decide_counts``) are separate so that a roll of a million
    rows never has to become a million objects."""

    roll: Mapping[Quantity, Fraction]
    labels: Mapping[str, Mapping[Quantity, Fraction]]
    invalid_votes: tuple[str, ...] = ()

    def weight(self, label: str, quantity: Quantity) -> Fraction:
        return self.labels.get(label, {}).get(quantity, _ZERO)


def _joint(chosen: set[str]) -> str | None:
    """The one vote of people who vote together (a household, a flat's co-owners)."""
    if not chosen:
        return None
    if len(chosen) == 1:
        return next(iter(chosen))
    return Choice.ABSTAIN.value  # split: they take part and abstain


def _flats(roll: Sequence[Voter]) -> dict[str, tuple[Fraction, frozenset[str]]]:
    """Each flat on the roll: its registered area and who holds it."""
    flats: dict[str, tuple[Fraction, frozenset[str]]] = {}
    for voter in roll:
        for household, area in voter.owned:
            known, holders = flats.get(household, (area, frozenset()))
            flats[household] = (max(known, area), holders | {voter.member_id})
    return flats


def _units(quantity: Quantity, roll: Sequence[Voter], labels: Mapping[str, str]) -> list[_Unit]:
    if quantity is Quantity.HEADCOUNT:
        return [(_ONE, labels.get(v.member_id)) for v in roll]
    if quantity is Quantity.HOUSEHOLDS:
        households: dict[str, set[str]] = {}
        for voter in roll:
            chosen = households.setdefault(voter.household, set())
            if voter.member_id in labels:
                chosen.add(labels[voter.member_id])
        return [(_ONE, _joint(chosen)) for chosen in households.values()]
    flats = _flats(roll)
    if quantity is Quantity.AREA:
        return [
            (area, _joint({labels[m] for m in holders if m in labels}))
            for area, holders in flats.values()
        ]
    return [(_ONE, _joint({labels[m] for m in owner if m in labels})) for owner in _owners(flats)]


def _owners(flats: Mapping[str, tuple[Fraction, frozenset[str]]]) -> list[set[str]]:
    """The holders of each owner: flats linked by a shared holder merged (union-find)."""
    parent: dict[str, str] = {}

    def root(member: str) -> str:
        while parent.setdefault(member, member) != member:
            parent[member] = parent[parent[member]]
            member = parent[member]
        return member

    for _, holders in flats.values():
        first, *rest = sorted(holders)
        for other in rest:
            parent[root(other)] = root(first)
        root(first)
    owners: dict[str, set[str]] = {}
    for member in list(parent):
        owners.setdefault(root(member), set()).add(member)
    return list(owners.values())


def owners_by_label(rows: Iterable[tuple[str, object, str | None]]) -> dict[str | None, int]:
    """How many owners voted each way, from ``(flat, holder, the flat's label)`` rows:
    flats linked by a shared holder are one owner, whose label is its flats' one vote
    (split: abstain; None: did not vote). For a database that labelled the flats."""
    holders: dict[str, set[str]] = {}
    flat_label: dict[str, str | None] = {}
    for flat, holder, label in rows:
        holders.setdefault(flat, set()).add(str(holder))
        flat_label[flat] = label
    flats_of: dict[str, list[str]] = {}
    for flat, people in holders.items():
        for person in people:
            flats_of.setdefault(person, []).append(flat)
    found: dict[str | None, int] = {}
    for owner in _owners({f: (_ZERO, frozenset(h)) for f, h in holders.items()}):
        flats = {f for person in owner for f in flats_of[person]}
        label = _joint({label for f in flats if (label := flat_label[f]) is not None})
        found[label] = found.get(label, 0) + 1
    return found


def count(
    roll: Sequence[Voter],
    votes: Mapping[str, str],
    quantities: Iterable[Quantity] = tuple(Quantity),
) -> Counts:
    """Weigh ``votes`` (member id -> label) against ``roll`` in each of ``quantities``.
    Votes by member ids not on the roll are left out and listed, sorted."""
    on_roll: set[str] = set()
    for voter in roll:
        if voter.member_id in on_roll:
            raise RuleError(f"member {voter.member_id!r} appears twice on the roll")
        on_roll.add(voter.member_id)
    labels = {m: str(v) for m, v in votes.items() if m in on_roll}
    totals: dict[Quantity, Fraction] = {}
    by_label: dict[str, dict[Quantity, Fraction]] = {}
    for quantity in quantities:
        total = _ZERO
        for weight, label in _units(quantity, roll, labels):
            total += weight
            if label is not None:
                sums = by_label.setdefault(label, {})
                sums[quantity] = sums.get(quantity, _ZERO) + weight
        totals[quantity] = total
    return Counts(
        roll=MappingProxyType(totals),
        labels=MappingProxyType({k: MappingProxyType(v) for k, v in by_label.items()}),
        invalid_votes=tuple(sorted(m for m in votes if m not in on_roll)),
    )


def _tally(counts: Counts, quantity: Quantity, as_choice: Mapping[str, Choice]) -> Tally:
    sums = {choice: _ZERO for choice in Choice}
    for label in counts.labels:
        sums[as_choice.get(label, Choice.AGAINST)] += counts.weight(label, quantity)
    return Tally(
        roll=counts.roll[quantity],
        participants=sums[Choice.FOR] + sums[Choice.AGAINST] + sums[Choice.ABSTAIN],
        for_=sums[Choice.FOR],
        against=sums[Choice.AGAINST],
        abstain=sums[Choice.ABSTAIN],
    )


def _check_options(options: Sequence[str]) -> tuple[str, ...]:
    keys = tuple(options)
    for key in keys:
        if not isinstance(key, str) or not key:
            raise RuleError(f"option keys must be non-empty strings, got {key!r}")
        if key == Choice.ABSTAIN.value:
            raise RuleError("'abstain' cannot be an option key; it is always available")
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        raise RuleError(f"duplicated option key(s): {', '.join(duplicated)}")
    if len(keys) < 2:
        raise RuleError("an options ballot needs at least two options")
    return keys


def _allowed(option_keys: tuple[str, ...] | None) -> set[str]:
    if option_keys is None:
        return {c.value for c in Choice}
    return {*option_keys, Choice.ABSTAIN.value}


def decide(
    rule: Rule,
    roll: Sequence[Voter],
    votes: Mapping[str, str],
    options: Sequence[str] | None = None,
) -> Outcome:
    """The outcome of ``votes`` (member id -> choice or option key) on ``roll``."""
    allowed = _allowed(None if options is None else _check_options(options))
    for member_id, value in votes.items():
        if not isinstance(value, str) or value not in allowed:
            expected = ", ".join(sorted(allowed))
            raise RuleError(f"member {member_id!r} voted {value!r}; expected one of {expected}")
    return decide_counts(rule, count(roll, votes, rule.quantities), options)


def decide_counts(rule: Rule, counts: Counts, options: Sequence[str] | None = None) -> Outcome:
    """The outcome from figures already counted (``count``, or a database's aggregates)."""
    option_keys = None if options is None else _check_options(options)
    allowed = _allowed(option_keys)
    unknown = sorted(label for label in counts.labels if label not in allowed)
    if unknown:
        expected = ", ".join(sorted(allowed))
        raise RuleError(f"votes for {', '.join(unknown)}; expected one of {expected}")
    quantities = rule.quantities
    missing = [q.value for q in quantities if q not in counts.roll]
    if missing:
        raise RuleError(f"no count for quantity {', '.join(missing)}")

    option_totals: dict[str, Mapping[Quantity, Fraction]] = {}
    top_tied = False
    leader: str | None = None
    if option_keys is None:
        as_choice = {c.value: c for c in Choice}
    else:
        for key in option_keys:
            option_totals[key] = MappingProxyType({q: counts.weight(key, q) for q in quantities})
        lead_quantity = rule.passing[0].quantity
        top = max(totals[lead_quantity] for totals in option_totals.values())
        at_top = [k for k, totals in option_totals.items() if totals[lead_quantity] == top]
        if top > 0:
            top_tied = len(at_top) > 1
            leader = None if top_tied else at_top[0]
        # Unmapped labels (the other options) count as against the leader in _tally.
        as_choice = {Choice.ABSTAIN.value: Choice.ABSTAIN}
        if leader is not None:
            as_choice[leader] = Choice.FOR

    tallies = MappingProxyType({q: _tally(counts, q, as_choice) for q in quantities})
    quorum_checks = tuple(c.check(tallies) for c in rule.quorum)
    pass_checks = tuple(c.check(tallies) for c in rule.passing)
    quorum_met = all(c.met for c in quorum_checks)

    winner: str | None = None
    if not quorum_met:
        result = Result.NO_QUORUM
    elif option_keys is not None:
        if top_tied:
            result = Result.TIED
        elif leader is not None and all(c.met for c in pass_checks):
            result, winner = Result.PASSED, leader
        else:
            result = Result.REJECTED
    elif all(c.met for c in pass_checks):
        result = Result.PASSED
    elif all(
        tallies[c.condition.quantity].for_ == tallies[c.condition.quantity].against > 0
        for c in pass_checks
        if not c.met
    ):
        result = Result.TIED
    else:
        result = Result.REJECTED

    return Outcome(
        result=result,
        quorum_met=quorum_met,
        quorum_checks=quorum_checks,
        pass_checks=pass_checks,
        tallies=tallies,
        option_totals=MappingProxyType(option_totals),
        winner=winner,
        invalid_votes=counts.invalid_votes,
        rule=rule,
    )
