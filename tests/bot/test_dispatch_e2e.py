"""Volunteers and dispatch, end to end: the real bot, the local Bot API emulator, the scheduler.

Residents register as volunteers, order help (居民点单), get private offers with
Accept / Decline buttons, escalate when nobody answers, report work done and earn
service hours; a chair turns a resolution into tasks for member units. Every test
runs on SQLite and on PostgreSQL. The assertions read the chats as the people in
them would; the database is read only to check that nothing was counted twice.
Time is moved with ``time_machine`` and the scheduler is asked to look at its jobs
(``Scheduler.tick``), as its heartbeat would.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from bot.telegram.local import LocalBot, local_bot
from domain import services
from domain.task_rules import Offer, OfferState, Task, TaskState
from emulator import BotApiEmulator, CallbackAnswer, Chat, Entry, Message, User
from emulator.html import utf16_len
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
    group_texts,
    latest_update_id,
    make_council,
    outcome_caption,
    press,
    redeliver,
    say,
    settle_jobs,
    settled,
    shown,
    text_of,
)

GROUP = "杨家园社区小院议事会"
STALE = "⛔ 这个按钮已失效，请使用最新的消息。"
TAKEN = "⛔ 这项任务已由他人接单了，谢谢您！"
ACCEPTED = "✅ 接单成功，谢谢！"
# A 1×1 PNG: what a resident's phone would upload.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a2e5d6a80000000049454e44ae426082"
)


# --- helpers ----------------------------------------------------------------------------


def offers_to(emu: BotApiEmulator, user: User) -> list[Message]:
    """The offers (派单 / A task for you) in ``user``'s private chat, as they stand now.

    Once answered, an offer keeps the task's details (📋 …) and says what became of it.
    """
    return [
        m
        for m in emu.sent_to(user)
        if any(line.startswith("📋 ") for line in shown(m).splitlines())
    ]


def the_offer(emu: BotApiEmulator, user: User) -> Message:
    found = offers_to(emu, user)
    assert len(found) == 1, (user.full_name, [shown(m) for m in emu.sent_to(user)])
    return found[0]


def private_texts(emu: BotApiEmulator, user: User, marker: str) -> list[str]:
    return [shown(m) for m in emu.sent_to(user) if marker in shown(m)]


def last_said_by(emu: BotApiEmulator, chat: Chat, user: User) -> Message:
    said = [m for m in emu.messages(chat) if m.from_user.id == user.id]
    assert said, f"{user.full_name} said nothing in {chat.title}"
    return said[-1]


async def ask(
    council: Council, user: User, text: str, *, reply_to: Message | None = None
) -> Message:
    """``user`` writes ``text`` in the group (answering ``reply_to``); the bot's reply to it.

    The bot quotes the command it answers; offers, card edits and group notices of
    earlier steps may arrive meanwhile, so "the last message" would not do.
    """
    emu = council.emu
    await emu.wait_idle(quiet=QUIET)
    after = emu.event_seq
    sent = await emu.send_text(user, council.group, text, reply_to=reply_to)

    def answers(m: Message) -> bool:
        return m.reply_to_message_id == sent.message_id

    await emu.wait_for_bot_message(council.group, answers, timeout=TIMEOUT, after=after)
    await emu.wait_idle(quiet=QUIET)
    return [m for m in bot_messages(emu, council.group) if answers(m)][-1]


async def send_photo(council: Council, user: User, caption: str) -> tuple[Message, str]:
    """``user`` posts a photo captioned ``caption`` in the group (a phone's upload).

    Returns the bot's reply and the uploaded picture's file_id.
    """
    emu = council.emu
    world = emu._engine.world
    await emu.wait_idle(quiet=QUIET)
    file_id = f"AgACresident{len(world.files) + 1:04d}"
    world.files[file_id] = ("pipe.png", "image/png", PNG)
    command = caption.split()[0]
    message = world.new_message(
        council.group,
        user,
        caption=caption,
        entities=[{"type": "bot_command", "offset": 0, "length": utf16_len(command)}],
        source=caption,
        photo=[
            {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": len(PNG),
                "width": 1,
                "height": 1,
            }
        ],
    )
    emu.transcript.add(
        Entry("user", council.group.label, actor=user.full_name, text=f"🖼 photo — {caption}")
    )
    after = emu.event_seq
    emu._engine.enqueue({"message": message.to_api()})

    def answers(m: Message) -> bool:
        return m.reply_to_message_id == message.message_id or is_request_notice(m, message)

    await emu.wait_for_bot_message(council.group, answers, timeout=TIMEOUT, after=after)
    await emu.wait_idle(quiet=QUIET)
    return [m for m in bot_messages(emu, council.group) if answers(m)][-1], file_id


def is_request_notice(m: Message, request: Message) -> bool:
    """The group's notice of ``request`` (📨 …): the request itself is deleted, so the
    notice answers nothing."""
    return m.message_id > request.message_id and shown(m).startswith("📨")


async def start_privately(council: Council, *users: User) -> None:
    """Each opens the bot and sends /start, so the bot may write to them."""
    for user in users:
        reply = await say(council.emu, user, user, "/start")
        assert (reply.text or "").startswith("👋"), reply.text


async def council_id_of(council: Council) -> int:
    found = await services.find_council(
        council.local.database.uow(), chat_id=council.group.id, thread_id=0
    )
    assert found.id is not None
    return found.id


async def member_id_of(council: Council, user: User) -> int:
    async with council.local.database.uow() as uow:
        member = await uow.members.by_user(await council_id_of(council), user.id)
    assert member is not None and member.id is not None
    return member.id


async def offers_of(council: Council, task_id: int) -> dict[int, list[OfferState]]:
    """member id -> the states of their offers of ``task_id``."""
    async with council.local.database.uow() as uow:
        found: list[Offer] = await uow.offers.for_task(task_id)
    states: dict[int, list[OfferState]] = {}
    for offer in found:
        states.setdefault(offer.member_id, []).append(offer.state)
    return states


async def offer_states(council: Council, task_id: int, users: dict[str, User]) -> dict[str, str]:
    """name -> the state of their one offer of ``task_id`` (missing: never offered)."""
    states = await offers_of(council, task_id)
    result: dict[str, str] = {}
    for name, user in users.items():
        mine = states.get(await member_id_of(council, user), [])
        assert len(mine) <= 1, (name, mine)  # nobody is ever offered one task twice
        if mine:
            result[name] = mine[0].value
    return result


async def task_of(council: Council, task_id: int) -> Task:
    async with council.local.database.uow() as uow:
        found = await uow.tasks.get(task_id)
    assert found is not None
    return found


async def credited(council: Council) -> dict[int, Decimal]:
    """member id -> service hours in the council's ledger."""
    async with council.local.database.uow() as uow:
        return await uow.hours.by_member(await council_id_of(council), None)


async def request(council: Council, user: User, text: str) -> Message:
    """``user`` orders help in the group; the bot's notice of it there (📨 …)."""
    emu = council.emu
    await emu.wait_idle(quiet=QUIET)
    after = emu.event_seq
    sent = await emu.send_text(user, council.group, text)

    def notice(m: Message) -> bool:
        return is_request_notice(m, sent)

    await emu.wait_for_bot_message(council.group, notice, timeout=TIMEOUT, after=after)
    await emu.wait_idle(quiet=QUIET)
    return [m for m in bot_messages(emu, council.group) if notice(m)][-1]


def request_gone(council: Council) -> bool:
    """No request's words are left in the group: neither the member's message nor the bot's."""
    return not any(
        "3-2-302 厨房" in shown(m) or REQUEST_TITLE in shown(m)
        for m in council.emu.messages(council.group)
    )


async def register(council: Council, user: User, args: str) -> str:
    reply = await ask(council, user, f"/volunteer {args}")
    text = reply.text or ""
    assert text.startswith("🙋 已登记为志愿者，谢谢！"), text
    return text


async def press_all(
    emu: BotApiEmulator, presses: list[tuple[User, Message, str]]
) -> list[CallbackAnswer]:
    """Everyone presses at the same moment."""
    await emu.wait_idle(quiet=QUIET)
    answers = await asyncio.gather(
        *(emu.press(user, message, data, timeout=TIMEOUT) for user, message, data in presses)
    )
    await emu.wait_idle(quiet=QUIET)
    return list(answers)


REQUEST = "/request 维修 厨房水管爆了，水漫到客厅\n地点：3-2-302 厨房"
REQUEST_TITLE = "厨房水管爆了，水漫到客厅"
PUBLIC_TITLE = "居民点单（维修）"  # what the group reads of it
DELETED = "为保护隐私，原消息已删除；地址和详情只私信发给志愿者、召集人和社工。"
ACCEPTED_TOLD = "接单，正在安排"


# --- 1. the whole way: request, offers, decline, escalation, accept, done, hours ---------


async def test_request_escalates_until_someone_accepts_then_done_and_hours(
    local: LocalBot, traveller: time_machine.Traveller, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(
        local, residents=("张阿姨", "李叔叔", "刘大姐", "陈师傅", "赵奶奶", "孙老师", "王大爷")
    )
    emu = council.emu
    aunt, uncle, sister, master, granny, teacher, grandpa = council.members
    people = {"李叔叔": uncle, "刘大姐": sister, "陈师傅": master, "赵奶奶": granny,
              "孙老师": teacher, "王大爷": grandpa}  # fmt: skip

    first = await register(council, uncle, "维修")
    assert first == (
        "🙋 已登记为志愿者，谢谢！\n"
        "技能：维修\n"
        "网格：3 · 服务队：— · 可接单\n"
        "修改：/volunteer 维修 网格:3 队:服务队名，暂停接单 /volunteer off。"
    )
    assert "技能：跑腿、维修" in await register(council, sister, "维修 跑腿")
    await register(council, master, "repair")  # the code works as well as the label
    # Two repairers live in another grid: asked only after the neighbours.
    assert "网格：5" in await register(council, granny, "维修 网格:5")
    await register(council, teacher, "维修 网格：5")
    await register(council, grandpa, "理发")  # no repair skill: never asked for a pipe
    registry = await ask(council, aunt, "/volunteers")
    assert (registry.text or "").startswith(f"🙋 {GROUP} · 志愿者 6 人")
    assert "· 王大爷 · 理发 · —" in (registry.text or "")
    await start_privately(council, aunt, *people.values())

    received = await request(council, aunt, REQUEST)
    assert (
        received.text == f"📨 有居民提交了一项服务需求（维修），已私信转交 3 位志愿者。\n{DELETED}"
    )
    assert private_texts(emu, aunt, "已收到点单") == [
        f"📨 已收到点单 #1「{REQUEST_TITLE}」，已私信联系 3 位志愿者，有人接单会告诉您。"
    ]
    await settled(local)

    # The three best (the repairers of the requester's grid) get a private offer.
    for user in (uncle, sister, master):
        offer = the_offer(emu, user)
        lines = shown(offer).splitlines()
        assert lines[:5] == [
            f"📨 派单（{GROUP}）",
            f"📋 任务 #1：{REQUEST_TITLE}",
            "类别：维修",
            "地点：3-2-302 厨房",
            "点单人：张阿姨",
        ], lines
        assert lines[5].startswith("请在 ") and lines[5].endswith(" 前答复。"), lines
        assert [label for label, _ in buttons(offer)] == ["✅ 接单", "不方便"]
    for user in (granny, teacher, grandpa, aunt):
        assert offers_to(emu, user) == [], user.full_name

    # One declines; the others say nothing.
    declined = await press(
        emu, sister, the_offer(emu, sister), button(the_offer(emu, sister), "不方便")
    )
    assert declined.text == "好的，已婉拒。" and not declined.show_alert
    await settled(local)
    after_decline = the_offer(emu, sister)
    assert shown(after_decline).endswith("已婉拒，谢谢告知。") and after_decline.buttons == []
    assert offers_to(emu, granny) == [] and offers_to(emu, teacher) == []

    # Half an hour later the round has run out: the next volunteers are asked.
    await advance(local, traveller, timedelta(minutes=30, seconds=5))
    await settle_jobs(local, runs=1)
    for user in (granny, teacher):
        assert shown(the_offer(emu, user)).startswith(f"📨 派单（{GROUP}）\n📋 任务 #1：")
    assert offers_to(emu, grandpa) == []
    assert len(offers_to(emu, uncle)) == 1  # asked once, not again

    # 赵奶奶 accepts: the requester is told who is coming.
    offer = the_offer(emu, granny)
    answer = await press(emu, granny, offer, button(offer, "接单"))
    assert answer.text == ACCEPTED and not answer.show_alert
    accepted_update = latest_update_id(emu)
    await settled(local)
    mine = the_offer(emu, granny)
    assert shown(mine).splitlines()[-1] == (
        "✅ 您已接单。完成后请点「已完成」，或发送 /finish 任务号 说明。"
    )
    assert [label for label, _ in buttons(mine)] == ["✅ 已完成"]
    told = private_texts(emu, aunt, ACCEPTED_TOLD)
    assert told == [f"🚶 您的点单 #1「{REQUEST_TITLE}」已由 赵奶奶 接单，正在安排。"]

    # A second Accept, by someone else, is refused: the task is taken.
    other = the_offer(emu, teacher)
    late = await press(emu, teacher, other, button(other, "接单"))
    assert late.show_alert and late.text == TAKEN
    expired = the_offer(emu, uncle)
    too_late = await press(emu, uncle, expired, button(expired, "接单"))
    assert too_late.show_alert and too_late.text == TAKEN
    await settled(local)
    assert len(private_texts(emu, aunt, ACCEPTED_TOLD)) == 1

    # Done: the volunteer presses ✅ 已完成; the requester confirms.
    done = await press(emu, granny, mine, button(mine, "已完成"))
    assert done.text == "✅ 已记录完成，志愿服务时长 0.5 小时。谢谢您！"
    done_update = latest_update_id(emu)
    await settled(local)
    # Telegram delivers the Accept and the Done presses once more: nothing happens again.
    assert await redeliver(emu, accepted_update) == []
    assert await redeliver(emu, done_update) == []
    await settled(local)
    finished = the_offer(emu, granny)
    assert shown(finished).splitlines()[-1] == "✅ 已完成（0.5 小时），谢谢！"
    assert finished.buttons == []
    (report,) = [m for m in emu.sent_to(aunt) if "完成" in shown(m) and m.buttons]
    assert shown(report) == (
        f"✅ 点单 #1「{REQUEST_TITLE}」已由 赵奶奶 完成（志愿服务 0.5 小时）。"
        "如属实，请点「确认完成」。"
    )
    assert [label for label, _ in buttons(report)] == ["👍 确认完成"]
    confirmed = await press(emu, aunt, report, button(report, "确认完成"))
    assert confirmed.text == "谢谢确认 🙏"
    await settled(local)
    assert current(emu, report).buttons == []

    # Pressing ✅ 已完成 again (a client that missed the edit) credits nothing twice.
    again = await press(emu, granny, finished, button(mine, "已完成"), forge=True)
    assert again.show_alert and (again.text or "").startswith("⛔")

    hours = await ask(council, granny, "/hours")
    assert hours.text == "⏱ 赵奶奶 的志愿服务时长：0.5 小时"
    nothing = await ask(council, teacher, "/hours")
    assert nothing.text == "⏱ 孙老师 的志愿服务时长：0 小时"
    listed = await ask(council, aunt, "/tasks")
    assert listed.text == f"📋 任务\n✅ #1 {PUBLIC_TITLE} · 已完成，赵奶奶 · 志愿者"
    assert request_gone(council)

    # The database: one credit, one accepted offer, nobody asked twice.
    assert await credited(council) == {await member_id_of(council, granny): Decimal("0.5")}
    assert await offer_states(council, 1, people) == {
        "李叔叔": "expired",
        "刘大姐": "declined",
        "陈师傅": "expired",
        "赵奶奶": "accepted",
        "孙老师": "withdrawn",
    }
    task = await task_of(council, 1)
    assert task.state is TaskState.DONE and task.confirmed and task.round == 2
    # The bot answered the redelivered presses, which Telegram (and the emulator) reject.
    assert_clean(emu, caplog, allowed_errors=["query is too old"])


async def test_when_every_round_runs_out_the_chairs_are_asked_in_the_group(
    local: LocalBot, traveller: time_machine.Traveller, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(
        local, residents=("张阿姨", "李叔叔", "刘大姐", "陈师傅", "赵奶奶")
    )
    emu = council.emu
    aunt, *volunteers = council.members
    for user in volunteers:
        await register(council, user, "维修")
    await start_privately(council, council.chair, aunt, *volunteers)
    await request(council, aunt, REQUEST)
    await settled(local)
    assert [len(offers_to(emu, u)) for u in volunteers] == [1, 1, 1, 0]

    await advance(local, traveller, timedelta(minutes=30, seconds=5))
    await settle_jobs(local, runs=1)
    assert [len(offers_to(emu, u)) for u in volunteers] == [1, 1, 1, 1]

    # The second round (赵奶奶 alone) runs out too: nobody is left to ask.
    await advance(local, traveller, timedelta(minutes=30, seconds=5))
    await settle_jobs(local, runs=2, timeout=3)
    exhausted = group_texts(council, "暂时没有志愿者能接")
    assert exhausted == [f"⚠️ 任务 #1「{PUBLIC_TITLE}」暂时没有志愿者能接。请 召集人 协调安排。"]
    # The chair, who must arrange it, is told privately what and where.
    assert private_texts(emu, council.chair, "暂时没有志愿者能接") == [
        f"⚠️ 这项点单暂时没有志愿者能接，请协调安排（{GROUP}）：\n"
        f"📋 任务 #1：{REQUEST_TITLE}\n类别：维修\n地点：3-2-302 厨房\n点单人：张阿姨"
    ]
    listed = await ask(council, aunt, "/tasks")
    assert listed.text == f"📋 任务\n⚠️ #1 {PUBLIC_TITLE} · 无人接单 · 志愿者"
    assert request_gone(council)
    assert_clean(emu, caplog)


# --- 2. two volunteers press Accept at the same moment -----------------------------------


async def test_two_accepts_at_the_same_moment_give_the_task_to_exactly_one(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔", "刘大姐"))
    emu = council.emu
    aunt, uncle, sister = council.members
    await register(council, uncle, "维修")
    # 刘大姐 uses the skill picker: a bare /volunteer, then a tap on 维修.
    picker = await ask(council, sister, "/volunteer")
    assert picker.text == "🙋 请点选您能提供的志愿服务（可多选，再点一次取消）："
    assert [label for label, _ in buttons(picker)][:3] == ["维修", "健康", "理发"]
    tapped = await press(emu, sister, picker, button(picker, "维修"))
    assert tapped.text == "已添加：维修。 现在：维修"
    await start_privately(council, aunt, uncle, sister)
    received = await request(council, aunt, REQUEST)
    assert "已私信转交 2 位志愿者" in (received.text or "")
    await settled(local)
    first, second = the_offer(emu, uncle), the_offer(emu, sister)

    answers = await press_all(
        emu, [(uncle, first, button(first, "接单")), (sister, second, button(second, "接单"))]
    )
    await settled(local)
    texts = sorted(a.text or "" for a in answers)
    assert texts == sorted([ACCEPTED, TAKEN]), texts
    winner, loser = (uncle, sister) if answers[0].text == ACCEPTED else (sister, uncle)
    assert [a.show_alert for a in answers] == [a.text == TAKEN for a in answers]

    told = private_texts(emu, aunt, ACCEPTED_TOLD)
    assert told == [f"🚶 您的点单 #1「{REQUEST_TITLE}」已由 {winner.first_name} 接单，正在安排。"]
    assert group_texts(council, "接单，正在安排") == []
    assert [label for label, _ in buttons(the_offer(emu, winner))] == ["✅ 已完成"]
    assert [label for label, _ in buttons(the_offer(emu, loser))] == ["✅ 接单", "不方便"]

    states = await offers_of(council, 1)
    assert states == {
        await member_id_of(council, winner): [OfferState.ACCEPTED],
        await member_id_of(council, loser): [OfferState.WITHDRAWN],
    }
    task = await task_of(council, 1)
    assert task.state is TaskState.ACCEPTED
    assert task.accepted_by == await member_id_of(council, winner)
    listed = await ask(council, aunt, "/tasks")
    assert listed.text == (f"📋 任务\n🚶 #1 {PUBLIC_TITLE} · 已接单，{winner.first_name} · 志愿者")
    assert_clean(emu, caplog)


# --- 3. a volunteer who never started the bot -------------------------------------------


def mentions(council: Council, marker: str) -> list[str]:
    """The tg://user links in the group messages containing ``marker``."""
    return [
        entity["url"]
        for m in bot_messages(council.emu, council.group)
        if marker in shown(m)
        for entity in m.entities
        if entity.get("type") == "text_link"
    ]


async def test_a_volunteer_the_bot_cannot_write_to_is_named_in_the_group_and_the_task_goes_on(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(
        local, residents=("张阿姨", "李叔叔", "刘大姐", "陈师傅", "赵奶奶")
    )
    emu = council.emu
    aunt, uncle, sister, master, granny = council.members
    people = {"李叔叔": uncle, "刘大姐": sister, "陈师傅": master, "赵奶奶": granny}
    for user in people.values():
        await register(council, user, "维修")
    # 李叔叔 (the best ranked) never opened the bot; the requester did not either.
    await start_privately(council, sister, master, granny)

    received = await request(council, aunt, REQUEST)
    # The requester never opened the bot either: named in the group, and asked to.
    assert received.text == (
        f"📨 有居民提交了一项服务需求（维修），已私信转交 3 位志愿者。\n{DELETED}\n"
        f"张阿姨：我还不能私信您。请点开 @{emu.bot_username} 发送 /start，点单进展会私信告诉您。"
    )
    assert [e["url"] for e in received.entities if e.get("type") == "text_link"] == [
        f"tg://user?id={aunt.id}"
    ]
    await settled(local)

    asked = group_texts(council, "📢")
    assert asked == [
        f"📢 李叔叔：有一项任务「{PUBLIC_TITLE}」想派给您，但我还不能私信您。"
        f"请点开 @{emu.bot_username} 发送 /start，以后就能收到派单。"
    ]
    assert mentions(council, "📢") == [f"tg://user?id={uncle.id}"]
    assert emu.sent_to(uncle) == []
    assert len(offers_to(emu, sister)) == len(offers_to(emu, master)) == 1
    assert offers_to(emu, granny) == []

    # The two who were reached decline: the task goes on to the next volunteer.
    for user in (sister, master):
        offer = the_offer(emu, user)
        assert (await press(emu, user, offer, button(offer, "不方便"))).text == "好的，已婉拒。"
    await settled(local)
    offer = the_offer(emu, granny)
    assert shown(offer).startswith(f"📨 派单（{GROUP}）\n📋 任务 #1：{REQUEST_TITLE}")
    assert (await press(emu, granny, offer, button(offer, "接单"))).text == ACCEPTED
    await settled(local)

    # The requester never opened the bot either: told in the group, by name.
    told = group_texts(council, ACCEPTED_TOLD)
    assert told == [f"张阿姨：🚶 您的点单 #1「{PUBLIC_TITLE}」已由 赵奶奶 接单，正在安排。"]
    assert request_gone(council)

    # 李叔叔 starts the bot now: no stale offer reaches him, nothing is said twice.
    await start_privately(council, uncle)
    await settled(local)
    assert offers_to(emu, uncle) == []
    assert len(group_texts(council, "📢")) == 1
    assert await offer_states(council, 1, people) == {
        "李叔叔": "unreachable",
        "刘大姐": "declined",
        "陈师傅": "declined",
        "赵奶奶": "accepted",
    }
    assert_clean(emu, caplog, allowed_errors=["403", "initiate conversation"])


async def test_when_none_of_the_best_can_be_reached_the_next_volunteer_is_asked_at_once(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(
        local, residents=("张阿姨", "李叔叔", "刘大姐", "陈师傅", "赵奶奶")
    )
    emu = council.emu
    aunt, uncle, sister, master, granny = council.members
    for user in (uncle, sister, master, granny):
        await register(council, user, "维修")
    await start_privately(council, aunt, granny)  # the three best never opened the bot

    await request(council, aunt, REQUEST)
    await settled(local)
    asked = group_texts(council, "📢")
    assert sorted(asked) == sorted(
        f"📢 {user.first_name}：有一项任务「{PUBLIC_TITLE}」想派给您，但我还不能私信您。"
        f"请点开 @{emu.bot_username} 发送 /start，以后就能收到派单。"
        for user in (uncle, sister, master)
    )
    assert sorted(mentions(council, "📢")) == sorted(
        f"tg://user?id={user.id}" for user in (uncle, sister, master)
    )
    # Nobody of the first round could be reached: the round is over, 赵奶奶 is asked now.
    offer = the_offer(emu, granny)
    assert (await press(emu, granny, offer, button(offer, "接单"))).text == ACCEPTED
    await settled(local)
    assert private_texts(emu, aunt, ACCEPTED_TOLD) == [
        f"🚶 您的点单 #1「{REQUEST_TITLE}」已由 赵奶奶 接单，正在安排。"
    ]
    task = await task_of(council, 1)
    assert task.state is TaskState.ACCEPTED and task.round == 2
    assert_clean(emu, caplog, allowed_errors=["403", "initiate conversation"])


# --- 4. a resolution divided among member units ------------------------------------------


def card_progress(emu: BotApiEmulator, card: Message) -> list[str]:
    """The 落实任务 part of the topic card, as it stands now."""
    lines = text_of(emu, card).splitlines()
    at = next((n for n, line in enumerate(lines) if line.startswith("落实任务")), None)
    return [] if at is None else lines[at : at + 4]


async def card_shows(local: LocalBot, card: Message, expected: list[str]) -> None:
    """The topic card's progress comes to begin with ``expected`` (it is edited last of all
    the bot does for a press, so give it the time it takes)."""
    emu = local.emulator
    deadline = time.monotonic() + TIMEOUT
    while card_progress(emu, card)[: len(expected)] != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await settled(local)
    assert card_progress(emu, card)[: len(expected)] == expected, text_of(emu, card)


async def test_a_resolution_becomes_three_unit_tasks_and_the_card_counts_them_done(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local)
    emu, chair = council.emu, council.chair
    aunt, uncle, sister, master = council.members
    card, topic_id = await council.topic("在东侧空地建口袋花园")
    ballot, _ = await council.ballot()
    for user in (chair, aunt, uncle, sister, master):
        await press(emu, user, ballot, button(ballot, "赞成"))
    outcome = await council.say(chair, "/close")
    assert outcome_caption(outcome).splitlines()[1] == "✅ 通过"
    assert "阶段：已决定" in text_of(emu, card)
    assert card_progress(emu, card) == []

    # Three member units, each registered as a reply to its contact's message.
    units = {"物业公司": (sister, "维修"), "园林绿化站": (master, ""),
             "社区卫生服务站": (uncle, "健康")}  # fmt: skip
    for name, (contact, service) in units.items():
        await council.send(contact, f"我是{name}的联系人", expect_reply=False)
        said = last_said_by(emu, council.group, contact)
        added = await ask(council, chair, f"/unit {name} {service}".strip(), reply_to=said)
        assert added.text == f"🏢 成员单位「{name}」已登记。"
    registry = await ask(council, aunt, "/volunteers")
    assert "🏢 物业公司 · 服务：维修" in (registry.text or "")
    assert "🏢 园林绿化站 · 服务：—" in (registry.text or "")
    await start_privately(council, uncle, sister, master)

    orders = [
        (
            f"/task #{topic_id} 清运建筑垃圾 单位:物业公司 截止:后天18:00",
            "清运建筑垃圾",
            "物业公司",
        ),
        # As the help writes it: the time after the date, apart.
        ("/task 设计花园方案 单位:园林绿化站 截止:后天 18:00", "设计花园方案", "园林绿化站"),
        ("/task 组织义诊宣传 单位：社区卫生服务站", "组织义诊宣传", "社区卫生服务站"),
    ]
    for n, (command, title, unit) in enumerate(orders, 1):
        created = await ask(council, chair, command)
        assert created.text == f"📋 任务 #{n}「{title}」已派给成员单位「{unit}」（1 人收到派单）。"
    await card_shows(
        local,
        card,
        [
            "落实任务：0/3 完成",
            "📨 清运建筑垃圾 · 派单中",
            "📨 设计花园方案 · 派单中",
            "📨 组织义诊宣传 · 派单中",
        ],
    )

    # Each unit's contact gets the offer of their unit's task, and only that one.
    for n, (_, title, unit) in enumerate(orders, 1):
        contact = units[unit][0]
        offer = the_offer(emu, contact)
        lines = shown(offer).splitlines()
        assert lines[:2] == [f"📨 派单（{GROUP}）", f"📋 任务 #{n}：{title}"], lines
        assert [label for label, _ in buttons(offer)] == ["✅ 接单", "不方便"]
    for contact in (sister, master):
        offer_lines = shown(the_offer(emu, contact)).splitlines()
        assert any(line.startswith("完成期限：") and "18:00" in line for line in offer_lines)
    assert emu.sent_to(aunt) == []

    # 物业公司 takes its task and reports it done with the button.
    offer = the_offer(emu, sister)
    assert (await press(emu, sister, offer, button(offer, "接单"))).text == ACCEPTED
    await card_shows(
        local,
        card,
        [
            "落实任务：0/3 完成",
            "🚶 清运建筑垃圾 · 已接单，刘大姐",
        ],
    )
    mine = the_offer(emu, sister)
    done = await press(emu, sister, mine, button(mine, "已完成"))
    assert (done.text or "").startswith("✅ 已记录完成")
    await card_shows(
        local,
        card,
        [
            "落实任务：1/3 完成",
            "✅ 清运建筑垃圾 · 已完成，刘大姐",
        ],
    )

    # 园林绿化站 accepts, then reports with /finish in the group, with hours and a note.
    offer = the_offer(emu, master)
    assert (await press(emu, master, offer, button(offer, "接单"))).text == ACCEPTED
    finished = await ask(council, master, "/finish 2 2h 方案图已交给议事会")
    assert finished.text == "✅ 已记录完成，志愿服务时长 2 小时。谢谢您！"
    await card_shows(
        local,
        card,
        [
            "落实任务：2/3 完成",
            "✅ 清运建筑垃圾 · 已完成，刘大姐",
            "✅ 设计花园方案 · 已完成，陈师傅",
        ],
    )

    # 社区卫生服务站 last.
    offer = the_offer(emu, uncle)
    assert (await press(emu, uncle, offer, button(offer, "接单"))).text == ACCEPTED
    await settled(local)
    mine = the_offer(emu, uncle)
    await press(emu, uncle, mine, button(mine, "已完成"))
    await card_shows(
        local,
        card,
        [
            "落实任务：3/3 完成",
            "✅ 清运建筑垃圾 · 已完成，刘大姐",
            "✅ 设计花园方案 · 已完成，陈师傅",
            "✅ 组织义诊宣传 · 已完成，李叔叔",
        ],
    )
    listed = await ask(council, aunt, "/tasks")
    assert (listed.text or "").splitlines()[1:] == [
        "✅ #3 组织义诊宣传 · 已完成，李叔叔 · 成员单位「社区卫生服务站」",
        "✅ #2 设计花园方案 · 已完成，陈师傅 · 成员单位「园林绿化站」",
        "✅ #1 清运建筑垃圾 · 已完成，刘大姐 · 成员单位「物业公司」",
    ]
    hours = await ask(council, master, "/hours")
    assert hours.text == "⏱ 陈师傅 的志愿服务时长：2 小时"

    # Each task credited once, to its unit's contact.
    ledger = await credited(council)
    assert ledger == {
        await member_id_of(council, sister): Decimal("0.5"),
        await member_id_of(council, master): Decimal("2"),
        await member_id_of(council, uncle): Decimal("0.5"),
    }
    for n in (1, 2, 3):
        assert [s for states in (await offers_of(council, n)).values() for s in states] == [
            OfferState.ACCEPTED
        ]
    assert_clean(emu, caplog)


# --- 5. refusals, and an English council -------------------------------------------------


async def test_bad_dispatch_commands_and_forged_buttons_are_refused_and_change_nothing(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local)
    emu, chair = council.emu, council.chair
    aunt, uncle, sister, master = council.members
    await register(council, uncle, "维修")
    await register(council, sister, "维修")
    await start_privately(council, aunt, uncle, sister)

    # /request with nothing to ask for, and from someone not on the roll.
    usage = await ask(council, aunt, "/request")
    assert usage.text == (
        "⛔ 用法：/request 类别 描述，换行写 地点：3-2-301，例如 /request 维修 厨房水管爆了。"
        "也可以发照片，说明写 /request …。"
    )
    only_place = await ask(council, aunt, "/request 维修\n地点：3-2-301")
    assert only_place.text == "⛔ 请写上需要什么帮助。"
    outsider = await ask(council, council.outsider, "/request 维修 水管漏了")
    assert (outsider.text or "").startswith("⛔ 您还不在本议事会名册上")
    in_private = await say(emu, aunt, aunt, "/request 维修 水管漏了")
    assert in_private.text == "⛔ 请在议事会群里使用这个命令。"
    assert (await ask(council, aunt, "/tasks")).text == (
        "暂无任务。居民可发送 /request 维修 描述 点单。"
    )

    # /volunteer with a skill the council does not have.
    unknown = await ask(council, master, "/volunteer 烹饪")
    assert unknown.text == (
        "⛔ 没有「烹饪」这项技能。可选：维修、健康、理发、调解、法律、跑腿、助残助行、陪伴。"
    )
    registry = await ask(council, master, "/volunteers")
    assert (registry.text or "").startswith(f"🙋 {GROUP} · 志愿者 2 人")
    assert "陈师傅" not in (registry.text or "")

    # /task: not by a member, not without a decided topic, not for a unit that is not there.
    assert (
        await ask(council, aunt, "/task 修路灯 单位:物业公司")
    ).text == "⛔ 只有召集人可以这样做。"
    assert (await ask(council, chair, "/task 修路灯 单位:物业公司")).text == (
        "⛔ 还没有已决定的议题。任务要从决议中分解出来。"
    )
    await council.topic("小区路灯不亮")
    ballot, _ = await council.ballot()
    for user in (chair, aunt, uncle):
        await press(emu, user, ballot, button(ballot, "赞成"))
    await council.say(chair, "/close")
    assert (
        await ask(council, aunt, "/task 修路灯 单位:物业公司")
    ).text == "⛔ 只有召集人可以这样做。"
    assert (await ask(council, chair, "/task 修路灯 单位:物业公司")).text == (
        "⛔ 没有找到成员单位「物业公司」。召集人可发送 /unit 名称 登记。"
    )
    assert (await ask(council, chair, "/task 修路灯")).text == (
        "⛔ 用法：/task 标题 单位:名称、/task 标题 队:服务队名，或回复某人的消息 /task 标题；"
        "可加 截止:12-05 18:00。取消：/task cancel 任务号。"
    )
    assert (await ask(council, chair, "/unit 物业公司 烹饪")).text == (
        "⛔ 没有「烹饪」这项技能。可选：维修、健康、理发、调解、法律、跑腿、助残助行、陪伴。"
    )
    assert (await ask(council, aunt, "/unit 物业公司")).text == "⛔ 只有召集人可以这样做。"
    assert (await ask(council, aunt, "/tasks")).text == (
        "暂无任务。居民可发送 /request 维修 描述 点单。"
    )

    # A real request; 李叔叔 takes it.
    await request(council, aunt, REQUEST)
    await settled(local)
    offer = the_offer(emu, uncle)
    theirs = the_offer(emu, sister)
    accept = button(offer, "接单")

    # Forged offer buttons: a broken signature, another offer's id, someone else's offer.
    action, target, answer, mac = accept.split(":")
    assert (action, answer) == ("o", "y")
    forgeries = {
        "tampered signature": f"{action}:{target}:{answer}:AAAAAAAA",
        "another offer, old signature": f"{action}:{int(target) + 1}:{answer}:{mac}",
        "accept turned decline, old signature": f"{action}:{target}:n:{mac}",
        "no signature": f"{action}:{target}:{answer}",
        "garbage": "o:hello",
    }
    for what, data in forgeries.items():
        refused = await press(emu, uncle, offer, data, forge=True)
        assert refused.show_alert and refused.text == STALE, (what, refused.text)
    # 刘大姐 presses a correctly signed Accept of 李叔叔's offer (a leaked button).
    leaked = await press(emu, sister, theirs, accept, forge=True)
    assert leaked.show_alert and leaked.text == STALE
    unknown_offer = local.deps.signer.data("o", 999, "y")
    missing = await press(emu, uncle, offer, unknown_offer, forge=True)
    assert missing.show_alert and missing.text == STALE
    await settled(local)
    assert private_texts(emu, aunt, ACCEPTED_TOLD) == []
    assert [s for states in (await offers_of(council, 1)).values() for s in states] == [
        OfferState.PENDING,
        OfferState.PENDING,
    ]

    assert (await press(emu, uncle, offer, accept)).text == ACCEPTED
    await settled(local)

    # /finish by someone who did not take it; a confirmation by someone who did not ask.
    not_theirs = await ask(council, sister, "/finish 1 已修好")
    assert not_theirs.text == "⛔ 只有接单的志愿者或召集人可以报告完成。"
    assert (await ask(council, uncle, "/finish")).text == (
        "⛔ 用法：/finish 任务号 [时长] [说明]，例如 /finish 5 2h 已换好水管。"
    )
    assert (await ask(council, uncle, "/finish 99")).text == "⛔ 没有找到这个任务。"
    assert (await ask(council, uncle, "/finish 1 20h 修了一整天")).text == (
        "⛔ 时长不对：请在 0 到 12 小时之间。"
    )
    confirm_data = local.deps.signer.data("c", 1)
    stranger = await press(emu, sister, theirs, confirm_data, forge=True)
    assert stranger.show_alert and stranger.text == "⛔ 只有点单的居民可以确认完成。"
    # The requester confirms before anything was done: too early.
    early = await press(emu, aunt, emu.sent_to(aunt)[-1], confirm_data, forge=True)
    assert early.show_alert and (early.text or "").startswith("⛔ 这项任务当前不能这样做（")
    assert await credited(council) == {}
    assert (await task_of(council, 1)).state is TaskState.ACCEPTED

    # The one who took it finishes; a second /finish counts nothing again.
    done = await ask(council, uncle, "/finish 1 1h30m 换了阀门")
    assert done.text == "✅ 已记录完成，志愿服务时长 1.5 小时。谢谢您！"
    again = await ask(council, uncle, "/finish 1")
    assert (again.text or "").startswith("⛔ 这项任务当前不能这样做（")
    assert (await press(emu, uncle, offer, accept, forge=True)).show_alert
    assert list((await credited(council)).values()) == [Decimal("1.5")]
    (report,) = [m for m in emu.sent_to(aunt) if m.buttons]
    assert shown(report).splitlines() == [
        f"✅ 点单 #1「{REQUEST_TITLE}」已由 李叔叔 完成（志愿服务 1.5 小时）。"
        "如属实，请点「确认完成」。",
        "说明：换了阀门",
    ]
    assert_clean(emu, caplog)


async def accepted_request(council: Council) -> tuple[User, User]:
    """张阿姨 asks for repair; 李叔叔 takes it. Returns (requester, volunteer)."""
    emu = council.emu
    aunt, uncle, *_ = council.members
    await register(council, uncle, "维修")
    await start_privately(council, aunt, uncle)
    await request(council, aunt, REQUEST)
    await settled(council.local)
    offer = the_offer(emu, uncle)
    assert (await press(emu, uncle, offer, button(offer, "接单"))).text == ACCEPTED
    await settled(council.local)
    return aunt, uncle


async def test_a_refusal_about_a_tasks_state_names_the_state_in_chinese(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local)
    emu = council.emu
    aunt, uncle = await accepted_request(council)
    early = await press(
        emu, aunt, emu.sent_to(aunt)[-1], council.local.deps.signer.data("c", 1), forge=True
    )
    assert early.show_alert and early.text == "⛔ 这项任务当前不能这样做（已接单）。"
    await ask(council, uncle, "/finish 1")
    again = await ask(council, uncle, "/finish 1")
    assert again.text == "⛔ 这项任务当前不能这样做（已完成）。"
    assert_clean(emu, caplog)


async def test_the_requester_cancels_a_request_and_its_offers_are_withdrawn(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local)
    emu = council.emu
    aunt, uncle, sister, *_ = council.members
    await register(council, uncle, "维修")
    await start_privately(council, aunt, uncle)
    await request(council, aunt, REQUEST)
    await settled(council.local)
    refused = await ask(council, sister, "/task cancel 1")
    assert refused.text == "⛔ 只有召集人可以这样做。"
    cancelled = await ask(council, aunt, "/task cancel 1")
    assert cancelled.text == f"🚫 任务 #1「{PUBLIC_TITLE}」已取消，未答复的派单已撤回。"
    offer = the_offer(emu, uncle)
    late = await press(emu, uncle, offer, button(offer, "接单"))
    assert late.show_alert and late.text == "⛔ 这项任务当前不能这样做（已取消）。"
    assert (await task_of(council, 1)).state.value == "cancelled"
    assert_clean(emu, caplog)


async def test_finish_with_decimal_hours_credits_them(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local)
    _aunt, uncle = await accepted_request(council)
    done = await ask(council, uncle, "/finish 1 1.5h 换了阀门")
    assert done.text == "✅ 已记录完成，志愿服务时长 1.5 小时。谢谢您！"
    assert list((await credited(council)).values()) == [Decimal("1.5")]
    assert (await task_of(council, 1)).note == "换了阀门"
    assert_clean(council.emu, caplog)


async def test_an_english_council_sends_english_offers(
    migrated_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with local_bot(migrated_url, language="en") as local:
        council = await make_council(local, residents=("Alice", "Bob", "Carol"), language_code="en")
        emu = council.emu
        alice, bob, carol = council.members
        # A Chinese-speaking neighbour on the same council.
        wang = emu.add_user("王大爷", language_code="zh-hans")
        emu.add_member(council.group, wang)
        assert (await ask(council, wang, "/join 3-2-309")).text is not None

        registered = await ask(council, bob, "/volunteer repair")
        assert (registered.text or "").splitlines()[:3] == [
            "🙋 You are registered as a volunteer, thank you!",
            "Skills: repair",
            "Grid: 3 · Team: — · taking tasks",
        ]
        unknown = await ask(council, carol, "/volunteer cooking")
        assert (unknown.text or "").startswith(
            "⛔ There is no skill “cooking”. Choose from: repair"
        )
        await ask(council, carol, "/volunteer repair")
        await ask(council, wang, "/volunteer 维修")
        await start_privately(council, alice, bob, carol, wang)

        usage = await ask(council, alice, "/request")
        assert (usage.text or "").startswith("⛔ Usage: /request category description")
        received = await request(
            council, alice, "/request repair The kitchen pipe burst\nplace: 1-1-101"
        )
        assert received.text == (
            "📨 A resident asked for help (repair); 3 volunteers were asked privately.\n"
            "For privacy the message was deleted; the address and details go only privately "
            "to the volunteers, the chairs and staff."
        )
        assert private_texts(emu, alice, "received") == [
            "📨 Request #1 “The kitchen pipe burst” received; 3 volunteers were asked privately. "
            "You will be told who comes."
        ]
        await settled(local)
        offer = the_offer(emu, bob)
        lines = shown(offer).splitlines()
        assert lines[:5] == [
            f"📨 A task for you ({GROUP})",
            "📋 Task #1: The kitchen pipe burst",
            "Kind: repair",
            "Where: 1-1-101",
            "Asked by: Alice",
        ], lines
        assert lines[5].startswith("Please answer by "), lines
        assert [label for label, _ in buttons(offer)] == ["✅ Accept", "Decline"]
        # The Chinese speaker gets the same offer in Chinese.
        theirs = shown(the_offer(emu, wang)).splitlines()
        assert theirs[:3] == [
            f"📨 派单（{GROUP}）",
            "📋 任务 #1：The kitchen pipe burst",
            "类别：维修",
        ]

        declined = await press(
            emu, carol, the_offer(emu, carol), button(the_offer(emu, carol), "Decline")
        )
        assert declined.text == "OK, declined."
        await settled(local)
        assert shown(the_offer(emu, carol)).endswith("Declined; thank you for saying so.")
        answer = await press(emu, bob, offer, button(offer, "Accept"))
        assert answer.text == "✅ It is yours, thank you!"
        await settled(local)
        mine = the_offer(emu, bob)
        assert shown(mine).splitlines()[-1] == (
            "✅ It is yours. When done, tap “Done” or send /finish task note."
        )
        assert [label for label, _ in buttons(mine)] == ["✅ Done"]
        late = await press(emu, wang, the_offer(emu, wang), button(the_offer(emu, wang), "接单"))
        assert late.show_alert and late.text == TAKEN
        assert private_texts(emu, alice, "was taken by") == [
            "🚶 Your request #1 “The kitchen pipe burst” was taken by Bob."
        ]
        done = await press(emu, bob, mine, button(mine, "Done"))
        assert done.text == "✅ Recorded as done: 0.5 service hours. Thank you!"
        await settled(local)
        (report,) = [m for m in emu.sent_to(alice) if m.buttons]
        assert shown(report) == (
            "✅ Request #1 “The kitchen pipe burst” was done by Bob (0.5 service hours). "
            "If so, please tap “Confirm”."
        )
        assert [label for label, _ in buttons(report)] == ["👍 Confirm"]
        assert (await press(emu, alice, report, button(report, "Confirm"))).text == (
            "Thank you for confirming 🙏"
        )
        hours = await ask(council, bob, "/hours")
        assert hours.text == "⏱ Bob's service hours: 0.5"
        assert_clean(emu, caplog)


# --- 6. a request with a photo ----------------------------------------------------------


async def test_a_photo_request_reaches_the_volunteer_as_a_photo_with_the_caption(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu = council.emu
    aunt, uncle = council.members
    await register(council, uncle, "维修")
    await start_privately(council, aunt, uncle)

    received, uploaded = await send_photo(
        council, aunt, "/request 维修 卫生间吊顶漏水，见照片\n地点：3-2-302"
    )
    assert (
        received.text == f"📨 有居民提交了一项服务需求（维修），已私信转交 1 位志愿者。\n{DELETED}"
    )
    assert private_texts(emu, aunt, "已收到点单") == [
        "📨 已收到点单 #1「卫生间吊顶漏水，见照片」，已私信联系 1 位志愿者，有人接单会告诉您。"
    ]
    assert not [m for m in emu.messages(council.group) if m.photo is not None]  # deleted
    await settled(local)
    (offer,) = [m for m in emu.sent_to(uncle) if m.photo is not None]
    assert offer.text is None and offer.caption is not None
    assert offer.caption.splitlines()[:5] == [
        f"📨 派单（{GROUP}）",
        "📋 任务 #1：卫生间吊顶漏水，见照片",
        "类别：维修",
        "地点：3-2-302",
        "点单人：张阿姨",
    ]
    assert [label for label, _ in buttons(offer)] == ["✅ 接单", "不方便"]
    # The very picture the resident took.
    files = emu._engine.world.files
    assert offer.photo is not None
    assert files[offer.photo[-1]["file_id"]][2] == files[uploaded][2] == PNG

    assert_clean(emu, caplog)


async def test_accepting_a_photo_offer_turns_it_into_yours_with_a_done_button(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu = council.emu
    aunt, uncle = council.members
    await register(council, uncle, "维修")
    await start_privately(council, aunt, uncle)
    await send_photo(council, aunt, "/request 维修 卫生间吊顶漏水，见照片\n地点：3-2-302")
    await settled(local)
    (offer,) = [m for m in emu.sent_to(uncle) if m.photo is not None]

    answer = await press(emu, uncle, offer, button(offer, "接单"))
    assert answer.text == ACCEPTED
    await settled(local)
    mine = current(emu, offer)
    assert [label for label, _ in buttons(mine)] == ["✅ 已完成"], shown(mine)
    assert shown(mine).splitlines()[-1] == (
        "✅ 您已接单。完成后请点「已完成」，或发送 /finish 任务号 说明。"
    )
    # The requester is told straight away, as with a text request.
    assert private_texts(emu, aunt, ACCEPTED_TOLD) == [
        "🚶 您的点单 #1「卫生间吊顶漏水，见照片」已由 李叔叔 接单，正在安排。"
    ]
    done = await press(emu, uncle, mine, button(mine, "已完成"))
    assert (done.text or "").startswith("✅ 已记录完成")
    await settled(local)
    assert shown(current(emu, offer)).splitlines()[-1].startswith("✅ 已完成（")
    assert_clean(emu, caplog)
