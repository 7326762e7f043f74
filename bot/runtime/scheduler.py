"""APScheduler 3 in front of the domain's plan: jobs that survive restarts, run once.

One job per thing to do (a ballot closing, a nudge, a collection deadline, a
meeting reminder), kept by a ``SQLAlchemyJobStore`` — in the project's
PostgreSQL database, or for SQLite in a file beside the database (``…-jobs``):
SQLite has one writer per file, and the job store writes synchronously on the
event loop, which would wait on the bot's own open transactions. A job holds
only its id and calls :func:`fire`; what it does is decided by the domain
(``domain.due_jobs.run_job``) from the state at that moment.

The state is the source of truth. At start-up (and whenever a process becomes
the leader) the job store is reconciled with ``domain.due_jobs.plan``: jobs for
closed or cancelled things are dropped, missing ones added, moved ones moved;
jobs that fell due while the bot was down then run at once. A use case that
changes what is planned records a ``ScheduleChanged`` event, which the message bus
(``bot.runtime.bus``) hands to :meth:`Scheduler.follow`.

Only the leader (``bot.runtime.leader``) runs jobs; the others keep their scheduler
paused but still write the jobs their own handlers plan into the shared store,
and the leader looks at the store every ``poll`` seconds for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)
from apscheduler.job import Job as ApsJob
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import event, select
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError

from bot.runtime.leader import Leadership
from domain import due_jobs
from domain.due_jobs import Ran
from domain.events import ScheduleChanged
from domain.ports import Clock, UnitOfWorkFactory
from domain.schedule import DEFAULT_GRACE, Job, JobKind, Subject, worth_planning
from storage.db import is_sqlite, sync_url

log = logging.getLogger(__name__)

JOB_ENDED = EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED

RETRY_AFTER = timedelta(seconds=30)  # a run that failed (database down, …) is tried again
# The domain decides what a late run does (close anyway, skip a reminder).
JOB_DEFAULTS: dict[str, Any] = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
MAX_BATCH = 100  # runs per transaction: a SQLite writer holds the file that long
LOOKUP_CHUNK = 500  # job ids per "which are in the store" query
INSERT_CHUNK = 5000  # job-store rows per INSERT … VALUES batch (memory, not transactions)

# The scheduler of this process whose jobs run here; APScheduler calls fire() by name.
_active: Scheduler | None = None


async def fire(job_id: str) -> None:
    """The function every job calls: only the id is stored with the job."""
    if _active is None:
        log.error("job %s fired with no scheduler running", job_id)
        return
    await _active.run(job_id)


def jobstore_url(database_url: str) -> str:
    """Where the jobs are kept: the same PostgreSQL database, or a SQLite file beside it."""
    if not is_sqlite(database_url):
        return sync_url(database_url)
    database = make_url(database_url).database
    if database in (None, "", ":memory:"):
        return "sqlite://"
    return f"sqlite:///{database}-jobs"


@dataclass(frozen=True)
class Reconciled:
    planned: int
    added: int  # added or moved
    removed: int
    seconds: float


@dataclass(frozen=True)
class RunRecord:
    job_id: str
    ran: Ran
    due: datetime | None
    started: datetime  # by the injected clock
    seconds: float  # how long the run took


class Scheduler:
    def __init__(
        self,
        database_url: str,
        uow: UnitOfWorkFactory,
        *,
        clock: Clock,
        on_notices: Callable[[], None] = lambda: None,
        on_lead: Callable[[], Any] = lambda: None,
        on_tick: Callable[[], Any] = lambda: None,
        grace: timedelta = DEFAULT_GRACE,
        poll: float = 10.0,
    ) -> None:
        self._database_url = database_url
        self._uow = uow
        self._clock = clock
        self._on_notices = on_notices
        self._on_lead = on_lead
        self._on_tick = on_tick
        self.grace = grace
        self._poll = poll
        self.leadership = Leadership(database_url)
        self._aps: AsyncIOScheduler | None = None
        self._store: SQLAlchemyJobStore | None = None
        self._beat: asyncio.Task[None] | None = None
        self.runs: list[RunRecord] = []  # what ran here, for tests and the benchmark
        self.last_reconcile: Reconciled | None = None
        self.running = 0  # jobs handed to the executor and not finished
        self._due: list[tuple[str, asyncio.Future[None]]] = []  # fell due, waiting for a batch
        self._runner: asyncio.Task[None] | None = None
        self.batches = 0  # batches of runs committed, for tests and the benchmark

    # -- life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        global _active
        if _active is not None and _active is not self:
            raise RuntimeError("a scheduler is already running in this process")
        self._store = SQLAlchemyJobStore(url=jobstore_url(self._database_url))
        _relax_durability(self._store.engine)
        self._aps = AsyncIOScheduler(
            timezone=UTC,
            jobstores={"default": self._store},
            job_defaults=JOB_DEFAULTS,
        )
        self._aps.add_listener(self._count, EVENT_JOB_SUBMITTED | JOB_ENDED)
        self._aps.start(paused=True)
        _active = self
        if await self.leadership.try_acquire():
            await self._lead()
        self._beat = asyncio.create_task(self._heartbeat())

    async def stop(self) -> None:
        global _active
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
            self._beat = None
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        await self.leadership.release()
        if _active is self:
            _active = None

    def _count(self, event: JobEvent) -> None:
        self.running += 1 if event.code == EVENT_JOB_SUBMITTED else -1

    async def settled(self) -> None:
        """Return once every job due now has run (as leader; tests and the demo wait
        for this where they would otherwise wait and see that nothing happens)."""
        assert self._aps is not None
        while True:
            due = False
            if self.leadership.is_leader:
                now = self._clock().timestamp()
                due = any(at <= now for at in (await asyncio.to_thread(self._existing)).values())
            if not due and not self.running:
                return
            if due:  # APScheduler's timer counts real seconds; the clock may have moved
                self._aps.wakeup()
            await asyncio.sleep(0.01)

    async def _lead(self) -> None:
        self.last_reconcile = await self.reconcile()
        log.info("scheduler reconciled with the database: %s", self.last_reconcile)
        assert self._aps is not None
        self._aps.resume()  # what fell due while nobody led runs now
        result = self._on_lead()
        if asyncio.iscoroutine(result):
            await result

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._poll)
            try:
                await self.tick()
            except Exception:
                log.exception("scheduler heartbeat failed")

    async def tick(self) -> None:
        """Keep or take the lead; as leader, look for jobs other processes added."""
        assert self._aps is not None
        if self.leadership.is_leader:
            if await self.leadership.still_leader():
                self._aps.wakeup()
                self._on_notices()
                result = self._on_tick()  # take over what dead processes left, prune
                if asyncio.iscoroutine(result):
                    await result
            else:
                self._aps.pause()
        elif await self.leadership.try_acquire():
            await self._lead()

    # -- planning -------------------------------------------------------------------

    async def reconcile(self) -> Reconciled:
        """Make the job store hold exactly the jobs the state plans."""
        started = time.perf_counter()
        planned = await due_jobs.plan(self._uow(), now=self._clock(), grace=self.grace)
        existing = await asyncio.to_thread(self._existing)
        # Set differences only: a restart with the store already holding the plan
        # looks each job up once and writes nothing.
        wanted = {job.id for job in planned}
        stale = [job_id for job_id in existing.keys() - wanted if due_jobs.is_ours(job_id)]
        missing, moved = [], []
        for job in planned:
            at = existing.get(job.id)
            if at is None:
                missing.append(job)
            elif at != job.at.timestamp():
                moved.append(job)
        await asyncio.to_thread(self._insert, missing)
        await asyncio.to_thread(self._apply, stale, moved)
        assert self._aps is not None
        self._aps.wakeup()  # the new jobs may be due sooner than what it waited for
        changed = len(missing) + len(moved)
        return Reconciled(len(planned), changed, len(stale), time.perf_counter() - started)

    async def sync(self, subject: Subject, target: int) -> None:
        """After a run changed a ballot, topic, meeting or task: plan its jobs again."""
        ids, planned = await due_jobs.plan_for(
            self._uow(), subject, target, now=self._clock(), grace=self.grace
        )
        wanted = {job.id for job in planned}
        await asyncio.to_thread(self._hold, [i for i in ids if i not in wanted], planned)

    async def follow(self, changed: ScheduleChanged) -> None:
        """A use case changed its subject's moments: hold the plan it read (nothing is
        read again; a reminder already past its grace is not planned)."""
        await self.follow_all([changed])

    async def follow_all(self, changes: Sequence[ScheduleChanged]) -> None:
        """``follow`` for many subjects at once: one look at the store, one insert."""
        now = self._clock()
        stale: list[str] = []
        planned: list[Job] = []
        for changed in changes:
            jobs = [j for j in changed.jobs if worth_planning(j, now=now, grace=self.grace)]
            wanted = {job.id for job in jobs}
            stale += [i for i in changed.ids if i not in wanted]
            planned += jobs
        await asyncio.to_thread(self._hold, stale, planned)

    def _hold(self, stale: Sequence[str], planned: Sequence[Job]) -> None:
        """Make the store hold ``planned`` and none of ``stale``, writing only what differs:
        the store is looked up once, so a subject whose plan did not change (or a closed
        ballot whose jobs already fired) costs one query, not a transaction per job."""
        if not stale and not planned:
            return
        existing = self._existing([*stale, *(job.id for job in planned)])
        missing = [job for job in planned if job.id not in existing]
        moved = [
            job for job in planned if existing.get(job.id, job.at.timestamp()) != job.at.timestamp()
        ]
        self._apply([job_id for job_id in stale if job_id in existing], moved)
        self._insert(missing)
        if missing:
            assert self._aps is not None
            self._aps.wakeup()

    def _existing(self, ids: Sequence[str] | None = None) -> dict[str, float]:
        """Job id -> next run time (epoch seconds), read without unpickling any job: all of
        them, or those among ``ids``."""
        assert self._store is not None
        table = self._store.jobs_t
        columns = select(table.c.id, table.c.next_run_time)
        with self._store.engine.connect() as connection:
            if ids is None:
                return {job_id: at for job_id, at in connection.execute(columns)}
            found: dict[str, float] = {}
            for start in range(0, len(ids), LOOKUP_CHUNK):
                chunk = ids[start : start + LOOKUP_CHUNK]
                rows = connection.execute(columns.where(table.c.id.in_(chunk)))
                found.update({job_id: at for job_id, at in rows})
            return found

    def _insert(self, missing: list[Job]) -> None:
        """New jobs in one transaction: after an upgrade or with an empty store, thousands
        of them, where APScheduler's ``add_job`` would commit each on its own. The rows are
        the ones ``add_job`` writes (see :class:`_Rows`), handed to the driver in bulk
        (PostgreSQL: a binary ``COPY``; SQLite: one ``executemany``), without
        SQLAlchemy's per-row work: at 100,000 jobs that was most of a cold start. One
        already there (another process planned it meanwhile) sends the batch through
        ``add_job`` instead."""
        assert self._aps is not None and self._store is not None
        if not missing:
            return
        rows = _Rows(self._aps_job, self._store.pickle_protocol)
        table = self._store.jobs_t
        try:
            with self._store.engine.begin() as connection:
                # Quoted, with its schema if the store was given one.
                name = connection.dialect.identifier_preparer.format_table(table)
                for start in range(0, len(missing), INSERT_CHUNK):
                    chunk = [rows.row(job) for job in missing[start : start + INSERT_CHUNK]]
                    if connection.dialect.name == "postgresql":
                        _copy(connection, name, chunk)
                    elif connection.dialect.name == "sqlite":
                        connection.exec_driver_sql(
                            f"INSERT INTO {name} (id, next_run_time, job_state) VALUES (?, ?, ?)",
                            [(r["id"], r["next_run_time"], r["job_state"]) for r in chunk],
                        )
                    else:
                        connection.execute(table.insert(), chunk)
        except IntegrityError:
            self._apply((), missing)
        except Exception as error:
            if not _duplicate(error):
                raise
            self._apply((), missing)

    def _aps_job(self, job: Job) -> ApsJob:
        return ApsJob(
            self._aps,
            id=job.id,
            func=fire,
            args=[job.id],
            kwargs={},
            name=job.id,
            trigger=DateTrigger(run_date=job.at, timezone=UTC),
            executor="default",
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
            next_run_time=job.at,
        )

    def _apply(self, stale: Iterable[str], jobs_: Iterable[Job]) -> None:
        assert self._aps is not None
        for job_id in stale:
            with contextlib.suppress(JobLookupError):
                self._aps.remove_job(job_id)
        for job in jobs_:
            self._add(job.id, job.at)

    def _add(self, job_id: str, at: datetime) -> None:
        assert self._aps is not None
        self._aps.add_job(
            fire,
            trigger=DateTrigger(run_date=at, timezone=UTC),
            args=[job_id],
            id=job_id,
            name=job_id,
            replace_existing=True,
        )

    # -- running --------------------------------------------------------------------

    async def run(self, job_id: str) -> None:
        """A job fell due (APScheduler calls this through :func:`fire`). Jobs that fall
        due together are run together: while a batch is being run, those that arrive
        wait, and the next batch takes them all (``due_jobs.run_jobs``, one transaction
        for up to ``MAX_BATCH``). A lone job runs at once. Returns once its batch is
        done, so APScheduler counts it running until then (``settled``)."""
        done = asyncio.get_running_loop().create_future()
        self._due.append((job_id, done))
        if self._runner is None:
            self._runner = asyncio.create_task(self._run_due())
        await done

    async def _run_due(self) -> None:
        try:
            while self._due:
                batch, self._due = self._due[:MAX_BATCH], self._due[MAX_BATCH:]
                try:
                    await self._run_batch([job_id for job_id, _ in batch])
                except Exception:
                    log.exception("scheduler batch of %d jobs failed", len(batch))
                finally:
                    for _, done in batch:
                        if not done.done():
                            done.set_result(None)
        finally:
            self._runner = None

    async def _run_batch(self, job_ids: list[str]) -> None:
        started = self._clock()
        began = time.perf_counter()
        try:
            batch = await due_jobs.run_jobs(self._uow, job_ids, now=started, grace=self.grace)
        except Exception:  # a lone job that failed (a batch retries each on its own)
            log.exception("job %s failed; trying again in %s", job_ids, RETRY_AFTER)
            for job_id in job_ids:
                await asyncio.to_thread(self._add, job_id, started + RETRY_AFTER)
            return
        self.batches += 1
        stale = [i for r in batch.replanned for i in r.ids if i not in {j.id for j in r.jobs}]
        planned = [job for r in batch.replanned for job in r.jobs]
        # A run may plan what comes next (a task's next round of offers runs out later);
        # one that was not due yet is planned again at its time.
        await asyncio.to_thread(self._hold, stale, planned)
        failed = [job_id for job_id, result in batch.runs.items() if result is None]
        for job_id in failed:
            log.error("job %s failed; trying again in %s", job_id, RETRY_AFTER)
            await asyncio.to_thread(self._add, job_id, started + RETRY_AFTER)
        if any(r is not None and r.ran is Ran.DONE for r in batch.runs.values()):
            self._on_notices()  # their notices, or those a dispatch queued on the way
        # Recorded last: a run in ``runs`` has done all it will do.
        seconds = time.perf_counter() - began
        for job_id, result in batch.runs.items():
            if result is None:
                continue
            log.info("job %s: %s (late %s)", job_id, result.ran.value, result.late)
            due = result.job.at if result.job else None
            self.runs.append(RunRecord(job_id, result.ran, due, started, seconds))

    def pending(self) -> dict[str, float]:
        """The jobs in the store (id -> epoch seconds), for tests and the benchmark."""
        return self._existing()


class _Rows:
    """The job store's rows for our jobs, as ``SQLAlchemyJobStore.add_job`` writes them
    (id, next run time, the pickled ``Job.__getstate__()``), made fast enough for
    100,000 at once.

    Pickling an APScheduler job's state costs ~15 µs (most of it the aware datetime and
    the trigger's reduction): more than the whole rest of a cold reconcile per job. Our
    jobs differ only in their id and their time, so one is pickled as a template with
    placeholders, and each row is the template's bytes with the job's id and its time's
    10-byte payload put in their place (and, from protocol 4, the frame's length). The
    template is checked when made: each placeholder found where expected, and a row
    made from it unpickles equal to a plain pickle of the same job. A job the template
    cannot express (a time not in UTC, a long id) is pickled the plain way, and so is
    every job if the check fails."""

    _ID = "\x00yishi-placeholder-id\x00"
    _AT = datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
    _HEADER = 11  # PROTO, its version, FRAME and the frame's 8-byte length

    def __init__(self, make: Callable[[Job], ApsJob], protocol: int) -> None:
        self._make = make
        self._protocol = protocol
        self._segments: list[bytes] | None = None  # literal, id, literal, time, literal
        state = make(Job(self._AT, JobKind.BALLOT_CLOSE, 0)).__getstate__()
        state.update(id=self._ID, args=(self._ID,), name=self._ID)  # one str, memoized
        template = pickle.dumps(state, protocol)
        framed = protocol >= 4
        if framed and not (
            template[2:3] == pickle.FRAME
            and int.from_bytes(template[3 : self._HEADER], "little") == len(template) - self._HEADER
        ):
            return
        body = template[self._HEADER :] if framed else template
        head, found_id, rest = body.partition(_pickled_str(self._ID))
        middle, found_at, tail = rest.partition(_payload(self._AT))
        if not found_id or not found_at or _pickled_str(self._ID) in tail:
            return  # not the layout this relies on
        self._segments = [template[:3] if framed else b"", head, middle, tail]
        probe = Job(datetime(2030, 1, 2, 3, 4, 5, 6, tzinfo=UTC), JobKind.MEETING_REMINDER, 7, 60)
        if _unpickled(self._spliced(probe)) != _unpickled(self._plain(probe)):
            self._segments = None

    def row(self, job: Job) -> dict[str, Any]:
        at, job_id = job.at, job.id
        if self._segments is not None and at.tzinfo is UTC and len(job_id.encode()) < 256:
            state = self._spliced(job)
        else:
            state = self._plain(job)
        return {"id": job_id, "next_run_time": at.timestamp(), "job_state": state}

    def _plain(self, job: Job) -> bytes:
        state = self._make(job).__getstate__()
        state["args"] = tuple(state["args"])  # as add_job stores them
        return pickle.dumps(state, self._protocol)

    def _spliced(self, job: Job) -> bytes:
        assert self._segments is not None
        proto, head, middle, tail = self._segments
        body = head + _pickled_str(job.id) + middle + _payload(job.at) + tail
        return proto + len(body).to_bytes(8, "little") + body if proto else body


def _copy(connection: Connection, table: str, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: ``rows`` into the job store by a binary ``COPY`` (psycopg 3)."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with (
        cursor,
        cursor.copy(
            f"COPY {table} (id, next_run_time, job_state) FROM STDIN (FORMAT BINARY)"
        ) as copy,
    ):
        copy.set_types(["varchar", "float8", "bytea"])
        for row in rows:
            copy.write_row((row["id"], row["next_run_time"], row["job_state"]))


def _unpickled(job_state: bytes) -> dict[str, Any]:
    """A stored job's state, its trigger as the trigger's own state (triggers do not
    compare by value)."""
    state: dict[str, Any] = pickle.loads(job_state)
    trigger = state["trigger"]
    return {**state, "trigger": (type(trigger), trigger.__getstate__())}


def _pickled_str(text: str) -> bytes:
    """How pickle writes a str shorter than 256 bytes (SHORT_BINUNICODE)."""
    data = text.encode()
    return pickle.SHORT_BINUNICODE + bytes([len(data)]) + data


def _payload(at: datetime) -> bytes:
    """How pickle writes the 10 bytes that stand for a datetime's fields."""
    state = at.__reduce__()[1][0]
    assert isinstance(state, bytes) and len(state) == 10
    return pickle.SHORT_BINBYTES + bytes([len(state)]) + state


def _relax_durability(engine: Engine) -> None:
    """The job store is a copy that every start rebuilds from the state (``reconcile``),
    so its commits need not wait for the disk: each fired job is deleted in a
    transaction of its own, on the event loop, and a full fsync each made a batch of
    closings late by a second."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if engine.dialect.name == "sqlite":
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            elif engine.dialect.name == "postgresql":
                cursor.execute("SET synchronous_commit TO off")
        finally:
            cursor.close()
        if engine.dialect.name == "postgresql":
            dbapi_connection.commit()


def _duplicate(error: Exception) -> bool:
    """A COPY's duplicate id: psycopg's own error, as the COPY runs on the driver's cursor.
    psycopg is not imported for SQLite (~80 modules at start-up); an error can only be
    one of its own once something has imported it."""
    errors = sys.modules.get("psycopg.errors")
    return errors is not None and isinstance(error, errors.UniqueViolation)
