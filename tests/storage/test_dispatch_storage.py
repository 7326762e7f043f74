"""Storage of dispatch: volunteers, teams, member units, tasks, offers and the hours
ledger, the council's dispatch settings and ``topics.latest_decided``, on SQLite and
PostgreSQL.

Then the race the issue is about: two volunteers press Accept on offers of the same
task at the same moment, each in a unit of work of its own (its own session and
connection), started together with ``asyncio.gather``. ``answer_offer`` locks the
task (``Lock.UPDATE``), so exactly one gets it and the other is told ``TaskTaken``;
likewise an Accept and the ``OFFER_EXPIRY`` job at the expiry moment: whichever
commits first wins, never both. Also a double tap, two declines ending the round
once, an accept against the other volunteer's decline, and concurrent duplicate teams
and hour credits. Each race runs many times; the contenders meet at a start line (an
``asyncio.Barrier``) and record when they ask for the lock, get it and commit, so the
tests see the serialization itself, not only its outcome.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from types import TracebackType
from typing import Any, cast

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from domain import errors, jobs, services, tasks
from domain.dispatch import (
    HoursEntry,
    MemberUnit,
    Offer,
    OfferState,
    Task,
    TaskSource,
    TaskState,
    TaskTaken,
    Team,
    Volunteer,
)
from domain.model import Council, NoticeKind, Phase, Topic
from domain.ports import Lock, UnitOfWork
from domain.rules import Result, preset
from domain.schedule import DEFAULT_GRACE, Job, JobKind
from storage import migrate
from storage.db import create_engine
from storage.orm import NoticeRow
from storage.uow import Database, SqlUnitOfWork
from tests.storage.helpers import T0, at, make_council, make_members, make_topic

SHANGHAI = timezone(timedelta(hours=8))
BIG_USER = 7_000_000_123  # beyond 32 bits: messenger user ids are BIGINT


def in_shanghai(moment: datetime) -> datetime:
    """The same instant, written in UTC+8: storage must keep instants, not wall clocks."""
    return moment.astimezone(SHANGHAI)


def is_postgresql(db: Database) -> bool:
    return db.engine.dialect.name == "postgresql"


def assert_utc(moment: datetime | None) -> None:
    assert moment is not None
    assert moment.tzinfo is not None, f"naive datetime {moment!r}"
    assert moment.utcoffset() == timedelta(0), f"not UTC: {moment!r}"


def assert_types(task: Task) -> None:
    assert type(task.state) is TaskState
    assert type(task.source) is TaskSource
    assert type(task.hours) is Decimal
    assert type(task.member_ids) is frozenset
    for moment in (task.created_at, task.due, task.accepted_at, task.closed_at):
        if moment is not None:
            assert_utc(moment)


def make_task(council_id: int, **changes: Any) -> Task:
    fields: dict[str, Any] = {
        "council_id": council_id,
        "title": "修理楼道灯",
        "description": "3 号楼 2 单元楼道灯不亮",
        "skill": "repair",
        "grid": "3",
        "source": TaskSource.REQUEST,
        "created_at": at(0),
    }
    fields.update(changes)
    return Task(**fields)


async def add_tasks(db: Database, *new: Task) -> list[int]:
    async with db.uow() as uow:
        for task in new:
            await uow.tasks.add(task)
        await uow.commit()
    ids = [t.id for t in new if t.id is not None]
    assert len(ids) == len(new)
    return ids


async def add_team(db: Database, council_id: int, name: str, *leaders: int) -> int:
    async with db.uow() as uow:
        team = await uow.teams.add(Team(council_id, name, frozenset(leaders)))
        await uow.commit()
    assert team.id is not None
    return team.id


def offer(task_id: int, member_id: int, offered: float, **changes: Any) -> Offer:
    fields: dict[str, Any] = {
        "task_id": task_id,
        "member_id": member_id,
        "round": 1,
        "offered_at": at(offered),
        "expires_at": at(offered + 30),
    }
    fields.update(changes)
    return Offer(**fields)


async def add_offers(db: Database, *new: Offer) -> list[int]:
    async with db.uow() as uow:
        for o in new:
            await uow.offers.add(o)
        await uow.commit()
    ids = [o.id for o in new if o.id is not None]
    assert len(ids) == len(new)
    return ids


async def count_notices(db: Database, task_id: int, kind: NoticeKind) -> int:
    async with db.uow() as uow:
        count = await uow.session.scalar(
            select(func.count())
            .select_from(NoticeRow)
            .where(NoticeRow.kind == kind.value, NoticeRow.subject == task_id)
        )
    return int(count or 0)


# --- the council's dispatch settings, and topics.latest_decided ---------------------


async def test_council_dispatch_settings_round_trip(database: Database) -> None:
    default_id = await make_council(database)
    council = Council(
        chat_id=-1_009_876_543_210,
        thread_id=7,
        title="枫林苑议事会",
        rule=preset("simple"),
        timezone="Asia/Shanghai",
        language="zh",
        created_at=at(0),
        chairs={BIG_USER},
        skills=("园艺", "电脑", "repair"),
        offer_minutes=45,
        offer_round=5,
    )
    async with database.uow() as uow:
        await uow.councils.add(council)
        await uow.commit()
    assert council.id is not None
    async with database.uow() as uow:
        default = await uow.councils.get(default_id)
        loaded = await uow.councils.get(council.id)
        by_chat = await uow.councils.by_chat(-1_009_876_543_210, 7)
        many = await uow.councils.many([default_id, council.id])
    assert default is not None  # added without them: the defaults
    assert (default.skills, default.offer_minutes, default.offer_round) == ((), 30, 3)
    assert loaded == council == by_chat == many[council.id]
    assert loaded is not None
    assert loaded.skills == ("园艺", "电脑", "repair")  # a tuple, in the order given
    assert type(loaded.skills) is tuple
    assert loaded.all_skills.count("repair") == 1

    loaded.skills = ("陪诊",)
    loaded.offer_minutes = 10
    loaded.offer_round = 1
    async with database.uow() as uow:
        await uow.councils.update(loaded)
        await uow.commit()
    async with database.uow() as uow:
        again = await uow.councils.get(council.id)
        untouched = await uow.councils.get(default_id)
    assert again == loaded
    assert again is not None and (again.skills, again.offer_minutes, again.offer_round) == (
        ("陪诊",),
        10,
        1,
    )
    assert untouched == default


async def test_councils_set_up_before_dispatch_get_its_defaults(database_url: str) -> None:
    """Migration 0003 gives existing councils no skills of their own, 30 minutes to answer
    an offer and 3 volunteers asked at once; the repository reads and writes them."""
    await migrate.upgrade(database_url, "0002")
    engine = create_engine(database_url)
    rule = json.dumps(dict(preset("simple").to_dict()))
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(
                "INSERT INTO councils (chat_id, thread_id, title, rule, timezone, language,"
                f" require_approval, created_at) VALUES (-100, 0, 'old', '{rule}', 'Asia/Shanghai',"
                " 'zh', false, '2025-01-01 00:00:00')"
            )
    finally:
        await engine.dispose()
    await migrate.upgrade(database_url)
    db = await Database.open(database_url, migrate=False)
    try:
        async with db.uow() as uow:
            council = await uow.councils.by_chat(-100, 0)
            assert council is not None
            assert (council.skills, council.offer_minutes, council.offer_round) == ((), 30, 3)
            council.skills = ("园艺",)
            council.offer_round = 4
            await uow.councils.update(council)
            await uow.commit()
        async with db.uow() as uow:
            assert await uow.councils.by_chat(-100, 0) == council
    finally:
        await db.dispose()


async def test_latest_decided(database: Database) -> None:
    council_id = await make_council(database)
    other_id = await make_council(database, chat_id=-100_999)
    empty_id = await make_council(database, chat_id=-100_998)

    def topic(council: int, phase: Phase, decided: datetime | None) -> Topic:
        return Topic(
            council_id=council,
            title=f"议题 {phase.value}",
            description="",
            opened_by=BIG_USER,
            opened_at=at(0),
            phase=phase,
            decided_at=decided,
            result=Result.PASSED if phase is Phase.DECIDED else None,
        )

    first = topic(council_id, Phase.DECIDED, at(100))
    # Later as an instant, earlier on the wall clock: instants are compared.
    latest = topic(council_id, Phase.DECIDED, in_shanghai(at(200)))
    # 08:00 wall clock later than ``latest`` in UTC+8, but an earlier instant.
    earlier_wall = topic(council_id, Phase.DECIDED, at(150).replace(tzinfo=SHANGHAI))
    cancelled = topic(council_id, Phase.CANCELLED, at(300))  # cancel() sets decided_at too
    voting = topic(council_id, Phase.VOTING, None)
    collecting = topic(council_id, Phase.COLLECTING, None)
    elsewhere = topic(other_id, Phase.DECIDED, at(400))
    async with database.uow() as uow:
        for t in (first, latest, earlier_wall, cancelled, voting, collecting, elsewhere):
            await uow.topics.add(t)
        await uow.commit()
    async with database.uow() as uow:
        found = await uow.topics.latest_decided(council_id)
        assert await uow.topics.latest_decided(other_id) == elsewhere
        assert await uow.topics.latest_decided(empty_id) is None
    assert found == latest
    assert found is not None and found.decided_at is not None
    assert_utc(found.decided_at)

    # Decided at the same instant: the one added last.
    tied = topic(council_id, Phase.DECIDED, at(200))
    async with database.uow() as uow:
        await uow.topics.add(tied)
        await uow.commit()
        assert await uow.topics.latest_decided(council_id) == tied


# --- volunteers -------------------------------------------------------------------


async def test_volunteer_put_get_and_of_council(database: Database) -> None:
    council_id = await make_council(database)
    other_id = await make_council(database, chat_id=-100_999)
    a, b, c, d = await make_members(database, council_id, 4)
    (stranger,) = await make_members(database, other_id, 1, first_user=500)
    team_a = await add_team(database, council_id, "畅大妈志愿服务队", a)
    team_b = await add_team(database, council_id, "青年突击队")

    first = Volunteer(
        member_id=b,
        council_id=council_id,
        skills=frozenset({"repair", "health", "园艺"}),
        grid="3",
        registered_at=in_shanghai(at(5)),
        team_id=team_a,
    )
    async with database.uow() as uow:
        assert await uow.volunteers.get(council_id, b) is None
        assert await uow.volunteers.put(first) == first
        # Read back in the same unit of work, before the commit.
        assert await uow.volunteers.get(council_id, b) == first
        await uow.commit()
    async with database.uow() as uow:
        loaded = await uow.volunteers.get(council_id, b)
    assert loaded == first
    assert loaded is not None and type(loaded.skills) is frozenset
    assert loaded.available is True
    assert_utc(loaded.registered_at)

    # The same member again: an update of the one registration, not a second row.
    changed = replace(
        first,
        skills=frozenset(),
        grid="",
        team_id=None,
        available=False,
        registered_at=at(9),
    )
    async with database.uow() as uow:
        await uow.volunteers.put(changed)
        assert await uow.volunteers.get(council_id, b) == changed
        await uow.commit()
    async with database.uow() as uow:
        assert await uow.volunteers.get(council_id, b) == changed
        assert await uow.volunteers.of_council(council_id) == [changed]
        # Read, written, read again in one unit of work: the second read is not stale.
        back = replace(changed, skills=frozenset({"haircut"}), available=True)
        await uow.volunteers.put(back)
        assert await uow.volunteers.get(council_id, b) == back
        assert await uow.volunteers.of_council(council_id) == [back]
        await uow.volunteers.put(changed)
        assert await uow.volunteers.get(council_id, b) == changed
        await uow.commit()

    others = [
        Volunteer(d, council_id, frozenset({"legal"}), "5", at(1), team_id=team_a),
        Volunteer(a, council_id, frozenset({"errands"}), "1", at(2), team_id=team_b),
        Volunteer(c, council_id, frozenset({"repair"}), "3", at(3), team_id=team_a),
        Volunteer(stranger, other_id, frozenset({"repair"}), "3", at(4), team_id=None),
    ]
    async with database.uow() as uow:
        for v in others:
            await uow.volunteers.put(v)
        await uow.commit()
    by_member = {v.member_id: v for v in [changed, *others]}
    async with database.uow() as uow:
        everyone = await uow.volunteers.of_council(council_id)
        of_a = await uow.volunteers.of_council(council_id, team_a)
        of_b = await uow.volunteers.of_council(council_id, team_b)
        of_other = await uow.volunteers.of_council(other_id)
        assert await uow.volunteers.of_council(council_id, team_b + 1000) == []
        # A member of another council is not this council's volunteer.
        assert await uow.volunteers.get(council_id, stranger) is None
        assert await uow.volunteers.get(other_id, b) is None
    assert everyone == [by_member[m] for m in sorted([a, b, c, d])]
    assert of_a == [by_member[c], by_member[d]]
    assert of_b == [by_member[a]]
    assert of_other == [by_member[stranger]]


# --- teams and member units ---------------------------------------------------------


async def test_teams(database: Database) -> None:
    council_id = await make_council(database)
    other_id = await make_council(database, chat_id=-100_999)
    a, b, c = await make_members(database, council_id, 3)
    async with database.uow() as uow:
        first = await uow.teams.add(Team(council_id, "畅大妈志愿服务队", frozenset({a, b})))
        assert first.id is not None
        with pytest.raises(errors.AlreadyExists) as refused:
            await uow.teams.add(Team(council_id, "畅大妈志愿服务队", frozenset({c})))
        assert refused.value.params == {"name": "畅大妈志愿服务队"}
        # The refusal left the transaction usable: more work, then the commit.
        second = await uow.teams.add(Team(council_id, "青年突击队"))
        same_name_elsewhere = await uow.teams.add(Team(other_id, "畅大妈志愿服务队"))
        await uow.commit()
    assert second.id is not None and same_name_elsewhere.id is not None
    assert len({first.id, second.id, same_name_elsewhere.id}) == 3

    async with database.uow() as uow:  # and in a later transaction
        with pytest.raises(errors.AlreadyExists):
            await uow.teams.add(Team(council_id, "青年突击队", frozenset({a})))
        third = await uow.teams.add(Team(council_id, "银发互助队", frozenset({c})))
        await uow.commit()

    async with database.uow() as uow:
        loaded = await uow.teams.get(first.id)
        by_name = await uow.teams.by_name(council_id, "畅大妈志愿服务队")
        assert await uow.teams.by_name(council_id, "没有这个队") is None
        assert await uow.teams.by_name(other_id, "青年突击队") is None
        assert await uow.teams.get(first.id + 1000) is None
        listed = await uow.teams.of_council(council_id)
        assert await uow.teams.of_council(other_id) == [same_name_elsewhere]
    assert loaded == by_name == Team(council_id, "畅大妈志愿服务队", frozenset({a, b}), first.id)
    assert loaded is not None and type(loaded.leader_member_ids) is frozenset
    assert listed == [first, second, third]  # the duplicate never went in
    assert second.leader_member_ids == frozenset()

    renamed = replace(first, name="畅大妈服务队", leader_member_ids=frozenset({c}))
    async with database.uow() as uow:
        assert await uow.teams.get(first.id) == first  # read, written, read again
        await uow.teams.update(renamed)
        assert await uow.teams.get(first.id) == renamed
        assert await uow.teams.by_name(council_id, "畅大妈服务队") == renamed
        await uow.commit()
    async with database.uow() as uow:
        assert await uow.teams.get(first.id) == renamed
        assert await uow.teams.by_name(council_id, "畅大妈服务队") == renamed
        assert await uow.teams.by_name(council_id, "畅大妈志愿服务队") is None
        assert await uow.teams.of_council(council_id) == [renamed, second, third]
        # The old name is free again.
        again = await uow.teams.add(Team(council_id, "畅大妈志愿服务队"))
        await uow.commit()
    assert again.id is not None


async def test_units(database: Database) -> None:
    council_id = await make_council(database)
    other_id = await make_council(database, chat_id=-100_999)
    clinic = MemberUnit(
        council_id,
        "社区卫生服务中心",
        contact_user_ids=frozenset({BIG_USER, 42}),
        services=frozenset({"health", "陪诊"}),
    )
    async with database.uow() as uow:
        await uow.units.add(clinic)
        with pytest.raises(errors.AlreadyExists) as refused:
            await uow.units.add(MemberUnit(council_id, "社区卫生服务中心"))
        assert refused.value.params == {"name": "社区卫生服务中心"}
        bare = await uow.units.add(MemberUnit(council_id, "物业公司"))
        elsewhere = await uow.units.add(MemberUnit(other_id, "社区卫生服务中心"))
        await uow.commit()
    assert clinic.id is not None and bare.id is not None and elsewhere.id is not None

    async with database.uow() as uow:
        with pytest.raises(errors.AlreadyExists):
            await uow.units.add(MemberUnit(council_id, "物业公司", services=frozenset({"repair"})))
        school = await uow.units.add(MemberUnit(council_id, "第二小学"))
        await uow.commit()

    async with database.uow() as uow:
        loaded = await uow.units.get(clinic.id)
        by_name = await uow.units.by_name(council_id, "社区卫生服务中心")
        assert await uow.units.by_name(council_id, "没有") is None
        assert await uow.units.get(clinic.id + 1000) is None
        listed = await uow.units.of_council(council_id)
        assert await uow.units.of_council(other_id) == [elsewhere]
    assert loaded == by_name == clinic
    assert loaded is not None
    assert type(loaded.contact_user_ids) is frozenset and type(loaded.services) is frozenset
    assert loaded.contact_user_ids == {BIG_USER, 42}
    assert listed == [clinic, bare, school]
    assert (bare.contact_user_ids, bare.services) == (frozenset(), frozenset())

    changed = replace(
        clinic, name="卫生服务站", contact_user_ids=frozenset({43}), services=frozenset()
    )
    async with database.uow() as uow:
        assert await uow.units.get(clinic.id) == clinic  # read, written, read again
        await uow.units.update(changed)
        assert await uow.units.get(clinic.id) == changed
        await uow.commit()
    async with database.uow() as uow:
        assert await uow.units.get(clinic.id) == changed
        assert await uow.units.by_name(council_id, "卫生服务站") == changed
        assert await uow.units.of_council(council_id) == [changed, bare, school]


# --- tasks --------------------------------------------------------------------------


async def test_task_round_trip_of_every_field(database: Database) -> None:
    council_id = await make_council(database)
    topic_id = await make_topic(database, council_id)
    requester, doer, helper = await make_members(database, council_id, 3)
    team_id = await add_team(database, council_id, "畅大妈志愿服务队")
    async with database.uow() as uow:
        unit = await uow.units.add(MemberUnit(council_id, "物业公司"))
        await uow.commit()
    assert unit.id is not None

    original = Task(
        council_id=council_id,
        title="加装扶手",
        description="3 号楼楼梯加装扶手\n第二行: 需要电钻",
        skill="repair",
        grid="3",
        source=TaskSource.RESOLUTION,
        created_at=in_shanghai(at(1)),
        topic_id=topic_id,
        requester_member_id=requester,
        member_ids=frozenset({doer, helper}),
        due=in_shanghai(at(60 * 24 * 3)),
        state=TaskState.ACCEPTED,
        round=2,
        accepted_by=doer,
        accepted_at=in_shanghai(at(40)),
        closed_at=in_shanghai(at(90)),
        hours=Decimal("2.50"),
        card_ref=9_876_543_210,
        place="3 号楼 1-6 层",
        photo="AgACAgUAAxkBAAIBQ2Zz-photo-file-id",
        note="已完成, 用了 6 米扶手",
        confirmed=True,
        created_by=BIG_USER,
    )
    async with database.uow() as uow:
        added = await uow.tasks.add(original)
        assert added is original and original.id is not None
        assert await uow.tasks.get(original.id) == original  # before the commit
        await uow.commit()
    assert original.id is not None
    async with database.uow() as uow:
        loaded = await uow.tasks.get(original.id)
        locked = await uow.tasks.get(original.id, lock=Lock.UPDATE)
        assert await uow.tasks.get(original.id + 1000) is None
        assert await uow.tasks.get(original.id + 1000, lock=Lock.UPDATE) is None
    assert loaded == original == locked
    assert loaded is not None and loaded is not original
    assert_types(loaded)
    assert loaded.hours == Decimal("2.50")
    assert loaded.created_at == at(1) and loaded.due == at(60 * 24 * 3)

    # Every field changed, the assignee now a team; then a unit; then nobody.
    by_team = replace(
        loaded,
        title="加装扶手 (二期)",
        description="",
        skill=None,
        grid="",
        source=TaskSource.REQUEST,
        created_at=at(2),
        topic_id=None,
        requester_member_id=None,
        member_ids=frozenset(),
        team_id=team_id,
        due=None,
        state=TaskState.DONE,
        round=7,
        accepted_by=helper,
        accepted_at=at(41),
        closed_at=at(99),
        hours=Decimal("0.5"),
        card_ref=None,
        place="",
        photo=None,
        note="",
        confirmed=False,
        created_by=0,
    )
    by_unit = replace(
        by_team,
        team_id=None,
        unit_id=unit.id,
        state=TaskState.CANCELLED,
        accepted_by=None,
        accepted_at=None,
        closed_at=None,
        hours=Decimal("12.00"),
    )
    for version in (by_team, by_unit):
        async with database.uow() as uow:
            assert await uow.tasks.get(original.id) is not None  # read, written, read again
            await uow.tasks.update(version)
            assert await uow.tasks.get(original.id) == version
            await uow.commit()
        async with database.uow() as uow:
            again = await uow.tasks.get(original.id)
        assert again == version
        assert again is not None
        assert_types(again)
    assert again is not None and again.hours == Decimal("12.00") and again.unit_id == unit.id

    # Every state and source is stored as itself.
    states = [make_task(council_id, state=s, source=TaskSource.REQUEST) for s in TaskState]
    ids = await add_tasks(database, *states)
    async with database.uow() as uow:
        back = [await uow.tasks.get(i) for i in ids]
    assert [t.state if t else None for t in back] == list(TaskState)
    assert all(t is not None and t.state is s for t, s in zip(back, TaskState, strict=True))


async def test_tasks_for_topic(database: Database) -> None:
    council_id = await make_council(database)
    topic_a = await make_topic(database, council_id)
    topic_b = await make_topic(database, council_id)
    ids = await add_tasks(
        database,
        make_task(council_id, topic_id=topic_a, source=TaskSource.RESOLUTION, title="一"),
        make_task(council_id, topic_id=topic_b, source=TaskSource.RESOLUTION, title="二"),
        make_task(council_id, title="三"),
        make_task(council_id, topic_id=topic_a, source=TaskSource.RESOLUTION, title="四"),
    )
    async with database.uow() as uow:
        of_a = await uow.tasks.for_topic(topic_a)
        of_b = await uow.tasks.for_topic(topic_b)
        assert await uow.tasks.for_topic(topic_b + 1000) == []
    assert [t.id for t in of_a] == [ids[0], ids[3]]
    assert [t.title for t in of_a] == ["一", "四"]
    assert [t.id for t in of_b] == [ids[1]]


async def test_tasks_recent(database: Database) -> None:
    council_id = await make_council(database)
    other_id = await make_council(database, chat_id=-100_999)
    (doer,) = await make_members(database, council_id, 1)
    states = [
        TaskState.DONE,
        TaskState.OPEN,
        TaskState.CANCELLED,
        TaskState.ACCEPTED,
        TaskState.EXPIRED,
        TaskState.OFFERED,
        TaskState.DONE,
    ]
    made = [
        make_task(
            council_id,
            title=f"任务 {i}",
            state=state,
            created_at=at(i),
            accepted_by=doer if state in (TaskState.ACCEPTED, TaskState.DONE) else None,
        )
        for i, state in enumerate(states)
    ]
    ids = await add_tasks(database, *made)
    await add_tasks(database, make_task(other_id, state=TaskState.OPEN, created_at=at(100)))
    done0, open1, cancelled2, accepted3, expired4, offered5, done6 = ids
    async with database.uow() as uow:
        every = await uow.tasks.recent(council_id, 50)
        four = await uow.tasks.recent(council_id, 4)
        two = await uow.tasks.recent(council_id, 2)
        assert await uow.tasks.recent(council_id + 1000, 5) == []
    # Open ones (open, offered, accepted) first, newest first; then the newest closed.
    assert [t.id for t in every] == [
        offered5,
        accepted3,
        open1,
        done6,
        expired4,
        cancelled2,
        done0,
    ]
    assert [t.id for t in four] == [offered5, accepted3, open1, done6]
    assert [t.id for t in two] == [offered5, accepted3]
    assert every[0] == made[5]


async def test_open_load_counts_accepted_only(database: Database) -> None:
    council_id = await make_council(database)
    a, b, c, d = await make_members(database, council_id, 4)

    def held(by: int, state: TaskState) -> Task:
        return make_task(council_id, state=state, accepted_by=by, accepted_at=at(5))

    await add_tasks(
        database,
        held(a, TaskState.ACCEPTED),
        held(a, TaskState.ACCEPTED),
        held(a, TaskState.DONE),
        held(a, TaskState.CANCELLED),  # cancelled after it was accepted: kept accepted_by
        make_task(council_id, state=TaskState.OFFERED),
        held(b, TaskState.ACCEPTED),
        held(c, TaskState.DONE),
        held(c, TaskState.EXPIRED),
    )
    async with database.uow() as uow:
        assert await uow.tasks.open_load([a, b, c, d]) == {a: 2, b: 1}
        assert await uow.tasks.open_load([b]) == {b: 1}
        assert await uow.tasks.open_load([c, d]) == {}
        assert await uow.tasks.open_load([]) == {}


# --- offers -------------------------------------------------------------------------


async def test_offer_add_get_update_for_task(database: Database) -> None:
    council_id = await make_council(database)
    a, b = await make_members(database, council_id, 2)
    task_id, other_task = await add_tasks(
        database,
        make_task(council_id, state=TaskState.OFFERED, round=1),
        make_task(council_id, state=TaskState.OFFERED, round=1),
    )
    first = Offer(
        task_id=task_id,
        member_id=a,
        round=1,
        offered_at=in_shanghai(at(10)),
        expires_at=in_shanghai(at(40)),
    )
    second = offer(task_id, b, 11, round=2, message_ref=9_000_000_001)
    elsewhere = offer(other_task, a, 12)
    async with database.uow() as uow:
        for o in (first, second, elsewhere):
            assert await uow.offers.add(o) is o
        assert first.id is not None
        assert await uow.offers.get(first.id) == first  # before the commit
        await uow.commit()
    assert first.id is not None and second.id is not None
    async with database.uow() as uow:
        loaded = await uow.offers.get(first.id)
        assert await uow.offers.get(first.id + 1000) is None
        listed = await uow.offers.for_task(task_id)
        assert await uow.offers.for_task(other_task) == [elsewhere]
        assert await uow.offers.for_task(other_task + 1000) == []
    assert loaded == first
    assert loaded is not None and loaded.state is OfferState.PENDING
    assert loaded.answered_at is None and loaded.message_ref is None
    assert_utc(loaded.offered_at)
    assert_utc(loaded.expires_at)
    assert (loaded.offered_at, loaded.expires_at) == (at(10), at(40))
    assert listed == [first, second]

    loaded.close(OfferState.DECLINED, in_shanghai(at(15)))
    loaded.message_ref = 123_456_789_012
    async with database.uow() as uow:
        await uow.offers.update(loaded)
        assert await uow.offers.get(first.id) == loaded  # before the commit
        await uow.commit()
    async with database.uow() as uow:
        answered = await uow.offers.get(first.id)
        assert [o.state for o in await uow.offers.for_task(task_id)] == [
            OfferState.DECLINED,
            OfferState.PENDING,
        ]
    assert answered == loaded
    assert answered is not None and answered.state is OfferState.DECLINED
    assert answered.answered_at == at(15)
    assert_utc(answered.answered_at)

    # Every state is stored as itself.
    for state in OfferState:
        answered.state = state
        async with database.uow() as uow:
            await uow.offers.update(answered)
            await uow.commit()
        async with database.uow() as uow:
            back = await uow.offers.get(first.id)
        assert back is not None and back.state is state


async def test_one_offer_per_task_and_member(database: Database) -> None:
    council_id = await make_council(database)
    a, b = await make_members(database, council_id, 2)
    task_id, other_task = await add_tasks(database, make_task(council_id), make_task(council_id))
    await add_offers(database, offer(task_id, a, 0))
    with pytest.raises(IntegrityError):
        async with database.uow() as uow:
            await uow.offers.add(offer(task_id, a, 60, round=2))  # even in a later round
            await uow.commit()
    # Another member of the same task, and the same member for another task, are fine.
    await add_offers(database, offer(task_id, b, 1), offer(other_task, a, 2))
    async with database.uow() as uow:
        assert [(o.member_id, o.round) for o in await uow.offers.for_task(task_id)] == [
            (a, 1),
            (b, 1),
        ]


async def test_last_offered(database: Database) -> None:
    council_id = await make_council(database)
    other_id = await make_council(database, chat_id=-100_999)
    a, b, c = await make_members(database, council_id, 3)
    (a_elsewhere,) = await make_members(database, other_id, 1, first_user=500)
    t1, t2, t3 = await add_tasks(
        database, make_task(council_id), make_task(council_id), make_task(council_id)
    )
    await add_offers(
        database,
        offer(t1, a, 10),
        # Written in UTC+8: on the wall clock much later than anything else here, but
        # as an instant between the others; storage must compare instants.
        offer(t2, a, 0, offered_at=in_shanghai(at(30)), expires_at=in_shanghai(at(60))),
        offer(t3, a, 20, state=OfferState.DECLINED),
        offer(t1, b, 25, state=OfferState.EXPIRED),
        offer(t2, b, 5),
        offer(t3, b, 40, round=2),
    )
    async with database.uow() as uow:
        last = await uow.offers.last_offered([a, b, c, a_elsewhere])
        assert await uow.offers.last_offered([c]) == {}
        assert await uow.offers.last_offered([]) == {}
        only_b = await uow.offers.last_offered([b])
    assert last == {a: at(30), b: at(40)}  # whatever became of the offer
    assert only_b == {b: at(40)}
    for moment in last.values():
        assert_utc(moment)
        assert type(moment) is datetime


async def test_pending_expiries(database: Database) -> None:
    council_id = await make_council(database)
    other_id = await make_council(database, chat_id=-100_999)
    a, b, c = await make_members(database, council_id, 3)
    (z,) = await make_members(database, other_id, 1, first_user=500)
    offered, answered, accepted, fresh, shanghai, elsewhere = await add_tasks(
        database,
        make_task(council_id, state=TaskState.OFFERED, round=2),
        make_task(council_id, state=TaskState.OFFERED, round=1),
        make_task(council_id, state=TaskState.ACCEPTED, round=1, accepted_by=a),
        make_task(council_id, state=TaskState.OPEN),
        make_task(council_id, state=TaskState.OFFERED, round=1),
        make_task(other_id, state=TaskState.OFFERED, round=1),
    )
    await add_offers(
        database,
        # The earliest of the pending ones; a declined one expiring sooner does not count.
        offer(offered, a, 0, expires_at=at(30)),
        offer(offered, b, 0, expires_at=at(20), round=2),
        offer(offered, c, 0, expires_at=at(10), state=OfferState.DECLINED),
        # Nothing pending any more.
        offer(answered, a, 0, state=OfferState.DECLINED),
        offer(answered, b, 0, state=OfferState.EXPIRED),
        offer(answered, c, 0, state=OfferState.UNREACHABLE),
        # A pending offer of a task that is no longer OFFERED (or never was).
        offer(accepted, b, 0),
        offer(fresh, a, 0),
        # Times written in UTC+8: 17:45 there is earlier than 09:50 UTC.
        offer(
            shanghai,
            a,
            0,
            offered_at=in_shanghai(at(0)),
            expires_at=in_shanghai(at(15)),
        ),
        offer(shanghai, b, 0, expires_at=at(20)),
        offer(elsewhere, z, 0, expires_at=at(50)),  # every council's
    )
    async with database.uow() as uow:
        expiries = await uow.offers.pending_expiries()
    assert expiries == {offered: at(20), shanghai: at(15), elsewhere: at(50)}
    for moment in expiries.values():
        assert_utc(moment)
        assert type(moment) is datetime

    # Answering the earliest moves the expiry to the next pending one.
    async with database.uow() as uow:
        (late, early, _) = await uow.offers.for_task(offered)
        early.close(OfferState.DECLINED, at(5))
        await uow.offers.update(early)
        await uow.commit()
    async with database.uow() as uow:
        assert (await uow.offers.pending_expiries())[offered] == late.expires_at == at(30)


async def test_aggregated_times_are_utc_whatever_the_session_time_zone(
    database: Database,
) -> None:
    """PostgreSQL hands timestamptz back in the session's TimeZone; the repositories
    must still give UTC, also for min()/max() aggregates."""
    if not is_postgresql(database):
        pytest.skip("SQLite has no session time zone")
    council_id = await make_council(database)
    (a,) = await make_members(database, council_id, 1)
    (task_id,) = await add_tasks(
        database, make_task(council_id, state=TaskState.OFFERED, round=1, due=at(90))
    )
    await add_offers(database, offer(task_id, a, 10))
    url = make_url(database.url)
    options = url.query.get("options")
    existing = options if isinstance(options, str) else " ".join(options or ())
    shanghai_url = url.update_query_dict({"options": f"{existing} -ctimezone=Asia/Shanghai"})
    db = await Database.open(shanghai_url.render_as_string(hide_password=False), migrate=False)
    try:
        async with db.uow() as uow:
            zone = await uow.session.scalar(select(func.current_setting("TimeZone")))
            task = await uow.tasks.get(task_id)
            (loaded,) = await uow.offers.for_task(task_id)
            last = await uow.offers.last_offered([a])
            expiries = await uow.offers.pending_expiries()
    finally:
        await db.dispose()
    assert zone == "Asia/Shanghai"
    assert task is not None
    assert_types(task)
    assert task.due == at(90)
    assert_utc(loaded.offered_at)
    assert last == {a: at(10)}
    assert expiries == {task_id: at(40)}
    assert_utc(last[a])
    assert_utc(expiries[task_id])


# --- the hours ledger ---------------------------------------------------------------


async def test_hours_ledger(database: Database) -> None:
    council_id = await make_council(database)
    other_id = await make_council(database, chat_id=-100_999)
    a, b, c, d = await make_members(database, council_id, 4)
    (z,) = await make_members(database, other_id, 1, first_user=500)
    team_a = await add_team(database, council_id, "畅大妈志愿服务队")
    team_b = await add_team(database, council_id, "青年突击队")
    ids = await add_tasks(database, *(make_task(council_id) for _ in range(16)))
    (elsewhere,) = await add_tasks(database, make_task(other_id))

    def entry(task_id: int, member_id: int, hours: str, team_id: int | None) -> HoursEntry:
        return HoursEntry(council_id, member_id, task_id, Decimal(hours), at(task_id), team_id)

    entries = [
        entry(ids[0], a, "1.50", team_a),
        entry(ids[1], a, "2.25", team_a),
        entry(ids[2], a, "0.5", None),  # before a joined a team: not in team totals
        entry(ids[3], b, "3", team_b),
        entry(ids[4], c, "12.00", team_a),
        # Ten times 0.10: exactly 1.00, never 0.9999999….
        *(entry(ids[5 + i], d, "0.10", team_b) for i in range(10)),
    ]
    async with database.uow() as uow:
        for e in entries:
            assert await uow.hours.add(e) is True
        # The same task again, in the same transaction: credited once.
        assert await uow.hours.add(replace(entries[0], hours=Decimal("9.00"), member_id=b)) is False
        await uow.commit()
    async with database.uow() as uow:  # and in a later one
        assert await uow.hours.add(replace(entries[3], hours=Decimal("5.00"))) is False
        assert await uow.hours.add(HoursEntry(other_id, z, elsewhere, Decimal("7"), at(0))) is True
        # A refused credit leaves the transaction usable.
        assert await uow.hours.add(entry(ids[15], c, "0.75", None)) is True
        await uow.commit()

    async with database.uow() as uow:
        totals = {m: await uow.hours.total(council_id, m) for m in (a, b, c, d)}
        nobody = await uow.hours.total(council_id, z)
        z_total = await uow.hours.total(other_id, z)
        everyone = await uow.hours.by_member(council_id, None)
        of_a = await uow.hours.by_member(council_id, team_a)
        of_b = await uow.hours.by_member(council_id, team_b)
        of_none = await uow.hours.by_member(council_id, team_b + 1000)
        of_other = await uow.hours.by_member(other_id, None)
    assert totals == {
        a: Decimal("4.25"),
        b: Decimal("3.00"),
        c: Decimal("12.75"),
        d: Decimal("1.00"),
    }
    assert nobody == Decimal("0")
    assert z_total == Decimal("7")
    assert everyone == totals
    assert of_a == {a: Decimal("3.75"), c: Decimal("12.00")}
    assert of_b == {b: Decimal("3.00"), d: Decimal("1.00")}
    assert of_none == {}
    assert of_other == {z: Decimal("7")}
    for value in (*totals.values(), nobody, *everyone.values(), *of_a.values()):
        assert type(value) is Decimal
        assert value == value.quantize(Decimal("0.01"))
    assert str(totals[d]) == "1.00" and str(nobody) == "0.00"


# --- row locks ----------------------------------------------------------------------


async def test_task_lock_update_waits_on_postgresql(database: Database) -> None:
    """While one unit of work holds a task with Lock.UPDATE, another one's Lock.UPDATE
    waits and then reads what the first committed; a plain read does not wait."""
    if not is_postgresql(database):
        pytest.skip("row locks are PostgreSQL's; SQLite serializes whole transactions")
    council_id = await make_council(database)
    (a,) = await make_members(database, council_id, 1)
    (task_id,) = await add_tasks(database, make_task(council_id, state=TaskState.OFFERED, round=1))

    async def read(lock: Lock) -> Task | None:
        async with database.uow() as uow:
            return await uow.tasks.get(task_id, lock=lock)

    async with database.uow() as first:
        task = await first.tasks.get(task_id, lock=Lock.UPDATE)
        assert task is not None
        waiting = asyncio.create_task(read(Lock.UPDATE))
        plain = await asyncio.wait_for(read(Lock.NONE), timeout=5)
        assert plain is not None and plain.state is TaskState.OFFERED
        await asyncio.sleep(0.3)
        assert not waiting.done()
        task.accept(a, at(5))
        await first.tasks.update(task)
        await first.commit()
    after = await asyncio.wait_for(waiting, timeout=5)
    assert after is not None
    assert (after.state, after.accepted_by, after.accepted_at) == (TaskState.ACCEPTED, a, at(5))


# --- THE RACE: two Accepts, and an Accept against the expiry job ---------------------

CHAIR = 7_000_000_001
REQUESTER = 8_000_000_100
VOLUNTEER_USERS = (8_000_000_201, 8_000_000_202)
RACES = 20


@dataclass
class Track:
    """What the contenders of one race did, in the order they did it."""

    pg: bool
    events: list[tuple[str, str]] = field(default_factory=list)

    def first_lock_then_commit_then_second_lock(self) -> tuple[str, str]:
        """The first to lock the task committed before the other one got the lock.

        On PostgreSQL also: both had asked for the lock before the first committed, so
        the second really waited on the row lock. Returns (first, second) by name.
        """
        locks = [who for what, who in self.events if what == "locked"]
        assert len(locks) == 2, self.events
        first, second = locks
        assert first != second
        committed = self.events.index(("committing", first))
        assert committed < self.events.index(("locked", second)), self.events
        if self.pg:
            assert self.events.index(("asking", second)) < committed, self.events
        return first, second


class _TracedTasks:
    def __init__(self, inner: Any, owner: Contender) -> None:
        self._inner = inner
        self._owner = owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def get(self, task_id: int, lock: Lock = Lock.NONE) -> Task | None:
        owner = self._owner
        if lock is Lock.NONE or owner.locked:
            return cast("Task | None", await self._inner.get(task_id, lock=lock))
        if owner.pg:
            await owner.at_the_line()
        owner.track.events.append(("asking", owner.name))
        task = await self._inner.get(task_id, lock=lock)
        owner.locked = True
        owner.track.events.append(("locked", owner.name))
        return cast("Task | None", task)


class Contender:
    """A unit of work that waits for its rival at the start line and records when it
    asks for the task's lock, gets it, and commits.

    On PostgreSQL the start line is the task's row lock itself: both contenders are
    in a transaction (and have read their offer) and send ``SELECT … FOR UPDATE``
    together. On SQLite (whose ``BEGIN IMMEDIATE`` takes the write lock with the first
    statement) it is the start of the unit of work, before any statement.

    Whoever reaches the barrier last leaves it first; ``lag`` holds a contender back
    a few event-loop ticks after it, so that a test can give either one the lead.
    The other's statement is then still in flight: a tick is far shorter than a
    round trip to the database.
    """

    def __init__(
        self,
        inner: SqlUnitOfWork,
        name: str,
        start: asyncio.Barrier,
        track: Track,
        lag: int,
    ) -> None:
        self._inner = inner
        self.name = name
        self.start = start
        self.track = track
        self.pg = track.pg
        self.lag = lag
        self.locked = False

    async def at_the_line(self) -> None:
        await self.start.wait()
        for _ in range(self.lag):
            await asyncio.sleep(0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def tasks(self) -> _TracedTasks:
        return _TracedTasks(self._inner.tasks, self)

    async def __aenter__(self) -> Contender:
        await self._inner.__aenter__()
        if self.pg:
            # Connected and in a transaction already, as a contender that read its offer
            # is: at the start line neither is a round trip behind the other.
            await self._inner.session.execute(text("SELECT 1"))
        else:
            await self.at_the_line()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        self.track.events.append(("committing", self.name))
        await self._inner.commit()


def contenders(
    db: Database, *names: str, lag: dict[str, int] | None = None
) -> tuple[Track, Iterator[UnitOfWork]]:
    track = Track(is_postgresql(db))
    start = asyncio.Barrier(len(names))
    lags = lag or {}
    made = (
        cast("UnitOfWork", Contender(db.uow(), name, start, track, lags.get(name, 0)))
        for name in names
    )
    return track, made


async def race(*runs: Awaitable[Any]) -> list[Any]:
    """Run the contenders together; exceptions are results. A hang fails the test."""
    return await asyncio.wait_for(asyncio.gather(*runs, return_exceptions=True), timeout=60)


@dataclass(frozen=True)
class Neighbourhood:
    council_id: int
    requester: int  # member ids
    volunteers: dict[int, int]  # member id -> user id


async def neighbourhood(db: Database) -> Neighbourhood:
    """A council set up as the bot does it: a resident and two registered volunteers."""
    council = await services.set_up_council(
        db.uow(),
        chat_id=-1_001_234_567_890,
        thread_id=0,
        title="梧桐里业主议事会",
        user_id=CHAIR,
        is_group_admin=True,
        rule_name="simple",
        timezone="Asia/Shanghai",
        language="zh",
        now=T0,
    )
    assert council.id is not None
    members = {}
    for i, user_id in enumerate((REQUESTER, *VOLUNTEER_USERS)):
        member = await services.join(
            db.uow(),
            council_id=council.id,
            user_id=user_id,
            name=f"居民{i}",
            address=services.Address("3", "2", f"30{i}"),
            area=Decimal("88.50"),
            language=None,
            now=T0,
        )
        assert member.id is not None
        members[user_id] = member.id
    for user_id in VOLUNTEER_USERS:
        await tasks.register_volunteer(
            db.uow(),
            council_id=council.id,
            user_id=user_id,
            skills=["repair"],
            grid="3",
            team=None,
            available=True,
            now=T0,
        )
    async with db.uow() as uow:  # both volunteers are asked in the first round
        loaded = await uow.councils.get(council.id)
        assert loaded is not None
        loaded.offer_round = 2
        await uow.councils.update(loaded)
        await uow.commit()
    return Neighbourhood(council.id, members[REQUESTER], {members[u]: u for u in VOLUNTEER_USERS})


async def request(db: Database, place: Neighbourhood, n: int, now: datetime) -> list[Offer]:
    """A resident's request; returns the two offers it made, one per volunteer."""
    dispatched = await tasks.request_service(
        db.uow(),
        council_id=place.council_id,
        user_id=REQUESTER,
        skill="repair",
        description=f"厨房水管漏水 ({n})",
        place="",
        photo=None,
        now=now,
    )
    assert not dispatched.exhausted
    assert dispatched.task.state is TaskState.OFFERED and dispatched.task.round == 1
    assert sorted(o.member_id for o in dispatched.offered) == sorted(place.volunteers)
    return dispatched.offered


async def test_two_volunteers_accept_at_the_same_moment(database: Database) -> None:
    place = await neighbourhood(database)
    wins: Counter[int] = Counter()
    for n in range(RACES):
        now = T0 + timedelta(hours=n + 1)
        offers = await request(database, place, n, now)
        if n % 2:
            offers.reverse()  # neither volunteer is always started first
        task_id = offers[0].task_id
        pressed = now + timedelta(minutes=3)
        track, units = contenders(database, *(str(o.member_id) for o in offers))
        results = await race(
            *(
                tasks.answer_offer(
                    uow,
                    offer_id=_id(o),
                    user_id=place.volunteers[o.member_id],
                    accept=True,
                    now=pressed,
                )
                for uow, o in zip(units, offers, strict=True)
            )
        )

        answered = [r for r in results if isinstance(r, tasks.Answered)]
        taken = [r for r in results if isinstance(r, TaskTaken)]
        assert len(answered) == 1 and len(taken) == 1, results
        (won,) = answered
        assert won.accepted is True and won.next is None
        winner = won.offer.member_id
        loser = next(o.member_id for o in offers if o.member_id != winner)
        first, second = track.first_lock_then_commit_then_second_lock()
        assert (first, second) == (str(winner), str(loser))
        wins[winner] += 1

        async with database.uow() as uow:
            task = await uow.tasks.get(task_id)
            stored = {o.member_id: o for o in await uow.offers.for_task(task_id)}
            assert task_id not in await uow.offers.pending_expiries()
        assert task is not None
        assert (task.state, task.accepted_by, task.accepted_at) == (
            TaskState.ACCEPTED,
            winner,
            pressed,
        )
        assert task == won.task
        assert (stored[winner].state, stored[winner].answered_at) == (OfferState.ACCEPTED, pressed)
        assert (stored[loser].state, stored[loser].answered_at) == (OfferState.WITHDRAWN, pressed)
        assert await count_notices(database, task_id, NoticeKind.TASK_ACCEPTED) == 1
        assert await count_notices(database, task_id, NoticeKind.TASK_EXHAUSTED) == 0

    assert sum(wins.values()) == RACES
    async with database.uow() as uow:  # every task is held by exactly its one winner
        assert await uow.tasks.open_load(sorted(place.volunteers)) == dict(wins)
    print(f"\naccept races on {database.engine.dialect.name}: winners {dict(wins)}")


async def test_one_volunteer_pressing_accept_twice_at_once(database: Database) -> None:
    """A double tap: both presses are told the task is theirs, and it is accepted once."""
    place = await neighbourhood(database)
    for n in range(RACES // 2):
        now = T0 + timedelta(hours=n + 1)
        offers = await request(database, place, n, now)
        pressing, other = offers[n % 2], offers[1 - n % 2]
        task_id = pressing.task_id
        pressed = now + timedelta(minutes=1)
        track, units = contenders(database, "tap", "again")
        results = await race(
            *(
                tasks.answer_offer(
                    uow,
                    offer_id=_id(pressing),
                    user_id=place.volunteers[pressing.member_id],
                    accept=True,
                    now=pressed,
                )
                for uow in units
            )
        )
        assert all(isinstance(r, tasks.Answered) and r.accepted for r in results), results
        first, _ = track.first_lock_then_commit_then_second_lock()
        assert ("committing", "again" if first == "tap" else "tap") not in track.events
        async with database.uow() as uow:
            task = await uow.tasks.get(task_id)
            stored = {o.member_id: o for o in await uow.offers.for_task(task_id)}
        assert task is not None
        assert (task.state, task.accepted_by, task.accepted_at) == (
            TaskState.ACCEPTED,
            pressing.member_id,
            pressed,
        )
        assert stored[pressing.member_id].state is OfferState.ACCEPTED
        assert stored[other.member_id].state is OfferState.WITHDRAWN
        assert await count_notices(database, task_id, NoticeKind.TASK_ACCEPTED) == 1


async def test_both_volunteers_decline_at_once(database: Database) -> None:
    """The round ends once: exactly one of the two declines sees it over and moves on
    (nobody is left, so the task expires and the group is told, once)."""
    place = await neighbourhood(database)
    for n in range(RACES // 2):
        now = T0 + timedelta(hours=n + 1)
        offers = await request(database, place, n, now)
        task_id = offers[0].task_id
        pressed = now + timedelta(minutes=2)
        track, units = contenders(database, *(str(o.member_id) for o in offers))
        results = await race(
            *(
                tasks.answer_offer(
                    uow,
                    offer_id=_id(o),
                    user_id=place.volunteers[o.member_id],
                    accept=False,
                    now=pressed,
                )
                for uow, o in zip(units, offers, strict=True)
            )
        )
        assert all(isinstance(r, tasks.Answered) and not r.accepted for r in results), results
        track.first_lock_then_commit_then_second_lock()
        moved_on = [r.next for r in results if isinstance(r, tasks.Answered) and r.next]
        assert len(moved_on) == 1, results
        assert moved_on[0].exhausted and moved_on[0].offered == []
        async with database.uow() as uow:
            task = await uow.tasks.get(task_id)
            stored = await uow.offers.for_task(task_id)
        assert task is not None
        assert (task.state, task.closed_at, task.round) == (TaskState.EXPIRED, pressed, 1)
        assert [o.state for o in stored] == [OfferState.DECLINED] * 2
        assert await count_notices(database, task_id, NoticeKind.TASK_EXHAUSTED) == 1


async def test_accept_racing_with_the_other_volunteers_decline(database: Database) -> None:
    """Whichever goes first, the task is the accepter's and does not go out again."""
    place = await neighbourhood(database)
    for n in range(RACES // 2):
        now = T0 + timedelta(hours=n + 1)
        offers = await request(database, place, n, now)
        accepting, declining = offers[n % 2], offers[1 - n % 2]
        task_id = accepting.task_id
        pressed = now + timedelta(minutes=2)
        names = ("accept", "decline") if n % 2 else ("decline", "accept")
        track, units = contenders(database, *names, lag={names[1]: 5})
        by_name = dict(zip(names, units, strict=True))
        accepted, declined = await race(
            *(
                tasks.answer_offer(
                    by_name[name],
                    offer_id=_id(o),
                    user_id=place.volunteers[o.member_id],
                    accept=name == "accept",
                    now=pressed,
                )
                for name, o in (("accept", accepting), ("decline", declining))
            )
        )
        first, _ = track.first_lock_then_commit_then_second_lock()
        assert isinstance(accepted, tasks.Answered) and accepted.accepted, accepted
        assert isinstance(declined, tasks.Answered) and not declined.accepted, declined
        assert declined.next is None
        async with database.uow() as uow:
            task = await uow.tasks.get(task_id)
            stored = {o.member_id: o for o in await uow.offers.for_task(task_id)}
        assert task is not None
        assert (task.state, task.accepted_by) == (TaskState.ACCEPTED, accepting.member_id)
        assert stored[accepting.member_id].state is OfferState.ACCEPTED
        # Declined in time, or withdrawn by the accept that came first.
        expected = OfferState.WITHDRAWN if first == "accept" else OfferState.DECLINED
        assert stored[declining.member_id].state is expected
        assert await count_notices(database, task_id, NoticeKind.TASK_ACCEPTED) == 1
        assert await count_notices(database, task_id, NoticeKind.TASK_EXHAUSTED) == 0


async def test_same_team_name_added_at_once(database: Database) -> None:
    council_id = await make_council(database)

    async def add(n: int) -> int:
        async with database.uow() as uow:
            team = await uow.teams.add(Team(council_id, "畅大妈志愿服务队", frozenset({n})))
            await uow.commit()
        assert team.id is not None
        return team.id

    results = await race(*(add(n) for n in range(10)))
    added = [r for r in results if isinstance(r, int)]
    assert len(added) == 1, results
    assert all(isinstance(r, errors.AlreadyExists) for r in results if r not in added), results
    async with database.uow() as uow:
        assert [t.id for t in await uow.teams.of_council(council_id)] == added


async def test_same_task_credited_at_once(database: Database) -> None:
    council_id = await make_council(database)
    (a,) = await make_members(database, council_id, 1)
    (task_id,) = await add_tasks(database, make_task(council_id))

    async def credit(hours: str) -> bool:
        async with database.uow() as uow:
            first = await uow.hours.add(HoursEntry(council_id, a, task_id, Decimal(hours), at(9)))
            await uow.commit()
        return first

    results = await race(*(credit(f"{n}.50") for n in range(10)))
    assert sorted(results) == [False] * 9 + [True]
    async with database.uow() as uow:
        total = await uow.hours.total(council_id, a)
    assert total == Decimal(f"{results.index(True)}.50")


async def test_accept_racing_with_offer_expiry(database: Database) -> None:
    """At the expiry moment a volunteer presses Accept while the OFFER_EXPIRY job runs.

    Either the Accept commits first (the task is theirs; the job finds nothing to do)
    or the job does (both offers expire, nobody is left to ask: the task expires and
    the Accept is refused). Never both: an accepted task whose round expired too.
    """
    place = await neighbourhood(database)
    outcomes: Counter[str] = Counter()
    for n in range(RACES):
        now = T0 + timedelta(hours=n + 1)
        offers = await request(database, place, n, now)
        task_id = offers[0].task_id
        pressing = offers[n % 2]
        other = offers[1 - n % 2]
        expiry = now + timedelta(minutes=30)
        async with database.uow() as uow:
            assert (await uow.offers.pending_expiries())[task_id] == expiry
        job_id = Job(expiry, JobKind.OFFER_EXPIRY, task_id).id

        names = ("accept", "expiry") if n % 2 else ("expiry", "accept")
        # Each gets the lead in turn (held back: the other one, by a few ticks).
        track, units = contenders(database, *names, lag={names[1]: 5})
        by_name = dict(zip(names, units, strict=True))
        runs = {
            "accept": tasks.answer_offer(
                by_name["accept"],
                offer_id=_id(pressing),
                user_id=place.volunteers[pressing.member_id],
                accept=True,
                now=expiry,
            ),
            "expiry": jobs.run_job(by_name["expiry"], job_id, now=expiry, grace=DEFAULT_GRACE),
        }
        results = dict(zip(names, await race(*(runs[name] for name in names)), strict=True))
        first, _ = track.first_lock_then_commit_then_second_lock()
        outcomes[first] += 1

        async with database.uow() as uow:
            task = await uow.tasks.get(task_id)
            stored = {o.member_id: o for o in await uow.offers.for_task(task_id)}
            still_waiting = task_id in await uow.offers.pending_expiries()
        accepted_notices = await count_notices(database, task_id, NoticeKind.TASK_ACCEPTED)
        exhausted_notices = await count_notices(database, task_id, NoticeKind.TASK_EXHAUSTED)
        assert task is not None and not still_waiting
        assert len(stored) == 2  # no second round went out: nobody else to ask

        if first == "accept":
            answered, ran = results["accept"], results["expiry"]
            assert isinstance(answered, tasks.Answered) and answered.accepted, results
            assert isinstance(ran, jobs.JobRun) and ran.ran is jobs.Ran.STALE, results
            assert (task.state, task.accepted_by, task.closed_at) == (
                TaskState.ACCEPTED,
                pressing.member_id,
                None,
            )
            assert stored[pressing.member_id].state is OfferState.ACCEPTED
            assert stored[other.member_id].state is OfferState.WITHDRAWN
            assert (accepted_notices, exhausted_notices) == (1, 0)
        else:
            refused, ran = results["accept"], results["expiry"]
            assert isinstance(refused, errors.WrongPhase), results
            assert isinstance(ran, jobs.JobRun) and ran.ran is jobs.Ran.DONE, results
            assert (task.state, task.accepted_by, task.closed_at) == (
                TaskState.EXPIRED,
                None,
                expiry,
            )
            assert {o.state for o in stored.values()} == {OfferState.EXPIRED}
            assert (accepted_notices, exhausted_notices) == (0, 1)

    print(f"\naccept vs. expiry on {database.engine.dialect.name}: first {dict(outcomes)}")
    assert set(outcomes) == {"accept", "expiry"}  # both orders were exercised


def _id(o: Offer) -> int:
    assert o.id is not None
    return o.id
