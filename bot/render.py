"""Turn use-case results into message texts and keyboards (HTML)."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.buttons import Signer, second_data, vote_data
from bot.i18n import Markup, escape, t
from domain.model import Ballot, BallotKind, Member, Phase, Proposal
from domain.rules import (
    PRESETS,
    Choice,
    Condition,
    ConditionCheck,
    Outcome,
    Quantity,
    Result,
    Rule,
)
from domain.services import BallotView, RollView, TopicView

MAX_TEXT = 4000  # below Telegram's 4096, leaving room for a footer
ALERT_LIMIT = 200  # Telegram's limit on a callback answer
TAG = re.compile(r"<[^>]+>")
PREVIEW = 60  # characters of a proposal shown on a card or button

RESULT_MARK = {
    Result.PASSED: "✅",
    Result.REJECTED: "❌",
    Result.NO_QUORUM: "⚠️",
    Result.TIED: "⚖️",
}


def number(value: Fraction, quantity: Quantity) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    if quantity is Quantity.AREA:
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return str(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return f"{value.numerator}/{value.denominator}"


def fraction(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}" if value.denominator != 1 else "1"


def plain(text: str, limit: int = ALERT_LIMIT) -> str:
    """HTML made plain text, for callback answers (which Telegram does not parse)."""
    text = html.unescape(TAG.sub("", text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short(text: str, limit: int = PREVIEW) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- rules -----------------------------------------------------------------


def condition_text(lang: str, condition: Condition) -> str:
    return t(
        lang,
        "cond.inclusive" if condition.inclusive else "cond.strict",
        counted=Markup(t(lang, f"cond.counted.{condition.counted.value}")),
        quantity=Markup(t(lang, f"quantity.{condition.quantity.value}")),
        base=Markup(t(lang, f"cond.base.{condition.base.value}")),
        fraction=fraction(condition.fraction),
    )


def rule_name(lang: str, rule: Rule) -> str:
    if rule.name in PRESETS:
        return t(lang, f"rule.{rule.name}")
    return escape(rule.name)


def rule_text(lang: str, rule: Rule) -> str:
    sep = t(lang, "cond.and")
    quorum = (
        sep.join(condition_text(lang, c) for c in rule.quorum)
        if rule.quorum
        else t(lang, "rule.no_quorum")
    )
    passing = sep.join(condition_text(lang, c) for c in rule.passing)
    return t(
        lang,
        "rule.line",
        name=Markup(rule_name(lang, rule)),
        key=rule.name,
        quorum=Markup(quorum),
        passing=Markup(passing),
    )


def rules_message(lang: str, default: Rule) -> str:
    lines = [t(lang, "rules.title")]
    for rule in PRESETS.values():
        mark = t(lang, "rules.default") if rule.name == default.name else ""
        lines.append(rule_text(lang, rule) + mark)
    lines.append(t(lang, "rules.footer"))
    return "\n\n".join(lines)


# --- roll ------------------------------------------------------------------


def roll_messages(lang: str, view: RollView) -> list[str]:
    """The roll, split into messages that each fit Telegram's limit."""
    head = t(
        lang,
        "roll.title",
        council=view.council.title,
        members=len(view.members),
        households=view.households,
        area=view.area,
    )
    lines = [
        t(lang, "roll.line", n=i, name=m.name, household=m.household, area=m.area)
        for i, m in enumerate(view.members, 1)
    ]
    if not lines:
        lines = [t(lang, "roll.empty")]
    if view.pending:
        lines.append(t(lang, "roll.pending", count=len(view.pending)))
    return _paginate(head, lines)


def _paginate(head: str, lines: Sequence[str]) -> list[str]:
    pages: list[str] = []
    current = head
    for line in lines:
        if len(current) + 1 + len(line) > MAX_TEXT:
            pages.append(current)
            current = line
        else:
            current = f"{current}\n{line}"
    pages.append(current)
    return pages


# --- topics and proposals --------------------------------------------------


def keyboard(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup | None:
    # No markup at all (not an empty one): on an edit that removes the old buttons.
    return InlineKeyboardMarkup(rows) if rows else None


def topic_card(
    lang: str, view: TopicView, bot_username: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    topic = view.topic
    assert topic.id is not None
    lines = [
        t(lang, "topic.card", id=topic.id, title=topic.title),
        t(lang, f"phase.{topic.phase.value}")
        + (f" {RESULT_MARK[topic.result]}" if topic.result else ""),
    ]
    if topic.description:
        lines.append(escape(short(topic.description, 600)))
    if view.proposals:
        lines.append(t(lang, "topic.proposals", count=len(view.proposals)))
        for proposal in view.proposals[:10]:
            author = view.authors.get(proposal.author_id)
            lines.append(
                t(
                    lang,
                    "topic.proposal_line",
                    id=proposal.id,
                    text=short(proposal.text),
                    author=author.name if author else "?",
                    seconds=len(proposal.seconds),
                )
            )
        if len(view.proposals) > 10:
            lines.append(t(lang, "topic.more", count=len(view.proposals) - 10))
    elif topic.phase is Phase.COLLECTING:
        lines.append(t(lang, "topic.no_proposals"))
    buttons: list[list[InlineKeyboardButton]] = []
    if topic.phase is Phase.COLLECTING:
        lines.append(t(lang, "topic.how_to_propose", id=topic.id))
        buttons.append(
            [
                InlineKeyboardButton(
                    t(lang, "button.write_proposal"),
                    url=f"https://t.me/{bot_username}?start=p{topic.id}",
                )
            ]
        )
    return "\n".join(lines), keyboard(buttons)


def proposal_message(
    lang: str, proposal: Proposal, author: Member, signer: Signer, *, open_for_seconds: bool
) -> tuple[str, InlineKeyboardMarkup | None]:
    assert proposal.id is not None
    text = t(
        lang,
        "proposal.card",
        id=proposal.id,
        author=author.name,
        household=author.household,
        text=proposal.text,
    )
    buttons = []
    if open_for_seconds:
        buttons.append(
            [
                InlineKeyboardButton(
                    t(lang, "button.second", count=len(proposal.seconds)),
                    callback_data=second_data(signer, proposal.id),
                )
            ]
        )
    return text, keyboard(buttons)


# --- ballots and outcomes --------------------------------------------------


def choice_label(lang: str, ballot: Ballot, choice: str, *, brief: bool = False) -> str:
    """赞成 / 反对 / 弃权, or an option as "选项2：text" (``brief``: just "选项2")."""
    if choice in (c.value for c in Choice):
        return t(lang, f"choice.{choice}")
    for i, option in enumerate(ballot.options, 1):
        if option.key == choice:
            if brief:
                return t(lang, "choice.option_brief", n=i)
            return t(lang, "choice.option", n=i, text=short(option.label, 40))
    return escape(choice)


def _counts(lang: str, ballot: Ballot, outcome: Outcome) -> list[str]:
    head = outcome.tallies[Quantity.HEADCOUNT]
    if ballot.kind is BallotKind.MOTION:
        return [
            t(
                lang,
                "ballot.counts",
                for_=number(head.for_, Quantity.HEADCOUNT),
                against=number(head.against, Quantity.HEADCOUNT),
                abstain=number(head.abstain, Quantity.HEADCOUNT),
            )
        ]
    lines = []
    for i, option in enumerate(ballot.options, 1):
        votes = outcome.option_totals.get(option.key, {}).get(Quantity.HEADCOUNT, Fraction(0))
        lines.append(
            t(
                lang,
                "ballot.option_count",
                n=i,
                count=number(votes, Quantity.HEADCOUNT),
            )
        )
    lines.append(t(lang, "ballot.abstain_count", count=number(head.abstain, Quantity.HEADCOUNT)))
    return lines


def check_line(lang: str, check: ConditionCheck) -> str:
    quantity = check.condition.quantity
    return t(
        lang,
        "check.line",
        mark="✔" if check.met else "✘",
        condition=Markup(condition_text(lang, check.condition)),
        value=number(check.value, quantity),
        base=number(check.base, quantity),
        unit=Markup(t(lang, f"unit.{quantity.value}")),
    )


def ballot_message(
    lang: str, view: BallotView, signer: Signer
) -> tuple[str, InlineKeyboardMarkup | None]:
    ballot, outcome = view.ballot, view.outcome
    assert ballot.id is not None
    lines = [
        t(lang, "ballot.title", id=ballot.id, question=ballot.question),
        t(lang, "ballot.rule", rule=Markup(rule_name(lang, ballot.rule))),
        t(lang, "ballot.secret" if ballot.secret else "ballot.open"),
    ]
    if ballot.kind is BallotKind.OPTIONS:
        for i, option in enumerate(ballot.options, 1):
            lines.append(t(lang, "ballot.option", n=i, text=short(option.label, 200)))
    lines.append("")
    lines.extend(_counts(lang, ballot, outcome))
    head = outcome.tallies[Quantity.HEADCOUNT]
    lines.append(
        t(
            lang,
            "ballot.participation",
            participants=number(head.participants, Quantity.HEADCOUNT),
            roll=view.roll_size,
        )
    )
    for check in outcome.quorum_checks:
        lines.append(t(lang, "ballot.quorum") + check_line(lang, check))
    for choice, names in view.voters.items():
        shown = names[:30]
        more = t(lang, "ballot.more", count=len(names) - 30) if len(names) > 30 else ""
        lines.append(
            t(
                lang,
                "ballot.voters",
                choice=Markup(choice_label(lang, ballot, choice, brief=True)),
                names="、".join(shown),
            )
            + more
        )
    if ballot.is_open:
        lines.append(t(lang, "ballot.how_to_vote"))
        markup = keyboard(_vote_buttons(lang, ballot, signer))
    else:
        lines.append(t(lang, "ballot.cancelled" if ballot.cancelled else "ballot.closed"))
        markup = None
    return _fit("\n".join(lines)), markup


def _vote_buttons(lang: str, ballot: Ballot, signer: Signer) -> list[list[InlineKeyboardButton]]:
    assert ballot.id is not None
    if ballot.kind is BallotKind.MOTION:
        return [
            [
                InlineKeyboardButton(
                    t(lang, f"button.{choice.value}"),
                    callback_data=vote_data(signer, ballot.id, choice.value),
                )
                for choice in Choice
            ]
        ]
    rows = [
        [
            InlineKeyboardButton(
                plain(choice_label(lang, ballot, option.key)),  # buttons are plain text
                callback_data=vote_data(signer, ballot.id, option.key),
            )
        ]
        for option in ballot.options
    ]
    rows.append(
        [
            InlineKeyboardButton(
                t(lang, "button.abstain"),
                callback_data=vote_data(signer, ballot.id, Choice.ABSTAIN.value),
            )
        ]
    )
    return rows


def outcome_message(lang: str, view: BallotView, *, late: bool = False) -> str:
    ballot, outcome = view.ballot, view.outcome
    lines = [
        t(lang, "outcome.title", question=ballot.question),
        t(
            lang,
            f"outcome.{outcome.result.value}",
            mark=RESULT_MARK[outcome.result],
        ),
    ]
    if outcome.winner:
        lines.append(
            t(lang, "outcome.winner", option=Markup(choice_label(lang, ballot, outcome.winner)))
        )
    lines.append(t(lang, "ballot.rule", rule=Markup(rule_name(lang, ballot.rule))))
    lines.extend(_counts(lang, ballot, outcome))
    if outcome.quorum_checks:
        lines.append(t(lang, "outcome.quorum_checks"))
        lines.extend(check_line(lang, c) for c in outcome.quorum_checks)
    if outcome.quorum_met:
        lines.append(t(lang, "outcome.pass_checks"))
        lines.extend(check_line(lang, c) for c in outcome.pass_checks)
    if late:
        lines.append(t(lang, "outcome.late"))
    return _fit("\n".join(lines))


def _fit(text: str) -> str:
    # Names and labels are escaped before they get here, so cutting at a line
    # boundary never splits a tag or an entity.
    if len(text) <= MAX_TEXT:
        return text
    kept = text[:MAX_TEXT].rsplit("\n", 1)[0]
    return kept + "\n…"
