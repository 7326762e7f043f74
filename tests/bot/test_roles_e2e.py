"""Roles and keeping the roll, end to end: the real bot, the local Bot API emulator.

Chairs grant and revoke staff by replying to a member's message; the last chair cannot
be revoked; a chair demoted from group admin stops chairing (Telegram's chat_member
update); joins wait for approval by buttons sent privately to chairs and staff; a
participant's vote is refused; staff verify a declared area; members are removed
with their history. Every refusal says why and writes nothing.
"""

from __future__ import annotations

import pytest

from bot.telegram.local import LocalBot
from domain.model import MemberStatus, Role
from emulator import Message, User
from tests.bot.conftest import (
    Council,
    assert_clean,
    bot_messages,
    button,
    buttons,
    make_council,
    press,
    say,
    settled,
    shown,
)
from tests.bot.test_dispatch_e2e import (
    ask,
    council_id_of,
    last_said_by,
    member_id_of,
    private_texts,
    start_privately,
)

GROUP = "杨家园社区小院议事会"


async def role_events(council: Council) -> list[tuple[str, bool, int | None, int | None]]:
    """(role, granted, whose user id, by whom) of the council's role events, oldest first."""
    async with council.local.database.uow() as uow:
        found = await uow.roles.of_council(await council_id_of(council))
    return [(e.role.value, e.granted, e.user_id, e.by_user) for e in reversed(found)]


async def chairs_and_staff(council: Council) -> tuple[set[int], set[int]]:
    async with council.local.database.uow() as uow:
        found = await uow.councils.get(await council_id_of(council))
    assert found is not None
    return found.chairs, found.staff


async def spoken(council: Council, user: User, text: str = "大家好") -> Message:
    """``user`` writes an ordinary message in the group (the bot does not answer it)."""
    await council.send(user, text, expect_reply=False)
    return last_said_by(council.emu, council.group, user)


async def test_a_chair_grants_and_revokes_staff_by_replying(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu, chair = council.emu, council.chair
    aunt, uncle = council.members
    hello = await spoken(council, aunt)

    # A resident may not make anyone staff: refused, nothing written.
    refused = await ask(council, uncle, "/grant staff", reply_to=hello)
    assert refused.text == "⛔ 只有召集人可以这样做。"
    assert await role_events(council) == [("chair", True, chair.id, chair.id)]

    granted = await ask(council, chair, "/grant staff", reply_to=hello)
    assert granted.text == (
        f"✅ 张阿姨 已成为「{GROUP}」的社工（网格员），可以管理名册、审核入册、核实面积。"
    )
    assert await chairs_and_staff(council) == ({chair.id}, {aunt.id})
    again = await ask(council, chair, "/grant 社工", reply_to=hello)
    assert again.text == "⛔ 张阿姨 已经是社工（网格员）了。"

    roles = await council.say(uncle, "/roles")
    assert (roles.text or "").splitlines()[:4] == [
        f"👥 {GROUP} 的身份",
        "召集人：杨静",
        "社工（网格员）：张阿姨",
        "列席（不参加表决）：无",
    ]

    revoked = await ask(council, chair, "/revoke staff", reply_to=hello)
    assert revoked.text == f"✅ 张阿姨 已不再担任「{GROUP}」的社工（网格员）。"
    assert await chairs_and_staff(council) == ({chair.id}, set())
    assert await role_events(council) == [
        ("chair", True, chair.id, chair.id),
        ("staff", True, aunt.id, chair.id),
        ("staff", False, aunt.id, chair.id),
    ]
    # Without a reply or a member number the command says how it is used.
    usage = await council.say(chair, "/grant staff")
    assert (usage.text or "").startswith("⛔ 用法：回复某人的消息发送 /grant staff")
    # One person a command: two are refused whole, never granted by half.
    two = await council.say(chair, "/grant staff #1 #2")
    assert (two.text or "").startswith("⛔ 用法：回复某人的消息发送 /grant staff")
    assert_clean(emu, caplog)


async def test_the_last_chair_cannot_be_revoked(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨",))
    chair = council.chair
    mine = await spoken(council, chair, "我来主持")

    refused = await ask(council, chair, "/revoke chair", reply_to=mine)

    assert refused.text == (
        "⛔ 杨静 是本议事会唯一的召集人，不能撤销。请先任命另一位召集人（/grant chair）。"
    )
    assert await chairs_and_staff(council) == ({chair.id}, set())
    assert await role_events(council) == [("chair", True, chair.id, chair.id)]
    assert_clean(council.emu, caplog)


async def test_a_demoted_admin_stops_chairing(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu, chair, group = council.emu, council.chair, council.group
    aunt, uncle = council.members
    # A second chair, named by member number; then the first is no longer an admin.
    number = await member_id_of(council, uncle)
    made = await council.say(chair, f"/grant chair #{number}")
    assert made.text == f"✅ 李叔叔 已成为「{GROUP}」的召集人。"

    emu.set_member_status(group, chair, "member", by=uncle)
    await settled(local)

    assert bot_messages(emu, group)[-1].text == (
        f"ℹ️ 杨静 已不是本群管理员，不再担任「{GROUP}」的召集人。"
    )
    assert await chairs_and_staff(council) == ({uncle.id}, set())
    assert (await role_events(council))[-1] == ("chair", False, chair.id, None)
    # And with it goes changing the council's rule.
    refused = await council.say(chair, "/setup two-thirds")
    assert refused.text == "⛔ 只有召集人可以这样做。"

    # The last chair leaves the admins: kept, and the group hears it needs another.
    emu.set_member_status(group, uncle, "administrator", by=aunt)
    emu.set_member_status(group, uncle, "member", by=aunt)
    await settled(local)
    assert bot_messages(emu, group)[-1].text == (
        f"⚠️ 李叔叔 已不是本群管理员，但是「{GROUP}」唯一的召集人，暂时保留召集人身份。"
        "议事会需要新的召集人：现任群管理员请发送 /setup，或由召集人回复某人的消息发送 "
        "/grant chair。"
    )
    assert await chairs_and_staff(council) == ({uncle.id}, set())
    # A current group admin still chairs by /setup, as before.
    emu.set_member_status(group, aunt, "administrator", by=uncle)
    await settled(local)
    setup = await council.say(aunt, "/setup")
    assert (setup.text or "").startswith("✅")
    assert await chairs_and_staff(council) == ({uncle.id, aunt.id}, set())
    assert (await role_events(council))[-1] == ("chair", True, aunt.id, aunt.id)
    assert_clean(emu, caplog)


async def test_a_join_is_approved_or_rejected_by_a_button_sent_privately(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨",))
    emu, chair, group = council.emu, council.chair, council.group
    settings = await council.say(chair, "/settings approval on")
    assert "· 入册申请需召集人或社工审核" in (settings.text or "").splitlines()
    await start_privately(council, chair)
    newcomer = emu.add_user("王奶奶")
    stranger = emu.add_user("冒名者")
    for user in (newcomer, stranger):
        emu.add_member(group, user)
    await start_privately(council, newcomer)

    asked = await council.say(newcomer, "/join 5-1-101 90")
    await settled(local)

    assert asked.text == (
        f"📝 王奶奶 已申请加入「{GROUP}」，等待召集人或社工审核。"
        "审核请求已私信发给他们（也可在私聊中发送 /pending 查看）。"
    )
    assert not any("5-1-101" in shown(m) for m in bot_messages(emu, group))
    request = emu.sent_to(chair)[-1]
    number = await member_id_of(council, newcomer)
    assert shown(request).splitlines() == [
        "📝 有新的入册申请，请审核：",
        f"👤 {GROUP} · 成员 #{number} 王奶奶",
        "地址：5-1-101",
        "🏠 5-1-101 · 90.00 ㎡ · 未核实（核实前不计入业主表决）",
        "⏳ 等待审核",
    ]
    assert [label for label, _ in buttons(request)] == ["✅ 批准", "❌ 拒绝", "📐 核实面积"]

    # A resident cannot press it (a forged copy of the data is refused the same).
    refused = await press(emu, council.members[0], request, button(request, "批准"), forge=True)
    assert refused.show_alert and refused.text == "⛔ 只有召集人和社工（网格员）可以这样做。"

    approved = await press(emu, chair, request, button(request, "批准"))
    await settled(local)

    assert approved.text == "已批准 ✅"
    shown_now = emu.sent_to(chair)[-1]
    assert shown(shown_now).splitlines()[-1] == "✅ 在名册上"
    assert [label for label, _ in buttons(shown_now)] == ["📐 核实面积"]
    assert private_texts(emu, newcomer, "获批准") == [
        f"✅ 您加入「{GROUP}」名册的申请已获批准，可以参与提案和表决了。"
    ]
    # The same message verifies the declared area.
    verified = await press(emu, chair, shown_now, button(shown_now, "核实"))
    assert verified.text == "已核实 📐"
    assert shown(emu.sent_to(chair)[-1]).splitlines() == [
        f"👤 {GROUP} · 成员 #{number} 王奶奶",
        "地址：5-1-101",
        "🏠 5-1-101 · 90.00 ㎡ · 已核实",
        "✅ 在名册上",
    ]
    assert buttons(emu.sent_to(chair)[-1]) == []
    events = await role_events(council)

    # The stranger never started the bot: rejected, and told in the group by name only.
    await council.say(stranger, "/join 5-1-102 500")
    await settled(local)
    second = emu.sent_to(chair)[-1]
    rejected = await press(emu, chair, second, button(second, "拒绝"))
    await settled(local)
    assert rejected.text == "已拒绝"
    assert bot_messages(emu, group)[-1].text == (
        "冒名者 的入册申请未获通过。如有疑问，请联系召集人或社工。"
    )
    late = await press(emu, chair, second, button(second, "批准"), forge=True)
    assert late.show_alert and late.text == "⛔ 冒名者 的入册申请已被拒绝（或已移出名册）。"
    async with local.database.uow() as uow:
        member = await uow.members.by_user(await council_id_of(council), stranger.id)
    assert member is not None and member.status is MemberStatus.REMOVED
    assert (await role_events(council))[len(events) :] == [
        (Role.MEMBER.value, False, stranger.id, chair.id)
    ]
    assert_clean(emu, caplog)


async def test_pending_lists_joins_privately_and_settings_close_self_join(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨",))
    emu, chair, group = council.emu, council.chair, council.group
    aunt = council.members[0]
    await council.say(chair, "/settings 审核 开")
    newcomer = emu.add_user("王奶奶")
    emu.add_member(group, newcomer)
    await council.say(newcomer, "/join 5-1-101")

    in_group = await council.say(chair, "/pending")
    assert in_group.text == "⛔ 请在与我的私聊中使用这个命令。"
    refused = await say(emu, aunt, aunt, "/pending")
    assert refused.text == "⛔ 只有召集人和社工（网格员）可以这样做。"
    before = len(emu.sent_to(chair))
    await say(emu, chair, chair, "/pending")
    listed = emu.sent_to(chair)[before:]
    newcomer_number = await member_id_of(council, newcomer)
    aunt_number = await member_id_of(council, aunt)
    assert [shown(m).splitlines()[0] for m in listed] == [
        f"📝 {GROUP}：1 份入册申请待审核，2 位成员的面积待核实",
        f"👤 {GROUP} · 成员 #{newcomer_number} 王奶奶",
        f"👤 {GROUP} · 成员 #{await member_id_of(council, chair)} 杨静",
        f"👤 {GROUP} · 成员 #{aunt_number} 张阿姨",
    ]
    assert [[label for label, _ in buttons(m)] for m in listed] == [
        [],
        ["✅ 批准", "❌ 拒绝"],
        ["📐 核实面积"],
        ["📐 核实面积"],
    ]
    assert shown(listed[1]).splitlines()[2:] == ["未申报房屋面积", "⏳ 等待审核"]

    # Without self-joining, /join is refused and says who adds residents.
    closed = await council.say(chair, "/settings selfjoin off")
    assert "· 居民不能自己加入：由社工导入名册、发放绑定码" in (closed.text or "").splitlines()
    late = emu.add_user("赵爷爷")
    emu.add_member(group, late)
    told = await council.say(late, "/join 5-1-103")
    assert told.text == (
        "⛔ 本议事会的名册由社工统一登记，居民不能自行加入。"
        "请联系社工或网格员：他们会把您录入名册，并发给您绑定码。"
    )
    async with local.database.uow() as uow:
        assert await uow.members.by_user(await council_id_of(council), late.id) is None
    denied = await council.say(aunt, "/settings selfjoin on")
    assert denied.text == "⛔ 只有召集人可以这样做。"
    assert_clean(emu, caplog)


async def test_a_participants_vote_is_refused(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu, chair = council.emu, council.chair
    aunt, uncle = council.members
    hello = await spoken(council, aunt)
    made = await ask(council, chair, "/grant 列席", reply_to=hello)
    assert made.text == (
        f"✅ 张阿姨 现在是「{GROUP}」的列席成员：可以提案、附议和接任务，不参加表决，"
        "也不计入表决基数。"
    )
    await council.topic()
    ballot, ballot_id = await council.ballot()

    refused = await press(emu, aunt, ballot, button(ballot, "赞成"))
    counted = await press(emu, uncle, ballot, button(ballot, "赞成"))

    assert refused.show_alert and refused.text == (
        "⛔ 您是列席成员（如成员单位联系人），可以提案、附议和接任务，但不参加表决。"
        "如有误，请联系召集人或社工。"
    )
    assert not counted.show_alert
    async with local.database.uow() as uow:
        votes = await uow.votes.current(ballot_id)
    assert set(votes) == {await member_id_of(council, uncle)}
    roles = await council.say(uncle, "/roles")
    assert "列席（不参加表决）：张阿姨" in (roles.text or "").splitlines()
    assert_clean(emu, caplog)


async def test_staff_verify_an_area_and_remove_a_member(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu, chair = council.emu, council.chair
    aunt, uncle = council.members
    await start_privately(council, chair)

    in_group = await council.say(chair, "/verify 3-2-302 82.5")
    assert in_group.text == "⛔ 请在与我的私聊中使用这个命令。"
    verified = await say(emu, chair, chair, "/verify 3-2-302 82.5")

    assert shown(verified).splitlines() == [
        "✅ 已核实 张阿姨 的房屋面积，现在计入业主表决。",
        "",
        f"👤 {GROUP} · 成员 #{await member_id_of(council, aunt)} 张阿姨",
        "地址：3-2-302",
        "🏠 3-2-302 · 82.50 ㎡ · 已核实",
        "✅ 在名册上",
    ]
    denied = await say(emu, aunt, aunt, "/verify 3-2-303")
    assert denied.text == "⛔ 只有召集人和社工（网格员）可以这样做。"

    said = await spoken(council, uncle)
    removed = await ask(council, chair, "/remove", reply_to=said)
    assert removed.text == f"✅ 已将 李叔叔 移出「{GROUP}」名册。其以往的表决和提案记录保留。"
    listed = await council.say(aunt, "/roll")
    assert "李叔叔" not in (listed.text or "")
    again = await ask(council, chair, "/remove", reply_to=said)
    assert again.text == "⛔ 李叔叔 不在本议事会名册上。"
    assert_clean(emu, caplog)
