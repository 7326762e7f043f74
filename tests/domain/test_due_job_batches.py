"""Jobs that fall due together, run together (``due_jobs.run_jobs``), on the fakes:
one commit for the batch, each run exactly as ``run_job`` would do it and recorded
once, a failing run taking none of the others with it, and the plan of every subject
a run touched read in the same transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest

from domain import due_jobs, errors, services
from domain.due_jobs import Ran, run_job, run_jobs
from domain.model import BallotKind, NoticeKind, Phase
from domain.rules import Result
from domain.schedule import Job, JobKind, Subject
from tests.domain.builders import (
    CHAIR,
    CLOSING,
    GRACE,
    NOW,
    STARTS,
    ident,
    join,
    notices,
    open_topic,
    put_motion,
    set_up,
    vote,
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


# --- closings decided one by one, read and written together -----------------------

CHAIRS_CLOSE = CLOSING - timedelta(days=1)


async def _closing_day(factory: FakeUnitOfWorkFactory) -> dict[str, int]:
    """Ballots all closing at CLOSING, and what happened to some before it: A and B
    voted on, C closed by the chair a day early, D's topic cancelled, E on an owners'
    rule, F secret, G nobody voted on."""
    council_id = await set_up(factory)
    for user in (101, 102, 103):
        await join(factory, council_id, user)
    made: dict[str, int] = {}
    for name in "ABCDG":
        topic = await open_topic(factory, council_id, name)
        made[name] = ident(await put_motion(factory, council_id, topic))
    for name, rule, secret in (("E", "owners-ordinary", False), ("F", None, True)):
        ballot = await services.put_ballot(
            factory(),
            council_id=council_id,
            topic_id=(await open_topic(factory, council_id, name)).id,
            user_id=CHAIR,
            kind=BallotKind.MOTION,
            rule_name=rule,
            secret=secret,
            deadline=CLOSING,
            now=NOW,
        )
        made[name] = ident(ballot)
    for name, choices in (
        ("A", {101: "for", 102: "for", 103: "against"}),
        ("B", {101: "against", 102: "against"}),
        ("C", {101: "for", 102: "for"}),
        ("E", {101: "for"}),
        ("F", {101: "against", 102: "against", 103: "for"}),
    ):
        for user, choice in choices.items():
            await vote(factory, made[name], user, choice)
    await services.close_ballot(
        factory(), council_id=council_id, ballot_id=made["C"], user_id=CHAIR, now=CHAIRS_CLOSE
    )
    async with factory() as uow:
        topic_d = (await uow.ballots.many([made["D"]]))[made["D"]].topic_id
    await services.cancel_topic(
        factory(), council_id=council_id, topic_id=topic_d, user_id=CHAIR, now=CHAIRS_CLOSE
    )
    return made


def _day_jobs(made: dict[str, int]) -> list[str]:
    """Every closing, some twice, and A's nudge after A's closing (a later pass)."""
    nudge = Job(CLOSING - timedelta(hours=2), JobKind.BALLOT_NUDGE, made["A"]).id
    closings = [close_id(made[n]) for n in "ABACDEFGB"]
    return [*closings[:4], nudge, *closings[4:]]


async def test_a_batch_closes_each_ballot_once_skipping_those_closed_or_cancelled(
    factory: FakeUnitOfWorkFactory,
) -> None:
    made = await _closing_day(factory)
    jobs = _day_jobs(made)
    commits = factory.store.commits

    batch = await run_jobs(factory, jobs, now=CLOSING, grace=GRACE)

    assert factory.store.commits == commits + 1 and batch.transactions == 1
    ran = {job_id: r.ran for job_id, r in batch.runs.items() if r is not None}
    assert ran == {
        **{close_id(made[n]): Ran.DONE for n in "ABEFG"},
        close_id(made["C"]): Ran.STALE,  # the chair closed it
        close_id(made["D"]): Ran.STALE,  # its topic was cancelled, and the ballot with it
        jobs[4]: Ran.STALE,  # A's nudge, read after A's closing was written
    }
    state = factory.store.committed
    resolutions = {r.ballot_id: r for r in state.resolutions.values()}
    assert sorted(resolutions) == sorted(made[n] for n in "ABCEFG")  # once each, none for D
    assert len(state.resolutions) == 6
    results = {n: resolutions[made[n]].result for n in "ABCEFG"}
    assert results == {
        "A": Result.PASSED,
        "B": Result.REJECTED,
        "C": Result.PASSED,
        "E": Result.NO_QUORUM,  # no verified flat: the owners' rule has no quorum
        "F": Result.REJECTED,
        "G": Result.REJECTED,  # "simple": no quorum, and nobody for it
    }
    assert resolutions[made["C"]].recorded_at == CHAIRS_CLOSE  # the chair's, untouched
    assert state.ballots[made["C"]].closed_at == CHAIRS_CLOSE
    assert state.ballots[made["D"]].cancelled
    phases = {n: state.topics[state.ballots[made[n]].topic_id].phase for n in "ABCDEFG"}
    assert phases == {**{n: Phase.DECIDED for n in "ABCEFG"}, "D": Phase.CANCELLED}
    outcomes = [n.key for n in notices(factory, NoticeKind.BALLOT_OUTCOME)]
    assert sorted(outcomes) == sorted(f"ballot:{made[n]}:outcome" for n in "ABCEFG")


async def test_a_batch_closes_as_the_same_jobs_run_one_by_one() -> None:
    """Two identical councils' days: one batch, or each job in its own transaction.
    The ballots, topics, resolutions, notices and the events for the bus are the same."""
    batched, alone = FakeUnitOfWorkFactory(), FakeUnitOfWorkFactory()
    made = await _closing_day(batched)
    assert await _closing_day(alone) == made
    marks = len(batched.store.published), len(alone.store.published)

    await run_jobs(batched, _day_jobs(made), now=CLOSING, grace=GRACE)
    for job_id in _day_jobs(made):
        await run_job(alone(), job_id, now=CLOSING, grace=GRACE)

    one, other = batched.store.committed, alone.store.committed
    assert one.ballots == other.ballots
    assert one.topics == other.topics
    assert one.resolutions == other.resolutions
    assert one.notices == other.notices
    assert {type(e) for e in batched.store.published[marks[0] :]} == {
        type(e) for e in alone.store.published[marks[1] :]
    }


async def test_closings_refuse_a_ballot_handed_to_them_twice(
    factory: FakeUnitOfWorkFactory,
) -> None:
    """Two copies of one ballot, both read open: the second is refused, not closed again."""
    (ballot_id,) = await ballots(factory, 1)
    async with factory() as uow:
        one = (await uow.ballots.many([ballot_id]))[ballot_id]
        copy = (await uow.ballots.many([ballot_id]))[ballot_id]
        with pytest.raises(errors.BallotClosed):
            await services.close_many(uow, [one, copy], CLOSING)
    assert factory.store.committed.resolutions == {}
