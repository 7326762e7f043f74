"""Start-up survives Telegram's passing faults: one failed ``getMe``,
``deleteWebhook`` or ``setMyCommands`` must not leave the council without its bot."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.telegram.local import bot_on
from emulator import BotApiEmulator, RateLimits

START_CALLS = ("getMe", "deleteWebhook", "setMyCommands")


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(limits=RateLimits(group_per_minute=600)) as emu:
        yield emu


async def answers_help(emulator: BotApiEmulator) -> str:
    user = emulator.add_user("张阿姨")
    after = emulator.event_seq
    await emulator.send_text(user, user, "/help")
    reply = await emulator.wait_for_bot_message(user, after=after, timeout=15)
    return reply.text or ""


async def test_start_up_calls_failing_now_and_then_are_tried_again(
    emulator: BotApiEmulator, migrated_url: str
) -> None:
    # Seeded so that getMe fails once, the menus twice and deleteWebhook twice.
    emulator.inject_failures(0.5, seed=11, after_share=0.0, only=START_CALLS)
    async with bot_on(emulator, migrated_url):
        before, _ = emulator.injected_failures
        assert before == 5, "the seed no longer makes start-up calls fail"
        emulator.inject_failures(0.0)
        assert "/propose" in await answers_help(emulator)
    menu = [name for name, _ in emulator.commands(language_code="zh")]
    assert menu[:3] == ["start", "help", "setup"]
    assert [name for name, _ in emulator.commands()] == menu


async def test_a_command_menu_telegram_keeps_refusing_does_not_stop_the_bot(
    emulator: BotApiEmulator, migrated_url: str
) -> None:
    emulator.inject_failures(1.0, seed=1, after_share=0.0, only=("setMyCommands",))
    async with bot_on(emulator, migrated_url):
        emulator.inject_failures(0.0)
        assert "/propose" in await answers_help(emulator)
    assert emulator.commands(language_code="zh") == []
    assert emulator.commands() == []
