"""Plain words for documents: the catalogues' texts without HTML, figures, moments and
rules as the minutes and workbooks write them.

The catalogues are HTML for the chat; a DOCX or XLSX cell wants plain text, so tags are
dropped and entities read back (``text``). Figures are exact: a whole number as it is,
floor area to the hundredth (half up), any other fraction as ``p/q``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from bot.i18n import t
from domain.model import Ballot, VoteSource
from domain.rules import PRESETS, Choice, Condition, Quantity, Result, Rule

_TAG = re.compile(r"<[^>]+>")


def text(lang: str, key: str, **params: object) -> str:
    """``t`` as plain text: tags dropped, entities (``&lt;``) read back."""
    return html.unescape(_TAG.sub("", str(t(lang, key, **params))))


def number(value: Fraction, quantity: Quantity = Quantity.HEADCOUNT) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    if quantity is Quantity.AREA:
        return str(decimal(value))
    return f"{value.numerator}/{value.denominator}"


def decimal(value: Fraction, places: int = 2) -> Decimal:
    """``value`` rounded half up to ``places`` decimals, exactly (never via a float)."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def percent(value: Fraction) -> str:
    """``3/4`` is "75.0%"."""
    return f"{decimal(value * 100, 1)}%"


def moment(at: datetime | None, timezone: str) -> str:
    """A moment on the council's clock, "2025-05-09 17:30"; "" for None."""
    if at is None:
        return ""
    return at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def day(at: datetime, timezone: str) -> str:
    return at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d")


def rule_name(lang: str, rule: Rule) -> str:
    return text(lang, f"rule.{rule.name}") if rule.name in PRESETS else rule.name


def condition(lang: str, cond: Condition) -> str:
    fraction = cond.fraction
    return text(
        lang,
        "cond.inclusive" if cond.inclusive else "cond.strict",
        counted=text(lang, f"cond.counted.{cond.counted.value}"),
        quantity=text(lang, f"quantity.{cond.quantity.value}"),
        base=text(lang, f"cond.base.{cond.base.value}"),
        fraction=f"{fraction.numerator}/{fraction.denominator}" if fraction != 1 else "1",
    )


def conditions(lang: str, conds: Sequence[Condition]) -> str:
    if not conds:
        return text(lang, "rule.no_quorum")
    return text(lang, "cond.and").join(condition(lang, c) for c in conds)


def quantity(lang: str, quantity: Quantity) -> str:
    return text(lang, f"quantity.{quantity.value}")


def result(lang: str, outcome: Result) -> str:
    return text(lang, f"result.{outcome.value}")


def source(lang: str, way: VoteSource) -> str:
    return text(lang, f"source.{way.value}")


def choice(lang: str, ballot: Ballot, label: str) -> str:
    """赞成 / 反对 / 弃权, or an option as "选项2：text"."""
    if label in {c.value for c in Choice}:
        return text(lang, f"choice.{label}")
    for n, option in enumerate(ballot.options, 1):
        if option.key == label:
            return text(lang, "choice.option", n=n, text=option.label)
    return label


def yes_no(lang: str, value: bool) -> str:
    return text(lang, "report.yes" if value else "report.no")
