"""Roll imports on the fakes and both databases: the import's row and its plan kept as
JSON, the chunks written with their progress, the roll exported and imported again, and
two presses of confirm at once writing each change once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from domain import services
from domain.model import Account, Flat, Member, MemberStatus
from domain.ports import Lock, UnitOfWorkFactory
from domain.roster import ImportStatus, RosterImport
from domain.services import roster
from storage.uow import Database

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
CHAIR = 1
ROLL = (
    "姓名,地址,面积,身份,电话\n"
    + "".join(
        f"居民{n},{n % 9 + 1}-{n % 3 + 1}-{100 + n},{70 + n % 50}.5,业主,1380000{n:04d}\n"
        for n in range(1, 41)
    )
    + "合住者,2-2-101,71.5,业主,\n租客,2-1-201,,住户,\n"
)


async def council(uows: UnitOfWorkFactory) -> int:
    found = await services.set_up_council(
        uows(),
        chat_id=-100123,
        thread_id=0,
        title="杨家园社区小院议事会",
        user_id=CHAIR,
        is_group_admin=True,
        rule_name="owners-ordinary",
        timezone="Asia/Shanghai",
        language="zh-CN",
        now=NOW,
    )
    assert found.id is not None
    return found.id


async def check(uows: UnitOfWorkFactory, council_id: int, data: bytes) -> roster.Checked:
    return await roster.check_roster(
        uows(),
        council_id=council_id,
        user_id=CHAIR,
        file_name="roll.csv",
        data=data,
        roll=roster.read_file(data),
        now=NOW,
    )


async def test_the_import_row_keeps_its_plan_and_progress(uows: UnitOfWorkFactory) -> None:
    council_id = await council(uows)
    plan = {"version": 1, "changes": [{"op": "add", "name": "张三", "household": "1-1-101"}]}
    async with uows() as uow:
        added = await uow.roster_imports.add(
            RosterImport(council_id, CHAIR, "名册.xlsx", "ab" * 32, plan, ImportStatus.PENDING, NOW)
        )
        other = await uow.roster_imports.add(
            RosterImport(council_id, 2, "x.csv", "cd" * 32, {}, ImportStatus.PENDING, NOW)
        )
        await uow.commit()
    assert added.id is not None and other.id is not None
    async with uows() as uow:
        found = await uow.roster_imports.get(added.id, Lock.UPDATE)
        assert found is not None and found.plan == plan and found.done == 0
        found.plan["done"] = 1
        found.status = ImportStatus.APPLYING
        await uow.roster_imports.update(found)
        await uow.commit()
    async with uows() as uow:
        again = await uow.roster_imports.get(added.id)
        assert again is not None and (again.status, again.done) == (ImportStatus.APPLYING, 1)
        assert again.created_at == NOW and again.file_name == "名册.xlsx"
        # Only pending imports of that person and council are cancelled by a newer file.
        assert await uow.roster_imports.cancel_pending(council_id, 2, NOW) == 1
        assert await uow.roster_imports.cancel_pending(council_id, CHAIR, NOW) == 0
        await uow.commit()
    async with uows() as uow:
        cancelled = await uow.roster_imports.get(other.id)
        assert cancelled is not None and cancelled.status is ImportStatus.CANCELLED
        assert cancelled.decided_at == NOW
        assert await uow.roster_imports.get(other.id + 100) is None


async def test_written_in_chunks_then_exported_and_imported_again_changes_nothing(
    uows: UnitOfWorkFactory,
) -> None:
    council_id = await council(uows)
    checked = await check(uows, council_id, ROLL.encode("gb18030"))
    assert len(checked.plan.changes) == 42 and checked.plan.errors == ()
    assert checked.import_id is not None
    applied = await roster.apply_roster(
        uows, import_id=checked.import_id, user_id=CHAIR, now=NOW, chunk=10
    )
    assert not applied.before
    async with uows() as uow:
        roll = await uow.members.list(council_id)
        done = await uow.roster_imports.get(checked.import_id)
    assert done is not None and (done.status, done.done) == (ImportStatus.APPLIED, 42)
    assert len(roll) == 42
    shared = [m for m in roll if "2-2-101" in {f.household for f in m.flats}]
    assert len(shared) == 2  # co-owners: a flat row each, the same area
    assert {f.area for m in shared for f in m.flats if f.household == "2-2-101"} == {
        Decimal("71.5")
    }
    assert (await check(uows, council_id, ROLL.encode())).plan.empty
    exported = await roster.export_roster(
        uows(), council_id=council_id, user_id=CHAIR, english=False
    )
    again = await check(uows, council_id, exported.xlsx())
    assert again.plan.empty and again.plan.unchanged == 42
    # Removing from the file removes from the roll, keeping the rows.
    fewer = ROLL.replace("租客,2-1-201,,住户,\n", "")
    removal = await check(uows, council_id, fewer.encode())
    assert [c.name for c in removal.plan.changes] == ["租客"]
    assert removal.import_id is not None
    await roster.apply_roster(uows, import_id=removal.import_id, user_id=CHAIR, now=NOW)
    async with uows() as uow:
        gone = await uow.members.list(council_id, (MemberStatus.REMOVED,))
    assert [m.name for m in gone] == ["租客"]


async def test_two_presses_at_once_write_each_change_once(database: Database) -> None:
    council_id = await council(database.uow)
    checked = await check(database.uow, council_id, ROLL.encode())
    assert checked.import_id is not None

    async def press() -> roster.Applied:
        assert checked.import_id is not None
        return await roster.apply_roster(
            database.uow, import_id=checked.import_id, user_id=CHAIR, now=NOW, chunk=5
        )

    results = await asyncio.gather(press(), press())
    assert sum(1 for r in results if not r.before) >= 1
    async with database.uow() as uow:
        roll = await uow.members.list(council_id)
    assert len(roll) == 42
    assert len({(m.name, m.household) for m in roll}) == 42


async def test_many_members_added_and_updated_at_once_keep_their_accounts(
    uows: UnitOfWorkFactory,
) -> None:
    council_id = await council(uows)
    joined = await services.join(
        uows(),
        council_id=council_id,
        user_id=4242,
        name="张阿姨",
        address=services.parse_address("3-2-301"),
        area=Decimal("80"),
        language=None,
        now=NOW,
    )
    assert joined.id is not None
    async with uows() as uow:
        await uow.members.link_account(joined.id, Account("wecom", "zhang"))
        fresh = [
            Member(council_id, None, f"居民{n}", "5", "1", f"{n}01", NOW, area=Decimal(n))
            for n in range(1, 4)
        ]
        fresh[0].flats = (Flat("5-1-101", Decimal("1.00"), True),)
        await uow.members.add_many(fresh)
        assert [m.id for m in fresh] == [joined.id + 1, joined.id + 2, joined.id + 3]
        aunt = await uow.members.get(joined.id)
        assert aunt is not None
        aunt.flats = (Flat("3-2-301", Decimal("80.00"), True),)
        aunt.phone = "13800000000"
        ghost = Member(council_id, None, "无此人", "9", "9", "999", NOW, id=joined.id + 100)
        await uow.members.update_many([aunt, ghost])
        await uow.commit()
    async with uows() as uow:
        roll = {m.name: m for m in await uow.members.list(council_id)}
    assert set(roll) == {"张阿姨", "居民1", "居民2", "居民3"}
    assert roll["居民1"].flats == (Flat("5-1-101", Decimal("1.00"), True),)
    assert roll["张阿姨"].accounts == (Account("telegram", "4242"), Account("wecom", "zhang"))
    assert roll["张阿姨"].flats == (Flat("3-2-301", Decimal("80.00"), True),)
    assert roll["张阿姨"].phone == "13800000000"
