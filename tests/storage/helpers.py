"""Builders of small, valid entities for storage tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.model import Ballot, BallotKind, BallotOption, Council, Member, Topic
from domain.rules import preset
from storage.uow import Database

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def make_council(db: Database, chat_id: int = -100_123_456_789, thread_id: int = 0) -> int:
    async with db.uow() as uow:
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


async def make_members(db: Database, council_id: int, count: int, first_user: int = 1) -> list[int]:
    """``count`` active members with user ids first_user, first_user + 1, …"""
    async with db.uow() as uow:
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


async def make_topic(db: Database, council_id: int) -> int:
    async with db.uow() as uow:
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


async def make_ballot(db: Database, council_id: int, topic_id: int, **changes: object) -> int:
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
    async with db.uow() as uow:
        ballot = await uow.ballots.add(Ballot(**fields))  # type: ignore[arg-type]
        await uow.commit()
    assert ballot.id is not None
    return ballot.id
