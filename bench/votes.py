"""Votes benchmark: N members press vote buttons at once, end to end through the emulator.

    python bench/votes.py [--members N] [--runs K] [--database sqlite|postgresql|all]
                          [--quick] [--json] [--postgresql-url URL] [--profile FILE]

Each run starts the real bot (``bot.telegram.local.local_bot``, with Telegram's own limits: 20
group messages a minute, one tally edit per 3 s) on a fresh, migrated database, sets up
a council of N members directly in storage (timed separately, not counted), has the
chair post the ballot through the bot, and then fires all N presses concurrently. It
measures, from the first press to the last callback answer:

* votes/s end to end (N / wall time) and p50/p99 press→answer latency;
* after the bot is idle: votes lost (N − current votes counted for the N members) and
  double-counted (vote events beyond one per member, or a wrong choice), and the tally
  edits sent (``refresher.edits`` and the emulator's editMessageText count);
* emulator 429s and other error replies (must be 0).

The baseline is a bare PTB ``Application`` with the same update processor
(``PerUserUpdateProcessor(64)``, as ``bot/telegram/app.py``) and one ``CallbackQueryHandler``
that only answers; same N concurrent presses, against its own emulator, in the same
process and the same run. ratio = yishi votes/s ÷ bare votes/s (medians), per database.

PostgreSQL is used when ``--postgresql-url`` or ``TEST_DATABASE_URL`` is set and
reachable; each run gets a fresh schema, dropped afterwards.

Exit status 1 when a vote was lost or double-counted or a press went unanswered (a slow
ratio is only reported). Per-run lines go to stdout (stderr with ``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import logging
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

from common import Series, add_database_args, databases, fresh_database, percentile
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
)

from bot.telegram.local import LocalBot, local_bot
from bot.telegram.processor import PerUserUpdateProcessor
from domain import services
from domain.model import Member
from emulator import BotApiEmulator, Chat, Message, RateLimits, User

TARGET_RATIO = 0.5
# Realistic Telegram settings: a group receives ~20 messages a minute; one tally edit per 3 s.
GROUP_MESSAGES_PER_MINUTE = 20
TALLY_EDIT_INTERVAL = 3.0
MAX_CONCURRENT_UPDATES = 64  # as bot/telegram/app.py: PerUserUpdateProcessor(64)
FIRST_USER_ID = 10_000_001
PRESS_TIMEOUT = 300.0  # a press waits this long for its answer before counting as lost


PROGRESS = sys.stdout  # per-run lines; stderr when the figures are printed as JSON


def log(text: str) -> None:
    print(text, file=PROGRESS, flush=True)


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


# --- the burst -----------------------------------------------------------------------


@dataclass
class Burst:
    wall_s: float
    latencies_s: list[float]
    answers: list[Any]  # CallbackAnswer or an exception


async def burst(
    emu: BotApiEmulator, message: Message, presses: Sequence[tuple[User, str]]
) -> Burst:
    """Fire every press at once; each times its own press→answer latency."""
    starts: list[float] = [0.0] * len(presses)
    ends: list[float] = [0.0] * len(presses)

    async def one(i: int, user: User, data: str) -> Any:
        starts[i] = time.perf_counter()
        try:
            answer = await emu.press(user, message, data, timeout=PRESS_TIMEOUT)
        finally:
            ends[i] = time.perf_counter()
        return answer

    answers = await asyncio.gather(
        *(one(i, user, data) for i, (user, data) in enumerate(presses)),
        return_exceptions=True,
    )
    ok = [i for i, a in enumerate(answers) if not isinstance(a, BaseException)]
    wall = (max(ends[i] for i in ok) - min(starts)) if ok else float("nan")
    return Burst(wall, [ends[i] - starts[i] for i in ok], list(answers))


def summarize(n: int, result: Burst) -> RunResult:
    lat_ms = [x * 1000 for x in result.latencies_s]
    answered = [a for a in result.answers if not isinstance(a, BaseException)]
    return RunResult(
        members=n,
        wall_s=result.wall_s,
        votes_per_s=len(answered) / result.wall_s if answered else 0.0,
        p50_ms=percentile(lat_ms, 50),
        p99_ms=percentile(lat_ms, 99),
        max_ms=max(lat_ms, default=float("nan")),
        answered=len(answered),
        unanswered=n - len(answered),
        refused=sum(1 for a in answered if a.show_alert),
    )


def error_texts(emu: BotApiEmulator, since: int) -> list[str]:
    """The emulator's error replies after transcript entry ``since``, counted by text."""
    texts = Counter(e.text for e in emu.transcript.entries[since:] if e.kind == "error")
    return [f"{count}× {text}" for text, count in texts.most_common()]


# --- Yishi ---------------------------------------------------------------------------


async def say(emu: BotApiEmulator, user: User, chat: Chat, text: str) -> Message:
    """Send a command in the group and wait until the bot has finished answering it."""
    after = emu.event_seq
    await emu.send_text(user, chat, text)
    await emu.wait_for_bot_message(chat, after=after, timeout=30)
    await emu.wait_idle(quiet=0.2, timeout=30)
    reply = emu.last_bot_message(chat)
    assert reply is not None
    return reply


async def add_members(local: LocalBot, council_id: int, users: Sequence[User]) -> dict[int, int]:
    """Put every user on the roll in one transaction; user id -> member id."""
    now = datetime.now(UTC)
    ids: dict[int, int] = {}
    async with local.database.uow() as uow:
        for i, user in enumerate(users):
            member = await uow.members.add(
                Member(
                    council_id=council_id,
                    user_id=user.id,
                    name=user.full_name,
                    building=str(1 + i // 200),
                    unit=str(1 + (i // 20) % 10),
                    room=str(101 + i % 20),
                    joined_at=now,
                    area=Decimal("80.00"),
                    language="zh-CN",
                )
            )
            assert member.id is not None
            ids[user.id] = member.id
        await uow.commit()
    return ids


async def run_yishi(
    database_url: str, n: int, *, profile: cProfile.Profile | None = None
) -> RunResult:
    logging.getLogger("bot").setLevel(logging.WARNING)
    async with local_bot(
        database_url,
        group_messages_per_minute=GROUP_MESSAGES_PER_MINUTE,
        tally_edit_interval=TALLY_EDIT_INTERVAL,
    ) as local:
        emu = local.emulator
        began = time.perf_counter()
        chair = emu.add_user("主持人", user_id=FIRST_USER_ID - 1)
        users = [emu.add_user(f"居民{i}", user_id=FIRST_USER_ID + i) for i in range(n)]
        group = emu.add_group("议事会压测", creator=chair, members=users)
        await say(emu, chair, group, "/setup simple")
        council = await services.find_council(local.database.uow(), chat_id=group.id, thread_id=0)
        assert council.id is not None
        member_ids = await add_members(local, council.id, users)
        await say(emu, chair, group, "/topic 压测议题\n所有成员同时举手表决。")
        ballot = await say(emu, chair, group, "/ballot")
        data = [d for row in ballot.buttons for _, d in row if d and d.startswith("v:")]
        assert len(data) == 3, ballot.buttons
        ballot_id = int(data[0].split(":")[1])
        await emu.wait_idle(quiet=0.3, timeout=30)
        setup_s = time.perf_counter() - began

        presses = [(user, data[i % len(data)]) for i, user in enumerate(users)]
        expected = {member_ids[user.id]: d.split(":")[2] for user, d in presses}
        refresher = local.deps.refresher
        stats = emu.stats
        edits0, calls0 = refresher.edits, stats.calls["editMessageText"]
        tmr0, errors0 = stats.too_many_requests, stats.total_errors
        entries0 = len(emu.transcript.entries)

        gc.collect()
        if profile is not None:
            profile.enable()
        result = await burst(emu, ballot, presses)
        if profile is not None:
            profile.disable()
        settle_began = time.perf_counter()
        await refresher.drain()
        await emu.wait_idle(quiet=0.3, timeout=60)
        settle_s = time.perf_counter() - settle_began

        run = summarize(n, result)
        run.setup_s, run.settle_s = setup_s, settle_s
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
        run.edits = refresher.edits - edits0
        run.edit_calls = stats.calls["editMessageText"] - calls0
        run.too_many_requests = stats.too_many_requests - tmr0
        run.errors = stats.total_errors - errors0
        run.error_texts = error_texts(emu, entries0)
        return run


# --- bare PTB ------------------------------------------------------------------------


async def answer_only(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.callback_query is not None
    await update.callback_query.answer()


@asynccontextmanager
async def bare_bot(emu: BotApiEmulator) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    assert emu.token is not None
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
    limits = RateLimits(group_per_minute=GROUP_MESSAGES_PER_MINUTE)
    async with BotApiEmulator(limits=limits) as emu, bare_bot(emu) as application:
        began = time.perf_counter()
        users = [emu.add_user(f"居民{i}", user_id=FIRST_USER_ID + i) for i in range(n)]
        group = emu.add_group("裸机对照", members=users)
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("举手", callback_data="x")]])
        await application.bot.send_message(group.id, "按钮", reply_markup=markup)
        message = emu.last_bot_message(group)
        assert message is not None
        await emu.wait_idle(quiet=0.3, timeout=30)
        setup_s = time.perf_counter() - began
        entries0 = len(emu.transcript.entries)
        gc.collect()
        result = await burst(emu, message, [(user, "x") for user in users])
        await emu.wait_idle(quiet=0.3, timeout=60)
        run = summarize(n, result)
        run.setup_s = setup_s
        run.lost = n - run.answered
        run.too_many_requests = emu.stats.too_many_requests
        run.errors = emu.stats.total_errors
        run.error_texts = error_texts(emu, entries0)
        return run


# --- main ----------------------------------------------------------------------------


def describe(name: str, i: int, run: RunResult) -> str:
    return (
        f"  {name:<10} run {i}: {run.votes_per_s:8.1f} votes/s  wall {run.wall_s:6.2f} s  "
        f"p50 {run.p50_ms:7.1f} ms  p99 {run.p99_ms:7.1f} ms  "
        f"lost {run.lost}  doubled {run.doubled}  refused {run.refused}  "
        + (f"UNANSWERED {run.unanswered}  " if run.unanswered else "")
        + f"edits {run.edits} (editMessageText {run.edit_calls})  "
        f"429s {run.too_many_requests}  errors {run.errors}  "
        f"set-up {run.setup_s:.1f} s  settle {run.settle_s:.1f} s"
        + (f"\n      emulator errors: {'; '.join(run.error_texts)}" if run.error_texts else "")
        + ("" if run.final_tally_shown else "\n      the ballot message lacks the final tally")
    )


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    kinds, postgres_url, notes = databases(args, log)

    series = {name: Series(name) for name in ["bare", *kinds]}
    profile = cProfile.Profile() if args.profile else None
    log(
        f"votes benchmark: {args.members} members, {args.runs} run(s), databases: "
        f"{', '.join(kinds) or 'none'}"
    )
    for i in range(1, args.runs + 1):
        # Interleaved, so drift on a noisy machine hits baseline and bot alike.
        run = await run_bare(args.members)
        series["bare"].runs.append(run)
        log(describe("bare", i, run))
        for kind in kinds:
            with fresh_database(kind, postgres_url) as url:
                use_profile = profile if (i == 1 and kind == kinds[0]) else None
                run = await run_yishi(url, args.members, profile=use_profile)
            series[kind].runs.append(run)
            log(describe(kind, i, run))
    if profile is not None:
        profile.dump_stats(args.profile)
        log(f"cProfile of the first {kinds[0]} burst written to {args.profile}")

    bare = series["bare"].median("votes_per_s")
    rows = []
    for name, s in series.items():
        rows.append(
            {
                "database": name,
                "votes_per_s": s.median("votes_per_s"),
                "p50_ms": s.median("p50_ms"),
                "p99_ms": s.median("p99_ms"),
                "lost": s.total("lost"),
                "doubled": s.total("doubled"),
                "unanswered": s.total("unanswered"),
                "refused": s.total("refused"),
                "edits": s.median("edits"),
                "too_many_requests": s.total("too_many_requests"),
                "errors": s.total("errors"),
                "ratio": None if name == "bare" else s.median("votes_per_s") / bare,
                "runs": [asdict(r) for r in s.runs],
            }
        )
    return {
        "members": args.members,
        "runs": args.runs,
        "group_messages_per_minute": GROUP_MESSAGES_PER_MINUTE,
        "tally_edit_interval": TALLY_EDIT_INTERVAL,
        "target_ratio": TARGET_RATIO,
        "notes": notes,
        "results": rows,
    }


def print_table(report: dict[str, Any]) -> None:
    print(
        f"\nvotes: {report['members']} members pressing at once, median of {report['runs']} "
        f"run(s) (group limit {report['group_messages_per_minute']}/min, "
        f"tally edit every {report['tally_edit_interval']:g} s)"
    )
    header = (
        f"{'database':<11}{'votes/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'lost':>6}{'doubled':>9}"
        f"{'edits':>7}{'429s':>6}{'ratio vs bare':>15}   runs (votes/s)"
    )
    print(header)
    print("-" * len(header))
    for row in report["results"]:
        ratio = "—" if row["ratio"] is None else f"{row['ratio']:.3f}"
        each = ", ".join(f"{r['votes_per_s']:.1f}" for r in row["runs"])
        edits = "—" if row["database"] == "bare" else f"{row['edits']:g}"
        doubled = "—" if row["database"] == "bare" else str(row["doubled"])
        print(
            f"{row['database']:<11}{row['votes_per_s']:>9.1f}{row['p50_ms']:>9.1f}"
            f"{row['p99_ms']:>9.1f}{row['lost']:>6}{doubled:>9}{edits:>7}"
            f"{row['too_many_requests']:>6}{ratio:>15}   {each}"
        )
    for note in report["notes"]:
        print(f"note: {note}")
    print(verdict(report))


def verdict(report: dict[str, Any]) -> str:
    bots = [r for r in report["results"] if r["ratio"] is not None]
    ratio_ok = bool(bots) and all(r["ratio"] >= report["target_ratio"] for r in bots)
    lost = sum(r["lost"] for r in report["results"])
    doubled = sum(r["doubled"] for r in bots)
    unanswered = sum(r["unanswered"] for r in report["results"])
    too_many = sum(r["too_many_requests"] for r in report["results"])
    status = "lost: 0" if lost == 0 else f"lost: {lost} (FAIL)"
    status += ", doubled: 0" if doubled == 0 else f", doubled: {doubled} (FAIL)"
    if unanswered:
        status += f", unanswered: {unanswered} (FAIL)"
    status += ", 429s: 0" if too_many == 0 else f", 429s: {too_many} (flood limit hit)"
    if not bots:
        return f"ratio ≥ {report['target_ratio']}: n/a (no database was benchmarked); {status}"
    worst = min(r["ratio"] for r in bots)
    return (
        f"ratio ≥ {report['target_ratio']}: {'yes' if ratio_ok else 'no'} "
        f"(lowest {worst:.3f}); {status}"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=None, help="voters (default 2000)")
    parser.add_argument("--runs", type=int, default=None, help="runs per series (default 3)")
    add_database_args(parser)
    parser.add_argument("--quick", action="store_true", help="smoke check: 200 members, 1 run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        default=None,
        help="write a cProfile of the first bot burst (event-loop thread only) to FILE",
    )
    args = parser.parse_args(argv)
    if args.members is None:
        args.members = 200 if args.quick else 2000
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.members < 1 or args.runs < 1:
        parser.error("--members and --runs must be at least 1")
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
    failed = any(r["lost"] or r["doubled"] or r["unanswered"] for r in report["results"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
