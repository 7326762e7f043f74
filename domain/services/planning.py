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


async def unclaimed(jobs: list[Job], uow: UnitOfWork) -> list[Job]:
    claimed: set[str] = set()
    for start in range(0, len(jobs), CLAIM_CHUNK):
        claimed |= await uow.updates.seen([j.claim for j in jobs[start : start + CLAIM_CHUNK]])
    return sorted(j for j in jobs if j.claim not in claimed)


async def expiry(uow: UnitOfWork, task: Task) -> datetime | None:
    """When the task's earliest pending offer runs out, if it is waiting for answers."""
    if task.state is not TaskState.OFFERED or task.id is None:
        return None
    pending = [o.expires_at for o in await uow.offers.for_task(task.id) if o.is_pending]
    return min(pending, default=None)
