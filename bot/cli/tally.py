"""`yishi tally`: evaluate a decision rule offline on CSV files and print JSON.

A committee uses this to check a count without the bot, e.g. paper ballots merged with
chat votes. Every input problem ends with exit code 2 and one line on stderr naming the
file and the line: the people reading it are volunteers with a spreadsheet, not
programmers with a traceback.

The roll counts owners as ``domain.rules`` does (法释〔2009〕7号, arts. 8-9). Each row is
a member and a household: the flat it owns, with the flat's registered area, or, with
the area cell empty, the home it lives in without owning it (a tenant). A member may
stand on several rows, one per flat; its first row is its home. So a member is the
``rules.Voter`` with ``household`` = its first row's household and ``flats`` = its rows
that have an area, and the figures are ``rules.count``'s on those voters.

A roll may have a million rows, so neither file becomes objects per row: the votes are
one dict, the roll is streamed against it and areas are summed as integers, each total
becoming one ``Fraction``. Each row with an area is first counted as a flat of its own
and an owner of its own, and leaves only a 64-bit hash of its household. Only rows
whose household's hash or whose member repeats are read again, by their text, to merge
co-owners into one flat and linked flats into one owner (``_links``): a roll where each
member owns one flat pays for no union-find. ``rules.decide_counts`` then decides as
``rules.decide`` would (tests/cli/test_tally_counting.py holds them to that).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
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


class RowError(InputError):
    """Bad input found at one line of a file (a problem linking rows is looked for
    in the lines above it first: the first problem in the file is the one reported)."""

    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__(f"{path} line {line}: {problem}")
        self.line = line


class _LinkError(RowError):
    """Rows that cannot stand together: a member twice on a household, a flat's areas."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "tally",
        help="evaluate a decision rule on a roll and a list of votes (CSV) and print JSON",
        description=(
            "Evaluate a decision rule offline. roll.csv has the columns member_id, "
            "household, area: one row per member and flat it owns, area being the flat's "
            "registered area in m² (repeated on each co-owner's row); a member who owns "
            "several flats has a row for each, its home first; an empty area is a member "
            "who lives there without owning it (counted by headcount and households, not "
            "by area or owners). Extra columns such as name are ignored. votes.csv has "
            "the columns member_id, choice (for/against/abstain, 赞成/反对/弃权, or an "
            "option key with --options)."
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
    then the roll is streamed against them. A problem in the roll is still reported
    before one in the votes, as when the roll was read first."""
    try:
        votes = _read_votes(votes_path, options)
    except InputError:
        # The roll's own problem, if it has one, is the one to report.
        _stream_roll(roll_path, _Votes({}, ["", _ABSTAIN_LABEL], Counter(), []), quantities)
        raise
    return _stream_roll(roll_path, votes, quantities), votes.duplicates


class _Table(NamedTuple):
    rows: CsvReader
    columns: dict[str, int]  # trimmed, lower-cased header name -> index
    width: int  # cells a row must have to reach every column that is used


@contextmanager
def _table(
    path: Path, required: tuple[str, ...], used: tuple[str, ...], errors: str = "strict"
) -> Iterator[_Table]:
    """The rows of a CSV file after its header, with its input problems as ``InputError``.

    A name repeated in the header means its last column, and a row shorter than the
    header has empty cells at its end, as when each row became a dict of the header."""
    reader: CsvReader | None = None
    try:
        with path.open(encoding="utf-8-sig", newline="", errors=errors) as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise RowError(path, 1, "the file is empty (expected a header row)")
            names = [name.strip().casefold() for name in header]
            missing = [name for name in required if name not in names]
            if missing:
                raise RowError(
                    path,
                    1,
                    f"missing the column(s) {', '.join(missing)} (header: {','.join(header)})",
                )
            columns = {name: index for index, name in enumerate(names)}
            width = 1 + max(columns[name] for name in used if name in columns)
            yield _Table(reader, columns, width)
    except FileNotFoundError:
        raise InputError(f"file not found: {path}") from None
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        # Decoded a block at a time: the reader may not have reached the line yet.
        line = _undecodable_line(path)
        raise RowError(path, line, "not UTF-8 text (save it as 'CSV UTF-8')") from None
    except csv.Error as error:
        line = max(reader.line_num if reader is not None else 0, 1)  # the row it was reading
        raise RowError(path, line, f"malformed CSV ({error})") from None


def _undecodable_line(path: Path) -> int:
    """The first line of ``path`` that is not UTF-8 (a newline is one byte in UTF-8, so
    no character spans two lines)."""
    line = 0
    with path.open("rb") as handle:
        for line, raw in enumerate(handle, 1):
            try:
                raw.decode("utf-8-sig" if line == 1 else "utf-8")
            except UnicodeDecodeError:
                return line
    return max(line, 1)


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
            raise RowError(path, reader.line_num, "empty member_id")
        yield member_id, cells


_NO_LABEL = 0  # code 0: no label (a member who did not vote); [0] of labels is unused
_ABSTAIN = 1  # code 1: "abstain", also what a split household, flat or owner counts as
_ABSTAIN_LABEL = Choice.ABSTAIN.value


class _Votes(NamedTuple):
    # member id -> code of its label; once its first roll row is read, ~code (negative)
    marks: dict[str, int]
    labels: list[str]  # code -> label ("for", an option key, "abstain"); [0] is unused
    voters: Counter[int]  # code -> members who voted it (strangers included)
    duplicates: list[str]  # members whose vote appears more than once, identically


def _read_votes(path: Path, options: list[str] | None) -> _Votes:
    votes: dict[str, int] = {}
    duplicates: set[str] = set()
    conflicts: dict[str, dict[int, int]] = {}  # member -> code -> its first line
    labels = ["", _ABSTAIN_LABEL]
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
                conflicts.setdefault(member_id, {}).setdefault(code, reader.line_num)
    if conflicts:
        raise InputError(_conflicts(path, conflicts, votes, labels))
    return _Votes(votes, labels, Counter(votes.values()), sorted(duplicates))


def _conflicts(
    path: Path, conflicts: dict[str, dict[int, int]], votes: dict[str, int], labels: list[str]
) -> str:
    """The message for members who voted differently, each vote with its line (the line
    of each member's first vote is found by reading the file again, only then)."""
    first: dict[str, int] = {}
    with _table(path, ("member_id",), ("member_id",)) as table:
        for member_id, _ in _members(table, path):
            if member_id in conflicts:
                first.setdefault(member_id, table.rows.line_num)
    listed = "; ".join(
        f"{member} ("
        + ", ".join(
            f"{labels[code]} on line {line}"
            for code, line in sorted({votes[member]: first[member], **lines}.items(), key=_line)
        )
        + ")"
        for member, lines in sorted(conflicts.items())
    )
    return f"{path}: conflicting votes for {listed}; the committee must resolve them by hand"


def _line(item: tuple[int, int]) -> int:
    return item[1]


def _merge(state: int, code: int) -> int:
    """The one vote of people who vote together (a household, a flat's co-owners, an
    owner's flats), ``state`` so far and one more member's ``code``: a member who did
    not vote changes nothing, a second label splits them (abstain)."""
    if code in (_NO_LABEL, state):
        return state
    return code if state == _NO_LABEL else _ABSTAIN


_BUCKETS = 16  # a flat's hash goes to bucket hash % 16: the search for repeats is 16 small sets


@dataclass
class _Flats:
    """AREA and OWNERS so far, as integers: ``area`` in units of 10**-scale m² and
    ``owners`` in owners, each in total and by code (index 0: nobody voted)."""

    scale: int
    area: int
    areas: list[int]
    owners: int
    by_owner: list[int]


def _stream_roll(path: Path, votes: _Votes, quantities: tuple[Quantity, ...]) -> Counts:
    """Count the roll at ``path`` against ``votes``, one row at a time.

    ``votes.marks`` is reused to find each member's first row: its entry becomes
    ``~code`` then, so an entry left >= 0 at the end is a vote by a stranger, and a
    member seen again is put in ``again``. Households (homes: a member's first row)
    keep one code each: ``_NO_LABEL``, the label all their voters chose, or ``_ABSTAIN``
    once they disagree. Each row with an area is counted as a flat and an owner of its
    own, by its member's code, and its household's hash kept; ``_links`` then corrects
    the counts of flats whose hash repeats and of members who repeat."""
    needs_flats = Quantity.AREA in quantities or Quantity.OWNERS in quantities
    needs_homes = Quantity.HOUSEHOLDS in quantities
    required = ("member_id", "area") if needs_flats else ("member_id",)
    marks = votes.marks
    first = [~code for code in range(len(votes.labels))]  # the mark of a member's first row
    members = 0
    # Areas are integers in units of 10**-scale m², scale the most decimals seen so far.
    scale = 0
    most = MAX_AREA  # the largest area, in those units
    area = 0
    areas = [0] * len(votes.labels)  # by code
    flats = [0] * len(votes.labels)  # rows with an area, by code
    hashes = [array("q") for _ in range(_BUCKETS)]
    again: set[str] = set()
    homes: dict[str, int] = {}
    try:
        with _table(path, required, ("member_id", "household", "area")) as table:
            reader = table.rows
            at_home = table.columns.get("household")
            at_area = table.columns.get("area")
            for member_id, cells in _members(table, path):
                code = marks.get(member_id)
                if code is None or code >= 0:  # the member's first row
                    code = code or _NO_LABEL
                    marks[member_id] = first[code]
                    members += 1
                    if needs_homes:
                        home = (cells[at_home].strip() if at_home is not None else "") or member_id
                        if code:
                            state = homes.get(home)
                            if not state:
                                homes[home] = code
                            elif state != code:
                                homes[home] = _ABSTAIN
                        else:
                            homes.setdefault(home, _NO_LABEL)
                else:
                    code = ~code
                    again.add(member_id)
                # Every area is checked, as it always was, even when the rule weighs none.
                if at_area is None or not (text := cells[at_area].strip()):
                    continue  # not an owner of this household
                whole, _, part = text.partition(".")
                # The usual row, inline: as many decimals as the scale, digits 0-9 only.
                if (
                    len(part) == scale
                    and (part.isdigit() or not scale)
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
                flat = (cells[at_home].strip() if at_home is not None else "") or member_id
                hashed = hash(flat)
                hashes[hashed % _BUCKETS].append(hashed)
                area += units
                areas[code] += units
                flats[code] += 1
    except RowError as error:
        # A problem linking the rows above this line is the first problem in the file.
        unused = _Flats(scale, 0, [0] * len(areas), 0, [0] * len(areas))
        _links(path, again, _repeated(hashes), marks, unused, until=error.line)
        raise
    counted = _Flats(scale, area, areas, sum(flats), flats)
    repeated = _repeated(hashes)
    del hashes
    if again or repeated:
        _links(path, again, repeated, marks, counted)
    heads = votes.voters.copy()
    strangers = [member for member, code in marks.items() if code >= 0]
    heads.subtract(marks[member] for member in strangers)
    return _counts(
        quantities, votes.labels, (members, heads), counted, homes, tuple(sorted(strangers))
    )


def _repeated(hashes: list[array[int]]) -> set[int]:
    """The hashes that occur more than once (a set of one bucket at a time, not of all)."""
    repeated: set[int] = set()
    for bucket in hashes:
        if len(set(bucket)) < len(bucket):
            repeated.update(value for value, n in Counter(bucket).items() if n > 1)
    return repeated


def _links(
    path: Path,
    again: set[str],
    repeated: set[int],
    marks: Mapping[str, int],
    flats: _Flats,
    until: int | None = None,
) -> None:
    """Read the roll again for the rows of the members in ``again`` and of the flats
    whose household's hash is in ``repeated``, and correct ``flats`` for them.

    A member's rows must name different households, and a flat's rows one area:
    ``RowError`` at the first line that does not. The rows' flats were counted once
    per row, each as an owner of its own; here they become flats (by their household's
    text: two households sharing a hash stay two flats) voting their holders' one vote,
    and owners: flats linked by a shared holder merged, voting their flats' one vote.
    Only a member who holds two flats links them, and such a member is in ``again``:
    the union-find is over the flats those members hold, not over every co-owner. The
    holders of any flat read here have all their rows read here, so every owner is whole.

    With ``until``, only the lines above it are read, for their problems: the caller
    has one at that line."""
    scale, size = flats.scale, len(flats.areas)
    pairs: dict[tuple[str, str], int] = {}  # (member, household) -> line, members in again
    found: dict[str, int] = {}  # household -> units * size + the code of its one vote
    held: dict[str, str] = {}  # a member in again -> the first flat it holds
    parent: dict[str, str] = {}  # flat -> a flat it is linked to (roots are no keys)
    linked: set[str] = set()  # flats with a link: the others are owners of their own
    # What the first reading counted for these rows (each a flat and an owner), by code.
    taken_areas, taken = [0] * size, [0] * size

    def root(flat: str) -> str:
        while (up := parent.get(flat)) is not None:
            if (top := parent.get(up)) is None:
                return up
            parent[flat] = flat = top  # path halving
        return flat

    columns = ("member_id", "household", "area")
    try:
        with _table(path, ("member_id",), columns, _lenient(until)) as table:
            reader = table.rows
            at_home = table.columns.get("household")
            at_area = table.columns.get("area")
            for member_id, cells in _members(table, path):
                line = reader.line_num
                if until is not None and line >= until:
                    break
                home = (cells[at_home].strip() if at_home is not None else "") or member_id
                repeats = member_id in again
                if repeats and (seen := pairs.setdefault((member_id, home), line)) != line:
                    raise _LinkError(
                        path,
                        line,
                        f"member {member_id!r} is already on the roll for household "
                        f"{home!r} (line {seen})",
                    )
                text = cells[at_area].strip() if at_area is not None else ""
                if not text or not (repeats or hash(home) in repeated):
                    continue
                whole, _, part = text.partition(".")
                if len(part) == scale and whole.isdigit() and text.isascii():
                    units = int(whole + part)  # the first reading checked every area
                else:
                    read = area_units(text)
                    assert read is not None  # the first reading refused every bad area
                    units = read[0] * 10 ** (scale - read[1])
                code = ~marks[member_id]
                taken_areas[code] += units
                taken[code] += 1
                packed = found.get(home)
                if packed is None:
                    found[home] = units * size + code
                else:
                    known, state = divmod(packed, size)
                    if known != units:
                        first, written = _first_area(path, home)
                        raise _LinkError(
                            path,
                            line,
                            f"flat {home!r} has the area {text!r} here but {written!r} on "
                            f"line {first} (each co-owner's row repeats the flat's "
                            "registered area)",
                        )
                    found[home] = known * size + _merge(state, code)
                if repeats and (other := held.setdefault(member_id, home)) != home:
                    linked.update((home, other))
                    if (one := root(home)) != (two := root(other)):
                        parent[one] = two
    except RowError as error:
        if until is None or isinstance(error, _LinkError):
            raise
        return  # reading stopped at the caller's own problem, or below it
    owners: dict[str, int] = {}  # the root flat of linked flats -> their one vote
    alone = 0
    for home, packed in found.items():
        units, code = divmod(packed, size)
        flats.area += units
        flats.areas[code] += units
        if home in linked:
            owner = root(home)
            owners[owner] = _merge(owners.get(owner, _NO_LABEL), code)
        else:
            alone += 1
            flats.by_owner[code] += 1
    flats.owners += alone + len(owners) - sum(taken)
    flats.area -= sum(taken_areas)
    for code in range(size):
        flats.areas[code] -= taken_areas[code]
        flats.by_owner[code] -= taken[code]
    for code in owners.values():
        flats.by_owner[code] += 1


def _first_area(path: Path, household: str) -> tuple[int, str]:
    """The line and area cell of the first row of ``household`` with an area (read
    again, only for the message about a flat given two areas)."""
    with _table(path, ("member_id",), ("member_id", "household", "area")) as table:
        at_home, at_area = table.columns.get("household"), table.columns.get("area")
        for member_id, cells in _members(table, path):
            home = (cells[at_home].strip() if at_home is not None else "") or member_id
            if home == household and at_area is not None and (text := cells[at_area].strip()):
                return table.rows.line_num, text
    raise AssertionError(f"flat {household!r} had an area a moment ago")


def _lenient(until: int | None) -> str:
    # Reading up to a line known to be bad: what lies below it must not stop the reading.
    return "strict" if until is None else "replace"


def _counts(
    quantities: tuple[Quantity, ...],
    labels: list[str],
    heads: tuple[int, Counter[int]],
    flats: _Flats,
    homes: dict[str, int],
    invalid: tuple[str, ...],
) -> Counts:
    """The integers turned into ``Counts``: one Fraction per total."""
    roll: dict[Quantity, Fraction] = {}
    weights: dict[str, dict[Quantity, Fraction]] = {}

    def add(quantity: Quantity, total: Fraction, by_code: Iterable[tuple[int, Fraction]]) -> None:
        roll[quantity] = total
        for code, weight in by_code:
            if code != _NO_LABEL:
                weights.setdefault(labels[code], {})[quantity] = weight

    members, voters = heads
    unit = 10**flats.scale
    for quantity in quantities:
        if quantity is Quantity.HEADCOUNT:
            add(quantity, Fraction(members), ((c, Fraction(n)) for c, n in voters.items() if n))
        elif quantity is Quantity.HOUSEHOLDS:
            by_state = Counter(homes.values())
            add(quantity, Fraction(len(homes)), ((c, Fraction(n)) for c, n in by_state.items()))
        elif quantity is Quantity.AREA:
            # A label of no weight is left out: decide_counts reads it as 0 all the same.
            by_code = ((c, Fraction(v, unit)) for c, v in enumerate(flats.areas) if v)
            add(quantity, Fraction(flats.area, unit), by_code)
        else:
            by_code = ((c, Fraction(n)) for c, n in enumerate(flats.by_owner) if n)
            add(quantity, Fraction(flats.owners), by_code)
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
    """``area_units`` of a roll's cell, or ``RowError`` naming its line."""
    read = area_units(text)
    if read is None:
        raise RowError(
            path,
            line,
            f"bad area {text!r} (expected m² as a number >= 0 written with digits 0-9, e.g. 89.5)",
        )
    return read


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
