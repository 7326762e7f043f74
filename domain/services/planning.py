"""What the scheduler must hold for one ballot, topic, meeting or task, read in the
transaction that changed it and recorded as a ``ScheduleChanged`` event."""

from __future__ import annotations

from datetime import datetime

from domain.events import ScheduleChanged
from domain.ports import UnitOfWork
from domain.schedule import Job, Subject, ballot_jobs, job_ids, meeting_jobs, task_jobs, topic_jobs
from domain.services.reading import require_council
from domain.task_rules import Task, TaskState

CLAIM_CHUNK = 500  # keys per "which were claimed" query


async def replan(uow: UnitOfWork, subject: Subject, target: int) -> None:
    """Record that ``subject``'s moments changed, with its plan as it now stands."""
    ids, jobs = await planned(uow, subject, target)
    if ids:
        uow.record(ScheduleChanged(subject, target, tuple(ids), tuple(jobs)))


async def planned(uow: UnitOfWork, subject: Subject, target: int) -> tuple[list[str], list[Job]]:
    """In an open unit of work: (every job id the subject may have, the jobs it needs
    now, less the runs already claimed). Nothing for a subject that does not exist."""
    jobs: list[Job] = []
    if subject is Subject.BALLOT:
        ballot = await uow.ballots.get(target)
        if ballot is None:
            return [], []
        council = await require_council(uow, ballot.council_id)
        jobs = ballot_jobs(ballot, council)
    elif subject is Subject.TOPIC:
        topic = await uow.topics.get(target)
        if topic is None:
            return [], []
        council = await require_council(uow, topic.council_id)
        jobs = topic_jobs(topic)
    elif subject is Subject.TASK:
        task = await uow.tasks.get(target)
        if task is None:
            return [], []
        council = await require_council(uow, task.council_id)
        jobs = task_jobs(target, await expiry(uow, task))
    else:
        meeting = await uow.meetings.get(target)
        if meeting is None:
            return [], []
        council = await require_council(uow, meeting.council_id)
        jobs = meeting_jobs(meeting, council)
    return job_ids(subject, target, council), await unclaimed(jobs, uow)


async def unclaimed(
    jobs: list[Job], uow: UnitOfWork, *, due_by: datetime | None = None
) -> list[Job]:
    """The jobs whose run has not been claimed yet, in time order.

    ``run_job`` claims a run only once it is due by its process's clock, so a job still
    ahead of ``due_by`` (now, plus a margin for other processes' clocks) cannot have
    been claimed and is not looked up: at start-up that is nearly all of them. Were a
    clock further ahead than the margin, the job would be planned again and its run
    find the claim (``Ran.ALREADY``): once still holds. Each claim key is made once
    (an ISO time each: at 100,000 jobs that alone took half a second)."""
    keyed = [(job.claim, job) for job in jobs if due_by is None or job.at <= due_by]
    claimed: set[str] = set()
    for start in range(0, len(keyed), CLAIM_CHUNK):
        claimed |= await uow.updates.seen([key for key, _ in keyed[start : start + CLAIM_CHUNK]])
    ahead = [] if due_by is None else [job for job in jobs if job.at > due_by]
    kept = [job for key, job in keyed if key not in claimed]
    return sorted(kept + ahead, key=_order)


def _order(job: Job) -> tuple[object, ...]:
    """``Job``'s own order (its fields in turn), as a key: sorting 100,000 dataclasses by
    their ``__lt__`` builds two tuples per comparison."""
    return (job.at, job.kind, job.target, job.variant, job.version)


async def expiry(uow: UnitOfWork, task: Task) -> datetime | None:
    """When the task's earliest pending offer runs out, if it is waiting for answers."""
    if task.state is not TaskState.OFFERED or task.id is None:
        return None
    pending = [o.expires_at for o in await uow.offers.for_task(task.id) if o.is_pending]
    return min(pending, default=None)
