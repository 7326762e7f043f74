"""End-to-end helpers: the real bot, the local Bot API emulator, simulated residents.

Every step follows the pattern of ``bot.cli.demo._say``: wait until the bot is idle,
act, wait for the bot's reaction, wait until it is idle again, then look at the
chat. Nothing sleeps; all waiting is the emulator's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bot.telegram.local import LocalBot, local_bot
from domain import services
from emulator import BotApiEmulator, CallbackAnswer, Chat, Message, User

QUIET = 0.12  # seconds without a bot call that count as "the bot is done"
TIMEOUT = 15.0

# What the bot says when a handler crashed (bot.telegram.app.on_error): never expected.
INTERNAL_ERRORS = ("处理时出了问题", "something went wrong")


@pytest.fixture
async def local(migrated_url: str) -> AsyncIterator[LocalBot]:
    """The real bot on the emulator and a fresh database (SQLite, then PostgreSQL)."""
    async with local_bot(migrated_url) as running:
        yield running


# The time of day every clock-moving test starts at, in the councils' time zone: a test
# that adds "2 days 3 hours" to a reminder planned "in 3 days at 19:30" must not depend
# on the hour it happens to run at. YISHI_TEST_CLOCK=HH:MM picks another one; the
# scheduling tests run at four (``time_of_day``, parametrized in test_scheduling.py).
PINNED_AT = os.environ.get("YISHI_TEST_CLOCK", "10:00")
COUNCIL_TZ = ZoneInfo("Asia/Shanghai")


def pinned_start(at: str = PINNED_AT, now: datetime | None = None) -> datetime:
    """The next moment (from ``now``) that is ``at`` (HH:MM) in the councils' time zone.

    Always ahead of the real clock: moving a running bot's clock back could confuse it.
    """
    hour, minute = (int(part) for part in at.split(":"))
    local = (now or datetime.now(UTC)).astimezone(COUNCIL_TZ)
    start = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if start <= local + timedelta(minutes=1):
        start += timedelta(days=1)
    return start.astimezone(UTC)


@pytest.fixture
def time_of_day(request: pytest.FixtureRequest) -> str:
    """HH:MM (Asia/Shanghai) the clock-moving tests start at: PINNED_AT, unless a test
    module parametrizes it (test_scheduling.py runs at four times of day)."""
    at: str = getattr(request, "param", PINNED_AT)
    return at


@pytest.fixture
def traveller(time_of_day: str) -> Iterator[time_machine.Traveller]:
    """The wall clock, to move: APScheduler 3 reads it itself, the bot's clock reads it too.

    It starts at the next 10:00 Asia/Shanghai (or ``time_of_day``), so tests read the
    same at any hour."""
    with time_machine.travel(pinned_start(time_of_day), tick=True) as coordinates:
        yield coordinates


# --- time and the scheduler ------------------------------------------------------


async def settled(local: LocalBot) -> None:
    """Wait until the outbox has sent what was queued and the bot is idle."""
    for _ in range(2):
        await local.deps.outbox.drain()
        await local.emulator.wait_idle(quiet=0.2)


async def settle_jobs(local: LocalBot, runs: int, timeout: float = 10.0) -> None:
    """Wait until the scheduler has run ``runs`` jobs in all and their messages are out."""
    scheduler = local.deps.scheduler
    deadline = time.monotonic() + timeout
    while len(scheduler.runs) < runs:
        assert time.monotonic() < deadline, f"only {scheduler.runs} ran"
        await asyncio.sleep(0.02)
    await settled(local)


async def advance(local: LocalBot, traveller: time_machine.Traveller, delta: timedelta) -> None:
    """Move the clock, then let the scheduler look at its jobs, as its heartbeat would."""
    assert local.deps.scheduler.leadership.is_leader  # the only process of its schema
    traveller.shift(delta)
    await local.deps.scheduler.tick()


# --- acting ------------------------------------------------------------------


async def send(
    emu: BotApiEmulator,
    user: User,
    chat: Chat | User,
    text: str,
    *,
    thread_id: int | None = None,
    expect_reply: bool = True,
) -> list[Message]:
    """``user`` writes ``text``; returns the bot messages posted in ``chat`` in reaction.

    With ``expect_reply`` it first waits for some bot message or edit in ``chat``.
    """
    await emu.wait_idle(quiet=QUIET)
    after = emu.event_seq
    sent = await emu.send_text(user, chat, text, thread_id=thread_id)
    if expect_reply:
        await emu.wait_for_bot_message(chat, after=after, timeout=TIMEOUT)
    await emu.wait_idle(quiet=QUIET)
    return [m for m in emu.messages(chat) if m.from_bot and m.message_id > sent.message_id]


async def say(
    emu: BotApiEmulator,
    user: User,
    chat: Chat | User,
    text: str,
    *,
    thread_id: int | None = None,
) -> Message:
    """``user`` writes ``text``; returns the last message the bot posted in reaction."""
    replies = await send(emu, user, chat, text, thread_id=thread_id)
    assert replies, f"the bot posted nothing in reply to {text[:60]!r}\n{tail(emu)}"
    return replies[-1]


async def press(
    emu: BotApiEmulator,
    user: User,
    message: Message,
    data: str,
    *,
    forge: bool = False,
) -> CallbackAnswer:
    """Press a button, wait for the answer and for the bot to settle (coalesced edits)."""
    await emu.wait_idle(quiet=QUIET)
    answer = await emu.press(user, message, data, forge=forge, timeout=TIMEOUT)
    await emu.wait_idle(quiet=QUIET)
    return answer


# --- looking -----------------------------------------------------------------


def current(emu: BotApiEmulator, message: Message) -> Message:
    """``message`` as it stands now (after edits)."""
    for m in emu.messages(message.chat):
        if m.message_id == message.message_id:
            return m
    raise AssertionError(f"message #{message.message_id} is gone")


def text_of(emu: BotApiEmulator, message: Message) -> str:
    return current(emu, message).text or ""


def shown(message: Message) -> str:
    """What a person sees of a message: its text, or a photo's caption."""
    return (message.text if message.text is not None else message.caption) or ""


def outcome_caption(message: Message) -> str:
    """An outcome as the group gets it: the result chart (a PNG photo, 800 x 500) with
    the outcome's text as its caption. Fails if ``message`` is anything else."""
    assert message.text is None and message.photo, f"the outcome is no chart: {message.text!r}"
    size = (message.photo[-1]["width"], message.photo[-1]["height"])
    assert size == (800, 500), size
    assert message.caption, "the chart has no caption"
    return message.caption


def group_texts(council: Council, marker: str) -> list[str]:
    """What the bot says in the council's chat, of the messages containing ``marker``."""
    return [shown(m) for m in bot_messages(council.emu, council.group) if marker in shown(m)]


def bot_messages(emu: BotApiEmulator, chat: Chat | User) -> list[Message]:
    return [m for m in emu.messages(chat) if m.from_bot]


def buttons(message: Message) -> list[tuple[str, str]]:
    """(label, callback_data) of every callback button, row by row."""
    return [(label, data) for row in message.buttons for label, data in row if data is not None]


def button(message: Message, label_part: str) -> str:
    """callback_data of the button whose label contains ``label_part``."""
    found = [data for label, data in buttons(message) if label_part in label]
    assert len(found) == 1, f"no single button with {label_part!r} in {message.buttons}"
    return found[0]


def url_buttons(message: Message) -> list[str]:
    rows = (message.reply_markup or {}).get("inline_keyboard") or []
    return [b["url"] for row in rows for b in row if "url" in b]


def start_command(message: Message) -> str:
    """``/start <payload>``, as Telegram sends it when the message's link button is opened."""
    (url,) = url_buttons(message)
    return "/start " + start_payload(url)


def start_payload(url: str) -> str:
    return url.split("?start=", 1)[1]


def tail(emu: BotApiEmulator, lines: int = 25) -> str:
    return "\n".join(emu.transcript.render().splitlines()[-lines:])


def api_errors(emu: BotApiEmulator) -> list[str]:
    """Bot API calls the emulator refused (e.g. unescaped HTML, flood limit)."""
    return [e.text for e in emu.transcript.entries if e.kind == "error"]


def latest_update_id(emu: BotApiEmulator) -> int:
    """The update_id of the update queued last (send_text and press do not return it)."""
    return max(emu._engine.world.history)


async def redeliver(emu: BotApiEmulator, update_id: int) -> list[str]:
    """Hand an update to the bot again; returns what the bot posted or edited meanwhile."""
    await emu.wait_idle(quiet=QUIET)
    seen = len(emu.transcript.entries)
    emu.redeliver(update_id)
    await emu.wait_idle(quiet=0.3)
    return [
        f"{e.kind} [{e.chat}] #{e.message_id}: {e.text}"
        for e in emu.transcript.entries[seen:]
        if e.kind in ("bot", "edit")
    ]


def assert_clean(
    emu: BotApiEmulator,
    caplog: pytest.LogCaptureFixture | None = None,
    *,
    allowed_errors: Iterable[str] = (),
) -> None:
    """No handler crashed, and the emulator refused no call except ``allowed_errors``."""
    allowed = tuple(allowed_errors)
    unexpected = [e for e in api_errors(emu) if not any(a in e for a in allowed)]
    assert not unexpected, f"Bot API errors: {unexpected}\n{tail(emu)}"
    crashed = [
        e.text
        for e in emu.transcript.entries
        if e.kind in ("bot", "edit") and any(s in e.text for s in INTERNAL_ERRORS)
    ]
    assert not crashed, f"a handler crashed:\n{tail(emu)}"
    if caplog is not None:
        failures = [
            r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("bot")
        ]
        assert not failures, [r.getMessage() for r in failures]


# --- the database (read only, except to seed large rolls) ----------------------


async def vote_events(local: LocalBot, ballot_id: int) -> int:
    async with local.database.uow() as uow:
        return len(await uow.votes.events(ballot_id))


async def current_votes(local: LocalBot, ballot_id: int) -> dict[int, str]:
    async with local.database.uow() as uow:
        return await uow.votes.current(ballot_id)


async def proposals_of(local: LocalBot, topic_id: int) -> list[str]:
    async with local.database.uow() as uow:
        return [p.text for p in await uow.proposals.for_topic(topic_id)]


async def seed_members(
    local: LocalBot, group: Chat, users: Iterable[User], *, thread_id: int = 0
) -> None:
    """Put ``users`` on the roll through the domain service, without chat traffic.

    For tests that need a large roll under Telegram's real group limit (20 messages a
    minute), where 40 ``/join`` replies alone would take two minutes.
    """
    council = await services.find_council(
        local.database.uow(), chat_id=group.id, thread_id=thread_id
    )
    assert council.id is not None
    for n, user in enumerate(users, 1):
        await services.join(
            local.database.uow(),
            council_id=council.id,
            user_id=user.id,
            name=user.full_name,
            address=services.parse_address(f"9-1-{100 + n}"),
            area=Decimal("80"),
            language=None,
            now=local.deps.clock(),
        )


# --- a council with residents ---------------------------------------------------

RESIDENTS = ("张阿姨", "李叔叔", "刘大姐", "陈师傅", "赵奶奶", "孙老师")


@dataclass
class Council:
    local: LocalBot
    group: Chat
    chair: User
    members: list[User]  # on the roll (the chair too, when ``chair_joins``)
    outsider: User  # in the group, not on the roll
    thread_id: int | None = None
    names: dict[int, str] = field(default_factory=dict)

    @property
    def emu(self) -> BotApiEmulator:
        return self.local.emulator

    async def say(self, user: User, text: str) -> Message:
        return await say(self.emu, user, self.group, text, thread_id=self.thread_id)

    async def send(self, user: User, text: str, *, expect_reply: bool = True) -> list[Message]:
        return await send(
            self.emu, user, self.group, text, thread_id=self.thread_id, expect_reply=expect_reply
        )

    async def topic(self, title: str = "拆除违建后空出的空地做什么？") -> tuple[Message, int]:
        card = await self.say(self.chair, f"/topic {title}\n请大家提出方案。")
        assert card.text is not None and card.text.startswith("📌"), card.text
        topic_id = int(card.text.split("#", 1)[1].split("：", 1)[0].split(":", 1)[0])
        return card, topic_id

    async def ballot(self, args: str = "") -> tuple[Message, int]:
        message = await self.say(self.chair, f"/ballot {args}".strip())
        assert message.text is not None and message.text.startswith("🗳"), message.text
        ballot_id = int(message.text.split("#", 1)[1].split("：", 1)[0].split(":", 1)[0])
        return message, ballot_id


async def make_council(
    local: LocalBot,
    *,
    rule: str | None = None,
    residents: Iterable[str] = RESIDENTS[:4],
    chair_joins: bool = True,
    forum: bool = False,
    thread_id: int | None = None,
    language_code: str | None = "zh-hans",
) -> Council:
    """A group set up as a council by its admin, with ``residents`` on the roll."""
    emu = local.emulator
    chair = emu.add_user("杨静", language_code=language_code)
    people = [emu.add_user(name, language_code=language_code) for name in residents]
    outsider = emu.add_user("路人甲", language_code=language_code)
    group = emu.add_group(
        "杨家园社区小院议事会", admins=[chair], members=[*people, outsider], forum=forum
    )
    setup = await say(emu, chair, group, f"/setup {rule or ''}".strip(), thread_id=thread_id)
    assert setup.text is not None and setup.text.startswith("✅"), setup.text
    council = Council(local, group, chair, [], outsider, thread_id)
    joining = ([chair] if chair_joins else []) + people
    for n, user in enumerate(joining, 1):
        reply = await council.say(user, f"/join 3-2-{300 + n} {80 + n}")
        assert reply.text is not None and reply.text.startswith("✅"), reply.text
    council.members = people
    return council
