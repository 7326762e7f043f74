"""Use cases of meetings and the agenda: schedule, pick topics, move, cancel, list.

Like ``domain.services``: plain values and a unit of work in, a plain result
out; a refusal raises a ``DomainError`` and writes nothing. What the scheduler
must do about a meeting follows from its state (``domain.schedule``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain import errors
from domain.events import BallotChanged, MeetingChanged, RemindersChanged
from domain.model import (
    MAX_AGENDA,
    MAX_AGENDA_ITEM,
    MAX_PLACE,
    MAX_REMINDERS,
    Ballot,
    Council,
    Meeting,
    Phase,
    Topic,
)
from domain.ports import UnitOfWork
from domain.schedule import Subject
from domain.services import require_council, require_topic, voting_member
from domain.services.planning import replan
from domain.when import require_future

MAX_OFFSET = 14 * 24 * 60  # minutes: a reminder two weeks ahead is the most that helps


def _clean_place(place: str) -> str:
    place = " ".join(place.split())
    if len(place) > MAX_PLACE:
        raise errors.TextTooLong(field="place", limit=MAX_PLACE, length=len(place))
    return place


def _clean_items(items: Sequence[str]) -> list[str]:
    cleaned = [" ".join(item.split()) for item in items]
    cleaned = [item for item in cleaned if item]
    for item in cleaned:
        if len(item) > MAX_AGENDA_ITEM:
            raise errors.TextTooLong(field="agenda_item", limit=MAX_AGENDA_ITEM, length=len(item))
    if len(cleaned) > MAX_AGENDA:
        raise errors.InvalidInput(field="agenda_full", limit=MAX_AGENDA)
    return cleaned


async def schedule_meeting(
    uow: UnitOfWork,
    *,
    council_id: int,
    user_id: int,
    starts_at: datetime,
    place: str,
    online: bool,
    items: Sequence[str],
    now: datetime,
) -> Meeting:
    async with uow:
        council = await require_council(uow, council_id)
        council.require_chair(user_id)
        require_future(starts_at, now=now, field="meeting_time")
        place = _clean_place(place)
        if not place and not online:
            raise errors.InvalidInput(field="meeting_place")
        meeting = await uow.meetings.add(
            Meeting(
                council_id=council_id,
                starts_at=starts_at,
                place=place,
                online=online,
                scheduled_by=user_id,
                changed_at=now,
                items=_clean_items(items),
            )
        )
        assert meeting.id is not None
        await replan(uow, Subject.MEETING, meeting.id)
        await uow.commit()
        return meeting


async def _meeting_of(
    uow: UnitOfWork, council_id: int, meeting_id: int | None, now: datetime
) -> Meeting:
    """The meeting a command names, or for a bare command the only one coming up."""
    if meeting_id is None:
        upcoming = await uow.meetings.upcoming(council_id, now)
        if len(upcoming) != 1:
            raise errors.MeetingNotFound(count=len(upcoming))
        return upcoming[0]
    meeting = await uow.meetings.get(meeting_id)
    if meeting is None or meeting.council_id != council_id:
        raise errors.MeetingNotFound(count=-1)
    return meeting


async def find_meeting(
    uow: UnitOfWork, *, council_id: int, meeting_id: int | None, now: datetime
) -> Meeting:
    """The meeting a command names (or the only one coming up), as it is now."""
    async with uow:
        return await _meeting_of(uow, council_id, meeting_id, now)


async def toggle_agenda_topic(
    uow: UnitOfWork, *, meeting_id: int, topic_id: int, user_id: int
) -> tuple[Meeting, bool]:
    """Put a topic on a meeting's agenda, or take it off; True when it is now on."""
    async with uow:
        meeting = await uow.meetings.get(meeting_id)
        if meeting is None:
            raise errors.MeetingNotFound(count=-1)
        council = await require_council(uow, meeting.council_id)
        council.require_chair(user_id)
        topic = await require_topic(uow, topic_id)
        if topic.council_id != meeting.council_id:
            raise errors.TopicNotFound()
        if topic_id not in meeting.topic_ids:
            topic.require_phase(Phase.COLLECTING, Phase.VOTING)  # decided ones stay off
        on = meeting.toggle_topic(topic_id)
        await uow.meetings.update(meeting)
        uow.record(MeetingChanged(meeting_id))
        await uow.commit()
        return meeting, on


async def move_meeting(
    uow: UnitOfWork,
    *,
    council_id: int,
    meeting_id: int | None,
    user_id: int,
    starts_at: datetime,
    now: datetime,
) -> Meeting:
    async with uow:
        council = await require_council(uow, council_id)
        council.require_chair(user_id)
        meeting = await _meeting_of(uow, council_id, meeting_id, now)
        require_future(starts_at, now=now, field="meeting_time")
        meeting.move(starts_at, now)
        await uow.meetings.update(meeting)
        await _changed(uow, meeting)
        await uow.commit()
        return meeting


async def cancel_meeting(
    uow: UnitOfWork, *, council_id: int, meeting_id: int | None, user_id: int, now: datetime
) -> Meeting:
    async with uow:
        council = await require_council(uow, council_id)
        council.require_chair(user_id)
        meeting = await _meeting_of(uow, council_id, meeting_id, now)
        meeting.cancel(now)
        await uow.meetings.update(meeting)
        await _changed(uow, meeting)
        await uow.commit()
        return meeting


async def _changed(uow: UnitOfWork, meeting: Meeting) -> None:
    """Its reminders move with it, and its card shows the change."""
    assert meeting.id is not None
    await replan(uow, Subject.MEETING, meeting.id)
    uow.record(MeetingChanged(meeting.id))


async def set_meeting_message(uow: UnitOfWork, *, meeting_id: int, message_ref: int) -> None:
    async with uow:
        meeting = await uow.meetings.get(meeting_id)
        if meeting is None:
            raise errors.MeetingNotFound(count=-1)
        meeting.message_ref = message_ref
        await uow.meetings.update(meeting)
        await uow.commit()


@dataclass(frozen=True)
class MeetingView:
    meeting: Meeting
    council: Council
    agenda: list[Topic]  # the topics on the agenda, in the order they were added
    open_topics: list[Topic]  # topics a chair may still add


async def meeting_view(uow: UnitOfWork, *, meeting_id: int) -> MeetingView:
    async with uow:
        meeting = await uow.meetings.get(meeting_id)
        if meeting is None:
            raise errors.MeetingNotFound(count=-1)
        return await _meeting_view(uow, meeting)


async def calendar_view(uow: UnitOfWork, *, meeting_id: int, user_id: int) -> MeetingView:
    """A meeting as its calendar file shows it (time, place, agenda), for someone on its
    council's roll or one of its chairs only: the file travels outside the group."""
    async with uow:
        meeting = await uow.meetings.get(meeting_id)
        if meeting is None:
            raise errors.MeetingNotFound(count=-1)
        view = await _meeting_view(uow, meeting)
        if user_id not in view.council.chairs:
            await voting_member(uow, meeting.council_id, user_id)
        return view


async def _meeting_view(uow: UnitOfWork, meeting: Meeting) -> MeetingView:
    council = await require_council(uow, meeting.council_id)
    agenda = []
    for topic_id in meeting.topic_ids:
        topic = await uow.topics.get(topic_id)
        if topic is not None:
            agenda.append(topic)
    open_topics = await uow.topics.active(meeting.council_id)
    return MeetingView(meeting, council, agenda, open_topics)


@dataclass(frozen=True)
class AgendaView:
    council: Council
    meetings: list[MeetingView]
    topics: list[Topic]  # collecting opinions or voting, newest first
    ballots: dict[int, Ballot]  # topic id -> its open ballot


async def agenda(uow: UnitOfWork, *, council_id: int, now: datetime) -> AgendaView:
    """Upcoming meetings and open topics with their deadlines."""
    async with uow:
        council = await require_council(uow, council_id)
        meetings = [
            await _meeting_view(uow, m) for m in await uow.meetings.upcoming(council_id, now)
        ]
        topics = await uow.topics.active(council_id)
        ballots = {b.topic_id: b for b in await uow.ballots.open(council_id)}
        return AgendaView(council, meetings, topics, ballots)


async def set_reminders(
    uow: UnitOfWork,
    *,
    council_id: int,
    user_id: int,
    meeting_offsets: Sequence[int] | None = None,
    ballot_nudge: int | None = None,
) -> Council:
    """Change when the council is reminded (minutes before; an empty list: never)."""
    async with uow:
        council = await require_council(uow, council_id)
        council.require_chair(user_id)
        if meeting_offsets is not None:
            offsets = tuple(sorted(set(meeting_offsets), reverse=True))
            if len(offsets) > MAX_REMINDERS or any(not 0 < o <= MAX_OFFSET for o in offsets):
                raise errors.InvalidInput(field="reminders", limit=MAX_REMINDERS)
            council.meeting_reminders = offsets
        if ballot_nudge is not None:
            if not 0 <= ballot_nudge <= MAX_OFFSET:
                raise errors.InvalidInput(field="reminders", limit=MAX_REMINDERS)
            council.ballot_nudge = ballot_nudge
        await uow.councils.update(council)
        uow.record(RemindersChanged(council_id))
        await uow.commit()
        return council


@dataclass(frozen=True)
class DeadlineSet:
    topic: Topic
    ballot: Ballot | None  # the ballot whose deadline it is; None: the topic's collection


async def set_deadline(
    uow: UnitOfWork,
    *,
    council_id: int,
    user_id: int,
    deadline: datetime | None,
    now: datetime,
) -> DeadlineSet:
    """Set (or with None clear) the deadline of the newest open topic's current phase:
    collecting opinions, or its open ballot."""
    async with uow:
        council = await require_council(uow, council_id)
        council.require_chair(user_id)
        if deadline is not None:
            require_future(deadline, now=now, field="deadline")
        active = await uow.topics.active(council_id)
        if not active:
            raise errors.NoOpenTopic()
        topic = active[0]
        ballot = None
        assert topic.id is not None
        if topic.phase is Phase.COLLECTING:
            topic.deadline = deadline
            await uow.topics.update(topic)
            await replan(uow, Subject.TOPIC, topic.id)
        else:
            ballot = next((b for b in await uow.ballots.for_topic(topic.id) if b.is_open), None)
            if ballot is None:
                raise errors.BallotNotFound()
            ballot.deadline = deadline
            await uow.ballots.update(ballot)
            assert ballot.id is not None
            await replan(uow, Subject.BALLOT, ballot.id)
            uow.record(BallotChanged(ballot.id))  # its message shows the deadline
        await uow.commit()
        return DeadlineSet(topic, ballot)
