"""Vote records and turnout as XLSX workbooks (openpyxl, imported on first use).

``votes_xlsx(lang, record)`` takes ``domain.services.reports.ballot_record``'s
``BallotRecord``:

* an open (non-secret) ballot: a sheet of votes, one row per member who voted (name,
  household, choice, how it came, when, whether it counted), by address then name;
  and a sheet of totals per choice in each quantity the rule counts;
* a secret ballot: a sheet of who took part (name and household only, by address then
  name: never a choice, a moment or a way of voting, which could tell a choice when
  set beside the live tally), headed by a note saying so; and the same sheet of totals.
  Staff need the list to reach those who have not voted; the totals are what the
  outcome announces anyway.

``turnout_xlsx(lang, council, turnouts)`` takes ``reports.turnout``'s list: one row a
ballot, oldest first, with the roll, those who took part and the turnout (a number
formatted as a percentage) in each quantity any of the ballots counts.

Text cells are written as text (a household "3-2-301" or a name typed "=…" stays as
typed, never a date or a formula); moments are text on the council's clock.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, cast

from bot.reports import wording as w
from domain.model import BallotKind, Council
from domain.rules import Choice, Quantity
from domain.services.reports import BallotRecord, Turnout

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

Value = str | int | Decimal | None
PERCENT = "0.0%"


def votes_xlsx(lang: str, record: BallotRecord) -> bytes:
    """A ballot's votes (an open ballot) or who took part (a secret one), and totals."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = cast("Worksheet", book.active)
    timezone = record.council.timezone
    ballot = record.ballot
    if record.secret:
        sheet.title = _title(w.text(lang, "report.votes.took_part_sheet"))
        _row(sheet, [w.text(lang, "report.votes.secret_note")])
        _row(sheet, [w.text(lang, "report.col.name"), w.text(lang, "report.col.household")])
        for line in record.lines:
            _row(sheet, [line.name, line.household])
        _widths(sheet, [16, 16])
    else:
        sheet.title = _title(w.text(lang, "report.votes.sheet"))
        _row(
            sheet,
            [
                w.text(lang, f"report.col.{column}")
                for column in ("name", "household", "choice", "source", "time", "counted")
            ],
        )
        for line in record.lines:
            _row(
                sheet,
                [
                    line.name,
                    line.household,
                    "" if line.choice is None else w.choice(lang, ballot, line.choice),
                    "" if line.source is None else w.source(lang, line.source),
                    w.moment(line.at, timezone),
                    w.yes_no(lang, line.counted),
                ],
            )
        _widths(sheet, [16, 16, 24, 12, 18, 10])
    _totals(book, lang, record)
    return _save(book)


def _totals(book: Workbook, lang: str, record: BallotRecord) -> None:
    sheet = book.create_sheet(_title(w.text(lang, "report.votes.totals_sheet")))
    ballot, outcome = record.ballot, record.figures.outcome
    quantities = ballot.rule.quantities
    _row(
        sheet,
        [w.text(lang, "report.col.choice"), *(w.quantity(lang, q) for q in quantities)],
    )
    _widths(sheet, [24] + [14] * len(quantities))
    if outcome is None:  # cancelled: nothing was counted
        return
    tallies = outcome.tallies
    if ballot.kind is BallotKind.MOTION:
        for choice in Choice:
            _row(
                sheet,
                [
                    w.choice(lang, ballot, choice.value),
                    *(
                        _number(
                            {
                                Choice.FOR: tallies[q].for_,
                                Choice.AGAINST: tallies[q].against,
                                Choice.ABSTAIN: tallies[q].abstain,
                            }[choice],
                            q,
                        )
                        for q in quantities
                    ),
                ],
            )
    else:
        for option in ballot.options:
            totals = outcome.option_totals.get(option.key, {})
            _row(
                sheet,
                [
                    w.choice(lang, ballot, option.key),
                    *(_number(totals.get(q, Fraction(0)), q) for q in quantities),
                ],
            )
        _row(
            sheet,
            [
                w.choice(lang, ballot, Choice.ABSTAIN.value),
                *(_number(tallies[q].abstain, q) for q in quantities),
            ],
        )
    _row(
        sheet,
        [
            w.text(lang, "report.totals.took_part"),
            *(_number(tallies[q].participants, q) for q in quantities),
        ],
    )
    _row(
        sheet,
        [w.text(lang, "report.totals.roll"), *(_number(tallies[q].roll, q) for q in quantities)],
    )


def turnout_xlsx(lang: str, council: Council, turnouts: Sequence[Turnout]) -> bytes:
    """The turnout of every ballot (``reports.turnout``), one row each, oldest first."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = cast("Worksheet", book.active)
    sheet.title = _title(w.text(lang, "report.turnout.sheet"))
    used = {q for turnout in turnouts for q in turnout.quantities} | {Quantity.HEADCOUNT}
    quantities = [q for q in Quantity if q in used]
    header = [
        w.text(lang, f"report.col.{column}")
        for column in ("ballot", "topic", "opened", "closed", "state", "secret", "result")
    ]
    for quantity in quantities:
        name = w.quantity(lang, quantity)
        header += [
            w.text(lang, "report.col.roll", quantity=name),
            w.text(lang, "report.col.took", quantity=name),
            w.text(lang, "report.col.rate", quantity=name),
        ]
    _row(sheet, header)
    for turnout in turnouts:
        cells: list[Value] = [
            turnout.ballot_id,
            turnout.title,
            w.moment(turnout.opened_at, council.timezone),
            w.moment(turnout.closed_at, council.timezone),
            w.text(lang, f"report.state.{turnout.state.value}"),
            w.yes_no(lang, turnout.secret),
            "" if turnout.result is None else w.result(lang, turnout.result),
        ]
        rates: list[int] = []
        for quantity in quantities:
            if quantity not in turnout.roll:
                cells += [None, None, None]
                continue
            cells += [
                _number(turnout.roll[quantity], quantity),
                _number(turnout.took_part[quantity], quantity),
                w.decimal(turnout.fraction_in(quantity), 4),
            ]
            rates.append(len(cells))
        row = _row(sheet, cells)
        for column in rates:
            row[column - 1].number_format = PERCENT
    _widths(sheet, [10, 30, 18, 18, 10, 8, 12] + [14] * (3 * len(quantities)))
    return _save(book)


# --- cells --------------------------------------------------------------------------


def _number(value: Fraction, quantity: Quantity) -> int | Decimal:
    """A whole number as an int; floor area (or any fraction) to the hundredth."""
    if value.denominator == 1:
        return value.numerator
    return w.decimal(value, 2)


def _row(sheet: Worksheet, values: Sequence[Value]) -> list[Any]:
    """Append ``values``; strings are text cells, whatever they look like."""
    sheet.append([cast(Any, v) for v in values])  # a Decimal is written exactly
    cells = list(sheet[sheet.max_row])[: len(values)]
    for cell, value in zip(cells, values, strict=True):
        if isinstance(value, str):
            cell.data_type = "s"  # "=…" stays text, never a formula that runs
            cell.number_format = "@"
    return cells


def _widths(sheet: Worksheet, widths: Sequence[int]) -> None:
    from openpyxl.utils import get_column_letter

    for column, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(column)].width = width


def _title(title: str) -> str:
    """Excel's rules for a sheet's name: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join(" " if c in "[]:*?/\\" else c for c in title).strip()
    return cleaned[:31] or "Sheet1"


def _save(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
