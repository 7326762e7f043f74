"""Use cases record what follows them as domain events, published only once committed.

On the fakes, as a bus would receive them (``FakeStore.published``): the use case
decides what changed, the bus decides who hears of it (``bot.runtime.bus``).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import errors, meetings, services, volunteering
from domain.events import (
    BallotChanged,
    Event,
    MeetingChanged,
    NoticesQueued,
    RemindersChanged,
    ScheduleChanged,
    TopicChanged,
    VoteCast,
)
from domain.model import BallotKind
from domain.schedule import JobKind, Subject
from tests.domain.builders import (
    CHAIR,
    CHAT,
    CLOSING,
    NOW,
    STARTS,
    ident,
    join,
    open_topic,
    put_motion,
    schedule,
    set_up,
    vote,
)
from tests.fakes import FakeUnitOfWorkFactory


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


def published_by(factory: FakeUnitOfWorkFactory, since: int) -> list[Event]:
    return factory.store.published[since:]


def schedules(events: list[Event]) -> dict[tuple[Subject, int], ScheduleChanged]:
    return {(e.subject, e.target): e for e in events if isinstance(e, ScheduleChanged)}


async def test_putting_a_topic_to_the_vote_plans_the_ballot_and_ends_the_collection(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    topic = await open_topic(factory, council_id, deadline=NOW + timedelta(days=1))
    mark = len(factory.store.published)
    ballot = await put_motion(factory, council_id, topic)

    planned = schedules(published_by(factory, mark))
    ballot_plan = planned[(Subject.BALLOT, ident(ballot))]
    assert [job.kind for job in ballot_plan.jobs] == [JobKind.BALLOT_NUDGE, JobKind.BALLOT_CLOSE]
    assert ballot_plan.jobs[-1].at == CLOSING
    assert set(ballot_plan.ids) >= {job.id for job in ballot_plan.jobs}
    topic_plan = planned[(Subject.TOPIC, ident(topic))]
    assert topic_plan.jobs == ()  # voting: its collection deadline is no longer planned
    assert topic_plan.ids  # … and the job it had is named, to be dropped


async def test_posting_the_ballot_message_updates_the_topic_card(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    topic = await open_topic(factory, council_id)
    ballot = await put_motion(factory, council_id, topic)
    mark = len(factory.store.published)
    await services.set_ballot_message(factory(), ballot_id=ident(ballot), message_ref=77)
    assert published_by(factory, mark) == [TopicChanged(ident(topic))]


async def test_a_ballot_put_in_a_chat_reads_the_deadline_in_the_council_s_time_zone(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    topic = await open_topic(factory, council_id)
    view = await services.put_ballot_in_chat(
        factory(),
        chat_id=CHAT,
        thread_id=0,
        user_id=CHAIR,
        kind=BallotKind.MOTION,
        deadline="05-08 20:00",  # Asia/Shanghai, 12:00 UTC
        now=NOW,
    )
    assert view.ballot.topic_id == ident(topic)
    assert view.ballot.deadline == NOW.replace(day=8, hour=12, minute=0)
    assert view.council.id == council_id and view.roll_size == 0
    with pytest.raises(errors.InvalidInput):
        await services.put_ballot_in_chat(
            factory(),
            chat_id=CHAT,
            thread_id=0,
            user_id=CHAIR,
            kind=BallotKind.MOTION,
            deadline="someday",
            now=NOW,
        )


async def test_a_vote_asks_for_a_tally_refresh_but_the_same_vote_again_does_not(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, 11)
    ballot = await put_motion(factory, council_id, await open_topic(factory, council_id))

    mark = len(factory.store.published)
    await vote(factory, ident(ballot), 11, "for")
    assert published_by(factory, mark) == [VoteCast(ident(ballot))]
    mark = len(factory.store.published)
    await vote(factory, ident(ballot), 11, "for")
    assert published_by(factory, mark) == []
    await vote(factory, ident(ballot), 11, "against")  # a change is news again
    assert published_by(factory, mark) == [VoteCast(ident(ballot))]


async def test_a_batch_of_votes_asks_once_per_ballot(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    for user in (11, 12, 13):
        await join(factory, council_id, user)
    ballot = await put_motion(factory, council_id, await open_topic(factory, council_id))
    mark = len(factory.store.published)
    requests = [services.VoteRequest(f"k{u}", ident(ballot), u, "for") for u in (11, 12, 13)]
    await services.cast_votes(factory(), requests, now=NOW)
    assert published_by(factory, mark) == [VoteCast(ident(ballot))]


async def test_a_refused_use_case_publishes_nothing(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    topic = await open_topic(factory, council_id)
    mark = len(factory.store.published)
    with pytest.raises(errors.NotChair):
        await services.put_ballot(
            factory(),
            council_id=council_id,
            topic_id=topic.id,
            user_id=12345,
            kind=BallotKind.MOTION,
            deadline=CLOSING,
            now=NOW,
        )
    with pytest.raises(errors.BallotNotFound):
        await vote(factory, 404, 11, "for")
    assert published_by(factory, mark) == []


async def test_closing_queues_the_outcome_and_drops_the_ballot_s_jobs(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    ballot = await put_motion(factory, council_id, await open_topic(factory, council_id))
    mark = len(factory.store.published)
    await services.close_ballot(factory(), council_id=council_id, user_id=CHAIR, now=NOW)
    events = published_by(factory, mark)
    assert NoticesQueued() in events
    assert schedules(events)[(Subject.BALLOT, ident(ballot))].jobs == ()


async def test_cancelling_a_topic_ends_its_ballots_jobs_and_redraws_them(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    topic = await open_topic(factory, council_id)
    ballot = await put_motion(factory, council_id, topic)
    mark = len(factory.store.published)
    await services.cancel_topic(
        factory(), council_id=council_id, topic_id=None, user_id=CHAIR, now=NOW
    )
    events = published_by(factory, mark)
    assert schedules(events)[(Subject.BALLOT, ident(ballot))].jobs == ()
    assert BallotChanged(ident(ballot)) in events and TopicChanged(ident(topic)) in events


async def test_a_second_updates_the_card_once_and_a_repeated_one_does_not(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, 11)
    await join(factory, council_id, 12)
    topic = await open_topic(factory, council_id)
    submitted = await services.submit_proposal(
        factory(),
        council_id=council_id,
        topic_id=None,
        user_id=11,
        text="建口袋花园",
        now=NOW,
    )
    proposal_id = ident(submitted.proposal)
    mark = len(factory.store.published)
    seconded = await services.second_proposal(
        factory(), proposal_id=proposal_id, user_id=12, now=NOW
    )
    assert seconded.added and len(seconded.proposal.seconds) == 1
    assert seconded.author.user_id == 11 and seconded.council.id == council_id
    assert published_by(factory, mark) == [TopicChanged(ident(topic))]
    mark = len(factory.store.published)
    again = await services.second_proposal(factory(), proposal_id=proposal_id, user_id=12, now=NOW)
    assert not again.added
    assert published_by(factory, mark) == []


async def test_deadlines_and_meetings_replan_their_jobs(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    topic = await open_topic(factory, council_id)
    mark = len(factory.store.published)
    await meetings.set_deadline(
        factory(), council_id=council_id, user_id=CHAIR, deadline=CLOSING, now=NOW
    )
    (plan,) = schedules(published_by(factory, mark)).values()
    assert (plan.subject, plan.target) == (Subject.TOPIC, ident(topic))
    assert [job.at for job in plan.jobs] == [CLOSING]

    mark = len(factory.store.published)
    meeting = await schedule(factory, council_id)
    (plan,) = schedules(published_by(factory, mark)).values()
    assert (plan.subject, plan.target) == (Subject.MEETING, ident(meeting))
    assert plan.jobs and all(job.at < STARTS for job in plan.jobs)

    mark = len(factory.store.published)
    later = STARTS + timedelta(days=1)
    await meetings.move_meeting(
        factory(),
        council_id=council_id,
        meeting_id=ident(meeting),
        user_id=CHAIR,
        starts_at=later,
        now=NOW,
    )
    events = published_by(factory, mark)
    moved = schedules(events)[(Subject.MEETING, ident(meeting))]
    assert sorted(job.at for job in moved.jobs) == sorted(
        job.at + timedelta(days=1) for job in plan.jobs
    )
    assert MeetingChanged(ident(meeting)) in events

    mark = len(factory.store.published)
    await meetings.set_reminders(
        factory(), council_id=council_id, user_id=CHAIR, meeting_offsets=[60]
    )
    assert published_by(factory, mark) == [RemindersChanged(council_id)]


async def test_a_request_for_help_sends_offers_and_plans_their_expiry(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, 11)
    await join(factory, council_id, 21)
    await volunteering.register_volunteer(
        factory(),
        council_id=council_id,
        user_id=21,
        skills=("repair",),
        grid="1",
        team=None,
        available=True,
        now=NOW,
    )
    mark = len(factory.store.published)
    dispatched = await volunteering.request_service(
        factory(),
        council_id=council_id,
        user_id=11,
        skill="repair",
        description="厨房水管爆了",
        place="",
        photo=None,
        now=NOW,
    )
    events = published_by(factory, mark)
    assert dispatched.offered and NoticesQueued() in events
    (expiry,) = schedules(events)[(Subject.TASK, ident(dispatched.task))].jobs
    assert expiry.kind is JobKind.OFFER_EXPIRY
    assert expiry.at == min(offer.expires_at for offer in dispatched.offered)
