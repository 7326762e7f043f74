"""Jobs that fall due together, run together (``due_jobs.run_jobs``), on the fakes:
one commit for the batch, each run exactly as ``run_job`` would do it and recorded
once, a failing run taking none of the others with it, and the plan of every subject
a run touched read in the same transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest

from domain import due_jobs
from domain.due_jobs import Ran, run_job, run_jobs
from domain.model import NoticeKind
from domain.schedule import Job, JobKind, Subject
from tests.domain.builders import (
    CLOSING,
    GRACE,
    STARTS,
    ident,
    notices,
    open_topic,
    put_motion,
    set_up,
)
from tests.domain.builders import schedule as schedule_meeting
from tests.fakes import FakeUnitOfWorkFactory


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


async def ballots(
    factory: FakeUnitOfWorkFactory, count: int, deadline: datetime = CLOSING
) -> list[int]:
    """``count`` motions in one council, all closing at ``deadline``."""
    council_id = await set_up(factory)
    made = []
    for _ in range(count):
        topic = await open_topic(factory, council_id)
        made.append(ident(await put_motion(factory, council_id, topic, deadline=deadline)))
    return made


def close_id(ballot_id: int) -> str:
    return Job(CLOSING, JobKind.BALLOT_CLOSE, ballot_id).id


async def test_closings_due_together_commit_once_each_closed_once(
    factory: FakeUnitOfWorkFactory,
) -> None:
    ids = await ballots(factory, 5)
    commits = factory.store.commits

    batch = await run_jobs(factory, [close_id(b) for b in ids], now=CLOSING, grace=GRACE)

    assert factory.store.commits == commits + 1
    assert batch.transactions == 1
    assert {job_id: r.ran if r else None for job_id, r in batch.runs.items()} == {
        close_id(b): Ran.DONE for b in ids
    }
    state = factory.store.committed
    assert all(state.ballots[b].closed_at == CLOSING for b in ids)
    assert sorted(r.ballot_id for r in state.resolutions.values()) == ids
    outcomes = notices(factory, NoticeKind.BALLOT_OUTCOME)
    assert sorted(n.key for n in outcomes) == sorted(f"ballot:{b}:outcome" for b in ids)
    # Each closed ballot's plan, read in the batch: both its ids, nothing to plan.
    assert [(r.subject, r.target, r.jobs) for r in batch.replanned] == [
        (Subject.BALLOT, b, ()) for b in ids
    ]
    assert all(close_id(b) in r.ids for b, r in zip(ids, batch.replanned, strict=True))


async def test_a_batch_run_again_changes_nothing(factory: FakeUnitOfWorkFactory) -> None:
    ids = await ballots(factory, 3)
    await run_jobs(factory, [close_id(b) for b in ids], now=CLOSING, grace=GRACE)
    commits = factory.store.commits

    again = await run_jobs(
        factory, [close_id(b) for b in ids], now=CLOSING + timedelta(seconds=5), grace=GRACE
    )
    alone = await run_job(factory(), close_id(ids[0]), now=CLOSING, grace=GRACE)

    assert all(r is not None and r.ran in (Ran.STALE, Ran.ALREADY) for r in again.runs.values())
    assert alone.ran in (Ran.STALE, Ran.ALREADY)
    assert factory.store.commits == commits + 1  # the batch's commit, of nothing new
    assert len(factory.store.committed.resolutions) == 3
    assert len(notices(factory, NoticeKind.BALLOT_OUTCOME)) == 3


async def test_a_failing_run_loses_none_of_the_others(
    factory: FakeUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await ballots(factory, 4)
    broken = ids[2]
    close = due_jobs._RUNNERS[JobKind.BALLOT_CLOSE]

    def failing_for(
        target: int,
    ) -> Callable[..., Awaitable[object]]:
        async def runner(uow: object, job: Job, *rest: object) -> object:
            if job.target == target:
                raise RuntimeError("a bug in one closing")
            return await close(uow, job, *rest)  # type: ignore[arg-type]

        return runner

    monkeypatch.setitem(due_jobs._RUNNERS, JobKind.BALLOT_CLOSE, failing_for(broken))

    batch = await run_jobs(factory, [close_id(b) for b in ids], now=CLOSING, grace=GRACE)

    assert batch.runs[close_id(broken)] is None
    for b in ids:
        if b != broken:
            result = batch.runs[close_id(b)]
            assert result is not None and result.ran is Ran.DONE
    state = factory.store.committed
    assert sorted(r.ballot_id for r in state.resolutions.values()) == [
        b for b in ids if b != broken
    ]
    assert state.ballots[broken].closed_at is None  # left for its retry
    # Once fixed, the retry closes it, once.
    monkeypatch.setitem(due_jobs._RUNNERS, JobKind.BALLOT_CLOSE, close)
    retry = await run_jobs(factory, [close_id(broken)], now=CLOSING, grace=GRACE)
    assert retry.runs[close_id(broken)] is not None
    assert len(factory.store.committed.resolutions) == 4


async def test_a_lone_failing_run_raises(
    factory: FakeUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ballot,) = await ballots(factory, 1)

    async def broken(*_: object) -> object:
        raise RuntimeError("database away")

    monkeypatch.setitem(due_jobs._RUNNERS, JobKind.BALLOT_CLOSE, broken)
    with pytest.raises(RuntimeError):
        await run_jobs(factory, [close_id(ballot)], now=CLOSING, grace=GRACE)
    assert factory.store.committed.ballots[ballot].closed_at is None


async def test_a_mixed_batch_replans_what_remains(factory: FakeUnitOfWorkFactory) -> None:
    """A reminder that ran leaves its meeting's other reminder planned; one not due yet
    (moved later) is planned at its new time; the plan is read after every run."""
    council_id = await set_up(factory)
    meeting = await schedule_meeting(factory, council_id, items=["物业费"])
    day_before = Job(STARTS - timedelta(days=1), JobKind.MEETING_REMINDER, ident(meeting), 1440)
    hour_before = Job(STARTS - timedelta(hours=1), JobKind.MEETING_REMINDER, ident(meeting), 60)
    (ballot,) = await ballots(factory, 1, deadline=STARTS)  # not due: its plan unchanged

    batch = await run_jobs(
        factory,
        [day_before.id, hour_before.id, Job(STARTS, JobKind.BALLOT_CLOSE, ballot).id],
        now=day_before.at,
        grace=GRACE,
    )

    runs = {job_id: r.ran for job_id, r in batch.runs.items() if r is not None}
    assert runs == {
        day_before.id: Ran.DONE,
        hour_before.id: Ran.NOT_DUE,
        Job(STARTS, JobKind.BALLOT_CLOSE, ballot).id: Ran.NOT_DUE,
    }
    plans = {(r.subject, r.target): r.jobs for r in batch.replanned}
    assert [j.id for j in plans[(Subject.MEETING, ident(meeting))]] == [hour_before.id]
    ballot_plan = plans[(Subject.BALLOT, ballot)]
    assert [j.kind for j in ballot_plan] == [JobKind.BALLOT_NUDGE, JobKind.BALLOT_CLOSE]
    assert len(notices(factory, NoticeKind.MEETING_REMINDER)) == 1
