"""The repository contract of the volunteering reports, on the fakes, SQLite and
PostgreSQL: tasks by state (listed and counted), residents' requests with their waits
(the median and the 90th percentile picked by the database), and the hours ledger's
sums per member, team and period.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.ports import HoursSum, RequestWaits, UnitOfWorkFactory
from domain.task_rules import HoursEntry, Task, TaskSource, TaskState
from tests.storage.helpers import (
    add_tasks,
    add_team,
    assert_utc,
    at,
    in_shanghai,
    make_council,
    make_members,
    make_task,
)


async def test_tasks_of_a_council_by_state_latest_first_and_counted(
    uows: UnitOfWorkFactory,
) -> None:
    council_id = await make_council(uows)
    other_id = await make_council(uows, chat_id=-100_999)
    (a,) = await make_members(uows, council_id, 1)
    ids = await add_tasks(
        uows,
        make_task(council_id, created_at=at(0)),  # open
        make_task(council_id, created_at=at(5), state=TaskState.OFFERED, round=1),
        make_task(
            council_id,
            created_at=at(1),
            state=TaskState.ACCEPTED,
            round=1,
            accepted_by=a,
            accepted_at=at(2),
        ),
        # Done: the latest done first, whenever they were made.
        make_task(
            council_id,
            created_at=at(3),
            state=TaskState.DONE,
            accepted_by=a,
            accepted_at=at(4),
            closed_at=in_shanghai(at(100)),
            hours=Decimal("1.50"),
        ),
        make_task(
            council_id,
            created_at=at(0),
            state=TaskState.DONE,
            accepted_by=a,
            accepted_at=at(1),
            closed_at=at(200),
            hours=Decimal("2"),
        ),
        make_task(council_id, created_at=at(6), state=TaskState.EXPIRED, closed_at=at(300)),
        make_task(other_id, created_at=at(9)),
    )
    async with uows() as uow:
        open_ = await uow.tasks.of_council(
            council_id, (TaskState.OPEN, TaskState.OFFERED, TaskState.ACCEPTED), 10
        )
        first_two = await uow.tasks.of_council(
            council_id, (TaskState.OPEN, TaskState.OFFERED, TaskState.ACCEPTED), 2
        )
        done = await uow.tasks.of_council(council_id, (TaskState.DONE,), 10)
        none = await uow.tasks.of_council(council_id, (TaskState.CANCELLED,), 10)
        counts = await uow.tasks.count_by_state(council_id)
        other = await uow.tasks.count_by_state(other_id)
        nothing = await uow.tasks.count_by_state(other_id + 1000)

    assert [t.id for t in open_] == [ids[1], ids[2], ids[0]]
    assert [t.id for t in first_two] == [ids[1], ids[2]]
    assert [t.id for t in done] == [ids[4], ids[3]]
    assert [t.hours for t in done] == [Decimal("2.00"), Decimal("1.50")]
    assert done[1].closed_at == at(100)
    assert_utc(done[1].closed_at)
    assert none == []
    assert counts == {
        TaskState.OPEN: 1,
        TaskState.OFFERED: 1,
        TaskState.ACCEPTED: 1,
        TaskState.DONE: 2,
        TaskState.EXPIRED: 1,
    }
    assert other == {TaskState.OPEN: 1}
    assert nothing == {}


async def test_requests_with_their_waits_per_category(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other_id = await make_council(uows, chat_id=-100_999)
    (a,) = await make_members(uows, council_id, 1)

    def taken(skill: str | None, made: float, wait: timedelta, **changes: object) -> Task:
        fields: dict[str, object] = {
            "state": TaskState.DONE,
            "accepted_by": a,
            "closed_at": at(made) + wait + timedelta(hours=1),
        }
        fields.update(changes)
        return make_task(
            council_id, skill=skill, created_at=at(made), accepted_at=at(made) + wait, **fields
        )

    minutes = timedelta(minutes=1)
    # repair: waits of 7, 1, 4, 10, 2 minutes (made in that order) and a 30-second one
    # cancelled after it was taken: six taken, the median (2 + 4) / 2 = 3 min, the p90
    # the 6th (ceil 5.4) = 10 min; one still offered, one expired, one cancelled untaken.
    repair = [
        taken("repair", 0, 7 * minutes),
        taken("repair", 10, 1 * minutes),
        taken("repair", 20, 4 * minutes),
        taken("repair", 30, 10 * minutes),
        taken("repair", 40, 2 * minutes),
        taken(
            "repair",
            50,
            timedelta(seconds=30, microseconds=7),
            state=TaskState.CANCELLED,
            closed_at=at(60),
        ),
        make_task(council_id, created_at=at(60), state=TaskState.OFFERED, round=1),
        make_task(council_id, created_at=at(61), state=TaskState.EXPIRED, closed_at=at(90)),
        make_task(council_id, created_at=at(62), state=TaskState.CANCELLED, closed_at=at(63)),
    ]
    # health: one taken, three minutes; the median and the p90 are that one.
    health = [taken("health", 5, 3 * minutes, state=TaskState.ACCEPTED, closed_at=None)]
    # anyone (no skill): one open, never taken yet.
    anyone = [make_task(council_id, skill=None, created_at=at(7))]
    others = [
        # A resolution's task is no resident's request.
        taken("repair", 8, 99 * minutes, source=TaskSource.RESOLUTION),
        make_task(other_id, created_at=at(1)),
    ]
    await add_tasks(uows, *repair, *health, *anyone, *others)

    async with uows() as uow:
        waits = await uow.tasks.request_waits(council_id, None, None)
        # Made in [at(10), at(45)): waits 1, 4, 10, 2: median 3, p90 the 4th (ceil 3.6).
        window = await uow.tasks.request_waits(council_id, at(10), at(45))
        later = await uow.tasks.request_waits(council_id, at(1000), None)

    assert waits == {
        "repair": RequestWaits(
            requests=9,
            taken=6,
            waiting=1,
            never_taken=2,
            median=3 * minutes,
            p90=10 * minutes,
        ),
        "health": RequestWaits(1, 1, 0, 0, 3 * minutes, 3 * minutes),
        None: RequestWaits(1, 0, 1, 0, None, None),
    }
    assert window == {"repair": RequestWaits(4, 4, 0, 0, 3 * minutes, 10 * minutes)}
    assert later == {}


async def test_hours_added_up_per_member_team_and_period(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other_id = await make_council(uows, chat_id=-100_999)
    a, b, c = await make_members(uows, council_id, 3)
    (z,) = await make_members(uows, other_id, 1, first_user=500)
    team_a = await add_team(uows, council_id, "畅大妈志愿服务队")
    team_b = await add_team(uows, council_id, "青年突击队")
    ids = await add_tasks(uows, *(make_task(council_id) for _ in range(16)))
    (elsewhere,) = await add_tasks(uows, make_task(other_id))

    # Shanghai's months (UTC+8): May starts at 2025-04-30 16:00 UTC.
    may = datetime(2025, 4, 30, 16, tzinfo=UTC)
    june = datetime(2025, 5, 31, 16, tzinfo=UTC)
    july = datetime(2025, 6, 30, 16, tzinfo=UTC)

    def entry(task: int, member: int, hours: str, moment: datetime, team: int | None) -> HoursEntry:
        return HoursEntry(council_id, member, ids[task], Decimal(hours), moment, team)

    entries = [
        entry(0, a, "1.50", may - timedelta(seconds=1), team_a),  # April, local time
        entry(1, a, "2.25", may, team_a),  # May's first instant
        entry(2, a, "0.5", in_shanghai(june - timedelta(microseconds=1)), None),
        entry(3, b, "3", june, team_b),
        entry(4, c, "12.00", july + timedelta(days=3), team_a),
        # Ten times 0.10 in May: exactly 1.00, never 0.9999999….
        *(entry(5 + i, c, "0.10", may + timedelta(days=i), team_b) for i in range(10)),
    ]
    async with uows() as uow:
        for e in entries:
            assert await uow.hours.add(e) is True
        await uow.hours.add(HoursEntry(other_id, z, elsewhere, Decimal("7"), may))
        await uow.commit()

    async with uows() as uow:
        members = await uow.hours.per_member(council_id, None, None)
        from_may = await uow.hours.per_member(council_id, may, None)
        teams = await uow.hours.per_team(council_id, None, None)
        in_may = await uow.hours.per_team(council_id, may, june)
        months = await uow.hours.per_period(council_id, [may, june, july, july + timedelta(30)])
        one_edge = await uow.hours.per_period(council_id, [may])
        span = await uow.hours.span(council_id, None, None)
        span_may = await uow.hours.span(council_id, may, june)
        span_none = await uow.hours.span(council_id, july + timedelta(days=30), None)

    assert members == {
        a: HoursSum(Decimal("4.25"), 3, 1),
        b: HoursSum(Decimal("3.00"), 1, 1),
        c: HoursSum(Decimal("13.00"), 11, 1),
    }
    assert from_may[a] == HoursSum(Decimal("2.75"), 2, 1)
    assert teams == {
        team_a: HoursSum(Decimal("15.75"), 3, 2),
        team_b: HoursSum(Decimal("4.00"), 11, 2),
        None: HoursSum(Decimal("0.50"), 1, 1),
    }
    assert in_may == {
        team_a: HoursSum(Decimal("2.25"), 1, 1),
        team_b: HoursSum(Decimal("1.00"), 10, 1),
        None: HoursSum(Decimal("0.50"), 1, 1),
    }
    assert months == [
        HoursSum(Decimal("3.75"), 12, 2),  # May: a 2.25 + 0.5, c 10 x 0.10
        HoursSum(Decimal("3.00"), 1, 1),  # June: b
        HoursSum(Decimal("12.00"), 1, 1),  # July: c
    ]
    assert all(isinstance(m.hours, Decimal) for m in months)
    assert one_edge == []
    assert span == (may - timedelta(seconds=1), july + timedelta(days=3))
    assert span_may == (may, june - timedelta(microseconds=1))
    assert span is not None and span_may is not None
    for moment in (*span, *span_may):
        assert_utc(moment)
    assert span_none is None
