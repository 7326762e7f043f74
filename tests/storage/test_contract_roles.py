"""The audit trail of roles and the councils a person keeps: the same answers from the
fakes, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.model import Council, Member, Role, RoleEvent
from domain.ports import UnitOfWorkFactory
from domain.rules import PRESETS

NOW = datetime(2025, 5, 6, 9, 30, tzinfo=UTC)


def _council(chat_id: int, chairs: set[int], staff: set[int]) -> Council:
    return Council(
        chat_id=chat_id,
        thread_id=0,
        title=f"议事会{chat_id}",
        rule=PRESETS["simple"],
        timezone="Asia/Shanghai",
        language="zh-CN",
        created_at=NOW,
        chairs=chairs,
        staff=staff,
    )


async def test_role_events_come_back_newest_first_per_council(uows: UnitOfWorkFactory) -> None:
    async with uows() as uow:
        first = await uow.councils.add(_council(-1, {1}, set()))
        other = await uow.councils.add(_council(-2, {9}, set()))
        assert first.id is not None and other.id is not None
        member = await uow.members.add(Member(first.id, 5, "张阿姨", "3", "2", "301", NOW))
        written = [
            await uow.roles.add(RoleEvent(first.id, Role.CHAIR, True, NOW, user_id=1, by_user=1)),
            await uow.roles.add(
                RoleEvent(
                    first.id,
                    Role.PARTICIPANT,
                    True,
                    NOW + timedelta(minutes=1),
                    user_id=5,
                    member_id=member.id,
                    by_user=1,
                )
            ),
            await uow.roles.add(RoleEvent(other.id, Role.STAFF, False, NOW, user_id=3)),
        ]
        await uow.commit()
    assert all(e.id is not None for e in written)

    async with uows() as uow:
        mine = await uow.roles.of_council(first.id)
        latest = await uow.roles.of_council(first.id, limit=1)

    assert mine == [written[1], written[0]]
    assert latest == [written[1]]
    assert mine[1].by_user == 1 and written[2].by_user is None


async def test_the_councils_a_person_chairs_or_staffs(uows: UnitOfWorkFactory) -> None:
    async with uows() as uow:
        chaired = await uow.councils.add(_council(-1, {1, 2}, set()))
        staffed = await uow.councils.add(_council(-2, {3}, {1}))
        await uow.councils.add(_council(-3, {3}, {2}))
        await uow.commit()

    async with uows() as uow:
        assert [c.id for c in await uow.councils.of_person(1)] == [chaired.id, staffed.id]
        assert [c.staff for c in await uow.councils.of_person(2)] == [set(), {2}]
        assert await uow.councils.of_person(4) == []
