"""An edited command edits, it does not repeat: end to end, through the emulator.

A member edits a message they sent (Telegram sends an ``edited_message``): an edited
``/propose`` edits its proposal while nobody seconded it and the topic still collects
proposals, and is refused otherwise; any other edited command is not run again, and
the member is told so once. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import pytest

from bot.telegram.local import LocalBot
from domain import services
from emulator import BotApiEmulator, Chat, Message, User
from tests.bot.conftest import (
    QUIET,
    TIMEOUT,
    Council,
    assert_clean,
    bot_messages,
    button,
    current,
    latest_update_id,
    make_council,
    press,
    proposals_of,
    say,
    start_command,
    text_of,
)

NOT_AGAIN = "✏️ 编辑过的命令不会再执行一次；如需执行，请重新发送。"
DRAFT_UNCHANGED = (
    "✏️ 编辑过的消息不会再处理一次，草稿仍是原来的文字。要补充，请再发一条；"
    "要重写，请发送 /cancel 后从议题卡片重新开始。"
)


async def write(council: Council, user: User, text: str) -> tuple[Message, Message]:
    """``user`` writes ``text`` in the group: their message, and the bot's last reply."""
    emu = council.emu
    await emu.wait_idle(quiet=QUIET)
    after = emu.event_seq
    mine = await emu.send_text(user, council.group, text, thread_id=council.thread_id)
    await emu.wait_for_bot_message(council.group, after=after, timeout=TIMEOUT)
    await emu.wait_idle(quiet=QUIET)
    replies = [m for m in bot_messages(emu, council.group) if m.message_id > mine.message_id]
    assert replies, f"the bot posted nothing in reply to {text!r}"
    return mine, replies[-1]


async def write_privately(emu: BotApiEmulator, user: User, text: str) -> tuple[Message, Message]:
    """``user`` writes ``text`` to the bot privately: their message, and the bot's reply."""
    await emu.wait_idle(quiet=QUIET)
    after = emu.event_seq
    mine = await emu.send_text(user, user, text)
    reply = await emu.wait_for_bot_message(user, after=after, timeout=TIMEOUT)
    await emu.wait_idle(quiet=QUIET)
    return mine, reply


async def edit(
    emu: BotApiEmulator,
    user: User,
    message: Message,
    text: str,
    *,
    replies: int,
    ping: Chat | User | None = None,
) -> tuple[list[str], int]:
    """``user`` edits ``message`` to ``text``: what the bot posted or edited meanwhile,
    and the edit's update id.

    Waits for ``replies`` bot messages or edits, then makes sure the edit was handled
    before looking: the same member's next message is handled after it (per-person
    order), so the answer to ``/help`` in ``ping`` (their private chat unless given)
    means the bot is done with the edit, whatever it did or did not say.
    """
    await emu.wait_idle(quiet=QUIET)
    seen, after = len(emu.transcript.entries), emu.event_seq
    await emu.edit_text(user, message, text)
    update_id = latest_update_id(emu)
    for k in range(replies):
        await emu.wait_for_bot_message(after=after + k, timeout=TIMEOUT)
    return await _after_ping(emu, user, seen, ping), update_id


async def redeliver(
    emu: BotApiEmulator, user: User, update_id: int, *, ping: Chat | User | None = None
) -> list[str]:
    """``user``'s update delivered again: what the bot posted or edited meanwhile."""
    await emu.wait_idle(quiet=QUIET)
    seen = len(emu.transcript.entries)
    emu.redeliver(update_id)
    return await _after_ping(emu, user, seen, ping)


async def _after_ping(
    emu: BotApiEmulator, user: User, seen: int, ping: Chat | User | None
) -> list[str]:
    answer = await say(emu, user, ping if ping is not None else user, "/help")
    return [
        f"{e.kind} #{e.message_id}: {e.text}"
        for e in emu.transcript.entries[seen:]
        if e.kind in ("bot", "edit")
        and (e.chat, e.message_id) != (answer.chat.label, answer.message_id)
    ]


def said(changes: list[str]) -> list[str]:
    """The texts of what the bot posted or edited."""
    return [change.split(": ", 1)[1] for change in changes]


async def household_of(local: LocalBot, council: Council, user: User) -> str:
    found = await services.find_council(local.database.uow(), chat_id=council.group.id, thread_id=0)
    assert found.id is not None
    async with local.database.uow() as uow:
        member = await uow.members.by_user(found.id, user.id)
    assert member is not None
    return member.household


def announcements(council: Council) -> list[Message]:
    return [m for m in bot_messages(council.emu, council.group) if (m.text or "").startswith("💡")]


async def test_an_edited_proposal_edits_the_proposal_its_message_and_the_card(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu = council.emu
    aunt, _ = council.members
    card, topic_id = await council.topic("空地做什么？")
    mine, announced = await write(council, aunt, "/propose 修长椅")
    pid = int((announced.text or "").split("#", 1)[1].split("（", 1)[0])
    assert f"#{pid} 修长椅 —— 张阿姨" in text_of(emu, card)

    changes, update_id = await edit(emu, aunt, mine, "/propose 修长椅和路灯", replies=2)

    # Two edits, no new message: the announcement and the card show the new text.
    assert [c.split(":", 1)[0] for c in changes] == [
        f"edit #{announced.message_id}",
        f"edit #{card.message_id}",
    ]
    assert text_of(emu, announced) == f"💡 提案 #{pid}（张阿姨）\n修长椅和路灯"
    assert f"#{pid} 修长椅和路灯 —— 张阿姨（附议 0）" in text_of(emu, card)
    assert "提案 1 条" in text_of(emu, card)
    assert await proposals_of(local, topic_id) == ["修长椅和路灯"]
    assert [m.message_id for m in announcements(council)] == [announced.message_id]
    # The same edit delivered again changes nothing and says nothing.
    assert await redeliver(emu, aunt, update_id) == []
    assert await proposals_of(local, topic_id) == ["修长椅和路灯"]
    # Still open for seconds, and editable again until someone seconds it.
    assert [b for row in current(emu, announced).buttons for b, _ in row] == ["👍 附议（0）"]
    changes, _ = await edit(emu, aunt, mine, "/propose 修长椅、路灯和垃圾亭", replies=2)
    assert len(changes) == 2
    assert await proposals_of(local, topic_id) == ["修长椅、路灯和垃圾亭"]
    assert text_of(emu, announced).endswith("\n修长椅、路灯和垃圾亭")
    assert len(announcements(council)) == 1
    assert_clean(emu, caplog)


async def test_an_edit_after_a_second_is_refused(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu = council.emu
    aunt, uncle = council.members
    card, topic_id = await council.topic()
    mine, announced = await write(council, aunt, "/propose 修长椅")
    await press(emu, uncle, announced, button(announced, "附议"))
    shown = text_of(emu, announced), text_of(emu, card)

    changes, update_id = await edit(emu, aunt, mine, "/propose 改成停车场", replies=1)

    refusal = "⛔ 这条提案已有 1 人附议，不能再修改，原提案保持不变。如需修改，请另提一条新提案。"
    assert said(changes) == [refusal]
    (answer,) = [m for m in bot_messages(emu, council.group) if m.text == refusal]
    assert answer.reply_to_message_id == mine.message_id
    assert await proposals_of(local, topic_id) == ["修长椅"]
    assert (text_of(emu, announced), text_of(emu, card)) == shown
    # A redelivered refused edit is not refused twice.
    assert await redeliver(emu, aunt, update_id) == []
    assert_clean(emu, caplog)


async def test_an_edit_after_the_topic_stopped_collecting_is_refused(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨", "李叔叔"))
    emu = council.emu
    aunt, _ = council.members
    _, topic_id = await council.topic("空地做什么？")
    mine, announced = await write(council, aunt, "/propose 修长椅")
    await council.ballot()
    shown = text_of(emu, announced)

    changes, _ = await edit(emu, aunt, mine, "/propose 修长椅和路灯", replies=1)

    assert said(changes) == [
        "⛔ 议题「空地做什么？」已不再征集提案，提案不能再修改，原提案保持不变。"
    ]
    assert await proposals_of(local, topic_id) == ["修长椅"]
    assert text_of(emu, announced) == shown
    assert_clean(emu, caplog)


async def test_an_edited_propose_that_made_no_proposal_makes_none(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨",))
    emu = council.emu
    (aunt,) = council.members
    _, topic_id = await council.topic()
    mine, usage = await write(council, aunt, "/propose")
    assert usage.text == "⛔ 用法：/propose 提案内容。"

    changes, _ = await edit(emu, aunt, mine, "/propose 修长椅", replies=1)

    assert said(changes) == [
        "⛔ 这条消息没有提出提案，编辑过的命令也不会再执行一次。请重新发送 /propose 提案内容。"
    ]
    assert await proposals_of(local, topic_id) == []
    assert announcements(council) == []
    assert_clean(emu, caplog)


async def test_other_edited_commands_are_not_run_again_and_say_so_once(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨",))
    emu = council.emu
    emu.add_member(council.group, newcomer := emu.add_user("新邻居"))
    mine, joined = await write(council, newcomer, "/join 8-8-808")
    assert joined.text is not None and joined.text.startswith("✅ 新邻居（8-8-808）")

    changes, update_id = await edit(emu, newcomer, mine, "/join 9-9-909", replies=1)

    assert said(changes) == [NOT_AGAIN]
    (note,) = [m for m in bot_messages(emu, council.group) if m.text == NOT_AGAIN]
    assert note.reply_to_message_id == mine.message_id
    # Not run again: the roll keeps the address first given, and no second reply.
    assert await household_of(local, council, newcomer) == "8-8-808"
    assert [m.text for m in bot_messages(emu, council.group)].count(joined.text) == 1
    # Said once: not again on a redelivery, nor on another edit of the same message.
    assert await redeliver(emu, newcomer, update_id) == []
    assert (await edit(emu, newcomer, mine, "/join 9-9-910", replies=0))[0] == []
    assert await household_of(local, council, newcomer) == "8-8-808"
    # An edited /topic (a chair's command) is not run again either: no second topic.
    chair_message, _ = await write(council, council.chair, "/topic 加装电梯")
    changes, _ = await edit(emu, council.chair, chair_message, "/topic 加装电梯和坡道", replies=1)
    assert said(changes) == [NOT_AGAIN]
    assert sum("📌" in (m.text or "") for m in bot_messages(emu, council.group)) == 1
    # A command for another bot, and ordinary chat, edited in the group: nothing to say.
    other = await emu.send_text(newcomer, council.group, "/join@other_bot 1-1-101")
    assert (await edit(emu, newcomer, other, "/join@other_bot 1-1-102", replies=0))[0] == []
    plain = await emu.send_text(newcomer, council.group, "大家好")
    assert (await edit(emu, newcomer, plain, "大家好！", replies=0))[0] == []
    assert [m.text for m in bot_messages(emu, council.group)].count(NOT_AGAIN) == 2
    assert_clean(emu, caplog)


async def test_edits_in_a_private_draft_are_not_added_again(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨",))
    emu = council.emu
    (writer,) = council.members
    card, topic_id = await council.topic()
    await say(emu, writer, writer, start_command(card))
    line, saved = await write_privately(emu, writer, "建口袋花园")
    assert saved.text is not None and saved.text.startswith("已保存（5 字）")
    more, _ = await write_privately(emu, writer, "/propose 加座椅")

    group = council.group  # where the member's /help shows the edit was handled
    changes, _ = await edit(emu, writer, line, "建口袋花园和凉亭", replies=1, ping=group)
    assert said(changes) == [DRAFT_UNCHANGED]
    # Once per message; an edited /propose in the draft is not added again either.
    changes, _ = await edit(emu, writer, line, "建口袋花园和长廊", replies=0, ping=group)
    assert changes == []
    changes, update_id = await edit(
        emu, writer, more, "/propose 加座椅和路灯", replies=1, ping=group
    )
    assert said(changes) == [DRAFT_UNCHANGED]
    assert await redeliver(emu, writer, update_id, ping=group) == []

    done = await say(emu, writer, writer, "/done")
    assert done.text is not None and done.text.startswith("✅ 提案 #")
    assert await proposals_of(local, topic_id) == ["建口袋花园\n加座椅"]
    assert_clean(emu, caplog)


async def test_an_english_member_is_told_in_english(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("Alice",), language_code="en")
    emu = council.emu
    (alice,) = council.members
    mine, _ = await write(council, alice, "/rules")
    changes, _ = await edit(emu, alice, mine, "/rules simple", replies=1)
    assert said(changes) == ["✏️ An edited command is not run again; please send it anew."]
    assert_clean(emu, caplog)
