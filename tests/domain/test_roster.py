"""The roll file (名册导入/导出) on the fakes: reading rows (errors with their row numbers,
co-owners' areas, who is one person), the dry-run diff, writing it in chunks, and the
roll as a file again."""

from __future__ import annotations

import codecs
import io
from decimal import Decimal

import pytest
from openpyxl import Workbook

from domain import errors, services, sheets
from domain.model import Account, Flat, Member, MemberStatus
from domain.roster import ImportStatus
from domain.services import roster
from domain.services.roster_file import Op, read_roll
from tests.domain.builders import CHAIR, NOW, join, set_up, unchanged, update_council
from tests.fakes import FakeUnitOfWorkFactory

STAFF = 7
HEADER = "姓名,地址,面积,身份,电话\n"
ROLL = (
    HEADER + "张三,3-2-301,89.5,业主,138 0013 8000\n"
    "李四,3-2-301,89.50,业主,\n"
    "王五,3-2-302,,住户,\n"
    "张三,5-1-101,100,业主,13800138000\n"
    "滨江置业,9-1-101,120,开发商,\n"
    "滨江置业,9-1-102,121,开发商,\n"
)


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


def rows(text: str) -> list[sheets.Row]:
    return sheets.read_table(text.encode())


def errors_of(text: str) -> list[tuple[int, str]]:
    return [(e.row, e.code) for e in read_roll(rows(text)).errors]


async def council(factory: FakeUnitOfWorkFactory) -> int:
    council_id = await set_up(factory)
    async with factory() as uow:
        found = await uow.councils.get(council_id)
        assert found is not None
        found.staff.add(STAFF)
        await uow.councils.update(found)
        await uow.commit()
    return council_id


async def check(
    factory: FakeUnitOfWorkFactory, council_id: int, text: str | bytes, user: int = CHAIR
) -> roster.Checked:
    data = text.encode() if isinstance(text, str) else text
    return await roster.check_roster(
        factory(),
        council_id=council_id,
        user_id=user,
        file_name="名册.csv",
        data=data,
        roll=roster.read_file(data),
        now=NOW,
    )


async def apply(
    factory: FakeUnitOfWorkFactory, import_id: int | None, **kw: object
) -> roster.Applied:
    assert import_id is not None
    return await roster.apply_roster(
        factory,
        import_id=import_id,
        user_id=CHAIR,
        now=NOW,
        **kw,  # type: ignore[arg-type]
    )


def members(factory: FakeUnitOfWorkFactory) -> dict[str, Member]:
    """The roll by "name@household" (every status)."""
    return {f"{m.name}@{m.household}": m for m in factory.store.committed.members.values()}


# --- reading ------------------------------------------------------------------------------


def test_each_row_in_error_says_its_row_number_and_why() -> None:
    text = (
        "序号,姓名,房号,面积（㎡）,类型\n"
        "1,张三,3-2-301,八十,业主\n"
        "\n"  # a blank row still counts: row numbers are the spreadsheet's
        "3,,3-2-302,80,业主\n"
        "4,李四,三号楼,80,业主\n"
        "5,王五,3-2-304,,业主\n"
        "6,赵六,3-2-305,80,房东\n"
        "7,钱七,3-2-306,0,业主\n"
        "8,孙八,3-2-307,,住户\n"
    )
    assert errors_of(text) == [
        (2, "area"),
        (4, "name_missing"),
        (5, "address"),
        (6, "area_missing"),
        (7, "role"),
        (8, "area"),
    ]
    parsed = read_roll(rows(text))
    assert [p.name for p in parsed.people] == ["孙八"]  # a resident needs no area
    assert parsed.errors[0].params == {"value": "八十"}


def test_co_owners_who_give_one_flat_two_areas_are_both_in_error_naming_each_other() -> None:
    text = HEADER + "张三,3-2-301,89.5,业主,\n李四,3-2-301,90,业主,\n王五,3-2-301,89.5,业主,\n"
    parsed = read_roll(rows(text))
    assert parsed.people == ()
    assert [(e.row, e.code) for e in parsed.errors] == [
        (2, "area_conflict"),
        (3, "area_conflict"),
        (4, "area_conflict"),
    ]
    assert parsed.errors[0].params == {
        "household": "3-2-301",
        "areas": [[2, "89.50"], [3, "90.00"], [4, "89.50"]],
    }


def test_one_person_several_flats_by_name_and_phone_or_by_id_and_the_developer_once() -> None:
    parsed = read_roll(rows(ROLL))
    people = {p.name: p for p in parsed.people}
    assert parsed.errors == ()
    assert set(people) == {"张三", "李四", "王五", "滨江置业"}
    assert [f.household for f in people["张三"].flats] == ["3-2-301", "5-1-101"]
    assert people["张三"].phone == "13800138000"  # spaces dropped: the same phone
    assert [f.household for f in people["滨江置业"].flats] == ["9-1-101", "9-1-102"]
    assert people["王五"].flats == ()
    by_id = "编号,姓名,地址,面积,身份\n7,周九,1-1-101,80,业主\n7,周九,1-1-102,81,业主\n"
    (one,) = read_roll(rows(by_id)).people
    assert len(one.flats) == 2
    clash = "编号,姓名,地址,面积,身份\n7,周九,1-1-101,80,业主\n7,吴十,1-1-102,81,业主\n"
    assert errors_of(clash) == [(2, "person"), (3, "id_name")]


def test_a_repeated_row_is_ignored_but_one_that_says_otherwise_is_an_error() -> None:
    same = HEADER + "张三,3-2-301,80,业主,\n张三,3-2-301,80,业主,\n"
    parsed = read_roll(rows(same))
    assert [(e.row, e.code) for e in parsed.errors] == [(3, "duplicate")]
    assert len(parsed.people) == 1
    other = HEADER + "张三,3-2-301,80,业主,\n张三,3-2-301,,住户,\n"
    assert errors_of(other) == [(2, "person"), (3, "conflict")]


def test_english_headers_and_roles_and_what_a_file_without_columns_gets() -> None:
    text = "Name,Address,Area (m²),Role,Phone\nAlice,3-2-301,80,owner,\nBob,3-2-302,,tenant,\n"
    assert [p.name for p in read_roll(rows(text)).people] == ["Alice", "Bob"]
    with pytest.raises(errors.InvalidInput) as refused:
        read_roll(rows("姓名,电话\n张三,1\n"))
    assert refused.value.params == {"field": "roster_columns", "missing": "地址/address、身份/role"}
    with pytest.raises(errors.InvalidInput) as refused:
        read_roll(rows("姓名,姓名,地址,身份\n"))
    assert refused.value.params["field"] == "roster_column_twice"


def test_csv_in_gb18030_and_utf8_with_a_mark_and_xlsx_read_alike() -> None:
    expected = [(r.number, r.cells) for r in rows(ROLL)]
    for data in (ROLL.encode("gb18030"), codecs.BOM_UTF8 + ROLL.encode(), ROLL.encode("utf-16")):
        assert [(r.number, r.cells) for r in sheets.read_table(data)] == expected
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for line in ROLL.splitlines():
        cells = line.split(",")
        sheet.append([float(c) if c.replace(".", "").isdigit() else c or None for c in cells])
    out = io.BytesIO()
    book.save(out)
    read = read_roll(sheets.read_table(out.getvalue()))
    assert read.people == read_roll(rows(ROLL)).people
    with pytest.raises(errors.InvalidInput) as refused:
        sheets.read_table(b"\xd0\xcf\x11\xe0" + b"\0" * 100)
    assert refused.value.params["field"] == "sheet_xls"
    with pytest.raises(errors.InvalidInput) as refused:
        sheets.read_table(b"PK\x03\x04 not really a workbook")
    assert refused.value.params["field"] == "sheet_file"


# --- the diff and writing it --------------------------------------------------------------


async def test_a_file_is_checked_written_on_confirm_and_the_same_file_again_changes_nothing(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await council(factory)
    with unchanged(factory), pytest.raises(errors.InvalidInput):
        await check(factory, council_id, "姓名,地址\n张三,1-1-101\n")  # no 身份 column
    checked = await check(factory, council_id, ROLL)
    assert [(c.op, c.name) for c in checked.plan.changes] == [
        (Op.ADD, "张三"),
        (Op.ADD, "李四"),
        (Op.ADD, "王五"),
        (Op.ADD, "滨江置业"),
    ]
    assert members(factory) == {}  # a dry run: nothing on the roll yet
    applied = await apply(factory, checked.import_id)
    assert not applied.before
    roll = members(factory)
    assert roll["张三@3-2-301"].flats == (
        Flat("3-2-301", Decimal("89.50"), True),
        Flat("5-1-101", Decimal("100.00"), True),
    )
    assert roll["张三@3-2-301"].phone == "13800138000"
    assert roll["张三@3-2-301"].area == Decimal("189.50")
    assert roll["王五@3-2-302"].flats == ()
    assert len(roll["滨江置业@9-1-101"].flats) == 2
    again = await check(factory, council_id, ROLL)
    assert again.plan.empty and again.import_id is None and again.plan.unchanged == 4
    # A second press of the same confirm button: applied once, and said so.
    assert (await apply(factory, checked.import_id)).before
    assert len(factory.store.committed.members) == 4


async def test_members_not_in_the_file_are_removed_keeping_history_and_accounts(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await council(factory)
    first = await check(factory, council_id, ROLL)
    await apply(factory, first.import_id)
    async with factory() as uow:
        wang = members(factory)["王五@3-2-302"]
        assert wang.id is not None
        await uow.members.link_account(wang.id, Account.telegram(4242))
        await uow.commit()
    without = "\n".join(line for line in ROLL.splitlines() if "王五" not in line) + "\n"
    checked = await check(factory, council_id, without)
    assert [(c.op, c.name) for c in checked.plan.changes] == [(Op.REMOVE, "王五")]
    await apply(factory, checked.import_id)
    wang = members(factory)["王五@3-2-302"]
    assert wang.status is MemberStatus.REMOVED and wang.user_id == 4242
    # Back in the file: the same entry comes back, with its account.
    back = await check(factory, council_id, ROLL)
    assert [(c.op, c.what) for c in back.plan.changes] == [(Op.UPDATE, ("restored",))]
    await apply(factory, back.import_id)
    assert members(factory)["王五@3-2-302"].status is MemberStatus.ACTIVE
    assert members(factory)["王五@3-2-302"].id == wang.id
    assert members(factory)["王五@3-2-302"].user_id == 4242


async def test_changes_keep_the_member_and_its_account_and_say_what_changed(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await council(factory)
    joined = await join(factory, council_id, 55, address="3-2-302", name="王五")
    await apply(factory, (await check(factory, council_id, ROLL)).import_id)
    wang = members(factory)["王五@3-2-302"]
    assert wang.id == joined.id and wang.user_id == 55  # matched by name and address
    moved = ROLL.replace("王五,3-2-302,,住户,", "王五,3-2-303,,住户,13912345678")
    moved = moved.replace("李四,3-2-301,89.50,业主,", "李四,3-2-301,89.50,住户,")
    checked = await check(factory, council_id, moved)
    assert {c.name: c.what for c in checked.plan.of(Op.UPDATE)} == {"李四": ("flats",)}
    # 3-2-303 is not an address of the roll's 王五: a new person, and the old one removed
    assert [c.name for c in checked.plan.of(Op.ADD)] == ["王五"]
    assert [c.name for c in checked.plan.of(Op.REMOVE)] == ["王五"]
    # A corrected area says from what to what (co-owners' rows corrected together).
    remeasured = ROLL.replace("3-2-301,89.5,", "3-2-301,90.25,").replace(
        "3-2-301,89.50,", "3-2-301,90.25,"
    )
    checked = await check(factory, council_id, remeasured)
    assert {c.name: c.what for c in checked.plan.of(Op.UPDATE)} == {
        "张三": ("area:89.50:90.25",),
        "李四": ("area:89.50:90.25",),
    }


async def test_a_row_in_error_keeps_its_member_on_the_roll_as_it_is(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await council(factory)
    await apply(factory, (await check(factory, council_id, ROLL)).import_id)
    typo = ROLL.replace("李四,3-2-301,89.50", "李四,3-2-301,八十九")
    checked = await check(factory, council_id, typo)
    assert checked.plan.empty and checked.plan.guarded == 1
    assert [(e.row, e.code) for e in checked.plan.errors] == [(3, "area")]


async def test_written_in_chunks_a_crash_midway_is_finished_by_the_next_press(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await council(factory)
    big = HEADER + "".join(f"居民{n},7-1-{n},{60 + n % 40},业主,\n" for n in range(1, 24))
    checked = await check(factory, council_id, big)

    async def crash() -> None:
        raise RuntimeError("killed between two chunks")

    with pytest.raises(RuntimeError):
        await apply(factory, checked.import_id, chunk=10, between=crash)
    async with factory() as uow:
        assert checked.import_id is not None
        half = await uow.roster_imports.get(checked.import_id)
    assert half is not None and (half.status, half.done) == (ImportStatus.APPLYING, 10)
    assert len(factory.store.committed.members) == 10
    applied = await apply(factory, checked.import_id, chunk=10)
    assert not applied.before
    assert sorted(m.name for m in factory.store.committed.members.values()) == sorted(
        f"居民{n}" for n in range(1, 24)
    )
    assert (await check(factory, council_id, big)).plan.empty


async def test_refused_writes_nothing_not_staff_stale_cancelled(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await council(factory)
    with unchanged(factory), pytest.raises(errors.NotStaff):
        await check(factory, council_id, ROLL, user=12345)
    staff = await check(factory, council_id, ROLL, user=STAFF)  # staff may, as chairs do
    assert staff.import_id is not None
    checked = await check(factory, council_id, ROLL)
    await join(factory, council_id, 66, address="8-8-808", name="新来的")  # the roll moves on
    with unchanged(factory), pytest.raises(errors.InvalidInput) as refused:
        await apply(factory, checked.import_id)
    assert refused.value.params == {"field": "roster_stale"}
    again = await check(factory, council_id, ROLL)  # the newer check replaces the older
    with unchanged(factory), pytest.raises(errors.InvalidInput) as refused:
        await apply(factory, checked.import_id)
    assert refused.value.params == {"field": "roster_cancelled"}
    await roster.cancel_roster(factory(), import_id=again.import_id or 0, user_id=CHAIR, now=NOW)
    with unchanged(factory), pytest.raises(errors.InvalidInput) as refused:
        await apply(factory, again.import_id)
    assert refused.value.params == {"field": "roster_cancelled"}
    with unchanged(factory), pytest.raises(errors.StaleButton):
        await roster.apply_roster(factory, import_id=staff.import_id, user_id=CHAIR, now=NOW)
    await update_council(factory, council_id, staff=set())  # no longer staff: refused
    with unchanged(factory), pytest.raises(errors.NotStaff):
        await roster.apply_roster(factory, import_id=staff.import_id, user_id=STAFF, now=NOW)


async def test_the_exported_roll_imported_again_changes_nothing(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await council(factory)
    await apply(factory, (await check(factory, council_id, ROLL)).import_id)
    # A self-declared flat (unverified), and a member living elsewhere than the flat it owns.
    await services.join(
        factory(),
        council_id=council_id,
        user_id=77,
        name="Zhou Jiu",
        address=services.parse_address("6-1-601"),
        area=Decimal("66.6"),
        language=None,
        now=NOW,
    )
    async with factory() as uow:
        zhang = members(factory)["张三@3-2-301"]
        zhang.building, zhang.unit, zhang.room, zhang.household = "8", "1", "801", "8-1-801"
        await uow.members.update(zhang)
        await uow.commit()
    for english in (False, True):
        exported = await roster.export_roster(
            factory(), council_id=council_id, user_id=STAFF, english=english
        )
        assert exported.members == 5
        checked = await check(factory, council_id, exported.xlsx())
        assert checked.plan.empty, checked.plan.changes
        assert checked.plan.errors == () and checked.plan.unchanged == 5
    table = sheets.read_table(exported.xlsx())
    assert table[0].cells == ("name", "address", "area", "role", "phone", "id", "verified")
    assert ("Zhou Jiu", "6-1-601", "66.6", "owner", "", "5", "no") in [r.cells for r in table]
    with unchanged(factory), pytest.raises(errors.NotStaff):
        await roster.export_roster(factory(), council_id=council_id, user_id=55, english=False)
