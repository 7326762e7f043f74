"""Issue 10 read from the specification only: the roll the community keeps.

Written from the issue, PRODUCT.md, the glossary and the README, as a new user of each
flow would try it (bad inputs and abuse included), without reading the handlers, the
domain or the storage code. Each test asserts what the user sees; the database is read
only to show that a refusal wrote nothing. Tests marked ``xfail(strict=True)`` record a
bug found this way: they pass once the bug is fixed (and then the mark must go).
"""

from __future__ import annotations

import io
import re
import sqlite3
from contextlib import closing
from datetime import timedelta

import openpyxl
import psycopg
import pypdfium2
import pytest
import time_machine
import zxingcpp

from bot.telegram.local import LocalBot
from emulator import BotApiEmulator, Message, User
from storage.db import libpq_url
from tests.bot.conftest import (
    QUIET,
    TIMEOUT,
    Council,
    advance,
    assert_clean,
    bot_messages,
    button,
    buttons,
    current,
    current_votes,
    make_council,
    outcome_caption,
    press,
    say,
    settled,
    shown,
    text_of,
    vote_events,
)

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOT_STAFF = "⛔ 只有召集人和社工（网格员）可以这样做。"
NOT_CHAIR = "⛔ 只有召集人可以这样做。"


# --- helpers ---------------------------------------------------------------------------


def count_rows(url: str, table: str) -> int:
    """Rows of ``table``: to show that a refusal wrote nothing (the README names them)."""
    query = f"SELECT count(*) FROM {table}"
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(url.split(":///", 1)[1])) as connection:
            (count,) = connection.execute(query).fetchone()
            return int(count)
    with psycopg.connect(libpq_url(url)) as connection:
        row = connection.execute(query).fetchone()
        assert row is not None
        return int(row[0])


async def send_file(
    emu: BotApiEmulator,
    user: User,
    name: str,
    data: bytes,
    *,
    mime_type: str = CSV,
    caption: str | None = None,
) -> Message:
    """``user`` sends a file to the bot privately; returns the bot's last answer."""
    await emu.wait_idle(quiet=QUIET)
    after = emu.event_seq
    sent = await emu.send_document(user, user, name, data, mime_type=mime_type, caption=caption)
    await emu.wait_for_bot_message(user, after=after, timeout=TIMEOUT)
    await emu.wait_idle(quiet=QUIET)
    replies = [m for m in emu.messages(user) if m.from_bot and m.message_id > sent.message_id]
    assert replies
    return replies[-1]


async def reply_with(council: Council, user: User, to: Message, text: str) -> Message:
    """``user`` answers ``to`` in the group with ``text``; returns the bot's answer."""
    emu = council.emu
    await emu.wait_idle(quiet=QUIET)
    after = emu.event_seq
    sent = await emu.send_text(user, council.group, text, reply_to=to)
    await emu.wait_for_bot_message(council.group, after=after, timeout=TIMEOUT)
    await emu.wait_idle(quiet=QUIET)
    replies = [m for m in bot_messages(emu, council.group) if m.message_id > sent.message_id]
    assert replies
    return replies[-1]


async def group_line(council: Council, user: User, text: str = "大家好") -> Message:
    """A plain message of ``user`` in the group, to reply to."""
    message = await council.emu.send_text(user, council.group, text)
    await council.emu.wait_idle(quiet=QUIET)
    return message


async def import_roll(council: Council, data: bytes, *, name: str = "roll.csv") -> Message:
    """The chair sends a roll file privately and confirms it; returns the dry run."""
    emu, chair = council.emu, council.chair
    dry = await send_file(emu, chair, name, data, mime_type=XLSX if name.endswith("x") else CSV)
    answer = await press(emu, chair, dry, button(dry, "确认导入"))
    assert answer.text == "正在写入名册……", answer.text
    return dry


async def full_roll(council: Council, user: User | None = None) -> str:
    """The roll with addresses and areas, as a chair (or staff) gets it privately."""
    reader = user or council.chair
    message = await say(council.emu, reader, reader, "/roll")
    return message.text or ""


def card_payloads(emu: BotApiEmulator, message: Message) -> list[str]:
    """The deep-link URLs of the QR codes printed on a binding-card PDF."""
    assert message.document is not None, message
    _name, _mime, data = emu._engine.world.files[message.document["file_id"]]
    assert data.startswith(b"%PDF")
    found = []
    for page in pypdfium2.PdfDocument(data):
        found += [r.text for r in zxingcpp.read_barcodes(page.render(scale=3).to_pil())]
    return found


def group_texts_since(council: Council, message_id: int) -> list[str]:
    """Every text the bot posted or edited in the group since ``message_id``: all a
    member of the group has seen of it (edits included, by the transcript)."""
    label = council.group.label
    return [
        e.text
        for e in council.emu.transcript.entries
        if e.kind in ("bot", "edit") and e.chat == label and (e.message_id or 0) >= message_id
    ]


async def owners_council(local: LocalBot, residents: tuple[str, ...]) -> Council:
    return await make_council(local, rule="owners-ordinary", residents=residents, chair_joins=False)


# === 1. owners counted as the law counts them ==========================================


async def test_four_flats_and_a_silent_spouse_pass_under_owners_ordinary(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's own example: four flats of 100 m², the spouse of the first co-owns it
    and does not vote, three flats vote for. The law: 3 of 4 owners, 300 of 400 m²."""
    council = await make_council(local, rule="owners-ordinary", residents=(), chair_joins=False)
    emu, chair = council.emu, council.chair
    owners = [emu.add_user(n) for n in ("张阿姨", "李叔叔", "刘大姐", "陈师傅")]
    spouse = emu.add_user("张叔叔")
    for user in (*owners, spouse):
        emu.add_member(council.group, user)
    for n, user in enumerate(owners, 1):
        joined = await council.say(user, f"/join 3-2-30{n} 100")
        assert (joined.text or "").startswith("✅"), joined.text
    joined = await council.say(spouse, "/join 3-2-301 100")
    assert joined.text == "✅ 张叔叔（3-2-301）已加入「杨家园社区小院议事会」名册，可以参与表决。"

    # Declared areas wait for staff: nothing counts yet.
    before = await full_roll(council)
    assert before.splitlines()[0] == (
        "📋 杨家园社区小院议事会 名册：5 人，4 户；业主 0 人，已核实专有部分面积 0.00 ㎡"
    )
    for number in range(1, 6):
        verified = await say(emu, chair, chair, f"/verify #{number} 100")
        assert (verified.text or "").startswith("✅ 已核实"), verified.text
    after = await full_roll(council)
    # Five people, four households; the co-owned flat counted once: four owners, 400 m².
    assert after.splitlines()[0] == (
        "📋 杨家园社区小院议事会 名册：5 人，4 户；业主 4 人，已核实专有部分面积 400.00 ㎡"
    )
    assert "500" not in after

    await council.topic("更换单元门禁")
    ballot, _ = await council.ballot()
    for user in owners[:3]:
        assert (await press(emu, user, ballot, button(ballot, "赞成"))).text == "已记录：赞成"
    shown_ballot = text_of(emu, ballot)
    assert "法定人数 ✔ 参与表决的专有部分面积达到名册总数的 2/3：300/400 ㎡" in shown_ballot
    assert "法定人数 ✔ 参与表决的业主人数达到名册总数的 2/3：3/4 人" in shown_ballot

    outcome = await council.say(chair, "/close")
    lines = outcome_caption(outcome).splitlines()
    assert lines[1] == "✅ 通过", outcome_caption(outcome)
    assert "✔ 参与表决的专有部分面积达到名册总数的 2/3：300/400 ㎡" in lines
    assert "✔ 参与表决的业主人数达到名册总数的 2/3：3/4 人" in lines
    assert "✔ 赞成的专有部分面积超过参与表决总数的 1/2：300/300 ㎡" in lines
    assert "✔ 赞成的业主人数超过参与表决总数的 1/2：3/3 人" in lines
    assert "未达法定人数" not in outcome_caption(outcome)
    assert_clean(emu, caplog, allowed_errors=["initiate conversation"])


async def test_a_buyer_of_two_flats_is_one_owner_with_both_areas(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    """A roll file (XLSX) where one 编号 stands on two rows: one owner, 200 m²."""
    council = await owners_council(local, ())
    emu, chair = council.emu, council.chair
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (
        ("序号", "姓名", "地址", "面积", "身份", "编号"),
        (1, "李叔叔", "3-2-302", 100, "业主", "L"),
        (2, "李叔叔", "3栋2单元303", 100, "业主", "L"),
        (3, "王奶奶", "3-2-304", 100, "业主", None),
    ):
        sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    await say(emu, chair, chair, "/start")
    dry = await import_roll(council, data.getvalue(), name="roll.xlsx")
    assert "· 李叔叔 3-2-302（业主，2 套）" in (dry.text or "")
    assert "· 王奶奶 3-2-304（业主，1 套）" in (dry.text or "")

    roll = await full_roll(council)
    assert roll.splitlines() == [
        "📋 杨家园社区小院议事会 名册：2 人，2 户；业主 2 人，已核实专有部分面积 300.00 ㎡",
        "1. 李叔叔 #1 · 3-2-302 · 100.00 ㎡ · 3-2-303 100.00 ㎡",
        "2. 王奶奶 #2 · 3-2-304 · 100.00 ㎡",
    ]

    await council.topic("加装电梯")
    ballot, _ = await council.ballot()
    assert "法定人数 ✘ 参与表决的业主人数达到名册总数的 2/3：0/2 人" in text_of(emu, ballot)
    assert "法定人数 ✘ 参与表决的专有部分面积达到名册总数的 2/3：0/300 ㎡" in text_of(emu, ballot)
    # The buyer (no phone, visited at home) votes through staff: 200 m² but one owner.
    assisted = await say(emu, chair, chair, "/assist 3-2-302 赞成 入户走访，本人口述")
    assert "✅ 已录入：李叔叔 赞成（入户代录）" in (assisted.text or "")
    shown_ballot = text_of(emu, ballot)
    assert "法定人数 ✔ 参与表决的专有部分面积达到名册总数的 2/3：200/300 ㎡" in shown_ballot
    assert "法定人数 ✘ 参与表决的业主人数达到名册总数的 2/3：1/2 人" in shown_ballot
    await say(emu, chair, chair, "/assist 3-2-304 赞成 入户走访")
    outcome = await council.say(chair, "/close")
    assert outcome_caption(outcome).splitlines()[1] == "✅ 通过", outcome_caption(outcome)
    assert "✔ 赞成的业主人数超过参与表决总数的 1/2：2/2 人" in outcome_caption(outcome)
    assert_clean(emu, caplog)


async def test_a_self_declared_area_counts_only_once_verified(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await owners_council(local, ("张阿姨", "李叔叔"))
    emu, chair = council.emu, council.chair
    uncle = council.members[1]
    await say(emu, chair, chair, "/start")
    await say(emu, chair, chair, "/verify #1 100")

    roll = await full_roll(council)
    assert roll.splitlines()[:2] == [
        "📋 杨家园社区小院议事会 名册：2 人，2 户；业主 1 人，已核实专有部分面积 100.00 ㎡",
        "⏳ 另有 1 套住户自报的面积待社工核实，核实前不计入业主表决。",
    ]
    assert "李叔叔 #2 · 3-2-302 · 82.00 ㎡（待核实）" in roll
    await council.topic("议题一")
    ballot, _ = await council.ballot()
    assert "参与表决的专有部分面积达到名册总数的 2/3：0/100 ㎡" in text_of(emu, ballot)
    assert "参与表决的业主人数达到名册总数的 2/3：0/1 人" in text_of(emu, ballot)
    await council.say(chair, "/close")

    # A resident cannot verify her own area, nor can the chair do it in the group.
    assert (await say(emu, uncle, uncle, "/verify #2 82")).text == NOT_STAFF
    assert (await council.say(chair, "/verify #2 82")).text == "⛔ 请在与我的私聊中使用这个命令。"
    assert (await say(emu, chair, chair, "/verify #99")).text == (
        "⛔ 没有编号为 #99 的成员。编号见 /pending 或完整名册。"
    )
    assert await full_roll(council) == roll  # the refusals wrote nothing

    verified = await say(emu, chair, chair, "/verify #2 90.5")
    assert (verified.text or "").startswith("✅ 已核实 李叔叔 的房屋面积，现在计入业主表决。")
    assert "🏠 3-2-302 · 90.50 ㎡ · 已核实" in (verified.text or "")
    await council.topic("议题二")
    ballot, _ = await council.ballot()
    assert "参与表决的专有部分面积达到名册总数的 2/3：0/190.50 ㎡" in text_of(emu, ballot)
    assert "参与表决的业主人数达到名册总数的 2/3：0/2 人" in text_of(emu, ballot)
    assert_clean(emu, caplog)


async def test_joining_someone_elses_flat_with_a_huge_area_cannot_block_a_ballot(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await owners_council(local, ("张阿姨", "李叔叔"))
    emu, chair = council.emu, council.chair
    aunt, uncle = council.members
    liar = emu.add_user("王五")
    emu.add_member(council.group, liar)
    await say(emu, chair, chair, "/start")
    await say(emu, chair, chair, "/verify #1 100")
    await say(emu, chair, chair, "/verify #2 100")

    claimed = await council.say(liar, "/join 3-2-301 20000")
    assert (claimed.text or "").startswith("✅ 王五（3-2-301）")
    assert "20000" not in (claimed.text or "")  # the group never reads a declared area
    roll = await full_roll(council)
    assert roll.splitlines()[0] == (
        "📋 杨家园社区小院议事会 名册：3 人，2 户；业主 2 人，已核实专有部分面积 200.00 ㎡"
    )
    liar_line = next(line for line in roll.splitlines() if "王五" in line)
    assert liar_line.endswith("（待核实）"), liar_line

    await council.topic("小区停车收费")
    ballot, _ = await council.ballot()
    await press(emu, aunt, ballot, button(ballot, "赞成"))
    await press(emu, uncle, ballot, button(ballot, "赞成"))
    assert (await press(emu, liar, ballot, button(ballot, "反对"))).text == "已记录：反对"
    outcome = await council.say(chair, "/close")
    lines = outcome_caption(outcome).splitlines()
    assert lines[1] == "✅ 通过", outcome_caption(outcome)
    assert "✔ 参与表决的专有部分面积达到名册总数的 2/3：200/200 ㎡" in lines
    assert "✔ 赞成的专有部分面积超过参与表决总数的 1/2：200/200 ㎡" in lines
    assert_clean(emu, caplog)


async def test_unreadable_areas_are_refused_clearly_and_write_nothing(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await owners_council(local, ())
    emu = council.emu
    resident = emu.add_user("赵奶奶")
    emu.add_member(council.group, resident)
    for area in ("-5", "1e9", "nan", "99999999999", "很大"):
        refused = await council.say(resident, f"/join 3-2-301 {area}")
        assert refused.text == f"⛔ 没看懂面积「{area}」。请写数字（平方米），例如 85.5。"
    refused = await council.say(resident, "/join 楼上<左边>")
    assert refused.text == (
        "⛔ 没看懂地址「楼上<左边>」。请按 楼栋-单元-房号 填写，例如 /join 3-2-301。"
    )
    roll = await council.say(council.chair, "/roll")
    assert (roll.text or "").startswith("📋 杨家园社区小院议事会 名册：0 人")
    assert_clean(emu, caplog)


async def test_join_refuses_a_forty_digit_room(local: LocalBot) -> None:
    council = await owners_council(local, ())
    emu = council.emu
    resident = emu.add_user("赵奶奶")
    emu.add_member(council.group, resident)
    refused = await council.say(resident, "/join 3-2-" + "1" * 40)
    assert (refused.text or "").startswith("⛔"), refused.text
    roll = await council.say(council.chair, "/roll")
    assert (roll.text or "").startswith("📋 杨家园社区小院议事会 名册：0 人")


async def test_join_refuses_an_area_of_zero(local: LocalBot) -> None:
    council = await owners_council(local, ())
    emu = council.emu
    resident = emu.add_user("赵奶奶")
    emu.add_member(council.group, resident)
    refused = await council.say(resident, "/join 3-2-301 0")
    assert (refused.text or "").startswith("⛔"), refused.text
    roll = await council.say(council.chair, "/roll")
    assert (roll.text or "").startswith("📋 杨家园社区小院议事会 名册：0 人")


async def test_roll_file_refuses_a_forty_digit_room(local: LocalBot) -> None:
    council = await owners_council(local, ())
    emu, chair = council.emu, council.chair
    data = f"姓名,地址,面积,身份\n王奶奶,3-2-304,90,业主\n坏行,3-2-{'1' * 40},100,业主\n"
    dry = await send_file(emu, chair, "roll.csv", data.encode())
    assert "第 3 行" in (dry.text or ""), dry.text
    assert "坏行" not in (dry.text or "").split("⚠️")[0], dry.text


# === 2. roles ==========================================================================


async def test_chairs_grant_and_revoke_staff_and_chair_each_change_recorded(
    local: LocalBot, migrated_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔", "刘大姐"))
    emu, chair = council.emu, council.chair
    aunt, uncle, _ = council.members
    events = count_rows(migrated_url, "role_events")

    hello = await group_line(council, aunt)
    granted = await reply_with(council, chair, hello, "/grant staff")
    assert granted.text == (
        "✅ 张阿姨 已成为「杨家园社区小院议事会」的社工（网格员），"
        "可以管理名册、审核入册、核实面积。"
    )
    made = await council.say(chair, "/grant chair #3")
    assert made.text == "✅ 李叔叔 已成为「杨家园社区小院议事会」的召集人。"
    roles = await council.say(aunt, "/roles")
    assert (roles.text or "").splitlines()[1:4] == [
        "召集人：杨静、李叔叔",
        "社工（网格员）：张阿姨",
        "列席（不参加表决）：无",
    ]
    assert count_rows(migrated_url, "role_events") == events + 2

    # Staff keep the roll but do not make chairs or staff.
    assert (await council.say(aunt, "/grant chair #4")).text == NOT_CHAIR
    assert (await council.say(aunt, "/grant staff #4")).text == NOT_CHAIR
    # The new chair may step down; the staff role is taken back by a chair.
    assert (await council.say(uncle, "/revoke chair #3")).text == (
        "✅ 李叔叔 已不再担任「杨家园社区小院议事会」的召集人。"
    )
    assert (await council.say(chair, "/revoke staff #2")).text == (
        "✅ 张阿姨 已不再担任「杨家园社区小院议事会」的社工（网格员）。"
    )
    assert (await council.say(chair, "/revoke staff #2")).text == "⛔ 张阿姨 不是社工（网格员）。"
    roles = await council.say(aunt, "/roles")
    assert (roles.text or "").splitlines()[1:3] == ["召集人：杨静", "社工（网格员）：无"]
    assert count_rows(migrated_url, "role_events") == events + 4
    # Having lost the role, staff's powers go with it.
    assert (await say(emu, aunt, aunt, "/pending")).text == NOT_STAFF
    assert_clean(emu, caplog)


async def test_the_last_chair_stays_and_every_refusal_writes_nothing(
    local: LocalBot, migrated_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu, chair = council.emu, council.chair
    aunt, _ = council.members
    roles_before = (await council.say(aunt, "/roles")).text
    events = count_rows(migrated_url, "role_events")

    last = "⛔ 杨静 是本议事会唯一的召集人，不能撤销。请先任命另一位召集人（/grant chair）。"
    assert (await council.say(chair, "/revoke chair #1")).text == last
    own = await group_line(council, chair, "我来试试撤销自己")
    assert (await reply_with(council, chair, own, "/revoke chair")).text == last
    refusals = {
        "/revoke chair #1": NOT_CHAIR,
        "/grant chair #2": NOT_CHAIR,
        "/grant participant #3": NOT_STAFF,
    }
    for command, text in refusals.items():
        assert (await council.say(aunt, command)).text == text, command
    usage = (
        "⛔ 用法：回复某人的消息发送 /grant staff；或 /grant participant #12、/grant voter "
        "3-2-301。身份：chair 召集人、staff 社工、voter 表决、participant 列席。"
    )
    assert (await council.say(chair, "/grant bogus #2")).text == usage
    assert (await council.say(chair, "/grant staff")).text == usage
    assert (await council.say(chair, "/grant staff #99")).text == (
        "⛔ 没有编号为 #99 的成员。编号见 /pending 或完整名册。"
    )
    assert (await council.say(chair, "/grant staff #1; DROP TABLE members")).text == (
        "⛔ 没看懂编号「#1;」。编号是正整数，请用数字 0–9 书写，例如 #12。"
    )
    assert (await council.say(chair, "/grant staff 9-9-999")).text == (
        "⛔ 名册上没有地址为 9-9-999 的成员。"
    )
    uncle = council.members[1]
    assert (await say(emu, uncle, uncle, "/grant staff #3")).text == NOT_CHAIR

    assert (await council.say(aunt, "/roles")).text == roles_before
    assert count_rows(migrated_url, "role_events") == events
    assert_clean(emu, caplog)


async def test_a_participant_proposes_but_never_votes_nor_counts(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔", "刘大姐"))
    emu, chair = council.emu, council.chair
    aunt, _, contact = council.members
    made = await council.say(chair, "/grant participant 3-2-304")
    assert made.text == (
        "✅ 刘大姐 现在是「杨家园社区小院议事会」的列席成员：可以提案、附议和接任务，"
        "不参加表决，也不计入表决基数。"
    )
    await council.topic("社区卫生服务站进小区义诊")
    proposal = await council.say(contact, "/propose 每月第一个周六上午义诊")
    assert (proposal.text or "").startswith("💡 提案 #"), proposal.text
    assert (await press(emu, contact, proposal, button(proposal, "附议"))).show_alert  # own
    seconded = await press(emu, aunt, proposal, button(proposal, "附议"))
    assert seconded.text == "已附议 👍"

    ballot, ballot_id = await council.ballot()
    assert "已参与 0/3 人" in text_of(emu, ballot)  # chair + 3 residents, less the participant
    refused = await press(emu, contact, ballot, button(ballot, "赞成"))
    assert refused.show_alert and refused.text == (
        "⛔ 您是列席成员（如成员单位联系人），可以提案、附议和接任务，但不参加表决。"
        "如有误，请联系召集人或社工。"
    )
    await say(emu, chair, chair, "/start")
    assisted = await say(emu, chair, chair, "/assist #4 赞成 入户")
    assert assisted.text == "⛔ 刘大姐 是列席成员，不参加表决。"
    assert await current_votes(local, ballot_id) == {}
    assert "已参与 0/3 人" in text_of(emu, ballot)

    # Staff may switch her back; then she votes like anyone.
    back = await council.say(chair, "/grant voter #4")
    assert back.text == "✅ 刘大姐 现在是「杨家园社区小院议事会」有表决权的成员。"
    assert_clean(emu, caplog)


async def test_a_demoted_group_admin_stops_chairing(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨",))
    emu, chair = council.emu, council.chair
    (aunt,) = council.members
    director = emu.add_user("王主任")
    emu.add_member(council.group, director, "administrator")
    setup = await say(emu, director, council.group, "/setup")
    assert (setup.text or "").startswith("✅")
    roles = await council.say(aunt, "/roles")
    assert (roles.text or "").splitlines()[1] == "召集人：杨静、王主任"

    emu.set_member_status(council.group, director, "member", by=chair)
    await emu.wait_idle(quiet=0.3)
    told = emu.last_bot_message(council.group)
    assert told is not None and told.text == (
        "ℹ️ 王主任 已不是本群管理员，不再担任「杨家园社区小院议事会」的召集人。"
    )
    assert ((await council.say(aunt, "/roles")).text or "").splitlines()[1] == "召集人：杨静"
    # ... and can no longer change the council's rule nor open topics.
    assert (await say(emu, director, council.group, "/setup simple")).text == NOT_CHAIR
    assert (await say(emu, director, council.group, "/topic 我来开个题")).text == NOT_CHAIR

    # The last chair demoted stays, and the group is told a new chair is needed.
    emu.set_member_status(council.group, chair, "member", by=chair)
    await emu.wait_idle(quiet=0.3)
    warned = emu.last_bot_message(council.group)
    assert warned is not None and warned.text == (
        "⚠️ 杨静 已不是本群管理员，但是「杨家园社区小院议事会」唯一的召集人，"
        "暂时保留召集人身份。议事会需要新的召集人：现任群管理员请发送 /setup，"
        "或由召集人回复某人的消息发送 /grant chair。"
    )
    assert ((await council.say(aunt, "/roles")).text or "").splitlines()[1] == "召集人：杨静"
    assert_clean(emu, caplog)


# === 3. roster import ==================================================================

ROLL_WITH_ERRORS = """姓名,地址,面积,身份,电话
张阿姨,3-2-301,100,业主,13800000001
张叔叔,3-2-301,100,业主,
李叔叔,3-2-302,很大,业主,
王奶奶,5-1-101,90,业主,
零面积,5-1-102,0,业主,
没地址,,90,业主,
租客,5-1-103,,住户,
"""


async def test_roll_file_dry_run_with_row_errors_then_confirm_then_same_file_changes_nothing(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await owners_council(local, ("张阿姨", "李叔叔", "路过"))
    emu, chair = council.emu, council.chair
    await say(emu, chair, chair, "/start")
    roll_before = await full_roll(council)

    dry = await send_file(emu, chair, "roll.csv", ROLL_WITH_ERRORS.encode())
    # Rows in error come with their numbers (the header is row 1) and why; a member named
    # by a row in error (李叔叔) is neither changed nor removed.
    assert dry.text == (
        "📋 名册核对：roll.csv\n"
        "杨家园社区小院议事会，文件共 7 行。以下是导入后会有的变化（尚未写入）：\n"
        "\n"
        "➕ 新增 3 人\n"
        "  · 张叔叔 3-2-301（业主，1 套）\n"
        "  · 王奶奶 5-1-101（业主，1 套）\n"
        "  · 租客 5-1-103（住户）\n"
        "\n"
        "✏️ 变更 1 人\n"
        "  · 张阿姨 3-2-301：面积 81.00 → 100.00 ㎡、电话\n"
        "\n"
        "➖ 移出名册 1 人（不在文件里；记录保留，再导入可恢复）\n"
        "  · 路过 3-2-303\n"
        "\n"
        "⚠️ 3 行有误，不导入（改正后重新发送文件）：\n"
        "  · 第 4 行：面积“很大”看不懂（写平方米数，如 85.5）\n"
        "  · 第 6 行：面积“0”看不懂（写平方米数，如 85.5）\n"
        "  · 第 7 行：没有地址\n"
        "因所在行有误，1 人保持原样（既不变更也不移出）。\n"
        "确认之前名册不会改动。"
    )
    assert [label for label, _ in buttons(dry)] == ["✅ 确认导入", "✖ 取消"]
    assert await full_roll(council) == roll_before  # nothing written before ✅

    answer = await press(emu, chair, dry, button(dry, "确认导入"))
    assert answer.text == "正在写入名册……"
    done = emu.last_bot_message(chair)
    assert done is not None and done.text == (
        "✅ 杨家园社区小院议事会 名册已导入：新增 3 人，变更 1 人，移出 1 人。"
    )
    assert text_of(emu, dry).endswith("✅ 已确认导入。")
    assert current(emu, dry).buttons == []
    # Co-owners' flat once (100 m²) and 王奶奶's 90 m²: imported areas are verified; 李叔叔's
    # declared area still waits, and 路过 is off the roll.
    roll = await full_roll(council)
    assert roll.splitlines() == [
        "📋 杨家园社区小院议事会 名册：5 人，4 户；业主 2 人，已核实专有部分面积 190.00 ㎡",
        "⏳ 另有 1 套住户自报的面积待社工核实，核实前不计入业主表决。",
        "1. 张阿姨 #1 · 3-2-301 · 100.00 ㎡ · ☎ 13800000001",
        "2. 李叔叔 #2 · 3-2-302 · 82.00 ㎡（待核实）",
        "3. 张叔叔 #4 · 3-2-301 · 100.00 ㎡",
        "4. 王奶奶 #5 · 5-1-101 · 90.00 ㎡",
        "5. 租客 #6 · 5-1-103",
    ]

    again = await send_file(emu, chair, "roll.csv", ROLL_WITH_ERRORS.encode())
    assert (again.text or "").endswith("✅ 没有需要改动的：名册与文件一致。"), again.text
    assert "➕" not in (again.text or "") and "➖" not in (again.text or "")
    assert buttons(again) == []
    assert await full_roll(council) == roll
    assert_clean(emu, caplog, allowed_errors=["initiate conversation"])


async def test_roll_files_from_residents_or_of_the_wrong_kind_are_refused(
    local: LocalBot, migrated_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨",))
    emu, chair = council.emu, council.chair
    (aunt,) = council.members
    members = count_rows(migrated_url, "members")
    imports = count_rows(migrated_url, "roster_imports")

    refused = await send_file(emu, aunt, "roll.csv", ROLL_WITH_ERRORS.encode())
    assert refused.text == (
        "⛔ 只有召集人和社工（网格员）可以导入、导出名册。居民请在议事会群里用 /join 加入名册。"
    )
    assert buttons(refused) == []
    assert (await say(emu, aunt, aunt, "/roll export")).text == refused.text
    assert not [m for m in emu.sent_to(aunt) if m.document is not None]

    pdf = await send_file(emu, chair, "x.pdf", b"%PDF-1.4", mime_type="application/pdf")
    assert pdf.text == "⛔ “x.pdf”不是名册文件。请发送 Excel（.xlsx）或 CSV 文件。"
    garbage = await send_file(emu, chair, "x.csv", b"\x00\x01\x02garbage\xff\xfe")
    assert garbage.text == (
        "⛔ 这个 CSV 文件的文字编码我认不出。请用 Excel“另存为” CSV UTF-8 或 .xlsx 后再发。"
    )
    columns = await send_file(emu, chair, "x.csv", b"foo,bar\n1,2\n")
    assert (columns.text or "").startswith(
        "⛔ 文件第一行缺少这些列：姓名/name、地址/address、身份/role。"
    )
    fake_xlsx = await send_file(emu, chair, "roll.xlsx", b"PK\x03\x04 not a workbook",
                                mime_type=XLSX)  # fmt: skip
    assert fake_xlsx.text == "⛔ 这个文件我读不出表格。请发送 Excel（.xlsx）或 CSV 文件。"
    assert count_rows(migrated_url, "members") == members
    assert count_rows(migrated_url, "roster_imports") == imports
    assert_clean(emu, caplog)


async def test_members_removed_by_an_import_keep_their_history(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔", "刘大姐"))
    emu, chair = council.emu, council.chair
    aunt, uncle, sister = council.members
    await council.topic("东侧空地建口袋花园")
    ballot, ballot_id = await council.ballot()
    await press(emu, aunt, ballot, button(ballot, "赞成"))
    await press(emu, uncle, ballot, button(ballot, "反对"))
    await press(emu, uncle, ballot, button(ballot, "赞成"))  # a change: two audit lines
    await press(emu, sister, ballot, button(ballot, "反对"))
    outcome = await council.say(chair, "/close")
    closed_ballot = text_of(emu, ballot)
    events = await vote_events(local, ballot_id)
    result_before = (await council.say(aunt, "/result")).text

    await say(emu, chair, chair, "/start")
    without_uncle = (
        "姓名,地址,面积,身份\n杨静,3-2-301,81,业主\n"
        "张阿姨,3-2-302,82,业主\n刘大姐,3-2-304,84,业主\n"
    )
    dry = await import_roll(council, without_uncle.encode())
    assert "➖ 移出名册 1 人（不在文件里；记录保留，再导入可恢复）\n  · 李叔叔 3-2-303" in (
        dry.text or ""
    )
    group_roll = await council.say(aunt, "/roll")
    assert "李叔叔" not in (group_roll.text or "")

    # His votes stay: the closed ballot, its outcome and the audit trail are as they were.
    assert text_of(emu, ballot) == closed_ballot and "李叔叔" in closed_ballot
    assert outcome_caption(current(emu, outcome)) == outcome_caption(outcome)
    assert (await council.say(aunt, "/result")).text == result_before
    assert await vote_events(local, ballot_id) == events == 4
    # A removed member cannot vote on a new ballot.
    await council.topic("活动室开放时间")
    new_ballot, new_id = await council.ballot()
    refused = await press(emu, uncle, new_ballot, button(new_ballot, "赞成"))
    assert refused.show_alert
    assert await current_votes(local, new_id) == {}

    # Importing him again brings the same entry back.
    with_uncle = without_uncle + "李叔叔,3-2-303,83,业主\n"
    back = await import_roll(council, with_uncle.encode())
    assert "李叔叔 3-2-303" in (back.text or "") and "➕ 新增" not in (back.text or "")
    roll = (await full_roll(council)).splitlines()
    assert "3. 李叔叔 #3 · 3-2-303 · 83.00 ㎡" in roll, roll
    assert_clean(emu, caplog)


async def test_roll_export_never_writes_a_formula(local: LocalBot) -> None:
    council = await make_council(local, residents=("张阿姨",))
    emu, chair = council.emu, council.chair
    evil = emu.add_user('=HYPERLINK("http://evil.example/","点我")')
    emu.add_member(council.group, evil)
    await council.say(evil, "/join 3-2-399 50")
    exported = await say(emu, chair, chair, "/roll export")
    assert exported.document is not None, exported.text
    _name, _mime, data = emu._engine.world.files[exported.document["file_id"]]
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert any(str(cell.value or "").endswith('"点我")') for cell in cells)
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]


# === 4. binding codes ==================================================================

CARD_ROLL = (
    "姓名,地址,面积,身份\n杨静,3-2-301,81,业主\n张阿姨,3-2-302,82,业主\n"
    "王奶奶,5-1-101,90,业主\n赵爷爷,5-1-102,80,业主\n"
)


async def test_cards_print_a_qr_code_per_household_and_bind_once(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨",))
    emu, chair = council.emu, council.chair
    (aunt,) = council.members
    await say(emu, chair, chair, "/start")
    assert (await say(emu, chair, chair, "/cards")).text == (
        "⛔ 名册上的居民都已绑定账号，没有要打印的绑定卡。导入名册后再来打印。"
    )
    await import_roll(council, CARD_ROLL.encode())
    assert (await say(emu, aunt, aunt, "/cards")).text == NOT_STAFF
    assert (await council.say(chair, "/cards")).text == "⛔ 请在与我的私聊中使用这个命令。"

    cards = await say(emu, chair, chair, "/cards")
    assert cards.document is not None and cards.document["file_name"].endswith(".pdf")
    assert re.fullmatch(
        r"🖨 杨家园社区小院议事会：2 张绑定卡，有效期至 \d{4}-\d{2}-\d{2}。"
        r"请用 A4 纸打印（每页 8 张），沿虚线裁开，入户交给卡上的本人。",
        cards.caption or "",
    ), cards.caption
    links = card_payloads(emu, cards)
    assert len(links) == 2  # 王奶奶 and 赵爷爷; members with an account get none
    prefix = f"https://t.me/{emu.bot_username}?start="
    assert all(link.startswith(prefix) for link in links), links
    grandma_code, grandpa_code = (link.removeprefix(prefix) for link in links)
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}", grandma_code)

    # An account already on the roll cannot take another entry.
    assert (await say(emu, aunt, aunt, f"/start {grandma_code}")).text == (
        "⛔ 您的账号已在杨家园社区小院议事会的名册上（张阿姨），不能再绑定另一条。"
        "如需更正，请联系召集人或社工。"
    )
    grandma = emu.add_user("王奶奶")
    typed = grandma_code.lower().replace("-", " ")  # typed from the card, lower case
    bound = await say(emu, grandma, grandma, f"/start {typed}")
    assert bound.text == (
        "✅ 绑定成功！您的账号已加入杨家园社区小院议事会的名册：王奶奶，5-1-101。"
        "请在议事会的群里参加议事和表决。"
    )
    used = f"⛔ 绑定码 {grandma_code} 已经用过，不能再用。如果不是您本人用的，请联系社工。"
    assert (await say(emu, grandma, grandma, f"/start {grandma_code}")).text == used
    thief = emu.add_user("冒名者")
    assert (await say(emu, thief, thief, f"/start {grandma_code}")).text == used

    # The bound account votes as the roll entry.
    emu.add_member(council.group, grandma)
    await council.topic("楼道堆物清理")
    ballot, _ = await council.ballot()
    assert (await press(emu, grandma, ballot, button(ballot, "赞成"))).text == "已记录：赞成"
    stranger = await press(emu, council.outsider, ballot, button(ballot, "赞成"))
    assert stranger.show_alert

    # A reprint ends the old card.
    reprint = await say(emu, chair, chair, "/cards 5-1-102")
    assert "这些居民此前未使用的 1 张旧卡已作废。" in (reprint.caption or "")
    grandpa = emu.add_user("赵爷爷")
    assert (await say(emu, grandpa, grandpa, f"/start {grandpa_code}")).text == (
        f"⛔ 绑定码 {grandpa_code} 已过期，或已被新打印的卡取代。请找社工重新打印一张。"
    )
    (new_link,) = card_payloads(emu, reprint)
    assert (await say(emu, grandpa, grandpa, "/start " + new_link.removeprefix(prefix))).text == (
        "✅ 绑定成功！您的账号已加入杨家园社区小院议事会的名册：赵爷爷，5-1-102。"
        "请在议事会的群里参加议事和表决。"
    )
    assert_clean(emu, caplog)


async def test_wrong_binding_codes_are_rate_limited(
    local: LocalBot,
    migrated_url: str,
    traveller: time_machine.Traveller,
    caplog: pytest.LogCaptureFixture,
) -> None:
    council = await make_council(local, residents=())
    emu, chair = council.emu, council.chair
    await say(emu, chair, chair, "/start")
    await import_roll(council, "姓名,地址,面积,身份\n周大哥,5-1-102,80,业主\n".encode())
    (link,) = card_payloads(emu, await say(emu, chair, chair, "/cards"))
    code = link.split("?start=", 1)[1]
    members = count_rows(migrated_url, "members")

    guesser = emu.add_user("周大哥")
    for n, last in enumerate("MNPQR"):
        wrong = f"ABCD-EFGH-JKL{last}"
        assert (await say(emu, guesser, guesser, f"/start {wrong}")).text == (
            f"⛔ 没有这个绑定码（{wrong}）。请核对卡片；卡片丢失请找社工重新打印。"
        ), n
    limited = "⛔ 绑定码输错的次数太多了。为防止有人猜码，请 60 分钟后再试。"
    assert (await say(emu, guesser, guesser, "/start ABCD-EFGH-JKLS")).text == limited
    # Even the right code waits: guessing must not pay.
    assert (await say(emu, guesser, guesser, f"/start {code}")).text == limited
    assert count_rows(migrated_url, "binding_attempts") == 7
    assert count_rows(migrated_url, "members") == members

    await advance(local, traveller, timedelta(minutes=61))
    await settled(local)
    bound = await say(emu, guesser, guesser, f"/start {code}")
    assert (bound.text or "").startswith("✅ 绑定成功！"), bound.text
    assert_clean(emu, caplog)


async def test_binding_codes_expire(
    local: LocalBot, traveller: time_machine.Traveller, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=())
    emu, chair = council.emu, council.chair
    await say(emu, chair, chair, "/start")
    await import_roll(council, "姓名,地址,面积,身份\n周大哥,5-1-102,80,业主\n".encode())
    (link,) = card_payloads(emu, await say(emu, chair, chair, "/cards"))
    code = link.split("?start=", 1)[1]
    await advance(local, traveller, timedelta(days=31))
    await settled(local)
    late = emu.add_user("周大哥")
    assert (await say(emu, late, late, f"/start {code}")).text == (
        f"⛔ 绑定码 {code} 已过期，或已被新打印的卡取代。请找社工重新打印一张。"
    )
    assert_clean(emu, caplog)


async def test_the_card_of_a_removed_member_is_not_called_used(local: LocalBot) -> None:
    council = await make_council(local, residents=())
    emu, chair = council.emu, council.chair
    await say(emu, chair, chair, "/start")
    await import_roll(council, CARD_ROLL.encode())
    links = card_payloads(emu, await say(emu, chair, chair, "/cards 5-1-101"))
    code = links[0].split("?start=", 1)[1]
    without = CARD_ROLL.replace("王奶奶,5-1-101,90,业主\n", "")
    await import_roll(council, without.encode())
    grandma = emu.add_user("王奶奶")
    refused = await say(emu, grandma, grandma, f"/start {code}")
    assert (refused.text or "").startswith("⛔"), refused.text
    assert "已经用过" not in (refused.text or ""), refused.text


# === 5. votes from the meeting room and the doorstep ===================================

ROOM_ROLL = (
    "姓名,地址,面积,身份\n杨静,3-2-301,81,业主\n张阿姨,3-2-302,82,业主\n"
    "李叔叔,3-2-303,83,业主\n刘大姐,3-2-304,84,业主\n王奶奶,5-1-101,90,业主\n"
)


async def test_sign_in_roll_call_and_the_outcome_counts_votes_by_source(
    local: LocalBot, traveller: time_machine.Traveller, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔", "刘大姐"))
    emu, chair = council.emu, council.chair
    aunt, uncle, sister = council.members
    await say(emu, chair, chair, "/start")
    await import_roll(council, ROOM_ROLL.encode())  # 王奶奶 has no phone

    assert (await council.say(chair, "/signin")).text == (
        "⛔ 前后 12 小时内没有安排会议。请先用 /meeting 安排，或写明会议编号：/signin 3。"
    )
    await council.say(chair, "/meeting 今天 11:00 社区活动室")
    assert (await council.say(aunt, "/signin")).text == NOT_STAFF
    card = await council.say(chair, "/signin")
    assert (card.text or "").startswith("📝 签到 · 议事会会议 #1（杨家园社区小院议事会）")
    assert "已签到 0 / 5 人" in (card.text or "")
    assert [label for label, _ in buttons(card)] == ["✋ 签到", "📋 代为签到", "⏹ 结束签到"]
    assert (await press(emu, aunt, card, button(card, "✋ 签到"))).text == "✅ 张阿姨，已签到。"
    outsider = await press(emu, council.outsider, card, button(card, "✋ 签到"))
    assert outsider.show_alert and (outsider.text or "").startswith("⛔ 您还不在本议事会名册上")
    assert (await press(emu, aunt, card, button(card, "代为签到"))).text == NOT_STAFF
    assert (await press(emu, chair, card, button(card, "代为签到"))).text == "名单已私信发给您。"
    marking = emu.last_bot_message(chair)
    assert marking is not None and (marking.text or "").startswith("📋 代为签到")
    marked = await press(emu, chair, marking, button(marking, "王奶奶"))
    assert marked.text == "已标记 王奶奶 到场。"
    assert "已签到 2 / 5 人\n张阿姨、王奶奶" in text_of(emu, card)

    await council.topic("活动室改造方案")
    ballot, ballot_id = await council.ballot()
    await press(emu, aunt, ballot, button(ballot, "赞成"))
    await press(emu, sister, ballot, button(ballot, "反对"))
    assert (await council.say(aunt, "/rollcall")).text == NOT_STAFF
    sent = await council.say(chair, "/rollcall")
    assert sent.text == "🙋 现场举手点名表已私信发给您。"
    roll_call = emu.last_bot_message(chair)
    assert roll_call is not None
    labels = [label for label, _ in buttons(roll_call)]
    # Those signed in first, each with their current vote and how it came.
    assert labels[:2] == ["📍张阿姨 · 赞成（本人在线）", "📍王奶奶 · 未表决"], labels
    assert "刘大姐 · 反对（本人在线）" in labels
    assert all("路人甲" not in label for label in labels)

    await press(emu, chair, roll_call, button(roll_call, "王奶奶"))
    choice = current(emu, roll_call)
    assert (choice.text or "").startswith("🙋 为 王奶奶（5-1-101）录入现场举手")
    recorded = await press(emu, chair, choice, button(choice, "赞成"))
    assert recorded.text == (
        "✅ 已录入：王奶奶 赞成（现场举手）。本人还没有绑定账号（可用 /cards 打印绑定卡），"
        "无法私信告知，请当面告知。"
    )
    assert "📍王奶奶 · 赞成（现场举手）" in [label for label, _ in buttons(current(emu, roll_call))]
    assert "赞成：张阿姨、王奶奶" in text_of(emu, ballot)
    # A stranger to the roll call cannot use its buttons.
    data = button(current(emu, roll_call), "王奶奶")
    forged = await press(emu, uncle, roll_call, data, forge=True)
    assert forged.show_alert
    await press(emu, uncle, ballot, button(ballot, "赞成"))

    outcome = await council.say(chair, "/close")
    sources = "票源：本人在线 3，网页 0，现场举手 1，纸质票 0，入户代录 0"
    assert sources in outcome_caption(outcome), outcome_caption(outcome)
    assert outcome_caption(outcome).splitlines()[1] == "✅ 通过"
    assert len(await current_votes(local, ballot_id)) == 4
    assert_clean(emu, caplog, allowed_errors=["initiate conversation"])


async def test_an_assisted_vote_is_told_privately_and_changed_by_button(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔", "刘大姐"))
    emu, chair = council.emu, council.chair
    aunt, uncle, sister = council.members
    await council.say(chair, "/grant staff #2")  # 张阿姨, the grid worker
    await say(emu, uncle, uncle, "/start")  # reachable privately
    await council.topic("楼顶加装太阳能")
    ballot, ballot_id = await council.ballot()

    assert (await say(emu, sister, sister, "/assist #3 赞成 入户")).text == NOT_STAFF
    assert (await council.say(aunt, "/assist #3 赞成 入户")).text == (
        "⛔ 请在与我的私聊中使用这个命令。"
    )
    usage = (
        "⛔ 用法（私聊）：/assist [表决编号] #成员编号或地址 赞成|反对|弃权 理由，"
        "例如 /assist 6-3-501 赞成 入户走访，本人口述。"
    )
    assert (await say(emu, aunt, aunt, "/assist #3 赞成")).text == usage  # no reason
    assert (await say(emu, aunt, aunt, "/assist #3 也许 入户")).text == (
        "⛔ 没看懂表决意向「也许」：请写 赞成、反对、弃权，或选项编号。"
    )
    assert (await say(emu, aunt, aunt, "/assist 9-9-999 赞成 入户")).text == (
        "⛔ 名册上没有地址为 9-9-999 的成员。"
    )
    long_reason = await say(emu, aunt, aunt, "/assist #3 赞成 " + "很" * 500)
    assert long_reason.text == "⛔ 理由太长（500 字），最多 200 字。"
    assert await vote_events(local, ballot_id) == 0

    assisted = await say(emu, aunt, aunt, "/assist 3-2-303 赞成 入户走访，本人口述")
    assert assisted.text == (
        "🏠 入户代为录入：表决「楼顶加装太阳能」，理由：入户走访，本人口述\n"
        "✅ 已录入：李叔叔 赞成（入户代录）。已私信告知本人。"
    )
    notice = emu.last_bot_message(uncle)
    assert notice is not None
    assert (notice.text or "").startswith(
        "🗳 社工为您录入了表决「楼顶加装太阳能」：赞成（入户代录）。"
    ), notice.text
    assert [label for label, _ in buttons(notice)] == ["赞成", "反对", "弃权"]
    assert "赞成：李叔叔" in text_of(emu, ballot)

    changed = await press(emu, uncle, notice, button(notice, "反对"))
    assert changed.text == "已改为：反对（原为：赞成）"
    assert "反对：李叔叔" in text_of(emu, ballot)
    outcome = await council.say(chair, "/close")
    # His own press replaced the assisted vote: the outcome counts it as his.
    assert outcome_caption(outcome).splitlines()[1] == "❌ 未通过"
    assert "赞成 0 · 反对 1 · 弃权 0" in outcome_caption(outcome)
    assert "入户代录 1" not in outcome_caption(outcome)
    late = await press(emu, uncle, notice, button(notice, "赞成"))
    assert late.show_alert and late.text == "⛔ 表决「楼顶加装太阳能」已结束，不能再投票。"
    assert await vote_events(local, ballot_id) == 2
    assert_clean(emu, caplog)


PAPER = "地址,选择\n5-1-102,反对\n3-2-303,赞成\n9-9-999,赞成\n#1,也许\n"


async def test_paper_ballots_dry_run_then_confirm_and_never_replace_a_press(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔", "刘大姐"))
    emu, chair = council.emu, council.chair
    sister = council.members[2]
    await say(emu, chair, chair, "/start")
    await import_roll(council, (ROOM_ROLL + "赵爷爷,5-1-102,80,业主\n").encode())
    await council.topic("垃圾分类亭选址")
    ballot, ballot_id = await council.ballot()
    await say(emu, chair, chair, "/assist 5-1-102 赞成 入户走访")

    dry = await send_file(emu, chair, "paper.csv", PAPER.encode(), caption="/paper")
    assert (dry.text or "").splitlines() == [
        "🧾 纸质票核对 · 表决 #1：垃圾分类亭选址",
        "文件：paper.csv",
        "✅ 将录入 1 票：赞成 1",
        "↩️ 成员本人已表决、不以纸质票替换 1 行：",
        "第 2 行：赵爷爷（入户代录）",
        "⛔ 有误、不录入 2 行：",
        "第 4 行：名册上没有「9-9-999」",
        "第 5 行：没看懂表决意向「也许」（请写 赞成、反对、弃权，或选项编号）",
        "确认后才会录入；有误的行不录入，可改正后重新上传（重复上传同一文件不会重复计票）。",
    ]
    assert [label for label, _ in buttons(dry)] == ["✅ 确认录入 1 票", "✖ 取消"]
    events = await vote_events(local, ballot_id)
    assert "李叔叔" not in text_of(emu, ballot)  # nothing recorded before ✅

    assert (await press(emu, chair, dry, button(dry, "确认录入"))).text == "已录入 1 票。"
    assert "赞成：" in text_of(emu, ballot) and "李叔叔" in text_of(emu, ballot)
    assert await vote_events(local, ballot_id) == events + 1

    # The same file again records nothing new, and its dry run says so: no confirm button.
    again = await send_file(emu, chair, "paper.csv", PAPER.encode(), caption="/paper")
    assert "1 票与成员当前的表决相同，无需录入。" in (again.text or "")
    assert [label for label, _ in buttons(again)] == ["✖ 取消"]
    assert await vote_events(local, ballot_id) == events + 1

    # A press in the chat is never replaced by paper.
    await press(emu, sister, ballot, button(ballot, "反对"))
    paper_for_sister = "成员,选择\n#4,赞成\n"
    kept = await send_file(emu, chair, "p2.csv", paper_for_sister.encode(), caption="/paper")
    assert "↩️ 成员本人已表决、不以纸质票替换 1 行：" in (kept.text or "")
    assert "第 2 行：刘大姐（本人在线）" in (kept.text or "")

    outcome = await council.say(chair, "/close")
    sources = "票源：本人在线 1，网页 0，现场举手 0，纸质票 1，入户代录 1"
    assert sources in outcome_caption(outcome), outcome_caption(outcome)
    no_ballot = await send_file(emu, chair, "paper.csv", PAPER.encode(), caption="/paper")
    assert (no_ballot.text or "").startswith("⛔"), no_ballot.text
    assert_clean(emu, caplog, allowed_errors=["initiate conversation"])


async def test_a_resident_sending_paper_ballots_is_refused_as_not_staff(local: LocalBot) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu = council.emu
    aunt = council.members[0]
    await council.topic("垃圾分类亭选址")
    await council.ballot()
    paper = "地址,选择\n3-2-303,赞成\n".encode()
    refused = await send_file(emu, aunt, "paper.csv", paper, caption="/paper")
    assert refused.text == NOT_STAFF


async def test_the_same_paper_file_again_is_announced_as_nothing_to_record(
    local: LocalBot,
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu, chair = council.emu, council.chair
    await say(emu, chair, chair, "/start")
    await council.topic("垃圾分类亭选址")
    await council.ballot()
    paper = "地址,选择\n3-2-303,赞成\n".encode()
    first = await send_file(emu, chair, "paper.csv", paper, caption="/paper")
    await press(emu, chair, first, button(first, "确认录入"))
    again = await send_file(emu, chair, "paper.csv", paper, caption="/paper")
    assert "将录入 1 票" not in (again.text or ""), again.text


async def test_a_secret_ballot_refuses_room_and_paper_and_names_nobody_in_the_group(
    local: LocalBot, traveller: time_machine.Traveller, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔", "刘大姐"))
    emu, chair = council.emu, council.chair
    aunt, uncle, sister = council.members
    names = ("杨静", "张阿姨", "李叔叔", "刘大姐")
    await say(emu, chair, chair, "/start")
    await say(emu, uncle, uncle, "/start")
    await council.topic("物业费调整")
    ballot, _ = await council.ballot("secret 3h")
    assert "方式：无记名（只公布票数）" in (ballot.text or "")
    since = ballot.message_id

    await press(emu, aunt, ballot, button(ballot, "赞成"))
    await press(emu, sister, ballot, button(ballot, "反对"))
    assert (await council.say(chair, "/rollcall")).text == (
        "⛔ 这是无记名表决：现场举手是公开的，不能录入。请成员在私聊中自己投票，或用记名表决。"
    )
    paper = await send_file(emu, chair, "paper.csv", "地址,选择\n3-2-303,赞成\n".encode(),
                            caption="/paper")  # fmt: skip
    assert paper.text == "⛔ 这是无记名表决：写明成员的纸质票不保密，不能录入。"
    # A vote entrusted to staff at a home visit is taken, and told privately.
    assisted = await say(emu, chair, chair, "/assist #3 弃权 入户走访")
    assert (assisted.text or "").endswith("✅ 已录入：李叔叔 弃权（入户代录）。已私信告知本人。")
    await council.say(aunt, "/result")
    # The reminder before the deadline names nobody.
    await advance(local, traveller, timedelta(hours=1, minutes=5))
    await settled(local)
    await council.say(chair, "/close")

    seen = group_texts_since(council, since)
    assert seen, "the group saw nothing of the ballot"
    leaks = [text for text in seen for name in names if name in text]
    assert not leaks, leaks
    assert_clean(emu, caplog, allowed_errors=["initiate conversation"])


async def test_result_of_an_open_ballot_shows_no_markup(local: LocalBot) -> None:
    council = await make_council(local, residents=("张阿姨",))
    await council.topic("物业费调整")
    await council.ballot()
    result = await council.say(council.members[0], "/result")
    assert (result.text or "").startswith("⏳ 表决仍在进行")
    assert "<b>" not in (result.text or ""), result.text


async def test_outcome_at_the_deadline_shows_no_markup(
    local: LocalBot, traveller: time_machine.Traveller
) -> None:
    council = await make_council(local, residents=("张阿姨",))
    emu = council.emu
    await council.topic("物业费调整")
    ballot, _ = await council.ballot("3h")
    await press(emu, council.members[0], ballot, button(ballot, "赞成"))
    await advance(local, traveller, timedelta(hours=3))
    await settled(local)
    announced = [t for t in (shown(m) for m in bot_messages(emu, council.group)) if "📣" in t]
    assert announced, "no outcome announced"
    assert "<b>" not in announced[-1], announced[-1]


# === 6. privacy by default =============================================================


async def test_the_group_roll_shows_names_and_counts_only(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu, chair = council.emu, council.chair
    aunt, _ = council.members
    await say(emu, chair, chair, "/start")
    phones = (
        "姓名,地址,面积,身份,电话\n杨静,3-2-301,81,业主,13800000001\n"
        "张阿姨,3-2-302,82,业主,13800000002\n李叔叔,3-2-303,83,业主,13800000003\n"
    )
    await import_roll(council, phones.encode())

    roll = await council.say(aunt, "/roll")
    assert roll.text == (
        "📋 杨家园社区小院议事会 名册：3 人，3 户\n1. 杨静\n2. 张阿姨\n3. 李叔叔\n"
        "🔒 地址和面积仅召集人和社工可见：请点下方按钮，我私信发给您。"
    )
    denied = await press(emu, aunt, roll, button(roll, "完整名册"))
    assert denied.show_alert and denied.text == NOT_STAFF
    assert not [m for m in emu.sent_to(aunt) if "3-2-30" in (m.text or "")]
    assert (await say(emu, aunt, aunt, "/roll")).text == (
        "⛔ 私聊里我不知道您要看哪个议事会的名册。请在议事会群里发送 /roll；"
        "召集人和社工再点名单下的「🔒 完整名册」，含地址和面积的名册会私信发给您。"
    )
    pressed = await press(emu, chair, roll, button(roll, "完整名册"))
    assert pressed.text == "已把完整名册私信发给您 📋"
    private = emu.last_bot_message(chair)
    assert private is not None and "☎ 13800000002" in (private.text or "")

    group_seen = " ".join(shown(m) for m in bot_messages(emu, council.group))
    for secret in ("1380000000", "㎡", "3-2-302 ·"):
        assert secret not in group_seen, secret
    assert_clean(emu, caplog)


async def test_the_group_roll_marks_participants(local: LocalBot) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔", "刘大姐"))
    await council.say(council.chair, "/grant participant #4")
    roll = (await council.say(council.members[0], "/roll")).text or ""
    head, *lines = roll.splitlines()
    names = [line for line in lines if re.match(r"\d+\. ", line)]
    found = re.search(r"名册：(\d+) 人", head)
    assert found, head
    counted = int(found[1])
    sister = next(line for line in names if "刘大姐" in line)
    assert counted == len(names) or "列席" in sister, roll


async def test_a_request_in_the_group_leaves_no_address_in_any_group_message(
    local: LocalBot, traveller: time_machine.Traveller, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu, chair = council.emu, council.chair
    aunt, uncle = council.members
    await say(emu, aunt, aunt, "/start")
    await say(emu, chair, chair, "/start")
    details = "老人独居，厨房水管爆了\n地点：6-3-501，电话 13900000000"
    since = (await group_line(council, uncle, "开始")).message_id

    await council.send(aunt, f"/request 维修 {details}")
    # Nobody can take it: the group is told, the chair gets the details privately.
    await advance(local, traveller, timedelta(minutes=31))
    await settled(local)
    await council.say(uncle, "/tasks")

    group = [m for m in emu.messages(council.group) if m.message_id > since]
    assert not [m for m in group if not m.from_bot and "/request" in (m.text or "")], (
        "the request was left in the group"
    )
    seen = group_texts_since(council, since)
    assert any("有居民提交了一项服务需求（维修）" in text for text in seen), seen
    for secret in ("6-3-501", "13900000000", "水管", "老人独居"):
        assert not [text for text in seen if secret in text], secret
    receipt = emu.last_bot_message(aunt)
    assert receipt is not None and "老人独居" in (receipt.text or "")
    chair_copy = [m.text or "" for m in emu.sent_to(chair) if "6-3-501" in (m.text or "")]
    assert chair_copy, "the chair never got the details"
    assert_clean(emu, caplog)
