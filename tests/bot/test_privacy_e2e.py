"""Privacy by default, end to end: the real bot, the local Bot API emulator.

The group reads the roll's names and counts; addresses and areas go to chairs and
staff in a private chat. A resident's request leaves the group: the group reads that
one was made, the volunteers, the requester (and the chairs, when nobody takes it)
read what and where. A chair who is not on the roll is told so, and how to join, at
``/setup`` and whenever a vote or a proposal of theirs is refused.
"""

from __future__ import annotations

import pytest

from bot.telegram.local import LocalBot
from tests.bot.conftest import (
    assert_clean,
    bot_messages,
    button,
    make_council,
    press,
    say,
    settled,
    shown,
)
from tests.bot.test_dispatch_e2e import (
    DELETED,
    council_id_of,
    offers_to,
    private_texts,
    register,
    request,
    start_privately,
    the_offer,
)

GROUP = "杨家园社区小院议事会"
NOT_STAFF = "⛔ 只有召集人和社工（网格员）可以这样做。"
CHAIR_JOINS = (
    "⛔ 您是本议事会的召集人，但召集人身份不等于在名册上，不能提案和表决。"
    "您如果也是本院居民，请在群里发送 /join 楼栋-单元-房号 [面积] 加入名册。"
)
ELDER = "/request 维修 老人独居，卫生间水管漏水\n地点：6-3-501"


# --- the roll ------------------------------------------------------------------------------


async def test_the_group_reads_names_and_only_chairs_get_addresses_privately(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu, chair = council.emu, council.chair
    aunt, _uncle = council.members

    listed = await council.say(aunt, "/roll")
    assert listed.text == (
        f"📋 {GROUP} 名册：3 人，3 户\n"
        "1. 杨静\n2. 张阿姨\n3. 李叔叔\n"
        "🔒 地址和面积仅召集人和社工可见：请点下方按钮，我私信发给您。"
    )
    assert [label for row in listed.buttons for label, _ in row] == ["🔒 完整名册（召集人、社工）"]

    # A resident may press 🔒 too: refused, and nothing is sent to her.
    await start_privately(council, aunt, chair)
    refused = await press(emu, aunt, listed, button(listed, "完整名册"))
    assert refused.show_alert and refused.text == NOT_STAFF
    assert not any("名册：" in shown(m) for m in emu.sent_to(aunt))

    # The chair gets the roll with addresses and areas, privately.
    sent = await press(emu, chair, listed, button(listed, "完整名册"))
    assert sent.text == "已把完整名册私信发给您 📋" and not sent.show_alert
    head, *lines = shown(emu.sent_to(chair)[-1]).splitlines()
    assert head == f"📋 {GROUP} 名册：3 人，3 户；业主 0 人，已核实专有部分面积 0.00 ㎡"
    assert lines == [
        "⏳ 另有 3 套住户自报的面积待社工核实，核实前不计入业主表决。",
        "1. 杨静 #1 · 3-2-301 · 81.00 ㎡（待核实）",
        "2. 张阿姨 #2 · 3-2-302 · 82.00 ㎡（待核实）",
        "3. 李叔叔 #3 · 3-2-303 · 83.00 ㎡（待核实）",
    ]

    # /roll in a private chat: the chair keeps one roll and gets it; a resident keeps
    # none and is told where to ask.
    detailed = shown(emu.sent_to(chair)[-1])
    assert (await say(emu, chair, chair, "/roll")).text == detailed
    private = await say(emu, aunt, aunt, "/roll")
    assert private.text == (
        "⛔ 私聊里我不知道您要看哪个议事会的名册。请在议事会群里发送 /roll；"
        "召集人和社工再点名单下的「🔒 完整名册」，含地址和面积的名册会私信发给您。"
    )

    # The link a chair would get opens nothing for a resident; a forged one neither.
    link = local.deps.signer.link("r", await council_id_of(council))
    assert (await say(emu, aunt, aunt, f"/start {link}")).text == NOT_STAFF
    forged = await say(emu, aunt, aunt, f"/start {link[:-2]}xx")
    assert (forged.text or "").startswith("⛔ 这个链接已失效")
    assert not any("名册：" in shown(m) for m in emu.sent_to(aunt))
    assert_clean(emu, caplog)


# --- a resident's request ----------------------------------------------------------------


async def test_a_request_made_in_the_group_goes_on_privately(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu = council.emu
    aunt, uncle = council.members
    await register(council, uncle, "维修")
    await start_privately(council, aunt, uncle)

    notice = await request(council, aunt, ELDER)
    await settled(local)

    # The group: her message is gone, and the bot says only that a request was made.
    assert notice.text == f"📨 有居民提交了一项服务需求（维修），已私信转交 1 位志愿者。\n{DELETED}"
    group = [shown(m) for m in emu.messages(council.group)]
    assert not any("6-3-501" in text or "老人独居" in text for text in group), group
    # The volunteer's offer says what and where; the requester is told privately.
    assert "地点：6-3-501" in shown(the_offer(emu, uncle)).splitlines()
    assert private_texts(emu, aunt, "已收到点单") == [
        "📨 已收到点单 #1「老人独居，卫生间水管漏水」，已私信联系 1 位志愿者，有人接单会告诉您。"
    ]
    offer = the_offer(emu, uncle)
    await press(emu, uncle, offer, button(offer, "接单"))
    await settled(local)
    assert private_texts(emu, aunt, "正在安排") == [
        "🚶 您的点单 #1「老人独居，卫生间水管漏水」已由 李叔叔 接单，正在安排。"
    ]
    listed = [shown(m) for m in bot_messages(emu, council.group)]
    assert not any("6-3-501" in text or "老人独居" in text for text in listed), listed
    assert_clean(emu, caplog)


async def test_when_the_bot_may_not_delete_the_request_it_says_so_and_repeats_nothing(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu = council.emu
    aunt, uncle = council.members
    council.group.bot_can_delete_messages = False  # an admin, without that right
    await register(council, uncle, "维修")
    await start_privately(council, uncle)  # the requester never opened the bot

    notice = await request(council, aunt, ELDER)
    await settled(local)

    mine = [m for m in emu.messages(council.group) if m.from_user.id == aunt.id]
    assert mine[-1].text == ELDER  # still there: the bot could not delete it
    assert notice.reply_to_message_id == mine[-1].message_id
    assert notice.text == (
        "📨 有居民提交了一项服务需求（维修），已私信转交 1 位志愿者。\n"
        "⚠️ 我没有删除消息的权限，原消息仍在群里：请点单人自行删除，或请群管理员把我设为管理员"
        "并允许删除消息。我只私信志愿者、召集人和社工说明地址和详情。\n"
        f"张阿姨：我还不能私信您。请点开 @{emu.bot_username} 发送 /start，点单进展会私信告诉您。"
    )
    said = [shown(m) for m in bot_messages(emu, council.group)]
    assert not any("6-3-501" in text or "老人独居" in text for text in said), said
    assert len(offers_to(emu, uncle)) == 1
    assert "地点：6-3-501" in shown(the_offer(emu, uncle)).splitlines()
    assert_clean(emu, caplog, allowed_errors=["can't be deleted", "initiate conversation"])


# --- the chair's own membership ----------------------------------------------------------


async def test_setup_tells_the_chair_that_chairing_gives_no_vote(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    emu = local.emulator
    chair = emu.add_user("杨静")
    group = emu.add_group(GROUP, admins=[chair])
    hint = (
        "召集人身份不等于在名册上，也不带表决权。您如果也是本院居民，要提案和表决，"
        "同样请发送 /join 楼栋-单元-房号 加入名册。"
    )
    done = await say(emu, chair, group, "/setup")
    assert (done.text or "").startswith(f"✅ 本群已设为议事会「{GROUP}」。")
    assert (done.text or "").endswith("居民请发送 /join 楼栋-单元-房号 加入名册。\n\n" + hint)
    # Once on the roll, changing the rule says nothing of it.
    await say(emu, chair, group, "/join 3-2-301")
    again = await say(emu, chair, group, "/setup two-thirds")
    assert (again.text or "").startswith("✅") and hint not in (again.text or "")
    assert_clean(emu, caplog)


async def test_a_chair_off_the_roll_who_votes_or_proposes_is_told_how_to_join(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"), chair_joins=False)
    emu, chair = council.emu, council.chair
    aunt, _uncle = council.members
    await council.topic("空地做什么？")
    assert (await council.say(chair, "/propose 建口袋花园")).text == CHAIR_JOINS
    ballot, _ = await council.ballot()
    refused = await press(emu, chair, ballot, button(ballot, "赞成"))
    assert refused.show_alert and refused.text == CHAIR_JOINS
    # A resident off the roll is refused as before: nothing about chairs.
    outsider = await press(emu, council.outsider, ballot, button(ballot, "赞成"))
    assert outsider.show_alert and (outsider.text or "").startswith("⛔ 您还不在本议事会名册上")

    assert (await council.say(chair, "/join 3-2-399")).text is not None
    counted = await press(emu, chair, ballot, button(ballot, "赞成"))
    assert not counted.show_alert, counted.text
    assert (await press(emu, aunt, ballot, button(ballot, "赞成"))).show_alert is False
    assert_clean(emu, caplog)
