"""`yishi demo`: the pocket-garden deliberation of 杨家园社区, played for real.

The real bot runs against the local Bot API emulator on a temporary SQLite
database; simulated residents type commands and press buttons, and the chat is
printed as a transcript while it happens.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when the demo runs: `yishi tally` must start without them
    from emulator import BotApiEmulator, Chat, Message, User

TOPIC = (
    "/topic 拆除违建后空出的空地做什么？\n"
    "东侧违建拆除后留下约 300 平方米空地。社区老人和孩子多，缺少休憩空间。"
    "请大家提出方案，下周举手表决。"
)
REQUEST = "/request 维修 卫生间水管漏水，老人独居，请帮忙看看\n地点：6-3-501"
MEETING = "/meeting 周六 上午9点 社区活动室\n口袋花园施工安排（社工委、城管局、体育局）"
RESIDENTS = [  # name, address, floor area in m²
    ("张阿姨", "3-2-301", "85.5"),
    ("李叔叔", "3-2-402", "92"),
    ("刘大姐", "5-1-101", "76.3"),
    ("陈师傅", "5-1-202", "88"),
    ("赵奶奶", "6-3-501", "64.8"),
    ("孙老师", "6-3-602", "101.2"),
]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser(
        "demo", help="play the pocket-garden deliberation against a local emulator"
    )
    demo.add_argument(
        "--english", action="store_true", help="group messages in English (default: Chinese)"
    )
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(play(language="en" if args.english else "zh-CN"))
    return 0


class Printer:
    """Prints the transcript as it grows, so the chat unfolds on screen."""

    def __init__(self, emulator: BotApiEmulator) -> None:
        self._emulator = emulator
        self._shown = 0

    def step(self, title: str) -> None:
        self.flush()
        print(f"\n——— {title} ———", flush=True)

    def flush(self) -> None:
        transcript = self._emulator.transcript
        entries = transcript.entries[self._shown :]
        self._shown = len(transcript.entries)
        for entry in entries:
            for line in transcript.render_entry(entry):
                print(line, flush=True)


async def play(language: str = "zh-CN") -> None:
    from bot.telegram.local import local_bot

    with tempfile.TemporaryDirectory(prefix="yishi-demo-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.sqlite3'}"
        print(
            "议事 Yishi demo: the real bot, a local Bot API emulator, a temporary SQLite database."
        )
        async with local_bot(url, tally_edit_interval=0.3, language=language) as local:
            await _script(local.emulator, Printer(local.emulator))
        print("\n——— end of demo ———")
        print("Try it with a real Telegram bot: set YISHI_TELEGRAM_TOKEN and run `yishi run`.")


def _data(message: Message, row: int, column: int = 0) -> str:
    data = message.buttons[row][column][1]
    assert data is not None, "a URL button has no callback data"
    return data


async def _say(emu: BotApiEmulator, user: User, chat: Chat | User, text: str) -> Message:
    """Send a message, wait until the bot has finished answering it, return its last message."""
    await emu.wait_idle(quiet=0.2)
    after = emu.event_seq
    await emu.send_text(user, chat, text)
    await emu.wait_for_bot_message(chat, after=after, timeout=15)
    await emu.wait_idle(quiet=0.2)
    reply = emu.last_bot_message(chat)
    assert reply is not None
    return reply


async def _script(emu: BotApiEmulator, out: Printer) -> None:
    chair = emu.add_user("杨静", language_code="zh-hans")
    people = [emu.add_user(name) for name, _, _ in RESIDENTS]
    passer_by = emu.add_user("路人甲")
    group = emu.add_group("杨家园社区小院议事会", creator=chair, members=[*people, passer_by])

    out.step("1. 设立议事会 · set-up (the rule: a residents' meeting)")
    await _say(emu, chair, group, "/setup residents-meeting")

    out.step("2. 居民入册 · residents join the roll")
    await _say(emu, chair, group, "/join 1-1-101 120")
    for user, (_, address, area) in zip(people, RESIDENTS, strict=True):
        await _say(emu, user, group, f"/join {address} {area}")

    out.step("3. 发起议题 · the chair opens a topic")
    card = await _say(emu, chair, group, TOPIC)

    out.step("4. 提案 · proposals (one written in a private chat)")
    garden = await _say(
        emu,
        people[0],
        group,
        "/propose 建口袋花园：种花草树木，设座椅和凉亭，给老人孩子一个休憩的地方。",
    )
    parking = await _say(emu, people[1], group, "/propose 改成停车场，缓解小区停车难。")
    emu.start_bot(people[2])
    # The card's "写提案" link opens the private chat with a signed /start payload.
    link = next(url for row in card.url_buttons for url in row if url)
    await _say(emu, people[2], people[2], "/start " + link.split("?start=", 1)[1])
    await _say(emu, people[2], people[2], "建儿童游乐区：铺塑胶地面，")
    await _say(emu, people[2], people[2], "装滑梯和秋千，家长可在旁看护。")
    await _say(emu, people[2], people[2], "/done")
    await emu.wait_idle(quiet=0.3)

    out.step("5. 附议 · seconds")
    for user in (people[3], people[4], people[5]):
        await emu.press(user, garden, _data(garden, 0))
    await emu.press(people[5], parking, _data(parking, 0))
    refused = await emu.press(people[0], garden, _data(garden, 0))
    await emu.wait_idle(quiet=0.3)
    assert refused.show_alert  # one's own proposal cannot be seconded

    out.step("6. 表决 · the chair puts the proposals to a vote (open: a show of hands)")
    ballot = await _say(emu, chair, group, "/ballot options")
    options = [_data(ballot, row) for row in range(len(ballot.buttons) - 1)]  # last: 弃权

    out.step("7. 举手表决 · votes, a changed vote, and a refused non-member")
    choices = [0, 1, 0, 0, 2, 0]  # garden, parking, garden, garden, playground, garden
    for user, choice in zip(people, choices, strict=True):
        await emu.press(user, ballot, options[choice])
    await emu.press(chair, ballot, options[0])
    await emu.press(people[1], ballot, options[0])  # 李叔叔 changes his mind
    await emu.press(passer_by, ballot, options[0])  # not on the roll: refused
    await emu.wait_idle(quiet=0.6)

    out.step("8. 公布结果 · the chair closes the vote; the outcome with its figures")
    await _say(emu, chair, group, "/close")
    await emu.wait_idle(quiet=0.6)

    out.step("9. 安排会议 · the chair schedules the next meeting; reminders will follow")
    await _say(emu, chair, group, "/topic 口袋花园由谁来维护？")
    await _say(emu, chair, group, "/deadline 3天")
    card = await _say(emu, chair, group, MEETING)
    await emu.press(chair, card, _data(card, 0))  # the open topic goes on the agenda
    await emu.wait_idle(quiet=0.3)
    await _say(emu, people[0], group, "/agenda")
    await _say(emu, people[0], group, "/reminders")

    out.step("10. 居民点单 · a resident asks for help; volunteers get offers privately")
    for user in (people[3], people[5]):
        emu.start_bot(user)
    await _say(emu, people[3], group, "/volunteer 维修 跑腿")
    await _say(emu, people[5], group, "/volunteer 维修")
    await _say(emu, people[4], group, REQUEST)
    await emu.wait_idle(quiet=0.5)
    offer = emu.last_bot_message(people[5])
    assert offer is not None and offer.buttons
    await emu.press(people[5], offer, _data(offer, 0, 1))  # 孙老师 cannot come now
    offer = emu.last_bot_message(people[3])
    assert offer is not None and offer.buttons
    await emu.press(people[3], offer, _data(offer, 0))  # 陈师傅 takes it
    await emu.wait_idle(quiet=0.5)
    done = emu.last_bot_message(people[3])
    assert done is not None and done.buttons
    await emu.press(people[3], done, _data(done, 0))  # … and reports it done
    await emu.wait_idle(quiet=0.5)
    await _say(emu, people[3], group, "/hours")
    out.flush()


def main() -> None:
    sys.exit(run(argparse.Namespace(english=False)))
