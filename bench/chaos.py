"""Chaos figures: SIGKILL trials, a database outage and failing Bot API calls.

    python bench/chaos.py [--trials 10] [--members 300] [--volunteers 60]
                          [--database sqlite|postgresql|all] [--outage 10] [--quick]

The real `yishi run` process against the emulator (``tests/chaos/harness.py``),
killed at a random moment of each trial and started again. The bot is a process of its
own, so it never shares the emulator's event loop (the emulator runs in this one):

- votes: all members press at once, the bot dies mid-burst; member by member,
  every press counted once? (lost / doubled, and how much was in flight at the kill);
- offers: a task for a team of volunteers, the bot dies while the outbox sends
  the offers; every volunteer got one? (lost / doubled);
- closing: a ballot's deadline, the bot dies around it; one outcome message?
- faults: 5 % of all Bot API calls fail (half before taking effect, half after),
  a burst of votes and a call for volunteers, no kill;
- outage (PostgreSQL): a TCP proxy cuts the database away for ``--outage``
  seconds while members keep pressing; nothing half-written, and the time from the
  database's return to the next stored vote.

Targets are printed as PASS/FAIL lines; exits 1 when a correctness target fails (a vote
lost or doubled, an offer lost, an outcome announced twice or silently missing, a press
told "暂时无法记录" yet counted). Timing is printed, never asserted. PostgreSQL is used when
``--postgresql-url`` or ``TEST_DATABASE_URL`` is set and reachable, otherwise skipped with
a note.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common import Target, add_database_args, databases, fresh_database, print_targets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulator import BotApiEmulator, RateLimits
from tests.chaos.harness import (
    ClosingTrial,
    OffersTrial,
    OutageTrial,
    TcpProxy,
    VotesTrial,
    calibrate,
    closing_trial,
    make_volunteers,
    offers_trial,
    outage_trial,
    stage_on,
    through_proxy,
    votes_trial,
)


def log(text: str) -> None:
    print(text, flush=True)


@dataclass
class Figures:
    votes: list[VotesTrial] = field(default_factory=list)
    votes_faults: list[VotesTrial] = field(default_factory=list)
    offers: list[OffersTrial] = field(default_factory=list)
    offers_faults: list[OffersTrial] = field(default_factory=list)
    closings: list[ClosingTrial] = field(default_factory=list)
    outages: list[OutageTrial] = field(default_factory=list)


async def run_database(name: str, url: str, args: argparse.Namespace) -> Figures:
    figures = Figures()
    limits = RateLimits(group_per_minute=600)
    with tempfile.TemporaryDirectory(prefix="yishi-chaos-") as tmp:
        work = Path(tmp)
        for folder in ("votes", "offers", "closing"):
            (work / folder).mkdir()
        # One emulated Telegram for the whole run: its update ids go on from stage to stage,
        # as Telegram's do (a new sequence would rightly look like redeliveries).
        async with BotApiEmulator(limits=limits) as emu:
            async with stage_on(emu, url, work / "votes", members=args.members, seed=1) as stage:
                burst = await calibrate(stage)
                log(f"  {name}: a burst of {args.members} votes takes {burst:.2f} s uninterrupted")
                trials: list[VotesTrial] = []
                for n in range(args.trials):
                    trial = await votes_trial(stage)
                    trials.append(trial)
                    log(
                        f"  {name} votes {n + 1}: killed at {trial.killed_after:.2f} s with "
                        f"{trial.counted_at_kill} counted, {trial.stored_at_kill} stored; "
                        f"lost {trial.lost}, doubled {trial.doubled}, "
                        f"all handled {trial.recovered_in:.1f} s after the restart"
                    )
                figures.votes = trials
                faults = []
                emu.inject_failures(0.05, seed=3)
                for _ in range(max(1, args.trials // 3)):
                    faults.append(await votes_trial(stage, kill=False))
                emu.inject_failures(0)
                figures.votes_faults = faults
                log(f"  {name} votes with 5 % failing calls: {summarize_votes(faults)}")
            async with stage_on(
                emu, url, work / "offers", members=args.volunteers, seed=2
            ) as stage:
                await make_volunteers(stage)
                offers: list[OffersTrial] = []
                for n in range(args.trials):
                    sent = await offers_trial(stage)
                    offers.append(sent)
                    log(
                        f"  {name} offers {n + 1}: killed at {sent.killed_after:.2f} s with "
                        f"{sent.sent_at_kill}/{sent.volunteers} out, {sent.sending_at_kill} "
                        f"mid-send; lost {sent.lost}, doubled {sent.doubled}"
                    )
                figures.offers = offers
                emu.inject_failures(0.05, seed=4)
                faulty = [
                    await offers_trial(stage, kill=False) for _ in range(max(1, args.trials // 3))
                ]
                emu.inject_failures(0)
                figures.offers_faults = faulty
                log(f"  {name} offers with 5 % failing calls: {summarize_offers(faulty)}")
            async with stage_on(emu, url, work / "closing", members=10, seed=3) as stage:
                closings: list[ClosingTrial] = []
                for n in range(args.closings):
                    closing = await closing_trial(stage)
                    closings.append(closing)
                    log(
                        f"  {name} closing {n + 1}: killed {closing.offset:+.2f} s from the "
                        f"deadline (closed before the kill: {closing.closed_at_kill}); "
                        f"{closing.outcome_messages} outcome message(s), in doubt "
                        f"{closing.in_doubt}"
                    )
                figures.closings = closings
            if name == "postgresql" and args.outage > 0:
                figures.outages = await run_outage(emu, url, work, args)
    return figures


async def run_outage(
    emu: BotApiEmulator, url: str, work: Path, args: argparse.Namespace
) -> list[OutageTrial]:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    results = []
    for n in range(args.outages):
        proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
        await proxy.start()
        try:
            folder = work / f"outage{n}"
            folder.mkdir()
            async with stage_on(
                emu,
                url,
                folder,
                members=args.members // 2,
                seed=10 + n,
                YISHI_DATABASE_URL=through_proxy(url, proxy),
            ) as stage:
                trial = await outage_trial(
                    stage, proxy, after=2.0, length=args.outage, spread=args.outage + 8
                )
        finally:
            await proxy.close()
        votes = trial.votes
        log(
            f"  outage {n + 1}: database away {trial.outage:.0f} s; {votes.counted_once} counted "
            f"once, {votes.refused_in_outage} told 暂时无法记录 (not counted), lost {votes.lost}, "
            f"doubled {votes.doubled}, told-but-counted {votes.told_but_counted}; next vote "
            f"stored {trial.recovery:.2f} s after the database came back"
        )
        results.append(trial)
    return results


def summarize_votes(trials: list[VotesTrial]) -> str:
    presses = sum(t.presses for t in trials)
    return (
        f"{presses} presses, lost {sum(t.lost for t in trials)}, "
        f"doubled {sum(t.doubled for t in trials)}"
    )


def summarize_offers(trials: list[OffersTrial]) -> str:
    sent = sum(t.volunteers for t in trials)
    return (
        f"{sent} offers, lost {sum(t.lost for t in trials)}, "
        f"doubled {sum(t.doubled for t in trials)} (a repeat is harmless: answering is once)"
    )


async def main(args: argparse.Namespace) -> int:
    report: list[str] = []
    kinds, postgres_url, notes = databases(args)
    every: dict[str, Figures] = {}
    for name in kinds:
        log(f"{name}:")
        with fresh_database(name, postgres_url) as fresh:
            figures = every[name] = await run_database(name, fresh, args)
        votes = figures.votes + figures.votes_faults
        offers = figures.offers + figures.offers_faults
        closings = figures.closings
        once = sum(t.outcome_messages == 1 for t in closings)
        in_doubt = sum(t.in_doubt for t in closings)
        pad = " " * 12
        report.append(
            f"{name:<11} votes: {len(figures.votes)} SIGKILL trials × {args.members} and "
            f"{len(figures.votes_faults)} with failing calls: lost {sum(t.lost for t in votes)}, "
            f"doubled {sum(t.doubled for t in votes)}"
        )
        report.append(
            f"{pad}offers: {len(offers)} trials × {args.volunteers}: lost "
            f"{sum(t.lost for t in offers)}, doubled {sum(t.doubled for t in offers)}"
        )
        report.append(
            f"{pad}closings: {len(closings)} trials: one outcome {once}, in doubt (logged) "
            f"{in_doubt}, twice {twice(closings)}, silently missing {silent(closings)}"
        )
        for trial in figures.outages:
            report.append(
                f"{pad}outage {trial.outage:.0f} s: lost {trial.votes.lost}, doubled "
                f"{trial.votes.doubled}, told-but-counted {trial.votes.told_but_counted}; "
                f"recovered in {trial.recovery:.2f} s"
            )
        if figures.votes:
            median = statistics.median(t.recovered_in for t in figures.votes)
            report.append(f"{pad}restart → every press handled: median {median:.1f} s")
    log("\nchaos:")
    for line in report:
        log(line)
    for note in notes:
        log(f"note: {note}")
    return print_targets(targets(every))


def twice(closings: list[ClosingTrial]) -> int:
    return sum(t.outcome_messages > 1 for t in closings)


def silent(closings: list[ClosingTrial]) -> int:
    """Closings without an outcome message that the log does not account for."""
    return sum(t.outcome_messages == 0 and not (t.in_doubt and t.logged) for t in closings)


def targets(every: dict[str, Figures]) -> list[Target]:
    """The correctness targets over every database run (exit status 1 when one fails)."""

    def per(count: Callable[[Figures], int], among: dict[str, Figures]) -> tuple[bool, str]:
        found = {name: count(f) for name, f in among.items()}
        detail = ", ".join(f"{name}: {n}" for name, n in found.items() if n)
        return bool(among) and not any(found.values()), detail or ", ".join(among) or "no run"

    def votes(f: Figures) -> list[VotesTrial]:
        return f.votes + f.votes_faults

    def offers(f: Figures) -> list[OffersTrial]:
        return f.offers + f.offers_faults

    checks: list[tuple[str, Callable[[Figures], int]]] = [
        ("no vote lost (SIGKILL, failing calls)", lambda f: sum(t.lost for t in votes(f))),
        ("no vote doubled", lambda f: sum(t.doubled for t in votes(f))),
        ("no offer lost", lambda f: sum(t.lost for t in offers(f))),
        ("an outcome never announced twice", lambda f: twice(f.closings)),
        ("an outcome never missing unless logged as in doubt", lambda f: silent(f.closings)),
    ]
    found = [Target(text, *per(count, every)) for text, count in checks]
    outaged = {name: f for name, f in every.items() if f.outages}
    if outaged:  # PostgreSQL only: a proxy cuts it away
        found.append(
            Target(
                "database outage: nothing lost, doubled, or counted after 暂时无法记录",
                *per(
                    lambda f: sum(
                        t.votes.lost + t.votes.doubled + t.votes.told_but_counted for t in f.outages
                    ),
                    outaged,
                ),
            )
        )
    repeats = sum(t.doubled for f in every.values() for t in offers(f))
    found.append(
        Target(
            "offers sent twice (harmless: answering is once)",
            True,
            str(repeats),
            correctness=False,
        )
    )
    return found


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--closings", type=int, default=10)
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--volunteers", type=int, default=60)
    parser.add_argument("--outage", type=float, default=10.0, help="seconds (0: no outage trial)")
    parser.add_argument("--outages", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help="one trial of each kind, small councils (CI)"
    )
    add_database_args(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.closings, args.members, args.volunteers = 1, 1, 60, 20
        args.outage, args.outages = 3.0, 1
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
