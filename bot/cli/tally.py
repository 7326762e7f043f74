"""`yishi tally`: evaluate a decision rule offline on CSV files and print JSON.

A committee uses this to check a count without the bot, e.g. paper ballots merged with
chat votes. Every input problem ends with exit code 2 and one line on stderr: the
people reading it are volunteers with a spreadsheet, not programmers with a traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Iterator, Mapping
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from domain.errors import DomainError
from domain.numbers import parse_decimal
from domain.rules import PRESETS, Choice, Quantity, Rule, RuleError, Voter, decide, preset

EXIT_BAD_INPUT = 2
MAX_AREA = Decimal(10**9)  # m² on one row of a roll: far beyond any estate, short of absurd

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
        roll = _read_roll(args.roll, needs_area=Quantity.AREA in rule.quantities)
        votes, duplicates = _read_votes(args.votes, options)
        outcome = decide(rule, roll, votes, options)
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


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) with header names trimmed and lower-cased, cells trimmed."""
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
            for cells in reader:
                if not any(cell.strip() for cell in cells):
                    continue
                row = {name: "" for name in names}
                for name, cell in zip(names, cells, strict=False):
                    row[name] = cell.strip()
                yield reader.line_num, row
    except FileNotFoundError:
        raise InputError(f"file not found: {path}") from None
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text (save it as 'CSV UTF-8')") from None
    except csv.Error as error:
        raise InputError(f"{path}: malformed CSV ({error})") from None


def _read_roll(path: Path, needs_area: bool) -> list[Voter]:
    # household may be absent (one household per member); area only matters to area rules.
    required = ("member_id", "area") if needs_area else ("member_id",)
    roll: list[Voter] = []
    seen: dict[str, int] = {}
    for line, row in _rows(path, required):
        member_id = row["member_id"]
        if not member_id:
            raise InputError(f"{path} line {line}: empty member_id")
        if member_id in seen:
            raise InputError(
                f"{path} line {line}: member {member_id!r} is already on the roll "
                f"(line {seen[member_id]})"
            )
        seen[member_id] = line
        household = row.get("household") or member_id
        roll.append(Voter(member_id, household, _parse_area(row.get("area", ""), path, line)))
    return roll


def _parse_area(text: str, path: Path, line: int) -> Fraction:
    if not text:
        return Fraction(0)
    try:
        # Digits 0-9 and a point only: "1e999999999" would be an exact integer of a
        # billion digits, and "٣" is not what a spreadsheet wrote.
        value = parse_decimal(text, field="area", maximum=MAX_AREA, places=None)
    except DomainError:
        raise InputError(
            f"{path} line {line}: bad area {text!r} "
            f"(expected m² as a number >= 0 written with digits 0-9, e.g. 89.5)"
        ) from None
    return Fraction(value)


def _read_votes(path: Path, options: list[str] | None) -> tuple[dict[str, str], list[str]]:
    votes: dict[str, str] = {}
    lines: dict[str, int] = {}
    duplicates: set[str] = set()
    conflicts: dict[str, set[str]] = {}
    for line, row in _rows(path, ("member_id", "choice")):
        member_id = row["member_id"]
        if not member_id:
            raise InputError(f"{path} line {line}: empty member_id")
        choice = _parse_choice(row["choice"], options, path, line)
        if member_id not in votes:
            votes[member_id], lines[member_id] = choice, line
        elif votes[member_id] == choice:
            duplicates.add(member_id)
        else:
            conflicts.setdefault(member_id, {votes[member_id]}).add(choice)
    if conflicts:
        listed = "; ".join(
            f"{member} ({' vs '.join(sorted(choices))})"
            for member, choices in sorted(conflicts.items())
        )
        raise InputError(
            f"{path}: conflicting votes for {listed}; the committee must resolve them by hand"
        )
    return votes, sorted(duplicates)


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
