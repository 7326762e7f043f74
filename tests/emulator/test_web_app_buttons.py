"""Mini App buttons on the emulator, as Telegram takes them: a ``web_app`` button only in
a private chat and only to an HTTPS page; in a group the way in is a ``t.me`` link."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo
from telegram.error import BadRequest

from emulator import DEFAULT_TOKEN, BotApiEmulator


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator() as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    async with Bot(DEFAULT_TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as b:
        yield b


def web_app(url: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("打开", web_app=WebAppInfo(url))]])


async def test_a_web_app_button_opens_https_in_a_private_chat(
    bot: Bot, emu: BotApiEmulator
) -> None:
    user = emu.add_user("张阿姨")
    emu.start_bot(user)
    sent = await bot.send_message(
        user.id, "投票", reply_markup=web_app("https://yishi.example/app")
    )
    (stored,) = [m for m in emu.messages(user) if m.message_id == sent.message_id]
    assert stored.reply_markup == {
        "inline_keyboard": [[{"text": "打开", "web_app": {"url": "https://yishi.example/app"}}]]
    }
    with pytest.raises(BadRequest, match=r"(?i)only https links are allowed"):
        await bot.send_message(user.id, "投票", reply_markup=web_app("http://127.0.0.1:8080/app"))
    # An edit is held to the same rule.
    with pytest.raises(BadRequest, match=r"(?i)only https links are allowed"):
        await bot.edit_message_reply_markup(
            user.id, sent.message_id, reply_markup=web_app("http://yishi.example/app")
        )


async def test_a_group_takes_a_link_never_a_web_app_button(bot: Bot, emu: BotApiEmulator) -> None:
    chair = emu.add_user("杨静")
    group = emu.add_group("议事会", admins=[chair])
    with pytest.raises(BadRequest, match=r"(?i)button_type_invalid"):
        await bot.send_message(group.id, "投票", reply_markup=web_app("https://yishi.example/app"))
    sent = await bot.send_message(group.id, "投票", reply_markup=web_app_link())
    with pytest.raises(BadRequest, match=r"(?i)button_type_invalid"):
        await bot.edit_message_text(
            "投票", chat_id=group.id, message_id=sent.message_id,
            reply_markup=web_app("https://yishi.example/app"),
        )  # fmt: skip
    (stored,) = [m for m in emu.messages(group) if m.message_id == sent.message_id]
    assert stored.url_buttons == [["https://t.me/yishi_bot?startapp=b1"]]


def web_app_link() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton("在小程序中打开", url="https://t.me/yishi_bot?startapp=b1")]]
    )
