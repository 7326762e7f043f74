"""The schedule's read model (``storage/schedule.py``) against the aggregates, on SQLite
and PostgreSQL: the moments read as columns are the ones whole ballots, topics,
meetings and councils give (``tests/schedule_moments.py``), and they plan the same jobs
as the per-subject functions of ``domain/schedule.py``."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from domain.model import Meeting, MeetingStatus, Phase
from domain.schedule import ballot_jobs, jobs_of, meeting_jobs, task_jobs, topic_jobs
from domain.task_rules import TaskState
from storage.uow import Database
from tests.schedule_moments import moments_through
from tests.storage.helpers import (
    add_offers,
    add_tasks,
    at,
    in_shanghai,
    make_ballot,
    make_council,
    make_members,
    make_task,
    make_topic,
    offer,
)


async def seed(db: Database) -> None:
    """Every case planning tells apart, in two councils with different settings."""
    plain = await make_council(db, chat_id=-1001)
    quiet = await make_council(db, chat_id=-1002)
    async with db.uow() as uow:
        council = await uow.councils.get(quiet)
        assert council is not None
        council.ballot_nudge = 0  # no nudge before a deadline
        council.meeting_reminders = (10080, 30)
        await uow.councils.update(council)
        await uow.commit()
    for council_id in (plain, quiet):
        topic = await make_topic(db, council_id)  # collecting, no deadline: nothing
        await make_ballot(db, council_id, topic)  # open, deadline a day ahead: close + nudge
        await make_ballot(db, council_id, topic, deadline=None)  # no deadline: nothing
        await make_ballot(db, council_id, topic, closed_at=at(30))  # closed: nothing
        # Opened less than the nudge before its deadline: a closing only.
        await make_ballot(db, council_id, topic, opened_at=at(100), deadline=at(110))
        # Written in another zone: the same instant.
        await make_ballot(db, council_id, topic, deadline=in_shanghai(at(2000)))
        collecting = await make_topic(db, council_id)
        voting = await make_topic(db, council_id)
        async with db.uow() as uow:
            for topic_id, phase in ((collecting, Phase.COLLECTING), (voting, Phase.VOTING)):
                found = await uow.topics.get(topic_id)
                assert found is not None
                found.phase, found.deadline = phase, at(500 + topic_id)
                await uow.topics.update(found)
            for minutes, status in (
                (3000, MeetingStatus.SCHEDULED),
                (4000, MeetingStatus.CANCELLED),
                (-10, MeetingStatus.SCHEDULED),  # already begun: not upcoming
            ):
                await uow.meetings.add(
                    Meeting(
                        council_id=council_id,
                        starts_at=at(minutes),
                        place="活动室",
                        online=False,
                        scheduled_by=7_000_000_001,
                        changed_at=at(0),
                        status=status,
                        version=2,
                    )
                )
            await uow.commit()
    members = await make_members(db, plain, 2)
    waiting, taken = await add_tasks(
        db, make_task(plain, state=TaskState.OFFERED), make_task(plain, state=TaskState.ACCEPTED)
    )
    await add_offers(
        db,
        offer(waiting, members[0], 5),
        offer(waiting, members[1], 1),
        offer(taken, members[0], 2),
    )


async def test_moments_are_the_aggregates(database: Database) -> None:
    await seed(database)
    now = at(0)
    async with database.uow() as uow:
        read = await uow.schedule.moments(now)
        expected = await moments_through(uow, now)
    # The reader reads every council's settings; the aggregates only those in use.
    assert {k: read.councils[k] for k in expected.councils} == expected.councils
    assert dataclasses.replace(read, councils=expected.councils) == expected
    assert len(read.ballots) == 6 and len(read.topics) == 2 and len(read.meetings) == 2
    assert list(read.expiries.values()) == [at(31)]


async def test_moments_plan_what_each_subject_plans(database: Database) -> None:
    await seed(database)
    now = at(0)
    async with database.uow() as uow:
        jobs = jobs_of(await uow.schedule.moments(now))
        each = []
        for ballot in await uow.ballots.open_with_deadline():
            council = await uow.councils.get(ballot.council_id)
            assert council is not None
            each += ballot_jobs(ballot, council)
        for topic in await uow.topics.collecting_with_deadline():
            each += topic_jobs(topic)
        for meeting in await uow.meetings.all_upcoming(now):
            council = await uow.councils.get(meeting.council_id)
            assert council is not None
            each += meeting_jobs(meeting, council)
        for task_id, expiry in (await uow.offers.pending_expiries()).items():
            each += task_jobs(task_id, expiry)
    assert sorted(jobs) == sorted(each)
    # plain: 2 + 1 + 2 ballots, 1 topic, 2 reminders; quiet (no nudges): 1 + 1 + 1, 1, 2;
    # one task waiting for answers.
    assert len(jobs) == 8 + 6 + 1
    assert all(job.at.utcoffset() == timedelta(0) for job in jobs)
