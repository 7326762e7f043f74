"""A ballot's figures as the residents' page shows them: what the chat's ballot message
shows (``bot.telegram.render.ballot_message``), laid out for a phone.

Counts per choice, turnout and the quorum while open; once closed, the outcome, the
winner, the passing conditions and the votes per way; never a floor area (personal
data: for chairs and staff). Names only where the chat names
them: an open (记名) ballot's voters; a secret ballot's never (``BallotView.voters`` is
empty for one, and nothing here reads the votes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from bot.i18n import joined
from bot.reports import wording
from domain.model import Ballot, BallotKind, VoteSource
from domain.rules import Choice, ConditionCheck, Quantity, Result
from domain.services import BallotView

# Marks every font draws (the chat's ✅ ❌ ⚠️ ⚖️ are emoji, empty boxes without an emoji
# font, as in Debian's Chromium and on older phones).
MARK = {Result.PASSED: "✔", Result.REJECTED: "✖", Result.NO_QUORUM: "！", Result.TIED: "＝"}


@dataclass(frozen=True)
class Row:
    choice: str  # the key a vote carries: for, against, abstain, p12
    label: str  # 赞成 / 选项1：…
    count: str  # as the chat writes it
    figure: Fraction  # the same, to pick a plural form
    value: float  # for the <meter>: count over the most any choice has
    names: str  # the voters, on an open (记名) ballot; "" otherwise
    more: int  # voters not named
    winner: bool = False


@dataclass(frozen=True)
class Tally:
    ballot_id: int
    open: bool
    secret: bool
    rows: list[Row]
    participation: str  # 已参与 3/6 人
    quorum: list[str]  # the quorum's checks, one line each
    result: str = ""  # once closed: ✔ 通过
    result_kind: str = ""  # passed, rejected, no_quorum, tied (a CSS class)
    winner: str = ""
    passing: list[str] | None = None  # the passing conditions' checks
    sources: str = ""  # votes per way, when any came another way than the chat
    cancelled: bool = False


def check_line(lang: str, check: ConditionCheck) -> str:
    quantity = check.condition.quantity
    return wording.text(
        lang,
        "check.line",
        mark="✔" if check.met else "✘",
        condition=wording.condition(lang, check.condition),
        value=wording.number(check.value, quantity),
        base=wording.number(check.base, quantity),
        unit=wording.text(lang, f"unit.{quantity.value}", count=check.base),
    )


def choice_label(lang: str, ballot: Ballot, choice: str) -> str:
    """赞成 / 反对 / 弃权 or "选项2：…", as a label begins ("For", not "for")."""
    label = wording.choice(lang, ballot, choice)
    return label[:1].upper() + label[1:]


def _shown(checks: Sequence[ConditionCheck]) -> list[ConditionCheck]:
    """The checks a resident reads: not those of floor area. Areas are for chairs and
    staff only, and beside an open ballot's names a total of the voters' areas could
    tell a household's own (the result, the counts and the chart say how it ended)."""
    return [c for c in checks if c.condition.quantity is not Quantity.AREA]


def tally(lang: str, view: BallotView) -> Tally:
    ballot, outcome = view.ballot, view.outcome
    assert ballot.id is not None
    head = outcome.tallies[Quantity.HEADCOUNT]
    figures: list[tuple[str, Fraction]] = []
    if ballot.kind is BallotKind.MOTION:
        figures = [
            (Choice.FOR.value, head.for_),
            (Choice.AGAINST.value, head.against),
            (Choice.ABSTAIN.value, head.abstain),
        ]
    else:
        for option in ballot.options:
            totals = outcome.option_totals.get(option.key, {})
            figures.append((option.key, totals.get(Quantity.HEADCOUNT, Fraction(0))))
        figures.append((Choice.ABSTAIN.value, head.abstain))
    most = max((value for _, value in figures), default=Fraction(0))
    rows = []
    for choice, value in figures:
        voters = view.voters.get(choice) if not ballot.secret else None
        names = joined(lang, voters.names) if voters is not None else ""
        more = voters.total - len(voters.names) if voters is not None else 0
        rows.append(
            Row(
                choice=choice,
                label=choice_label(lang, ballot, choice),
                count=wording.number(value, Quantity.HEADCOUNT),
                figure=value,
                value=float(value / most) if most else 0.0,
                names=names,
                more=more,
                winner=not ballot.is_open and outcome.winner == choice,
            )
        )
    participation = wording.text(
        lang,
        "ballot.participation",
        participants=wording.number(head.participants, Quantity.HEADCOUNT),
        count=view.roll_size,
    )
    quorum = [check_line(lang, c) for c in _shown(outcome.quorum_checks)]
    found = Tally(
        ballot_id=ballot.id,
        open=ballot.is_open,
        secret=ballot.secret,
        rows=rows,
        participation=participation,
        quorum=quorum,
        cancelled=ballot.cancelled,
    )
    if ballot.is_open or ballot.outcome is None:
        return found
    counts = {source.value: view.sources.get(source, 0) for source in VoteSource}
    other_ways = any(n for source, n in view.sources.items() if source is not VoteSource.CHAT)
    return Tally(
        ballot_id=ballot.id,
        open=False,
        secret=ballot.secret,
        rows=rows,
        participation=participation,
        quorum=quorum,
        result=wording.text(lang, f"outcome.{outcome.result.value}", mark=MARK[outcome.result]),
        result_kind=outcome.result.value,
        winner=choice_label(lang, ballot, outcome.winner) if outcome.winner else "",
        passing=[check_line(lang, c) for c in _shown(outcome.pass_checks)]
        if outcome.quorum_met
        else [],
        sources=wording.text(lang, "outcome.sources", **counts) if other_ways else "",
    )
