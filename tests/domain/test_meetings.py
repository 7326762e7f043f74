"""Use cases of meetings, the agenda, reminders and deadlines (``domain/meetings.py``).

Built on the fakes with the use cases and a fixed ``NOW``; every refusal is
checked to change nothing at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain import errors, meetings, services
from domain.meetings import MAX_OFFSET
from domain.model import (
    DEFAULT_BALLOT_NUDGE,
    DEFAULT_MEETING_REMINDERS,
    MAX_AGENDA,
    MAX_AGENDA_ITEM,
    MAX_PLACE,
    Meeting,
    MeetingStatus,
    Phase,
    Topic,
)
from domain.when import MAX_AHEAD
from tests.domain import builders
from tests.domain.builders import (
    CHAIR,
    CHAT,
    CLOSING,
    NOW,
    OTHER_CHAT,
    STARTS,
    STRANGER,
    ident,
    join,
    open_topic,
    put_motion,
    schedule,
    unchanged,
)
from tests.fakes import FakeUnitOfWorkFactory

MEMBER = 101  # on the roll, not a chair


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


# --- builders ----------------------------------------------------------------


async def set_up(factory: FakeUnitOfWorkFactory, *, chat_id: int = CHAT) -> int:
    """A council whose roll holds MEMBER, 王阿姨 of 3-2-301."""
    council_id = await builders.set_up(factory, chat_id=chat_id)
    await join(factory, council_id, MEMBER, address="3-2-301", name="王阿姨")
    return council_id


async def toggle(
    factory: FakeUnitOfWorkFactory, meeting: Meeting, topic: Topic, user_id: int = CHAIR
) -> bool:
    _, on = await meetings.toggle_agenda_topic(
        factory(), meeting_id=ident(meeting), topic_id=ident(topic), user_id=user_id
    )
    return on


async def move(
    factory: FakeUnitOfWorkFactory,
    council_id: int,
    meeting_id: int | None,
    starts_at: datetime,
    *,
    user_id: int = CHAIR,
) -> Meeting:
    return await meetings.move_meeting(
        factory(),
        council_id=council_id,
        meeting_id=meeting_id,
        user_id=user_id,
        starts_at=starts_at,
        now=NOW,
    )


async def cancel(
    factory: FakeUnitOfWorkFactory,
    council_id: int,
    meeting_id: int | None,
    *,
    user_id: int = CHAIR,
) -> Meeting:
    return await meetings.cancel_meeting(
        factory(), council_id=council_id, meeting_id=meeting_id, user_id=user_id, now=NOW
    )


def stored(factory: FakeUnitOfWorkFactory, meeting: Meeting) -> Meeting:
    return factory.store.committed.meetings[ident(meeting)]


# --- scheduling --------------------------------------------------------------


async def test_a_chair_schedules_a_meeting(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)

    meeting = await schedule(
        factory,
        council_id,
        place="  社区   活动室 ",
        items=("  物业费   调整 ", "", "   ", "垃圾分类"),
    )

    assert meeting.id is not None
    assert stored(factory, meeting) == meeting
    assert meeting.council_id == council_id
    assert meeting.starts_at == STARTS
    assert meeting.place == "社区 活动室"
    assert not meeting.online
    assert meeting.items == ["物业费 调整", "垃圾分类"]
    assert meeting.topic_ids == []
    assert meeting.scheduled_by == CHAIR
    assert meeting.changed_at == NOW
    assert meeting.status is MeetingStatus.SCHEDULED
    assert meeting.version == 1


async def test_an_online_meeting_needs_no_place(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    online = await schedule(factory, council_id, place="", online=True)
    assert (online.place, online.online) == ("", True)
    both = await schedule(factory, council_id, place="活动室", online=True)
    assert (both.place, both.online) == ("活动室", True)


async def test_limits_that_are_just_met_are_accepted(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(
        factory,
        council_id,
        starts_at=NOW + MAX_AHEAD,
        place="室" * MAX_PLACE,
        items=tuple("议" * MAX_AGENDA_ITEM for _ in range(MAX_AGENDA)),
    )
    assert len(meeting.items) == MAX_AGENDA
    assert len(meeting.place) == MAX_PLACE


async def test_only_a_chair_may_schedule(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    for user_id in (MEMBER, STRANGER):
        with unchanged(factory), pytest.raises(errors.NotChair):
            await schedule(factory, council_id, user_id=user_id)


async def test_scheduling_in_a_council_that_does_not_exist(
    factory: FakeUnitOfWorkFactory,
) -> None:
    with unchanged(factory), pytest.raises(errors.CouncilNotSetUp):
        await schedule(factory, 42)


@pytest.mark.parametrize("starts_at", [NOW, NOW - timedelta(minutes=1), NOW - timedelta(days=9)])
async def test_a_meeting_in_the_past_is_refused(
    factory: FakeUnitOfWorkFactory, starts_at: datetime
) -> None:
    council_id = await set_up(factory)
    with unchanged(factory), pytest.raises(errors.InvalidInput) as caught:
        await schedule(factory, council_id, starts_at=starts_at)
    assert caught.value.params == {"field": "meeting_time"}


async def test_a_meeting_more_than_a_year_ahead_is_refused(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    with unchanged(factory), pytest.raises(errors.InvalidInput) as caught:
        await schedule(factory, council_id, starts_at=NOW + MAX_AHEAD + timedelta(seconds=1))
    assert caught.value.params == {"field": "too_far", "days": MAX_AHEAD.days}


@pytest.mark.parametrize("place", ["", "   ", "\n\t"])
async def test_a_meeting_with_no_place_and_not_online_is_refused(
    factory: FakeUnitOfWorkFactory, place: str
) -> None:
    council_id = await set_up(factory)
    with unchanged(factory), pytest.raises(errors.InvalidInput) as caught:
        await schedule(factory, council_id, place=place, online=False)
    assert caught.value.params == {"field": "meeting_place"}


async def test_a_too_long_place_is_refused(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    with unchanged(factory), pytest.raises(errors.TextTooLong) as caught:
        await schedule(factory, council_id, place="室" * (MAX_PLACE + 1), online=True)
    assert caught.value.params == {
        "field": "place",
        "limit": MAX_PLACE,
        "length": MAX_PLACE + 1,
    }


async def test_a_too_long_agenda_item_is_refused(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    with unchanged(factory), pytest.raises(errors.TextTooLong) as caught:
        await schedule(factory, council_id, items=("短", "议" * (MAX_AGENDA_ITEM + 1)))
    assert caught.value.params == {
        "field": "agenda_item",
        "limit": MAX_AGENDA_ITEM,
        "length": MAX_AGENDA_ITEM + 1,
    }


async def test_too_many_agenda_items_are_refused(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    items = tuple(f"议题{i}" for i in range(MAX_AGENDA + 1))
    with unchanged(factory), pytest.raises(errors.InvalidInput) as caught:
        await schedule(factory, council_id, items=items)
    assert caught.value.params == {"field": "agenda_full", "limit": MAX_AGENDA}


async def test_blank_items_do_not_count_towards_the_agenda(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    items = (*(f"议题{i}" for i in range(MAX_AGENDA)), "", "  ")
    meeting = await schedule(factory, council_id, items=items)
    assert len(meeting.items) == MAX_AGENDA


# --- the agenda's topics -----------------------------------------------------


async def test_a_chair_puts_a_topic_on_the_agenda_and_takes_it_off(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    garden = await open_topic(factory, council_id, "口袋花园")
    parking = await open_topic(factory, council_id, "停车位")

    assert await toggle(factory, meeting, parking) is True
    assert await toggle(factory, meeting, garden) is True
    assert stored(factory, meeting).topic_ids == [ident(parking), ident(garden)]

    updated, on = await meetings.toggle_agenda_topic(
        factory(), meeting_id=ident(meeting), topic_id=ident(parking), user_id=CHAIR
    )
    assert on is False
    assert updated.topic_ids == [ident(garden)]
    assert stored(factory, meeting).topic_ids == [ident(garden)]


async def test_toggling_refusals(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    topic = await open_topic(factory, council_id)

    with unchanged(factory), pytest.raises(errors.NotChair):
        await toggle(factory, meeting, topic, user_id=MEMBER)
    with unchanged(factory), pytest.raises(errors.MeetingNotFound):
        await meetings.toggle_agenda_topic(
            factory(), meeting_id=42, topic_id=ident(topic), user_id=CHAIR
        )
    with unchanged(factory), pytest.raises(errors.TopicNotFound):
        await meetings.toggle_agenda_topic(
            factory(), meeting_id=ident(meeting), topic_id=42, user_id=CHAIR
        )


async def test_a_topic_of_another_council_cannot_go_on_the_agenda(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    other = await set_up(factory, chat_id=OTHER_CHAT)
    meeting = await schedule(factory, council_id)
    foreign = await open_topic(factory, other, "别的小区")
    with unchanged(factory), pytest.raises(errors.TopicNotFound):
        await toggle(factory, meeting, foreign)


async def test_a_full_agenda_takes_no_more_topics_but_lets_one_go(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    items = tuple(f"议题{i}" for i in range(MAX_AGENDA - 1))
    meeting = await schedule(factory, council_id, items=items)
    first = await open_topic(factory, council_id, "一")
    second = await open_topic(factory, council_id, "二")
    assert await toggle(factory, meeting, first) is True  # items and topics: now full

    with unchanged(factory), pytest.raises(errors.InvalidInput) as caught:
        await toggle(factory, meeting, second)
    assert caught.value.params == {"field": "agenda_full", "limit": MAX_AGENDA}

    assert await toggle(factory, meeting, first) is False
    assert await toggle(factory, meeting, second) is True


async def test_a_full_agenda_of_items_takes_no_topic(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(
        factory, council_id, items=tuple(f"议题{i}" for i in range(MAX_AGENDA))
    )
    topic = await open_topic(factory, council_id)
    with unchanged(factory), pytest.raises(errors.InvalidInput):
        await toggle(factory, meeting, topic)


async def test_a_cancelled_meetings_agenda_cannot_change(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    topic = await open_topic(factory, council_id)
    await cancel(factory, council_id, ident(meeting))
    with unchanged(factory), pytest.raises(errors.MeetingCancelled):
        await toggle(factory, meeting, topic)


async def finish(
    factory: FakeUnitOfWorkFactory, council_id: int, topic: Topic, phase: Phase
) -> None:
    """Brings a topic to an end: DECIDED by a closed ballot, or CANCELLED."""
    if phase is Phase.DECIDED:
        await put_motion(factory, council_id, topic)
        async with factory() as uow:
            (ballot,) = await uow.ballots.open(council_id)
        await services.close_ballot(
            factory(), council_id=council_id, ballot_id=ballot.id, user_id=CHAIR, now=NOW
        )
    else:
        await services.cancel_topic(
            factory(), council_id=council_id, topic_id=ident(topic), user_id=CHAIR, now=NOW
        )
    assert factory.store.committed.topics[ident(topic)].phase is phase


async def test_a_voting_topic_goes_on_the_agenda(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    topic = await open_topic(factory, council_id)
    await put_motion(factory, council_id, topic)
    assert await toggle(factory, meeting, topic) is True
    assert stored(factory, meeting).topic_ids == [ident(topic)]


@pytest.mark.parametrize("phase", [Phase.DECIDED, Phase.CANCELLED])
async def test_a_finished_topic_cannot_go_on_the_agenda(
    factory: FakeUnitOfWorkFactory, phase: Phase
) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    topic = await open_topic(factory, council_id, "已结束")
    await finish(factory, council_id, topic, phase)

    with unchanged(factory), pytest.raises(errors.WrongPhase) as caught:
        await toggle(factory, meeting, topic)

    assert caught.value.params == {"topic": "已结束", "phase": phase.value}
    assert stored(factory, meeting).topic_ids == []


@pytest.mark.parametrize("phase", [Phase.DECIDED, Phase.CANCELLED])
async def test_a_topic_finished_while_on_the_agenda_can_still_be_taken_off(
    factory: FakeUnitOfWorkFactory, phase: Phase
) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    topic = await open_topic(factory, council_id, "已结束")
    kept = await open_topic(factory, council_id, "停车位")
    assert await toggle(factory, meeting, topic) is True
    assert await toggle(factory, meeting, kept) is True
    await finish(factory, council_id, topic, phase)

    updated, on = await meetings.toggle_agenda_topic(
        factory(), meeting_id=ident(meeting), topic_id=ident(topic), user_id=CHAIR
    )

    assert on is False
    assert updated.topic_ids == [ident(kept)]
    assert stored(factory, meeting).topic_ids == [ident(kept)]
    # Once off, it cannot be put back.
    with unchanged(factory), pytest.raises(errors.WrongPhase):
        await toggle(factory, meeting, topic)


# --- moving ------------------------------------------------------------------


async def test_a_chair_moves_a_meeting_by_its_id(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    later = STARTS + timedelta(days=1)

    moved = await move(factory, council_id, ident(meeting), later)

    assert moved.starts_at == later
    assert moved.version == 2
    assert moved.changed_at == NOW
    assert stored(factory, meeting) == moved
    again = await move(factory, council_id, ident(meeting), STARTS)
    assert again.version == 3


async def test_a_bare_move_finds_the_only_upcoming_meeting(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    earlier = NOW - timedelta(days=7)
    # A past meeting and a cancelled one do not count as coming up.
    await schedule(factory, council_id, starts_at=NOW - timedelta(hours=1), now=earlier)
    cancelled = await schedule(factory, council_id, starts_at=STARTS + timedelta(days=1))
    await cancel(factory, council_id, ident(cancelled))
    meeting = await schedule(factory, council_id)
    # Nor does one of another council.
    other = await set_up(factory, chat_id=OTHER_CHAT)
    await schedule(factory, other)

    moved = await move(factory, council_id, None, STARTS + timedelta(hours=2))

    assert moved.id == meeting.id
    assert moved.starts_at == STARTS + timedelta(hours=2)


@pytest.mark.parametrize("upcoming", [0, 2])
async def test_a_bare_move_needs_exactly_one_upcoming_meeting(
    factory: FakeUnitOfWorkFactory, upcoming: int
) -> None:
    council_id = await set_up(factory)
    for i in range(upcoming):
        await schedule(factory, council_id, starts_at=STARTS + timedelta(days=i))
    with unchanged(factory), pytest.raises(errors.MeetingNotFound) as caught:
        await move(factory, council_id, None, STARTS + timedelta(days=5))
    assert caught.value.params == {"count": upcoming}


async def test_moving_refusals(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    other = await set_up(factory, chat_id=OTHER_CHAT)
    meeting = await schedule(factory, council_id)
    foreign = await schedule(factory, other)
    later = STARTS + timedelta(days=1)

    with unchanged(factory), pytest.raises(errors.NotChair):
        await move(factory, council_id, ident(meeting), later, user_id=MEMBER)
    with unchanged(factory), pytest.raises(errors.MeetingNotFound) as caught:
        await move(factory, council_id, 42, later)
    assert caught.value.params == {"count": -1}
    with unchanged(factory), pytest.raises(errors.MeetingNotFound) as caught:
        await move(factory, council_id, ident(foreign), later)
    assert caught.value.params == {"count": -1}
    for past in (NOW, NOW - timedelta(hours=1)):
        with unchanged(factory), pytest.raises(errors.InvalidInput) as refused:
            await move(factory, council_id, ident(meeting), past)
        assert refused.value.params == {"field": "meeting_time"}
    with unchanged(factory), pytest.raises(errors.InvalidInput) as refused:
        await move(factory, council_id, ident(meeting), NOW + MAX_AHEAD + timedelta(days=1))
    assert refused.value.params["field"] == "too_far"


async def test_a_cancelled_meeting_cannot_be_moved(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    await cancel(factory, council_id, ident(meeting))
    with unchanged(factory), pytest.raises(errors.MeetingCancelled):
        await move(factory, council_id, ident(meeting), STARTS + timedelta(days=1))
    # A bare command does not see it at all.
    with unchanged(factory), pytest.raises(errors.MeetingNotFound):
        await move(factory, council_id, None, STARTS + timedelta(days=1))


# --- cancelling --------------------------------------------------------------


async def test_a_chair_cancels_a_meeting(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id, now=NOW - timedelta(days=1))

    cancelled = await cancel(factory, council_id, ident(meeting))

    assert cancelled.status is MeetingStatus.CANCELLED
    assert not cancelled.is_scheduled
    assert cancelled.changed_at == NOW
    assert stored(factory, meeting) == cancelled


async def test_a_bare_cancel_cancels_the_only_upcoming_meeting(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    cancelled = await cancel(factory, council_id, None)
    assert cancelled.id == meeting.id
    assert stored(factory, meeting).status is MeetingStatus.CANCELLED


@pytest.mark.parametrize("upcoming", [0, 2])
async def test_a_bare_cancel_needs_exactly_one_upcoming_meeting(
    factory: FakeUnitOfWorkFactory, upcoming: int
) -> None:
    council_id = await set_up(factory)
    for i in range(upcoming):
        await schedule(factory, council_id, starts_at=STARTS + timedelta(days=i))
    with unchanged(factory), pytest.raises(errors.MeetingNotFound) as caught:
        await cancel(factory, council_id, None)
    assert caught.value.params == {"count": upcoming}


async def test_cancelling_refusals(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    with unchanged(factory), pytest.raises(errors.NotChair):
        await cancel(factory, council_id, ident(meeting), user_id=MEMBER)
    with unchanged(factory), pytest.raises(errors.MeetingNotFound):
        await cancel(factory, council_id, 42)
    await cancel(factory, council_id, ident(meeting))
    with unchanged(factory), pytest.raises(errors.MeetingCancelled):
        await cancel(factory, council_id, ident(meeting))


# --- the agenda message and views --------------------------------------------


async def test_the_agenda_message_is_remembered(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    await meetings.set_meeting_message(factory(), meeting_id=ident(meeting), message_ref=777)
    assert stored(factory, meeting).message_ref == 777
    with unchanged(factory), pytest.raises(errors.MeetingNotFound):
        await meetings.set_meeting_message(factory(), meeting_id=42, message_ref=1)


async def test_meeting_view(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    meeting = await schedule(factory, council_id)
    old = await open_topic(factory, council_id, "旧", now=NOW - timedelta(days=2))
    new = await open_topic(factory, council_id, "新", now=NOW - timedelta(days=1))
    decided = await open_topic(factory, council_id, "已决", now=NOW - timedelta(days=3))
    await toggle(factory, meeting, new)
    await toggle(factory, meeting, decided)
    await toggle(factory, meeting, old)
    await put_motion(factory, council_id, decided)
    async with factory() as uow:
        (ballot,) = await uow.ballots.open(council_id)
    await services.close_ballot(
        factory(), council_id=council_id, ballot_id=ballot.id, user_id=CHAIR, now=NOW
    )

    with unchanged(factory):
        view = await meetings.meeting_view(factory(), meeting_id=ident(meeting))

    assert view.meeting == stored(factory, meeting)
    assert view.council.id == council_id
    assert [t.title for t in view.agenda] == ["新", "已决", "旧"]  # in the order added
    assert view.agenda[1].phase is Phase.DECIDED
    assert [t.title for t in view.open_topics] == ["新", "旧"]  # newest first
    with pytest.raises(errors.MeetingNotFound):
        await meetings.meeting_view(factory(), meeting_id=42)


async def test_agenda_lists_upcoming_meetings_and_open_topics(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    other = await set_up(factory, chat_id=OTHER_CHAT)
    later = await schedule(factory, council_id, starts_at=STARTS + timedelta(days=1))
    sooner = await schedule(factory, council_id, starts_at=STARTS)
    cancelled = await schedule(factory, council_id, starts_at=STARTS + timedelta(hours=1))
    await cancel(factory, council_id, ident(cancelled))
    await schedule(
        factory, council_id, starts_at=NOW - timedelta(hours=1), now=NOW - timedelta(days=1)
    )
    await schedule(factory, other)
    collecting = await open_topic(factory, council_id, "征集中", now=NOW - timedelta(days=2))
    voting = await open_topic(factory, council_id, "表决中", now=NOW - timedelta(days=1))
    await put_motion(factory, council_id, voting)
    await open_topic(factory, other, "别的小区")

    with unchanged(factory):
        view = await meetings.agenda(factory(), council_id=council_id, now=NOW)

    assert view.council.id == council_id
    assert [m.meeting.id for m in view.meetings] == [sooner.id, later.id]
    assert [t.id for t in view.topics] == [voting.id, collecting.id]
    assert list(view.ballots) == [ident(voting)]
    assert view.ballots[ident(voting)].deadline == CLOSING
    with pytest.raises(errors.CouncilNotSetUp):
        await meetings.agenda(factory(), council_id=42, now=NOW)


# --- reminders ---------------------------------------------------------------


async def reminders(
    factory: FakeUnitOfWorkFactory,
    council_id: int,
    offsets: list[int] | None = None,
    nudge: int | None = None,
    *,
    user_id: int = CHAIR,
) -> tuple[tuple[int, ...], int]:
    council = await meetings.set_reminders(
        factory(),
        council_id=council_id,
        user_id=user_id,
        meeting_offsets=offsets,
        ballot_nudge=nudge,
    )
    kept = factory.store.committed.councils[council_id]
    assert (kept.meeting_reminders, kept.ballot_nudge) == (
        council.meeting_reminders,
        council.ballot_nudge,
    )
    return council.meeting_reminders, council.ballot_nudge


async def test_set_reminders(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    assert await reminders(factory, council_id) == (DEFAULT_MEETING_REMINDERS, DEFAULT_BALLOT_NUDGE)
    assert await reminders(factory, council_id, [30, 1440, 60, 30]) == (
        (1440, 60, 30),
        DEFAULT_BALLOT_NUDGE,
    )
    assert await reminders(factory, council_id, nudge=45) == ((1440, 60, 30), 45)
    assert await reminders(factory, council_id, [], 0) == ((), 0)  # never
    assert await reminders(factory, council_id, [MAX_OFFSET, 1, 2, 3], MAX_OFFSET) == (
        (MAX_OFFSET, 3, 2, 1),
        MAX_OFFSET,
    )
    assert await reminders(factory, council_id, [60] * 6) == ((60,), MAX_OFFSET)


@pytest.mark.parametrize(
    ("offsets", "nudge"),
    [
        ([1, 2, 3, 4, 5], None),  # more than MAX_REMINDERS
        ([0], None),
        ([-60], None),
        ([60, MAX_OFFSET + 1], None),
        (None, -1),
        (None, MAX_OFFSET + 1),
        ([60], -1),  # a good list does not save a bad nudge
    ],
)
async def test_set_reminders_refuses_bad_values(
    factory: FakeUnitOfWorkFactory, offsets: list[int] | None, nudge: int | None
) -> None:
    council_id = await set_up(factory)
    with unchanged(factory), pytest.raises(errors.InvalidInput) as caught:
        await reminders(factory, council_id, offsets, nudge)
    assert caught.value.params["field"] == "reminders"


async def test_only_a_chair_sets_reminders(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    with unchanged(factory), pytest.raises(errors.NotChair):
        await reminders(factory, council_id, [60], user_id=MEMBER)


# --- deadlines ---------------------------------------------------------------


async def test_set_deadline_of_a_collecting_topic(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    await open_topic(factory, council_id, "旧", now=NOW - timedelta(days=1))
    newest = await open_topic(factory, council_id, "新")
    deadline = NOW + timedelta(days=1)

    result = await meetings.set_deadline(
        factory(), council_id=council_id, user_id=CHAIR, deadline=deadline, now=NOW
    )

    assert result.ballot is None
    assert result.topic.id == newest.id
    assert result.topic.deadline == deadline
    topics = factory.store.committed.topics
    assert topics[ident(newest)].deadline == deadline
    assert [t.deadline for t in topics.values() if t.id != newest.id] == [None]

    cleared = await meetings.set_deadline(
        factory(), council_id=council_id, user_id=CHAIR, deadline=None, now=NOW
    )
    assert cleared.topic.deadline is None
    assert factory.store.committed.topics[ident(newest)].deadline is None


async def test_set_deadline_of_a_voting_topics_ballot(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    topic = await open_topic(factory, council_id)
    await put_motion(factory, council_id, topic)
    deadline = NOW + timedelta(hours=5)

    result = await meetings.set_deadline(
        factory(), council_id=council_id, user_id=CHAIR, deadline=deadline, now=NOW
    )

    assert result.topic.id == topic.id
    assert result.ballot is not None
    assert result.ballot.deadline == deadline
    state = factory.store.committed
    assert state.ballots[result.ballot.id or 0].deadline == deadline
    assert state.topics[ident(topic)].deadline is None  # the topic's own is untouched

    cleared = await meetings.set_deadline(
        factory(), council_id=council_id, user_id=CHAIR, deadline=None, now=NOW
    )
    assert cleared.ballot is not None and cleared.ballot.deadline is None


async def test_set_deadline_with_no_open_topic(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    with unchanged(factory), pytest.raises(errors.NoOpenTopic):
        await meetings.set_deadline(
            factory(), council_id=council_id, user_id=CHAIR, deadline=CLOSING, now=NOW
        )
    topic = await open_topic(factory, council_id)
    await services.cancel_topic(
        factory(), council_id=council_id, topic_id=ident(topic), user_id=CHAIR, now=NOW
    )
    with unchanged(factory), pytest.raises(errors.NoOpenTopic):
        await meetings.set_deadline(
            factory(), council_id=council_id, user_id=CHAIR, deadline=CLOSING, now=NOW
        )


async def test_set_deadline_refusals(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    await open_topic(factory, council_id)
    with unchanged(factory), pytest.raises(errors.NotChair):
        await meetings.set_deadline(
            factory(), council_id=council_id, user_id=MEMBER, deadline=CLOSING, now=NOW
        )
    for past in (NOW, NOW - timedelta(minutes=1)):
        with unchanged(factory), pytest.raises(errors.InvalidInput) as caught:
            await meetings.set_deadline(
                factory(), council_id=council_id, user_id=CHAIR, deadline=past, now=NOW
            )
        assert caught.value.params == {"field": "deadline"}
    with unchanged(factory), pytest.raises(errors.InvalidInput) as caught:
        await meetings.set_deadline(
            factory(),
            council_id=council_id,
            user_id=CHAIR,
            deadline=NOW + MAX_AHEAD + timedelta(days=1),
            now=NOW,
        )
    assert caught.value.params["field"] == "too_far"
