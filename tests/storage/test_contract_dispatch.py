"""The repository contract of dispatch, on the fakes, SQLite and PostgreSQL.

Volunteers, teams, member units, tasks, offers and the hours ledger, the council's
dispatch settings and ``topics.latest_decided``. What only the databases can show stays
in ``test_dispatch_storage.py``: migrated rows, the one-offer-per-volunteer constraint,
the session time zone, row locks and the races between connections.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import pytest

from domain import errors
from domain.model import Council, Phase, Topic
from domain.ports import Lock, UnitOfWorkFactory
from domain.rules import Result, preset
from domain.task_rules import (
    HoursEntry,
    MemberUnit,
    Offer,
    OfferState,
    Task,
    TaskSource,
    TaskState,
    Team,
    Volunteer,
)
from tests.storage.helpers import (
    BIG_USER,
    SHANGHAI,
    add_offers,
    add_tasks,
    add_team,
    assert_types,
    assert_utc,
    at,
    in_shanghai,
    make_council,
    make_members,
    make_task,
    make_topic,
    offer,
)

# --- the council's dispatch settings, and topics.latest_decided ---------------------


async def test_council_dispatch_settings_round_trip(uows: UnitOfWorkFactory) -> None:
    default_id = await make_council(uows)
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
    async with uows() as uow:
        await uow.councils.add(council)
        await uow.commit()
    assert council.id is not None
    async with uows() as uow:
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
    async with uows() as uow:
        await uow.councils.update(loaded)
        await uow.commit()
    async with uows() as uow:
        again = await uow.councils.get(council.id)
        untouched = await uow.councils.get(default_id)
    assert again == loaded
    assert again is not None and (again.skills, again.offer_minutes, again.offer_round) == (
        ("陪诊",),
        10,
        1,
    )
    assert untouched == default


async def test_latest_decided(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other_id = await make_council(uows, chat_id=-100_999)
    empty_id = await make_council(uows, chat_id=-100_998)

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
    async with uows() as uow:
        for t in (first, latest, earlier_wall, cancelled, voting, collecting, elsewhere):
            await uow.topics.add(t)
        await uow.commit()
    async with uows() as uow:
        found = await uow.topics.latest_decided(council_id)
        assert await uow.topics.latest_decided(other_id) == elsewhere
        assert await uow.topics.latest_decided(empty_id) is None
    assert found == latest
    assert found is not None and found.decided_at is not None
    assert_utc(found.decided_at)

    # Decided at the same instant: the one added last.
    tied = topic(council_id, Phase.DECIDED, at(200))
    async with uows() as uow:
        await uow.topics.add(tied)
        await uow.commit()
        assert await uow.topics.latest_decided(council_id) == tied


# --- volunteers -------------------------------------------------------------------


async def test_volunteer_put_get_and_of_council(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other_id = await make_council(uows, chat_id=-100_999)
    a, b, c, d = await make_members(uows, council_id, 4)
    (stranger,) = await make_members(uows, other_id, 1, first_user=500)
    team_a = await add_team(uows, council_id, "畅大妈志愿服务队", a)
    team_b = await add_team(uows, council_id, "青年突击队")

    first = Volunteer(
        member_id=b,
        council_id=council_id,
        skills=frozenset({"repair", "health", "园艺"}),
        grid="3",
        registered_at=in_shanghai(at(5)),
        team_id=team_a,
    )
    async with uows() as uow:
        assert await uow.volunteers.get(council_id, b) is None
        assert await uow.volunteers.put(first) == first
        # Read back in the same unit of work, before the commit.
        assert await uow.volunteers.get(council_id, b) == first
        await uow.commit()
    async with uows() as uow:
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
    async with uows() as uow:
        await uow.volunteers.put(changed)
        assert await uow.volunteers.get(council_id, b) == changed
        await uow.commit()
    async with uows() as uow:
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
    async with uows() as uow:
        for v in others:
            await uow.volunteers.put(v)
        await uow.commit()
    by_member = {v.member_id: v for v in [changed, *others]}
    async with uows() as uow:
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


async def test_teams(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other_id = await make_council(uows, chat_id=-100_999)
    a, b, c = await make_members(uows, council_id, 3)
    async with uows() as uow:
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

    async with uows() as uow:  # and in a later transaction
        with pytest.raises(errors.AlreadyExists):
            await uow.teams.add(Team(council_id, "青年突击队", frozenset({a})))
        third = await uow.teams.add(Team(council_id, "银发互助队", frozenset({c})))
        await uow.commit()

    async with uows() as uow:
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
    async with uows() as uow:
        assert await uow.teams.get(first.id) == first  # read, written, read again
        await uow.teams.update(renamed)
        assert await uow.teams.get(first.id) == renamed
        assert await uow.teams.by_name(council_id, "畅大妈服务队") == renamed
        await uow.commit()
    async with uows() as uow:
        assert await uow.teams.get(first.id) == renamed
        assert await uow.teams.by_name(council_id, "畅大妈服务队") == renamed
        assert await uow.teams.by_name(council_id, "畅大妈志愿服务队") is None
        assert await uow.teams.of_council(council_id) == [renamed, second, third]
        # The old name is free again.
        again = await uow.teams.add(Team(council_id, "畅大妈志愿服务队"))
        await uow.commit()
    assert again.id is not None


async def test_units(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other_id = await make_council(uows, chat_id=-100_999)
    clinic = MemberUnit(
        council_id,
        "社区卫生服务中心",
        contact_user_ids=frozenset({BIG_USER, 42}),
        services=frozenset({"health", "陪诊"}),
    )
    async with uows() as uow:
        await uow.units.add(clinic)
        with pytest.raises(errors.AlreadyExists) as refused:
            await uow.units.add(MemberUnit(council_id, "社区卫生服务中心"))
        assert refused.value.params == {"name": "社区卫生服务中心"}
        bare = await uow.units.add(MemberUnit(council_id, "物业公司"))
        elsewhere = await uow.units.add(MemberUnit(other_id, "社区卫生服务中心"))
        await uow.commit()
    assert clinic.id is not None and bare.id is not None and elsewhere.id is not None

    async with uows() as uow:
        with pytest.raises(errors.AlreadyExists):
            await uow.units.add(MemberUnit(council_id, "物业公司", services=frozenset({"repair"})))
        school = await uow.units.add(MemberUnit(council_id, "第二小学"))
        await uow.commit()

    async with uows() as uow:
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
    async with uows() as uow:
        assert await uow.units.get(clinic.id) == clinic  # read, written, read again
        await uow.units.update(changed)
        assert await uow.units.get(clinic.id) == changed
        await uow.commit()
    async with uows() as uow:
        assert await uow.units.get(clinic.id) == changed
        assert await uow.units.by_name(council_id, "卫生服务站") == changed
        assert await uow.units.of_council(council_id) == [changed, bare, school]


# --- tasks --------------------------------------------------------------------------


async def test_task_round_trip_of_every_field(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    topic_id = await make_topic(uows, council_id)
    requester, doer, helper = await make_members(uows, council_id, 3)
    team_id = await add_team(uows, council_id, "畅大妈志愿服务队")
    async with uows() as uow:
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
    async with uows() as uow:
        added = await uow.tasks.add(original)
        assert added is original and original.id is not None
        assert await uow.tasks.get(original.id) == original  # before the commit
        await uow.commit()
    assert original.id is not None
    async with uows() as uow:
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
        async with uows() as uow:
            assert await uow.tasks.get(original.id) is not None  # read, written, read again
            await uow.tasks.update(version)
            assert await uow.tasks.get(original.id) == version
            await uow.commit()
        async with uows() as uow:
            again = await uow.tasks.get(original.id)
        assert again == version
        assert again is not None
        assert_types(again)
    assert again is not None and again.hours == Decimal("12.00") and again.unit_id == unit.id

    # Every state and source is stored as itself.
    states = [make_task(council_id, state=s, source=TaskSource.REQUEST) for s in TaskState]
    ids = await add_tasks(uows, *states)
    async with uows() as uow:
        back = [await uow.tasks.get(i) for i in ids]
    assert [t.state if t else None for t in back] == list(TaskState)
    assert all(t is not None and t.state is s for t, s in zip(back, TaskState, strict=True))


async def test_tasks_for_topic(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    topic_a = await make_topic(uows, council_id)
    topic_b = await make_topic(uows, council_id)
    ids = await add_tasks(
        uows,
        make_task(council_id, topic_id=topic_a, source=TaskSource.RESOLUTION, title="一"),
        make_task(council_id, topic_id=topic_b, source=TaskSource.RESOLUTION, title="二"),
        make_task(council_id, title="三"),
        make_task(council_id, topic_id=topic_a, source=TaskSource.RESOLUTION, title="四"),
    )
    async with uows() as uow:
        of_a = await uow.tasks.for_topic(topic_a)
        of_b = await uow.tasks.for_topic(topic_b)
        assert await uow.tasks.for_topic(topic_b + 1000) == []
    assert [t.id for t in of_a] == [ids[0], ids[3]]
    assert [t.title for t in of_a] == ["一", "四"]
    assert [t.id for t in of_b] == [ids[1]]


async def test_tasks_recent(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other_id = await make_council(uows, chat_id=-100_999)
    (doer,) = await make_members(uows, council_id, 1)
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
    ids = await add_tasks(uows, *made)
    await add_tasks(uows, make_task(other_id, state=TaskState.OPEN, created_at=at(100)))
    done0, open1, cancelled2, accepted3, expired4, offered5, done6 = ids
    async with uows() as uow:
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


async def test_open_load_counts_accepted_only(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    a, b, c, d = await make_members(uows, council_id, 4)

    def held(by: int, state: TaskState) -> Task:
        return make_task(council_id, state=state, accepted_by=by, accepted_at=at(5))

    await add_tasks(
        uows,
        held(a, TaskState.ACCEPTED),
        held(a, TaskState.ACCEPTED),
        held(a, TaskState.DONE),
        held(a, TaskState.CANCELLED),  # cancelled after it was accepted: kept accepted_by
        make_task(council_id, state=TaskState.OFFERED),
        held(b, TaskState.ACCEPTED),
        held(c, TaskState.DONE),
        held(c, TaskState.EXPIRED),
    )
    async with uows() as uow:
        assert await uow.tasks.open_load([a, b, c, d]) == {a: 2, b: 1}
        assert await uow.tasks.open_load([b]) == {b: 1}
        assert await uow.tasks.open_load([c, d]) == {}
        assert await uow.tasks.open_load([]) == {}


async def test_count_requests(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    alice, bob = await make_members(uows, council_id, 2)
    topic_id = await make_topic(uows, council_id)
    await add_tasks(
        uows,
        make_task(council_id, requester_member_id=alice, created_at=at(1)),
        make_task(council_id, requester_member_id=alice, created_at=at(10)),
        make_task(council_id, requester_member_id=alice, created_at=in_shanghai(at(20))),
        # Not a request for help: a task of a resolution names its asker too.
        make_task(
            council_id,
            requester_member_id=alice,
            source=TaskSource.RESOLUTION,
            topic_id=topic_id,
            created_at=at(30),
        ),
        make_task(council_id, requester_member_id=bob, created_at=at(15)),
        make_task(council_id, created_at=at(15)),  # nobody's
    )
    async with uows() as uow:
        assert await uow.tasks.count_requests(alice, at(0)) == 3
        assert await uow.tasks.count_requests(alice, at(10)) == 2  # at or after
        assert await uow.tasks.count_requests(alice, in_shanghai(at(10))) == 2
        assert await uow.tasks.count_requests(alice, at(20.5)) == 0
        assert await uow.tasks.count_requests(bob, at(0)) == 1
        assert await uow.tasks.count_requests(bob + alice + 100, at(0)) == 0


async def test_task_hours_have_two_decimals(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    (task_id,) = await add_tasks(uows, make_task(council_id, hours=Decimal("0.5")))
    async with uows() as uow:
        task = await uow.tasks.get(task_id)
        assert task is not None and str(task.hours) == "0.50"
        task.hours = Decimal(3)
        await uow.tasks.update(task)
        await uow.commit()
    async with uows() as uow:
        again = await uow.tasks.get(task_id)
    assert again is not None and str(again.hours) == "3.00"


# --- offers -------------------------------------------------------------------------


async def test_offer_add_get_update_for_task(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    a, b = await make_members(uows, council_id, 2)
    task_id, other_task = await add_tasks(
        uows,
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
    async with uows() as uow:
        for o in (first, second, elsewhere):
            assert await uow.offers.add(o) is o
        assert first.id is not None
        assert await uow.offers.get(first.id) == first  # before the commit
        await uow.commit()
    assert first.id is not None and second.id is not None
    async with uows() as uow:
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
    async with uows() as uow:
        await uow.offers.update(loaded)
        assert await uow.offers.get(first.id) == loaded  # before the commit
        await uow.commit()
    async with uows() as uow:
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
        async with uows() as uow:
            await uow.offers.update(answered)
            await uow.commit()
        async with uows() as uow:
            back = await uow.offers.get(first.id)
        assert back is not None and back.state is state


async def test_last_offered(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other_id = await make_council(uows, chat_id=-100_999)
    a, b, c = await make_members(uows, council_id, 3)
    (a_elsewhere,) = await make_members(uows, other_id, 1, first_user=500)
    t1, t2, t3 = await add_tasks(
        uows, make_task(council_id), make_task(council_id), make_task(council_id)
    )
    await add_offers(
        uows,
        offer(t1, a, 10),
        # Written in UTC+8: on the wall clock much later than anything else here, but
        # as an instant between the others; storage must compare instants.
        offer(t2, a, 0, offered_at=in_shanghai(at(30)), expires_at=in_shanghai(at(60))),
        offer(t3, a, 20, state=OfferState.DECLINED),
        offer(t1, b, 25, state=OfferState.EXPIRED),
        offer(t2, b, 5),
        offer(t3, b, 40, round=2),
    )
    async with uows() as uow:
        last = await uow.offers.last_offered([a, b, c, a_elsewhere])
        assert await uow.offers.last_offered([c]) == {}
        assert await uow.offers.last_offered([]) == {}
        only_b = await uow.offers.last_offered([b])
    assert last == {a: at(30), b: at(40)}  # whatever became of the offer
    assert only_b == {b: at(40)}
    for moment in last.values():
        assert_utc(moment)
        assert type(moment) is datetime


async def test_pending_expiries(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other_id = await make_council(uows, chat_id=-100_999)
    a, b, c = await make_members(uows, council_id, 3)
    (z,) = await make_members(uows, other_id, 1, first_user=500)
    offered, answered, accepted, fresh, shanghai, elsewhere = await add_tasks(
        uows,
        make_task(council_id, state=TaskState.OFFERED, round=2),
        make_task(council_id, state=TaskState.OFFERED, round=1),
        make_task(council_id, state=TaskState.ACCEPTED, round=1, accepted_by=a),
        make_task(council_id, state=TaskState.OPEN),
        make_task(council_id, state=TaskState.OFFERED, round=1),
        make_task(other_id, state=TaskState.OFFERED, round=1),
    )
    await add_offers(
        uows,
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
    async with uows() as uow:
        expiries = await uow.offers.pending_expiries()
    assert expiries == {offered: at(20), shanghai: at(15), elsewhere: at(50)}
    for moment in expiries.values():
        assert_utc(moment)
        assert type(moment) is datetime

    # Answering the earliest moves the expiry to the next pending one.
    async with uows() as uow:
        (late, early, _) = await uow.offers.for_task(offered)
        early.close(OfferState.DECLINED, at(5))
        await uow.offers.update(early)
        await uow.commit()
    async with uows() as uow:
        assert (await uow.offers.pending_expiries())[offered] == late.expires_at == at(30)


async def test_offers_added_many_at_once(uows: UnitOfWorkFactory) -> None:
    """A call to a whole team: one round of offers, ids filled in, in the order given."""
    council_id = await make_council(uows)
    a, b, c = await make_members(uows, council_id, 3)
    task_id, other_task = await add_tasks(
        uows,
        make_task(council_id, state=TaskState.OFFERED, round=1),
        make_task(council_id, state=TaskState.OFFERED, round=1),
    )
    (earlier,) = await add_offers(uows, offer(other_task, a, 0))
    round_ = [offer(task_id, c, 5), offer(task_id, a, 5), offer(task_id, b, 5, message_ref=7)]
    async with uows() as uow:
        assert await uow.offers.add_many([]) == []
        added = await uow.offers.add_many(round_)
        assert added == round_
        assert all(o.id is not None for o in round_)
        await uow.commit()
    ids = [o.id or 0 for o in round_]
    assert len(set(ids)) == 3 and min(ids) > earlier
    async with uows() as uow:
        listed = await uow.offers.for_task(task_id)
        loaded = [await uow.offers.get(i) for i in ids]
        expiries = await uow.offers.pending_expiries()
    assert listed == round_  # by id: the order they were added in
    assert loaded == round_
    assert expiries == {task_id: at(35), other_task: at(30)}


async def test_an_offer_update_writes_its_answer_only(uows: UnitOfWorkFactory) -> None:
    """Who was asked, in which round and until when is fixed when the offer is made;
    ``update`` writes back the answer: its state, when, and the message."""
    council_id = await make_council(uows)
    a, b = await make_members(uows, council_id, 2)
    task_id, other_task = await add_tasks(
        uows,
        make_task(council_id, state=TaskState.OFFERED, round=1),
        make_task(council_id, state=TaskState.OFFERED, round=1),
    )
    (offer_id,) = await add_offers(uows, offer(task_id, a, 10))
    async with uows() as uow:
        made = await uow.offers.get(offer_id)
    assert made is not None
    changed = replace(
        made,
        task_id=other_task,
        member_id=b,
        round=3,
        offered_at=at(20),
        expires_at=at(90),
        state=OfferState.DECLINED,
        answered_at=in_shanghai(at(15)),
        message_ref=9_876_543_210,
    )
    async with uows() as uow:
        await uow.offers.update(changed)
        await uow.commit()
    async with uows() as uow:
        loaded = await uow.offers.get(offer_id)
        assert await uow.offers.for_task(other_task) == []
        assert await uow.offers.last_offered([a, b]) == {a: at(10)}
    assert loaded == replace(
        made, state=OfferState.DECLINED, answered_at=at(15), message_ref=9_876_543_210
    )
    assert loaded is not None
    assert (loaded.task_id, loaded.member_id, loaded.round) == (task_id, a, 1)
    assert (loaded.offered_at, loaded.expires_at) == (at(10), at(40))
    assert_utc(loaded.answered_at)


# --- the hours ledger ---------------------------------------------------------------


async def test_hours_ledger(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other_id = await make_council(uows, chat_id=-100_999)
    a, b, c, d = await make_members(uows, council_id, 4)
    (z,) = await make_members(uows, other_id, 1, first_user=500)
    team_a = await add_team(uows, council_id, "畅大妈志愿服务队")
    team_b = await add_team(uows, council_id, "青年突击队")
    ids = await add_tasks(uows, *(make_task(council_id) for _ in range(16)))
    (elsewhere,) = await add_tasks(uows, make_task(other_id))

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
    async with uows() as uow:
        for e in entries:
            assert await uow.hours.add(e) is True
        # The same task again, in the same transaction: credited once.
        assert await uow.hours.add(replace(entries[0], hours=Decimal("9.00"), member_id=b)) is False
        await uow.commit()
    async with uows() as uow:  # and in a later one
        assert await uow.hours.add(replace(entries[3], hours=Decimal("5.00"))) is False
        assert await uow.hours.add(HoursEntry(other_id, z, elsewhere, Decimal("7"), at(0))) is True
        # A refused credit leaves the transaction usable.
        assert await uow.hours.add(entry(ids[15], c, "0.75", None)) is True
        await uow.commit()

    async with uows() as uow:
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
