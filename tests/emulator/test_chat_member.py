"""chat_member updates: who became or stopped being an admin, or left, as Telegram
tells a bot that is an admin of the group and asked for them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot, ChatMember, Update

from emulator import DEFAULT_TOKEN, BotApiEmulator


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator() as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    async with Bot(DEFAULT_TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as b:
        yield b


async def test_a_demotion_reaches_an_admin_bot_that_asked_for_it(
    bot: Bot, emu: BotApiEmulator
) -> None:
    owner, admin = emu.add_user("群主"), emu.add_user("杨静")
    group = emu.add_group("议事会", creator=owner, admins=[admin])

    # Telegram's default leaves chat_member out: the update is dropped for good.
    emu.set_member_status(group, admin, "member", by=owner)
    assert await bot.get_updates(timeout=0) == ()

    emu.set_member_status(group, admin, "administrator", by=owner)
    emu.set_member_status(group, admin, "left")
    (promoted, left) = await bot.get_updates(timeout=0, allowed_updates=Update.ALL_TYPES)

    assert promoted.chat_member is not None and left.chat_member is not None
    assert promoted.chat_member.from_user.id == owner.id
    assert promoted.chat_member.old_chat_member.status == ChatMember.MEMBER
    assert promoted.chat_member.new_chat_member.status == ChatMember.ADMINISTRATOR
    assert left.chat_member.from_user.id == admin.id  # they left by themselves
    assert left.chat_member.new_chat_member.user.id == admin.id
    assert left.chat_member.new_chat_member.status == ChatMember.LEFT
    assert (await bot.get_chat_member(group.id, admin.id)).status == ChatMember.LEFT


async def test_a_bot_that_is_no_admin_hears_nothing(bot: Bot, emu: BotApiEmulator) -> None:
    owner, admin = emu.add_user("群主"), emu.add_user("杨静")
    group = emu.add_group("议事会", creator=owner, admins=[admin], bot_is_admin=False)

    emu.set_member_status(group, admin, "member", by=owner)

    assert await bot.get_updates(timeout=0, allowed_updates=Update.ALL_TYPES) == ()
    assert (await bot.get_chat_member(group.id, admin.id)).status == ChatMember.MEMBER
