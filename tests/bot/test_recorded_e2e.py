"""Votes from the meeting room and the doorstep, end to end through the emulator: a
meeting's sign-in, a roll call of raised hands, a vote entered after a home visit and
the member overriding it by button, paper ballots with an error row then confirmed, and
the outcome counting votes by source. Refusals answer clearly and write nothing."""

from __future__ import annotations

import time_machine

from bot.telegram.local import LocalBot
from domain import services
from domain.model import Member
from emulator import Message, User
from tests.bot.conftest import (
    QUIET,
    TIMEOUT,
    Council,
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
    shown,
    text_of,
    vote_events,
)

UNSTARTED = "bot can't initiate conversation"  # a chair who never opened a private chat
PAPER = "地址,意向\n6-3-501,赞成\n9-9-999,反对\n3-2-304,也许\n".encode()


async def _council_id(council: Council) -> int:
    found = await services.find_council(
        council.local.database.uow(), chat_id=council.group.id, thread_id=0
    )
    assert found.id is not None
    return found.id


async def _add_staff(council: Council, user: User) -> None:
    async with council.local.database.uow() as uow:
        found = await uow.councils.get(await _council_id(council))
        assert found is not None
        found.staff = {user.id}
        await uow.councils.update(found)
        await uow.commit()


async def _offline_member(council: Council) -> int:
    """赵奶奶 of 6-3-501, on the roll without a phone (no chat account)."""
    council_id = await _council_id(council)
    async with council.local.database.uow() as uow:
        member = await uow.members.add(
            Member(council_id, None, "赵奶奶", "6", "3", "501", council.local.deps.clock())
        )
        await uow.commit()
    assert member.id is not None
    return member.id


def _private(council: Council, user: User) -> list[Message]:
    return bot_messages(council.emu, user)


async def _upload(council: Council, user: User, data: bytes, caption: str) -> Message:
    emu = council.emu
    await emu.wait_idle(quiet=QUIET)
    after = emu.event_seq
    await emu.send_document(user, user, "纸质票.csv", data, mime_type="text/csv", caption=caption)
    await emu.wait_for_bot_message(user, after=after, timeout=TIMEOUT)
    await emu.wait_idle(quiet=QUIET)
    return _private(council, user)[-1]


async def test_sign_in_by_button_and_by_the_chair(
    local: LocalBot, traveller: time_machine.Traveller
) -> None:
    council = await make_council(local)
    emu, chair = council.emu, council.chair
    aunt, uncle = council.members[0], council.members[1]
    refused = await council.say(chair, "/signin")
    assert refused.text == (
        "⛔ 前后 12 小时内没有安排会议。请先用 /meeting 安排，或写明会议编号：/signin 3。"
    )
    await council.say(chair, "/meeting 今天 11:00 社区活动室")
    assert (await council.say(aunt, "/signin")).text == "⛔ 只有召集人和社工（网格员）可以这样做。"
    card = await council.say(chair, "/signin")
    assert card.text is not None
    assert card.text.startswith("📝 签到 · 议事会会议 #1（杨家园社区小院议事会）")
    assert "已签到 0 / 5 人" in card.text

    answer = await press(emu, aunt, card, button(card, "✋ 签到"))
    assert answer.text == "✅ 张阿姨，已签到。"
    assert "已签到 1 / 5 人\n张阿姨" in text_of(emu, card)
    again = await press(emu, aunt, card, button(card, "✋ 签到"))
    assert again.text == "张阿姨，您已经签到过了。"
    outsider = await press(emu, council.outsider, card, button(card, "✋ 签到"))
    assert outsider.text is not None and outsider.text.startswith("⛔ 您还不在本议事会名册上")
    not_chair = await press(emu, aunt, card, button(card, "代为签到"))
    assert not_chair.text == "⛔ 只有召集人和社工（网格员）可以这样做。"

    # The chair marks 李叔叔, who has no phone with him, from a private list.
    first = await press(emu, chair, card, button(card, "代为签到"))
    assert first.text is not None and "请先打开与 @" in first.text
    emu.start_bot(chair)
    sent = await press(emu, chair, card, button(card, "代为签到"))
    assert sent.text == "名单已私信发给您。"
    listing = _private(council, chair)[-1]
    assert listing.text is not None and listing.text.startswith("📋 代为签到 · 议事会会议 #1")
    assert [label for label, _ in buttons(listing)][:3] == [
        "⬜ 杨静（3-2-301）",
        "✅ 张阿姨（3-2-302）",
        "⬜ 李叔叔（3-2-303）",
    ]
    marked = await press(emu, chair, listing, button(listing, "李叔叔"))
    assert marked.text == "已标记 李叔叔 到场。"
    assert "✅ 李叔叔（3-2-303）" in [label for label, _ in buttons(current(emu, listing))]
    assert "已签到 2 / 5 人\n张阿姨、李叔叔" in text_of(emu, card)

    closed = await press(emu, chair, card, button(card, "结束签到"))
    assert closed.text == "签到已结束，到场 2 人。"
    final = current(emu, card)
    assert "签到已结束：到场 2 / 5 人\n张阿姨、李叔叔" in (final.text or "")
    assert final.buttons == []
    late = await press(emu, uncle, card, button(card, "✋ 签到"), forge=True)
    assert late.text == "⛔ 这次会议的签到已经结束。召集人可再发送 /signin 重新开启。"
    assert_clean(emu, allowed_errors=[UNSTARTED])


async def test_room_home_and_paper_votes_count_with_the_chats(
    local: LocalBot,
) -> None:
    council = await make_council(local)
    emu, chair = council.emu, council.chair
    aunt, _uncle, sister, _master = council.members
    staff = emu.add_user("社工小王", language_code="zh-hans")
    emu.add_member(council.group, staff)
    await _add_staff(council, staff)
    grandma = await _offline_member(council)
    for user in (aunt, staff):
        emu.start_bot(user)
    await council.topic("口袋花园由谁来维护？")
    ballot, ballot_id = await council.ballot()

    # The roll call goes to the chair privately (once the chair has started the bot).
    hint = await council.say(chair, "/rollcall")
    assert hint.text is not None and hint.text.startswith("请先打开与 @")
    emu.start_bot(chair)
    assert (await council.say(chair, "/rollcall")).text == "🙋 现场举手点名表已私信发给您。"
    assert (
        await council.say(aunt, "/rollcall")
    ).text == "⛔ 只有召集人和社工（网格员）可以这样做。"
    roll_call = _private(council, chair)[-1]
    assert roll_call.text is not None
    assert roll_call.text.startswith(f"🙋 现场举手录入 · 表决 #{ballot_id}：口袋花园由谁来维护？")
    assert "李叔叔 · 未表决" in [label for label, _ in buttons(roll_call)]
    await press(emu, chair, roll_call, button(roll_call, "李叔叔"))
    member_view = current(emu, roll_call)
    assert (member_view.text or "").startswith("🙋 为 李叔叔（3-2-303）录入现场举手")
    recorded = await press(emu, chair, member_view, button(member_view, "赞成"))
    # 李叔叔 never opened a private chat with the bot: the chair is told to tell him.
    assert recorded.text == (
        "✅ 已录入：李叔叔 赞成（现场举手）。本人还没有打开与我的私聊，无法私信告知，请当面告知。"
    )
    assert "李叔叔 · 赞成（现场举手）" in [label for label, _ in buttons(current(emu, roll_call))]
    assert "赞成 1" in text_of(emu, ballot)  # the live tally in the group

    # A vote entered after a home visit, and 张阿姨 overriding it by button.
    refused = await say(emu, staff, staff, "/assist 3-2-302 反对")
    assert refused.text is not None and refused.text.startswith("⛔ 用法（私聊）：/assist")
    assert (await council.say(staff, "/assist 3-2-302 反对 入户")).text == (
        "⛔ 请在与我的私聊中使用这个命令。"
    )
    assert (await say(emu, aunt, aunt, "/assist 3-2-303 反对 入户")).text == (
        "⛔ 只有召集人和社工（网格员）可以这样做。"
    )
    assert await vote_events(local, ballot_id) == 1  # the refusals wrote nothing
    entered = await say(emu, staff, staff, "/assist 3-2-302 反对 入户走访，本人口述")
    assert entered.text == (
        "🏠 入户代为录入：表决「口袋花园由谁来维护？」，理由：入户走访，本人口述\n"
        "✅ 已录入：张阿姨 反对（入户代录）。已私信告知本人。"
    )
    notice = _private(council, aunt)[-1]
    assert notice.text == (
        "🗳 社工为您录入了表决「口袋花园由谁来维护？」：反对（入户代录）。\n"
        "如与您的意向不符，请在表决结束前点下方按钮更改（以您自己的选择为准）。"
    )
    changed = await press(emu, aunt, notice, button(notice, "赞成"))
    assert changed.text == "已改为：赞成（原为：反对）"
    await say(emu, staff, staff, "/assist 3-2-305 弃权 电话确认，本人行动不便")

    # Paper ballots: a dry run with its rows in error, then confirmed once.
    check = await _upload(council, staff, PAPER, "/paper")
    assert check.text == (
        f"🧾 纸质票核对 · 表决 #{ballot_id}：口袋花园由谁来维护？\n"
        "文件：纸质票.csv\n"
        "✅ 将录入 1 票：赞成 1\n"
        "⛔ 有误、不录入 2 行：\n"
        "第 3 行：名册上没有「9-9-999」\n"
        "第 4 行：没看懂表决意向「也许」（请写 赞成、反对、弃权，或选项编号）\n"
        "确认后才会录入；有误的行不录入，可改正后重新上传（重复上传同一文件不会重复计票）。"
    )
    assert await vote_events(local, ballot_id) == 4  # nothing recorded by the check
    applied = await press(emu, staff, check, button(check, "确认录入"))
    assert applied.text == "已录入 1 票。"
    assert (current(emu, check).text or "").startswith("🧾 纸质票已录入")
    votes = await current_votes(local, ballot_id)
    assert votes[grandma] == "for"
    twice = await press(emu, staff, check, button(check, "确认录入"), forge=True)
    assert twice.text == "⛔ 这份纸质票已经录入过了。"
    assert await current_votes(local, ballot_id) == votes

    await press(emu, sister, ballot, button(ballot, "赞成"))
    await council.send(chair, "/close")
    outcome = [m for m in bot_messages(emu, council.group) if shown(m).startswith("📣")]
    assert outcome, [shown(m) for m in bot_messages(emu, council.group)][-3:]
    sources = "票源：本人在线 2，网页 0，现场举手 1，纸质票 1，入户代录 1"
    assert sources in outcome_caption(outcome[-1])
    assert_clean(emu, allowed_errors=[UNSTARTED])


async def test_a_secret_ballot_takes_no_raised_hands_and_no_paper(local: LocalBot) -> None:
    council = await make_council(local)
    emu, chair = council.emu, council.chair
    emu.start_bot(chair)
    await council.topic()
    await council.ballot("secret")
    refused = await council.say(chair, "/rollcall")
    assert refused.text == (
        "⛔ 这是无记名表决：现场举手是公开的，不能录入。请成员在私聊中自己投票，或用记名表决。"
    )
    paper = await _upload(council, chair, PAPER, "/paper")
    assert paper.text == "⛔ 这是无记名表决：写明成员的纸质票不保密，不能录入。"
    assert_clean(emu)
