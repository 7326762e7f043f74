"""`yishi tally`: evaluate a decision rule offline on CSV files and print JSON.

A committee uses this to check a count without the bot, e.g. paper ballots merged with
chat votes. Every input problem ends with exit code 2 and one line on stderr: the
people reading it are volunteers with a spreadsheet, not programmers with a traceback.

A roll may have a million rows, so neither file becomes objects per row: the votes are
one dict, the roll is streamed against it, areas are summed as integers and each total
becomes one ``Fraction``; ``rules.decide_counts`` then decides exactly as ``rules.decide``
would on the same roll (tests/cli/test_tally_counting.py holds them to that).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from domain.numbers import fold
from domain.rules import PRESETS, Choice, Counts, Quantity, Rule, RuleError, decide_counts, preset

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

EXIT_BAD_INPUT = 2
MAX_AREA = 10**9  # m² on one row of a roll: far beyond any estate, short of absurd
MAX_AREA_CHARS = 40  # as domain.numbers.parse_decimal: longer is no floor area

# Paper ballots are often typed in Chinese; both spellings mean the same vote.
_CHOICE_WORDS: Mapping[str, Choice] = {
    "for": Choice.FOR,
    "against": Choice.AGAINST,
    "abstain": Choice.ABSTAIN,
    "赞成": Choice.FOR,
    "反对": Choice.AGAINST,
    "弃权": Choice.ABSTAIN,
}


class InputError(Exception):
    """Bad input: reported as one line on stderr with exit code 2."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "tally",
        help="evaluate a decision rule on a roll and a list of votes (CSV) and print JSON",
        description=(
            "Evaluate a decision rule offline. roll.csv has the columns member_id, "
            "household, area (floor area in m²; extra columns such as name are ignored). "
            "votes.csv has the columns member_id, choice (for/against/abstain, 赞成/反对/弃权, "
            "or an option key with --options)."
        ),
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--rule", metavar="PRESET", help=f"one of: {', '.join(PRESETS)}")
    which.add_argument(
        "--rule-file", type=Path, metavar="FILE", help="a custom rule as JSON (Rule.to_dict)"
    )
    parser.add_argument("--roll", type=Path, required=True, metavar="ROLL_CSV")
    parser.add_argument("--votes", type=Path, required=True, metavar="VOTES_CSV")
    parser.add_argument(
        "--options", metavar="A,B,C", help="comma-separated option keys for a multi-option ballot"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        rule = _load_rule(args.rule, args.rule_file)
        options = _parse_options(args.options) if args.options is not None else None
        counts, duplicates = _count(args.roll, args.votes, rule.quantities, options)
        outcome = decide_counts(rule, counts, options)
    except (InputError, RuleError) as error:
        print(f"yishi tally: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    report = outcome.to_dict()
    report["duplicate_votes"] = duplicates
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def _load_rule(name: str | None, rule_file: Path | None) -> Rule:
    if name is not None:
        return preset(name)
    assert rule_file is not None  # argparse's required mutually exclusive group
    try:
        text = rule_file.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise InputError(f"cannot read rule file {rule_file}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"rule file {rule_file} is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"rule file {rule_file} line {error.lineno}: invalid JSON ({error.msg})"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"rule file {rule_file} must contain a JSON object")
    try:
        return Rule.from_dict(data)
    except RuleError as error:
        raise InputError(f"rule file {rule_file}: {error}") from None


def _parse_options(raw: str) -> list[str]:
    # Accept the full-width comma too: it is what a Chinese keyboard types.
    keys = [key.strip() for key in re.split(r"[,，]", raw)]
    if any(not key for key in keys):
        raise InputError(f"--options has an empty option key: {raw!r}")
    for key in keys:
        if key.casefold() in _CHOICE_WORDS and _CHOICE_WORDS[key.casefold()] is Choice.ABSTAIN:
            raise InputError(f"--options cannot contain {key!r}; abstaining is always allowed")
    return keys


def _count(
    roll_path: Path,
    votes_path: Path,
    quantities: tuple[Quantity, ...],
    options: list[str] | None,
) -> tuple[Counts, list[str]]:
    """The figures of ``quantities``, and the members who voted the same twice.

    The votes are read first (one dict: member id -> a small integer code of its label),
    then the roll is streamed against them: nothing of a member but its id is kept, and
    areas are summed as integers. A problem in the roll is still reported before one in
    the votes, as when the roll was read first."""
    try:
        votes = _read_votes(votes_path, options)
    except InputError:
        # The roll's own problem, if it has one, is the one to report.
        _stream_roll(roll_path, _Votes({}, [""], Counter(), []), quantities)
        raise
    return _stream_roll(roll_path, votes, quantities), votes.duplicates


class _Table(NamedTuple):
    rows: CsvReader
    columns: dict[str, int]  # trimmed, lower-cased header name -> index
    width: int  # cells a row must have to reach every column that is used


@contextmanager
def _table(path: Path, required: tuple[str, ...], used: tuple[str, ...]) -> Iterator[_Table]:
    """The rows of a CSV file after its header, with its input problems as ``InputError``.

    A name repeated in the header means its last column, and a row shorter than the
    header has empty cells at its end, as when each row became a dict of the header."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path} is empty (expected a header row)")
            names = [name.strip().casefold() for name in header]
            missing = [name for name in required if name not in names]
            if missing:
                raise InputError(
                    f"{path} is missing the column(s) {', '.join(missing)} "
                    f"(header: {','.join(header)})"
                )
            columns = {name: index for index, name in enumerate(names)}
            width = 1 + max(columns[name] for name in used if name in columns)
            yield _Table(reader, columns, width)
    except FileNotFoundError:
        raise InputError(f"file not found: {path}") from None
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text (save it as 'CSV UTF-8')") from None
    except csv.Error as error:
        raise InputError(f"{path}: malformed CSV ({error})") from None


def _blank(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


def _members(table: _Table, path: Path) -> Iterator[tuple[str, list[str]]]:
    """(member id, cells) of each row that is not blank, cells padded to the columns used;
    a row with cells but no member id is refused with its line number."""
    reader, width, at_member = table.rows, table.width, table.columns["member_id"]
    for cells in reader:
        if len(cells) < width:
            if _blank(cells):
                continue
            cells += [""] * (width - len(cells))
        member_id = cells[at_member].strip()
        if not member_id:
            if _blank(cells):
                continue
            raise InputError(f"{path} line {reader.line_num}: empty member_id")
        yield member_id, cells


_ON_ROLL = 0  # code 0: no label; a member's mark once its roll row was read
_ABSTAIN = 1  # code 1: "abstain", also what a split household counts as


class _Votes(NamedTuple):
    marks: dict[str, int]  # member id -> code of its label
    labels: list[str]  # code -> label ("for", an option key, "abstain"); [0] is unused
    voters: Counter[int]  # code -> members who voted it (strangers included)
    duplicates: list[str]  # members whose vote appears more than once, identically


def _read_votes(path: Path, options: list[str] | None) -> _Votes:
    votes: dict[str, int] = {}
    duplicates: set[str] = set()
    conflicts: dict[str, set[str]] = {}
    labels = ["", Choice.ABSTAIN.value]
    codes = {label: code for code, label in enumerate(labels)}
    # A ballot has a handful of spellings ("for", "FOR", "赞成"): each is read once.
    spelled: dict[str, int] = {}
    with _table(path, ("member_id", "choice"), ("member_id", "choice")) as table:
        reader, at_choice = table.rows, table.columns["choice"]
        for member_id, cells in _members(table, path):
            text = cells[at_choice].strip()
            code = spelled.get(text)
            if code is None:
                label = _parse_choice(text, options, path, reader.line_num)
                if label not in codes:
                    codes[label] = len(labels)
                    labels.append(label)
                code = spelled[text] = codes[label]
            earlier = votes.get(member_id)
            if earlier is None:
                votes[member_id] = code
            elif earlier == code:
                duplicates.add(member_id)
            else:
                conflicts.setdefault(member_id, {labels[earlier]}).add(labels[code])
    if conflicts:
        listed = "; ".join(
            f"{member} ({' vs '.join(sorted(choices))})"
            for member, choices in sorted(conflicts.items())
        )
        raise InputError(
            f"{path}: conflicting votes for {listed}; the committee must resolve them by hand"
        )
    return _Votes(votes, labels, Counter(votes.values()), sorted(duplicates))


def _stream_roll(path: Path, votes: _Votes, quantities: tuple[Quantity, ...]) -> Counts:
    """Count the roll at ``path`` against ``votes``, one row at a time.

    ``votes.marks`` is reused to find members listed twice: a roll member's entry becomes
    ``_ON_ROLL``, so an entry left with a label at the end is a vote by a stranger.
    Households keep one code each: ``_ON_ROLL`` (nobody voted yet), the label all its
    voters chose, or ``_ABSTAIN`` once they disagree (a split household abstains, and
    abstaining with anything else is split again)."""
    needs_area = Quantity.AREA in quantities
    needs_homes = Quantity.HOUSEHOLDS in quantities
    required = ("member_id", "area") if needs_area else ("member_id",)
    marks = votes.marks
    members = 0
    # Areas are integers in units of 10**-scale m², scale the most decimals seen so far.
    scale = 0
    most = MAX_AREA  # the largest area, in those units
    area = 0
    areas = [0] * len(votes.labels)  # by code
    homes: dict[str, int] = {}
    with _table(path, required, ("member_id", "household", "area")) as table:
        reader = table.rows
        at_home = table.columns.get("household")
        at_area = table.columns.get("area")
        for member_id, cells in _members(table, path):
            code = marks.get(member_id)
            if code == _ON_ROLL:
                first = _first_line(path, member_id)
                raise InputError(
                    f"{path} line {reader.line_num}: member {member_id!r} is already on "
                    f"the roll (line {first})"
                )
            marks[member_id] = _ON_ROLL
            members += 1
            # Every area is checked, as it always was, even when the rule weighs none.
            if at_area is not None and (text := cells[at_area].strip()):
                whole, _, part = text.partition(".")
                # The usual row, inline: as many decimals as the scale, digits 0-9 only.
                if (
                    len(part) == scale
                    and part.isdigit()
                    and whole.isdigit()
                    and text.isascii()
                    and len(text) <= MAX_AREA_CHARS
                    and (units := int(whole + part)) <= most
                ):
                    pass
                else:
                    units, places = _read_area(text, path, reader.line_num)
                    if places < scale:
                        units *= 10 ** (scale - places)
                    elif places > scale:
                        factor = 10 ** (places - scale)
                        area *= factor
                        areas = [value * factor for value in areas]
                        scale, most = places, MAX_AREA * 10**places
                if needs_area:
                    area += units
                    if code:
                        areas[code] += units
            if needs_homes:
                home = (cells[at_home].strip() if at_home is not None else "") or member_id
                if code:
                    state = homes.get(home)
                    if not state:
                        homes[home] = code
                    elif state != code:
                        homes[home] = _ABSTAIN
                else:
                    homes.setdefault(home, _ON_ROLL)
    heads = votes.voters.copy()
    strangers = [member for member, code in marks.items() if code != _ON_ROLL]
    heads.subtract(marks[member] for member in strangers)
    return _counts(
        quantities,
        votes.labels,
        (members, heads),
        (area, scale, areas),
        homes,
        tuple(sorted(strangers)),
    )


def _counts(
    quantities: tuple[Quantity, ...],
    labels: list[str],
    heads: tuple[int, Counter[int]],
    area: tuple[int, int, list[int]],
    homes: dict[str, int],
    invalid: tuple[str, ...],
) -> Counts:
    """The integers turned into ``Counts``: one Fraction per total."""
    roll: dict[Quantity, Fraction] = {}
    weights: dict[str, dict[Quantity, Fraction]] = {}

    def add(quantity: Quantity, total: Fraction, by_code: Mapping[int, Fraction]) -> None:
        roll[quantity] = total
        for code, weight in by_code.items():
            if code != _ON_ROLL:
                weights.setdefault(labels[code], {})[quantity] = weight

    members, voters = heads
    for quantity in quantities:
        if quantity is Quantity.HEADCOUNT:
            add(quantity, Fraction(members), {c: Fraction(n) for c, n in voters.items() if n})
        elif quantity is Quantity.AREA:
            total, scale, areas = area
            unit = 10**scale
            by_code = {c: Fraction(areas[c], unit) for c, n in voters.items() if n}
            add(quantity, Fraction(total, unit), by_code)
        else:
            by_state = Counter(homes.values())
            add(quantity, Fraction(len(homes)), {c: Fraction(n) for c, n in by_state.items()})
    return Counts(roll=roll, labels=weights, invalid_votes=invalid)


def area_units(text: str) -> tuple[int, int] | None:
    """An area as ``domain.numbers.parse_decimal(places=None)`` reads it, maximum
    ``MAX_AREA``, as (integer, decimal places): "89.50" -> (8950, 2); None if refused.
    Digits 0-9 and one point only ("1e999999999" would be an exact integer of a billion
    digits, and "٣" is not what a spreadsheet wrote); full-width forms folded first."""
    if not text.isascii():
        text = fold(text)
        if not text.isascii():
            return None
    if len(text) > MAX_AREA_CHARS:
        return None
    whole, _, part = text.partition(".")
    # ASCII isdigit() is 0-9 only; "5", "5." and ".5" are numbers, "." is not.
    if not (whole.isdigit() or (not whole and part)) or (part and not part.isdigit()):
        return None
    units = int(whole + part)
    return None if units > MAX_AREA * 10 ** len(part) else (units, len(part))


def _read_area(text: str, path: Path, line: int) -> tuple[int, int]:
    """``area_units`` of a roll's cell, or ``InputError`` naming its line."""
    read = area_units(text)
    if read is None:
        raise InputError(
            f"{path} line {line}: bad area {text!r} "
            f"(expected m² as a number >= 0 written with digits 0-9, e.g. 89.5)"
        )
    return read


def _first_line(path: Path, member_id: str) -> int:
    """The line where ``member_id`` first appears on the roll (read again: only when a
    member appears twice, so no line number is kept per member)."""
    with _table(path, ("member_id",), ("member_id",)) as table:
        at_member = table.columns["member_id"]
        for cells in table.rows:
            if len(cells) > at_member and cells[at_member].strip() == member_id:
                return table.rows.line_num
    raise AssertionError(f"{member_id!r} was on the roll a moment ago")


def _parse_choice(text: str, options: list[str] | None, path: Path, line: int) -> str:
    word = _CHOICE_WORDS.get(text.casefold())
    if options is None:
        if word is None:
            raise InputError(
                f"{path} line {line}: unknown choice {text!r} "
                "(expected for/against/abstain or 赞成/反对/弃权)"
            )
        return word.value
    if word is Choice.ABSTAIN:
        return word.value
    if text in options:
        return text
    folded = [key for key in options if key.casefold() == text.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise InputError(
        f"{path} line {line}: unknown choice {text!r} (expected one of "
        f"{', '.join(options)}, or abstain/弃权)"
    )
