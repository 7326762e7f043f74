"""Votes benchmark: N members press vote buttons at once, end to end through the emulator.

    python bench/votes.py [--members N[,N…]] [--runs K] [--database sqlite|postgresql|all]
                          [--quick] [--json] [--postgresql-url URL] [--profile FILE]

The Bot API emulator runs as a process of its own (``remote.py``: ``python -m emulator``),
for the bot and the baseline alike; they reach it by ``base_url``, as Telegram. Each run
starts the real bot (``bot.telegram.local.bot_on``, with Telegram's own limits: 20 group
messages a minute, one tally edit per 3 s) on a fresh, migrated database, sets up a
council of N members directly in storage (timed separately, not counted), has the chair
post the ballot through the bot, and then the emulator fires all N presses at once. It
measures, from the first press queued to the last callback answer (both in the
emulator's process):

* votes/s end to end (N / wall time) and p50/p99 press→answer latency;
* after the bot is idle: votes lost (N − current votes counted for the N members) and
  double-counted (vote events beyond one per member, or a wrong choice), and the tally
  edits sent (``refresher.edits`` and the emulator's editMessageText count);
* emulator 429s and other error replies (must be 0).

The baseline is a bare PTB ``Application`` with the same update processor
(``PerUserUpdateProcessor(64)``, as ``bot/telegram/app.py``) and one ``CallbackQueryHandler``
that only answers; same N presses, against an emulator process of its own, interleaved
with the bot's runs at the same size. ratio = yishi votes/s ÷ bare votes/s (medians),
per database and size. ``--members 100,1000,5000,20000`` sweeps the sizes.

PostgreSQL is used when ``--postgresql-url`` or ``TEST_DATABASE_URL`` is set and
reachable (otherwise skipped with a note); each run gets a fresh schema, dropped
afterwards.

Targets, printed as PASS/FAIL: correctness (exit status 1 when one fails): no vote lost,
none doubled, every press answered (bot and baseline), the ballot message shows the final
tally; reported only: ratio ≥ 0.8 at every size, no 429 from the emulator's flood control.
Per-run lines go to stdout (stderr with ``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import logging
import math
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

try:
    import bot  # noqa: F401  (installed: pip install -e .)
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (
    Series,
    Target,
    add_database_args,
    databases,
    fresh_database,
    percentile,
    print_targets,
    targets_json,
)
from remote import Burst, RemoteEmulator, Sent, bot_on_remote
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
)

from bot.telegram.local import LocalBot
from bot.telegram.processor import PerUserUpdateProcessor
from domain import services
from domain.model import Member
from emulator import RateLimits

TARGET_RATIO = 0.8  # issue 12: the vote path keeps ≥ 0.8 of bare PTB at every size
# Realistic Telegram settings: a group receives ~20 messages a minute; one tally edit per 3 s.
GROUP_MESSAGES_PER_MINUTE = 20
TALLY_EDIT_INTERVAL = 3.0
MAX_CONCURRENT_UPDATES = 64  # as bot/telegram/app.py: PerUserUpdateProcessor(64)
FIRST_USER_ID = 10_000_001
PRESS_TIMEOUT = 300.0  # a press waits at least this long for its answer before it is lost
DEFAULT_MEMBERS = [2000]
QUICK_MEMBERS = [100]


PROGRESS = sys.stdout  # per-run lines; stderr when the figures are printed as JSON


def log(text: str) -> None:
    print(text, file=PROGRESS, flush=True)


def press_timeout(n: int) -> float:
    """Long enough for a slow but working bot: 20 presses a second at the least."""
    return max(PRESS_TIMEOUT, n / 20)


def limits() -> RateLimits:
    return RateLimits(group_per_minute=GROUP_MESSAGES_PER_MINUTE)


# --- results -------------------------------------------------------------------------


@dataclass
class RunResult:
    members: int
    wall_s: float
    votes_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    answered: int  # presses that got an answer in time
    unanswered: int  # presses left without an answer (a spinning button)
    refused: int  # answers shown as an alert (a refusal or an error)
    lost: int = 0
    doubled: int = 0
    edits: int = 0  # refresher.edits during the burst and its drain
    edit_calls: int = 0  # editMessageText calls seen by the emulator
    final_tally_shown: bool = True
    too_many_requests: int = 0
    errors: int = 0  # error replies of the emulator (Bot API calls that failed)
    error_texts: list[str] = field(default_factory=list)
    setup_s: float = 0.0
    settle_s: float = 0.0  # from the last answer until every tally edit was made
    emulator_cpu_s: float = 0.0  # CPU time of the emulator's process during the burst
    cpu_s: float = 0.0  # CPU time of this process (the bot, or the bare app) during the burst


def summarize(n: int, result: Burst) -> RunResult:
    lat_ms = [x * 1000 for x in result.latencies]
    answered = [a for a in result.answers if a is not None]
    wall = result.wall
    return RunResult(
        members=n,
        wall_s=wall,
        votes_per_s=len(answered) / wall if answered and wall > 0 else 0.0,
        p50_ms=percentile(lat_ms, 50),
        p99_ms=percentile(lat_ms, 99),
        max_ms=max(lat_ms, default=float("nan")),
        answered=len(answered),
        unanswered=n - len(answered),
        refused=sum(1 for a in answered if a.get("show_alert")),
    )


async def error_texts(emu: RemoteEmulator, since: int) -> list[str]:
    """The emulator's error replies after transcript entry ``since``, counted by text."""
    texts = Counter(await emu.error_texts(since))
    return [f"{count}× {text}" for text, count in texts.most_common()]


# --- Yishi ---------------------------------------------------------------------------


async def say(emu: RemoteEmulator, user_id: int, chat_id: int, text: str) -> Sent:
    """Send a command in the group and wait until the bot has finished answering it."""
    after = await emu.event_seq()
    await emu.send_text(user_id, chat_id, text)
    await emu.wait_for_bot_message(chat_id, after=after, timeout=30)
    await emu.wait_idle(quiet=0.2, timeout=30)
    reply = await emu.last_bot_message(chat_id)
    assert reply is not None
    return reply


async def add_members(local: LocalBot, council_id: int, user_ids: Sequence[int]) -> dict[int, int]:
    """Put every user on the roll in one transaction; user id -> member id."""
    now = datetime.now(UTC)
    ids: dict[int, int] = {}
    async with local.database.uow() as uow:
        for i, user_id in enumerate(user_ids):
            member = await uow.members.add(
                Member(
                    council_id=council_id,
                    user_id=user_id,
                    name=f"居民{i}",
                    building=str(1 + i // 200),
                    unit=str(1 + (i // 20) % 10),
                    room=str(101 + i % 20),
                    joined_at=now,
                    area=Decimal("80.00"),
                    language="zh-CN",
                )
            )
            assert member.id is not None
            ids[user_id] = member.id
        await uow.commit()
    return ids


async def run_yishi(
    database_url: str, n: int, *, profile: cProfile.Profile | None = None
) -> RunResult:
    logging.getLogger("bot").setLevel(logging.WARNING)
    async with (
        RemoteEmulator(limits()) as emu,
        # The bot keeps to the emulator's group limit (bot_on reads it from limits()).
        bot_on_remote(emu, database_url, tally_edit_interval=TALLY_EDIT_INTERVAL) as local,
    ):
        began = time.perf_counter()
        chair = FIRST_USER_ID - 1
        users = await emu.add_users(
            [("主持人", chair)] + [(f"居民{i}", FIRST_USER_ID + i) for i in range(n)]
        )
        users = users[1:]
        group = await emu.add_group("议事会压测", members=users, creator=chair)
        await say(emu, chair, group, "/setup simple")
        council = await services.find_council(local.database.uow(), chat_id=group, thread_id=0)
        assert council.id is not None
        member_ids = await add_members(local, council.id, users)
        await say(emu, chair, group, "/topic 压测议题\n所有成员同时举手表决。")
        ballot = await say(emu, chair, group, "/ballot")
        data = ballot.callback_data("v:")
        assert len(data) == 3, ballot.buttons
        ballot_id = int(data[0].split(":")[1])
        await emu.wait_idle(quiet=0.3, timeout=30)
        setup_s = time.perf_counter() - began

        presses = [(user, data[i % len(data)]) for i, user in enumerate(users)]
        expected = {member_ids[user]: d.split(":")[2] for user, d in presses}
        refresher = local.deps.refresher
        stats = await emu.stats()
        edits0, calls0 = refresher.edits, stats.calls.get("editMessageText", 0)
        tmr0, errors0, entries0 = stats.too_many_requests, stats.total_errors, stats.transcript

        gc.collect()
        if profile is not None:
            profile.enable()
        cpu0 = time.process_time()
        result = await emu.burst(group, ballot.message_id, presses, press_timeout(n))
        cpu_s = time.process_time() - cpu0
        if profile is not None:
            profile.disable()
        emulator_cpu_s = (await emu.stats()).cpu_s - stats.cpu_s
        settle_began = time.perf_counter()
        await refresher.drain()
        await emu.wait_idle(quiet=0.3, timeout=120)
        settle_s = time.perf_counter() - settle_began

        run = summarize(n, result)
        run.setup_s, run.settle_s = setup_s, settle_s
        run.emulator_cpu_s, run.cpu_s = emulator_cpu_s, cpu_s
        async with local.database.uow() as uow:
            current = await uow.votes.current(ballot_id)
            events = await uow.votes.events(ballot_id)
            stored = await uow.ballots.get(ballot_id)
            last_seq = await uow.votes.last_seq(ballot_id)
        per_member = Counter(e.member_id for e in events)
        counted = sum(1 for m in expected if m in current)
        run.lost = n - counted
        run.doubled = (
            sum(c - 1 for c in per_member.values() if c > 1)
            + sum(1 for m, c in current.items() if m in expected and expected[m] != c)
            + sum(1 for m in current if m not in expected)
        )
        assert stored is not None
        run.final_tally_shown = stored.rendered_seq >= last_seq
        stats = await emu.stats()
        run.edits = refresher.edits - edits0
        run.edit_calls = stats.calls.get("editMessageText", 0) - calls0
        run.too_many_requests = stats.too_many_requests - tmr0
        run.errors = stats.total_errors - errors0
        run.error_texts = await error_texts(emu, entries0)
        return run


# --- bare PTB ------------------------------------------------------------------------


async def answer_only(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.callback_query is not None
    await update.callback_query.answer()


@asynccontextmanager
async def bare_bot(emu: RemoteEmulator) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    application = (
        ApplicationBuilder()
        .token(emu.token)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
        .concurrent_updates(PerUserUpdateProcessor(MAX_CONCURRENT_UPDATES))
        .build()
    )
    application.add_handler(CallbackQueryHandler(answer_only))
    async with application:
        # PTB's own polling (its Updater), as a bare PTB bot runs.
        assert application.updater is not None
        await application.updater.start_polling(allowed_updates=Update.ALL_TYPES, timeout=1)
        await application.start()
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()


async def run_bare(n: int) -> RunResult:
    async with RemoteEmulator(limits()) as emu, bare_bot(emu) as application:
        began = time.perf_counter()
        users = await emu.add_users([(f"居民{i}", FIRST_USER_ID + i) for i in range(n)])
        group = await emu.add_group("裸机对照", members=users)
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("举手", callback_data="x")]])
        message = await application.bot.send_message(group, "按钮", reply_markup=markup)
        await emu.wait_idle(quiet=0.3, timeout=30)
        setup_s = time.perf_counter() - began
        stats = await emu.stats()
        gc.collect()
        cpu0 = time.process_time()
        result = await emu.burst(
            group, message.message_id, [(user, "x") for user in users], press_timeout(n)
        )
        cpu_s = time.process_time() - cpu0
        after = await emu.stats()
        await emu.wait_idle(quiet=0.3, timeout=60)
        run = summarize(n, result)
        run.setup_s = setup_s
        run.emulator_cpu_s, run.cpu_s = after.cpu_s - stats.cpu_s, cpu_s
        run.lost = n - run.answered
        run.too_many_requests = after.too_many_requests - stats.too_many_requests
        run.errors = after.total_errors - stats.total_errors
        run.error_texts = await error_texts(emu, stats.transcript)
        return run


# --- main ----------------------------------------------------------------------------


def describe(name: str, i: int, run: RunResult) -> str:
    return (
        f"  {name:<10} {run.members:>6} members run {i}: {run.votes_per_s:8.1f} votes/s  "
        f"wall {run.wall_s:6.2f} s  p50 {run.p50_ms:7.1f} ms  p99 {run.p99_ms:7.1f} ms  "
        f"lost {run.lost}  doubled {run.doubled}  refused {run.refused}  "
        + (f"UNANSWERED {run.unanswered}  " if run.unanswered else "")
        + f"edits {run.edits} (editMessageText {run.edit_calls})  "
        f"429s {run.too_many_requests}  errors {run.errors}  "
        f"set-up {run.setup_s:.1f} s  settle {run.settle_s:.1f} s  "
        f"CPU {run.cpu_s:.1f} s (emulator {run.emulator_cpu_s:.1f} s)"
        + (f"\n      emulator errors: {'; '.join(run.error_texts)}" if run.error_texts else "")
        + ("" if run.final_tally_shown else "\n      the ballot message lacks the final tally")
    )


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    kinds, postgres_url, notes = databases(args, log)

    profile = cProfile.Profile() if args.profile else None
    log(
        f"votes benchmark: {', '.join(map(str, args.members))} members, {args.runs} run(s) "
        f"each, databases: {', '.join(kinds) or 'none'}; emulator in its own process"
    )
    rows = []
    for size in args.members:
        series = {name: Series(name) for name in ["bare", *kinds]}
        for i in range(1, args.runs + 1):
            # Interleaved, so drift on a noisy machine hits baseline and bot alike.
            run = await run_bare(size)
            series["bare"].runs.append(run)
            log(describe("bare", i, run))
            for kind in kinds:
                with fresh_database(kind, postgres_url) as url:
                    first = i == 1 and kind == kinds[0] and size == args.members[0]
                    run = await run_yishi(url, size, profile=profile if first else None)
                series[kind].runs.append(run)
                log(describe(kind, i, run))
        bare = series["bare"].median("votes_per_s")
        for name, s in series.items():
            mine = s.median("votes_per_s")
            rows.append(
                {
                    "members": size,
                    "database": name,
                    "votes_per_s": mine,
                    "p50_ms": s.median("p50_ms"),
                    "p99_ms": s.median("p99_ms"),
                    "lost": s.total("lost"),
                    "doubled": s.total("doubled"),
                    "unanswered": s.total("unanswered"),
                    "refused": s.total("refused"),
                    "edits": s.median("edits"),
                    "final_tally_missing": sum(1 for r in s.runs if not r.final_tally_shown),
                    "too_many_requests": s.total("too_many_requests"),
                    "errors": s.total("errors"),
                    "ratio": None if name == "bare" else (mine / bare if bare else math.nan),
                    "runs": [asdict(r) for r in s.runs],
                }
            )
    if profile is not None:
        profile.dump_stats(args.profile)
        log(f"cProfile of the first {kinds[0] if kinds else 'bot'} burst written to {args.profile}")
    report = {
        "members": args.members,
        "runs": args.runs,
        "group_messages_per_minute": GROUP_MESSAGES_PER_MINUTE,
        "tally_edit_interval": TALLY_EDIT_INTERVAL,
        "target_ratio": TARGET_RATIO,
        "notes": notes,
        "results": rows,
    }
    report["targets"] = targets_json(targets(report))
    return report


def targets(report: dict[str, Any]) -> list[Target]:
    rows = report["results"]
    bots = [r for r in rows if r["ratio"] is not None]

    def where(picked: list[dict[str, Any]], key: str) -> str:
        return ", ".join(f"{r['database']} {r['members']}: {r[key]}" for r in picked if r[key])

    lost = [r for r in bots if r["lost"]]
    doubled = [r for r in bots if r["doubled"]]
    unanswered = [r for r in rows if r["unanswered"]]
    missing = [r for r in bots if r["final_tally_missing"]]
    flooded = [r for r in rows if r["too_many_requests"]]
    target = report["target_ratio"]
    ratios = (
        "; ".join(f"{r['database']} {r['members']}: {r['ratio']:.3f}" for r in bots)
        or "no database was benchmarked"
    )
    return [
        Target("no vote lost", not lost, where(lost, "lost")),
        Target("no vote doubled", not doubled, where(doubled, "doubled")),
        Target(
            "every press answered (bot and bare)", not unanswered, where(unanswered, "unanswered")
        ),
        Target(
            "the ballot message shows the final tally",
            not missing,
            where(missing, "final_tally_missing"),
        ),
        Target(
            f"ratio to bare PTB ≥ {target} at every size",
            bool(bots) and all(r["ratio"] >= target for r in bots),
            ratios,
            correctness=False,
        ),
        Target(
            "no 429 from the emulator's flood control",
            not flooded,
            where(flooded, "too_many_requests"),
            correctness=False,
        ),
    ]


def print_table(report: dict[str, Any]) -> None:
    print(
        f"\nvotes: members pressing at once, median of {report['runs']} run(s) "
        f"(group limit {report['group_messages_per_minute']}/min, "
        f"tally edit every {report['tally_edit_interval']:g} s; emulator in its own process)"
    )
    header = (
        f"{'members':>8} {'database':<11}{'votes/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'lost':>6}"
        f"{'doubled':>9}{'edits':>7}{'429s':>6}{'ratio vs bare':>15}   runs (votes/s)"
    )
    print(header)
    print("-" * len(header))
    for row in report["results"]:
        ratio = "—" if row["ratio"] is None else f"{row['ratio']:.3f}"
        each = ", ".join(f"{r['votes_per_s']:.1f}" for r in row["runs"])
        edits = "—" if row["database"] == "bare" else f"{row['edits']:g}"
        doubled = "—" if row["database"] == "bare" else str(row["doubled"])
        print(
            f"{row['members']:>8} {row['database']:<11}{row['votes_per_s']:>9.1f}"
            f"{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}{row['lost']:>6}{doubled:>9}{edits:>7}"
            f"{row['too_many_requests']:>6}{ratio:>15}   {each}"
        )
    for note in report["notes"]:
        print(f"note: {note}")


def parse_members(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("--members takes sizes of at least 1")
    return sizes


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--members",
        type=parse_members,
        default=None,
        help="voters, or a comma-separated sweep such as 100,1000,5000,20000 (default 2000)",
    )
    parser.add_argument("--runs", type=int, default=None, help="runs per series (default 3)")
    add_database_args(parser)
    parser.add_argument("--quick", action="store_true", help="smoke check: 100 members, 1 run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        default=None,
        help="write a cProfile of the first bot burst (event-loop thread only) to FILE",
    )
    args = parser.parse_args(argv)
    if args.members is None:
        args.members = QUICK_MEMBERS if args.quick else DEFAULT_MEMBERS
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    global PROGRESS
    args = parse_args(argv)
    PROGRESS = sys.stderr if args.json else sys.stdout
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    report = asyncio.run(bench(args))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_table(report)
    return print_targets(targets(report), file=sys.stderr if args.json else sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
