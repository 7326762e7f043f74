"""The staff's reports on the fakes: the turnout of every ballot, a ballot's audit trail
(never a choice on a secret ballot), the minutes of a meeting and of a ballot, and the
votes of a ballot; only chairs, staff and the operator may read them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction

import pytest

from domain import errors, meetings, services
from domain.model import Ballot, BallotKind, Meeting, MeetingStatus, Member, VoteSource
from domain.rules import Base, Choice, Condition, Counted, Quantity, Result, Rule
from domain.services import recorded, reports, sign_in
from domain.services.reports import AuditAction, BallotState
from tests.domain.builders import (
    CHAIR,
    NOW,
    STRANGER,
    ident,
    join,
    open_topic,
    put_motion,
    schedule,
    set_up,
    update_council,
    vote,
)
from tests.fakes import FakeUnitOfWorkFactory

STAFF = 500  # 社工: not on the roll
MINUTE = timedelta(minutes=1)


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


@dataclass(frozen=True)
class Sitting:
    council_id: int
    members: dict[int, Member]  # user id -> member
    meeting: Meeting
    open_ballot: Ballot  # closed in ``sitting``: the motion on the garden
    secret_ballot: Ballot  # still open: the secret motion on the fee


async def sitting(factory: FakeUnitOfWorkFactory) -> Sitting:
    """A council of four (11-14) with staff 500: a meeting at which 11 and 13 were
    present, with a free item and the garden topic (two proposals, one seconded twice)
    on its agenda; the garden motion (11: for then against, 12: for, 13: for by a
    raised hand) closed, and a secret motion on the fee (11: for, 12: against then
    for, 13: against by a home visit) still open."""
    council_id = await set_up(factory)
    await update_council(factory, council_id, staff={STAFF})
    members = {u: await join(factory, council_id, u) for u in (11, 12, 13, 14)}
    garden = await open_topic(factory, council_id, "口袋花园建设方案")
    first = await services.submit_proposal(
        factory(), council_id=council_id, topic_id=garden.id, user_id=11, text="种月季", now=NOW
    )
    await services.submit_proposal(
        factory(),
        council_id=council_id,
        topic_id=garden.id,
        user_id=12,
        text="种蔬菜",
        now=NOW + MINUTE,
    )
    for user_id in (13, 12):
        await services.second_proposal(
            factory(), proposal_id=ident(first.proposal), user_id=user_id, now=NOW + 2 * MINUTE
        )
    meeting = await schedule(factory, council_id, items=["物业费公示"])
    await meetings.toggle_agenda_topic(
        factory(), meeting_id=ident(meeting), topic_id=ident(garden), user_id=CHAIR
    )
    await sign_in.open_sign_in(
        factory(), council_id=council_id, user_id=CHAIR, meeting_id=ident(meeting), now=NOW
    )
    await sign_in.check_in(factory(), meeting_id=ident(meeting), user_id=11, now=NOW + MINUTE)
    await sign_in.toggle_present(
        factory(),
        meeting_id=ident(meeting),
        member_id=ident(members[13]),
        user_id=STAFF,
        now=NOW + 2 * MINUTE,
    )
    motion = await put_motion(factory, council_id, garden, now=NOW + 3 * MINUTE)
    await vote(factory, ident(motion), 11, "for", now=NOW + 4 * MINUTE)
    await vote(factory, ident(motion), 12, "for", now=NOW + 5 * MINUTE)
    await vote(factory, ident(motion), 11, "against", now=NOW + 6 * MINUTE)
    await recorded.record_vote(
        factory(),
        ballot_id=ident(motion),
        member_id=ident(members[13]),
        choice="for",
        user_id=STAFF,
        source=VoteSource.ROOM,
        now=NOW + 7 * MINUTE,
    )
    await services.close_ballot(
        factory(),
        council_id=council_id,
        ballot_id=ident(motion),
        user_id=CHAIR,
        now=NOW + 8 * MINUTE,
    )
    fee = await open_topic(factory, council_id, "物业费调整", now=NOW + 9 * MINUTE)
    secret = await put_motion(factory, council_id, fee, secret=True, now=NOW + 10 * MINUTE)
    await vote(factory, ident(secret), 11, "for", now=NOW + 11 * MINUTE)
    await vote(factory, ident(secret), 12, "against", now=NOW + 12 * MINUTE)
    await vote(factory, ident(secret), 12, "for", now=NOW + 13 * MINUTE)
    await recorded.record_vote(
        factory(),
        ballot_id=ident(secret),
        member_id=ident(members[13]),
        choice="against",
        user_id=STAFF,
        source=VoteSource.ASSISTED,
        reason="行动不便，入户代录",
        now=NOW + 14 * MINUTE,
    )
    async with factory() as uow:
        closed = await uow.ballots.get(ident(motion))
        current = await uow.ballots.get(ident(secret))
        assert closed is not None and current is not None
    return Sitting(council_id, members, meeting, closed, current)


# --- turnout ------------------------------------------------------------------------


async def test_turnout_of_every_ballot_in_time_order(factory: FakeUnitOfWorkFactory) -> None:
    s = await sitting(factory)
    found = await reports.turnout(factory(), council_id=s.council_id, user_id=STAFF)
    assert [t.ballot_id for t in found] == [ident(s.open_ballot), ident(s.secret_ballot)]
    garden, fee = found
    assert (garden.title, garden.state, garden.result) == (
        "口袋花园建设方案",
        BallotState.CLOSED,
        Result.PASSED,
    )
    assert garden.closed_at == NOW + 8 * MINUTE and garden.opened_at == NOW + 3 * MINUTE
    assert (garden.people, garden.roll_size) == (3, 4)
    assert garden.fraction == Fraction(3, 4)
    assert isinstance(garden.fraction, Fraction)
    assert (fee.title, fee.state, fee.result, fee.secret) == (
        "物业费调整",
        BallotState.OPEN,
        None,
        True,
    )
    assert fee.took_part[Quantity.HEADCOUNT] == 3 and fee.fraction == Fraction(3, 4)
    assert fee.quantities == (Quantity.HEADCOUNT,)  # the simple rule counts people


async def test_turnout_counts_the_rules_quantities_and_a_cancelled_ballot(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    for user_id, address in ((11, "1-1-101"), (12, "1-1-101"), (13, "1-1-102")):
        await join(factory, council_id, user_id, address=address)
    topic = await open_topic(factory, council_id)
    households = Rule(
        "households",
        (),
        (Condition(Quantity.HOUSEHOLDS, Counted.FOR, Base.CAST, Fraction(1, 2), False),),
    )
    async with factory() as uow:
        ballot = await uow.ballots.add(
            Ballot(
                topic_id=ident(topic),
                council_id=council_id,
                kind=BallotKind.MOTION,
                question=topic.title,
                rule=households,
                secret=False,
                opened_by=CHAIR,
                opened_at=NOW,
            )
        )
        await uow.commit()
    await vote(factory, ident(ballot), 12, "for")
    await services.cancel_topic(
        factory(), council_id=council_id, topic_id=topic.id, user_id=CHAIR, now=NOW + MINUTE
    )
    (only,) = await reports.turnout(factory(), council_id=council_id, user_id=None)
    assert only.state is BallotState.CANCELLED and only.result is None
    assert Quantity.HOUSEHOLDS in only.quantities
    assert only.roll[Quantity.HOUSEHOLDS] == 2 and only.took_part[Quantity.HOUSEHOLDS] == 1
    assert only.fraction_in(Quantity.HOUSEHOLDS) == Fraction(1, 2)
    assert only.fraction == Fraction(1, 3)


async def test_only_chairs_staff_and_the_operator_read_reports(
    factory: FakeUnitOfWorkFactory,
) -> None:
    s = await sitting(factory)
    chair = await join(factory, s.council_id, CHAIR)  # a chair on the roll signs in on the web
    other = await set_up(factory, chat_id=-100_555)
    outsider = await join(factory, other, CHAIR)
    for user_id in (STAFF, CHAIR, None):
        assert await reports.turnout(factory(), council_id=s.council_id, user_id=user_id)
    assert await reports.turnout(
        factory(), council_id=s.council_id, user_id=None, member_id=ident(chair)
    )
    ballot_id = ident(s.open_ballot)
    calls: list[Callable[[int | None, int | None], Awaitable[object]]] = [
        lambda u, m: reports.turnout(factory(), council_id=s.council_id, user_id=u, member_id=m),
        lambda u, m: reports.ballot_audit(factory(), ballot_id=ballot_id, user_id=u, member_id=m),
        lambda u, m: reports.ballot_minutes(factory(), ballot_id=ballot_id, user_id=u, member_id=m),
        lambda u, m: reports.ballot_record(factory(), ballot_id=ballot_id, user_id=u, member_id=m),
        lambda u, m: reports.meeting_minutes(
            factory(), meeting_id=ident(s.meeting), user_id=u, member_id=m
        ),
        lambda u, m: reports.meeting_list(
            factory(), council_id=s.council_id, user_id=u, member_id=m
        ),
    ]
    for call in calls:
        for user_id, member_id in (
            (11, None),  # a member, not staff
            (STRANGER, None),
            (None, ident(s.members[11])),  # a member signed in on the web
            (STAFF, ident(outsider)),  # a chair of another council: the member decides
            (None, 10_000),  # no such member
        ):
            with pytest.raises(errors.NotStaff):
                await call(user_id, member_id)
        assert await call(STAFF, None) is not None
    with pytest.raises(errors.BallotNotFound):
        await reports.ballot_audit(factory(), ballot_id=10_000, user_id=None)
    with pytest.raises(errors.MeetingNotFound):
        await reports.meeting_minutes(factory(), meeting_id=10_000, user_id=None)


# --- the audit trail --------------------------------------------------------------------


async def test_audit_of_an_open_ballot_shows_every_vote_and_change(
    factory: FakeUnitOfWorkFactory,
) -> None:
    s = await sitting(factory)
    trail = await reports.ballot_audit(factory(), ballot_id=ident(s.open_ballot), user_id=CHAIR)
    assert trail.council.id == s.council_id and trail.topic.title == "口袋花园建设方案"
    assert not trail.secret
    got = [
        (line.name, line.household, line.action, line.choice, line.previous, line.source)
        for line in trail.lines
    ]
    assert got == [
        ("居民11", "1-1-11", AuditAction.VOTED, "for", None, VoteSource.CHAT),
        ("居民12", "1-1-12", AuditAction.VOTED, "for", None, VoteSource.CHAT),
        ("居民11", "1-1-11", AuditAction.CHANGED, "against", "for", VoteSource.CHAT),
        ("居民13", "1-1-13", AuditAction.VOTED, "for", None, VoteSource.ROOM),
    ]
    assert [line.seq for line in trail.lines] == [1, 2, 3, 4]
    assert [line.at for line in trail.lines] == [NOW + m * MINUTE for m in (4, 5, 6, 7)]
    assert [line.recorded_by for line in trail.lines] == [None, None, None, STAFF]
    assert trail.lines[3].recorded_by_name is None  # the staff member is not on the roll


async def test_audit_of_a_secret_ballot_names_who_and_when_never_a_choice(
    factory: FakeUnitOfWorkFactory,
) -> None:
    s = await sitting(factory)
    await join(factory, s.council_id, STAFF, name="王社工")  # now on the roll: named
    trail = await reports.ballot_audit(factory(), ballot_id=ident(s.secret_ballot), user_id=STAFF)
    assert trail.secret
    assert [(line.name, line.action, line.source) for line in trail.lines] == [
        ("居民11", AuditAction.VOTED, VoteSource.CHAT),
        ("居民12", AuditAction.VOTED, VoteSource.CHAT),
        ("居民12", AuditAction.CHANGED, VoteSource.CHAT),
        ("居民13", AuditAction.VOTED, VoteSource.ASSISTED),
    ]
    assert [line.at for line in trail.lines] == [NOW + m * MINUTE for m in (11, 12, 13, 14)]
    assert all(line.choice is None and line.previous is None for line in trail.lines)
    for choice in Choice:
        assert f"'{choice.value}'" not in repr(trail.lines)
    assert trail.lines[3].reason == "行动不便，入户代录"
    assert trail.lines[3].recorded_by_name == "王社工"


# --- minutes ------------------------------------------------------------------------


async def test_meeting_minutes_hold_attendance_agenda_proposals_and_figures(
    factory: FakeUnitOfWorkFactory,
) -> None:
    s = await sitting(factory)
    minutes = await reports.meeting_minutes(factory(), meeting_id=ident(s.meeting), user_id=STAFF)
    assert minutes.council.title == "杨家园社区小院议事会"
    assert minutes.meeting.place == "社区活动室"
    assert minutes.signed_in and minutes.roll_size == 4
    assert [(a.name, a.household, a.marked_by) for a in minutes.attendance] == [
        ("居民11", "1-1-11", None),
        ("居民13", "1-1-13", STAFF),
    ]
    assert minutes.items == ("物业费公示",)
    (garden,) = minutes.topics
    assert garden.topic.title == "口袋花园建设方案"
    assert [(p.text, p.author, p.seconded_by, p.seconds) for p in garden.proposals] == [
        ("种月季", "居民11", ("居民12", "居民13"), 2),
        ("种蔬菜", "居民12", (), 0),
    ]
    (figures,) = garden.ballots
    assert figures.state is BallotState.CLOSED and not figures.provisional
    assert figures.outcome is not None and figures.outcome.result is Result.PASSED
    head = figures.outcome.tallies[Quantity.HEADCOUNT]
    assert (head.for_, head.against, head.abstain) == (2, 1, 0)
    assert (figures.took_part, figures.roll_size) == (3, 4)
    assert dict(figures.sources) == {VoteSource.CHAT: 2, VoteSource.ROOM: 1}
    assert figures.ballot.rule.name == "simple"


async def test_meeting_minutes_without_a_sign_in(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, 11)
    meeting = await schedule(factory, council_id, place="", online=True, items=["通报"])
    minutes = await reports.meeting_minutes(factory(), meeting_id=ident(meeting), user_id=None)
    assert not minutes.signed_in and minutes.attendance == ()
    assert minutes.topics == () and minutes.roll_size == 1 and minutes.meeting.online


async def test_ballot_minutes_find_the_meeting_that_held_the_topic(
    factory: FakeUnitOfWorkFactory,
) -> None:
    s = await sitting(factory)
    minutes = await reports.ballot_minutes(factory(), ballot_id=ident(s.open_ballot), user_id=None)
    assert minutes.meeting is not None and minutes.meeting.id == s.meeting.id
    assert [a.name for a in minutes.attendance] == ["居民11", "居民13"]
    assert minutes.ballot.id == s.open_ballot.id
    assert minutes.topic.ballots == (minutes.figures,)
    assert [p.text for p in minutes.topic.proposals] == ["种月季", "种蔬菜"]
    # The fee was on no agenda; its ballot is still open: figures so far.
    fee = await reports.ballot_minutes(factory(), ballot_id=ident(s.secret_ballot), user_id=None)
    assert fee.meeting is None and fee.attendance == () and not fee.signed_in
    assert fee.figures.provisional and fee.figures.state is BallotState.OPEN
    assert fee.figures.outcome is not None
    head = fee.figures.outcome.tallies[Quantity.HEADCOUNT]
    assert (head.for_, head.against, head.participants) == (2, 1, 3)


async def test_a_cancelled_meeting_is_not_the_one_that_held_the_topic(
    factory: FakeUnitOfWorkFactory,
) -> None:
    s = await sitting(factory)
    await meetings.cancel_meeting(
        factory(), council_id=s.council_id, meeting_id=ident(s.meeting), user_id=CHAIR, now=NOW
    )
    listed = await reports.meeting_list(factory(), council_id=s.council_id, user_id=STAFF)
    assert [(m.id, m.status) for m in listed] == [(s.meeting.id, MeetingStatus.CANCELLED)]
    minutes = await reports.ballot_minutes(factory(), ballot_id=ident(s.open_ballot), user_id=None)
    assert minutes.meeting is None


# --- the votes of a ballot ----------------------------------------------------------


async def test_record_of_an_open_ballot_lists_each_vote(factory: FakeUnitOfWorkFactory) -> None:
    s = await sitting(factory)
    record = await reports.ballot_record(factory(), ballot_id=ident(s.open_ballot), user_id=None)
    assert [(v.name, v.household, v.choice, v.source, v.at, v.counted) for v in record.lines] == [
        ("居民11", "1-1-11", "against", VoteSource.CHAT, NOW + 6 * MINUTE, True),
        ("居民12", "1-1-12", "for", VoteSource.CHAT, NOW + 5 * MINUTE, True),
        ("居民13", "1-1-13", "for", VoteSource.ROOM, NOW + 7 * MINUTE, True),
    ]


async def test_record_of_a_secret_ballot_lists_who_took_part_only(
    factory: FakeUnitOfWorkFactory,
) -> None:
    s = await sitting(factory)
    record = await reports.ballot_record(factory(), ballot_id=ident(s.secret_ballot), user_id=None)
    assert record.secret
    assert [(v.name, v.household) for v in record.lines] == [
        ("居民11", "1-1-11"),
        ("居民12", "1-1-12"),
        ("居民13", "1-1-13"),
    ]
    assert all(v.choice is None and v.source is None and v.at is None for v in record.lines)
    for choice in Choice:
        assert f"'{choice.value}'" not in repr(record.lines)
    assert record.figures.outcome is not None  # the totals per choice, and only they
    head = record.figures.outcome.tallies[Quantity.HEADCOUNT]
    assert (head.for_, head.against) == (2, 1)
