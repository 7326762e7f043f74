"""Charts people would rather look at than read: a ballot's result, turnout over time,
and plain bars (hours per person, requests by category), as PNG or SVG bytes.

Plain data in, bytes out, no state: each call draws its own ``matplotlib.figure.Figure``
(never pyplot, whose current figure is global), so charts may be drawn in threads at
once (``asyncio.to_thread``: drawing is CPU work). Matplotlib is imported on the first
chart, not when the bot starts.

Chinese needs a CJK font: Noto Sans CJK from Debian's ``fonts-noto-cjk`` (the one the
printed cards use), registered with matplotlib's font manager on first use. Without it
every Chinese character would be an empty box, so a missing font is an error
(``FontMissing``, naming the package), never a chart of boxes. The simplified Chinese
face of the collection is used (``Noto Sans CJK SC``), so that characters take their
mainland forms.

A secret ballot's chart shows what its outcome holds, totals only: a chart never reads
who voted what.
"""

from __future__ import annotations

import html
import io
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from bot.i18n import t
from domain.model import Ballot, BallotKind
from domain.rules import Choice, ConditionCheck, Counted, Outcome, Quantity, Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from domain.services import BallotView

Format = Literal["png", "svg"]

FONT_PACKAGE = "fonts-noto-cjk"
# Where Debian (and Ubuntu) put Noto Sans CJK; Fedora's and Arch's paths as well.
FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
)
FAMILY = "Noto Sans CJK SC"  # the simplified Chinese face of the collections above
FALLBACK = "DejaVu Sans"  # matplotlib's own, for a character the CJK font lacks

WIDTH, HEIGHT, DPI = 8.0, 5.0, 100  # inches: 800 x 500 px
TITLE_SIZE, SUBTITLE_SIZE, LABEL_SIZE, VALUE_SIZE = 20, 15, 14, 13
TITLE_WIDTH = 52  # a title's width in half-width characters (a Chinese one is two):
# a longer one is cut ("…"), as it must fit the picture's width
SUBTITLE_WIDTH = 70  # the same, at the subtitle's smaller size
LABEL_CHARS = 14

COLOURS = {
    Choice.FOR.value: "#2e7d32",
    Choice.AGAINST.value: "#c62828",
    Choice.ABSTAIN.value: "#9e9e9e",
}
OPTION = "#1565c0"
WINNER = "#2e7d32"
PARTICIPANTS = "#5c6bc0"
ROLL = "#e0e0e0"
LINE = "#212121"
RESULT_COLOURS = {
    Result.PASSED: "#2e7d32",
    Result.REJECTED: "#c62828",
    Result.NO_QUORUM: "#ef6c00",
    Result.TIED: "#6a1b9a",
}

_TAG = re.compile(r"<[^>]+>")
_SALT = "yishi-charts"  # SVG ids from a fixed salt: the same chart is the same file


class FontMissing(RuntimeError):
    """No CJK font to draw Chinese with; the message says which package to install."""


_lock = threading.Lock()
_ready: set[str] = set()


def _font(path: str | None = None) -> list[str]:
    """The font families to draw with, registered on first use: ``path`` (a configured
    font file, ``YISHI_CARDS_FONT``) if given, else Noto Sans CJK where distributions
    install it."""
    key = path or ""
    with _lock:
        if key not in _ready:
            _register(path)
            _ready.add(key)
    if path:
        return [_family_of(path), FAMILY, FALLBACK]
    return [FAMILY, FALLBACK]


def _register(path: str | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    # Set once, always to the same value: an SVG's clip-path ids are hashed with it,
    # and unset they are random, so the same chart would differ byte for byte.
    matplotlib.rcParams["svg.hashsalt"] = _SALT
    from matplotlib import font_manager

    if path:
        if not Path(path).is_file():
            raise FontMissing(f"the font YISHI_CARDS_FONT names does not exist: {path}")
        font_manager.fontManager.addfont(path)
        return
    regular = next((Path(p) for p in FONT_PATHS if Path(p).is_file()), None)
    if regular is None:
        raise FontMissing(
            "No Chinese (CJK) font is installed, so charts cannot be drawn. "
            f"Install Debian's {FONT_PACKAGE} (apt-get install {FONT_PACKAGE}), "
            "or set YISHI_CARDS_FONT to a CJK font file."
        )
    font_manager.fontManager.addfont(str(regular))
    bold = regular.with_name(regular.name.replace("Regular", "Bold"))
    if bold.is_file():
        font_manager.fontManager.addfont(str(bold))


def _family_of(path: str) -> str:
    from matplotlib import ft2font

    font = ft2font.FT2Font(path)
    names = [font.family_name]
    names += [ft2font.FT2Font(path, face_index=i).family_name for i in range(1, font.num_faces)]
    # In a collection, the simplified Chinese face if there is one.
    return next((n for n in names if n.endswith(" SC")), names[0])


# --- a ballot's result -----------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    label: str
    value: float
    colour: str
    shown: str  # the value as written at the bar's end
    behind: float = 0.0  # a pale bar behind it: the whole it is a part of (the roll)


@dataclass(frozen=True)
class _Line:
    at: float
    label: str
    rows: tuple[int, int]  # the rows (first, last) it spans


def result_chart(
    lang: str, view: BallotView, fmt: Format = "png", *, font: str | None = None
) -> bytes:
    """The ballot's figures per choice as horizontal bars, one panel per quantity its
    rule counts (votes; or area and owners), with the passing line (and, where the rule
    has a quorum, the turnout against it); titled with the topic, subtitled with the
    outcome in words."""
    families = _font(font)

    ballot, outcome = view.ballot, view.outcome
    quantities = _quantities(outcome)
    figure = _titled(
        families,
        view.topic.title,
        _outcome_words(lang, ballot, outcome),
        RESULT_COLOURS[outcome.result],
    )
    axes = figure.subplots(1, len(quantities), sharey=True, squeeze=False)[0]
    # Every panel has the same rows (they share the axis): a turnout row in each if the
    # rule weighs turnout in any quantity.
    turnout = any(
        c.counted is Counted.PARTICIPANTS for c in (*outcome.rule.quorum, *outcome.rule.passing)
    )
    for i, (ax, quantity) in enumerate(zip(axes, quantities, strict=True)):
        rows, lines = _panel(lang, ballot, outcome, quantity, turnout)
        _bars(ax, families, rows, lines, title=_quantity_title(lang, quantity), labels=i == 0)
    return _save(figure, fmt, view.topic.title)


def _quantities(outcome: Outcome) -> list[Quantity]:
    """The quantities the rule decides by, in a fixed order (votes first)."""
    rule = outcome.rule
    used = {c.quantity for c in (*rule.quorum, *rule.passing)}
    return [q for q in Quantity if q in used] or [Quantity.HEADCOUNT]


def _panel(
    lang: str, ballot: Ballot, outcome: Outcome, quantity: Quantity, with_turnout: bool
) -> tuple[list[_Row], list[_Line]]:
    tally = outcome.tallies[quantity]
    rows: list[_Row] = []
    if ballot.kind is BallotKind.MOTION:
        for choice, value in (
            (Choice.FOR, tally.for_),
            (Choice.AGAINST, tally.against),
            (Choice.ABSTAIN, tally.abstain),
        ):
            rows.append(
                _Row(
                    _capital(_plain(t(lang, f"choice.{choice.value}"))),
                    float(value),
                    COLOURS[choice.value],
                    _number(value, quantity),
                )
            )
        backing = (0, 0)  # the row a passing line is about: 赞成
    else:
        for n, option in enumerate(ballot.options, 1):
            value = outcome.option_totals.get(option.key, {}).get(quantity, Fraction(0))
            label = _plain(t(lang, "choice.option", n=n, text=_short(option.label, LABEL_CHARS)))
            colour = WINNER if option.key == outcome.winner else OPTION
            rows.append(_Row(label, float(value), colour, _number(value, quantity)))
        abstain = _capital(_plain(t(lang, "choice.abstain")))
        rows.append(
            _Row(
                abstain,
                float(tally.abstain),
                COLOURS[Choice.ABSTAIN.value],
                _number(tally.abstain, quantity),
            )
        )
        backing = (0, len(ballot.options) - 1)  # any option must reach it
    turnout = len(rows)
    if with_turnout:  # participants against the roll, the whole behind it
        rows.append(
            _Row(
                _plain(t(lang, "chart.participants")),
                float(tally.participants),
                PARTICIPANTS,
                _share(tally.participants, tally.roll, quantity),
                behind=float(tally.roll),
            )
        )
    lines: list[_Line] = []
    for check in (*outcome.quorum_checks, *outcome.pass_checks):
        condition = check.condition
        if condition.quantity is not quantity:
            continue
        if condition.counted is Counted.FOR:
            label = _line_label(lang, "chart.pass_line", check)
            lines.append(_Line(_threshold(check), label, backing))
        else:
            label = _line_label(lang, "chart.quorum_line", check)
            lines.append(_Line(_threshold(check), label, (turnout, turnout)))
    return rows, lines


def _threshold(check: ConditionCheck) -> float:
    return float(check.base * check.condition.fraction)


def _line_label(lang: str, key: str, check: ConditionCheck) -> str:
    fraction = check.condition.fraction
    shown = "1" if fraction == 1 else f"{fraction.numerator}/{fraction.denominator}"
    sign = "≥" if check.condition.inclusive else ">"
    return _plain(t(lang, key, sign=sign, fraction=shown))


def _quantity_title(lang: str, quantity: Quantity) -> str:
    if quantity is Quantity.HEADCOUNT:
        return _plain(t(lang, "chart.votes"))
    name = _plain(t(lang, f"quantity.{quantity.value}"))
    if quantity is Quantity.AREA:
        return f"{name} ({_plain(t(lang, 'unit.area'))})"
    return name


def _outcome_words(lang: str, ballot: Ballot, outcome: Outcome) -> str:
    words = _plain(t(lang, f"outcome.{outcome.result.value}", mark="")).strip()
    if outcome.winner:
        for n, option in enumerate(ballot.options, 1):
            if option.key == outcome.winner:
                label = _plain(t(lang, "choice.option", n=n, text=_short(option.label, 20)))
                words += " · " + _plain(t(lang, "outcome.winner", option=label))
    return words


# --- turnout and plain bars -------------------------------------------------------


def turnout_chart(
    lang: str,
    points: Sequence[tuple[str, float]],
    fmt: Format = "svg",
    *,
    font: str | None = None,
) -> bytes:
    """Turnout (0..1) over time: one point a ballot or meeting, labelled, in order."""
    families = _font(font)
    from matplotlib.ticker import PercentFormatter

    title = _plain(t(lang, "chart.turnout"))
    figure = _titled(families, title)
    ax = figure.subplots()
    _frame(ax, families)
    if not points:
        _empty(ax, families, lang)
        return _save(figure, fmt, title)
    xs = list(range(len(points)))
    ys = [min(max(value, 0.0), 1.0) for _label, value in points]
    ax.fill_between(xs, ys, color=PARTICIPANTS, alpha=0.15, linewidth=0)
    ax.plot(xs, ys, color=PARTICIPANTS, linewidth=2.5, marker="o", markersize=8)
    for x, y in zip(xs, ys, strict=True):
        ax.annotate(
            f"{y:.0%}",
            (x, y),
            xytext=(0, 8),
            textcoords="offset points",
            ha="center",
            fontsize=VALUE_SIZE,
            family=families,
        )
    ax.set_ylim(0, 1.12)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xticks(
        xs,
        [_short(label, LABEL_CHARS) for label, _value in points],
        family=families,
        fontsize=LABEL_SIZE,
    )
    ax.set_xlim(-0.5, len(points) - 0.5)
    ax.grid(axis="y", color=ROLL, linewidth=1)
    if len(points) > 6:
        for label in ax.get_xticklabels():
            label.set_rotation(30)
            label.set_horizontalalignment("right")
    return _save(figure, fmt, title)


def bar_chart(
    lang: str,
    title: str,
    items: Sequence[tuple[str, float]],
    unit: str,
    fmt: Format = "svg",
    *,
    font: str | None = None,
) -> bytes:
    """Horizontal bars, largest first as given, each with its value and ``unit``
    (hours per person, team or month; requests by category)."""
    families = _font(font)

    height = max(HEIGHT, 1.6 + 0.42 * len(items))  # taller for a long list, never cramped
    figure = _titled(families, title, height=height)
    ax = figure.subplots()
    if not items:
        _frame(ax, families)
        _empty(ax, families, lang)
        return _save(figure, fmt, title)
    rows = [
        _Row(_short(label, LABEL_CHARS * 2), value, OPTION, f"{_decimal(value)} {unit}".strip())
        for label, value in items
    ]
    _bars(ax, families, rows, [], title="", labels=True)
    return _save(figure, fmt, title)


# --- drawing ------------------------------------------------------------------------


def _titled(
    families: list[str],
    title: str,
    subtitle: str = "",
    colour: str = LINE,
    *,
    height: float = HEIGHT,
) -> Figure:
    """A figure with its title (and subtitle) on top. Two texts rather than a suptitle:
    the subtitle has its own size and colour; the constrained layout keeps the axes
    below them (its ``rect``) and sizes the margins to the labels."""
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    engine = ConstrainedLayoutEngine(rect=(0, 0, 1, 0.84 if subtitle else 0.9))
    figure = Figure(figsize=(WIDTH, height), dpi=DPI, layout=engine)
    figure.text(
        0.5,
        0.975,
        _fitted(title, TITLE_WIDTH),
        ha="center",
        va="top",
        fontsize=TITLE_SIZE,
        fontweight="bold",
        family=families,
    )
    if subtitle:
        figure.text(
            0.5,
            0.9,
            _fitted(subtitle, SUBTITLE_WIDTH),
            ha="center",
            va="top",
            fontsize=SUBTITLE_SIZE,
            fontweight="bold",
            color=colour,
            family=families,
        )
    return figure


def _frame(ax: Axes, families: list[str]) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=LABEL_SIZE, labelfontfamily=families)


def _bars(
    ax: Axes,
    families: list[str],
    rows: Sequence[_Row],
    lines: Sequence[_Line],
    *,
    title: str,
    labels: bool,
) -> None:
    _frame(ax, families)
    ys = list(range(len(rows)))
    top = max([max(r.value, r.behind) for r in rows] + [line.at for line in lines] + [0.0])
    behind = [(y, r.behind) for y, r in zip(ys, rows, strict=True) if r.behind > 0]
    if behind:  # the roll, pale, behind the turnout: a part of a whole
        ax.barh([y for y, _ in behind], [w for _, w in behind], color=ROLL, height=0.6, zorder=1)
    bars = ax.barh(
        ys, [r.value for r in rows], color=[r.colour for r in rows], height=0.6, zorder=2
    )
    ax.bar_label(
        bars, labels=[r.shown for r in rows], padding=5, fontsize=VALUE_SIZE, family=families
    )
    for line in lines:
        first, last = line.rows
        ax.vlines(
            line.at,
            first - 0.42,
            last + 0.42,
            colors=LINE,
            linestyles="dashed",
            linewidth=2,
            zorder=3,
        )
        ax.annotate(
            line.label,
            (line.at, last + 0.42),
            xytext=(3, -2),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=VALUE_SIZE - 2,
            color=LINE,
            family=families,
            zorder=4,
        )
    if labels:
        ax.set_yticks(ys, [r.label for r in rows], family=families, fontsize=LABEL_SIZE)
        # First row on top, room below the last for a line's label (the panels share
        # the axis: set once).
        ax.set_ylim(len(rows) - 0.5 + 0.3, -0.6)
    ax.tick_params(axis="y", length=0)
    ax.set_xlim(0, top * 1.3 if top > 0 else 1)
    # Each bar says its value: no scale to read, as on a poster.
    ax.xaxis.set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=LABEL_SIZE, family=families, loc="left")


def _empty(ax: Axes, families: list[str], lang: str) -> None:
    ax.text(
        0.5,
        0.5,
        _plain(t(lang, "chart.empty")),
        ha="center",
        va="center",
        transform=ax.transAxes,
        fontsize=LABEL_SIZE,
        color="#757575",
        family=families,
    )
    ax.set_xticks([])
    ax.set_yticks([])


def _save(figure: Figure, fmt: Format, title: str) -> bytes:
    out = io.BytesIO()
    if fmt == "png":
        figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
        return out.getvalue()
    if fmt != "svg":
        raise ValueError(f"a chart is png or svg, not {fmt!r}")
    figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    svg = out.getvalue().decode("utf-8")
    # The text is drawn as outlines (the same on every machine, font or none): a
    # <title> says what the picture is to screen readers and search.
    start = svg.index(">", svg.index("<svg")) + 1
    svg = svg[:start] + f"\n <title>{html.escape(title)}</title>" + svg[start:]
    return svg.encode("utf-8")


# --- words and numbers -----------------------------------------------------------


def _plain(text: str) -> str:
    """A catalogue text (HTML for the chat) as the characters to draw."""
    return html.unescape(_TAG.sub("", str(text)))


def _capital(label: str) -> str:
    """A label on its own starts with a capital ("for" in a sentence, "For" by a bar)."""
    return label[:1].upper() + label[1:]


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fitted(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, a wide (Chinese) character taking two."""
    text = " ".join(text.split())
    columns = [2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text]
    if sum(columns) <= width:
        return text
    used, end = 0, 0
    while used + columns[end] <= width - 2:  # room for "…"
        used += columns[end]
        end += 1
    return text[:end] + "…"


def _number(value: Fraction, quantity: Quantity) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    places = Decimal("0.01") if quantity is Quantity.AREA else Decimal("0.1")
    return str(exact.quantize(places, rounding=ROUND_HALF_UP))


def _share(part: Fraction, whole: Fraction, quantity: Quantity) -> str:
    shown = f"{_number(part, quantity)} / {_number(whole, quantity)}"
    if whole <= 0:
        return shown
    return f"{shown} ({float(part / whole):.0%})"


def _decimal(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
