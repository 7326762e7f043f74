"""Tables people keep in spreadsheets: a CSV or XLSX file read into rows of text, and
rows written back as XLSX. Bytes in, bytes out: no file is opened here.

A CSV is UTF-8 (with or without the byte-order mark Excel writes with "CSV UTF-8"),
UTF-16 with its mark (Excel's "Unicode text"), or GB18030, which is what Excel in
China writes for a plain "CSV" (GBK and GB2312 are subsets of it). Comma, semicolon
or tab: whichever the first line has most of. An XLSX is read from its first sheet,
values as Excel shows them (formulas by their last computed value). openpyxl is
imported when a workbook is read or written, never at start-up.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, cast

from domain import errors

MAX_ROWS = 50_000  # data rows: a community's roll is a few thousand households
MAX_CELL = 1_000  # characters of one cell; a roll's cells are names and addresses
_ZIP = b"PK\x03\x04"  # an XLSX is a zip archive
_OLE = b"\xd0\xcf\x11\xe0"  # the Excel 97-2003 .xls format (and old .doc)
_DELIMITERS = (",", "\t", ";")


@dataclass(frozen=True)
class Row:
    """One row of a table: its number as the spreadsheet shows it (the first row is 1,
    blank rows counted) and its cells as text, stripped."""

    number: int
    cells: tuple[str, ...]

    def cell(self, index: int | None) -> str:
        if index is None or index >= len(self.cells):
            return ""
        return self.cells[index]

    @property
    def blank(self) -> bool:
        return not any(self.cells)


Cell = str | int | float | Decimal | bool | date | datetime | time | None


def read_table(data: bytes) -> list[Row]:
    """The non-blank rows of a CSV or XLSX file. Refused with ``InvalidInput``:
    ``sheet_xls`` (the old binary .xls), ``sheet_file`` (not a table we can read),
    ``sheet_encoding`` (a CSV in none of the encodings above), ``sheet_rows``
    (more than ``MAX_ROWS`` rows, with ``limit``)."""
    if data.startswith(_OLE):
        raise errors.InvalidInput(field="sheet_xls")
    rows = _xlsx_rows(data) if data.startswith(_ZIP) else _csv_rows(_decode(data))
    found: list[Row] = []
    for row in rows:
        if row.blank:
            continue
        if len(found) > MAX_ROWS:  # the header and MAX_ROWS rows of data
            raise errors.InvalidInput(field="sheet_rows", limit=MAX_ROWS)
        found.append(row)
    return found


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        text = data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError:
                raise errors.InvalidInput(field="sheet_encoding") from None
    if "\x00" in text:  # a binary file (a picture, a PDF) that happened to decode
        raise errors.InvalidInput(field="sheet_file")
    return text


def _csv_rows(text: str) -> Iterator[Row]:
    first = text.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, cells in enumerate(reader, 1):
            yield Row(number, tuple(_text(c) for c in cells))
    except csv.Error:
        raise errors.InvalidInput(field="sheet_file") from None


def _xlsx_rows(data: bytes) -> Iterator[Row]:
    from openpyxl import load_workbook

    try:
        # read_only streams the sheet's XML: a large file is never held whole as cells.
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # not a workbook: a zip of something else, or a broken one
        raise errors.InvalidInput(field="sheet_file") from None
    try:
        if not book.worksheets:
            return
        sheet = book.worksheets[0]
        try:
            for number, values in enumerate(sheet.iter_rows(values_only=True), 1):
                yield Row(number, tuple(_text(v) for v in values))
        except (KeyError, ValueError, TypeError, OSError):  # a sheet's XML is broken
            raise errors.InvalidInput(field="sheet_file") from None
    finally:
        book.close()


def _text(value: object) -> str:
    """A cell as the person who typed it would write it: 13800138000 (a phone stored as
    a number) without ".0", 85.5 as "85.5", a date as 2026-12-01."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)  # the shortest text that reads back as the same float
    if isinstance(value, datetime) and not (value.hour or value.minute or value.second):
        return value.date().isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value).strip()[:MAX_CELL]


def write_xlsx(header: Sequence[str], rows: Iterable[Sequence[Cell]], *, title: str) -> bytes:
    """An XLSX workbook of one sheet named ``title``: ``header``, then ``rows``. Text
    cells are written as text (a phone number or "3-2-301" stays as typed)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=_sheet_title(title))
    for index, name in enumerate(header):
        letter = chr(ord("A") + index) if index < 26 else "Z"
        sheet.column_dimensions[letter].width = max(10, 2 * len(name) + 4)
    sheet.append(list(header))
    for row in rows:
        cells = []
        for value in row:
            # openpyxl writes a Decimal exactly; its stubs know only float.
            cell = WriteOnlyCell(sheet, value=cast(Any, value))
            if isinstance(value, str):
                # A name typed as "=HYPERLINK(…)" is text, never a formula that runs when
                # staff open the file: openpyxl would store it as a formula.
                cell.data_type = "s"
                cell.number_format = "@"  # Excel keeps it as text when it is edited
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_title(title: str) -> str:
    """Excel's rules for a sheet's name: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join(" " if c in "[]:*?/\\" else c for c in title).strip()
    return cleaned[:31] or "Sheet1"
