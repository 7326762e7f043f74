"""The service-hours workbook (志愿服务时长): an XLSX of three sheets, hours per person,
per team and per month, as staff hand them upward.

``hours_xlsx(lang, report)`` takes the ``HoursReport`` of
``domain.volunteering.reports.hours_report`` and returns the file's bytes. Each sheet
has a title row (the council, what it counts and the period, in the council's dates),
a header row, one row per person, team or month, and a total row. Hours are numbers,
exact to the cent (Decimal, shown "0.00"); texts are written as text, so a name typed
as "=1+1" stays a name and never becomes a formula. Every word comes from the
catalogues (``report.hours.*``). openpyxl is imported when a workbook is made.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from bot.i18n import t
from domain.volunteering.reports import HoursReport

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

__all__ = ["hours_xlsx"]

_TAG = re.compile(r"<[^>]+>")
HOURS_FORMAT = "0.00"
Cell = str | int | Decimal | None


def _text(lang: str, key: str, **params: object) -> str:
    """A catalogue's text as plain text: its tags dropped, its entities read back."""
    return html.unescape(_TAG.sub("", str(t(lang, key, **params))))


def _period(lang: str, report: HoursReport) -> str:
    """The period in the council's dates; ``until`` is excluded, so its day before."""
    tz = ZoneInfo(report.council.timezone)
    since = report.since.astimezone(tz).date().isoformat() if report.since else None
    until = (
        (report.until - timedelta(microseconds=1)).astimezone(tz).date().isoformat()
        if report.until
        else None
    )
    if since and until:
        return _text(lang, "report.hours.period", since=since, until=until)
    if since:
        return _text(lang, "report.hours.since", since=since)
    if until:
        return _text(lang, "report.hours.until", until=until)
    return _text(lang, "report.hours.all_time")


def hours_xlsx(lang: str, report: HoursReport) -> bytes:
    """The hours report as an XLSX workbook: sheets per person, per team, per month."""
    from openpyxl import Workbook

    title = _text(
        lang,
        "report.hours.title",
        council=report.council.title,
        period=_period(lang, report),
    )
    total = report.total
    book = Workbook()
    people = cast("Worksheet", book.active)
    _fill(
        people,
        _text(lang, "report.hours.sheet.people"),
        title,
        [_text(lang, f"report.hours.col.{c}") for c in ("number", "name", "member", "tasks")]
        + [_text(lang, "report.hours.col.hours")],
        [
            [index, _name(lang, p.name, p.member_id), p.member_id, p.tasks, p.hours]
            for index, p in enumerate(report.people, start=1)
        ],
        [_text(lang, "report.hours.total"), None, None, total.tasks, total.hours],
    )
    _fill(
        book.create_sheet(),
        _text(lang, "report.hours.sheet.teams"),
        title,
        [_text(lang, f"report.hours.col.{c}") for c in ("team", "people", "tasks", "hours")],
        [
            [
                team.name
                if team.name is not None
                else _text(lang, "report.hours.no_team")
                if team.team_id is None
                else _text(lang, "report.hours.removed_team", id=team.team_id),
                team.people,
                team.tasks,
                team.hours,
            ]
            for team in report.teams
        ],
        [_text(lang, "report.hours.total"), total.people, total.tasks, total.hours],
    )
    _fill(
        book.create_sheet(),
        _text(lang, "report.hours.sheet.months"),
        title,
        [_text(lang, f"report.hours.col.{c}") for c in ("month", "people", "tasks", "hours")],
        [
            [
                _text(lang, "report.hours.month", year=m.year, month=f"{m.month:02d}"),
                m.people,
                m.tasks,
                m.hours,
            ]
            for m in report.months
        ],
        [_text(lang, "report.hours.total"), total.people, total.tasks, total.hours],
    )
    book.properties.title = title[:255]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _name(lang: str, name: str, member_id: int) -> str:
    return name or _text(lang, "report.hours.unknown_member", id=member_id)


def _fill(
    sheet: Worksheet,
    name: str,
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    total: Sequence[Cell],
) -> None:
    """Title row, header row, ``rows`` and the ``total`` row; hours in the last column."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet.title = _sheet_name(name)
    _row(sheet, 1, [title])
    sheet.cell(row=1, column=1).font = Font(bold=True, size=13)
    _row(sheet, 2, header)
    for column in range(1, len(header) + 1):
        sheet.cell(row=2, column=column).font = Font(bold=True)
    for number, row in enumerate(rows, start=3):
        _row(sheet, number, row)
    last = len(rows) + 3
    _row(sheet, last, total)
    for column in range(1, len(header) + 1):
        sheet.cell(row=last, column=column).font = Font(bold=True)
    for index, name_ in enumerate(header, start=1):
        widest = max([len(name_)] + [len(str(r[index - 1] or "")) for r in rows] or [0])
        sheet.column_dimensions[get_column_letter(index)].width = min(40, 2 * widest + 4)
    sheet.freeze_panes = "A3"


def _row(sheet: Worksheet, number: int, values: Sequence[Cell]) -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    for column, value in enumerate(values, start=1):
        if value is None:
            continue
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        # openpyxl writes a Decimal exactly; its stubs know only float.
        cell = sheet.cell(row=number, column=column, value=cast(Any, value))
        if isinstance(value, str):
            # Text stays text: a name typed as "=HYPERLINK(…)" never becomes a formula.
            cell.data_type = "s"
            cell.number_format = "@"
        elif isinstance(value, Decimal):
            cell.number_format = HOURS_FORMAT


def _sheet_name(name: str) -> str:
    """Excel's rules for a sheet's name: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join(" " if c in "[]:*?/\\" else c for c in name).strip()
    return cleaned[:31] or "Sheet"
