"""The roll file end to end (名册导入/导出): the real bot, the local Bot API emulator.

A chair sends a spreadsheet privately and reads the dry-run diff (rows in error with
their numbers); nothing is written until ✅; the same file again changes nothing; a
resident who is not staff is refused; ``/roll export`` sends the roll back as XLSX, and
that file imported again changes nothing. With two councils, buttons ask which.
"""

from __future__ import annotations

import pytest

from bot.telegram.local import LocalBot
from domain import sheets
from domain.model import MemberStatus
from emulator import BotApiEmulator, Message, User
from tests.bot.conftest import (
    QUIET,
    TIMEOUT,
    assert_clean,
    buttons,
    make_council,
    press,
    say,
    shown,
)

GROUP = "杨家园社区小院议事会"
ROLL = (
    "姓名,地址,面积（㎡）,身份,电话\n"
    "杨静,3-2-301,81,业主,138 0000 0001\n"
    "张阿姨,3-2-302,82,业主,\n"
    "王五,5-1-101,90,业主,\n"
    "赵六,5-1-102,八十,业主,\n"
    "钱七,5-1-103,70,业主,\n"
    "孙八,5-1-103,71,业主,\n"
)
CONFLICT = (
    "5-1-103 的面积前后不一致：第 6 行 70.00 ㎡、第 7 行 71.00 ㎡（共有人各占一行，面积要相同）"
)
ERRORS = [
    "⚠️ 3 行有误，不导入（改正后重新发送文件）：",
    "  · 第 5 行：面积“八十”看不懂（写平方米数，如 85.5）",
    f"  · 第 6 行：{CONFLICT}",
    f"  · 第 7 行：{CONFLICT}",
]


async def upload(
    emu: BotApiEmulator, user: User, name: str, data: bytes, *, expect: int = 1
) -> list[Message]:
    """``user`` sends a file privately; the bot's messages in reply."""
    await emu.wait_idle(quiet=QUIET)
    after = emu.event_seq
    sent = await emu.send_document(user, user, name, data)
    for _ in range(expect):
        await emu.wait_for_bot_message(user, timeout=TIMEOUT, after=after)
        after = emu.event_seq
    await emu.wait_idle(quiet=QUIET)
    return [m for m in emu.messages(user) if m.from_bot and m.message_id > sent.message_id]


def file_of(emu: BotApiEmulator, message: Message) -> bytes:
    assert message.document is not None, shown(message)
    return emu._engine.world.files[message.document["file_id"]][2]


async def roll_of(local: LocalBot) -> dict[str, MemberStatus]:
    async with local.database.uow() as uow:
        return {
            f"{m.name}@{m.household}": m.status
            for m in await uow.members.list(1, tuple(MemberStatus))
        }


async def test_a_chair_checks_a_file_confirms_and_the_same_file_again_changes_nothing(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu, chair = council.emu, council.chair
    aunt, uncle = council.members
    before = await roll_of(local)

    (diff,) = await upload(emu, chair, "名册.csv", ROLL.encode("gb18030"))
    assert shown(diff).splitlines() == [
        "📋 名册核对：名册.csv",
        f"{GROUP}，文件共 6 行。以下是导入后会有的变化（尚未写入）：",
        "",
        "➕ 新增 1 人",
        "  · 王五 5-1-101（业主，1 套）",
        "",
        "✏️ 变更 2 人",
        "  · 杨静 3-2-301：面积核实、电话",
        "  · 张阿姨 3-2-302：面积核实",
        "",
        "➖ 移出名册 1 人（不在文件里；记录保留，再导入可恢复）",
        "  · 李叔叔 3-2-303",
        "",
        *ERRORS,
        "确认之前名册不会改动。",
    ]
    assert [label for label, _ in buttons(diff)] == ["✅ 确认导入", "✖ 取消"]
    assert await roll_of(local) == before  # a dry run

    confirm = buttons(diff)[0][1]
    answer = await press(emu, chair, diff, confirm)
    assert answer.text == "正在写入名册……"
    done = f"✅ {GROUP} 名册已导入：新增 1 人，变更 2 人，移出 1 人。"
    assert shown(emu.sent_to(chair)[-1]) == done
    closed = emu.messages(chair)[-2]
    assert closed.message_id == diff.message_id and closed.buttons == []
    assert shown(closed).endswith("确认之前名册不会改动。\n\n✅ 已确认导入。")
    assert await roll_of(local) == {
        "杨静@3-2-301": MemberStatus.ACTIVE,
        "张阿姨@3-2-302": MemberStatus.ACTIVE,
        "李叔叔@3-2-303": MemberStatus.REMOVED,  # kept, with its history
        "王五@5-1-101": MemberStatus.ACTIVE,
    }
    listed = await council.say(aunt, "/roll")
    assert shown(listed).splitlines()[1:4] == ["1. 杨静", "2. 张阿姨", "3. 王五"]

    # The same press again (a double tap): written once, and said so.
    await press(emu, chair, diff, confirm, forge=True)
    assert shown(emu.sent_to(chair)[-1]).startswith("✅ 这份名册之前已导入")

    (again,) = await upload(emu, chair, "名册.csv", ROLL.encode("gb18030"))
    assert shown(again).splitlines()[2:] == [
        "",
        *ERRORS,
        "",
        "未变 3 人。",
        "✅ 没有需要改动的：名册与文件一致。",
    ]
    assert buttons(again) == []

    # A resident (removed from the roll, or not) is no keeper of the roll.
    after = await roll_of(local)
    (refused,) = await upload(emu, uncle, "名册.csv", ROLL.encode())
    assert shown(refused) == (
        "⛔ 只有召集人和社工（网格员）可以导入、导出名册。居民请在议事会群里用 /join 加入名册。"
    )
    assert await roll_of(local) == after
    assert_clean(emu, caplog)


async def test_the_exported_roll_sent_back_changes_nothing_and_stays_out_of_the_group(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu, chair = council.emu, council.chair
    (diff,) = await upload(emu, chair, "名册.csv", ROLL.encode())
    await press(emu, chair, diff, buttons(diff)[0][1])

    exported = await say(emu, chair, chair, "/roll export")
    assert exported.document is not None and exported.document["file_name"] == "roll-1.xlsx"
    assert shown(exported).startswith(f"📋 {GROUP} 名册，3 人。")
    table = sheets.read_table(file_of(emu, exported))
    assert [r.cells for r in table[:3]] == [
        ("姓名", "地址", "面积", "身份", "电话", "编号"),  # 核实 only for an unverified flat
        ("杨静", "3-2-301", "81", "业主", "13800000001", "1"),
        ("张阿姨", "3-2-302", "82", "业主", "", "2"),
    ]
    (back,) = await upload(emu, chair, "roll-1.xlsx", file_of(emu, exported))
    assert shown(back).splitlines()[-2:] == ["未变 3 人。", "✅ 没有需要改动的：名册与文件一致。"]

    in_group = await council.say(chair, "/roll export")
    assert shown(in_group) == (
        "⛔ 导出的名册含地址和电话，只私信发送：请在与我的私聊里发送 /roll export。"
    )
    assert in_group.document is None
    assert_clean(emu, caplog)


async def test_with_two_councils_buttons_ask_which_and_cancel_writes_nothing(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨",))
    emu, chair = council.emu, council.chair
    other = emu.add_group("幸福里社区议事会", admins=[chair])
    await say(emu, chair, other, "/setup")
    before = await roll_of(local)

    (picker,) = await upload(emu, chair, "名册.csv", ROLL.encode(), expect=1)
    assert shown(picker) == "您管理多个议事会的名册。这个文件要导入哪个议事会？"
    assert [label for label, _ in buttons(picker)] == [GROUP, "幸福里社区议事会"]
    await press(emu, chair, picker, buttons(picker)[1][1])
    diff = emu.sent_to(chair)[-1]
    head = shown(diff).splitlines()[1]
    assert head == "幸福里社区议事会，文件共 6 行。以下是导入后会有的变化（尚未写入）："
    assert diff.reply_to_message_id == picker.reply_to_message_id  # the file's message

    confirm, cancel = (data for _, data in buttons(diff))
    answer = await press(emu, chair, diff, cancel)
    assert answer.text == "✖ 已取消，名册没有改动。"
    assert shown(emu.messages(chair)[-1]).endswith("✖ 已取消，名册没有改动。")
    await press(emu, chair, diff, confirm, forge=True)  # the old button, pressed after all
    refused = emu.sent_to(chair)[-1]
    assert shown(refused).startswith("⛔ 这次核对已取消")
    assert await roll_of(local) == before

    asked = await say(emu, chair, chair, "/roll export")
    assert shown(asked) == "您管理多个议事会的名册。要导出哪个议事会的名册？"
    await press(emu, chair, asked, buttons(asked)[0][1])
    sent = emu.sent_to(chair)[-1]
    assert sent.document is not None and shown(sent).startswith(f"📋 {GROUP} 名册，2 人。")
    assert_clean(emu, caplog)
