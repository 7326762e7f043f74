"""What must happen at a given time, derived from the council's state.

The state in the database is the source of truth: the scheduler holds a copy
of this plan (one job per entry) and is reconciled with it, so a job is only a
reminder to look at the state again. A job is named by its ``id``; ``claim``
names one run of it, so that moving a meeting or changing a deadline makes a
new run rather than one that counts as already done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property

from domain.model import Ballot, Council, Meeting, Phase, Topic

# Past its moment by more than this, a reminder is pointless: skipped, not sent late.
DEFAULT_GRACE = timedelta(minutes=15)
# Closed later than this after its deadline, an outcome says that it closed late.
LATE_AFTER = timedelta(minutes=1)


class JobKind(StrEnum):
    BALLOT_CLOSE = "ballot_close"
    BALLOT_NUDGE = "ballot_nudge"
    TOPIC_DEADLINE = "topic_deadline"
    MEETING_REMINDER = "meeting_reminder"
    OFFER_EXPIRY = "offer_expiry"  # a task's round of offers runs out

    @property
    def skippable(self) -> bool:
        """Reminders lose their point when late; closings must still happen."""
        return self in (JobKind.BALLOT_NUDGE, JobKind.MEETING_REMINDER)


class Subject(StrEnum):
    BALLOT = "ballot"
    TOPIC = "topic"
    MEETING = "meeting"
    TASK = "task"


SUBJECT_OF = {
    JobKind.BALLOT_CLOSE: Subject.BALLOT,
    JobKind.BALLOT_NUDGE: Subject.BALLOT,
    JobKind.TOPIC_DEADLINE: Subject.TOPIC,
    JobKind.MEETING_REMINDER: Subject.MEETING,
    JobKind.OFFER_EXPIRY: Subject.TASK,
}


@dataclass(frozen=True, order=True)
class Job:
    at: datetime
    kind: JobKind
    target: int  # the ballot, topic or meeting id
    variant: int = 0  # a meeting reminder's offset in minutes
    version: int = 0  # the meeting's version: moving it makes new reminders

    # Cached (kept in the instance's __dict__, not a field: equality and order are the
    # fields'): planning 100,000 jobs asks for each id several times.
    @cached_property
    def id(self) -> str:
        """Stable per thing to do: rescheduling replaces the job with this id."""
        base = f"{self.kind.value}:{self.target}"
        return f"{base}:{self.variant}" if self.kind is JobKind.MEETING_REMINDER else base

    @property
    def claim(self) -> str:
        """Names this run, for exactly-once: the same job at another time is another run."""
        return f"job:{self.id}:v{self.version}:{self.at.isoformat()}"

    @property
    def subject(self) -> Subject:
        return SUBJECT_OF[self.kind]

    @staticmethod
    def parse_id(job_id: str) -> tuple[JobKind, int, int]:
        """(kind, target, variant) of a job id; ValueError if it is not one of ours."""
        kind, target, *rest = job_id.split(":")
        return JobKind(kind), int(target), int(rest[0]) if rest else 0


def job_ids(subject: Subject, target: int, council: Council) -> list[str]:
    """Every job id a subject may have, planned now or not (to drop the stale ones)."""
    if subject is Subject.BALLOT:
        kinds = (JobKind.BALLOT_CLOSE, JobKind.BALLOT_NUDGE)
        return [Job(datetime.min, k, target).id for k in kinds]
    if subject is Subject.TOPIC:
        return [Job(datetime.min, JobKind.TOPIC_DEADLINE, target).id]
    if subject is Subject.TASK:
        return [Job(datetime.min, JobKind.OFFER_EXPIRY, target).id]
    return [
        Job(datetime.min, JobKind.MEETING_REMINDER, target, offset).id
        for offset in council.meeting_reminders
    ]


def ballot_jobs(ballot: Ballot, council: Council) -> list[Job]:
    if not ballot.is_open or ballot.deadline is None:
        return []
    assert ballot.id is not None
    return _ballot_jobs(ballot.id, ballot.opened_at, ballot.deadline, council.ballot_nudge)


def _ballot_jobs(ballot_id: int, opened_at: datetime, deadline: datetime, nudge: int) -> list[Job]:
    jobs = [Job(deadline, JobKind.BALLOT_CLOSE, ballot_id)]
    at = deadline - timedelta(minutes=nudge)
    # A nudge as the ballot opens would tell members what the ballot message just did.
    if nudge and at > opened_at:
        jobs.append(Job(at, JobKind.BALLOT_NUDGE, ballot_id))
    return jobs


def topic_jobs(topic: Topic) -> list[Job]:
    if topic.phase is not Phase.COLLECTING or topic.deadline is None:
        return []
    assert topic.id is not None
    return [Job(topic.deadline, JobKind.TOPIC_DEADLINE, topic.id)]


def meeting_jobs(meeting: Meeting, council: Council) -> list[Job]:
    if not meeting.is_scheduled:
        return []
    assert meeting.id is not None
    return _meeting_jobs(meeting.id, meeting.starts_at, meeting.version, council.meeting_reminders)


def _meeting_jobs(
    meeting_id: int, starts_at: datetime, version: int, offsets: tuple[int, ...]
) -> list[Job]:
    return [
        Job(
            starts_at - timedelta(minutes=offset),
            JobKind.MEETING_REMINDER,
            meeting_id,
            offset,
            version,
        )
        for offset in offsets
    ]


# --- every job at once, from the moments alone ------------------------------------------


@dataclass(frozen=True)
class BallotMoments:
    """What an open ballot with a deadline plans from: its times, not its votes or rule."""

    ballot_id: int
    council_id: int
    opened_at: datetime
    deadline: datetime


@dataclass(frozen=True)
class MeetingMoments:
    """What a scheduled meeting plans from."""

    meeting_id: int
    council_id: int
    starts_at: datetime
    version: int


@dataclass(frozen=True)
class CouncilMoments:
    """A council's reminder settings (minutes before a meeting; before a deadline)."""

    meeting_reminders: tuple[int, ...]
    ballot_nudge: int


@dataclass(frozen=True)
class Moments:
    """Everything that plans a job, read in a few queries (``ScheduleReader``): what
    planning 100,000 jobs at start-up needs, without loading a ballot's rule or a
    meeting's agenda."""

    ballots: list[BallotMoments]
    topics: dict[int, datetime]  # a collecting topic -> its deadline
    meetings: list[MeetingMoments]
    councils: dict[int, CouncilMoments]  # those of the ballots and meetings
    expiries: dict[int, datetime]  # a task waiting for answers -> its earliest expiry


def jobs_of(moments: Moments) -> list[Job]:
    """The jobs the moments plan: the same as ``ballot_jobs``, ``topic_jobs``,
    ``meeting_jobs`` and ``task_jobs`` give subject by subject."""
    councils = moments.councils
    jobs = [
        job
        for b in moments.ballots
        for job in _ballot_jobs(
            b.ballot_id, b.opened_at, b.deadline, councils[b.council_id].ballot_nudge
        )
    ]
    jobs += [Job(at, JobKind.TOPIC_DEADLINE, topic_id) for topic_id, at in moments.topics.items()]
    jobs += [
        job
        for m in moments.meetings
        for job in _meeting_jobs(
            m.meeting_id, m.starts_at, m.version, councils[m.council_id].meeting_reminders
        )
    ]
    jobs += [job for task_id, at in moments.expiries.items() for job in task_jobs(task_id, at)]
    return jobs


def worth_planning(job: Job, *, now: datetime, grace: timedelta) -> bool:
    """A reminder already past its grace is dropped rather than planned and skipped."""
    return not (job.kind.skippable and job.at < now - grace)


def task_jobs(task_id: int, expiry: datetime | None) -> list[Job]:
    """A task waiting for answers is looked at again when its earliest offer runs out."""
    return [] if expiry is None else [Job(expiry, JobKind.OFFER_EXPIRY, task_id)]
