"""The real bot, end to end, driven only through the local Bot API emulator.

Each test runs on SQLite and on PostgreSQL (``migrated_url``). Residents type
commands and press buttons; the assertions read the chat as they would see it,
and the database only to count what must not have been counted twice.
"""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from bot.telegram.local import LocalBot, local_bot
from domain.rules import PRESETS
from emulator import Message
from tests.bot.conftest import (
    Council,
    assert_clean,
    bot_messages,
    button,
    buttons,
    current,
    current_votes,
    latest_update_id,
    make_council,
    outcome_caption,
    press,
    proposals_of,
    redeliver,
    say,
    seed_members,
    start_command,
    start_payload,
    text_of,
    url_buttons,
    vote_events,
)

COMMANDS = {
    "start", "help", "setup", "join", "roll", "rules", "topic",
    "propose", "done", "cancel", "ballot", "close", "result",
    "deadline", "meeting", "agenda", "reminders",
    "request", "volunteer", "tasks", "hours", "finish", "task", "volunteers", "skills", "team",
    "unit",
    "roles", "grant", "revoke", "pending", "verify", "remove", "settings",
    "cards", "console",
    "signin", "rollcall", "assist", "paper",
}  # fmt: skip
CJK = re.compile(r"[\u4e00-\u9fff]")
RESIDENT_NAMES = ["张阿姨", "李叔叔", "刘大姐", "陈师傅"]  # conftest.make_council's default


def proposal_id(message: Message) -> int:
    assert message.text is not None
    match = re.search(r"#(\d+)", message.text)
    assert match, message.text
    return int(match[1])


def proposal_messages(council: Council) -> list[Message]:
    return [m for m in bot_messages(council.emu, council.group) if (m.text or "").startswith("💡")]


# --- 1. set-up --------------------------------------------------------------------------


async def test_setup_needs_a_group_admin_and_a_known_rule(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    emu = local.emulator
    admin = emu.add_user("杨静")
    resident = emu.add_user("张阿姨")
    group = emu.add_group("幸福里社区议事会", admins=[admin], members=[resident])

    refused = await say(emu, resident, group, "/setup")
    assert refused.text == "⛔ 只有群管理员可以把本群设为议事会。"
    # Nothing was set up: the group is still not a council.
    assert (await say(emu, resident, group, "/join 3-2-301")).text == (
        "⛔ 本群还不是议事会。请群管理员发送 /setup。"
    )

    unknown = await say(emu, admin, group, "/setup <b>majority</b>")
    assert unknown.text is not None
    assert unknown.text.startswith("⛔ 没有「<b>majority</b>」这个规则。可用：")
    for preset in PRESETS:
        assert preset in unknown.text

    done = await say(emu, admin, group, "/setup residents-meeting")
    assert done.text is not None
    assert done.text.startswith("✅ 本群已设为议事会「幸福里社区议事会」。")
    assert "居民会议" in done.text and "法定人数" in done.text

    # Once set up, changing the rule is for chairs (or group admins) only.
    assert (await say(emu, resident, group, "/setup simple")).text == "⛔ 只有召集人可以这样做。"
    # /setup makes no sense in a private chat.
    assert (await say(emu, admin, admin, "/setup")).text == "⛔ 请在议事会群里使用这个命令。"
    assert_clean(emu, caplog)


async def test_command_menus_are_published_in_chinese_and_english(local: LocalBot) -> None:
    emu = local.emulator
    zh = dict(emu.commands(language_code="zh"))
    en = dict(emu.commands(language_code="en"))
    default = dict(emu.commands())
    for menu in (zh, en, default):
        assert set(menu) == COMMANDS
        assert all(description.strip() for description in menu.values())
    assert all(CJK.search(d) for d in zh.values())
    assert not any(CJK.search(d) for d in en.values())
    assert default == zh  # Chinese first


# --- 2. the roll ------------------------------------------------------------------------


async def test_join_and_roll(local: LocalBot, caplog: pytest.LogCaptureFixture) -> None:
    emu = local.emulator
    admin = emu.add_user("杨静")
    aunt = emu.add_user("张阿姨")
    group = emu.add_group("杨家园社区小院议事会", admins=[admin], members=[aunt])
    await say(emu, admin, group, "/setup")

    usage = await say(emu, aunt, group, "/join")
    assert usage.text == "⛔ 用法：/join 楼栋-单元-房号 [面积]，例如 /join 3-2-301 85.5。"
    bad = await say(emu, aunt, group, "/join 楼上<左边>")
    assert bad.text == (
        "⛔ 没看懂地址「楼上<左边>」。请按 楼栋-单元-房号 填写，例如 /join 3-2-301。"
    )
    bad_area = await say(emu, aunt, group, "/join 3-2-301 很大")
    assert bad_area.text is not None and bad_area.text.startswith("⛔ 没看懂面积「很大」")
    empty = await say(emu, admin, group, "/roll")
    assert empty.text is not None and "0 人" in empty.text and "暂无成员" in empty.text

    joined = await say(emu, aunt, group, "/join 3-2-301 85.5")
    assert joined.text == "✅ 张阿姨（3-2-301）已加入「杨家园社区小院议事会」名册，可以参与表决。"
    again = await say(emu, aunt, group, "/join 5-1-101")
    assert again.text == "⛔ 您已经在名册上了。"

    # The group reads names and counts; the address and area go to the chair privately.
    roll = await say(emu, admin, group, "/roll")
    assert roll.text == (
        "📋 杨家园社区小院议事会 名册：1 人，1 户\n"
        "1. 张阿姨\n"
        "🔒 地址和面积仅召集人和社工可见：请点下方按钮，我私信发给您。"
    )
    # The chair never opened a private chat: the press answers with a link that does.
    first = await press(emu, admin, roll, button(roll, "完整名册"))
    assert first.text == "请先打开与我的私聊，我会把完整名册发给您。"
    assert first.url is not None and first.url.startswith(
        f"https://t.me/{emu.bot_username}?start=r"
    )
    full = await say(emu, admin, admin, "/start " + start_payload(first.url))
    assert full.text is not None
    head, *lines = full.text.splitlines()
    # A declared area waits for staff: no owner, no area counted yet.
    assert head == "📋 杨家园社区小院议事会 名册：1 人，1 户；业主 0 人，已核实专有部分面积 0.00 ㎡"
    # The refused second join (5-1-101) changed nothing.
    assert lines == [
        "⏳ 另有 1 套住户自报的面积待社工核实，核实前不计入业主表决。",
        "1. 张阿姨 #1 · 3-2-301 · 85.50 ㎡（待核实）",
    ]
    pressed = await press(emu, admin, roll, button(roll, "完整名册"))
    assert pressed.text == "已把完整名册私信发给您 📋" and not pressed.show_alert
    assert emu.sent_to(admin)[-1].text == full.text

    private = await say(emu, aunt, aunt, "/join 3-2-301")
    assert private.text == "⛔ 请在议事会群里使用这个命令。"
    assert_clean(emu, caplog, allowed_errors=["initiate conversation"])  # the first 🔒


# --- 3. topics and proposals ------------------------------------------------------------


async def test_topic_proposals_and_seconds(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local)
    emu, chair = council.emu, council.chair
    aunt, uncle, sister, _ = council.members

    refused = await council.say(aunt, "/topic 我来发起")
    assert refused.text == "⛔ 只有召集人可以这样做。"
    no_topic = await council.say(aunt, "/propose 建花园")
    assert no_topic.text is not None and no_topic.text.startswith("⛔ 当前没有进行中的议题。")

    card, topic_id = await council.topic("空地做什么？")
    assert card.text is not None
    assert card.text.startswith(f"📌 议题 #{topic_id}：空地做什么？\n阶段：征集意见")
    assert "暂无提案" in card.text
    (link,) = url_buttons(card)  # signed, like button data
    assert link.startswith(f"https://t.me/{emu.bot_username}?start=p{topic_id}_")

    outsider = await council.say(council.outsider, "/propose 我也想提")
    assert outsider.text is not None and outsider.text.startswith("⛔ 您还不在本议事会名册上")
    usage = await council.say(aunt, "/propose")
    assert usage.text == "⛔ 用法：/propose 提案内容。"

    proposal = await council.say(aunt, "/propose 建口袋花园：种花草树木，设座椅和凉亭。")
    assert proposal.text is not None
    pid = proposal_id(proposal)
    assert proposal.text == f"💡 提案 #{pid}（张阿姨）\n建口袋花园：种花草树木，设座椅和凉亭。"
    assert [label for label, _ in buttons(proposal)] == ["👍 附议（0）"]
    assert f"#{pid} 建口袋花园" in text_of(emu, card)
    assert "（附议 0）" in text_of(emu, card)
    second = button(proposal, "附议")

    answer = await press(emu, uncle, proposal, second)
    assert answer.text == "已附议 👍" and not answer.show_alert
    assert [label for label, _ in buttons(current(emu, proposal))] == ["👍 附议（1）"]
    assert "（附议 1）" in text_of(emu, card)

    again = await press(emu, uncle, proposal, second)
    assert again.text == "您已附议过这条提案。"
    own = await press(emu, aunt, proposal, second)
    assert own.show_alert and own.text == "⛔ 不能附议自己的提案。"
    stranger = await press(emu, council.outsider, proposal, second)
    assert stranger.show_alert and stranger.text is not None
    assert stranger.text.startswith("⛔ 您还不在本议事会名册上")
    await press(emu, sister, proposal, second)
    await press(emu, chair, proposal, second)
    assert [label for label, _ in buttons(current(emu, proposal))] == ["👍 附议（3）"]
    assert "（附议 3）" in text_of(emu, card)
    assert_clean(emu, caplog)


async def test_long_proposal_drafted_in_a_private_chat(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local)
    emu = council.emu
    writer = council.members[0]
    card, topic_id = await council.topic()
    (link,) = url_buttons(card)
    payload = link.rsplit("start=", 1)[1]
    assert payload.startswith(f"p{topic_id}_")  # signed

    started = await say(emu, writer, writer, f"/start {payload}")
    assert started.text is not None and started.text.startswith("✍️ 正在为议题「")
    first = await say(emu, writer, writer, "建儿童游乐区：铺塑胶地面，")
    assert first.text == "已保存（13 字）。继续发送补充内容，或发送 /done 提交。"
    await say(emu, writer, writer, "装滑梯和秋千，家长可在旁看护。")
    before = len(bot_messages(emu, council.group))
    done = await say(emu, writer, writer, "/done")
    assert done.text is not None and re.fullmatch(r"✅ 提案 #\d+ 已提交到群里。", done.text)

    posted = proposal_messages(council)
    assert len(posted) == 1 and len(bot_messages(emu, council.group)) == before + 1
    assert posted[0].text == (
        f"💡 提案 #{proposal_id(posted[0])}（{writer.full_name}）\n"
        "建儿童游乐区：铺塑胶地面，\n装滑梯和秋千，家长可在旁看护。"
    )
    assert "提案 1 条" in text_of(emu, card)
    assert await proposals_of(local, topic_id) == [
        "建儿童游乐区：铺塑胶地面，\n装滑梯和秋千，家长可在旁看护。"
    ]
    # The draft is gone: a second /done finds nothing to submit.
    assert (await say(emu, writer, writer, "/done")).text == "⛔ 没有找到要操作的内容。"
    # Someone not on the roll cannot start a draft from the link.
    outsider = council.outsider
    refused = await say(emu, outsider, outsider, f"/start {payload}")
    assert refused.text is not None and refused.text.startswith("⛔ 您还不在本议事会名册上")
    assert_clean(emu, caplog)


# --- 4. a motion, votes, forged buttons, close ---------------------------------------------


async def test_motion_votes_tally_and_close(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local)
    emu, chair = council.emu, council.chair
    aunt, uncle, sister, master = council.members
    card, _ = await council.topic("在东侧空地建口袋花园")

    assert (await council.say(aunt, "/ballot")).text == "⛔ 只有召集人可以这样做。"
    ballot, ballot_id = await council.ballot()
    assert ballot.text is not None and "方式：记名" in ballot.text
    assert [label for label, _ in buttons(ballot)] == ["✋ 赞成", "反对", "弃权"]
    assert "阶段：表决中" in text_of(emu, card)
    yes, no, abstain = (button(ballot, label) for label in ("赞成", "反对", "弃权"))

    assert (await press(emu, aunt, ballot, yes)).text == "已记录：赞成"
    assert (await press(emu, uncle, ballot, no)).text == "已记录：反对"
    changed = await press(emu, uncle, ballot, yes)
    assert changed.text == "已改为：赞成（原为：反对）" and not changed.show_alert
    assert (await press(emu, uncle, ballot, yes)).text == "您已投过：赞成"
    await press(emu, sister, ballot, no)
    await press(emu, master, ballot, abstain)
    await press(emu, chair, ballot, yes)
    await emu.wait_idle(quiet=0.2)

    shown = text_of(emu, ballot)
    assert "赞成 3 · 反对 1 · 弃权 1" in shown
    assert "已参与 5/5 人" in shown
    voters = {line.split("：")[0]: line.split("：")[1] for line in shown.splitlines()
              if line.startswith(("赞成：", "反对：", "弃权："))}  # fmt: skip
    assert set(voters["赞成"].split("、")) == {"杨静", "张阿姨", "李叔叔"}
    assert voters["反对"] == "刘大姐" and voters["弃权"] == "陈师傅"
    events = await vote_events(local, ballot_id)
    assert events == 6  # five first votes and one change; the repeated press is no event

    refused = await press(emu, council.outsider, ballot, yes)
    assert refused.show_alert and refused.text is not None
    assert refused.text.startswith("⛔ 您还不在本议事会名册上")
    assert await vote_events(local, ballot_id) == events
    assert text_of(emu, ballot) == shown

    assert (await council.say(aunt, "/close")).text == "⛔ 只有召集人可以这样做。"
    provisional = await council.say(aunt, "/result")
    assert provisional.text is not None and provisional.text.startswith("⏳ 表决仍在进行")

    outcome = await council.say(chair, "/close")
    lines = outcome_caption(outcome).splitlines()
    assert lines[0] == "📣 表决结果：在东侧空地建口袋花园"
    assert lines[1] == "✅ 通过"
    assert "赞成 3 · 反对 1 · 弃权 1" in lines
    assert "✔ 赞成的人数超过赞成与反对之和（弃权不计）的 1/2：3/4 人" in lines
    assert outcome.reply_to_message_id == ballot.message_id
    frozen = current(emu, ballot)
    assert frozen.buttons == [] and (frozen.text or "").endswith("🔒 表决已结束：通过。")
    assert "阶段：已决定 ✅" in text_of(emu, card)

    # An old button on a client that has not seen the edit: refused, nothing counted.
    late = await press(emu, master, ballot, yes, forge=True)
    assert late.show_alert and late.text == "⛔ 表决「在东侧空地建口袋花园」已结束，不能再投票。"
    assert await vote_events(local, ballot_id) == events
    assert (await council.say(chair, "/close")).text == "⛔ 当前没有表决。"

    result = await council.say(aunt, "/result")
    assert result.text is not None
    assert result.text.splitlines()[:2] == ["📣 表决结果：在东侧空地建口袋花园", "✅ 通过"]
    assert "赞成 3 · 反对 1 · 弃权 1" in result.text
    assert_clean(emu, caplog)


async def test_forged_and_misplaced_button_data_change_nothing(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local)
    emu = council.emu
    aunt, uncle, *_ = council.members
    card, _ = await council.topic()
    ballot, ballot_id = await council.ballot()
    yes = button(ballot, "赞成")
    await press(emu, uncle, ballot, yes)
    shown, events = text_of(emu, ballot), await vote_events(local, ballot_id)
    signer = local.deps.signer

    action, target, choice, mac = yes.split(":")
    stale = "⛔ 这个按钮已失效，请使用最新的消息。"
    forgeries = {
        "tampered signature": f"{action}:{target}:{choice}:AAAAAAAA",
        "another ballot, old signature": f"{action}:{int(target) + 1}:{choice}:{mac}",
        "another choice, old signature": f"{action}:{target}:against:{mac}",
        "no signature": f"{action}:{target}:{choice}",
        "garbage": "hello",
        "a second's data on a vote": f"s:{target}::{mac}",
    }
    for what, data in forgeries.items():
        answer = await press(emu, aunt, ballot, data, forge=True)
        assert answer.show_alert, what
        assert answer.text == stale, (what, answer.text)

    # Correctly signed (a leaked key, or a button of another message): still refused.
    elsewhere = await press(emu, aunt, card, yes, forge=True)
    assert elsewhere.show_alert and elsewhere.text == stale
    missing = await press(emu, aunt, ballot, signer.data("v", ballot_id + 99, "for"), forge=True)
    assert missing.show_alert and missing.text == "⛔ 当前没有表决。"
    bogus = await press(emu, aunt, ballot, signer.data("v", ballot_id, "maybe"), forge=True)
    assert bogus.show_alert and bogus.text == "⛔ 这个选项无效。"

    assert await vote_events(local, ballot_id) == events
    assert len(await current_votes(local, ballot_id)) == 1
    assert text_of(emu, ballot) == shown
    assert_clean(emu, caplog)


# --- 5. ties and quorum ------------------------------------------------------------------


async def test_tied_options_and_tied_motion_are_announced_as_tied(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local)
    emu, chair = council.emu, council.chair
    aunt, uncle, sister, _ = council.members
    card, _ = await council.topic("空地做什么？")
    garden = await council.say(aunt, "/propose 建口袋花园")
    await council.say(uncle, "/propose 改成停车场")

    assert (await council.say(chair, "/ballot options #999")).text == "⛔ 没有找到这条提案。"
    ballot, _ = await council.ballot("options")
    assert [label for label, _ in buttons(ballot)] == [
        "选项1：建口袋花园",
        "选项2：改成停车场",
        "弃权",
    ]
    # Seconding is over once the vote started: the old 附议 button is refused.
    late_second = await press(emu, sister, garden, button(garden, "附议"))
    assert late_second.show_alert
    assert late_second.text == "⛔ 议题「空地做什么？」当前阶段不能这样做。"

    await press(emu, aunt, ballot, button(ballot, "选项1"))
    await press(emu, uncle, ballot, button(ballot, "选项2"))
    await press(emu, sister, ballot, button(ballot, "弃权"))
    outcome = await council.say(chair, "/close")
    said = outcome_caption(outcome)
    assert said.splitlines()[1] == "⚖️ 平票，未形成决议"
    assert "未通过" not in said and "采纳" not in said
    assert "选项1：1 票" in said and "选项2：1 票" in said
    assert "阶段：已决定 ⚖️" in text_of(emu, card)

    # A motion with as many for as against is tied too, not rejected.
    await council.topic("周末开放活动室")
    motion, _ = await council.ballot()
    await press(emu, aunt, motion, button(motion, "赞成"))
    await press(emu, uncle, motion, button(motion, "反对"))
    tied = await council.say(chair, "/close")
    said = outcome_caption(tied)
    assert said.splitlines()[1] == "⚖️ 平票，未形成决议"
    assert "赞成 1 · 反对 1 · 弃权 0" in said
    assert_clean(emu, caplog)


async def test_residents_meeting_without_quorum(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    # A roll of six; three taking part is exactly half, and "过半数" means more than half.
    council = await make_council(local, rule="residents-meeting", residents=(
        "张阿姨", "李叔叔", "刘大姐", "陈师傅", "赵奶奶"))  # fmt: skip
    emu, chair = council.emu, council.chair
    await council.topic("活动室开放时间")
    ballot, _ = await council.ballot()
    assert "规则：居民会议" in (ballot.text or "")
    for user in council.members[:3]:
        await press(emu, user, ballot, button(ballot, "赞成"))
    assert "法定人数 ✘ 参与表决的人数超过名册总数的 1/2：3/6 人" in text_of(emu, ballot)

    outcome = await council.say(chair, "/close")
    lines = outcome_caption(outcome).splitlines()
    assert lines[1] == "⚠️ 未达法定人数，表决无效"
    assert "✘ 参与表决的人数超过名册总数的 1/2：3/6 人" in lines
    assert "通过" not in outcome_caption(outcome).replace("通过条件", "")
    assert_clean(emu, caplog)


# --- 6. a secret ballot --------------------------------------------------------------------


async def test_secret_ballot_shows_counts_only(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local)
    emu, chair = council.emu, council.chair
    names = ["杨静", *RESIDENT_NAMES]
    await council.topic("物业费调整")
    ballot, _ = await council.ballot("secret")
    assert "方式：无记名（只公布票数）" in (ballot.text or "")
    aunt, uncle, sister, master = council.members
    await press(emu, aunt, ballot, button(ballot, "赞成"))
    await press(emu, uncle, ballot, button(ballot, "反对"))
    await press(emu, sister, ballot, button(ballot, "赞成"))
    await press(emu, master, ballot, button(ballot, "弃权"))
    await emu.wait_idle(quiet=0.2)

    shown = text_of(emu, ballot)
    assert "赞成 2 · 反对 1 · 弃权 1" in shown and "已参与 4/5 人" in shown
    outcome = await council.say(chair, "/close")
    result = await council.say(aunt, "/result")
    for text in (shown, text_of(emu, ballot), outcome_caption(outcome), result.text or ""):
        assert not any(name in text for name in names), text
    assert "✅ 通过" in outcome_caption(outcome)
    assert_clean(emu, caplog)


# --- 7. escaping and over-long texts --------------------------------------------------------


async def test_option_buttons_show_proposal_text_literally(local: LocalBot) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    aunt, uncle = council.members
    await council.topic()
    await council.say(aunt, "/propose a < b && c > d")
    await council.say(uncle, "/propose 'x' & \"y\"")
    ballot, _ = await council.ballot("options")
    assert [label for label, _ in buttons(ballot)] == [
        "选项1：a < b && c > d",
        "选项2：'x' & \"y\"",
        "弃权",
    ]


async def test_user_text_is_shown_literally(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu, chair = council.emu, council.chair
    odd = emu.add_user("<b>x</b> & Co", last_name="&amp;")
    emu.add_member(council.group, odd)
    name = "<b>x</b> & Co &amp;"

    joined = await council.say(odd, "/join 3-2-399")
    assert joined.text == f"✅ {name}（3-2-399）已加入「杨家园社区小院议事会」名册，可以参与表决。"
    listed = (await council.say(chair, "/roll")).text or ""
    assert f"\n4. {name}\n" in listed and "3-2-399" not in listed

    card, _ = await council.topic("<i>花园</i> & 停车 &lt;")
    assert card.text is not None
    assert card.text.startswith("📌 议题 #1：<i>花园</i> & 停车 &lt;")

    text = "a < b && c > d <script>alert(1)</script> &amp;"
    proposal = await council.say(odd, f"/propose {text}")
    assert proposal.text == f"💡 提案 #1（{name}）\n{text}"
    other = await council.say(council.members[0], "/propose <a href='x'>点我</a>")
    assert (other.text or "").endswith("<a href='x'>点我</a>")
    assert f"#1 {text} —— {name}（附议 0）" in text_of(emu, card)

    ballot, _ = await council.ballot("options")
    assert f"1. {text}" in (ballot.text or "")
    answer = await press(emu, odd, ballot, buttons(ballot)[0][1])
    assert answer.text == f"已记录：选项1：{text[:39]}…"
    await press(emu, chair, ballot, buttons(ballot)[0][1])
    assert f"：{name}" in text_of(emu, ballot) or f"、{name}" in text_of(emu, ballot)

    outcome = await council.say(chair, "/close")
    assert f"采纳：选项1：{text[:39]}…" in outcome_caption(outcome)
    assert_clean(emu, caplog)


async def test_overlong_texts_are_refused_and_nothing_is_posted(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨",))
    emu, chair = council.emu, council.chair
    (aunt,) = council.members

    title = await council.say(chair, "/topic " + "议" * 121)
    assert title.text == "⛔ 内容太长（121 字），最多 120 字。"
    card, topic_id = await council.topic()

    before = len(bot_messages(emu, council.group))
    refused = await council.say(aunt, "/propose " + "长" * 5000)
    assert refused.text == "⛔ 内容太长（5000 字），最多 1500 字。"
    assert len(bot_messages(emu, council.group)) == before + 1  # the refusal only
    assert (await council.say(aunt, "/propose " + "长" * 1501)).text == (
        "⛔ 内容太长（1501 字），最多 1500 字。"
    )
    assert proposal_messages(council) == []
    assert await proposals_of(local, topic_id) == []

    longest = await council.say(aunt, "/propose " + "长" * 1500)
    assert (longest.text or "").endswith("长" * 1500)
    assert len(await proposals_of(local, topic_id)) == 1

    # In a private draft, the part that would make it too long is refused; the rest is kept.
    await say(emu, aunt, aunt, start_command(card))
    await say(emu, aunt, aunt, "草" * 1000)
    too_long = await say(emu, aunt, aunt, "稿" * 600)
    assert too_long.text == "⛔ 内容太长（1601 字），最多 1500 字。"
    assert (await say(emu, aunt, aunt, "/done")).text is not None
    posted = proposal_messages(council)[-1]
    assert (posted.text or "").endswith("草" * 1000)
    assert_clean(emu, caplog)


# --- 8. redelivered updates ---------------------------------------------------------------


async def test_redelivered_updates_take_effect_once(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local)
    emu = council.emu
    aunt, uncle, *_ = council.members

    _, topic_id = await council.topic()
    assert await redeliver(emu, latest_update_id(emu)) == []

    proposal = await council.say(aunt, "/propose 建口袋花园")
    propose_update = latest_update_id(emu)
    assert await redeliver(emu, propose_update) == []
    assert len(proposal_messages(council)) == 1
    assert await proposals_of(local, topic_id) == ["建口袋花园"]

    await press(emu, uncle, proposal, button(proposal, "附议"))
    second_update = latest_update_id(emu)
    assert await redeliver(emu, second_update) == []
    assert [label for label, _ in buttons(current(emu, proposal))] == ["👍 附议（1）"]

    ballot, ballot_id = await council.ballot()
    await press(emu, aunt, ballot, button(ballot, "赞成"))
    yes_update = latest_update_id(emu)
    assert await redeliver(emu, yes_update) == []
    assert await vote_events(local, ballot_id) == 1
    assert "赞成 1 · 反对 0 · 弃权 0" in text_of(emu, ballot)

    # A late copy of an older vote must not undo the newer one.
    await press(emu, aunt, ballot, button(ballot, "反对"))
    assert await redeliver(emu, yes_update) == []
    assert list((await current_votes(local, ballot_id)).values()) == ["against"]
    assert await vote_events(local, ballot_id) == 2
    assert "赞成 0 · 反对 1 · 弃权 0" in text_of(emu, ballot)

    # The bot answered the redelivered presses, which Telegram (and the emulator) reject
    # as already answered; the bot ignores that.
    assert_clean(emu, caplog, allowed_errors=["query is too old"])


async def test_redelivered_press_after_close_is_ignored(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨",))
    emu = council.emu
    await council.topic()
    ballot, ballot_id = await council.ballot()
    await press(emu, council.members[0], ballot, button(ballot, "赞成"))
    yes_update = latest_update_id(emu)
    await council.say(council.chair, "/close")
    assert await redeliver(emu, yes_update) == []
    assert await vote_events(local, ballot_id) == 1
    assert_clean(emu, caplog, allowed_errors=["query is too old"])


@pytest.mark.parametrize(
    "command",
    [
        "setup",
        "topic",
        "join",
        "ballot",
        "close",
        "done",
    ],
)
async def test_redelivered_command_is_silent(local: LocalBot, command: str) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu = council.emu
    aunt = council.members[0]
    if command in ("ballot", "close", "done"):
        card, topic_id = await council.topic()
    if command == "close":
        ballot, _ = await council.ballot()
        await press(emu, aunt, ballot, button(ballot, "赞成"))
    if command == "join":
        emu.add_member(council.group, newcomer := emu.add_user("新邻居"))
        await council.say(newcomer, "/join 8-8-808")
    elif command == "topic":
        await council.say(council.chair, "/topic 加装电梯")
    elif command == "done":
        await say(emu, aunt, aunt, start_command(card))
        await say(emu, aunt, aunt, "建口袋花园")
        await say(emu, aunt, aunt, "/done")
    else:
        await council.say(council.chair, f"/{command}")
    update_id = latest_update_id(emu)
    assert await redeliver(emu, update_id) == []
    if command == "done":
        assert len(proposal_messages(council)) == 1
        assert await proposals_of(local, topic_id) == ["建口袋花园"]


# --- 9. a burst of votes under Telegram's real group limit --------------------------------


async def test_burst_of_votes_is_coalesced_under_the_group_limit(
    migrated_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    async with local_bot(
        migrated_url, group_messages_per_minute=20, tally_edit_interval=3.0
    ) as local:
        emu = local.emulator
        chair = emu.add_user("杨静")
        residents = [emu.add_user(f"居民{n:02d}") for n in range(40)]
        group = emu.add_group("大院议事会", admins=[chair], members=residents)
        await say(emu, chair, group, "/setup")
        await seed_members(local, group, residents)
        await say(emu, chair, group, "/topic 加装电梯")
        ballot = await say(emu, chair, group, "/ballot")
        ballot_id = int((ballot.text or "").split("#", 1)[1].split("：", 1)[0])
        choices = ["for"] * 25 + ["against"] * 10 + ["abstain"] * 5
        data = {c: button(ballot, label) for c, label in
                (("for", "赞成"), ("against", "反对"), ("abstain", "弃权"))}  # fmt: skip
        edits_before = local.deps.refresher.edits
        seq = emu.event_seq

        answers = await asyncio.gather(
            *(
                emu.press(user, ballot, data[c], timeout=10)
                for user, c in zip(residents, choices, strict=True)
            )
        )
        assert all(a.text and a.text.startswith("已记录：") and not a.show_alert for a in answers)
        final = await emu.wait_for_bot_message(
            group,
            lambda m: m.message_id == ballot.message_id and "已参与 40/40 人" in (m.text or ""),
            timeout=10,
            after=seq,
        )
        await local.deps.refresher.drain()
        assert "赞成 25 · 反对 10 · 弃权 5" in (final.text or "")
        assert len(await current_votes(local, ballot_id)) == 40
        assert await vote_events(local, ballot_id) == 40
        edits = local.deps.refresher.edits - edits_before
        ballot_edits = [
            e
            for e in emu.transcript.entries
            if e.kind == "edit" and e.chat == group.label and e.message_id == ballot.message_id
        ]
        assert 1 <= edits <= 4 and len(ballot_edits) == edits, (edits, len(ballot_edits))
        print(f"40 votes shown in {edits} edits")

        outcome = await say(emu, chair, group, "/close")
        assert outcome_caption(outcome).splitlines()[1] == "✅ 通过"
        assert emu.stats.too_many_requests == 0 and 429 not in emu.stats.errors
        assert emu.stats.sent[group.id] + emu.stats.edited[group.id] <= 20
        assert_clean(emu, caplog)
    assert time.monotonic() - started < 15


# --- 10. English ---------------------------------------------------------------------------


async def test_english_speaker_gets_english_answers(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    emu = local.emulator
    chair = emu.add_user("杨静")
    alice = emu.add_user("Alice", language_code="en-GB")
    bob = emu.add_user("Bob", language_code="en")
    group = emu.add_group("幸福里社区议事会", admins=[chair], members=[alice, bob])

    refused = await say(emu, alice, group, "/setup")
    assert refused.text == "⛔ Only a group admin can make this group a council."
    await say(emu, chair, group, "/setup")
    bad = await say(emu, alice, group, "/join upstairs")
    assert bad.text == (
        "⛔ Cannot read the address “upstairs”. Use building-unit-room, e.g. /join 3-2-301."
    )
    joined = await say(emu, alice, group, "/join 1-1-101")
    assert joined.text == "✅ Alice (1-1-101) joined the roll of “幸福里社区议事会” and may vote."
    assert (await say(emu, alice, group, "/topic Mine")).text == "⛔ Only a chair can do that."

    card = await say(emu, chair, group, "/topic 活动室规则")
    assert (card.text or "").startswith("📌 议题")  # the council speaks Chinese
    ballot = await say(emu, chair, group, "/ballot")
    yes = button(ballot, "赞成")
    assert (await press(emu, alice, ballot, yes)).text == "Recorded: for"
    outsider = await press(emu, bob, ballot, yes)
    assert outsider.show_alert and outsider.text == (
        "⛔ You are not on this council's roll yet. Send /join building-unit-room first."
    )
    stale = await press(emu, bob, ballot, "v:1:for:forged00", forge=True)
    assert stale.text == "⛔ This button is no longer valid; please use the latest message."
    private = await say(emu, alice, alice, "/close")
    assert private.text == "⛔ Please use this command in the council's group."
    assert_clean(emu, caplog)


async def test_english_council_posts_english_cards(
    migrated_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with local_bot(migrated_url, language="en") as local:
        council = await make_council(local, residents=("Alice", "Bob"))
        emu, chair = council.emu, council.chair
        alice, bob = council.members
        card, topic_id = await council.topic("Opening hours of the activity room")
        assert (card.text or "").startswith(
            f"📌 Topic #{topic_id}: Opening hours of the activity room\nPhase: collecting opinions"
        )
        rows = (card.reply_markup or {}).get("inline_keyboard") or []
        assert [b.get("text") for row in rows for b in row] == ["✍️ Write a proposal"]
        proposal = await council.say(alice, "/propose Open on weekends")
        assert (proposal.text or "").startswith("💡 Proposal #1 (Alice)")
        assert [label for label, _ in buttons(proposal)] == ["👍 Second (0)"]
        assert "\n1 proposal\n#1 Open on weekends — Alice (0 seconds)\n" in text_of(emu, card)
        await press(emu, bob, proposal, button(proposal, "Second"))
        assert "— Alice (1 second)\n" in text_of(emu, card)

        ballot, _ = await council.ballot()
        assert (ballot.text or "").startswith("🗳 Vote #1: Opening hours of the activity room")
        assert "Open vote (show of hands, names shown)" in (ballot.text or "")
        assert [label for label, _ in buttons(ballot)] == ["✋ For", "Against", "Abstain"]
        await press(emu, alice, ballot, button(ballot, "For"))
        await press(emu, bob, ballot, button(ballot, "For"))
        assert "For 2 · Against 0 · Abstain 0" in text_of(emu, ballot)
        outcome = await council.say(chair, "/close")
        assert outcome_caption(outcome).splitlines()[:2] == [
            "📣 Outcome: Opening hours of the activity room",
            "✅ Passed",
        ]
        assert "Phase: decided" in text_of(emu, card)
        assert_clean(emu, caplog)


# --- 11. a council in a forum topic ----------------------------------------------------------


async def test_forum_council_lives_in_its_thread(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    thread = 42
    council = await make_council(
        local, forum=True, thread_id=thread, residents=("张阿姨", "李叔叔")
    )
    emu, chair, group = council.emu, council.chair, council.group
    aunt, uncle = council.members
    card, _ = await council.topic()
    await council.say(aunt, "/propose 建口袋花园")
    await say(emu, uncle, uncle, start_command(card))
    await say(emu, uncle, uncle, "改成停车场")
    await say(emu, uncle, uncle, "/done")  # posted to the group from a private chat
    ballot, _ = await council.ballot("options")
    await press(emu, aunt, ballot, button(ballot, "选项1"))
    await press(emu, uncle, ballot, button(ballot, "选项1"))
    outcome = await council.say(chair, "/close")
    assert "✅ 通过" in outcome_caption(outcome)

    posted = bot_messages(emu, group)
    assert len(posted) >= 8
    assert {m.message_thread_id for m in posted} == {thread}, [
        (m.message_thread_id, (m.text or "")[:20]) for m in posted
    ]

    # Elsewhere in the forum (another topic, the general thread) there is no council.
    other = await say(emu, aunt, group, "/roll", thread_id=7)
    assert other.text == "⛔ 本群还不是议事会。请群管理员发送 /setup。"
    assert other.message_thread_id == 7
    general = await say(emu, aunt, group, "/roll")
    assert general.text == "⛔ 本群还不是议事会。请群管理员发送 /setup。"
    assert general.message_thread_id is None
    assert_clean(emu, caplog)
