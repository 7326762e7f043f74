"""``TelegramMessenger`` end to end: a real PTB ``ExtBot`` talking HTTP to the local Bot
API emulator, each call checked against what the emulated chat now holds, and each
failure checked to arrive as the port's error (``bot.runtime.messenger``)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import NetworkError
from telegram.ext import Defaults, ExtBot

from bot.runtime.messenger import (
    ChatMoved,
    FloodWait,
    InDoubt,
    MessageGone,
    NotModified,
    NotSent,
    Outgoing,
    Refused,
    Unreachable,
)
from bot.telegram.messenger import CAPTION, TelegramMessenger
from emulator import BotApiEmulator, CallbackAnswer, Chat, Message, RateLimits, User

PHOTO = "https://example.com/notice.png"  # the emulator takes a photo by URL as Telegram does


@asynccontextmanager
async def telegram_bot(emu: BotApiEmulator) -> AsyncIterator[ExtBot[None]]:
    """A plain ``ExtBot`` (no rate limiter, no defaults) on the emulator, initialised
    (getMe) and shut down around the test."""
    assert emu.token is not None
    bot: ExtBot[None] = ExtBot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url)
    async with bot:
        yield bot


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator() as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[ExtBot[None]]:
    async with telegram_bot(emu) as running:
        yield running


@pytest.fixture
def messenger(bot: ExtBot[None]) -> TelegramMessenger:
    return TelegramMessenger(bot)


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in buttons]]
    )


def in_chat(emu: BotApiEmulator, chat: Chat | User, message_id: int) -> Message:
    """The message ``message_id`` of ``chat`` as it now stands in the emulator."""
    found = [m for m in emu.messages(chat) if m.message_id == message_id]
    assert found, f"no message #{message_id} in {chat}: {emu.messages(chat)}"
    return found[0]


def resident(emu: BotApiEmulator, name: str = "张阿姨") -> User:
    """A user who has started the bot: it may write to them."""
    user = emu.add_user(name)
    emu.start_bot(user)
    return user


# --- what goes through ---------------------------------------------------------------


async def test_send_text_in_a_topic_as_a_reply_with_a_keyboard(
    emu: BotApiEmulator, messenger: TelegramMessenger
) -> None:
    auntie = emu.add_user("张阿姨")
    group = emu.add_group("幸福里议事会", forum=True, members=[auntie])
    asked = await emu.send_text(auntie, group, "周六开会吗？", thread_id=7)
    buttons = keyboard(("✅ 参加", "m:1:y"), ("❌ 不来", "m:1:n"))

    sent = await messenger.send(
        group.id, Outgoing("周六 19:30 开会", buttons, reply_to=asked.message_id), thread_id=7
    )

    message = in_chat(emu, group, sent)
    assert sent == asked.message_id + 1  # the chat's own numbering, not some other id
    assert message.from_bot
    assert message.text == "周六 19:30 开会"
    assert message.message_thread_id == 7
    assert message.reply_to_message_id == asked.message_id
    assert message.buttons == [[("✅ 参加", "m:1:y"), ("❌ 不来", "m:1:n")]]
    assert [m.message_id for m in emu.messages(group)] == [asked.message_id, sent]


async def test_send_text_plainly_and_to_a_reply_that_is_gone(
    emu: BotApiEmulator, messenger: TelegramMessenger
) -> None:
    auntie = resident(emu)

    first = await messenger.send(auntie.id, Outgoing("你好"))
    # A message replying to one deleted since still goes out, as a plain message; a
    # keyboard that is not the front end's own (here a raw dict) is not sent.
    second = await messenger.send(
        auntie.id, Outgoing("提醒", markup={"inline_keyboard": []}, reply_to=999)
    )

    assert (first, second) == (1, 2)
    plain, reply = in_chat(emu, auntie, first), in_chat(emu, auntie, second)
    assert (plain.text, plain.message_thread_id, plain.reply_to_message_id) == ("你好", None, None)
    assert (reply.text, reply.reply_to_message_id, reply.buttons) == ("提醒", None, [])


async def test_a_photo_carries_the_text_as_its_caption_cut_to_1024(
    emu: BotApiEmulator, messenger: TelegramMessenger
) -> None:
    volunteer = resident(emu, "李师傅")
    text = "".join(f"第{n}行：厨房水管爆裂，请帮忙。\n" for n in range(100))
    assert len(text) > CAPTION == 1024

    short_id = await messenger.send(
        volunteer.id, Outgoing("修水管", keyboard(("接受", "o:1:y")), photo=PHOTO)
    )
    long_id = await messenger.send(volunteer.id, Outgoing(text, photo=PHOTO))

    short, long = in_chat(emu, volunteer, short_id), in_chat(emu, volunteer, long_id)
    assert short.photo is not None and short.text is None
    assert (short.caption, short.buttons) == ("修水管", [[("接受", "o:1:y")]])
    assert long.photo is not None and long.caption is not None
    # Whole lines that fit, then "…": at most 1024 characters, the first of them as sent.
    kept = long.caption.removesuffix("\n…")
    assert len(long.caption) <= CAPTION
    assert text.startswith(kept + "\n")
    assert len(kept) > CAPTION - 20  # only the line that did not fit is left out


async def test_an_html_caption_is_cut_between_lines_not_inside_a_tag(emu: BotApiEmulator) -> None:
    # The bot sends HTML (bot.telegram.app's Defaults); a cut at exactly 1024 characters
    # would fall inside "<b>…</b>" and Telegram would refuse the whole photo.
    volunteer = resident(emu, "李师傅")
    line = "<b>地点</b>：3 栋 2 单元 301 &amp; 302\n"  # 33 characters, 22 shown
    text = line * 40
    assert text[:CAPTION].endswith("\n<")  # 31 lines and a lone "<": refused as it stands
    assert emu.token is not None
    html: ExtBot[None] = ExtBot(
        emu.token, base_url=emu.base_url, defaults=Defaults(parse_mode=ParseMode.HTML)
    )
    async with html:
        sent = await TelegramMessenger(html).send(volunteer.id, Outgoing(text, photo=PHOTO))
        document = await TelegramMessenger(html).send_file(
            volunteer.id, "名册.csv", b"x", caption=text
        )

    shown = "地点：3 栋 2 单元 301 & 302"
    assert in_chat(emu, volunteer, sent).caption == "\n".join([shown] * 30 + ["…"])
    assert in_chat(emu, volunteer, document).caption == "\n".join([shown] * 30 + ["…"])


async def test_edit_changes_the_text_and_refuses_what_changes_nothing_or_is_gone(
    emu: BotApiEmulator, messenger: TelegramMessenger
) -> None:
    auntie = emu.add_user("张阿姨")
    group = emu.add_group("幸福里议事会", members=[auntie])
    card = await messenger.send(
        group.id, Outgoing("表决：修车棚（0 票）", keyboard(("赞成", "v:y")))
    )
    theirs = await emu.send_text(auntie, group, "我赞成")

    await messenger.edit(group.id, card, "表决：修车棚（1 票）", markup=keyboard(("赞成", "v:y")))

    message = in_chat(emu, group, card)
    assert message.text == "表决：修车棚（1 票）"
    assert message.edit_date is not None
    assert message.buttons == [[("赞成", "v:y")]]

    with pytest.raises(NotModified):
        await messenger.edit(
            group.id, card, "表决：修车棚（1 票）", markup=keyboard(("赞成", "v:y"))
        )
    with pytest.raises(MessageGone):
        await messenger.edit(group.id, 999, "表决：修车棚（2 票）")
    with pytest.raises(MessageGone):  # Telegram: "message can't be edited"
        await messenger.edit(group.id, theirs.message_id, "改了")

    # Omitting the keyboard removes it, as on Telegram.
    await messenger.edit(group.id, card, "表决已结束")
    assert (in_chat(emu, group, card).text, in_chat(emu, group, card).buttons) == ("表决已结束", [])


async def test_answer_shows_the_member_the_notice_once(
    emu: BotApiEmulator, messenger: TelegramMessenger
) -> None:
    auntie, uncle = emu.add_user("张阿姨"), emu.add_user("王大爷")
    group = emu.add_group("幸福里议事会", members=[auntie, uncle])
    card = await messenger.send(group.id, Outgoing("表决：修车棚", keyboard(("赞成", "v:y"))))
    message = in_chat(emu, group, card)
    alert = emu.press_later(auntie, message, "v:y")
    quiet = emu.press_later(uncle, message, "v:y")
    assert emu.answer_of(alert) is None

    await messenger.answer(alert, "已记下：赞成", alert=True)
    await messenger.answer(quiet)

    assert emu.answer_of(alert) == CallbackAnswer(text="已记下：赞成", show_alert=True)
    assert emu.answer_of(quiet) == CallbackAnswer(text=None, show_alert=False)
    # Telegram: "query is too old and response timeout expired or query ID is invalid".
    with pytest.raises(MessageGone):
        await messenger.answer(alert, "又一次")
    with pytest.raises(MessageGone):
        await messenger.answer("no-such-query", "?")
    assert emu.answer_of(alert) == CallbackAnswer(text="已记下：赞成", show_alert=True)


async def test_send_file_delivers_a_document_with_its_name_and_caption(
    emu: BotApiEmulator, bot: ExtBot[None], messenger: TelegramMessenger
) -> None:
    group = emu.add_group("幸福里议事会", forum=True)
    content = "楼栋,单元,姓名\n3,2,张阿姨\n".encode()

    sent = await messenger.send_file(
        group.id, "名册.csv", content, caption="议事会名册", thread_id=5
    )

    message = in_chat(emu, group, sent)
    assert message.from_bot and message.text is None
    assert message.caption == "议事会名册"
    assert message.message_thread_id == 5
    assert message.document is not None
    assert message.document["file_name"] == "名册.csv"
    assert message.document["file_size"] == len(content)
    file = await bot.get_file(message.document["file_id"])
    assert bytes(await file.download_as_bytearray()) == content

    bare = await messenger.send_file(group.id, "空.txt", b"x")
    assert in_chat(emu, group, bare).caption is None  # no caption is sent as none


async def test_pin_makes_it_the_chats_pinned_message(
    emu: BotApiEmulator, messenger: TelegramMessenger
) -> None:
    group = emu.add_group("幸福里议事会")
    first = await messenger.send(group.id, Outgoing("议程"))
    second = await messenger.send(group.id, Outgoing("新议程"))

    await messenger.pin(group.id, first)
    assert group.pinned_message_id == first
    await messenger.pin(group.id, second)
    assert group.pinned_message_id == second

    with pytest.raises(MessageGone):  # Telegram: "message to pin not found"
        await messenger.pin(group.id, 999)
    assert group.pinned_message_id == second


# --- what does not -------------------------------------------------------------------


async def test_a_member_who_never_started_the_bot_is_unreachable(
    emu: BotApiEmulator, messenger: TelegramMessenger
) -> None:
    stranger = emu.add_user("陌生人")
    with pytest.raises(Unreachable, match="can't initiate conversation"):
        await messenger.send(stranger.id, Outgoing("您被推荐为志愿者"))
    with pytest.raises(Unreachable):
        await messenger.send(stranger.id, Outgoing("修水管", photo=PHOTO))
    with pytest.raises(Unreachable):
        await messenger.send_file(stranger.id, "名册.csv", b"x")

    blocker = resident(emu, "不想被打扰")
    emu.block_bot(blocker)
    with pytest.raises(Unreachable, match="blocked"):
        await messenger.send(blocker.id, Outgoing("您被推荐为志愿者"))
    assert emu.sent_to(stranger) == [] and emu.sent_to(blocker) == []


async def test_an_injected_429_is_a_flood_wait(
    emu: BotApiEmulator, messenger: TelegramMessenger
) -> None:
    group = emu.add_group("幸福里议事会")
    emu.inject_429(1.0)
    with pytest.raises(FloodWait) as caught:
        await messenger.send(group.id, Outgoing("通知"))
    assert caught.value.retry_after == 1.0
    with pytest.raises(FloodWait):
        await messenger.pin(group.id, 1)
    assert emu.messages(group) == []
    assert emu.stats.injected_429 == 2

    emu.inject_429(0)
    assert await messenger.send(group.id, Outgoing("通知")) == 1


async def test_a_group_flooded_for_real_waits_what_telegram_says() -> None:
    # One group message a minute (a burst of two): the third must wait about a minute.
    async with BotApiEmulator(limits=RateLimits(group_per_minute=1)) as emu:
        group = emu.add_group("幸福里议事会")
        async with telegram_bot(emu) as bot:
            messenger = TelegramMessenger(bot)
            await messenger.send(group.id, Outgoing("一"))
            await messenger.send(group.id, Outgoing("二"))
            with pytest.raises(FloodWait) as caught:
                await messenger.send(group.id, Outgoing("三"))
        assert 55 <= caught.value.retry_after <= 60
        assert [m.text for m in emu.messages(group)] == ["一", "二"]


async def test_a_group_upgraded_to_a_supergroup_has_moved(
    emu: BotApiEmulator, messenger: TelegramMessenger
) -> None:
    chair = emu.add_user("主任")
    group = emu.add_group("幸福里议事会", supergroup=False, creator=chair)
    card = await messenger.send(group.id, Outgoing("议程"))
    upgraded = emu.upgrade_to_supergroup(group, chair)
    assert upgraded.id != group.id

    with pytest.raises(ChatMoved) as caught:
        await messenger.send(group.id, Outgoing("通知"))
    assert caught.value.new_chat_id == upgraded.id
    with pytest.raises(ChatMoved) as caught_edit:
        await messenger.edit(group.id, card, "新议程")
    assert caught_edit.value.new_chat_id == upgraded.id

    moved = await messenger.send(caught.value.new_chat_id, Outgoing("通知"))
    assert in_chat(emu, upgraded, moved).text == "通知"


async def test_a_failure_after_the_call_took_effect_is_in_doubt(
    emu: BotApiEmulator, messenger: TelegramMessenger
) -> None:
    auntie = resident(emu)
    emu.inject_failures(1.0, after_share=1.0, only=["sendMessage"])

    with pytest.raises(InDoubt):
        await messenger.send(auntie.id, Outgoing("您被推荐为志愿者"))

    assert emu.injected_failures == (0, 1)
    # It did take effect: sending again would double it, hence "in doubt", not "not sent".
    assert [m.text for m in emu.sent_to(auntie)] == ["您被推荐为志愿者"]

    # A server error before the call took effect looks the same from here: in doubt too.
    emu.inject_failures(1.0, after_share=0.0, only=["sendMessage"])
    with pytest.raises(InDoubt):
        await messenger.send(auntie.id, Outgoing("第二条"))
    assert emu.injected_failures == (1, 1)
    assert [m.text for m in emu.sent_to(auntie)] == ["您被推荐为志愿者"]


async def test_a_messenger_nobody_listens_to_has_not_sent() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bot: ExtBot[None] = ExtBot(
        "123456789:TEST-closed-port", base_url=f"http://127.0.0.1:{port}/bot"
    )
    try:
        with pytest.raises(NetworkError):
            await bot.initialize()  # getMe fails; the request objects are ready
        messenger = TelegramMessenger(bot)
        with pytest.raises(NotSent) as caught:
            await messenger.send(1001, Outgoing("你好"))
        assert isinstance(caught.value.__cause__, NetworkError)
        with pytest.raises(NotSent):
            await messenger.edit(1001, 1, "你好")
        with pytest.raises(NotSent):
            await messenger.send_file(1001, "名册.csv", b"x")
        with pytest.raises(NotSent):
            await messenger.answer("1001-1", "好")
    finally:
        await bot.shutdown()


async def test_a_bad_request_is_refused(emu: BotApiEmulator, messenger: TelegramMessenger) -> None:
    auntie = resident(emu)
    group = emu.add_group("幸福里议事会", bot_can_pin_messages=False)

    with pytest.raises(Refused, match=r"(?i)message text is empty"):
        await messenger.send(auntie.id, Outgoing(""))
    with pytest.raises(Refused, match=r"(?i)chat not found"):
        await messenger.send(-100999, Outgoing("通知"))
    with pytest.raises(Refused, match=r"(?i)message is too long"):
        await messenger.send(auntie.id, Outgoing("长" * 4097))
    card = await messenger.send(group.id, Outgoing("议程"))
    with pytest.raises(Refused, match=r"(?i)not enough rights"):
        await messenger.pin(group.id, card)

    assert emu.sent_to(auntie) == []
    assert group.pinned_message_id is None
