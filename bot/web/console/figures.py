"""A ballot's figures as the console shows them: the rule in words, the count per
choice, who took part of the roll, each condition checked (✔/✘), the outcome, votes by
source, and on an open (non-secret) ballot who chose what, as the chat's message lists
them. Words are the catalogues' (the minutes' ``report.*`` texts, plain), so the page
says what the minutes say.

A secret ballot's figures are totals only: nothing here reads who voted what.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from bot.reports import wording as w
from domain.model import Ballot, BallotKind, Voters, VoteSource
from domain.rules import Choice, ConditionCheck, Outcome, Quantity, Result
from domain.services.reports import BallotState

__all__ = ["Check", "Figures", "figures"]

_ZERO = Fraction(0)


@dataclass(frozen=True)
class Check:
    met: bool
    text: str  # "✔ 赞成的人数超过…：3 / 4"


@dataclass(frozen=True)
class Figures:
    ballot: Ballot
    state: BallotState
    kind: str  # 动议表决 / 方案选择
    secrecy: str  # 记名投票 / 无记名投票
    rule: str  # the rule's name
    quorum: str  # its quorum in words
    passing: str  # its passing conditions in words
    counts: list[tuple[str, str]]  # (choice, votes) by headcount, in the buttons' order
    took_part: str  # "参与表决：3 / 5 人（60.0%）"
    quantities: list[str]  # the other quantities the rule counts (area, owners, …)
    checks: list[Check]  # the quorum's, then (if met) the passing conditions'
    result: Result | None  # None while open or when cancelled
    result_text: str
    winner: str | None
    sources: str  # "本人在线 3 票、纸质票 1 票" ("" when none)
    voters: list[tuple[str, str]] = field(default_factory=list)  # (choice, names), open only

    @property
    def open(self) -> bool:
        return self.state is BallotState.OPEN

    @property
    def cancelled(self) -> bool:
        return self.state is BallotState.CANCELLED


def _check(lang: str, check: ConditionCheck) -> Check:
    quantity = check.condition.quantity
    text = w.text(
        lang,
        "report.minutes.check",
        mark="✔" if check.met else "✘",
        condition=w.condition(lang, check.condition),
        value=w.number(check.value, quantity),
        base=w.number(check.base, quantity),
    )
    return Check(check.met, text)


def _counts(lang: str, ballot: Ballot, outcome: Outcome) -> list[tuple[str, str]]:
    head = outcome.tallies[Quantity.HEADCOUNT]
    if ballot.kind is BallotKind.MOTION:
        return [
            (w.choice(lang, ballot, Choice.FOR.value), w.number(head.for_)),
            (w.choice(lang, ballot, Choice.AGAINST.value), w.number(head.against)),
            (w.choice(lang, ballot, Choice.ABSTAIN.value), w.number(head.abstain)),
        ]
    found = []
    for option in ballot.options:
        votes = outcome.option_totals.get(option.key, {}).get(Quantity.HEADCOUNT, _ZERO)
        found.append((w.choice(lang, ballot, option.key), w.number(votes)))
    found.append((w.choice(lang, ballot, Choice.ABSTAIN.value), w.number(head.abstain)))
    return found


def figures(
    lang: str,
    ballot: Ballot,
    state: BallotState,
    outcome: Outcome | None,
    sources: Mapping[VoteSource, int],
    voters: Mapping[str, Voters] | None = None,
) -> Figures:
    """``outcome``: the provisional one while open, the recorded one once closed, None
    when the ballot was cancelled. ``voters``: the chat's lists of an open ballot (the
    use case gives none for a secret one)."""
    rule = ballot.rule
    counts: list[tuple[str, str]] = []
    took_part = ""
    quantities: list[str] = []
    checks: list[Check] = []
    if outcome is not None:
        counts = _counts(lang, ballot, outcome)
        head = outcome.tallies[Quantity.HEADCOUNT]
        share = head.participants / head.roll if head.roll > 0 else _ZERO
        took_part = w.text(
            lang,
            "report.minutes.took_part",
            took=w.number(head.participants),
            roll=w.number(head.roll),
            percent=w.percent(share),
        )
        for quantity, tally in outcome.tallies.items():
            if quantity is Quantity.HEADCOUNT:
                continue
            quantities.append(
                w.text(
                    lang,
                    "report.minutes.quantity_figure",
                    quantity=w.quantity(lang, quantity),
                    took=w.number(tally.participants, quantity),
                    roll=w.number(tally.roll, quantity),
                    for_=w.number(tally.for_, quantity),
                    against=w.number(tally.against, quantity),
                    abstain=w.number(tally.abstain, quantity),
                )
            )
        checks = [_check(lang, c) for c in outcome.quorum_checks]
        if outcome.quorum_met:
            checks += [_check(lang, c) for c in outcome.pass_checks]
    closed = state is BallotState.CLOSED and outcome is not None
    result = outcome.result if closed and outcome is not None else None
    if state is BallotState.CANCELLED:
        result_text = w.text(lang, "report.minutes.cancelled")
    elif result is not None:
        result_text = w.text(lang, "report.minutes.outcome", result=w.result(lang, result))
    else:
        result_text = w.text(lang, "report.minutes.provisional")
    winner = None
    if outcome is not None and outcome.winner and closed:
        winner = w.text(
            lang, "report.minutes.winner", option=w.choice(lang, ballot, outcome.winner)
        )
    sep = w.text(lang, "report.minutes.list_sep")
    ways = sep.join(
        w.text(lang, "report.minutes.source", source=w.source(lang, way), count=n)
        for way, n in sources.items()
        if n
    )
    listed: list[tuple[str, str]] = []
    if voters and not ballot.secret:
        order = ballot.option_keys() or [Choice.FOR.value, Choice.AGAINST.value]
        for choice in [*order, Choice.ABSTAIN.value]:
            if choice in voters:
                names = sep.join(voters[choice].names)
                hidden = voters[choice].total - len(voters[choice].names)
                if hidden > 0:
                    names += w.text(lang, "web.ballot.more", count=voters[choice].total)
                listed.append((w.choice(lang, ballot, choice), names))
    return Figures(
        ballot=ballot,
        state=state,
        kind=w.text(lang, f"report.kind.{ballot.kind.value}"),
        secrecy=w.text(lang, "report.secrecy.secret" if ballot.secret else "report.secrecy.open"),
        rule=w.rule_name(lang, rule),
        quorum=w.conditions(lang, rule.quorum),
        passing=w.conditions(lang, rule.passing),
        counts=counts,
        took_part=took_part,
        quantities=quantities,
        checks=checks,
        result=result,
        result_text=result_text,
        winner=winner,
        sources=w.text(lang, "report.minutes.sources", sources=ways) if ways else "",
        voters=listed,
    )
