"""Scheduler benchmark: start-up with N pending jobs, its memory, and a batch firing at once.

    python bench/scheduler.py [--pending N] [--batch B] [--runs K] [--lead S]
                              [--database sqlite|postgresql|all] [--postgresql-url URL]
                              [--quick] [--json]

The database is seeded directly through the repositories (not timed) with open ballots
whose deadlines are days ahead (each plans a closing and a nudge) and scheduled meetings
(each plans a reminder 24 h and 1 h before): N pending jobs in all. Each measurement runs
in a fresh process (``--phase``), as a real start-up does, so that its peak RSS is its own:

* reconcile at start-up (``bot.runtime.scheduler.Scheduler.start`` → ``last_reconcile.seconds``):
  cold, with an empty job store (the first start after an upgrade), and warm, with the
  store already holding the plan (a restart);
* peak RSS of those processes against one that only imported the bot and opened the
  database, and the tracemalloc peak of start-up + reconcile (first run only);
* lateness: with the scheduler leading, B ballots whose deadlines are the same moment
  ``--lead`` seconds ahead (real time) are opened (votes on half of them) and planned
  through ``Scheduler.sync``, as a use case does; once every closing has run, lateness
  = ``started − due`` (when the domain began the run) and completion = ``started +
  seconds − due``. The closing notices are only queued in the outbox: delivery is not
  included. Every batch ballot must be closed exactly once (one resolution, one run).

Baselines, measured in the same run on the same kind of database: a bare APScheduler
``AsyncIOScheduler`` with a ``SQLAlchemyJobStore`` adding N no-op jobs one by one to an
empty store (cold), starting and loading them all with ``get_jobs()`` (warm), and firing
B no-op coroutine jobs due at the same moment among those N (its start lateness).

PostgreSQL is used when ``--postgresql-url`` or ``TEST_DATABASE_URL`` is set and
reachable; each run gets a fresh schema, dropped afterwards.

Targets: reconcile < 2 s (cold and warm), p99 start lateness < 1 s (reported, not failed).
Exit status 1 when a batch closing never ran or ran twice, or a phase failed. Progress
goes to stderr; the table of medians (or ``--json``) to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

try:
    import bot  # noqa: F401  (installed: pip install -e .)
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from common import add_database_args, databases, fresh_database, log, percentile
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bot.runtime.scheduler import Scheduler, jobstore_url
from bot.runtime.scheduler import _relax_durability as relax_durability
from bot.telegram.context import utcnow
from domain.due_jobs import Ran
from domain.events import ScheduleChanged
from domain.model import Ballot, BallotKind, Council, Meeting, Member, Phase, Topic, Vote
from domain.rules import preset
from domain.schedule import Job, JobKind, Subject, ballot_jobs, job_ids
from storage.db import is_sqlite, sync_url
from storage.orm import BallotRow, MemberRow, ResolutionRow
from storage.uow import Database

TARGET_RECONCILE_S = 2.0
TARGET_P99_S = 1.0  # the batch's start lateness
TARGET_DONE_P99_S = 3.0  # the batch committed
COUNCILS = 100
MEMBERS_PER_COUNCIL = 5
CHAIR = 7_000_000_001
BASELINE_TABLE = "bench_baseline_jobs"
# As bot.runtime.scheduler.Scheduler configures APScheduler.
JOB_DEFAULTS = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
WAIT_AFTER_DUE = 300.0  # seconds a batch may take to run after its moment before it counts lost
CHILD_TIMEOUT = 1800.0
LEADER_WAIT = 600.0  # seconds a phase waits for the leader lock (PostgreSQL) before failing


def peak_rss_kib() -> int:
    """This process's peak resident set size, KiB.

    Linux: ``VmHWM`` of /proc/self/status. Not ``getrusage().ru_maxrss``: Linux carries
    that over from the parent across fork and exec, so a child started by this benchmark
    would report at least the parent's size. Elsewhere ru_maxrss (KiB on Linux and BSD).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def lateness_ms(values_s: Sequence[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {
        "p50": percentile(ms, 50),
        "p99": percentile(ms, 99),
        "max": max(ms, default=float("nan")),
    }


# --- the seed --------------------------------------------------------------------------


@dataclass(frozen=True)
class Mix:
    """How N pending jobs are made: ballots plan 2 (closing, nudge), meetings 2 reminders."""

    ballots: int  # with a nudge: two jobs each
    meetings: int  # two reminders each (24 h and 1 h before)
    lone_ballots: int  # opened less than the nudge before their deadline: one job each

    @classmethod
    def of(cls, pending: int) -> Mix:
        ballots = pending // 4
        meetings = (pending - 2 * ballots) // 2
        return cls(ballots, meetings, pending - 2 * ballots - 2 * meetings)

    @property
    def jobs(self) -> int:
        return 2 * self.ballots + 2 * self.meetings + self.lone_ballots


def new_council(i: int, now: datetime) -> Council:
    return Council(
        chat_id=-100_000_000_000 - i,
        thread_id=0,
        title=f"压测议事会{i}",
        rule=preset("simple"),
        timezone="Asia/Shanghai",
        language="zh",
        created_at=now,
        chairs={CHAIR},
    )


def new_member(council_id: int, i: int, now: datetime) -> Member:
    return Member(
        council_id=council_id,
        user_id=10_000_001 + i,
        name=f"居民{i}",
        building="1",
        unit=str(1 + i // 10),
        room=str(101 + i),
        joined_at=now,
        area=Decimal("88.50"),
    )


def new_topic(council_id: int, i: int, now: datetime) -> Topic:
    return Topic(
        council_id=council_id,
        title=f"议题{i}",
        description="压测用议题",
        opened_by=CHAIR,
        opened_at=now - timedelta(hours=2),
        phase=Phase.VOTING,
    )


def new_ballot(
    council_id: int, topic_id: int, *, opened_at: datetime, deadline: datetime
) -> Ballot:
    return Ballot(
        topic_id=topic_id,
        council_id=council_id,
        kind=BallotKind.MOTION,
        question="是否同意?",
        rule=preset("simple"),
        secret=False,
        opened_by=CHAIR,
        opened_at=opened_at,
        deadline=deadline,
    )


async def seed(url: str, mix: Mix) -> dict[str, Any]:
    """Councils with members, and the mix of open ballots and meetings, days ahead."""
    began = time.perf_counter()
    now = utcnow()
    database = await Database.open(url)  # migrates the fresh database
    try:
        async with database.uow() as uow:
            council_ids = []
            for c in range(COUNCILS):
                council = await uow.councils.add(new_council(c, now))
                assert council.id is not None
                council_ids.append(council.id)
                for m in range(MEMBERS_PER_COUNCIL):
                    await uow.members.add(new_member(council.id, m, now))
            for i in range(mix.ballots + mix.lone_ballots):
                council_id = council_ids[i % COUNCILS]
                topic = await uow.topics.add(new_topic(council_id, i, now))
                assert topic.id is not None
                deadline = now + timedelta(days=1, minutes=i)
                # A lone ballot opened 1 h before its deadline plans no nudge (2 h before).
                lone = i >= mix.ballots
                opened_at = deadline - timedelta(hours=1) if lone else now - timedelta(hours=1)
                await uow.ballots.add(
                    new_ballot(council_id, topic.id, opened_at=opened_at, deadline=deadline)
                )
            for i in range(mix.meetings):
                await uow.meetings.add(
                    Meeting(
                        council_id=council_ids[i % COUNCILS],
                        starts_at=now + timedelta(days=2, minutes=10 * i),
                        place="社区活动中心二楼",
                        online=False,
                        scheduled_by=CHAIR,
                        changed_at=now,
                        items=["物业费调整"],
                    )
                )
            await uow.commit()
    finally:
        await database.dispose()
    return {"seconds": time.perf_counter() - began}


# --- job stores --------------------------------------------------------------------------


def drop_job_store(database_url: str) -> None:
    """Empty the bot's job store, as before the first start with a scheduler."""
    engine = create_engine(jobstore_url(database_url))
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS apscheduler_jobs"))
    finally:
        engine.dispose()


def baseline_store(database_url: str) -> SQLAlchemyJobStore:
    """A job store for the bare APScheduler baseline, on the same kind of database as the
    bot's: a SQLite file of its own beside the database, or a table in the same schema;
    with the durability the bot gives its own store (SQLite: WAL, ``synchronous=NORMAL``;
    PostgreSQL: ``synchronous_commit`` off), so that the baseline pays for its
    transactions, not for an fsync each."""
    if is_sqlite(database_url):
        database = make_url(database_url).database
        store = SQLAlchemyJobStore(url=f"sqlite:///{database}-baseline-jobs")
    else:
        store = SQLAlchemyJobStore(url=sync_url(database_url), tablename=BASELINE_TABLE)
    relax_durability(store.engine)
    return store


def new_aps(store: SQLAlchemyJobStore) -> AsyncIOScheduler:
    return AsyncIOScheduler(timezone=UTC, jobstores={"default": store}, job_defaults=JOB_DEFAULTS)


async def noop(job_id: str) -> None:
    """The baseline's pending jobs (never due during the benchmark)."""


BASELINE_STARTED: dict[str, datetime] = {}


async def baseline_fired(job_id: str) -> None:
    """A baseline batch job: note when it began, as ``Scheduler.run`` does."""
    BASELINE_STARTED[job_id] = utcnow()


# --- phases (each in a process of its own) ----------------------------------------------


async def open_database(url: str) -> Database:
    database = await Database.open(url, migrate=False)
    async with database.uow() as uow:  # connect, as the bot does before its scheduler starts
        await uow.councils.get(1)
    return database


async def lead(scheduler: Scheduler, timeout: float = LEADER_WAIT) -> float:
    """Wait until the scheduler leads: on PostgreSQL the leader lock is an advisory lock on
    the whole database, which a bot or a test elsewhere on the same server may hold."""
    began = time.perf_counter()
    if not scheduler.leadership.is_leader:
        log(f"    waiting for the scheduler's leader lock (held elsewhere; up to {timeout:g} s)")
    while not scheduler.leadership.is_leader:
        if time.perf_counter() - began > timeout:
            raise RuntimeError(f"the scheduler could not take the leader lock in {timeout:g} s")
        await asyncio.sleep(0.2)
        await scheduler.tick()
    return time.perf_counter() - began


async def stop(scheduler: Scheduler, database: Database) -> None:
    await scheduler.stop()
    await asyncio.sleep(0.05)  # APScheduler's shutdown runs as a callback on the loop
    await database.dispose()


async def phase_idle(url: str, args: argparse.Namespace) -> dict[str, Any]:
    database = await open_database(url)
    await database.dispose()
    return {}


async def phase_start(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Start the bot's scheduler on the seeded database; report its reconcile."""
    database = await open_database(url)
    scheduler = Scheduler(database.url, database.uow, clock=utcnow, on_notices=lambda: None)
    if args.tracemalloc:
        tracemalloc.start()
    began = time.perf_counter()
    await scheduler.start()
    start_s = time.perf_counter() - began
    # Lock held elsewhere: start() returned without reconciling, so its time means nothing.
    had_to_wait = not scheduler.leadership.is_leader
    waited = await lead(scheduler)  # reconciles once the lock is taken, if it was held
    traced_peak = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
    tracemalloc.stop()
    reconciled = scheduler.last_reconcile
    assert reconciled is not None
    stored = len(await asyncio.to_thread(scheduler.pending))
    await stop(scheduler, database)
    return {
        "reconcile_s": reconciled.seconds,
        "start_s": None if had_to_wait else start_s,
        "planned": reconciled.planned,
        "added": reconciled.added,
        "removed": reconciled.removed,
        "stored": stored,
        "waited_for_lead_s": waited,
        "tracemalloc_peak": traced_peak,
    }


def pending_times(n: int, now: datetime) -> list[datetime]:
    return [now + timedelta(days=1, seconds=60 * i) for i in range(n)]


async def phase_baseline_add(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Bare APScheduler: N no-op jobs into an empty store, the way its user guide says to
    add jobs at an application's initialization (APScheduler 3 has no bulk add): each
    with an explicit id and ``replace_existing=True``, added before ``start()``, which
    writes them to the store ("scheduled tentatively ... when the scheduler starts").
    Timed: the adds and the start (paused, as the bot starts it)."""
    aps = new_aps(baseline_store(url))
    times = pending_times(args.pending, utcnow())
    began = time.perf_counter()
    for i, at in enumerate(times):
        job_id = f"noop:{i}"
        aps.add_job(
            noop,
            trigger=DateTrigger(run_date=at, timezone=UTC),
            args=[job_id],
            id=job_id,
            name=job_id,
            replace_existing=True,
        )
    aps.start(paused=True)
    seconds = time.perf_counter() - began
    aps.shutdown(wait=False)
    await asyncio.sleep(0.05)
    return {"seconds": seconds}


async def phase_baseline_load(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Bare APScheduler: start on a store holding N jobs and read them all."""
    aps = new_aps(baseline_store(url))
    began = time.perf_counter()
    aps.start(paused=True)
    jobs = aps.get_jobs()
    seconds = time.perf_counter() - began
    aps.shutdown(wait=False)
    await asyncio.sleep(0.05)
    return {"seconds": seconds, "jobs": len(jobs)}


def batch_moment(lead_s: float) -> datetime:
    """A whole second ``lead_s`` or a little more from now."""
    return datetime.fromtimestamp(math.ceil(time.time() + lead_s), UTC)


async def wait_for(done: Any, until: float) -> bool:
    while not done():
        if time.monotonic() > until:
            return False
        await asyncio.sleep(0.01)
    return True


async def phase_baseline_fire(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Bare APScheduler, running, with N pending jobs: B no-op jobs due at one moment."""
    aps = new_aps(baseline_store(url))
    aps.start()
    due = batch_moment(args.lead)
    ids = [f"batch:{i}" for i in range(args.batch)]
    began = time.perf_counter()
    for job_id in ids:
        # Off the loop, as Scheduler.sync adds a job.
        await asyncio.to_thread(
            aps.add_job,
            baseline_fired,
            trigger=DateTrigger(run_date=due, timezone=UTC),
            args=[job_id],
            id=job_id,
            name=job_id,
        )
    setup_s = time.perf_counter() - began
    margin_s = (due - utcnow()).total_seconds()
    until = time.monotonic() + max(margin_s, 0) + WAIT_AFTER_DUE
    await wait_for(lambda: len(BASELINE_STARTED) >= len(ids), until)
    aps.shutdown(wait=False)
    await asyncio.sleep(0.05)
    late = [(BASELINE_STARTED[i] - due).total_seconds() for i in ids if i in BASELINE_STARTED]
    return {
        "batch": len(ids),
        "ran": len(late),
        "setup_s": setup_s,
        "margin_s": margin_s,
        "start_ms": lateness_ms(late),
    }


async def open_batch(
    database: Database, batch: int, due: datetime
) -> tuple[list[int], list[ScheduleChanged]]:
    """B ballots closing at ``due``, spread over the councils; votes on every other one.
    With each ballot's plan as the use case that sets a deadline records it
    (``ScheduleChanged``, read in its transaction)."""
    now = utcnow()
    changes = []
    async with database.uow() as uow:
        rows = await uow.session.execute(
            select(MemberRow.council_id, MemberRow.id).order_by(MemberRow.id)
        )
        members: dict[int, list[int]] = {}
        for council_id, member_id in rows:
            members.setdefault(council_id, []).append(member_id)
        councils = sorted(members)
        councils_by_id = await uow.councils.many(councils)
        ids = []
        for i in range(batch):
            council_id = councils[i % len(councils)]
            topic = await uow.topics.add(new_topic(council_id, 1_000_000 + i, now))
            assert topic.id is not None
            ballot = await uow.ballots.add(
                new_ballot(council_id, topic.id, opened_at=now, deadline=due)
            )
            assert ballot.id is not None
            ids.append(ballot.id)
            council = councils_by_id[council_id]
            changes.append(
                ScheduleChanged(
                    Subject.BALLOT,
                    ballot.id,
                    tuple(job_ids(Subject.BALLOT, ballot.id, council)),
                    tuple(ballot_jobs(ballot, council)),
                )
            )
            if i % 2 == 0:
                choices = ("for", "for", "against", "abstain", "for")
                await uow.votes.put_many(
                    [
                        Vote(ballot.id, member_id, choices[k % len(choices)], now)
                        for k, member_id in enumerate(members[council_id])
                    ]
                )
        await uow.commit()
    return ids, changes


async def resolutions_of(database: Database, ballot_ids: Sequence[int]) -> dict[str, int]:
    """How often each batch ballot was closed: resolutions per ballot, and still open."""
    counts: Counter[int] = Counter()
    still_open = 0
    async with database.uow() as uow:
        for start in range(0, len(ballot_ids), 500):
            chunk = list(ballot_ids[start : start + 500])
            rows = await uow.session.execute(
                select(ResolutionRow.ballot_id, func.count())
                .where(ResolutionRow.ballot_id.in_(chunk))
                .group_by(ResolutionRow.ballot_id)
            )
            counts.update({ballot_id: count for ballot_id, count in rows})
            still_open += int(
                await uow.session.scalar(
                    select(func.count())
                    .select_from(BallotRow)
                    .where(BallotRow.id.in_(chunk), BallotRow.closed_at.is_(None))
                )
                or 0
            )
    return {
        "unresolved": sum(1 for b in ballot_ids if counts[b] == 0),
        "resolved_twice": sum(counts[b] - 1 for b in ballot_ids if counts[b] > 1),
        "still_open": still_open,
    }


async def phase_fire(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """The bot's scheduler, leading, with N pending jobs: B ballots close at one moment."""
    database = await open_database(url)
    scheduler = Scheduler(database.url, database.uow, clock=utcnow, on_notices=lambda: None)
    await scheduler.start()
    await lead(scheduler)
    due = batch_moment(args.lead)
    began = time.perf_counter()
    ballot_ids, changes = await open_batch(database, args.batch, due)
    opened_s = time.perf_counter() - began
    # What the bus does with the events the use cases recorded: follow their plans (all
    # at once where the scheduler can; an older one, as --before may run, one by one).
    follow_all = getattr(scheduler, "follow_all", None)
    if follow_all is not None:
        await follow_all(changes)
    else:
        for changed in changes:
            await scheduler.follow(changed)
    setup_s = time.perf_counter() - began
    margin_s = (due - utcnow()).total_seconds()
    wanted = {Job(due, JobKind.BALLOT_CLOSE, b).id for b in ballot_ids}

    def closings() -> list[Any]:
        return [r for r in scheduler.runs if r.job_id in wanted and r.ran is Ran.DONE]

    until = time.monotonic() + max(margin_s, 0) + WAIT_AFTER_DUE
    await wait_for(lambda: len({r.job_id for r in closings()}) >= len(wanted), until)
    await asyncio.sleep(0.5)  # a second run of the same closing would show up by now
    runs = [r for r in scheduler.runs if r.job_id in wanted]
    done = closings()
    per_job = Counter(r.job_id for r in done)
    other = Counter(r.ran.value for r in runs if r.ran is not Ran.DONE)
    start = [(r.started - r.due).total_seconds() for r in done if r.due is not None]
    finish = [(r.started - r.due).total_seconds() + r.seconds for r in done if r.due is not None]
    checks = await resolutions_of(database, ballot_ids)
    batches = getattr(scheduler, "batches", None)
    await stop(scheduler, database)
    return {
        "batch": len(ballot_ids),
        "transactions": batches,
        "ran": len(per_job),
        "never_ran": len(wanted) - len(per_job),
        "ran_twice": sum(c - 1 for c in per_job.values() if c > 1),
        "other_runs": dict(other),
        **checks,
        "opened_s": opened_s,
        "setup_s": setup_s,
        "margin_s": margin_s,
        "start_ms": lateness_ms(start),
        "done_ms": lateness_ms(finish),
        "last_done_s": max(finish, default=float("nan")),
    }


PHASES = {
    "idle": phase_idle,
    "start": phase_start,
    "baseline-add": phase_baseline_add,
    "baseline-load": phase_baseline_load,
    "baseline-fire": phase_baseline_fire,
    "fire": phase_fire,
}


def run_phase(args: argparse.Namespace) -> int:
    """In a child process: run one phase and print its figures as one JSON line."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    result = asyncio.run(PHASES[args.phase](args.url, args))
    result["peak_rss_kib"] = peak_rss_kib()
    print(json.dumps(result))
    return 0


# --- the parent: runs, medians, the table -----------------------------------------------


class PhaseFailed(RuntimeError):
    pass


def child(
    phase: str,
    url: str,
    args: argparse.Namespace,
    *,
    traced: bool = False,
    code: str | None = None,
) -> dict[str, Any]:
    """Run ``phase`` in a process of its own; with ``code``, on that checkout's bot (its
    packages first on ``PYTHONPATH``, ahead of the installed, editable one)."""
    env = None
    if code is not None:
        env = {**os.environ, "PYTHONPATH": code}
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--phase",
        phase,
        "--url",
        url,
        "--pending",
        str(args.pending),
        "--batch",
        str(args.batch),
        "--lead",
        str(args.lead),
    ]
    if traced:
        command.append("--tracemalloc")
    done = subprocess.run(
        command, stdout=subprocess.PIPE, text=True, timeout=CHILD_TIMEOUT, check=False, env=env
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise PhaseFailed(f"phase {phase} failed (exit status {done.returncode})")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def one_run(kind: str, url: str, args: argparse.Namespace, mix: Mix, i: int) -> dict[str, Any]:
    seeded = asyncio.run(seed(url, mix))
    log(f"  {kind:<10} run {i}: seeded in {seeded['seconds']:.1f} s (not timed)")
    run: dict[str, Any] = {"seed_s": seeded["seconds"]}
    run["idle"] = child("idle", url, args)
    run["baseline_add"] = child("baseline-add", url, args)
    run["baseline_load"] = child("baseline-load", url, args)
    # With --before, the other checkout's scheduler starts on the same database too, cold
    # (its store dropped) and warm; which goes first alternates from run to run.
    series = [("", None)] + ([("before_", args.before)] if args.before else [])
    if i % 2 == 0:
        series.reverse()
    for prefix, code in series:
        drop_job_store(url)
        run[f"{prefix}cold"] = child("start", url, args, code=code)
        run[f"{prefix}warm"] = child("start", url, args, code=code)
    log(
        f"  {kind:<10} run {i}: reconcile cold {run['cold']['reconcile_s']:.3f} s "
        f"(APScheduler add {run['baseline_add']['seconds']:.3f} s), "
        f"warm {run['warm']['reconcile_s']:.3f} s "
        f"(APScheduler start+get_jobs {run['baseline_load']['seconds']:.3f} s); "
        f"planned {run['cold']['planned']}, added cold {run['cold']['added']} "
        f"warm {run['warm']['added']}, in store {run['warm']['stored']}"
        + (
            f"; before: cold {run['before_cold']['reconcile_s']:.3f} s, "
            f"warm {run['before_warm']['reconcile_s']:.3f} s"
            if args.before
            else ""
        )
    )
    if i == 1:
        drop_job_store(url)
        run["traced_cold"] = child("start", url, args, traced=True)
        run["traced_warm"] = child("start", url, args, traced=True)
    run["baseline_fire"] = child("baseline-fire", url, args)
    for prefix, code in series:
        run[f"{prefix}fire"] = child("fire", url, args, code=code)
    fire, base = run["fire"], run["baseline_fire"]
    log(
        f"  {kind:<10} run {i}: batch of {fire['batch']}: start lateness "
        f"p50 {fire['start_ms']['p50']:.0f} p99 {fire['start_ms']['p99']:.0f} "
        f"max {fire['start_ms']['max']:.0f} ms, done p99 {fire['done_ms']['p99']:.0f} ms "
        f"(APScheduler p99 {base['start_ms']['p99']:.0f} ms); ran {fire['ran']}, "
        f"never {fire['never_ran']}, twice {fire['ran_twice']}, "
        f"{fire['transactions']} batches, "
        f"set-up {fire['setup_s']:.1f} s with {fire['margin_s']:.1f} s to spare"
        + (
            f"; before: done p99 {run['before_fire']['done_ms']['p99']:.0f} ms, "
            f"{run['before_fire']['margin_s']:.1f} s to spare"
            if args.before
            else ""
        )
    )
    return run


def median(runs: Sequence[dict[str, Any]], *path: str) -> float:
    """The median over the runs of one figure; runs without it (None) are left out."""
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value[key]
        if value is not None:
            values.append(float(value))
    return float(statistics.median(values)) if values else float("nan")


def summarize(kind: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    def m(*path: str) -> float:
        return median(runs, *path)

    first = runs[0]
    idle = m("idle", "peak_rss_kib")
    return {
        "database": kind,
        "planned": first["cold"]["planned"],
        "reconcile": {
            "cold_s": m("cold", "reconcile_s"),
            "warm_s": m("warm", "reconcile_s"),
            "cold_start_s": m("cold", "start_s"),
            "warm_start_s": m("warm", "start_s"),
            "baseline_cold_s": m("baseline_add", "seconds"),
            "baseline_warm_s": m("baseline_load", "seconds"),
            "cold_ratio": m("cold", "reconcile_s") / m("baseline_add", "seconds"),
            "warm_ratio": m("warm", "reconcile_s") / m("baseline_load", "seconds"),
        },
        "memory_kib": {
            "idle": idle,
            "cold": m("cold", "peak_rss_kib"),
            "warm": m("warm", "peak_rss_kib"),
            "cold_delta": m("cold", "peak_rss_kib") - idle,
            "warm_delta": m("warm", "peak_rss_kib") - idle,
            "baseline_add_delta": m("baseline_add", "peak_rss_kib") - idle,
            "baseline_load_delta": m("baseline_load", "peak_rss_kib") - idle,
            "traced_cold": first["traced_cold"]["tracemalloc_peak"] / 1024,
            "traced_warm": first["traced_warm"]["tracemalloc_peak"] / 1024,
            "traced_cold_reconcile_s": first["traced_cold"]["reconcile_s"],
        },
        "before": (
            {
                "cold_s": m("before_cold", "reconcile_s"),
                "warm_s": m("before_warm", "reconcile_s"),
                "start_ms": {q: m("before_fire", "start_ms", q) for q in ("p50", "p99", "max")},
                "done_ms": {q: m("before_fire", "done_ms", q) for q in ("p50", "p99", "max")},
                "margin_s": min(r["before_fire"]["margin_s"] for r in runs),
                "lost": sum(lost_in(r["before_fire"]) for r in runs),
            }
            if "before_cold" in first
            else None
        ),
        "lateness_ms": {
            "start": {q: m("fire", "start_ms", q) for q in ("p50", "p99", "max")},
            "done": {q: m("fire", "done_ms", q) for q in ("p50", "p99", "max")},
            "baseline": {q: m("baseline_fire", "start_ms", q) for q in ("p50", "p99", "max")},
            "setup_s": m("fire", "setup_s"),
            "margin_s": min(r["fire"]["margin_s"] for r in runs),
            "baseline_margin_s": min(r["baseline_fire"]["margin_s"] for r in runs),
        },
        "lost": {
            "never_ran": sum(r["fire"]["never_ran"] for r in runs),
            "ran_twice": sum(r["fire"]["ran_twice"] for r in runs),
            "unresolved": sum(r["fire"]["unresolved"] for r in runs),
            "resolved_twice": sum(r["fire"]["resolved_twice"] for r in runs),
            "still_open": sum(r["fire"]["still_open"] for r in runs),
            "baseline_never_ran": sum(
                r["baseline_fire"]["batch"] - r["baseline_fire"]["ran"] for r in runs
            ),
        },
        "runs": runs,
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    kinds, postgres_url, notes = databases(args)
    mix = Mix.of(args.pending)
    log(
        f"scheduler benchmark: {args.pending} pending jobs ({mix.ballots + mix.lone_ballots} "
        f"ballots, {mix.meetings} meetings, {COUNCILS} councils), batch {args.batch} due "
        f"{args.lead:g} s ahead, {args.runs} run(s), databases: {', '.join(kinds) or 'none'}"
    )
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    for i in range(1, args.runs + 1):
        for kind in kinds:
            with fresh_database(kind, postgres_url) as url:
                runs[kind].append(one_run(kind, url, args, mix, i))
    return {
        "pending": args.pending,
        "mix": {"ballots": mix.ballots, "meetings": mix.meetings, "lone": mix.lone_ballots},
        "councils": COUNCILS,
        "batch": args.batch,
        "lead_s": args.lead,
        "runs": args.runs,
        "targets": {
            "reconcile_s": TARGET_RECONCILE_S,
            "p99_start_s": TARGET_P99_S,
            "p99_done_s": TARGET_DONE_P99_S,
        },
        "before": args.before,
        "notes": notes,
        "results": [summarize(kind, r) for kind, r in runs.items()],
    }


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def print_table(report: dict[str, Any]) -> None:
    mix = report["mix"]
    target_s, target_p99 = report["targets"]["reconcile_s"], report["targets"]["p99_start_s"]
    print(
        f"\nscheduler: {report['pending']} pending jobs ({mix['ballots']} ballots × closing + "
        f"nudge, {mix['meetings']} meetings × 2 reminders"
        + (f", {mix['lone']} ballot × closing" if mix["lone"] else "")
        + f"; {report['councils']} councils), median of {report['runs']} run(s)"
    )
    header = (
        f"{'reconcile':<20}{'planned':>8}{'ours s':>9}{'start() s':>11}{'APScheduler s':>15}"
        f"{'ratio':>8}{f'< {target_s:g} s':>8}   runs (ours s)"
    )
    print(header)
    print("-" * len(header))
    for row in report["results"]:
        r = row["reconcile"]
        for store in ("cold", "warm"):
            ours = r[f"{store}_s"]
            each = ", ".join(f"{run[store]['reconcile_s']:.3f}" for run in row["runs"])
            print(
                f"{row['database'] + ' ' + store:<20}{row['planned']:>8}{ours:>9.3f}"
                f"{r[f'{store}_start_s']:>11.3f}{r[f'baseline_{store}_s']:>15.3f}"
                f"{r[f'{store}_ratio']:>8.2f}{yes(ours < target_s):>8}   {each}"
            )
    print(
        "  cold: empty job store, APScheduler baseline = add_job × N to an empty store; "
        "warm: a restart, baseline = start + get_jobs()"
    )

    header = (
        f"{'peak RSS MiB':<14}{'idle':>7}{'cold':>7}{'warm':>7}{'+cold':>7}{'+warm':>7}"
        f"{'APS +add':>9}{'APS +load':>10}{'tracemalloc cold/warm':>23}"
    )
    print()
    print(header)
    print("-" * len(header))
    for row in report["results"]:
        mem = row["memory_kib"]
        traced = f"{mib(mem['traced_cold'])} / {mib(mem['traced_warm'])}"
        print(
            f"{row['database']:<14}{mib(mem['idle']):>7}{mib(mem['cold']):>7}"
            f"{mib(mem['warm']):>7}{mib(mem['cold_delta']):>7}{mib(mem['warm_delta']):>7}"
            f"{mib(mem['baseline_add_delta']):>9}{mib(mem['baseline_load_delta']):>10}"
            f"{traced:>23}"
        )
    print(
        "  idle: a process that imported the bot and opened the database; +: above idle; "
        "tracemalloc: Python heap peak of start() (first run)"
    )

    header = (
        f"{'lateness ms':<12}{'start p50':>10}{'p99':>7}{'max':>7}{'done p50':>10}{'p99':>7}"
        f"{'max':>7}{'APS p50':>9}{'p99':>7}{'max':>7}{'ratio p99':>10}"
        f"{f'p99 < {target_p99:g} s':>12}   runs (start p99)"
    )
    print(
        f"\n{report['batch']} ballots closing at the same moment, {report['lead_s']:g} s ahead, "
        f"among the {report['pending']} pending (notice delivery is not included)"
    )
    print(header)
    print("-" * len(header))
    for row in report["results"]:
        late = row["lateness_ms"]
        s, d, b = late["start"], late["done"], late["baseline"]
        ratio = s["p99"] / b["p99"] if b["p99"] > 0 else float("nan")
        each = ", ".join(f"{run['fire']['start_ms']['p99']:.0f}" for run in row["runs"])
        print(
            f"{row['database']:<12}{s['p50']:>10.0f}{s['p99']:>7.0f}{s['max']:>7.0f}"
            f"{d['p50']:>10.0f}{d['p99']:>7.0f}{d['max']:>7.0f}"
            f"{b['p50']:>9.0f}{b['p99']:>7.0f}{b['max']:>7.0f}{ratio:>10.2f}"
            f"{yes(s['p99'] < target_p99 * 1000):>12}   {each}"
        )
    print(
        "  start: the domain began the run (Scheduler.run) − due; done: the closing "
        "committed − due; APS: bare APScheduler no-op jobs"
    )
    for row in report["results"]:
        late = row["lateness_ms"]
        for who, margin in (("ours", late["margin_s"]), ("APS", late["baseline_margin_s"])):
            if margin <= 0:
                print(
                    f"warning: {row['database']} {who}: a batch was still being set up when it "
                    f"fell due ({-margin:.1f} s before the end of set-up in one run); "
                    "raise --lead"
                )
    if any(row["before"] for row in report["results"]):
        header = (
            f"{'before → after':<14}{'cold s':>16}{'warm s':>16}{'start p99 ms':>20}"
            f"{'done p99 ms':>20}"
        )
        print(f"\nthe same runs with the scheduler of {report['before']} (medians)")
        print(header)
        print("-" * len(header))
        for row in report["results"]:
            b, r, late = row["before"], row["reconcile"], row["lateness_ms"]
            print(
                f"{row['database']:<14}"
                f"{b['cold_s']:>7.2f} → {r['cold_s']:<6.2f}"
                f"{b['warm_s']:>7.2f} → {r['warm_s']:<6.2f}"
                f"{b['start_ms']['p99']:>9.0f} → {late['start']['p99']:<8.0f}"
                f"{b['done_ms']['p99']:>9.0f} → {late['done']['p99']:<8.0f}"
                + (f"  (before: {b['lost']} closings wrong)" if b["lost"] else "")
                + ("  (before: batch due during set-up)" if b["margin_s"] <= 0 else "")
            )
    for note in report["notes"]:
        print(f"note: {note}")
    for line in verdict(report):
        print(line)


def lost_in(fire: dict[str, Any]) -> int:
    """Closings of one fire phase that never ran, ran twice, or left a ballot without
    exactly one resolution or still open."""
    keys = ("never_ran", "ran_twice", "unresolved", "resolved_twice", "still_open")
    return sum(int(fire[k]) for k in keys)


def lost(row: dict[str, Any]) -> int:
    counts = row["lost"]
    return sum(
        counts[k] for k in ("never_ran", "ran_twice", "unresolved", "resolved_twice", "still_open")
    )


def verdict(report: dict[str, Any]) -> list[str]:
    """One line per target, PASS or FAIL. Timing targets are reported; only the
    closings' correctness makes the exit status 1 (``main``)."""
    rows = report["results"]
    if not rows:
        return ["targets: n/a (no database was benchmarked)"]
    targets = report["targets"]
    lines = []

    def line(name: str, figures: list[tuple[str, float, float]], unit: str) -> None:
        met = all(value < limit for _, value, limit in figures)
        shown = ", ".join(
            f"{label} {value:.2f}{unit} {yes(value < limit)}" for label, value, limit in figures
        )
        lines.append(f"{'PASS' if met else 'FAIL'} {name} ({shown})")

    for store in ("cold", "warm"):
        line(
            f"reconcile {store} < {targets['reconcile_s']:g} s",
            [(r["database"], r["reconcile"][f"{store}_s"], targets["reconcile_s"]) for r in rows],
            " s",
        )
    line(
        f"batch committed p99 < {targets['p99_done_s']:g} s",
        [
            (r["database"], r["lateness_ms"]["done"]["p99"] / 1000, targets["p99_done_s"])
            for r in rows
        ],
        " s",
    )
    line(
        f"batch start lateness p99 < {targets['p99_start_s']:g} s",
        [
            (r["database"], r["lateness_ms"]["start"]["p99"] / 1000, targets["p99_start_s"])
            for r in rows
        ],
        " s",
    )
    for row in rows:
        c = row["lost"]
        status = (
            f"never ran {c['never_ran']}, ran twice {c['ran_twice']}, "
            f"no resolution {c['unresolved']}, two resolutions {c['resolved_twice']}, "
            f"still open {c['still_open']}"
        )
        flag = "FAIL" if lost(row) else "PASS"
        lines.append(f"{flag} closings exactly once, {row['database']} ({status}) [correctness]")
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pending", type=int, default=None, help="pending jobs (default 100000)")
    parser.add_argument(
        "--batch", type=int, default=None, help="ballots closing at one moment (default 1000)"
    )
    parser.add_argument("--runs", type=int, default=None, help="runs per database (default 3)")
    parser.add_argument(
        "--lead",
        type=float,
        default=None,
        help="seconds from opening the batch to its deadline (default 45; quick 15)",
    )
    parser.add_argument(
        "--before",
        metavar="CHECKOUT",
        default=None,
        help="also run the scheduler of another checkout of Yishi (e.g. an older commit, "
        "from git archive) on the same databases, for before/after figures",
    )
    add_database_args(parser, runs_on="the scheduler")
    parser.add_argument(
        "--quick", action="store_true", help="smoke check: 2000 pending, batch 200, 1 run"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    # A phase run in a child process (internal).
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--tracemalloc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pending is None:
        args.pending = 2000 if args.quick else 100_000
    if args.batch is None:
        args.batch = 200 if args.quick else 1000
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.lead is None:
        args.lead = 15.0 if args.quick else 45.0
    if args.pending < 1 or args.batch < 1 or args.runs < 1 or args.lead <= 0:
        parser.error("--pending, --batch, --runs and --lead must be positive")
    if args.phase and not args.url:
        parser.error("--phase needs --url")
    if args.before is not None:
        args.before = str(Path(args.before).resolve())
        if not (Path(args.before) / "bot" / "runtime" / "scheduler.py").is_file():
            parser.error(f"--before {args.before}: not a checkout of Yishi")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.phase:
        return run_phase(args)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        report = bench(args)
    except PhaseFailed as error:
        log(f"error: {error}")
        return 1
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_table(report)
    return 1 if any(lost(row) for row in report["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
