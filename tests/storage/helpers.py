"""Builders of small, valid entities for storage tests.

Each takes a ``Store``: a :class:`storage.uow.Database`, or any unit-of-work factory
(the contract tests pass the fakes' or a database's), and commits what it built.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from domain.model import (
    Ballot,
    BallotKind,
    BallotOption,
    Council,
    Meeting,
    Member,
    Notice,
    NoticeKind,
    Topic,
)
from domain.ports import UnitOfWorkFactory
from domain.rules import preset
from domain.task_rules import Offer, Task, TaskSource, TaskState, Team
from storage.uow import Database

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
SHANGHAI = timezone(timedelta(hours=8))
BIG_USER = 7_000_000_123  # beyond 32 bits: messenger user ids are BIGINT

Store = Database | UnitOfWorkFactory


def uows_of(store: Store) -> UnitOfWorkFactory:
    return store.uow if isinstance(store, Database) else store


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def in_shanghai(moment: datetime) -> datetime:
    """The same instant, written in UTC+8: storage must keep instants, not wall clocks."""
    return moment.astimezone(SHANGHAI)


def assert_utc(moment: datetime | None) -> None:
    assert moment is not None
    assert moment.tzinfo is not None, f"naive datetime {moment!r}"
    assert moment.utcoffset() == timedelta(0), f"not UTC: {moment!r}"


async def make_council(db: Store, chat_id: int = -100_123_456_789, thread_id: int = 0) -> int:
    async with uows_of(db)() as uow:
        council = await uow.councils.add(
            Council(
                chat_id=chat_id,
                thread_id=thread_id,
                title="梧桐里业主议事会",
                rule=preset("simple"),
                timezone="Asia/Shanghai",
                language="zh",
                created_at=T0,
                chairs={7_000_000_001},
            )
        )
        await uow.commit()
    assert council.id is not None
    return council.id


async def make_members(db: Store, council_id: int, count: int, first_user: int = 1) -> list[int]:
    """``count`` active members with user ids first_user, first_user + 1, …"""
    async with uows_of(db)() as uow:
        ids = []
        for i in range(count):
            member = await uow.members.add(
                Member(
                    council_id=council_id,
                    user_id=first_user + i,
                    name=f"居民{i}",
                    building=str(1 + i // 100),
                    unit=str(1 + (i // 10) % 10),
                    room=f"{100 + i % 10}",
                    joined_at=T0,
                    area=Decimal("88.50"),
                )
            )
            assert member.id is not None
            ids.append(member.id)
        await uow.commit()
    return ids


async def make_topic(db: Store, council_id: int) -> int:
    async with uows_of(db)() as uow:
        topic = await uow.topics.add(
            Topic(
                council_id=council_id,
                title="加装电梯",
                description="3 号楼加装电梯的方案",
                opened_by=7_000_000_001,
                opened_at=at(1),
            )
        )
        await uow.commit()
    assert topic.id is not None
    return topic.id


async def make_ballot(db: Store, council_id: int, topic_id: int, **changes: object) -> int:
    fields: dict[str, object] = {
        "topic_id": topic_id,
        "council_id": council_id,
        "kind": BallotKind.OPTIONS,
        "question": "选哪家施工单位?",
        "rule": preset("simple"),
        "secret": False,
        "opened_by": 7_000_000_001,
        "opened_at": at(2),
        "options": (BallotOption("a", "甲公司", None), BallotOption("b", "乙公司", None)),
        "deadline": at(60 * 24),
    }
    fields.update(changes)
    async with uows_of(db)() as uow:
        ballot = await uow.ballots.add(Ballot(**fields))  # type: ignore[arg-type]
        await uow.commit()
    assert ballot.id is not None
    return ballot.id


# --- dispatch -----------------------------------------------------------------


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


async def add_tasks(db: Store, *new: Task) -> list[int]:
    async with uows_of(db)() as uow:
        for task in new:
            await uow.tasks.add(task)
        await uow.commit()
    ids = [t.id for t in new if t.id is not None]
    assert len(ids) == len(new)
    return ids


async def add_team(db: Store, council_id: int, name: str, *leaders: int) -> int:
    async with uows_of(db)() as uow:
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


async def add_offers(db: Store, *new: Offer) -> list[int]:
    async with uows_of(db)() as uow:
        for o in new:
            await uow.offers.add(o)
        await uow.commit()
    ids = [o.id for o in new if o.id is not None]
    assert len(ids) == len(new)
    return ids


def assert_types(task: Task) -> None:
    assert type(task.state) is TaskState
    assert type(task.source) is TaskSource
    assert type(task.hours) is Decimal
    assert type(task.member_ids) is frozenset
    for moment in (task.created_at, task.due, task.accepted_at, task.closed_at):
        if moment is not None:
            assert_utc(moment)


# --- meetings and notices -------------------------------------------------------


def meeting(council_id: int, starts_at: datetime, **changes: object) -> Meeting:
    fields: dict[str, object] = {
        "council_id": council_id,
        "starts_at": starts_at,
        "place": "社区活动中心二楼",
        "online": False,
        "scheduled_by": 7_000_000_001,
        "changed_at": at(0),
    }
    fields.update(changes)
    return Meeting(**fields)  # type: ignore[arg-type]


async def add_meetings(db: Store, *meetings: Meeting) -> list[int]:
    async with uows_of(db)() as uow:
        for m in meetings:
            await uow.meetings.add(m)
        await uow.commit()
    ids = [m.id for m in meetings]
    assert all(isinstance(i, int) for i in ids)
    return [i for i in ids if i is not None]


def notice(council_id: int, key: str, **changes: object) -> Notice:
    fields: dict[str, object] = {
        "key": key,
        "kind": NoticeKind.MEETING_REMINDER,
        "council_id": council_id,
        "chat_id": -100_123_456_789,
        "subject": 1,
        "created_at": at(0),
    }
    fields.update(changes)
    return Notice(**fields)  # type: ignore[arg-type]


async def add_notices(db: Store, *notices: Notice) -> list[int]:
    async with uows_of(db)() as uow:
        for n in notices:
            assert await uow.notices.add(n) is True
        await uow.commit()
    return [n.id for n in notices if n.id is not None]


async def stored(db: Store, notice_ids: list[int]) -> list[Notice]:
    async with uows_of(db)() as uow:
        found = [await uow.notices.get(i) for i in notice_ids]
    assert all(n is not None for n in found)
    return [n for n in found if n is not None]
