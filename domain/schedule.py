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

    @property
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
    jobs = [Job(ballot.deadline, JobKind.BALLOT_CLOSE, ballot.id)]
    nudge = ballot.deadline - timedelta(minutes=council.ballot_nudge)
    # A nudge as the ballot opens would tell members what the ballot message just did.
    if council.ballot_nudge and nudge > ballot.opened_at:
        jobs.append(Job(nudge, JobKind.BALLOT_NUDGE, ballot.id))
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
    return [
        Job(
            meeting.starts_at - timedelta(minutes=offset),
            JobKind.MEETING_REMINDER,
            meeting.id,
            offset,
            meeting.version,
        )
        for offset in council.meeting_reminders
    ]


def worth_planning(job: Job, *, now: datetime, grace: timedelta) -> bool:
    """A reminder already past its grace is dropped rather than planned and skipped."""
    return not (job.kind.skippable and job.at < now - grace)


def task_jobs(task_id: int, expiry: datetime | None) -> list[Job]:
    """A task waiting for answers is looked at again when its earliest offer runs out."""
    return [] if expiry is None else [Job(expiry, JobKind.OFFER_EXPIRY, task_id)]
