"""What the scheduler runs (``domain/due_jobs.py``), on the fakes.

Every subject is built with the use cases, as the bot would build it, at a
fixed ``NOW``; jobs are then planned and run at chosen moments. A run that
does nothing is checked to commit nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

import pytest

from domain import meetings, services
from domain.due_jobs import CLOCK_MARGIN, JobRun, Ran, is_ours, plan, plan_for, run_job
from domain.model import (
    DEFAULT_BALLOT_NUDGE,
    Ballot,
    BallotKind,
    Meeting,
    Member,
    MemberStatus,
    NoticeKind,
    Phase,
    Proposal,
    Topic,
)
from domain.rules import Choice
from domain.schedule import Job, JobKind, Subject
from tests.domain import builders
from tests.domain.builders import (
    CHAIR,
    CHAT,
    CLOSING,
    GRACE,
    NOW,
    OTHER_CHAT,
    STARTS,
    ident,
    notices,
    open_topic,
    put_motion,
    reachable,
    set_up,
    unchanged,
    update_council,
    vote,
)
from tests.fakes import FakeUnitOfWorkFactory

COLLECTED = NOW + timedelta(days=1)  # a topic's deadline
NUDGE = timedelta(minutes=DEFAULT_BALLOT_NUDGE)
FOR, AGAINST, ABSTAIN = Choice.FOR.value, Choice.AGAINST.value, Choice.ABSTAIN.value


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


# --- builders ----------------------------------------------------------------

# Every meeting here has one item on its agenda.
schedule = partial(builders.schedule, items=["物业费"])


async def join(factory: FakeUnitOfWorkFactory, council_id: int, user_id: int) -> Member:
    """Here each member lives in room 1-1-(100 + user id)."""
    return await builders.join(factory, council_id, user_id, address=f"1-1-{100 + user_id}")


async def council_with_roll(factory: FakeUnitOfWorkFactory, size: int) -> tuple[int, list[int]]:
    """A council and ``size`` active members; user ids 101, 102, …"""
    council_id = await set_up(factory)
    users = [101 + i for i in range(size)]
    for user in users:
        await join(factory, council_id, user)
    return council_id, users


async def motion(
    factory: FakeUnitOfWorkFactory,
    council_id: int,
    *,
    deadline: datetime | None = CLOSING,
    now: datetime = NOW,
) -> Ballot:
    topic = await open_topic(factory, council_id, now=now)
    return await put_motion(factory, council_id, topic, deadline=deadline, now=now)


async def propose(
    factory: FakeUnitOfWorkFactory, topic_id: int, user_id: int, *, at: datetime
) -> Proposal:
    async with factory() as uow:
        topic = await uow.topics.get(topic_id)
        assert topic is not None
    submitted = await services.submit_proposal(
        factory(),
        council_id=topic.council_id,
        topic_id=topic_id,
        user_id=user_id,
        text=f"提案 {user_id}",
        now=at,
    )
    return submitted.proposal


async def second(factory: FakeUnitOfWorkFactory, proposal_id: int, user_id: int) -> None:
    await services.second_proposal(factory(), proposal_id=proposal_id, user_id=user_id, now=NOW)


async def unreachable(factory: FakeUnitOfWorkFactory, *user_ids: int) -> None:
    async with factory() as uow:
        for user_id in user_ids:
            await uow.contacts.mark(user_id, False, NOW)
        await uow.commit()


async def run(
    factory: FakeUnitOfWorkFactory, job_id: str, at: datetime, grace: timedelta = GRACE
) -> JobRun:
    return await run_job(factory(), job_id, now=at, grace=grace)


async def planned(
    factory: FakeUnitOfWorkFactory, at: datetime = NOW, grace: timedelta = GRACE
) -> list[Job]:
    return await plan(factory(), now=at, grace=grace)


def close_id(ballot: Ballot) -> str:
    return f"ballot_close:{ident(ballot)}"


def nudge_id(ballot: Ballot) -> str:
    return f"ballot_nudge:{ident(ballot)}"


def topic_id_of(topic: Topic) -> str:
    return f"topic_deadline:{ident(topic)}"


def reminder_id(meeting: Meeting, offset: int) -> str:
    return f"meeting_reminder:{ident(meeting)}:{offset}"


# --- plan --------------------------------------------------------------------


async def test_plan_lists_exactly_the_jobs_of_every_subject(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    ballot = await motion(factory, council_id)
    topic = await open_topic(factory, council_id, deadline=COLLECTED, title="停车位")
    meeting = await schedule(factory, council_id)

    jobs = await planned(factory)

    b, t, m = ident(ballot), ident(topic), ident(meeting)
    assert jobs == sorted(
        [
            Job(CLOSING, JobKind.BALLOT_CLOSE, b),
            Job(CLOSING - NUDGE, JobKind.BALLOT_NUDGE, b),
            Job(COLLECTED, JobKind.TOPIC_DEADLINE, t),
            Job(STARTS - timedelta(minutes=24 * 60), JobKind.MEETING_REMINDER, m, 24 * 60, 1),
            Job(STARTS - timedelta(minutes=60), JobKind.MEETING_REMINDER, m, 60, 1),
        ]
    )
    assert [j.id for j in jobs] == [
        f"topic_deadline:{t}",
        f"ballot_nudge:{b}",
        f"ballot_close:{b}",
        f"meeting_reminder:{m}:1440",
        f"meeting_reminder:{m}:60",
    ]


async def test_plan_is_empty_without_anything_to_do(factory: FakeUnitOfWorkFactory) -> None:
    assert await planned(factory) == []
    council_id = await set_up(factory)
    await motion(factory, council_id, deadline=None)  # no deadline: nothing to close
    await open_topic(factory, council_id, title="无截止")  # collecting, no deadline
    assert await planned(factory) == []


async def test_plan_uses_each_councils_own_reminders(factory: FakeUnitOfWorkFactory) -> None:
    first = await set_up(factory)
    second_ = await set_up(factory, chat_id=OTHER_CHAT)
    await update_council(factory, second_, meeting_reminders=(120, 30), ballot_nudge=0)
    await update_council(factory, first, meeting_reminders=(45,), ballot_nudge=10)
    m1 = await schedule(factory, first)
    m2 = await schedule(factory, second_)
    b1 = await motion(factory, first)
    b2 = await motion(factory, second_)

    jobs = await planned(factory)

    assert sorted(j.id for j in jobs) == sorted(
        [
            reminder_id(m1, 45),
            reminder_id(m2, 120),
            reminder_id(m2, 30),
            close_id(b1),
            nudge_id(b1),
            close_id(b2),  # the second council nudges nobody
        ]
    )
    nudge = next(j for j in jobs if j.kind is JobKind.BALLOT_NUDGE)
    assert nudge.at == CLOSING - timedelta(minutes=10)


async def test_plan_omits_closed_ballots_cancelled_meetings_and_voting_topics(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    closed = await motion(factory, council_id)
    await services.close_ballot(
        factory(), council_id=council_id, ballot_id=ident(closed), user_id=CHAIR, now=NOW
    )
    cancelled = await schedule(factory, council_id)
    await meetings.cancel_meeting(
        factory(), council_id=council_id, meeting_id=ident(cancelled), user_id=CHAIR, now=NOW
    )
    voting = await open_topic(factory, council_id, deadline=COLLECTED, title="已表决")
    await put_motion(factory, council_id, voting, deadline=None)
    cancelled_topic = await open_topic(factory, council_id, deadline=COLLECTED, title="取消")
    await services.cancel_topic(
        factory(), council_id=council_id, topic_id=ident(cancelled_topic), user_id=CHAIR, now=NOW
    )

    assert await planned(factory) == []


async def test_plan_omits_reminders_past_their_grace_but_keeps_late_closings(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    earlier = NOW - timedelta(days=3)
    # A ballot whose deadline passed while the bot was down: it must still close.
    overdue = await motion(factory, council_id, deadline=NOW - timedelta(days=1), now=earlier)
    # Opened days ago, closing in an hour: its 2-hour nudge was due an hour ago.
    soon = await motion(factory, council_id, deadline=NOW + timedelta(hours=1), now=earlier)
    # Starting in 50 minutes: the 60-minute reminder is 10 minutes late, within grace.
    near = await schedule(factory, council_id, starts_at=NOW + timedelta(minutes=50))
    # Starting in 30 minutes: its reminders are 30 minutes late, past grace.
    nearer = await schedule(factory, council_id, starts_at=NOW + timedelta(minutes=30))
    # Already started: not upcoming at all.
    await schedule(factory, council_id, starts_at=NOW - timedelta(minutes=5), now=earlier)

    jobs = await planned(factory)

    assert sorted(j.id for j in jobs) == sorted(
        [close_id(overdue), close_id(soon), reminder_id(near, 60)]
    )
    assert all(j.target != ident(nearer) or j.kind is not JobKind.MEETING_REMINDER for j in jobs)
    # With a longer grace the late reminders are worth planning again.
    longer = await planned(factory, grace=timedelta(hours=2))
    assert nudge_id(soon) in {j.id for j in longer}
    assert reminder_id(nearer, 60) in {j.id for j in longer}


async def test_plan_omits_runs_already_claimed(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await council_with_roll(factory, 2)
    ballot = await motion(factory, council_id)
    meeting = await schedule(factory, council_id)
    assert (await run(factory, nudge_id(ballot), CLOSING - NUDGE)).ran is Ran.DONE
    reminded = STARTS - timedelta(days=1)
    assert (await run(factory, reminder_id(meeting, 1440), reminded)).ran is Ran.DONE

    # Planned once both have run, with a grace that would still keep them: only their
    # claims leave them out.
    ids = [j.id for j in await planned(factory, at=reminded, grace=timedelta(hours=3))]

    assert ids == [close_id(ballot), reminder_id(meeting, 60)]


async def test_plan_looks_up_claims_only_of_jobs_due_by_its_clock(
    factory: FakeUnitOfWorkFactory,
) -> None:
    """A run is claimed only once due, so ``plan`` looks up the claims of jobs due by its
    clock (plus ``CLOCK_MARGIN``): at start-up nearly every job is ahead. A run claimed
    by a process whose clock was further ahead is planned again, and finds its claim."""
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    reminded = STARTS - timedelta(days=1)
    assert (await run(factory, reminder_id(meeting, 1440), reminded)).ran is Ran.DONE

    behind = reminded - CLOCK_MARGIN - timedelta(seconds=1)
    within = reminded - CLOCK_MARGIN + timedelta(seconds=1)

    assert reminder_id(meeting, 1440) in {j.id for j in await planned(factory, at=behind)}
    assert reminder_id(meeting, 1440) not in {j.id for j in await planned(factory, at=within)}
    assert (await run(factory, reminder_id(meeting, 1440), reminded)).ran is Ran.ALREADY


async def test_plan_omits_a_reminder_that_was_skipped(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    late = STARTS - timedelta(minutes=60) + GRACE + timedelta(seconds=1)
    assert (await run(factory, reminder_id(meeting, 60), late)).ran is Ran.SKIPPED
    # Even with a grace that would have allowed it, the skipped run stays claimed.
    jobs = await planned(factory, at=late, grace=timedelta(hours=1))
    assert reminder_id(meeting, 60) not in {j.id for j in jobs}


# --- plan_for ----------------------------------------------------------------


async def test_plan_for_a_ballot(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    ballot = await motion(factory, council_id)
    b = ident(ballot)

    ids, jobs = await plan_for(factory(), Subject.BALLOT, b, now=NOW, grace=GRACE)

    assert ids == [f"ballot_close:{b}", f"ballot_nudge:{b}"]
    assert jobs == [
        Job(CLOSING - NUDGE, JobKind.BALLOT_NUDGE, b),
        Job(CLOSING, JobKind.BALLOT_CLOSE, b),
    ]


async def test_plan_for_a_ballot_without_nudge_still_names_the_nudge_id(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await update_council(factory, council_id, ballot_nudge=0)
    ballot = await motion(factory, council_id)

    ids, jobs = await plan_for(factory(), Subject.BALLOT, ident(ballot), now=NOW, grace=GRACE)

    assert ids == [close_id(ballot), nudge_id(ballot)]  # so a stale nudge can be dropped
    assert [j.id for j in jobs] == [close_id(ballot)]


@pytest.mark.parametrize(
    ("open_for", "nudged"),
    [
        (NUDGE + timedelta(seconds=1), True),  # the nudge comes a second after opening
        (NUDGE, False),  # the nudge would come as the ballot opens
        (NUDGE - timedelta(minutes=1), False),  # ... or before it opened
    ],
)
async def test_a_nudge_is_planned_only_after_the_ballot_opened(
    factory: FakeUnitOfWorkFactory, open_for: timedelta, nudged: bool
) -> None:
    council_id = await set_up(factory)
    ballot = await motion(factory, council_id, deadline=NOW + open_for)
    assert ballot.opened_at == NOW
    b = ident(ballot)

    ids, jobs = await plan_for(factory(), Subject.BALLOT, b, now=NOW, grace=GRACE)

    assert ids == [close_id(ballot), nudge_id(ballot)]  # named either way
    close = Job(NOW + open_for, JobKind.BALLOT_CLOSE, b)
    nudge = Job(NOW + open_for - NUDGE, JobKind.BALLOT_NUDGE, b)
    assert jobs == ([nudge, close] if nudged else [close])
    assert [j.id for j in await planned(factory)] == [j.id for j in jobs]
    if not nudged:
        with unchanged(factory):
            assert (await run(factory, nudge_id(ballot), NOW)).ran is Ran.STALE


async def test_plan_for_a_closed_ballot_names_its_ids_and_plans_nothing(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    ballot = await motion(factory, council_id)
    await services.close_ballot(
        factory(), council_id=council_id, ballot_id=ident(ballot), user_id=CHAIR, now=NOW
    )
    ids, jobs = await plan_for(factory(), Subject.BALLOT, ident(ballot), now=NOW, grace=GRACE)
    assert ids == [close_id(ballot), nudge_id(ballot)]
    assert jobs == []


async def test_plan_for_leaves_out_claimed_and_late_runs(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)
    await run(factory, nudge_id(ballot), CLOSING - NUDGE)

    _, jobs = await plan_for(factory(), Subject.BALLOT, ident(ballot), now=NOW, grace=GRACE)
    assert [j.id for j in jobs] == [close_id(ballot)]

    meeting = await schedule(factory, council_id)
    after_first = STARTS - timedelta(hours=2)  # the 24 h reminder is long past its grace
    ids, jobs = await plan_for(
        factory(), Subject.MEETING, ident(meeting), now=after_first, grace=GRACE
    )
    assert ids == [reminder_id(meeting, 1440), reminder_id(meeting, 60)]
    assert [j.id for j in jobs] == [reminder_id(meeting, 60)]


async def test_plan_for_a_topic(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    topic = await open_topic(factory, council_id, deadline=COLLECTED)
    t = ident(topic)

    ids, jobs = await plan_for(factory(), Subject.TOPIC, t, now=NOW, grace=GRACE)

    assert ids == [f"topic_deadline:{t}"]
    assert jobs == [Job(COLLECTED, JobKind.TOPIC_DEADLINE, t)]

    without = await open_topic(factory, council_id, title="无截止")
    ids, jobs = await plan_for(factory(), Subject.TOPIC, ident(without), now=NOW, grace=GRACE)
    assert ids == [topic_id_of(without)]
    assert jobs == []


async def test_plan_for_a_meeting(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    m = ident(meeting)

    ids, jobs = await plan_for(factory(), Subject.MEETING, m, now=NOW, grace=GRACE)

    assert ids == [f"meeting_reminder:{m}:1440", f"meeting_reminder:{m}:60"]
    assert jobs == [
        Job(STARTS - timedelta(days=1), JobKind.MEETING_REMINDER, m, 1440, 1),
        Job(STARTS - timedelta(hours=1), JobKind.MEETING_REMINDER, m, 60, 1),
    ]

    moved = await meetings.move_meeting(
        factory(),
        council_id=council_id,
        meeting_id=m,
        user_id=CHAIR,
        starts_at=STARTS + timedelta(hours=2),
        now=NOW,
    )
    _, jobs = await plan_for(factory(), Subject.MEETING, m, now=NOW, grace=GRACE)
    assert [(j.at, j.version) for j in jobs] == [
        (moved.starts_at - timedelta(days=1), 2),
        (moved.starts_at - timedelta(hours=1), 2),
    ]

    await meetings.cancel_meeting(
        factory(), council_id=council_id, meeting_id=m, user_id=CHAIR, now=NOW
    )
    ids, jobs = await plan_for(factory(), Subject.MEETING, m, now=NOW, grace=GRACE)
    assert ids == [reminder_id(meeting, 1440), reminder_id(meeting, 60)]
    assert jobs == []


@pytest.mark.parametrize("subject", list(Subject))
async def test_plan_for_something_that_does_not_exist(
    factory: FakeUnitOfWorkFactory, subject: Subject
) -> None:
    await set_up(factory)
    assert await plan_for(factory(), subject, 42, now=NOW, grace=GRACE) == ([], [])


def test_job_ids_are_ours() -> None:
    assert is_ours("ballot_close:3")
    assert is_ours("meeting_reminder:3:60")
    assert not is_ours("something_else:3")
    assert not is_ours("ballot_close")
    assert not is_ours("ballot_close:x")
    assert Job.parse_id("meeting_reminder:7:1440") == (JobKind.MEETING_REMINDER, 7, 1440)


def test_a_claim_names_the_run() -> None:
    job = Job(STARTS, JobKind.MEETING_REMINDER, 7, 60, 2)
    assert job.id == "meeting_reminder:7:60"
    assert job.claim == f"job:meeting_reminder:7:60:v2:{STARTS.isoformat()}"
    moved = Job(STARTS + timedelta(hours=1), JobKind.MEETING_REMINDER, 7, 60, 3)
    assert moved.id == job.id
    assert moved.claim != job.claim


# --- closing a ballot --------------------------------------------------------


async def test_a_close_before_its_deadline_is_not_due(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    ballot = await motion(factory, council_id)
    with unchanged(factory):
        result = await run(factory, close_id(ballot), CLOSING - timedelta(seconds=1))
    assert result.ran is Ran.NOT_DUE
    assert result.job == Job(CLOSING, JobKind.BALLOT_CLOSE, ident(ballot))
    assert result.notices == 0


async def test_a_due_close_closes_the_ballot_and_announces_the_outcome(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, users = await council_with_roll(factory, 3)
    ballot = await motion(factory, council_id)
    await vote(factory, ident(ballot), users[0], FOR)
    await vote(factory, ident(ballot), users[1], FOR)
    await vote(factory, ident(ballot), users[2], AGAINST)
    at = CLOSING + timedelta(seconds=30)

    result = await run(factory, close_id(ballot), at)

    assert result.ran is Ran.DONE
    assert result.late == timedelta(seconds=30)
    assert result.notices == 1
    state = factory.store.committed
    stored = state.ballots[ident(ballot)]
    assert stored.closed_at == at
    assert stored.outcome is not None
    assert state.topics[stored.topic_id].phase is Phase.DECIDED
    assert [r.ballot_id for r in state.resolutions.values()] == [ident(ballot)]
    (notice,) = notices(factory)
    assert notice.kind is NoticeKind.BALLOT_OUTCOME
    assert notice.key == f"ballot:{ident(ballot)}:outcome"
    assert (notice.council_id, notice.chat_id, notice.thread_id) == (council_id, CHAT, 0)
    assert notice.subject == ident(ballot)
    assert notice.created_at == at
    assert not notice.private
    assert notice.params == {"late": False, "deadline": CLOSING.isoformat()}


@pytest.mark.parametrize(
    ("late", "said_late"),
    [
        (timedelta(0), False),
        (timedelta(minutes=1), False),
        (timedelta(minutes=1, seconds=1), True),
        (timedelta(hours=5), True),
        (timedelta(days=3), True),
    ],
)
async def test_a_late_close_says_it_was_late(
    factory: FakeUnitOfWorkFactory, late: timedelta, said_late: bool
) -> None:
    council_id = await set_up(factory)
    ballot = await motion(factory, council_id)

    result = await run(factory, close_id(ballot), CLOSING + late)

    assert result.ran is Ran.DONE  # closings are never skipped, however late
    assert result.late == late
    (notice,) = notices(factory)
    assert notice.params["late"] is said_late


async def test_a_close_run_twice_closes_and_announces_once(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    ballot = await motion(factory, council_id)
    assert (await run(factory, close_id(ballot), CLOSING)).ran is Ran.DONE
    closed_at = factory.store.committed.ballots[ident(ballot)].closed_at

    with unchanged(factory):
        again = await run(factory, close_id(ballot), CLOSING + timedelta(minutes=5))

    assert again.ran in (Ran.STALE, Ran.ALREADY)
    assert len(notices(factory)) == 1
    assert factory.store.committed.ballots[ident(ballot)].closed_at == closed_at


async def test_a_chairs_close_before_the_job_makes_it_stale(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    ballot = await motion(factory, council_id)
    await services.close_ballot(
        factory(), council_id=council_id, ballot_id=ident(ballot), user_id=CHAIR, now=NOW
    )

    with unchanged(factory):
        close = await run(factory, close_id(ballot), CLOSING)
        nudge = await run(factory, nudge_id(ballot), CLOSING - NUDGE)

    assert close == JobRun(Ran.STALE)
    assert nudge == JobRun(Ran.STALE)
    # The only announcement is the one the chair's close queued.
    assert [n.key for n in notices(factory)] == [f"ballot:{ident(ballot)}:outcome"]


async def test_a_cancelled_topic_makes_its_ballot_jobs_stale(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    ballot = await motion(factory, council_id)
    await services.cancel_topic(
        factory(), council_id=council_id, topic_id=ballot.topic_id, user_id=CHAIR, now=NOW
    )
    with unchanged(factory):
        assert (await run(factory, close_id(ballot), CLOSING)).ran is Ran.STALE


async def test_a_moved_deadline_is_not_due_at_the_old_time(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    ballot = await motion(factory, council_id)
    later = CLOSING + timedelta(days=1)
    await meetings.set_deadline(
        factory(), council_id=council_id, user_id=CHAIR, deadline=later, now=NOW
    )

    with unchanged(factory):
        result = await run(factory, close_id(ballot), CLOSING)
    assert result.ran is Ran.NOT_DUE
    assert result.job is not None and result.job.at == later

    assert (await run(factory, close_id(ballot), later)).ran is Ran.DONE


async def test_a_cleared_deadline_makes_the_close_stale(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    ballot = await motion(factory, council_id)
    await meetings.set_deadline(
        factory(), council_id=council_id, user_id=CHAIR, deadline=None, now=NOW
    )
    with unchanged(factory):
        assert (await run(factory, close_id(ballot), CLOSING)).ran is Ran.STALE


# --- nudging those who have not voted ----------------------------------------


async def test_a_nudge_reaches_only_members_who_have_not_voted(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, users = await council_with_roll(factory, 5)  # 101 … 105
    voted_for, abstained, private_ok, blocked, never_started = users
    # A pending applicant and a roster row without an account are not nudged.
    await update_council(factory, council_id, require_approval=True)
    pending = await join(factory, council_id, 106)
    assert pending.status is MemberStatus.PENDING
    async with factory() as uow:
        await uow.members.add(
            Member(
                council_id=council_id,
                user_id=None,
                name="未绑定",
                building="9",
                unit="",
                room="901",
                joined_at=NOW,
            )
        )
        await uow.commit()
    ballot = await motion(factory, council_id)
    await vote(factory, ident(ballot), voted_for, FOR)
    await vote(factory, ident(ballot), abstained, ABSTAIN)
    await reachable(factory, voted_for, private_ok, blocked, 106)
    await unreachable(factory, blocked)
    at = CLOSING - NUDGE + timedelta(minutes=3)

    result = await run(factory, nudge_id(ballot), at)

    assert result.ran is Ran.DONE
    assert result.notices == 2
    job = result.job
    assert job == Job(CLOSING - NUDGE, JobKind.BALLOT_NUDGE, ident(ballot))
    private, group = notices(factory)
    assert private.kind is NoticeKind.BALLOT_NUDGE
    assert private.key == f"{job.claim}:u{private_ok}"
    assert private.private
    assert private.chat_id == private_ok
    assert private.council_id == council_id
    assert private.subject == ident(ballot)
    assert private.created_at == at
    # What the private message and its group fallback need (more keys may follow).
    expected = {
        "deadline": CLOSING.isoformat(),
        "name": f"居民{private_ok}",
        "group": CHAT,
        "thread": 0,
    }
    assert {key: private.params.get(key) for key in expected} == expected
    assert group.kind is NoticeKind.NON_VOTERS
    assert group.key == f"{job.claim}:group"
    assert not group.private
    assert (group.chat_id, group.thread_id, group.subject) == (CHAT, 0, ident(ballot))
    assert group.params == {
        "deadline": CLOSING.isoformat(),
        "members": [[blocked, f"居民{blocked}"], [never_started, f"居民{never_started}"]],
        "secret": False,
    }


async def test_a_secret_ballot_s_nudge_names_nobody_in_the_group(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, users = await council_with_roll(factory, 4)
    voted, private_ok, _never_started, _also_not = users
    topic = await open_topic(factory, council_id, now=NOW)
    ballot = await put_motion(factory, council_id, topic, secret=True)
    await vote(factory, ident(ballot), voted, FOR)
    await reachable(factory, voted, private_ok)

    result = await run(factory, nudge_id(ballot), CLOSING - NUDGE + timedelta(minutes=1))

    assert result.ran is Ran.DONE
    private, group = notices(factory)
    # Privately, to the member concerned: that is allowed.
    assert (private.kind, private.chat_id) == (NoticeKind.BALLOT_NUDGE, private_ok)
    assert private.params["secret"] is True
    # In the group: the deadline, not one user id or name of who has or has not voted.
    assert group.kind is NoticeKind.NON_VOTERS
    assert group.params == {"deadline": CLOSING.isoformat(), "members": [], "secret": True}
    shown = repr(group.params)
    for user_id in users:
        assert str(user_id) not in shown and f"居民{user_id}" not in shown


async def test_a_nudge_when_everybody_voted_sends_nothing(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, users = await council_with_roll(factory, 2)
    ballot = await motion(factory, council_id)
    await vote(factory, ident(ballot), users[0], FOR)
    await vote(factory, ident(ballot), users[1], AGAINST)

    result = await run(factory, nudge_id(ballot), CLOSING - NUDGE)

    assert (result.ran, result.notices) == (Ran.DONE, 0)
    assert notices(factory) == []


async def test_a_nudge_when_everybody_is_reachable_has_no_group_notice(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, users = await council_with_roll(factory, 3)
    ballot = await motion(factory, council_id)
    await reachable(factory, *users)

    await run(factory, nudge_id(ballot), CLOSING - NUDGE)

    sent = notices(factory)
    assert [n.kind for n in sent] == [NoticeKind.BALLOT_NUDGE] * 3
    assert [n.chat_id for n in sent] == users


async def test_a_nudge_when_nobody_is_reachable_is_one_group_notice(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, users = await council_with_roll(factory, 3)
    ballot = await motion(factory, council_id)

    await run(factory, nudge_id(ballot), CLOSING - NUDGE)

    (group,) = notices(factory)
    assert group.kind is NoticeKind.NON_VOTERS
    assert group.params["members"] == [[u, f"居民{u}"] for u in users]


async def test_a_nudge_run_twice_nudges_once(factory: FakeUnitOfWorkFactory) -> None:
    council_id, users = await council_with_roll(factory, 2)
    ballot = await motion(factory, council_id)
    await reachable(factory, users[0])
    first = await run(factory, nudge_id(ballot), CLOSING - NUDGE)
    assert (first.ran, first.notices) == (Ran.DONE, 2)

    with unchanged(factory):
        again = await run(factory, nudge_id(ballot), CLOSING - NUDGE + timedelta(minutes=1))

    assert again.ran is Ran.ALREADY
    assert again.job == first.job
    assert again.notices == 0
    assert len(notices(factory)) == 2


async def test_a_nudge_before_its_time_is_not_due(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)
    with unchanged(factory):
        result = await run(factory, nudge_id(ballot), CLOSING - NUDGE - timedelta(seconds=1))
    assert result.ran is Ran.NOT_DUE


async def test_a_nudge_later_than_grace_is_skipped_for_good(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, _ = await council_with_roll(factory, 2)
    ballot = await motion(factory, council_id)
    late = GRACE + timedelta(seconds=1)

    result = await run(factory, nudge_id(ballot), CLOSING - NUDGE + late)

    assert (result.ran, result.late, result.notices) == (Ran.SKIPPED, late, 0)
    assert notices(factory) == []
    with unchanged(factory):
        again = await run(factory, nudge_id(ballot), CLOSING - NUDGE + late)
    assert again.ran is Ran.ALREADY


async def test_a_nudge_exactly_at_the_end_of_grace_is_sent(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)
    result = await run(factory, nudge_id(ballot), CLOSING - NUDGE + GRACE)
    assert (result.ran, result.notices) == (Ran.DONE, 1)


@pytest.mark.parametrize(
    "past",
    [timedelta(0), timedelta(minutes=1)],  # at the deadline, or after it
)
async def test_a_nudge_at_or_after_the_deadline_is_skipped(
    factory: FakeUnitOfWorkFactory, past: timedelta
) -> None:
    council_id, _ = await council_with_roll(factory, 2)
    await meetings.set_reminders(factory(), council_id=council_id, user_id=CHAIR, ballot_nudge=10)
    ballot = await motion(factory, council_id)
    late = timedelta(minutes=10) + past  # within grace, yet votes are no longer taken

    result = await run(factory, nudge_id(ballot), CLOSING + past)

    assert (result.ran, result.late, result.notices) == (Ran.SKIPPED, late, 0)
    assert result.job == Job(CLOSING - timedelta(minutes=10), JobKind.BALLOT_NUDGE, ident(ballot))
    assert notices(factory) == []
    # Claimed: it is skipped for good, not tried again.
    with unchanged(factory):
        again = await run(factory, nudge_id(ballot), CLOSING + past + timedelta(minutes=1))
    assert again.ran is Ran.ALREADY


async def test_a_late_nudge_just_before_the_deadline_is_sent(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    await meetings.set_reminders(factory(), council_id=council_id, user_id=CHAIR, ballot_nudge=10)
    ballot = await motion(factory, council_id)
    result = await run(factory, nudge_id(ballot), CLOSING - timedelta(seconds=1))
    assert (result.ran, result.notices) == (Ran.DONE, 1)


async def test_a_nudge_turned_off_is_stale(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)
    await meetings.set_reminders(factory(), council_id=council_id, user_id=CHAIR, ballot_nudge=0)
    with unchanged(factory):
        assert (await run(factory, nudge_id(ballot), CLOSING - NUDGE)).ran is Ran.STALE


# --- a topic's collection deadline -------------------------------------------


async def collecting(
    factory: FakeUnitOfWorkFactory, proposals: int
) -> tuple[int, Topic, list[Proposal]]:
    """A topic with a deadline and ``proposals`` proposals, one minute apart."""
    council_id, users = await council_with_roll(factory, max(proposals, 1) + 2)
    topic = await open_topic(factory, council_id, deadline=COLLECTED)
    made = [
        await propose(factory, ident(topic), users[i], at=NOW + timedelta(minutes=i))
        for i in range(proposals)
    ]
    return council_id, topic, made


async def ballot_of(factory: FakeUnitOfWorkFactory, topic: Topic) -> Ballot:
    (ballot,) = [b for b in factory.store.committed.ballots.values() if b.topic_id == topic.id]
    return ballot


@pytest.mark.parametrize("count", [0, 1])
async def test_a_collection_deadline_with_fewer_than_two_proposals_opens_a_motion(
    factory: FakeUnitOfWorkFactory, count: int
) -> None:
    council_id, topic, _ = await collecting(factory, count)
    at = COLLECTED + timedelta(seconds=5)

    result = await run(factory, topic_id_of(topic), at)

    assert (result.ran, result.notices) == (Ran.DONE, 1)
    ballot = await ballot_of(factory, topic)
    assert ballot.kind is BallotKind.MOTION
    assert ballot.options == ()
    assert ballot.is_open
    assert ballot.deadline is None
    assert ballot.opened_by == 0
    assert ballot.opened_at == at
    assert factory.store.committed.topics[ident(topic)].phase is Phase.VOTING
    (notice,) = notices(factory)
    assert notice.kind is NoticeKind.BALLOT_OPENED
    assert notice.key == f"topic:{ident(topic)}:voting"
    assert (notice.council_id, notice.chat_id, notice.thread_id) == (council_id, CHAT, 0)
    assert notice.subject == ident(ballot)
    assert notice.params == {"topic": ident(topic), "proposals": count}


async def test_a_collection_deadline_with_two_proposals_opens_a_choice(
    factory: FakeUnitOfWorkFactory,
) -> None:
    _, topic, made = await collecting(factory, 2)

    await run(factory, topic_id_of(topic), COLLECTED)

    ballot = await ballot_of(factory, topic)
    assert ballot.kind is BallotKind.OPTIONS
    assert [o.proposal_id for o in ballot.options] == [ident(p) for p in made]
    assert notices(factory)[0].params == {"topic": ident(topic), "proposals": 2}


async def test_a_collection_deadline_with_ten_proposals_keeps_the_eight_most_seconded(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, topic, made = await collecting(factory, 10)
    users = [101 + i for i in range(12)]
    # The two newest proposals are the most seconded; the other eight tie at zero,
    # and among them the oldest go first.
    for proposal, count in ((made[9], 3), (made[8], 2)):
        seconders = [u for u in users if u != 101 + made.index(proposal)][:count]
        for user in seconders:
            await second(factory, ident(proposal), user)
    await second(factory, ident(made[4]), 101)  # one second lifts the fifth above the ties

    result = await run(factory, topic_id_of(topic), COLLECTED)

    assert result.ran is Ran.DONE
    ballot = await ballot_of(factory, topic)
    assert ballot.kind is BallotKind.OPTIONS
    kept = sorted(ident(made[i]) for i in (9, 8, 4, 0, 1, 2, 3, 5))
    assert len(ballot.options) == 8
    assert [o.proposal_id for o in ballot.options] == kept
    assert [o.key for o in ballot.options] == [f"p{i}" for i in kept]
    assert notices(factory)[0].params == {"topic": ident(topic), "proposals": 10}
    assert council_id == ballot.council_id


async def test_a_collection_deadline_before_its_time_is_not_due(
    factory: FakeUnitOfWorkFactory,
) -> None:
    _, topic, _ = await collecting(factory, 2)
    with unchanged(factory):
        result = await run(factory, topic_id_of(topic), COLLECTED - timedelta(seconds=1))
    assert result.ran is Ran.NOT_DUE
    assert result.job == Job(COLLECTED, JobKind.TOPIC_DEADLINE, ident(topic))


async def test_a_collection_deadline_run_twice_opens_one_ballot(
    factory: FakeUnitOfWorkFactory,
) -> None:
    _, topic, _ = await collecting(factory, 2)
    assert (await run(factory, topic_id_of(topic), COLLECTED)).ran is Ran.DONE

    with unchanged(factory):
        again = await run(factory, topic_id_of(topic), COLLECTED + timedelta(minutes=1))

    assert again.ran in (Ran.STALE, Ran.ALREADY)
    assert len(factory.store.committed.ballots) == 1
    assert len(notices(factory)) == 1


async def test_a_collection_deadline_after_a_chair_put_the_ballot_is_stale(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, topic, _ = await collecting(factory, 2)
    await put_motion(factory, council_id, topic, deadline=None)
    with unchanged(factory):
        assert (await run(factory, topic_id_of(topic), COLLECTED)).ran is Ran.STALE


async def test_a_moved_collection_deadline_runs_at_the_new_time(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, topic, _ = await collecting(factory, 0)
    later = COLLECTED + timedelta(hours=6)
    await meetings.set_deadline(
        factory(), council_id=council_id, user_id=CHAIR, deadline=later, now=NOW
    )
    with unchanged(factory):
        assert (await run(factory, topic_id_of(topic), COLLECTED)).ran is Ran.NOT_DUE
    assert (await run(factory, topic_id_of(topic), later)).ran is Ran.DONE


# --- meeting reminders -------------------------------------------------------


async def test_a_due_reminder_is_posted_to_the_group(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    at = STARTS - timedelta(hours=1) + timedelta(minutes=2)

    result = await run(factory, reminder_id(meeting, 60), at)

    assert result.ran is Ran.DONE
    assert result.notices == 1
    job = Job(STARTS - timedelta(hours=1), JobKind.MEETING_REMINDER, ident(meeting), 60, 1)
    assert result.job == job
    assert result.late == timedelta(minutes=2)
    (notice,) = notices(factory)
    assert notice.kind is NoticeKind.MEETING_REMINDER
    assert notice.key == job.claim
    assert (notice.council_id, notice.chat_id, notice.thread_id) == (council_id, CHAT, 0)
    assert notice.subject == ident(meeting)
    assert notice.params == {"offset": 60, "version": 1}
    assert not notice.private


async def test_a_reminder_later_than_grace_is_skipped(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    due = STARTS - timedelta(days=1)

    result = await run(factory, reminder_id(meeting, 1440), due + GRACE + timedelta(seconds=1))

    assert result.ran is Ran.SKIPPED
    assert result.notices == 0
    assert notices(factory) == []
    with unchanged(factory):
        again = await run(factory, reminder_id(meeting, 1440), due + GRACE + timedelta(minutes=1))
    assert again.ran is Ran.ALREADY


async def test_a_reminder_with_a_longer_grace_is_sent_late(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    due = STARTS - timedelta(days=1)
    result = await run(
        factory, reminder_id(meeting, 1440), due + timedelta(hours=1), grace=timedelta(hours=2)
    )
    assert (result.ran, result.notices) == (Ran.DONE, 1)


@pytest.mark.parametrize(
    "past",
    [timedelta(0), timedelta(minutes=5)],  # as the meeting begins, or after
)
async def test_a_reminder_at_or_after_the_start_is_skipped(
    factory: FakeUnitOfWorkFactory, past: timedelta
) -> None:
    council_id = await set_up(factory)
    await meetings.set_reminders(
        factory(), council_id=council_id, user_id=CHAIR, meeting_offsets=[5]
    )
    meeting = await schedule(factory, council_id)
    began = STARTS + past
    late = timedelta(minutes=5) + past  # within grace, yet the meeting has begun
    assert reminder_id(meeting, 5) not in {j.id for j in await planned(factory, at=began)}

    result = await run(factory, reminder_id(meeting, 5), began)

    assert (result.ran, result.late, result.notices) == (Ran.SKIPPED, late, 0)
    job = Job(STARTS - timedelta(minutes=5), JobKind.MEETING_REMINDER, ident(meeting), 5, 1)
    assert result.job == job
    assert notices(factory) == []
    # Claimed: it is skipped for good, not tried again.
    with unchanged(factory):
        again = await run(factory, reminder_id(meeting, 5), began + timedelta(minutes=1))
    assert again.ran is Ran.ALREADY


async def test_a_late_reminder_just_before_the_start_is_posted(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await meetings.set_reminders(
        factory(), council_id=council_id, user_id=CHAIR, meeting_offsets=[5]
    )
    meeting = await schedule(factory, council_id)
    result = await run(factory, reminder_id(meeting, 5), STARTS - timedelta(seconds=1))
    assert (result.ran, result.notices) == (Ran.DONE, 1)


async def test_a_reminder_run_twice_is_posted_once(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    due = STARTS - timedelta(hours=1)
    assert (await run(factory, reminder_id(meeting, 60), due)).ran is Ran.DONE

    with unchanged(factory):
        again = await run(factory, reminder_id(meeting, 60), due + timedelta(minutes=1))

    assert again.ran is Ran.ALREADY
    assert len(notices(factory)) == 1


async def test_a_reminder_before_its_time_is_not_due(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    with unchanged(factory):
        result = await run(factory, reminder_id(meeting, 60), STARTS - timedelta(hours=2))
    assert result.ran is Ran.NOT_DUE


async def test_a_cancelled_meetings_reminder_is_stale(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    await meetings.cancel_meeting(
        factory(), council_id=council_id, meeting_id=ident(meeting), user_id=CHAIR, now=NOW
    )
    with unchanged(factory):
        assert (await run(factory, reminder_id(meeting, 60), STARTS)).ran is Ran.STALE


async def test_a_reminder_at_an_offset_no_longer_used_is_stale(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    await meetings.set_reminders(
        factory(), council_id=council_id, user_id=CHAIR, meeting_offsets=[30]
    )
    with unchanged(factory):
        result = await run(factory, reminder_id(meeting, 60), STARTS - timedelta(hours=1))
    assert result.ran is Ran.STALE
    result = await run(factory, reminder_id(meeting, 30), STARTS - timedelta(minutes=30))
    assert result.ran is Ran.DONE


async def test_a_moved_meetings_reminder_runs_again(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    old_due = STARTS - timedelta(hours=1)
    first = await run(factory, reminder_id(meeting, 60), old_due)
    assert first.ran is Ran.DONE

    new_start = STARTS + timedelta(hours=2)
    await meetings.move_meeting(
        factory(),
        council_id=council_id,
        meeting_id=ident(meeting),
        user_id=CHAIR,
        starts_at=new_start,
        now=old_due + timedelta(minutes=5),
    )
    new_due = new_start - timedelta(hours=1)
    # Planned again, although a reminder of the same id ran before.
    assert reminder_id(meeting, 60) in {j.id for j in await planned(factory, at=old_due)}
    with unchanged(factory):
        early = await run(factory, reminder_id(meeting, 60), old_due + timedelta(minutes=6))
    assert early.ran is Ran.NOT_DUE
    assert early.job == Job(new_due, JobKind.MEETING_REMINDER, ident(meeting), 60, 2)

    second_run = await run(factory, reminder_id(meeting, 60), new_due)

    assert second_run.ran is Ran.DONE
    assert first.job is not None and second_run.job is not None
    assert second_run.job.claim != first.job.claim
    reminders = notices(factory)
    assert [n.params for n in reminders] == [
        {"offset": 60, "version": 1},
        {"offset": 60, "version": 2},
    ]
    assert len({n.key for n in reminders}) == 2


async def test_a_meeting_moved_back_to_its_old_time_is_reminded_again(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    due = STARTS - timedelta(hours=1)
    assert (await run(factory, reminder_id(meeting, 60), due)).ran is Ran.DONE
    for starts_at in (STARTS + timedelta(hours=1), STARTS):
        await meetings.move_meeting(
            factory(),
            council_id=council_id,
            meeting_id=ident(meeting),
            user_id=CHAIR,
            starts_at=starts_at,
            now=due + timedelta(minutes=1),
        )
    result = await run(factory, reminder_id(meeting, 60), due + timedelta(minutes=2))
    assert result.ran is Ran.DONE  # version 3: a new run at the same moment
    assert len(notices(factory)) == 2
