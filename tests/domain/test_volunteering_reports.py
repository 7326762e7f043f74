"""The staff console's volunteering reports (``domain/volunteering/reports.py``), on the
fakes: tasks made, offered, taken and done by the use cases, as the bot would, then
read back as the task board, the hours report and the requests report.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain import errors, volunteering
from domain.model import MemberStatus
from domain.ports import HoursSum
from domain.task_rules import TaskSource, TaskState
from domain.volunteering.reports import (
    OPERATOR,
    MonthHours,
    PersonHours,
    RequestCategory,
    TeamHours,
    Viewer,
    hours_report,
    month_edges,
    requests_report,
    task_board,
)
from tests.domain.builders import (
    CHAIR,
    NOW,
    OTHER_CHAT,
    STRANGER,
    ident,
    join,
    set_up,
    unchanged,
    update_council,
)
from tests.domain.test_volunteering import (
    REQUESTER,
    answer,
    neighbourhood,
    offer_to,
    register,
    request,
)
from tests.fakes import FakeUnitOfWorkFactory

STAFF = 50  # a social worker (社工) of the council, on its roll
MINUTE = timedelta(minutes=1)
# NOW is 2025-05-06 09:30 UTC; Shanghai's June starts at 2025-05-31 16:00 UTC.
JUNE = datetime(2025, 5, 31, 16, tzinfo=UTC)


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


async def served(
    factory: FakeUnitOfWorkFactory,
    council_id: int,
    volunteer: int,
    *,
    made: datetime,
    wait: timedelta,
    done: datetime | None,
    hours: Decimal | None = None,
    skill: str | None = "repair",
) -> int:
    """A request by REQUESTER at ``made``, accepted by ``volunteer`` after ``wait`` and
    (unless ``done`` is None) reported done at ``done``; the task's id."""
    task_id = ident((await request(factory, council_id, skill=skill, now=made)).task)
    await answer(factory, ident(offer_to(factory, task_id, volunteer)), volunteer, now=made + wait)
    if done is not None:
        await volunteering.complete_task(
            factory(), task_id=task_id, user_id=volunteer, note="", hours=hours, now=done
        )
    return task_id


async def community(factory: FakeUnitOfWorkFactory) -> tuple[int, dict[str, int]]:
    """A council with repair volunteers 102 and 103 (103 of 畅大妈志愿服务队), staff
    member STAFF, and requests by REQUESTER:

    * ``first`` (repair) at NOW, taken by 102 after 5 minutes, done 55 minutes later:
      credited 1 hour (rounded up to the half hour), in May;
    * ``second`` (repair) a day later, taken by 103 after 20 minutes, done on 1 June
      (Shanghai time; still 31 May in UTC) with 2.5 hours said;
    * ``third`` (needing no skill) two days later, taken by 102 after an hour and a
      half, still being done;
    * ``fourth`` (repair) three days later: offered, nobody took it yet.
    """
    council_id = await neighbourhood(factory, 102)
    await volunteering.add_team(
        factory(), council_id=council_id, user_id=CHAIR, name="畅大妈志愿服务队", leader_user_ids=()
    )
    await join(factory, council_id, 103)
    await register(factory, council_id, 103, team="畅大妈志愿服务队")
    await join(factory, council_id, STAFF, name="王社工")
    await update_council(factory, council_id, staff={STAFF})
    tasks = {
        "first": await served(
            factory, council_id, 102, made=NOW, wait=5 * MINUTE, done=NOW + 60 * MINUTE
        ),
        "second": await served(
            factory,
            council_id,
            103,
            made=NOW + timedelta(days=1),
            wait=20 * MINUTE,
            done=JUNE + 30 * MINUTE,
            hours=Decimal("2.5"),
        ),
        "third": await served(
            factory,
            council_id,
            102,
            made=NOW + timedelta(days=2),
            wait=90 * MINUTE,
            done=None,
            skill=None,
        ),
        "fourth": ident((await request(factory, council_id, now=NOW + timedelta(days=3))).task),
    }
    return council_id, tasks


def member_of(factory: FakeUnitOfWorkFactory, user_id: int, council_id: int | None = None) -> int:
    (found,) = [
        i
        for i, m in factory.store.committed.members.items()
        if m.user_id == user_id and council_id in (None, m.council_id)
    ]
    return found


# --- the task board ----------------------------------------------------------


async def test_the_board_lists_open_and_done_tasks_with_who_took_them_and_when(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, tasks = await community(factory)

    board = await task_board(factory(), council_id=council_id, viewer=Viewer.user(STAFF))

    assert [line.id for line in board.open] == [tasks["fourth"], tasks["third"]]
    assert [line.id for line in board.done] == [tasks["second"], tasks["first"]]
    fourth, third = board.open
    assert (fourth.state, fourth.taken_by, fourth.taken_at) == (TaskState.OFFERED, None, None)
    assert fourth.requested_at == NOW + timedelta(days=3)
    assert (third.state, third.skill, third.taken_by) == (TaskState.ACCEPTED, None, "居民102")
    assert third.taken_at == NOW + timedelta(days=2, minutes=90)
    assert third.done_at is None
    second, first = board.done
    assert (second.title, second.skill, second.source) == (
        "厨房水管爆了",
        "repair",
        TaskSource.REQUEST,
    )
    assert (second.taken_by, second.requester, second.hours) == (
        "居民103",
        f"居民{REQUESTER}",
        Decimal("2.5"),
    )
    assert second.requested_at == NOW + timedelta(days=1)
    assert second.taken_at == NOW + timedelta(days=1, minutes=20)
    assert second.done_at == JUNE + 30 * MINUTE
    assert (first.taken_by_id, first.hours) == (member_of(factory, 102), Decimal(1))
    assert board.counts[TaskState.DONE] == 2 and board.counts[TaskState.CANCELLED] == 0
    assert (board.open_count, board.done_count) == (2, 2)


async def test_the_board_shows_at_most_the_limits_but_counts_everything(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, tasks = await community(factory)

    board = await task_board(
        factory(), council_id=council_id, viewer=OPERATOR, open_limit=1, done_limit=1
    )

    assert [line.id for line in board.open] == [tasks["fourth"]]
    assert [line.id for line in board.done] == [tasks["second"]]
    assert (board.open_count, board.done_count) == (2, 2)


# --- who may read ------------------------------------------------------------


async def test_chairs_staff_and_the_operator_read_by_user_or_by_member(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, _ = await community(factory)
    readers = [
        Viewer.user(CHAIR),
        Viewer.user(STAFF),
        Viewer.member(member_of(factory, STAFF)),
        OPERATOR,
    ]

    for viewer in readers:
        board = await task_board(factory(), council_id=council_id, viewer=viewer)
        hours = await hours_report(factory(), council_id=council_id, viewer=viewer)
        asked = await requests_report(factory(), council_id=council_id, viewer=viewer)
        assert (board.done_count, hours.total.tasks, asked.requests) == (2, 2, 4)


async def test_residents_volunteers_strangers_and_other_councils_staff_are_refused(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, _ = await community(factory)
    other_id = await set_up(factory, chat_id=OTHER_CHAT)  # CHAIR chairs it too
    await join(factory, other_id, CHAIR)
    refused = [
        Viewer.user(REQUESTER),
        Viewer.user(102),  # a volunteer
        Viewer.user(STRANGER),
        Viewer.member(member_of(factory, REQUESTER)),
        Viewer.member(member_of(factory, 102)),
        Viewer.member(10_000),  # nobody
        # A chair, but by their entry on another council's roll: a web session
        # signed in there reads nothing here.
        Viewer.member(member_of(factory, CHAIR, other_id)),
    ]

    with unchanged(factory):
        for viewer in refused:
            for report in (task_board, hours_report, requests_report):
                with pytest.raises(errors.NotStaff):
                    await report(factory(), council_id=council_id, viewer=viewer)


async def test_a_staff_member_removed_from_the_roll_no_longer_reads(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, _ = await community(factory)
    staff_member = member_of(factory, STAFF)
    async with factory() as uow:
        member = await uow.members.get(staff_member)
        assert member is not None
        member.status = MemberStatus.REMOVED
        await uow.members.update(member)
        await uow.commit()

    with pytest.raises(errors.NotStaff):
        await task_board(factory(), council_id=council_id, viewer=Viewer.member(staff_member))


async def test_an_unknown_council_is_refused(factory: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(errors.DomainError):
        await task_board(factory(), council_id=404, viewer=OPERATOR)


def test_a_viewer_is_a_user_or_a_member_not_both() -> None:
    with pytest.raises(ValueError):
        Viewer(user_id=1, member_id=2)


# --- hours -------------------------------------------------------------------


async def test_hours_per_person_team_and_local_month(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await community(factory)
    team_id = next(iter(factory.store.committed.teams))

    report = await hours_report(factory(), council_id=council_id, viewer=Viewer.user(STAFF))

    assert report.people == [
        PersonHours(member_of(factory, 103), "居民103", Decimal("2.50"), 1),
        PersonHours(member_of(factory, 102), "居民102", Decimal("1.00"), 1),
    ]
    assert report.teams == [
        TeamHours(team_id, "畅大妈志愿服务队", Decimal("2.50"), 1, 1),
        TeamHours(None, None, Decimal("1.00"), 1, 1),
    ]
    may = datetime(2025, 4, 30, 16, tzinfo=UTC)
    july = datetime(2025, 6, 30, 16, tzinfo=UTC)
    # The 2.5 hours were credited on 31 May UTC, 1 June in Shanghai: June's.
    assert report.months == [
        MonthHours(2025, 5, may, JUNE, Decimal("1.00"), 1, 1),
        MonthHours(2025, 6, JUNE, july, Decimal("2.50"), 1, 1),
    ]
    assert report.total == HoursSum(Decimal("3.50"), 2, 2)
    assert (report.since, report.until) == (None, None)


async def test_hours_within_a_period_cut_the_first_and_last_months(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, _ = await community(factory)
    since = NOW - timedelta(days=40)  # 27 March, Shanghai time
    until = JUNE + 10 * MINUTE  # before the 2.5 hours were credited

    report = await hours_report(
        factory(), council_id=council_id, viewer=OPERATOR, since=since, until=until
    )

    assert [p.hours for p in report.people] == [Decimal("1.00")]
    assert [(m.year, m.month, m.hours, m.tasks) for m in report.months] == [
        (2025, 3, Decimal("0.00"), 0),
        (2025, 4, Decimal("0.00"), 0),
        (2025, 5, Decimal("1.00"), 1),
        (2025, 6, Decimal("0.00"), 0),
    ]
    assert report.months[0].start == since and report.months[-1].end == until
    assert report.months[1].start == datetime(2025, 3, 31, 16, tzinfo=UTC)
    assert report.total == HoursSum(Decimal("1.00"), 1, 1)


async def test_no_hours_yet_is_an_empty_report(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await neighbourhood(factory, 102)

    report = await hours_report(factory(), council_id=council_id, viewer=OPERATOR)

    assert (report.people, report.teams, report.months) == ([], [], [])
    assert report.total == HoursSum(Decimal("0.00"), 0, 0)


async def test_a_period_that_ends_before_it_starts_or_spans_too_long_is_refused(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, _ = await community(factory)
    for since, until in ((NOW, NOW), (NOW, NOW - MINUTE), (NOW - timedelta(days=3700), NOW)):
        with pytest.raises(errors.InvalidInput):
            await hours_report(
                factory(), council_id=council_id, viewer=OPERATOR, since=since, until=until
            )
    with pytest.raises(errors.InvalidInput):
        await requests_report(
            factory(), council_id=council_id, viewer=OPERATOR, since=NOW, until=NOW
        )


def test_month_edges_run_over_the_year_s_end_in_local_time() -> None:
    first = datetime(2025, 11, 30, 16, 0, tzinfo=UTC)  # 1 December in Shanghai
    last = datetime(2026, 1, 31, 15, 59, tzinfo=UTC)  # still 31 January there

    edges = month_edges(first, last, "Asia/Shanghai")

    assert [(y, m) for y, m, _ in edges] == [(2025, 12), (2026, 1), (2026, 2)]
    assert [at for _, _, at in edges] == [
        datetime(2025, 11, 30, 16, tzinfo=UTC),
        datetime(2025, 12, 31, 16, tzinfo=UTC),
        datetime(2026, 1, 31, 16, tzinfo=UTC),
    ]


# --- requests ----------------------------------------------------------------


async def test_requests_by_category_and_how_fast_they_were_taken(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, _ = await community(factory)

    report = await requests_report(factory(), council_id=council_id, viewer=Viewer.user(CHAIR))

    assert report.categories == [
        # Waits of 5 and 20 minutes: the median between them, the p90 the longer.
        RequestCategory("repair", 3, 2, 1, 0, timedelta(minutes=12, seconds=30), 20 * MINUTE),
        RequestCategory(None, 1, 1, 0, 0, 90 * MINUTE, 90 * MINUTE),
    ]
    assert (report.requests, report.taken, report.waiting, report.never_taken) == (4, 3, 1, 0)


async def test_requests_never_taken_and_those_of_a_period(factory: FakeUnitOfWorkFactory) -> None:
    council_id, tasks = await community(factory)
    await volunteering.cancel_task(
        factory(), task_id=tasks["fourth"], user_id=CHAIR, now=NOW + timedelta(days=4)
    )

    everything = await requests_report(factory(), council_id=council_id, viewer=OPERATOR)
    later = await requests_report(
        factory(), council_id=council_id, viewer=OPERATOR, since=NOW + timedelta(hours=1)
    )

    assert everything.categories[0] == RequestCategory(
        "repair", 3, 2, 0, 1, timedelta(minutes=12, seconds=30), 20 * MINUTE
    )
    assert later.categories == [
        RequestCategory("repair", 2, 1, 0, 1, 20 * MINUTE, 20 * MINUTE),
        RequestCategory(None, 1, 1, 0, 0, 90 * MINUTE, 90 * MINUTE),
    ]
    assert (later.requests, later.never_taken) == (3, 1)
