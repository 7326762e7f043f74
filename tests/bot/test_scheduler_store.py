"""The job store's rows the scheduler writes in bulk (``bot/runtime/scheduler.py``,
``_Rows``) are the rows APScheduler's own ``add_job`` writes for the same job: the
same id and next run time, and a pickled state that loads to the same job."""

from __future__ import annotations

import pickle
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select

from bot.runtime.scheduler import JOB_DEFAULTS, Scheduler, _Rows, _unpickled
from domain.schedule import Job, JobKind

T = datetime(2026, 12, 3, 12, 0, 0, 123456, tzinfo=UTC)
JOBS = [
    Job(T, JobKind.BALLOT_CLOSE, 1),
    Job(T + timedelta(days=400), JobKind.BALLOT_NUDGE, 2**40),
    Job(T.replace(microsecond=0), JobKind.MEETING_REMINDER, 77, 1440, 3),
    Job(T + timedelta(seconds=1), JobKind.TOPIC_DEADLINE, 9),
    Job(T, JobKind.OFFER_EXPIRY, 123_456_789),
    # Not UTC: written the plain way, the same instant.
    Job(T.astimezone(timezone(timedelta(hours=8))), JobKind.BALLOT_CLOSE, 5),
]


@pytest.fixture
async def scheduler() -> AsyncIterator[Scheduler]:
    """A scheduler whose APScheduler runs (paused) on an in-memory job store."""
    made = Scheduler("sqlite://", None, clock=lambda: T)  # type: ignore[arg-type]
    store = SQLAlchemyJobStore(url="sqlite://")
    made._store = store
    made._aps = AsyncIOScheduler(
        timezone=UTC, jobstores={"default": store}, job_defaults=JOB_DEFAULTS
    )
    made._aps.start(paused=True)
    yield made
    made._aps.shutdown(wait=False)


def stored(store: SQLAlchemyJobStore) -> dict[str, tuple[float, bytes]]:
    table = store.jobs_t
    with store.engine.connect() as connection:
        rows = connection.execute(select(table.c.id, table.c.next_run_time, table.c.job_state))
        return {job_id: (at, state) for job_id, at, state in rows}


async def test_the_template_is_used(scheduler: Scheduler) -> None:
    assert scheduler._store is not None
    rows = _Rows(scheduler._aps_job, scheduler._store.pickle_protocol)
    assert rows._segments is not None  # else every row would be pickled the plain way


@pytest.mark.parametrize("job", JOBS, ids=lambda job: job.id)
async def test_a_bulk_row_is_the_row_add_job_writes(scheduler: Scheduler, job: Job) -> None:
    assert scheduler._store is not None
    scheduler._add(job.id, job.at)  # APScheduler's add_job, as the bot calls it
    (at, state) = stored(scheduler._store)[job.id]

    row = _Rows(scheduler._aps_job, scheduler._store.pickle_protocol).row(job)

    assert row["id"] == job.id
    assert row["next_run_time"] == at
    assert _unpickled(row["job_state"]) == _unpickled(state)
    loaded = pickle.loads(row["job_state"])
    assert loaded["next_run_time"] == job.at and loaded["trigger"].run_date == job.at


async def test_inserted_jobs_load_and_fire_as_added_ones(scheduler: Scheduler) -> None:
    assert scheduler._store is not None and scheduler._aps is not None
    scheduler._insert(JOBS)
    jobs = {j.id: j for j in scheduler._aps.get_jobs()}
    assert set(jobs) == {job.id for job in JOBS}
    for job in JOBS:
        aps_job = jobs[job.id]
        assert aps_job.next_run_time == job.at
        assert aps_job.args == (job.id,) and aps_job.func_ref == "bot.runtime.scheduler:fire"
        assert aps_job.trigger.get_next_fire_time(None, T) == job.at


async def test_an_id_already_stored_sends_the_batch_through_add_job(scheduler: Scheduler) -> None:
    """Another process planned one of them meanwhile: nothing is lost, none doubled."""
    assert scheduler._store is not None
    scheduler._add(JOBS[0].id, JOBS[0].at - timedelta(hours=1))
    scheduler._insert(JOBS)
    rows = stored(scheduler._store)
    assert set(rows) == {job.id for job in JOBS}
    assert rows[JOBS[0].id][0] == JOBS[0].at.timestamp()  # replaced, at the planned time
