"""The anchor of bench/tally.py: the owners-ordinary figures by law in plain Python, no checks.

    python bench/tally_anchor.py ROLL_CSV VOTES_CSV

Assumes the generated files (roll: member_id,household,area with 2 decimals, one row per
member and flat, co-owners' rows repeating the flat's area, no empty area; votes:
member_id,choice with no conflict) and prints, as JSON, the exact headcount, area and
owners tallies (``"p/q"``) and the number of invalid votes, counted as ``domain.rules``
counts them: each flat's area once, flats linked by a shared holder one owner, and a
flat's or an owner's vote its holders' one vote (split: abstain).
"""

import csv
import json
import sys
from fractions import Fraction

WORDS = {"for": "for", "against": "against", "abstain": "abstain"}
WORDS |= {"赞成": "for", "反对": "against", "弃权": "abstain"}
with open(sys.argv[2], encoding="utf-8-sig", newline="") as handle:
    rows = csv.reader(handle)
    next(rows)
    votes = {member: WORDS[choice.strip().casefold()] for member, choice in rows}


def joint(label: str | None, other: str | None) -> str | None:
    """The one vote of two holders' votes (None: did not vote)."""
    if label is None or label == other:
        return other
    return label if other is None else "abstain"


heads = dict.fromkeys(("for", "against", "abstain"), 0)
members: set[str] = set()
area_of: dict[str, int] = {}  # household -> hundredths
holder_of: dict[str, str] = {}  # household -> its first holder
co_owned: dict[str, list[str]] = {}  # household -> its holders, when more than one
with open(sys.argv[1], encoding="utf-8-sig", newline="") as handle:
    rows = csv.reader(handle)
    next(rows)
    for member, household, area in rows:
        if member not in members:
            members.add(member)
            if (label := votes.get(member)) is not None:
                heads[label] += 1
        if household not in area_of:
            whole, _, part = area.partition(".")
            area_of[household] = int(whole + part.ljust(2, "0"))
            holder_of[household] = member
        else:
            co_owned.setdefault(household, [holder_of[household]]).append(member)

parent: dict[str, str] = {}  # holder -> a holder it is linked to (roots are not keys)
for holders in co_owned.values():
    for other in holders[1:]:
        a, b = other, holders[0]
        while a in parent:
            a = parent[a]
        while b in parent:
            b = parent[b]
        if a != b:
            parent[a] = b
cents = dict.fromkeys(heads, 0)
owners: dict[str, str | None] = {}  # root holder -> label
for household, hundredths in area_of.items():
    holder = holder_of[household]
    label = votes.get(holder)
    for other in co_owned.get(household, ()):
        label = joint(label, votes.get(other))
    if label is not None:
        cents[label] += hundredths
    while holder in parent:
        holder = parent[holder]
    owners[holder] = joint(owners.get(holder), label) if holder in owners else label
votes_of = dict.fromkeys(heads, 0)
for label in owners.values():
    if label is not None:
        votes_of[label] += 1


def tally(roll: Fraction, sums: dict[str, Fraction]) -> dict[str, str]:
    shown = {"roll": roll, "participants": sum(sums.values(), Fraction(0)), **sums}
    return {key: str(value) for key, value in shown.items()}


total = sum(area_of.values())
figures = {
    "headcount": tally(Fraction(len(members)), {k: Fraction(v) for k, v in heads.items()}),
    "area": tally(
        Fraction(sum(area_of.values()), 100), {k: Fraction(v, 100) for k, v in cents.items()}
    ),
    "owners": tally(Fraction(len(owners)), {k: Fraction(v) for k, v in votes_of.items()}),
}
print(json.dumps({**figures, "invalid_votes": sum(m not in members for m in votes)}))
