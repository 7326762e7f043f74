"""The service-hours workbook (``bot/reports/hours_book.py``): the hours report of a
council built by the use cases (on the fakes), written as XLSX, opened again with
openpyxl and read: the figures, the words of each language, text kept as text.
"""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.i18n import EN_US, ZH_CN
from bot.reports.hours_book import hours_xlsx
from domain.volunteering.reports import OPERATOR, hours_report
from tests.domain.builders import NOW
from tests.domain.test_volunteering_reports import JUNE, community, member_of
from tests.fakes import FakeUnitOfWorkFactory


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


def sheets(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(io.BytesIO(data))
    return {
        sheet.title: [tuple(row) for row in sheet.iter_rows(values_only=True)] for sheet in book
    }


async def test_the_workbook_has_hours_per_person_team_and_month(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, _ = await community(factory)
    report = await hours_report(factory(), council_id=council_id, viewer=OPERATOR)

    found = sheets(hours_xlsx(ZH_CN, report))

    assert list(found) == ["按人员", "按服务队", "按月份"]
    people, teams, months = found.values()
    assert people[0] == ("杨家园社区小院议事会 志愿服务时长（全部记录）", None, None, None, None)
    assert people[1:] == [
        ("序号", "姓名", "成员编号", "服务次数", "服务时长（小时）"),
        (1, "居民103", member_of(factory, 103), 1, 2.5),
        (2, "居民102", member_of(factory, 102), 1, 1),
        ("合计", None, None, 2, 3.5),
    ]
    assert teams[1:] == [
        ("服务队", "服务人数", "服务次数", "服务时长（小时）"),
        ("畅大妈志愿服务队", 1, 1, 2.5),
        ("未加入服务队", 1, 1, 1),
        ("合计", 2, 2, 3.5),
    ]
    assert months[1:] == [
        ("月份", "服务人数", "服务次数", "服务时长（小时）"),
        ("2025年05月", 1, 1, 1),
        ("2025年06月", 1, 1, 2.5),  # 1 June in Shanghai, 31 May in UTC
        ("合计", 2, 2, 3.5),
    ]


async def test_in_english_with_a_period_and_texts_kept_as_text(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, _ = await community(factory)
    async with factory() as uow:  # a name that a spreadsheet would take for a formula
        member = await uow.members.get(member_of(factory, 102))
        assert member is not None
        member.name = "=SUM(1,2)"
        await uow.members.update(member)
        await uow.commit()
    report = await hours_report(
        factory(),
        council_id=council_id,
        viewer=OPERATOR,
        since=NOW - timedelta(days=1),
        until=JUNE + timedelta(days=1),
    )

    data = hours_xlsx(EN_US, report)
    found = sheets(data)

    assert list(found) == ["By person", "By team", "By month"]
    people, _, months = found.values()
    # The period in the council's dates, its last day included: until is 2 June 00:00.
    assert (
        people[0][0] == "杨家园社区小院议事会: volunteer service hours (2025-05-05 to 2025-06-01)"
    )
    assert people[1] == ("No.", "Name", "Member no.", "Tasks", "Hours")
    assert people[3][:2] == (2, "=SUM(1,2)")
    assert [row[0] for row in months[2:]] == ["2025-05", "2025-06", "Total"]
    cells = load_workbook(io.BytesIO(data))["By person"]
    assert cells["B4"].data_type == "s"
    assert cells["E3"].number_format == "0.00"
    assert Decimal(str(cells["E5"].value)) == Decimal("3.5")
