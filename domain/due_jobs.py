"""Use cases the scheduler runs: plan the jobs, and run one when its time comes.

A job carries only its id. Running it reads the state again, works out when
the job is due *now* (a chair may have moved the meeting or the deadline
since), and does the work once: the run is claimed (``UpdateLog``) in the same
transaction as the state change and the notices announcing it, so a run that
crashed before its commit is simply run again, and one that committed is never
run twice — whichever process, whatever restarts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from domain import errors
from domain.model import (
    Ballot,
    BallotKind,
    Council,
    Meeting,
    MemberStatus,
    Notice,
    NoticeKind,
    Phase,
    Topic,
)
from domain.notices import queue
from domain.ports import Lock, UnitOfWork, UnitOfWorkFactory
from domain.schedule import (
    LATE_AFTER,
    SUBJECT_OF,
    Job,
    JobKind,
    Subject,
    ballot_jobs,
    job_ids,
    jobs_of,
    meeting_jobs,
    task_jobs,
    topic_jobs,
    worth_planning,
)
from domain.services import (
    MAX_OPTIONS,
    Closings,
    close_locked,
    open_ballot,
    outcome_notice,
    require_council,
)
from domain.services.planning import expiry, planned, unclaimed
from domain.volunteering import expire_round

# How far another process's clock may run ahead of ours for ``plan`` to still leave out
# a run it claimed (beyond it the run is planned again and finds its claim).
CLOCK_MARGIN = timedelta(minutes=10)


class Ran(StrEnum):
    DONE = "done"
    SKIPPED = "skipped"  # a reminder past its grace period
    NOT_DUE = "not_due"  # its time was moved later: plan it again
    STALE = "stale"  # nothing to do any more (closed, cancelled, …)
    ALREADY = "already"  # another run did it


@dataclass(frozen=True)
class JobRun:
    ran: Ran
    job: Job | None = None  # the job as planned now; None when stale
    late: timedelta = timedelta(0)
    notices: int = 0


# --- planning ------------------------------------------------------------------


async def plan(uow: UnitOfWork, *, now: datetime, grace: timedelta) -> list[Job]:
    """Every job that should be in the scheduler, for every council: from the moments
    alone (``ScheduleReader``), in a few queries however many jobs there are."""
    async with uow:
        jobs = jobs_of(await uow.schedule.moments(now))
        jobs = [j for j in jobs if worth_planning(j, now=now, grace=grace)]
        return await unclaimed(jobs, uow, due_by=now + CLOCK_MARGIN)


async def plan_for(
    uow: UnitOfWork, subject: Subject, target: int, *, now: datetime, grace: timedelta
) -> tuple[list[str], list[Job]]:
    """One ballot's, topic's or meeting's jobs: (every id it may have, those planned)."""
    async with uow:
        ids, jobs = await planned(uow, subject, target)
        return ids, [j for j in jobs if worth_planning(j, now=now, grace=grace)]


@dataclass
class _Loaded:
    """What planning a job read, handed on to its run so nothing is read twice."""

    council: Council | None = None
    ballot: Ballot | None = None
    topic: Topic | None = None
    meeting: Meeting | None = None
    # A batch's closings, read together and written together: the run only decides.
    closings: Closings | None = None


# The closing job locks the ballot now, so a vote or a chair's /close waits for it.
_BALLOT_LOCK = {JobKind.BALLOT_CLOSE: Lock.UPDATE, JobKind.BALLOT_NUDGE: Lock.NONE}


async def _planned(
    uow: UnitOfWork,
    kind: JobKind,
    target: int,
    variant: int,
    councils: dict[int, Council] | None = None,
) -> tuple[Job | None, _Loaded]:
    """The job with this id as the state plans it now (or None), and what was read.
    ``councils``: those a batch already read (a run changes no council)."""
    councils = {} if councils is None else councils
    loaded, jobs = await _read(uow, kind, target)
    await _councils_into(uow, [_council_of(loaded)], councils)
    return _job_of(kind, variant, loaded, jobs, councils), loaded


async def _read(uow: UnitOfWork, kind: JobKind, target: int) -> tuple[_Loaded, list[Job]]:
    """The job's subject; the jobs it plans when they need no council."""
    loaded = _Loaded()
    jobs: list[Job] = []
    if kind in _BALLOT_LOCK:
        loaded.ballot = await uow.ballots.get(target, lock=_BALLOT_LOCK[kind])
    elif kind is JobKind.TOPIC_DEADLINE:
        loaded.topic = await uow.topics.get(target)
        if loaded.topic is not None:
            jobs = topic_jobs(loaded.topic)
    elif kind is JobKind.OFFER_EXPIRY:
        task = await uow.tasks.get(target, lock=Lock.UPDATE)
        if task is not None:
            jobs = task_jobs(target, await expiry(uow, task))
    else:
        loaded.meeting = await uow.meetings.get(target)
    return loaded, jobs


def _council_of(loaded: _Loaded) -> int | None:
    subject = loaded.ballot or loaded.meeting
    return None if subject is None else subject.council_id


async def _councils_into(
    uow: UnitOfWork, council_ids: Iterable[int | None], councils: dict[int, Council]
) -> None:
    """Read the councils not in ``councils`` yet, in one go (a batch of closings spread
    over a hundred councils would otherwise read each, two queries a time)."""
    missing = sorted({c for c in council_ids if c is not None} - councils.keys())
    if missing:
        councils.update(await uow.councils.many(missing))
    for council_id in missing:
        if council_id not in councils:
            councils[council_id] = await require_council(uow, council_id)  # refuses


def _job_of(
    kind: JobKind, variant: int, loaded: _Loaded, jobs: list[Job], councils: dict[int, Council]
) -> Job | None:
    if loaded.ballot is not None:
        loaded.council = councils[loaded.ballot.council_id]
        jobs = ballot_jobs(loaded.ballot, loaded.council)
    elif loaded.meeting is not None:
        loaded.council = councils[loaded.meeting.council_id]
        jobs = meeting_jobs(loaded.meeting, loaded.council)
    return next((j for j in jobs if j.kind is kind and j.variant == variant), None)


# --- running -------------------------------------------------------------------


async def run_job(uow: UnitOfWork, job_id: str, *, now: datetime, grace: timedelta) -> JobRun:
    """Do what the job stands for, if it is (still) due and not done yet."""
    async with uow:
        result = await _run_in(uow, job_id, now=now, grace=grace)
        if result.ran in (Ran.DONE, Ran.SKIPPED):
            await uow.commit()  # the change, its notices and the claim, or the claim alone
        return result


async def _run_in(uow: UnitOfWork, job_id: str, *, now: datetime, grace: timedelta) -> JobRun:
    """``run_job``'s work inside an open unit of work, uncommitted."""
    kind, target, variant = Job.parse_id(job_id)
    job, loaded = await _planned(uow, kind, target, variant)
    if job is None:
        return JobRun(Ran.STALE)
    if job.at > now:
        return JobRun(Ran.NOT_DUE, job)
    if not await uow.updates.claim(job.claim):
        return JobRun(Ran.ALREADY, job)
    late = now - job.at
    if kind.skippable and late > grace:
        return JobRun(Ran.SKIPPED, job, late)  # the claim: it is skipped for good
    notices = await _RUNNERS[kind](uow, job, loaded, now, late)
    if notices is None:  # too late to be of use: what it announced has begun
        return JobRun(Ran.SKIPPED, job, late)
    for notice in notices:
        await queue(uow, notice)
    return JobRun(Ran.DONE, job, late, len(notices))


@dataclass(frozen=True)
class Replanned:
    """A subject's jobs as its runs left them, read in their transaction."""

    subject: Subject
    target: int
    ids: tuple[str, ...]  # every job id it may have
    jobs: tuple[Job, ...]  # those it needs now (reminders past their grace left out)


@dataclass(frozen=True)
class Batch:
    """What ``run_jobs`` did: each job's run (``None``: it failed, on its own), and the
    plan of every subject a run touched."""

    runs: dict[str, JobRun | None]
    replanned: list[Replanned]
    transactions: int


async def run_jobs(
    uows: UnitOfWorkFactory, job_ids: Sequence[str], *, now: datetime, grace: timedelta
) -> Batch:
    """Run jobs that fell due together in one transaction, each as ``run_job`` would (its
    claim, its change and its notices), and read again the plan of the subjects they
    touched, so that a thousand ballots closing at one moment commit in a few
    transactions instead of a thousand, in a few statements each however many it holds:
    the ballots read (and locked) in one query, the councils in one, the claims taken
    in one, the closings' topics and counts read together and their resolutions,
    ballots and topics written together (``Closings``), the notices queued in one, the
    closed ballots' plans known without reading them again.

    Exactly once still holds: each run's claim commits with its change, in the batch's
    one commit. If any run fails, the whole batch is rolled back and every job is run
    again on its own (``run_job``, one transaction each), so a failing job takes none of
    the others with it; it alone is reported ``None``."""
    try:
        async with uows() as uow:
            ran, replanned = await _run_batch_in(uow, job_ids, now=now, grace=grace)
            await uow.commit()
            runs: dict[str, JobRun | None] = dict(ran)
            return Batch(runs, replanned, 1)
    except Exception:
        if len(job_ids) == 1:
            raise
    alone: dict[str, JobRun | None] = {}
    for job_id in job_ids:
        try:
            alone[job_id] = await run_job(uows(), job_id, now=now, grace=grace)
        except Exception:
            alone[job_id] = None
    async with uows() as uow:
        done = [r for r in alone.values() if r is not None]
        replanned = await _replan(uow, [(r, None) for r in done], now=now, grace=grace)
    return Batch(alone, replanned, len(job_ids) + 1)


async def _run_batch_in(
    uow: UnitOfWork, job_ids: Sequence[str], *, now: datetime, grace: timedelta
) -> tuple[dict[str, JobRun], list[Replanned]]:
    """``run_jobs``'s work inside an open unit of work, uncommitted. Each pass takes at
    most one job per subject (a ballot's nudge and closing due together run in turn,
    the second reading what the first left), reads them, claims the due ones in one
    statement, then runs them."""
    councils: dict[int, Council] = {}
    runs: dict[str, JobRun] = {}
    touched: dict[tuple[Subject, int], tuple[JobRun, _Loaded | None]] = {}
    notices: list[Notice] = []
    waiting = list(dict.fromkeys(job_ids))
    while waiting:
        this_pass: dict[tuple[Subject, int], str] = {}
        later = []
        for job_id in waiting:
            kind, target, _ = Job.parse_id(job_id)
            key = (SUBJECT_OF[kind], target)
            if key in this_pass:
                later.append(job_id)
            else:
                this_pass[key] = job_id
        waiting = later
        subjects = await _read_pass(uow, list(this_pass.values()))
        await _councils_into(uow, [_council_of(loaded) for *_, loaded, _ in subjects], councils)
        read: list[tuple[str, Job, _Loaded]] = []
        for job_id, kind, variant, loaded, planned_jobs in subjects:
            job = _job_of(kind, variant, loaded, planned_jobs, councils)
            if job is None:
                runs[job_id] = JobRun(Ran.STALE)
            elif job.at > now:
                runs[job_id] = JobRun(Ran.NOT_DUE, job)
            else:
                read.append((job_id, job, loaded))
        claimed = await uow.updates.claim_many([job.claim for _, job, _ in read])
        due: list[tuple[str, Job, _Loaded, timedelta]] = []
        for job_id, job, loaded in read:
            late = now - job.at
            if job.claim not in claimed:
                runs[job_id] = JobRun(Ran.ALREADY, job)
            elif job.kind.skippable and late > grace:
                runs[job_id] = JobRun(Ran.SKIPPED, job, late)
            else:
                due.append((job_id, job, loaded, late))
        closing = [loaded for _, job, loaded, _ in due if job.kind is JobKind.BALLOT_CLOSE]
        closings = await _closings(uow, closing)
        for job_id, job, loaded, late in due:
            made = await _RUNNERS[job.kind](uow, job, loaded, now, late)
            if made is None:
                runs[job_id] = JobRun(Ran.SKIPPED, job, late)
                continue
            notices += made
            runs[job_id] = JobRun(Ran.DONE, job, late, len(made))
        if closings is not None:
            await closings.write(uow)  # before a later pass reads these ballots again
        for job_id in this_pass.values():
            result = runs[job_id]
            if result.job is not None and result.ran is not Ran.ALREADY:
                loaded_now = next((ld for i, _, ld in read if i == job_id), None)
                touched[(result.job.subject, result.job.target)] = (result, loaded_now)
    if notices:
        await queue(uow, *notices)
    replanned = await _replan(uow, list(touched.values()), now=now, grace=grace, councils=councils)
    return {job_id: runs[job_id] for job_id in job_ids}, replanned


async def _read_pass(
    uow: UnitOfWork, job_ids: Sequence[str]
) -> list[tuple[str, JobKind, int, _Loaded, list[Job]]]:
    """``_read`` for a pass's jobs (one per subject): the ballots in one query for the
    closings (locked, as ``_read`` locks them) and one for the nudges; the rest alone."""
    parsed = [(job_id, *Job.parse_id(job_id)) for job_id in job_ids]
    ballots: dict[JobKind, dict[int, Ballot]] = {}
    for kind, lock in _BALLOT_LOCK.items():
        targets = [target for _, k, target, _ in parsed if k is kind]
        if targets:
            ballots[kind] = await uow.ballots.many(targets, lock=lock)
    subjects: list[tuple[str, JobKind, int, _Loaded, list[Job]]] = []
    for job_id, kind, target, variant in parsed:
        if kind in ballots:
            subjects.append((job_id, kind, variant, _Loaded(ballot=ballots[kind].get(target)), []))
        else:
            subjects.append((job_id, kind, variant, *await _read(uow, kind, target)))
    return subjects


async def _closings(uow: UnitOfWork, closing: Sequence[_Loaded]) -> Closings | None:
    """The closings due in a pass, their topics and counts read together (``Closings``):
    each run then only decides its ballot, and the pass writes them all at its end."""
    if not closing:
        return None
    closings = await Closings.read(uow, [loaded.ballot for loaded in closing if loaded.ballot])
    for loaded in closing:
        loaded.closings = closings
    return closings


async def _replan(
    uow: UnitOfWork,
    touched: Sequence[tuple[JobRun, _Loaded | None]],
    *,
    now: datetime,
    grace: timedelta,
    councils: dict[int, Council] | None = None,
) -> list[Replanned]:
    """The plan of each subject a run touched, as its last run left it. A ballot or
    meeting a run read and changed in memory (a closing sets ``closed_at`` on the ballot
    it closed; a reminder or a nudge changes nothing) is planned from what was read;
    any other subject is read again (``planned``). The claims of all of them are looked
    up together."""
    councils = {} if councils is None else councils
    plans: list[tuple[Subject, int, list[str], list[Job]]] = []
    for result, loaded in touched:
        assert result.job is not None
        subject, target = result.job.subject, result.job.target
        known = loaded is not None and result.ran in (Ran.DONE, Ran.SKIPPED)
        if known and loaded is not None and loaded.council is not None and loaded.ballot:
            ids = job_ids(subject, target, loaded.council)
            plans.append((subject, target, ids, ballot_jobs(loaded.ballot, loaded.council)))
        elif known and loaded is not None and loaded.council is not None and loaded.meeting:
            ids = job_ids(subject, target, loaded.council)
            plans.append((subject, target, ids, meeting_jobs(loaded.meeting, loaded.council)))
        else:
            ids, jobs = await planned(uow, subject, target)
            plans.append((subject, target, ids, jobs))
    kept = set(await unclaimed([job for *_, jobs in plans for job in jobs], uow))
    return [
        Replanned(
            subject,
            target,
            tuple(ids),
            tuple(j for j in jobs if j in kept and worth_planning(j, now=now, grace=grace)),
        )
        for subject, target, ids, jobs in sorted(plans, key=lambda plan: plan[:2])
    ]


async def _close(
    uow: UnitOfWork, job: Job, loaded: _Loaded, now: datetime, late: timedelta
) -> list[Notice]:
    ballot, council = loaded.ballot, loaded.council
    assert ballot is not None and ballot.deadline is not None and council is not None
    deadline = ballot.deadline.isoformat()
    if loaded.closings is None:
        closed = await close_locked(uow, ballot, now)
    else:  # one of a batch's: written with the others (``_run_batch_in``)
        closed = loaded.closings.close(ballot, now)
    return [outcome_notice(closed.ballot, council, now, late=late > LATE_AFTER, deadline=deadline)]


async def _nudge(
    uow: UnitOfWork, job: Job, loaded: _Loaded, now: datetime, late: timedelta
) -> list[Notice] | None:
    ballot, council = loaded.ballot, loaded.council
    assert ballot is not None and ballot.id is not None and ballot.deadline is not None
    assert council is not None
    if now >= ballot.deadline:
        return None
    voted = await uow.votes.current(ballot.id)
    missing = [
        m
        for m in await uow.members.list(ballot.council_id, (MemberStatus.ACTIVE,))
        if m.id not in voted and m.user_id is not None
    ]
    reachable = await uow.contacts.reachable([m.user_id for m in missing if m.user_id])
    deadline = ballot.deadline.isoformat()
    # Who has not voted is said privately to each of them; in the group only for an open
    # ballot. For a secret one the group hears the deadline, never a name.
    group_key = f"{job.claim}:group"
    notices = [
        Notice(
            key=f"{job.claim}:u{m.user_id}",
            kind=NoticeKind.BALLOT_NUDGE,
            council_id=ballot.council_id,
            chat_id=m.user_id,
            subject=ballot.id,
            created_at=now,
            private=True,
            params={
                "deadline": deadline,
                "name": m.name,
                "group": council.chat_id,
                "thread": council.thread_id,
                "language": m.language,
                "secret": ballot.secret,
                "group_key": group_key,
            },
        )
        for m in missing
        if m.user_id in reachable
    ]
    others = [[m.user_id, m.name] for m in missing if m.user_id not in reachable]
    if others:
        notices.append(
            Notice(
                key=group_key,
                kind=NoticeKind.NON_VOTERS,
                council_id=ballot.council_id,
                chat_id=council.chat_id,
                thread_id=council.thread_id,
                subject=ballot.id,
                created_at=now,
                params={
                    "deadline": deadline,
                    "members": [] if ballot.secret else others,
                    "secret": ballot.secret,
                },
            )
        )
    return notices


async def _collection_ends(
    uow: UnitOfWork, job: Job, loaded: _Loaded, now: datetime, late: timedelta
) -> list[Notice]:
    topic = loaded.topic
    assert topic is not None and topic.id is not None and topic.phase is Phase.COLLECTING
    council = await require_council(uow, topic.council_id)
    proposals = await uow.proposals.for_topic(topic.id)
    # Most seconded first, so that a crowded topic still fits on one ballot.
    shortlist = sorted(proposals, key=lambda p: (-len(p.seconds), p.created_at))[:MAX_OPTIONS]
    kind = BallotKind.OPTIONS if len(shortlist) >= 2 else BallotKind.MOTION
    ballot = await open_ballot(
        uow,
        council,
        topic,
        kind=kind,
        proposal_ids=sorted(p.id for p in shortlist if p.id is not None),
        rule=council.rule,
        secret=False,
        deadline=None,
        opened_by=0,  # nobody: the deadline did it
        now=now,
    )
    assert ballot.id is not None
    return [
        Notice(
            key=f"topic:{topic.id}:voting",
            kind=NoticeKind.BALLOT_OPENED,
            council_id=topic.council_id,
            chat_id=council.chat_id,
            thread_id=council.thread_id,
            subject=ballot.id,
            created_at=now,
            params={"topic": topic.id, "proposals": len(proposals)},
        )
    ]


async def _remind(
    uow: UnitOfWork, job: Job, loaded: _Loaded, now: datetime, late: timedelta
) -> list[Notice] | None:
    meeting, council = loaded.meeting, loaded.council
    assert meeting is not None and council is not None
    if now >= meeting.starts_at:
        return None
    return [
        Notice(
            key=job.claim,
            kind=NoticeKind.MEETING_REMINDER,
            council_id=meeting.council_id,
            chat_id=council.chat_id,
            thread_id=council.thread_id,
            subject=job.target,
            created_at=now,
            params={"offset": job.variant, "version": job.version},
        )
    ]


async def _offers_expire(
    uow: UnitOfWork, job: Job, loaded: _Loaded, now: datetime, late: timedelta
) -> list[Notice]:
    await expire_round(uow, job.target, now)
    return []  # the next round's offers were queued by the dispatch itself


_Runner = Callable[[UnitOfWork, Job, _Loaded, datetime, timedelta], Awaitable[list[Notice] | None]]
_RUNNERS: dict[JobKind, _Runner] = {
    JobKind.BALLOT_CLOSE: _close,
    JobKind.BALLOT_NUDGE: _nudge,
    JobKind.TOPIC_DEADLINE: _collection_ends,
    JobKind.MEETING_REMINDER: _remind,
    JobKind.OFFER_EXPIRY: _offers_expire,
}


def is_ours(job_id: str) -> bool:
    try:
        Job.parse_id(job_id)
    except (ValueError, IndexError):
        return False
    return True


__all__ = [
    "Batch",
    "JobRun",
    "Ran",
    "Replanned",
    "errors",
    "is_ours",
    "plan",
    "plan_for",
    "run_job",
    "run_jobs",
]
