"""The anchor of bench/tally.py: the owners-ordinary figures in plain Python, no checks.

    python bench/tally_anchor.py ROLL_CSV VOTES_CSV

Assumes the generated files (roll: member_id,household,area with 2 decimals and no
duplicate member; votes: member_id,choice with no conflict) and prints, as JSON, the
exact headcount and area tallies (``"p/q"``) and the number of invalid votes.
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
heads, cents, members, total = (
    dict.fromkeys(WORDS.values(), 0),
    dict.fromkeys(WORDS.values(), 0),
    0,
    0,
)
with open(sys.argv[1], encoding="utf-8-sig", newline="") as handle:
    rows = csv.reader(handle)
    next(rows)
    for member, _household, area in rows:
        whole, _, part = area.partition(".")
        hundredths = int(whole + part.ljust(2, "0"))
        members, total = members + 1, total + hundredths
        choice = votes.pop(member, None)
        if choice is not None:
            heads[choice], cents[choice] = heads[choice] + 1, cents[choice] + hundredths


def tally(roll: Fraction, sums: dict[str, Fraction]) -> dict[str, str]:
    shown = {"roll": roll, "participants": sum(sums.values(), Fraction(0)), **sums}
    return {key: str(value) for key, value in shown.items()}


figures = {
    "headcount": tally(Fraction(members), {k: Fraction(v) for k, v in heads.items()}),
    "area": tally(Fraction(total, 100), {k: Fraction(v, 100) for k, v in cents.items()}),
}
print(json.dumps({**figures, "invalid_votes": len(votes)}))
