"""A local Telegram Bot API emulator for end-to-end tests, benchmarks and demos.

Start it, point PTB at it, and play the users::

    async with BotApiEmulator() as emu:
        app = (ApplicationBuilder().token(emu.token).base_url(emu.base_url)
               .base_file_url(emu.base_file_url).build())
        alice = emu.add_user("张阿姨")
        await emu.send_text(alice, alice, "/start")
        reply = await emu.wait_for_bot_message(alice)
"""

from emulator.engine import BotEvent, EmulatorStats
from emulator.errors import ApiError
from emulator.limits import RateLimits
from emulator.models import ButtonRow, CallbackAnswer, Chat, Message, User
from emulator.server import DEFAULT_TOKEN, BotApiEmulator
from emulator.transcript import Entry, Transcript

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "BotApiEmulator",
    "BotEvent",
    "ButtonRow",
    "CallbackAnswer",
    "Chat",
    "EmulatorStats",
    "Entry",
    "Message",
    "RateLimits",
    "Transcript",
    "User",
]
