"""`yishi tally` on a large roll: wall time and peak memory against a plain-Python anchor.

    python bench/tally.py [--members N] [--runs K] [--seed S] [--before REV] [--quick] [--json]

A roll of N members (default 1,000,000; households of 1-3 members, areas with 2
decimals) and its votes (about 80 % of members vote, some households split, some ids
not on the roll, a few identical duplicate rows, one choice in ten written in Chinese)
are generated into a temporary directory from a fixed seed, untimed. Then each series
runs once per round, K rounds, in a rotating order, every run a process of its own:

- ``yishi``: ``python -m bot.cli tally --rule owners-ordinary --roll … --votes …``;
- ``anchor``: ``bench/tally_anchor.py``, the same exact figures in plain Python with
  no input checks;
- ``duckdb``: the same figures in DuckDB SQL, only when the ``duckdb`` module can be
  imported (it is not a dependency);
- ``before`` (with ``--before REV``): ``bot/cli/tally.py`` as it was at git revision
  REV (e.g. 6662938), run on today's domain.

Figures: wall time from spawn to exit (median of the K runs) and peak RSS (``VmHWM``,
read by the process itself at exit, through a small wrapper that starts every series
alike; not ``ru_maxrss``, which Linux carries over from the parent across fork/exec).

Targets: ``yishi``'s figures equal the anchor's (and DuckDB's, and ``before``'s whole
output byte for byte) in every run, every process exits 0 (correctness: exit status 1
otherwise); ``yishi`` median ≤ 2 × the anchor's median and its peak RSS < 200 MiB
(reported, not failed). ``--quick``: 10,000 members, one round.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from common import Target, log, print_targets, targets_json

ROOT = Path(__file__).resolve().parent.parent
ANCHOR = Path(__file__).resolve().parent / "tally_anchor.py"
RULE = "owners-ordinary"
TARGET_RATIO = 2.0
TARGET_MIB = 200.0
CHILD_TIMEOUT = 600.0

# Every series starts through this wrapper, so that each pays the same start-up and
# reports its own peak RSS at exit: argv[1] is "module" or "path", argv[2] the module or
# script, the rest its arguments; the peak goes to the file named by BENCH_PEAK_FILE.
WRAPPER = """\
import atexit, os, runpy, sys

def _peak():
    with open("/proc/self/status") as status:
        kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(kib)

atexit.register(_peak)
kind, target, *rest = sys.argv[1:]
sys.argv = [target, *rest]
if kind == "module":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    runpy.run_path(target, run_name="__main__")
"""

# ``before``: the old module registered on a parser of its own, as ``yishi`` does.
BEFORE_MAIN = """\
import argparse, sys
import before_tally

parser = argparse.ArgumentParser(prog="yishi")
before_tally.register(parser.add_subparsers(dest="command", required=True))
args = parser.parse_args(["tally", *sys.argv[1:]])
sys.exit(args.handler(args))
"""

DUCKDB = """\
import json, sys
from fractions import Fraction
import duckdb

words = "CASE lower(trim(choice)) WHEN '赞成' THEN 'for' WHEN '反对' THEN 'against' \
WHEN '弃权' THEN 'abstain' ELSE lower(trim(choice)) END"
read = "read_csv('{}', header=true, all_varchar=true)"
votes = f"SELECT DISTINCT member_id, {words} AS choice FROM {read.format(sys.argv[2])}"
roll = f"SELECT member_id, CAST(round(CAST(area AS DECIMAL(18,2)) * 100) AS BIGINT) AS c \
FROM {read.format(sys.argv[1])}"
db = duckdb.connect()
members, total = db.execute(f"SELECT count(*), sum(c) FROM ({roll})").fetchone()
sums = dict.fromkeys(("for", "against", "abstain"), (0, 0))
for choice, heads, cents in db.execute(
    f"SELECT v.choice, count(*), sum(r.c) FROM ({votes}) v JOIN ({roll}) r USING (member_id) "
    "GROUP BY v.choice"
).fetchall():
    sums[choice] = (heads, int(cents))
invalid = db.execute(
    f"SELECT count(*) FROM ({votes}) v ANTI JOIN ({roll}) r USING (member_id)"
).fetchone()[0]

def tally(roll, parts):
    shown = {"roll": roll, "participants": sum(parts.values(), Fraction(0)), **parts}
    return {key: str(value) for key, value in shown.items()}

print(json.dumps({
    "headcount": tally(Fraction(members), {k: Fraction(v[0]) for k, v in sums.items()}),
    "area": tally(Fraction(int(total), 100), {k: Fraction(v[1], 100) for k, v in sums.items()}),
    "invalid_votes": invalid,
}))
"""


# A rule on households only, for one untimed check of split households (owners-ordinary
# weighs headcount and area, not households).
HOUSEHOLDS_RULE = {
    "name": "households",
    "passing": [
        {
            "quantity": "households",
            "counted": "for",
            "base": "participants",
            "fraction": "1/2",
            "inclusive": False,
        }
    ],
}


# --- the input ---------------------------------------------------------------------------


@dataclass
class Input:
    roll: Path
    votes: Path
    members: int
    households: int
    split_households: int
    votes_rows: int
    invalid_votes: int
    duplicate_rows: int
    # What the generator knows of the households: a split one abstains.
    household_tally: dict[str, int]


def generate(directory: Path, members: int, seed: int) -> Input:
    """A roll and its votes, the same for the same ``members`` and ``seed``."""
    rng = random.Random(seed)
    choices = ("for", "against", "abstain")
    chinese = {"for": "赞成", "against": "反对", "abstain": "弃权"}
    roll_lines = ["member_id,household,area\n"]
    votes_rows: list[str] = []
    number = house = splits = 0
    homes = dict.fromkeys(("participants", *choices), 0)
    while number < members:
        house += 1
        # Building-unit-room, unique per house: 1-1-101 … (100 rooms a unit, 10 units).
        household = f"{house // 1000 + 1}-{house // 100 % 10 + 1}-{house % 100 + 101}"
        size = min(rng.choice((1, 1, 2, 2, 2, 3)), members - number)
        usual = rng.choices(choices, weights=(55, 35, 10))[0]
        chosen: set[str] = set()
        for _ in range(size):
            member = f"m{number:07d}"
            number += 1
            cents = rng.randint(3000, 18000)
            roll_lines.append(f"{member},{household},{cents // 100}.{cents % 100:02d}\n")
            if rng.random() < 0.8:
                choice = usual if rng.random() >= 0.05 else rng.choice(choices)
                chosen.add(choice)
                word = chinese[choice] if rng.random() < 0.1 else choice
                votes_rows.append(f"{member},{word}\n")
        splits += len(chosen) > 1
        if chosen:
            homes["participants"] += 1
            homes[chosen.pop() if len(chosen) == 1 else "abstain"] += 1
    invalid = max(1, members // 500)
    votes_rows += [f"x{n:07d},{rng.choice(choices)}\n" for n in range(invalid)]
    duplicates = max(1, members // 1000)
    votes_rows += rng.sample(votes_rows, duplicates)
    rng.shuffle(votes_rows)
    roll, votes = directory / "roll.csv", directory / "votes.csv"
    roll.write_text("".join(roll_lines), encoding="utf-8")
    votes.write_text("member_id,choice\n" + "".join(votes_rows), encoding="utf-8")
    homes["cast"] = homes["for"] + homes["against"]
    return Input(
        roll,
        votes,
        members,
        house,
        splits,
        len(votes_rows),
        invalid,
        duplicates,
        {"roll": house, **homes},
    )


# --- the runs ----------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    peak_mib: float
    ok: bool
    figures: dict[str, Any] | None
    stdout: str = field(repr=False, default="")
    error: str = ""


def command(series: str, data: Input, scratch: Path) -> list[str]:
    if series == "yishi":
        target = ["module", "bot.cli", "tally", "--rule", RULE]
        return [*target, "--roll", str(data.roll), "--votes", str(data.votes)]
    if series == "anchor":
        return ["path", str(ANCHOR), str(data.roll), str(data.votes)]
    if series == "households":
        target = ["module", "bot.cli", "tally", "--rule-file", str(scratch / "households.json")]
        return [*target, "--roll", str(data.roll), "--votes", str(data.votes)]
    if series == "duckdb":
        return ["path", str(scratch / "duckdb_anchor.py"), str(data.roll), str(data.votes)]
    assert series == "before"
    return [
        "path",
        str(scratch / "before_main.py"),
        "--rule",
        RULE,
        "--roll",
        str(data.roll),
        "--votes",
        str(data.votes),
    ]


def figures_of_tally(report: dict[str, Any]) -> dict[str, Any]:
    """``yishi tally``'s JSON reduced to what the anchor prints."""

    def exact(value: int | dict[str, str]) -> str:
        return str(Fraction(value["exact"]) if isinstance(value, dict) else Fraction(value))

    keys = ("roll", "participants", "for", "against", "abstain")
    return {
        **{q: {k: exact(report["tallies"][q][k]) for k in keys} for q in ("headcount", "area")},
        "invalid_votes": len(report["invalid_votes"]),
    }


def spawn(series: str, data: Input, scratch: Path) -> Run:
    peak_file = scratch / f"peak-{series}"
    peak_file.unlink(missing_ok=True)
    env = {**os.environ, "BENCH_PEAK_FILE": str(peak_file), "PYTHONIOENCODING": "utf-8"}
    if series == "before":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(scratch), env.get("PYTHONPATH")]))
    argv = [sys.executable, "-c", WRAPPER, *command(series, data, scratch)]
    # CPU time of children is a sum over those reaped (unlike ru_maxrss, a maximum), and
    # one child runs at a time: the difference is this child's.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    peak = int(peak_file.read_text()) / 1024 if peak_file.exists() else float("nan")
    if done.returncode != 0 or done.stderr.strip():
        error = f"exit {done.returncode}: {done.stderr.strip()[-500:]}"
        return Run(seconds, cpu, peak, False, None, done.stdout, error)
    try:
        output = json.loads(done.stdout)
    except json.JSONDecodeError as failure:
        return Run(seconds, cpu, peak, False, None, done.stdout, f"not JSON: {failure}")
    if series == "households":
        figures = output["tallies"]["households"]
    elif series in ("yishi", "before"):
        figures = figures_of_tally(output)
    else:
        figures = output
    return Run(seconds, cpu, peak, True, figures, done.stdout)


def prepare(scratch: Path, before: str | None) -> tuple[list[str], list[str]]:
    """The series to run and notes on what was left out."""
    series, notes = ["yishi", "anchor"], []
    (scratch / "households.json").write_text(json.dumps(HOUSEHOLDS_RULE), encoding="utf-8")
    try:
        import duckdb  # type: ignore[import-not-found]  # noqa: F401  (optional)
    except ImportError:
        notes.append("DuckDB skipped: the duckdb module is not importable (not a dependency)")
    else:
        (scratch / "duckdb_anchor.py").write_text(DUCKDB, encoding="utf-8")
        series.append("duckdb")
    if before is not None:
        old = subprocess.run(
            ["git", "show", f"{before}:bot/cli/tally.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (scratch / "before_tally.py").write_text(old, encoding="utf-8")
        (scratch / "before_main.py").write_text(BEFORE_MAIN, encoding="utf-8")
        series.append("before")
    return series, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--seed", type=int, default=278)
    parser.add_argument(
        "--before", metavar="REV", help="also run bot/cli/tally.py as it was at git REV"
    )
    parser.add_argument("--quick", action="store_true", help="10,000 members, one round: for CI")
    parser.add_argument("--json", action="store_true", help="figures as JSON on stdout")
    args = parser.parse_args(argv)
    if args.quick:
        args.members, args.runs = 10_000, 1
    out = sys.stderr if args.json else sys.stdout

    with tempfile.TemporaryDirectory(prefix="yishi-bench-tally-") as tmp:
        scratch = Path(tmp)
        series, notes = prepare(scratch, args.before)
        for note in notes:
            log(note)
        began = time.perf_counter()
        data = generate(scratch, args.members, args.seed)
        log(
            f"generated in {time.perf_counter() - began:.1f} s: {data.members:,} members, "
            f"{data.households:,} households ({data.split_households:,} split), "
            f"{data.votes_rows:,} vote rows ({data.invalid_votes:,} not on the roll, "
            f"{data.duplicate_rows:,} duplicated); roll {data.roll.stat().st_size / 2**20:.1f} MiB"
        )
        runs: dict[str, list[Run]] = {name: [] for name in series}
        for round_ in range(args.runs):
            shift = round_ % len(series)
            for name in series[shift:] + series[:shift]:
                run = spawn(name, data, scratch)
                runs[name].append(run)
                state = "ok" if run.ok else f"FAILED {run.error}"
                log(
                    f"round {round_ + 1}/{args.runs} {name:7} "
                    f"{run.seconds:7.2f} s (CPU {run.cpu_seconds:6.2f} s) "
                    f"{run.peak_mib:7.1f} MiB  {state}"
                )

        # Households, once and untimed: yishi's figures against what the generator knows.
        homes = spawn("households", data, scratch)
        log(f"households check {homes.seconds:7.2f} s  {'ok' if homes.ok else homes.error}")

    def median(name: str, attribute: str) -> float:
        return float(statistics.median(getattr(r, attribute) for r in runs[name]))

    ours, anchor = median("yishi", "seconds"), median("anchor", "seconds")
    ratio = ours / anchor
    cpu_ratio = median("yishi", "cpu_seconds") / median("anchor", "cpu_seconds")
    peak = max(r.peak_mib for r in runs["yishi"])
    reference = runs["anchor"][0].figures
    agree = [
        (name, i + 1)
        for name in series
        for i, r in enumerate(runs[name])
        if name != "before" and r.figures != reference
    ]
    failed = [(name, r.error) for name in series for r in runs[name] if not r.ok]
    targets = [
        Target(
            "every process exited 0 with JSON and nothing on stderr",
            not failed,
            "; ".join(f"{name}: {error}" for name, error in failed[:3]),
        ),
        Target(
            "yishi's figures equal the anchor's (headcount, area, invalid votes)"
            + (" and DuckDB's" if "duckdb" in series else ""),
            reference is not None and not agree,
            ", ".join(f"{name} run {i} differs" for name, i in agree[:5]),
        ),
        Target(
            f"yishi median ≤ {TARGET_RATIO:g} × the anchor's",
            ratio <= TARGET_RATIO,
            f"{ours:.2f} s vs {anchor:.2f} s: {ratio:.2f}× (CPU time: {cpu_ratio:.2f}×)",
            correctness=False,
        ),
        Target(
            f"yishi peak RSS < {TARGET_MIB:g} MiB",
            peak < TARGET_MIB,
            f"{peak:.1f} MiB (largest of {len(runs['yishi'])} runs)",
            correctness=False,
        ),
    ]
    targets.insert(
        2,
        Target(
            "yishi's household figures (a split household abstains) equal the generator's",
            homes.ok and homes.figures == data.household_tally,
            "" if homes.ok else homes.error,
        ),
    )
    if "before" in series:
        same = [r.stdout == runs["yishi"][0].stdout for r in (*runs["before"], *runs["yishi"])]
        targets.insert(
            2,
            Target(
                f"the output of yishi tally is byte for byte that of {args.before}",
                all(same),
                f"{same.count(False)} run(s) differ" if not all(same) else "",
            ),
        )

    table = [
        {
            "series": name,
            "median_s": median(name, "seconds"),
            "min_s": min(r.seconds for r in runs[name]),
            "max_s": max(r.seconds for r in runs[name]),
            "cpu_s": median(name, "cpu_seconds"),
            "peak_mib": max(r.peak_mib for r in runs[name]),
            "vs_anchor": median(name, "seconds") / anchor,
            "cpu_vs_anchor": median(name, "cpu_seconds") / median("anchor", "cpu_seconds"),
        }
        for name in series
    ]
    print(
        f"yishi tally --rule {RULE}: {data.members:,} members, {data.votes_rows:,} vote rows, "
        f"{args.runs} round(s), interleaved",
        file=out,
    )
    heading = ("median s", "min s", "max s", "×anchor", "CPU s", "×anchor", "peak MiB")
    print(f"{'series':8}" + "".join(f"{h:>10}" for h in heading), file=out)
    for row in table:
        shown = ("median_s", "min_s", "max_s", "vs_anchor", "cpu_s", "cpu_vs_anchor")
        cells = [f"{row[key]:10.2f}" for key in shown] + [f"{row['peak_mib']:10.1f}"]
        print(f"{row['series']:8}" + "".join(cells), file=out)
    for note in notes:
        print(f"note: {note}", file=out)
    status = print_targets(targets, file=out)
    if args.json:
        report = {
            "members": data.members,
            "input": {k: v for k, v in asdict(data).items() if k not in ("roll", "votes")},
            "rounds": args.runs,
            "series": table,
            "runs": {
                name: [
                    {"seconds": r.seconds, "cpu_seconds": r.cpu_seconds, "peak_mib": r.peak_mib}
                    | {"ok": r.ok}
                    for r in rs
                ]
                for name, rs in runs.items()
            },
            "figures": reference,
            "households": data.household_tally,
            "notes": notes,
            "targets": targets_json(targets),
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
    return status


if __name__ == "__main__":
    sys.exit(main())
