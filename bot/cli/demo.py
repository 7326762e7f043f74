"""`yishi demo`: the pocket-garden deliberation of 杨家园社区, played for real.

The real bot runs against the local Bot API emulator on a temporary SQLite
database; simulated residents type commands, press buttons and send files, and the
chat is printed as a transcript while it happens. Besides the deliberation itself it
shows the roll the community keeps: the chair's roll file checked and imported, a
binding card for a co-owner not yet in the chat, and a raised hand in the meeting
room recorded for a resident without a phone.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:  # imported when the demo runs: `yishi tally` must start without them
    from bot.telegram.binding_pdf import PrintedCard
    from bot.telegram.local import LocalBot
    from emulator import BotApiEmulator, Chat, Message, User

TOPIC = (
    "/topic 拆除违建后空出的空地做什么？\n"
    "东侧违建拆除后留下约 300 平方米空地。社区老人和孩子多，缺少休憩空间。"
    "请大家提出方案，在议事会会议上举手表决。"
)
REQUEST = "/request 维修 卫生间水管漏水，老人独居，请帮忙看看\n地点：6-3-501"
MEETING = "/meeting 周六 上午9点 社区活动室\n口袋花园施工安排（社工委、城管局、体育局）"
RESIDENTS = [  # who join by themselves: name, address, floor area in m² as they declare it
    ("张阿姨", "3-2-301", "85.5"),
    ("李叔叔", "3-2-402", "92"),
    ("刘大姐", "5-1-101", "76.3"),
    ("陈师傅", "5-1-202", "88"),
    ("赵奶奶", "6-3-501", "64.8"),
    ("孙老师", "6-3-602", "101.2"),
]
# The community's own roll (名册), as its staff keep it in a spreadsheet: registered
# areas (李叔叔's is not what he typed), 刘大姐 and her husband 周大哥 co-owning one flat,
# 孙老师 a tenant (no flat of his own), and 王奶奶, who has no phone to join with.
ROLL_FILE = "杨家园社区名册.csv"
ROLL = (
    "姓名,地址,面积（㎡）,身份,电话\n"
    "杨静,1-1-101,120,业主,\n"
    "张阿姨,3-2-301,85.5,业主,\n"
    "李叔叔,3-2-402,91.6,业主,\n"
    "刘大姐,5-1-101,76.3,业主,\n"
    "周大哥,5-1-101,76.3,业主,\n"
    "陈师傅,5-1-202,88,业主,\n"
    "赵奶奶,6-3-501,64.8,业主,\n"
    "孙老师,6-3-602,,住户,\n"
    "王奶奶,2-1-201,68,业主,138 0000 0009\n"
)
CO_OWNER = "周大哥"
OFFLINE = "王奶奶"  # on the roll, no Telegram account: she votes by raising her hand
IN_THE_ROOM = ("张阿姨", "李叔叔", "孙老师")  # check in with the card's button


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser(
        "demo", help="play the pocket-garden deliberation against a local emulator"
    )
    demo.add_argument(
        "--english",
        action="store_true",
        help="the bot speaks English (default: Chinese); what residents type stays Chinese",
    )
    demo.add_argument(
        "--web",
        action="store_true",
        help="then keep the web console running on 127.0.0.1 with the demo's data, "
        "printing the sign-in links, until Ctrl+C",
    )
    demo.add_argument(
        "--port", type=int, default=8080, help="the web's port with --web (default 8080)"
    )
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    language = "en" if args.english else "zh-CN"
    settings: dict[str, Any] = {}
    if getattr(args, "web", False):
        settings.update(web=True, web_port=_port(args.port))
    try:
        asyncio.run(play(language=language, **settings))
    except KeyboardInterrupt:
        print("\nstopped")
    return 0


def _port(wanted: int) -> int:
    """``wanted`` if nobody listens there, else a free one (said so)."""
    import socket

    from bot.telegram.local import free_port

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", wanted))
        except OSError:
            port = free_port()
            print(f"port {wanted} is taken; the web will use {port}")
            return port
    return wanted


class Printer:
    """Prints the transcript as it grows, so the chat unfolds on screen."""

    def __init__(self, emulator: BotApiEmulator) -> None:
        self._emulator = emulator
        self._shown = 0

    def step(self, title: str) -> None:
        self.flush()
        print(f"\n——— {title} ———", flush=True)

    def note(self, text: str) -> None:
        """A line of the narrator's, not of the chat."""
        self.flush()
        print(f"  ({text})", flush=True)

    def flush(self) -> None:
        transcript = self._emulator.transcript
        entries = transcript.entries[self._shown :]
        self._shown = len(transcript.entries)
        for entry in entries:
            for line in transcript.render_entry(entry):
                print(line, flush=True)


async def play(language: str = "zh-CN", **settings: Any) -> None:
    """The demo, printed; ``settings`` go to the bot (a test's missing font, say)."""
    from bot.telegram.local import local_bot

    with tempfile.TemporaryDirectory(prefix="yishi-demo-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.sqlite3'}"
        print(
            "议事 Yishi demo: the real bot, a local Bot API emulator, a temporary SQLite database."
        )
        async with local_bot(url, tally_edit_interval=0.3, language=language, **settings) as local:
            out = Printer(local.emulator)
            try:
                chair = await _script(local, out, "en" if language == "en" else "zh-hans")
            finally:
                out.flush()  # what led up to a failure, too
            if local.web_url is not None:
                await _keep_serving(local, out, chair)
        print("\n——— end of demo ———")
        print("Try it with a real Telegram bot: set YISHI_TELEGRAM_TOKEN and run `yishi run`.")


def _data(message: Message, row: int, column: int = 0) -> str:
    data = message.buttons[row][column][1]
    assert data is not None, "a URL button has no callback data"
    return data


def _labelled(message: Message, name: str) -> str | None:
    """The data of the button whose label names ``name`` (a member, in any language)."""
    return next((d for row in message.buttons for label, d in row if name in label and d), None)


async def _press_named(emu: BotApiEmulator, user: User, message: Message, name: str) -> None:
    """Press ``name``'s button on a paged list (in ``user``'s private chat), turning the
    pages (the nav row is the last one; "next" its last button) until it shows."""
    while (data := _labelled(message, name)) is None:
        await emu.press(user, message, _data(message, -1, -1))
        await emu.wait_idle(quiet=0.3)
        message = next(m for m in emu.messages(user) if m.message_id == message.message_id)
    await emu.press(user, message, data)
    await emu.wait_idle(quiet=0.3)


async def _say(emu: BotApiEmulator, user: User, chat: Chat | User, text: str) -> Message:
    """Send a message, wait until the bot has finished answering it, return its last message."""
    return await _answered(emu, chat, lambda: emu.send_text(user, chat, text))


async def _send_file(emu: BotApiEmulator, user: User, name: str, data: bytes) -> Message:
    """``user`` sends a file to the bot privately; the bot's last answer."""
    return await _answered(emu, user, lambda: emu.send_document(user, user, name, data))


async def _answered(
    emu: BotApiEmulator, chat: Chat | User, act: Callable[[], Awaitable[object]]
) -> Message:
    await emu.wait_idle(quiet=0.2)
    after = emu.event_seq
    await act()
    await emu.wait_for_bot_message(chat, after=after, timeout=15)
    await emu.wait_idle(quiet=0.2)
    reply = emu.last_bot_message(chat)
    assert reply is not None
    return reply


@contextmanager
def _printed(kept: list[PrintedCard]) -> Iterator[None]:
    """Keep what the bot hands to the printer while the block runs.

    The resident binds with the code printed on his card, and the demo must type his
    ``/start``. The bot keeps only a keyed digest of each code (by design: a copy of the
    database must not give the codes away), and reading the PDF back takes a PDF
    renderer and a QR decoder, which are development tools only. So the demo looks over
    the printer's shoulder: the cards ``/cards`` draws, as it draws them.
    """
    from bot.telegram import binding_pdf

    render = binding_pdf.render

    def render_and_keep(cards: Sequence[PrintedCard], **layout: Any) -> bytes:
        kept.extend(cards)
        return render(cards, **layout)

    binding_pdf.render = render_and_keep
    try:
        yield
    finally:
        binding_pdf.render = render


async def _card_code(local: LocalBot, out: Printer, chair: User, household: str) -> str:
    """The chair's ``/cards`` for ``household`` privately, and the code on its card.

    Without a CJK font (``fonts-noto-cjk``) the bot prints nothing and says so, and
    there is no card to read; the demo goes on with a code issued by the use case
    ``/cards`` calls, and says that it did."""
    from bot.telegram.handlers.binding import CODES
    from domain.services.binding import issue_cards

    printed: list[PrintedCard] = []
    with _printed(printed):
        answer = await _say(local.emulator, chair, chair, f"/cards {household}")
    if answer.document is not None:
        (card,) = printed
        out.note(
            f"卡上印着绑定码 {card.code} 和二维码，{card.name}用手机一扫 · "
            f"the card carries the code {card.code} and its QR code; {card.name} scans it"
        )
        return card.code
    deps = local.deps
    batch = await issue_cards(
        deps.database.uow(),
        council_id=None,
        user_id=chair.id,
        households=[household],
        now=deps.clock(),
        valid_for=timedelta(days=deps.settings.binding_code_days),
        key=deps.signer.key_for(CODES),
    )
    (issued,) = batch.cards
    out.note(
        f"没有字体，没有卡片：演示用 /cards 背后的同一用例签发绑定码 {issued.code}，"
        f"{issued.member.name}手动输入 · no font, no card: the demo issues the code "
        f"{issued.code} through the use case behind /cards; {issued.member.name} types it"
    )
    return issued.code


def _soon(local: LocalBot) -> str:
    """A time a few minutes ahead, as the chair would type it: the meeting in the room
    is now (sign-in opens for a meeting within 12 hours), whenever the demo runs."""
    deps = local.deps
    at = deps.clock().astimezone(ZoneInfo(deps.settings.timezone)) + timedelta(minutes=10)
    at -= timedelta(minutes=at.minute % 5)
    return at.strftime("%H:%M")


async def _script(local: LocalBot, out: Printer, language_code: str) -> User:
    emu = local.emulator
    chair = emu.add_user("杨静", language_code=language_code)
    people = [emu.add_user(name, language_code=language_code) for name, _, _ in RESIDENTS]
    husband = emu.add_user(CO_OWNER, language_code=language_code)
    passer_by = emu.add_user("路人甲", language_code=language_code)
    group = emu.add_group(
        "杨家园社区小院议事会", creator=chair, members=[*people, husband, passer_by]
    )
    by_name = {user.first_name: user for user in (chair, *people, husband)}

    out.step("1. 设立议事会 · set-up (the rule: a residents' meeting)")
    await _say(emu, chair, group, "/setup residents-meeting")

    out.step("2. 居民入册 · residents join the roll themselves; their areas await verification")
    await _say(emu, chair, group, "/join 1-1-101 120")
    for user, (_, address, area) in zip(people, RESIDENTS, strict=True):
        await _say(emu, user, group, f"/join {address} {area}")

    out.step(
        "3. 名册导入 · the chair sends the community's roll file privately: a dry run, then ✅"
    )
    diff = await _send_file(emu, chair, ROLL_FILE, ROLL.encode())
    await emu.press(chair, diff, _data(diff, 0, 0))
    await emu.wait_idle(quiet=0.3)
    roll = await _say(emu, chair, group, "/roll")
    if roll.buttons:  # 🔒: addresses, areas and the owners' figures, to the chair privately
        await emu.press(chair, roll, _data(roll, 0))
        await emu.wait_idle(quiet=0.3)

    out.step(f"4. 绑定码 · a printed card binds {CO_OWNER}, on the roll file but new to the chat")
    code = await _card_code(local, out, chair, "5-1-101")
    # The QR code's link opens the bot, and Telegram sends /start with the code.
    await _say(emu, husband, husband, f"/start {code}")

    out.step("5. 发起议题 · the chair opens a topic")
    card = await _say(emu, chair, group, TOPIC)

    out.step("6. 提案 · proposals (one written in a private chat)")
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

    out.step("7. 附议 · seconds")
    # One at a time: each redraws the topic card, and pressed together two redraws can
    # come out the same (Telegram refuses the second as "not modified").
    for user in (people[3], people[4], people[5]):
        await emu.press(user, garden, _data(garden, 0))
        await emu.wait_idle(quiet=0.3)
    await emu.press(people[5], parking, _data(parking, 0))
    refused = await emu.press(people[0], garden, _data(garden, 0))
    await emu.wait_idle(quiet=0.3)
    assert refused.show_alert  # one's own proposal cannot be seconded

    out.step(f"8. 会议签到 · the meeting in the activity room: sign-in; {OFFLINE} marked present")
    meeting = await _say(emu, chair, group, f"/meeting {_soon(local)} 社区活动室")
    await emu.press(chair, meeting, _data(meeting, 0))  # the topic goes on its agenda
    sign_in = await _say(emu, chair, group, "/signin")
    for user in (*(by_name[name] for name in IN_THE_ROOM), chair):
        await emu.press(user, sign_in, _data(sign_in, 0))
        await emu.wait_idle(quiet=0.3)
    await emu.press(chair, sign_in, _data(sign_in, 1))  # 代为签到: the list, privately
    await emu.wait_idle(quiet=0.3)
    listing = emu.last_bot_message(chair)
    assert listing is not None and listing.buttons
    await _press_named(emu, chair, listing, OFFLINE)

    out.step("9. 表决 · the chair puts the proposals to a vote (open: a show of hands)")
    ballot = await _say(emu, chair, group, "/ballot options")
    options = [_data(ballot, row) for row in range(len(ballot.buttons) - 1)]  # last: 弃权

    out.step("10. 举手表决 · votes by button, a changed vote, and a refused non-member")
    choices = [0, 1, 0, 0, 2, 0]  # garden, parking, garden, garden, playground, garden
    for user, choice in zip(people, choices, strict=True):
        await emu.press(user, ballot, options[choice])
    await emu.press(husband, ballot, options[2])
    await emu.press(chair, ballot, options[0])
    await emu.press(people[1], ballot, options[0])  # 李叔叔 changes his mind
    await emu.press(passer_by, ballot, options[0])  # not on the roll: refused
    await emu.wait_idle(quiet=0.6)

    out.step(
        f"11. 现场举手 · {OFFLINE} raises her hand; the chair records it from a private roll call"
    )
    await _say(emu, chair, group, "/rollcall")
    roll_call = emu.last_bot_message(chair)
    assert roll_call is not None and roll_call.buttons
    await _press_named(emu, chair, roll_call, OFFLINE)
    member = emu.last_bot_message(chair)
    assert member is not None and member.buttons
    await emu.press(chair, member, _data(member, 0))  # option 1, the garden
    await emu.wait_idle(quiet=0.6)

    out.step("12. 公布结果 · the chair closes the vote; the outcome with its figures and sources")
    await _say(emu, chair, group, "/close")
    await emu.wait_idle(quiet=0.6)

    out.step("13. 安排会议 · the chair schedules the next meeting; reminders will follow")
    await _say(emu, chair, group, "/topic 口袋花园由谁来维护？")
    await _say(emu, chair, group, "/deadline 3天")
    card = await _say(emu, chair, group, MEETING)
    await emu.press(chair, card, _data(card, 0))  # the open topic goes on the agenda
    await emu.wait_idle(quiet=0.3)
    await _say(emu, people[0], group, "/agenda")
    await _say(emu, people[0], group, "/reminders")

    out.step("14. 居民点单 · a resident asks for help; volunteers get offers privately")
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
    return chair


def main() -> None:
    sys.exit(run(argparse.Namespace(english=False)))


async def _keep_serving(local: LocalBot, out: Printer, chair: User) -> None:
    """``--web``: the chair asks for a console link, a household gets its login key,
    and the web keeps serving the demo's data until Ctrl+C."""
    from domain.services import web_access

    emu = local.emulator
    out.step("Web · 网页管理台与居民页面 (Ctrl+C to stop)")
    link = await _say(emu, chair, chair, "/console")
    out.flush()
    deps = local.deps
    async with deps.database.uow() as uow:
        council = (await uow.councils.of_person(chair.id))[0]
        assert council.id is not None
        roll = await uow.members.list(council.id)
    offline = next(m for m in roll if m.name == OFFLINE and m.id is not None)
    assert offline.id is not None
    issued = await web_access.issue_login_keys(
        deps.database.uow(),
        council_id=council.id,
        member_ids=[offline.id],
        user_id=chair.id,
        now=deps.clock(),
        key=deps.signer.key_for("web"),
    )
    from bot.web_links import key_url

    console = (link.text or "").split()[-1]
    print()
    print(f"  The web is serving on {local.web_url}")
    print(f"  Staff console (one-time link, {deps.settings.web_link_minutes:.0f} min): {console}")
    print(f"  {OFFLINE}'s household page (her card's web QR code): ")
    print(f"    {key_url(deps.settings, issued[0].token)}")
    print("  Press Ctrl+C to stop.", flush=True)
    await asyncio.Event().wait()  # until Ctrl+C cancels it
