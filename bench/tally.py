"""`yishi tally` on a large roll: wall time and peak memory against a plain-Python anchor.

    python bench/tally.py [--members N] [--runs K] [--seed S] [--before REV] [--quick] [--json]

Two rolls of N members each (default 1,000,000; areas with 2 decimals) and their votes
(about 80 % of members vote, co-owners mostly alike, some ids not on the roll, a few
identical duplicate rows, one choice in ten written in Chinese) are generated into a
temporary directory from a fixed seed, untimed:

- ``single``: each member owns one flat, its home (the common case);
- ``shared``: 30 % of flats have a second co-owner and 1 % of members own two or three
  flats, some of those as co-owners of another member's flat (so owners are linked
  through them).

Then, for each roll, each series runs once per round, K rounds, in a rotating order,
every run a process of its own:

- ``yishi``: ``python -m bot.cli tally --rule owners-ordinary --roll … --votes …``;
- ``anchor``: ``bench/tally_anchor.py``, the same exact figures by law (headcount, each
  flat's area once, owners merged through shared holders) in plain Python with no
  input checks;
- ``before`` (with ``--before REV``): ``bot/cli/tally.py`` as it was at git revision
  REV, run on today's domain (timed; its figures are compared, but a revision that
  counted otherwise differs).

Figures: wall time from spawn to exit (median of the K runs) and peak RSS (``VmHWM``,
read by the process itself at exit, through a small wrapper that starts every series
alike; not ``ru_maxrss``, which Linux carries over from the parent across fork/exec).

Targets: ``yishi``'s figures equal the anchor's on both rolls in every run, and its
household figures the generator's, every process exits 0 (correctness: exit status 1
otherwise); on the ``single`` roll ``yishi`` median ≤ 2 × the anchor's and its peak
RSS < 200 MiB (reported, not failed); the ``shared`` roll's figures are reported beside
them. ``--quick``: 10,000 members, one round.
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

# A rule on households only, for one untimed check of split households (owners-ordinary
# weighs headcount, area and owners, not households).
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


ROLLS = ("single", "shared")
CO_OWNED = 0.3  # of the shared roll's flats, those with a second co-owner
SEVERAL = 0.01  # of its members, those who own two or three flats


@dataclass
class Input:
    kind: str
    roll: Path
    votes: Path
    members: int
    flats: int
    co_owned: int  # flats with more than one holder
    several: int  # members with more than one flat
    votes_rows: int
    invalid_votes: int
    duplicate_rows: int
    # What the generator knows of the households (a member's home is its first row's
    # household; a split one abstains).
    household_tally: dict[str, int]


def generate(directory: Path, kind: str, members: int, seed: int) -> Input:
    """A roll and its votes, the same for the same ``kind``, ``members`` and ``seed``."""
    rng = random.Random(f"{seed}-{kind}")
    shared = kind == "shared"
    choices = ("for", "against", "abstain")
    chinese = {"for": "赞成", "against": "反对", "abstain": "弃权"}
    flats: list[tuple[str, str, list[str]]] = []  # household, area, holders
    choice_of: dict[str, str | None] = {}
    more: list[tuple[str, str, int]] = []  # members still to own flats: name, usual, how many
    several = 0

    def member(usual: str) -> str:
        nonlocal several
        name = f"m{len(choice_of):07d}"
        choice = usual if rng.random() >= 0.05 else rng.choice(choices)
        choice_of[name] = choice if rng.random() < 0.8 else None
        if shared and rng.random() < SEVERAL:
            several += 1
            more.append((name, usual, rng.choice((1, 2))))
        return name

    def flat(holder: str, usual: str) -> None:
        house = len(flats) + 1
        # Building-unit-room, unique per flat: 1-1-101 … (100 rooms a unit, 10 units).
        household = f"{house // 1000 + 1}-{house // 100 % 10 + 1}-{house % 100 + 101}"
        cents = rng.randint(3000, 18000)
        holders = [holder]
        if shared and rng.random() < CO_OWNED and len(choice_of) < members:
            holders.append(member(usual))
        flats.append((household, f"{cents // 100}.{cents % 100:02d}", holders))

    while len(choice_of) < members or more:
        if not more:
            usual = rng.choices(choices, weights=(55, 35, 10))[0]
            flat(member(usual), usual)
            continue
        name, usual, extra = more.pop()
        for _ in range(extra):
            # Now and then a co-owner of somebody else's flat: their owners become one.
            _, _, holders = rng.choice(flats)
            if rng.random() < 0.3 and name not in holders:
                holders.append(name)
            else:
                flat(name, usual)
    roll_lines = ["member_id,household,area\n"]
    homes: dict[str, str] = {}
    for household, area, holders in flats:
        for holder in holders:
            roll_lines.append(f"{holder},{household},{area}\n")
            homes.setdefault(holder, household)
    votes_rows = [
        f"{name},{chinese[choice] if rng.random() < 0.1 else choice}\n"
        for name, choice in choice_of.items()
        if choice is not None
    ]
    invalid = max(1, members // 500)
    votes_rows += [f"x{n:07d},{rng.choice(choices)}\n" for n in range(invalid)]
    duplicates = max(1, members // 1000)
    votes_rows += rng.sample(votes_rows, duplicates)
    rng.shuffle(votes_rows)
    roll, votes = directory / f"roll-{kind}.csv", directory / f"votes-{kind}.csv"
    roll.write_text("".join(roll_lines), encoding="utf-8")
    votes.write_text("member_id,choice\n" + "".join(votes_rows), encoding="utf-8")
    return Input(
        kind,
        roll,
        votes,
        len(choice_of),
        len(flats),
        sum(len(holders) > 1 for _, _, holders in flats),
        several,
        len(votes_rows),
        invalid,
        duplicates,
        household_tally(homes, choice_of),
    )


def household_tally(homes: dict[str, str], choice_of: dict[str, str | None]) -> dict[str, int]:
    """The households figures: each home's one vote, split: abstain."""
    voted: dict[str, set[str]] = {}
    for name, home in homes.items():
        chosen = voted.setdefault(home, set())
        if (choice := choice_of[name]) is not None:
            chosen.add(choice)
    tally = dict.fromkeys(("roll", "participants", "for", "against", "abstain", "cast"), 0)
    tally["roll"] = len(voted)
    for chosen in voted.values():
        if chosen:
            tally["participants"] += 1
            tally[chosen.pop() if len(chosen) == 1 else "abstain"] += 1
    tally["cast"] = tally["for"] + tally["against"]
    return tally


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
    files = ["--roll", str(data.roll), "--votes", str(data.votes)]
    if series == "yishi":
        return ["module", "bot.cli", "tally", "--rule", RULE, *files]
    if series == "anchor":
        return ["path", str(ANCHOR), str(data.roll), str(data.votes)]
    if series == "households":
        rule = str(scratch / "households.json")
        return ["module", "bot.cli", "tally", "--rule-file", rule, *files]
    assert series == "before"
    return ["path", str(scratch / "before_main.py"), "--rule", RULE, *files]


def figures_of_tally(report: dict[str, Any]) -> dict[str, Any]:
    """``yishi tally``'s JSON reduced to what the anchor prints."""

    def exact(value: int | dict[str, str]) -> str:
        return str(Fraction(value["exact"]) if isinstance(value, dict) else Fraction(value))

    keys = ("roll", "participants", "for", "against", "abstain")
    tallies = report["tallies"]
    return {
        **{q: {k: exact(tallies[q][k]) for k in keys} for q in QUANTITIES if q in tallies},
        "invalid_votes": len(report["invalid_votes"]),
    }


QUANTITIES = ("headcount", "area", "owners")


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


def prepare(scratch: Path, before: str | None) -> list[str]:
    """The series to run."""
    series = ["yishi", "anchor"]
    (scratch / "households.json").write_text(json.dumps(HOUSEHOLDS_RULE), encoding="utf-8")
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
    return series


@dataclass
class Measured:
    """One roll's runs, by series, and its untimed household check."""

    data: Input
    runs: dict[str, list[Run]]
    households: Run

    def median(self, name: str, attribute: str) -> float:
        return float(statistics.median(getattr(r, attribute) for r in self.runs[name]))

    def row(self, name: str) -> dict[str, Any]:
        anchor, anchor_cpu = self.median("anchor", "seconds"), self.median("anchor", "cpu_seconds")
        runs = self.runs[name]
        return {
            "roll": self.data.kind,
            "series": name,
            "median_s": self.median(name, "seconds"),
            "min_s": min(r.seconds for r in runs),
            "max_s": max(r.seconds for r in runs),
            "cpu_s": self.median(name, "cpu_seconds"),
            "peak_mib": max(r.peak_mib for r in runs),
            "vs_anchor": self.median(name, "seconds") / anchor,
            "cpu_vs_anchor": self.median(name, "cpu_seconds") / anchor_cpu,
        }


def measure(scratch: Path, data: Input, series: list[str], rounds: int) -> Measured:
    runs: dict[str, list[Run]] = {name: [] for name in series}
    for round_ in range(rounds):
        shift = round_ % len(series)
        for name in series[shift:] + series[:shift]:
            run = spawn(name, data, scratch)
            runs[name].append(run)
            state = "ok" if run.ok else f"FAILED {run.error}"
            log(
                f"{data.kind:6} round {round_ + 1}/{rounds} {name:7} "
                f"{run.seconds:7.2f} s (CPU {run.cpu_seconds:6.2f} s) "
                f"{run.peak_mib:7.1f} MiB  {state}"
            )
    # Households, once and untimed: yishi's figures against what the generator knows.
    homes = spawn("households", data, scratch)
    state = "ok" if homes.ok else homes.error
    log(f"{data.kind:6} households check {homes.seconds:7.2f} s  {state}")
    return Measured(data, runs, homes)


def targets_of(measured: list[Measured], before: str | None) -> list[Target]:
    failed = [
        f"{m.data.kind} {name}: {r.error}"
        for m in measured
        for name, runs in m.runs.items()
        for r in runs
        if not r.ok and name != "before"
    ]
    differ = [
        f"{m.data.kind} yishi run {i + 1}"
        for m in measured
        for i, r in enumerate(m.runs["yishi"])
        if r.figures is None or r.figures != m.runs["anchor"][0].figures
    ]
    homes = [m.data.kind for m in measured if m.households.figures != m.data.household_tally]
    targets = [
        Target(
            "every process exited 0 with JSON and nothing on stderr",
            not failed,
            "; ".join(failed[:3]),
        ),
        Target(
            "yishi's figures (headcount, area, owners, invalid votes) equal the anchor's "
            "on both rolls",
            not differ,
            ", ".join(differ[:5]) + (" differ" if differ else ""),
        ),
        Target(
            "yishi's household figures (a member's first row its home; a split household "
            "abstains) equal the generator's",
            not homes,
            ", ".join(homes) + (" differ" if homes else ""),
        ),
    ]
    if before is not None:
        # Another revision may have counted otherwise, or refused today's rolls: reported.
        same = [
            r.stdout == m.runs["yishi"][0].stdout
            for m in measured
            for r in (*m.runs["before"], *m.runs["yishi"])
        ]
        refused = [r.error for m in measured for r in m.runs["before"] if not r.ok]
        detail = f"{same.count(False)} run(s) differ" if not all(same) else ""
        if refused:
            detail += f"; {len(refused)} refused: {refused[0][:200]}"
        targets.append(
            Target(
                f"the output of yishi tally is byte for byte that of {before}",
                all(same),
                detail,
                correctness=False,
            )
        )
    for m in measured:
        ours = m.row("yishi")
        timing = (
            f"{ours['median_s']:.2f} s vs {m.median('anchor', 'seconds'):.2f} s: "
            f"{ours['vs_anchor']:.2f}× (CPU time: {ours['cpu_vs_anchor']:.2f}×)"
        )
        if m.data.kind == "single":
            ratio_ok, peak_ok = ours["vs_anchor"] <= TARGET_RATIO, ours["peak_mib"] < TARGET_MIB
            targets.append(
                Target(
                    f"single: yishi median ≤ {TARGET_RATIO:g} × the anchor's",
                    ratio_ok,
                    timing,
                    correctness=False,
                )
            )
            targets.append(
                Target(
                    f"single: yishi peak RSS < {TARGET_MIB:g} MiB",
                    peak_ok,
                    f"{ours['peak_mib']:.1f} MiB (largest of {len(m.runs['yishi'])} runs)",
                    correctness=False,
                )
            )
        else:
            log(f"{m.data.kind}: yishi {timing}, peak {ours['peak_mib']:.1f} MiB (no target)")
    return targets


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

    measured: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="yishi-bench-tally-") as tmp:
        scratch = Path(tmp)
        series = prepare(scratch, args.before)
        for kind in ROLLS:
            began = time.perf_counter()
            data = generate(scratch, kind, args.members, args.seed)
            log(
                f"{kind}: generated in {time.perf_counter() - began:.1f} s: "
                f"{data.members:,} members, {data.flats:,} flats ({data.co_owned:,} co-owned, "
                f"{data.several:,} members with several), {data.votes_rows:,} vote rows "
                f"({data.invalid_votes:,} not on the roll, {data.duplicate_rows:,} duplicated); "
                f"roll {data.roll.stat().st_size / 2**20:.1f} MiB"
            )
            measured.append(measure(scratch, data, series, args.runs))
            data.roll.unlink()
            data.votes.unlink()

    targets = targets_of(measured, args.before)
    table = [m.row(name) for m in measured for name in series]
    print(
        f"yishi tally --rule {RULE}: {args.members:,} members a roll, "
        f"{args.runs} round(s), interleaved",
        file=out,
    )
    heading = ("median s", "min s", "max s", "×anchor", "CPU s", "×anchor", "peak MiB")
    print(f"{'roll':7}{'series':8}" + "".join(f"{h:>10}" for h in heading), file=out)
    for row in table:
        shown = ("median_s", "min_s", "max_s", "vs_anchor", "cpu_s", "cpu_vs_anchor")
        cells = [f"{row[key]:10.2f}" for key in shown] + [f"{row['peak_mib']:10.1f}"]
        print(f"{row['roll']:7}{row['series']:8}" + "".join(cells), file=out)
    status = print_targets(targets, file=out)
    if args.json:
        report = {
            "members": args.members,
            "rounds": args.runs,
            "rolls": {
                m.data.kind: {
                    "input": {
                        k: v for k, v in asdict(m.data).items() if k not in ("roll", "votes")
                    },
                    "runs": {
                        name: [
                            {"seconds": r.seconds, "cpu_seconds": r.cpu_seconds}
                            | {"peak_mib": r.peak_mib, "ok": r.ok}
                            for r in rs
                        ]
                        for name, rs in m.runs.items()
                    },
                    "figures": m.runs["anchor"][0].figures,
                }
                for m in measured
            },
            "series": table,
            "targets": targets_json(targets),
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
    return status


if __name__ == "__main__":
    sys.exit(main())
