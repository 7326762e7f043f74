"""The minutes (DOCX) and vote workbooks (XLSX) staff download, opened again with
python-docx and openpyxl as a reader's program would: the council, the date and place,
attendance, proposals, the rule, the figures and the outcome are in them, Chinese
carries an East Asian font, and a secret ballot's documents hold nobody's choice."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from decimal import Decimal

import pytest

from bot.i18n import EN_US, ZH_CN
from bot.reports.minutes import EAST_ASIA_FONT, ballot_minutes_docx, meeting_minutes_docx
from bot.reports.workbooks import turnout_xlsx, votes_xlsx
from domain import meetings, services
from domain.model import BallotKind, Flat
from domain.services import reports
from tests.domain.builders import CHAIR, NOW, ident, join, open_topic, put_motion, set_up, vote
from tests.domain.test_reports import STAFF, Sitting, sitting
from tests.fakes import FakeUnitOfWorkFactory

CHOICE_WORDS = ("赞成", "反对", "弃权")


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


def docx_text(data: bytes) -> list[str]:
    """Every paragraph's text and every table cell's, in order."""
    from docx import Document

    doc = Document(io.BytesIO(data))
    found = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            found += [cell.text for cell in row.cells]
    return found


def xlsx_rows(data: bytes) -> dict[str, list[tuple[object, ...]]]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    return {
        sheet.title: [tuple(row) for row in sheet.iter_rows(values_only=True)]
        for sheet in book.worksheets
    }


def cells(data: bytes) -> Iterator[tuple[str, object, str]]:
    """Every non-empty cell of a workbook: its coordinate, value and data type."""
    from openpyxl import load_workbook

    for sheet in load_workbook(io.BytesIO(data)).worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is not None:
                    yield cell.coordinate, cell.value, cell.data_type


async def test_meeting_minutes_docx_holds_what_a_committee_signs(
    factory: FakeUnitOfWorkFactory,
) -> None:
    s = await sitting(factory)
    minutes = await reports.meeting_minutes(factory(), meeting_id=ident(s.meeting), user_id=STAFF)
    text = docx_text(meeting_minutes_docx(ZH_CN, minutes))
    assert text[0] == "杨家园社区小院议事会 会议纪要"
    # The meeting starts three days after NOW (09:30 UTC), 17:30 in Shanghai.
    assert "会议时间：2025-05-09 17:30" in text
    assert "会议地点：社区活动室" in text
    assert "出席：2 人（名册 4 人）" in text
    assert "出席人员：居民11（1-1-11）、居民13（1-1-13）" in text
    assert "1. 物业费公示" in text and "2. 议题：口袋花园建设方案" in text
    assert "议题1：口袋花园建设方案" in text
    assert "1. 种月季（提出人：居民11）" in text
    assert "附议 2 人：居民12、居民13" in text
    assert "2. 种蔬菜（提出人：居民12）" in text and "无人附议" in text
    assert "表决1：动议表决（赞成 / 反对 / 弃权），记名投票" in text
    assert "表决规则：简单多数" in text
    assert "法定人数：不设" in text
    assert "参与表决：3 / 4 人（75.0%）" in text
    assert "赞成 2 人，反对 1 人，弃权 0 人" in text
    assert "表决结果：通过" in text
    assert "表决方式：本人在线 2 票、现场举手 1 票" in text
    assert any(line.startswith("主持人（签字）：") and "记录人（签字）：" in line for line in text)
    assert any(line.startswith("日期：") for line in text)


async def test_the_docx_names_an_east_asian_font(factory: FakeUnitOfWorkFactory) -> None:
    s = await sitting(factory)
    minutes = await reports.meeting_minutes(factory(), meeting_id=ident(s.meeting), user_id=None)
    data = meeting_minutes_docx(ZH_CN, minutes)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        styles = package.read("word/styles.xml").decode()
        document = package.read("word/document.xml").decode()
        fonts = package.read("word/fontTable.xml").decode()
    assert f'w:eastAsia="{EAST_ASIA_FONT}"' in styles
    assert f'w:eastAsia="{EAST_ASIA_FONT}"' in document
    assert "eastAsiaTheme" not in styles  # a theme font would win over the named one
    assert f'w:name="{EAST_ASIA_FONT}"' in fonts and 'w:val="SimSun"' in fonts


async def test_ballot_minutes_in_english(factory: FakeUnitOfWorkFactory) -> None:
    s = await sitting(factory)
    minutes = await reports.ballot_minutes(factory(), ballot_id=ident(s.open_ballot), user_id=STAFF)
    text = docx_text(ballot_minutes_docx(EN_US, minutes))
    assert text[0] == "杨家园社区小院议事会: minutes"
    assert "Minutes of the vote on: 口袋花园建设方案" in text
    assert "Present: 2 of the 4 on the roll" in text
    assert "Took part: 3 of 4 (75.0%)" in text
    assert "For: 2; against: 1; abstaining: 0" in text
    assert "Outcome: passed" in text
    assert "Votes by way: in the chat: 2, raised hand in the room: 1" in text


async def test_an_open_ballots_minutes_say_the_figures_are_so_far(
    factory: FakeUnitOfWorkFactory,
) -> None:
    s = await sitting(factory)
    minutes = await reports.ballot_minutes(
        factory(), ballot_id=ident(s.secret_ballot), user_id=None
    )
    text = docx_text(ballot_minutes_docx(ZH_CN, minutes))
    assert "本议题未列入会议议程，以线上表决方式进行。" in text
    assert "表决1：动议表决（赞成 / 反对 / 弃权），无记名投票" in text
    assert "表决仍在进行，以上为截至目前的情况。" in text
    assert not any(line.startswith("表决结果：") for line in text)


async def test_a_secret_ballots_documents_hold_no_voters_choice(
    factory: FakeUnitOfWorkFactory,
) -> None:
    s = await sitting(factory)
    names = [m.name for m in s.members.values()]
    record = await reports.ballot_record(factory(), ballot_id=ident(s.secret_ballot), user_id=None)
    minutes = await reports.ballot_minutes(
        factory(), ballot_id=ident(s.secret_ballot), user_id=None
    )
    for line in docx_text(ballot_minutes_docx(ZH_CN, minutes)):
        if any(name in line for name in names):
            assert not any(word in line for word in CHOICE_WORDS), line
    book = votes_xlsx(ZH_CN, record)
    sheets = xlsx_rows(book)
    assert list(sheets) == ["参与人员", "合计"]
    took_part = sheets["参与人员"]
    assert took_part[0][0] == "无记名投票：只列出参与人员，不含任何人的选择；各选项只有合计。"
    assert took_part[1:] == [
        ("姓名", "门牌（户）"),
        ("居民11", "1-1-11"),
        ("居民12", "1-1-12"),
        ("居民13", "1-1-13"),
    ]
    for row in took_part:
        assert not any(isinstance(v, str) and v in CHOICE_WORDS for v in row)
    # Totals only: 11 and 12 for, 13 against (by a home visit), none abstaining.
    assert sheets["合计"] == [
        ("选择", "人数"),
        ("赞成", 2),
        ("反对", 1),
        ("弃权", 0),
        ("参与表决", 3),
        ("名册", 4),
    ]


async def test_an_open_ballots_workbook_lists_each_vote(factory: FakeUnitOfWorkFactory) -> None:
    s = await sitting(factory)
    record = await reports.ballot_record(factory(), ballot_id=ident(s.open_ballot), user_id=None)
    sheets = xlsx_rows(votes_xlsx(ZH_CN, record))
    assert sheets["表决记录"] == [
        ("姓名", "门牌（户）", "选择", "表决方式", "时间", "计入结果"),
        ("居民11", "1-1-11", "反对", "本人在线", "2025-05-06 17:36", "是"),
        ("居民12", "1-1-12", "赞成", "本人在线", "2025-05-06 17:35", "是"),
        ("居民13", "1-1-13", "赞成", "现场举手", "2025-05-06 17:37", "是"),
    ]
    assert sheets["合计"][1:4] == [("赞成", 2), ("反对", 1), ("弃权", 0)]


async def test_text_cells_stay_text(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, 11, name='=HYPERLINK("http://x")', address="3-2-301")
    topic = await open_topic(factory, council_id)
    ballot = await put_motion(factory, council_id, topic)
    await vote(factory, ident(ballot), 11, "for")
    record = await reports.ballot_record(factory(), ballot_id=ident(ballot), user_id=None)
    found = {value: kind for _, value, kind in cells(votes_xlsx(ZH_CN, record))}
    assert found['=HYPERLINK("http://x")'] == "s"
    assert found["3-2-301"] == "s"


async def test_turnout_workbook(factory: FakeUnitOfWorkFactory) -> None:
    s: Sitting = await sitting(factory)
    found = await reports.turnout(factory(), council_id=s.council_id, user_id=None)
    council = await services.council_by_id(factory(), council_id=s.council_id)
    data = turnout_xlsx(ZH_CN, council, found)
    (sheet,) = xlsx_rows(data).values()
    assert sheet[0] == (
        "表决编号",
        "议题",
        "开始时间",
        "结束时间",
        "状态",
        "无记名",
        "结果",
        "人数（名册）",
        "人数（参与）",
        "人数参与率",
    )
    garden = ident(s.open_ballot)
    fee = ident(s.secret_ballot)
    assert sheet[1] == (
        garden,
        "口袋花园建设方案",
        "2025-05-06 17:33",
        "2025-05-06 17:38",
        "已结束",
        "否",
        "通过",
        4,
        3,
        pytest.approx(0.75),
    )
    assert sheet[2][:7] == (fee, "物业费调整", "2025-05-06 17:40", None, "进行中", "是", None)
    assert sheet[2][7:] == (4, 3, pytest.approx(0.75))
    rates = [(c, v) for c, v, _ in cells(data) if c.startswith("J") and c != "J1"]
    assert [Decimal(str(v)) for _, v in rates] == [Decimal("0.75"), Decimal("0.75")]


async def test_an_options_ballot_names_each_option_and_the_one_adopted(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    for user_id in (11, 12, 13):
        await join(factory, council_id, user_id)
    topic = await open_topic(factory, council_id)
    for user_id, proposal in ((11, "种月季"), (12, "种蔬菜")):
        await services.submit_proposal(
            factory(),
            council_id=council_id,
            topic_id=topic.id,
            user_id=user_id,
            text=proposal,
            now=NOW,
        )
    ballot = await services.put_ballot(
        factory(),
        council_id=council_id,
        topic_id=topic.id,
        user_id=CHAIR,
        kind=BallotKind.OPTIONS,
        now=NOW,
    )
    first, second = (o.key for o in ballot.options)
    for user_id, choice in ((11, first), (12, first), (13, second)):
        await vote(factory, ident(ballot), user_id, choice)
    await services.close_ballot(
        factory(), council_id=council_id, ballot_id=ident(ballot), user_id=CHAIR, now=NOW
    )
    minutes = await reports.ballot_minutes(factory(), ballot_id=ident(ballot), user_id=None)
    text = docx_text(ballot_minutes_docx(ZH_CN, minutes))
    assert "表决1：方案选择，记名投票" in text
    assert "选项1（种月季）：2 人" in text and "选项2（种蔬菜）：1 人" in text
    assert "弃权：0 人" in text
    assert "表决结果：通过" in text and "采纳方案：选项1：种月季" in text
    record = await reports.ballot_record(factory(), ballot_id=ident(ballot), user_id=None)
    sheets = xlsx_rows(votes_xlsx(ZH_CN, record))
    assert [row[2] for row in sheets["表决记录"][1:]] == [
        "选项1：种月季",
        "选项1：种月季",
        "选项2：种蔬菜",
    ]
    assert sheets["合计"][1:] == [
        ("选项1：种月季", 2),
        ("选项2：种蔬菜", 1),
        ("弃权", 0),
        ("参与表决", 3),
        ("名册", 3),
    ]


async def test_owners_rules_give_area_and_owners_in_the_minutes_and_turnout(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    areas = {11: Decimal("89.50"), 12: Decimal("100.25"), 13: Decimal("60")}
    for user_id, area in areas.items():
        member = await join(factory, council_id, user_id)
        async with factory() as uow:
            member.flats = (Flat(member.household, area, True),)
            await uow.members.update(member)
            await uow.commit()
    topic = await open_topic(factory, council_id)
    ballot = await services.put_ballot(
        factory(),
        council_id=council_id,
        topic_id=topic.id,
        user_id=CHAIR,
        kind=BallotKind.MOTION,
        rule_name="owners-ordinary",
        now=NOW,
    )
    await vote(factory, ident(ballot), 11, "for")
    await vote(factory, ident(ballot), 12, "for")
    minutes = await reports.ballot_minutes(factory(), ballot_id=ident(ballot), user_id=None)
    text = docx_text(ballot_minutes_docx(ZH_CN, minutes))
    assert "按专有部分面积：参与 189.75 / 249.75，赞成 189.75，反对 0，弃权 0" in text
    assert "按业主人数：参与 2 / 3，赞成 2，反对 0，弃权 0" in text
    found = await reports.turnout(factory(), council_id=council_id, user_id=None)
    council = await services.council_by_id(factory(), council_id=council_id)
    (header, row) = xlsx_rows(turnout_xlsx(ZH_CN, council, found))["参与率"]
    columns = dict(zip(header, row, strict=True))
    assert columns["专有部分面积（名册）"] == 249.75
    assert columns["专有部分面积（参与）"] == 189.75
    assert columns["专有部分面积参与率"] == pytest.approx(0.7598)  # 189.75 / 249.75, 4 places
    assert (columns["业主人数（名册）"], columns["业主人数（参与）"]) == (3, 2)
    assert columns["人数参与率"] == pytest.approx(0.6667)


async def test_a_cancelled_meetings_minutes_say_so(factory: FakeUnitOfWorkFactory) -> None:
    s = await sitting(factory)
    await meetings.cancel_meeting(
        factory(), council_id=s.council_id, meeting_id=ident(s.meeting), user_id=CHAIR, now=NOW
    )
    minutes = await reports.meeting_minutes(factory(), meeting_id=ident(s.meeting), user_id=None)
    assert "本次会议已取消。" in docx_text(meeting_minutes_docx(ZH_CN, minutes))
    assert "This meeting was cancelled." in docx_text(meeting_minutes_docx(EN_US, minutes))
