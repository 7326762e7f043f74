"""Chaos trials: the real `yishi run` process, killed with SIGKILL at random moments.

The bot runs as a process of its own (``python -m bot.cli run``, configured by
environment variables as on a real machine) against the local Bot API emulator in
this process. A trial starts something (a burst of votes, a call for volunteers,
a ballot's closing), kills the bot at a random moment, starts it again, waits
until the work is done (a state in the database or the chat, never a quiet
period), and then checks member by member: every press counted exactly once,
every offer delivered, one outcome message. Faults can be added: a TCP proxy in
front of PostgreSQL that the trial cuts, and a share of Bot API calls failing.

Used by ``tests/chaos`` (a few trials, asserted) and ``bench/chaos.py`` (many
trials, figures printed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url

from domain import meetings, services, volunteering
from domain.model import BallotKind, Member, NoticeState, Phase
from domain.rules import Choice
from domain.task_rules import Volunteer
from emulator import BotApiEmulator, Chat, Message, User
from storage.orm import InboxRow, NoticeRow
from storage.uow import Database


def button(message: Message, label_part: str) -> str:
    """callback_data of the one button whose label contains ``label_part``."""
    (found,) = [d for row in message.buttons for label, d in row if d and label_part in label]
    return found


ROOT = Path(__file__).resolve().parents[2]
TEAM = "畅大妈志愿服务队"
FIRST_USER = 700_000


# --- the bot as a process -------------------------------------------------------------


class BotProcess:
    """`yishi run` against the emulator; its log (stderr) goes to a file per start."""

    def __init__(
        self,
        emu: BotApiEmulator,
        database_url: str,
        workdir: Path,
        *arguments: str,
        **env: str,
    ) -> None:
        self._emu = emu
        self._url = database_url
        self._dir = workdir
        self._arguments = arguments or ("run",)
        self._env = env
        self._proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.logs: list[Path] = []

    def environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("YISHI_") and key != "TEST_DATABASE_URL"
        }
        env.update(
            PYTHONPATH=str(ROOT),
            YISHI_TELEGRAM_TOKEN=self._emu.token or "",
            YISHI_TELEGRAM_BASE_URL=self._emu.base_url,
            YISHI_DATABASE_URL=self._url,
            YISHI_GROUP_MESSAGES_PER_MINUTE=str(self._emu.limits.group_per_minute),
            YISHI_TALLY_EDIT_INTERVAL="0.3",
            YISHI_SCHEDULER_POLL="0.5",
            YISHI_LIMIT_PROPOSALS_PER_HOUR="0",
            YISHI_LIMIT_REQUESTS_PER_HOUR="0",
            YISHI_LIMIT_GROUP_COMMANDS="0",
        )
        env.update(self._env)
        return env

    async def start(self, timeout: float = 60.0) -> None:
        """Start and wait until it polls (its log says it is running)."""
        assert self._proc is None or self._proc.returncode is not None
        self.starts += 1
        log = self._dir / f"bot-{id(self)}-{self.starts}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                *self._arguments,
                cwd=self._dir,
                env=self.environment(),
                stdout=out,
                stderr=out,
            )
        deadline = time.monotonic() + timeout
        while "Yishi is running" not in log.read_text(errors="replace"):
            if self._proc.returncode is not None:
                raise RuntimeError(f"the bot exited ({self._proc.returncode}):\n{self.log_text()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the bot did not start:\n{self.log_text()}")
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, whatever it was doing."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.send_signal(signal.SIGKILL)

    async def wait(self) -> None:
        if self._proc is not None:
            await self._proc.wait()

    async def crash(self) -> None:
        self.kill()
        await self.wait()

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._proc.wait(), 30)
            except TimeoutError:
                await self.crash()

    def log_text(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.logs if path.exists())


# --- a TCP proxy in front of PostgreSQL, to cut the database away ------------------------


class TcpProxy:
    """Forwards a local port to ``target``; ``cut()`` drops every connection and refuses
    new ones until ``restore()``, as a network outage or a database restart would."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.cut()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


class RoundRobin:
    """A reverse proxy for webhooks, as Caddy or nginx would be: each request goes to the
    next backend; one that does not answer is skipped for the next."""

    def __init__(self, backends: Sequence[int]) -> None:
        self._backends = list(backends)
        self._next = 0
        self._runner: Any = None
        self.port = 0
        self.served: Counter[int] = Counter()

    async def start(self) -> None:
        from aiohttp import ClientSession, web

        self._http = ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        await self._http.close()
        await self._runner.cleanup()

    async def _forward(self, request: Any) -> Any:
        from aiohttp import ClientError, web

        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        for _ in range(len(self._backends)):
            port = self._backends[self._next % len(self._backends)]
            self._next += 1
            try:
                async with self._http.request(
                    request.method,
                    f"http://127.0.0.1:{port}{request.path}",
                    data=body,
                    headers=headers,
                ) as answer:
                    self.served[port] += 1
                    return web.Response(status=answer.status, body=await answer.read())
            except ClientError:
                continue
        return web.Response(status=502, text="no backend")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def through_proxy(url: str, proxy: TcpProxy) -> str:
    return (
        make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    )


# --- the council ----------------------------------------------------------------------


@dataclass
class Stage:
    """The emulated chat and the council in it, shared by the trials of one run."""

    emu: BotApiEmulator
    database: Database
    bot: BotProcess
    chair: User
    group: Chat
    members: list[User]
    council_id: int
    rng: random.Random
    topics: int = 0
    burst: float = 1.0  # seconds a burst of votes takes to be handled (see calibrate)


async def say(stage: Stage, text: str, timeout: float = 30.0) -> Message:
    """The chair writes in the group; returns the bot's first message in reply."""
    emu = stage.emu
    after = emu.event_seq
    sent = await emu.send_text(stage.chair, stage.group, text)
    return await emu.wait_for_bot_message(
        stage.group,
        lambda m: m.reply_to_message_id == sent.message_id,  # not an edit of something else
        after=after,
        timeout=timeout,
    )


async def open_stage(
    emu: BotApiEmulator,
    database_url: str,
    workdir: Path,
    *arguments: str,
    members: int,
    seed: int = 0,
    **env: str,
) -> Stage:
    """A council of ``members`` on the roll, set up through the running bot process."""
    bot = BotProcess(emu, database_url, workdir, *arguments, **env)
    database = await Database.open(database_url)
    chair = emu.add_user("杨静")
    first = FIRST_USER + 10_000 * len([c for c in emu._engine.world.chats.values() if c.is_group])
    users = [emu.add_user(f"居民{i}", user_id=first + i) for i in range(members)]
    group = emu.add_group("杨家园社区小院议事会", admins=[chair], members=users)
    await bot.start()
    stage = Stage(emu, database, bot, chair, group, users, 0, random.Random(seed))
    reply = await say(stage, "/setup simple")
    assert (reply.text or "").startswith("✅"), reply.text
    council = await services.find_council(database.uow(), chat_id=group.id, thread_id=0)
    assert council.id is not None
    stage.council_id = council.id
    now = datetime.now(UTC)
    async with database.uow() as uow:
        for i, user in enumerate([chair, *users]):
            await uow.members.add(
                Member(
                    council_id=council.id,
                    user_id=user.id,
                    name=user.full_name,
                    building=str(1 + i // 100),
                    unit=str(1 + (i // 10) % 10),
                    room=str(101 + i % 10),
                    joined_at=now,
                    area=Decimal("80.00"),
                    language="zh-CN",
                )
            )
        await uow.commit()
    return stage


async def close_stage(stage: Stage) -> None:
    await stage.bot.stop()
    await stage.database.dispose()


async def new_ballot(stage: Stage) -> tuple[Message, int]:
    """The chair opens a topic and puts a motion through the bot; the ballot message."""
    stage.topics += 1
    await say(stage, f"/topic 议题{stage.topics}：楼道灯改造")
    ballot = await say(stage, "/ballot")
    assert ballot.buttons, ballot.text
    ballot_id = int((ballot.text or "").split("#", 1)[1].split("：", 1)[0].split(":")[0])
    return ballot, ballot_id


async def wait_until(condition: Any, timeout: float, step: float = 0.1) -> bool:
    """Wait until ``await condition()`` is true (a state, not a quiet period)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(step)
    return bool(await condition())


async def unhandled(stage: Stage) -> int:
    async with stage.database.sessions() as session:
        rows = await session.scalars(select(InboxRow.id).where(InboxRow.handled_at.is_(None)))
        return len(list(rows))


async def votes_stored(stage: Stage, ballot_id: int) -> int:
    async with stage.database.uow() as uow:
        return len(await uow.votes.current(ballot_id))


async def presses_stored(stage: Stage, query_ids: set[str]) -> int:
    async with stage.database.sessions() as session:
        payloads = await session.scalars(select(InboxRow.payload))
        return sum(1 for p in payloads if (p.get("callback_query") or {}).get("id") in query_ids)


async def all_handled(stage: Stage) -> bool:
    return not stage.emu._engine.world.pending and await unhandled(stage) == 0


# --- trial: a burst of votes ------------------------------------------------------------


@dataclass
class VotesTrial:
    ballot_id: int = 0
    presses: int = 0
    counted_once: int = 0
    lost: int = 0  # pressed, never told it was not recorded, and not counted
    doubled: int = 0  # more than one audit event for one press
    refused_in_outage: int = 0  # told "暂时无法记录", and indeed not counted
    told_but_counted: int = 0  # told "暂时无法记录" and counted anyway (must be 0)
    killed_after: float = 0.0
    counted_at_kill: int = 0  # votes stored when the bot died
    stored_at_kill: int = 0  # presses in the inbox when it died (handled or not)
    recovered_in: float = 0.0  # restart → every press handled


UNAVAILABLE = "暂时无法记录"


async def votes_trial(
    stage: Stage,
    *,
    kill: bool = True,
    spread: float = 0.0,
    during: Any = None,
) -> VotesTrial:
    """Every member presses 赞成 or 反对 once (all at once, or over ``spread`` seconds);
    the bot is killed at a random moment of the burst and started again. ``during`` is
    an extra fault to run alongside (an outage)."""
    ballot, ballot_id = await new_ballot(stage)
    choices = {"赞成": Choice.FOR.value, "反对": Choice.AGAINST.value}
    data = {label: button(ballot, label) for label in choices}
    wanted: dict[int, str] = {}
    queries: dict[int, str] = {}
    result = VotesTrial(ballot_id=ballot_id, presses=len(stage.members))

    async def press_all() -> None:
        for i, user in enumerate(stage.members):
            label = "赞成" if stage.rng.random() < 0.6 else "反对"
            wanted[user.id] = choices[label]
            queries[user.id] = stage.emu.press_later(user, ballot, data[label])
            if spread:
                await asyncio.sleep(spread / len(stage.members))
            elif i % 50 == 49:
                await asyncio.sleep(0)

    extra = asyncio.create_task(during()) if during is not None else None
    presses = asyncio.create_task(press_all())
    began = time.monotonic()
    if kill:
        # At a random moment of the burst (its length measured by ``calibrate``): some
        # presses not fetched yet, some fetched, stored, counted or answered.
        result.killed_after = stage.rng.uniform(0, stage.burst)
        await asyncio.sleep(result.killed_after)
        await stage.bot.crash()
        result.counted_at_kill = await votes_stored(stage, ballot_id)
        result.stored_at_kill = await presses_stored(stage, set(queries.values()))
        await stage.bot.start()
    restarted = time.monotonic()
    await presses
    if extra is not None:
        await extra
    await wait_until(lambda: all_handled(stage), timeout=90)
    result.recovered_in = time.monotonic() - restarted
    if not kill and during is None:
        result.killed_after = time.monotonic() - began  # the burst's length, uninterrupted

    async with stage.database.uow() as uow:
        current = await uow.votes.current(ballot_id)
        events = Counter(e.member_id for e in await uow.votes.events(ballot_id))
        members = await uow.members.by_users(stage.council_id, [u.id for u in stage.members])
    for user in stage.members:
        member = members[user.id]
        answer = stage.emu.answer_of(queries[user.id])
        told = answer is not None and UNAVAILABLE in (answer.text or "")
        counted = current.get(member.id or 0)
        if told:
            if counted is None:
                result.refused_in_outage += 1
            else:
                result.told_but_counted += 1
            continue
        if counted is None:
            result.lost += 1
        elif events[member.id or 0] > 1:
            result.doubled += 1
        elif counted == wanted[user.id]:
            result.counted_once += 1
        else:
            result.lost += 1  # counted as something else: wrong
    return result


async def calibrate(stage: Stage) -> float:
    """Time an uninterrupted burst of votes, so kills can fall anywhere within one."""
    trial = await votes_trial(stage, kill=False)
    assert (trial.lost, trial.doubled) == (0, 0), trial
    stage.burst = trial.killed_after
    return stage.burst


@dataclass
class OutageTrial:
    votes: VotesTrial
    outage: float  # seconds the database was away
    recovery: float  # database back → the next vote stored, seconds


async def outage_trial(
    stage: Stage, proxy: TcpProxy, *, after: float = 2.0, length: float = 10.0, spread: float = 20.0
) -> OutageTrial:
    """Members press one after another over ``spread`` seconds; ``after`` seconds in,
    the database is cut away for ``length`` seconds (no restart of the bot)."""
    restored: list[datetime] = []

    async def outage() -> None:
        await asyncio.sleep(after)
        await proxy.cut()
        await asyncio.sleep(length)
        await proxy.restore()
        restored.append(datetime.now(UTC))

    votes = await votes_trial(stage, kill=False, spread=spread, during=outage)
    async with stage.database.uow() as uow:
        cast = sorted(v.at for v in await uow.votes.events(votes.ballot_id))
    back = restored[0]
    first = next((at for at in cast if at >= back), None)
    recovery = (first - back).total_seconds() if first is not None else float("nan")
    return OutageTrial(votes, length, recovery)


# --- trial: a call for volunteers ---------------------------------------------------------


@dataclass
class OffersTrial:
    volunteers: int = 0
    delivered: int = 0  # volunteers who got the offer
    lost: int = 0
    doubled: int = 0  # volunteers who got it more than once (harmless: answering is once)
    killed_after: float = 0.0
    sent_at_kill: int = 0  # volunteers with their offer when the bot died
    sending_at_kill: int = 0  # offers left mid-send by the dead bot


async def make_volunteers(stage: Stage) -> None:
    """Every member volunteers in one team and started the bot; a decided topic exists."""
    uow = stage.database.uow
    now = datetime.now(UTC)
    team = await volunteering.add_team(
        uow(), council_id=stage.council_id, user_id=stage.chair.id, name=TEAM, leader_user_ids=[]
    )
    async with uow() as unit:
        members = await unit.members.by_users(stage.council_id, [u.id for u in stage.members])
        for user in stage.members:
            member = members[user.id]
            assert member.id is not None
            await unit.volunteers.put(
                Volunteer(
                    member_id=member.id,
                    council_id=stage.council_id,
                    skills=frozenset(),
                    grid=member.building,
                    registered_at=now,
                    team_id=team.id,
                )
            )
            await unit.contacts.mark(user.id, True, now)
        await unit.commit()
    for user in stage.members:
        stage.emu.start_bot(user)
    topic = await services.open_topic(
        uow(),
        council_id=stage.council_id,
        user_id=stage.chair.id,
        title="楼道堆物清理",
        description="",
        deadline=None,
        now=now,
    )
    ballot = await services.put_ballot(
        uow(),
        council_id=stage.council_id,
        topic_id=topic.id,
        user_id=stage.chair.id,
        kind=BallotKind.MOTION,
        now=now,
    )
    assert ballot.id is not None
    await services.cast_vote(
        uow(), ballot_id=ballot.id, user_id=stage.members[0].id, choice=Choice.FOR.value, now=now
    )
    closed = await services.close_ballot(
        uow(), council_id=stage.council_id, ballot_id=ballot.id, user_id=stage.chair.id, now=now
    )
    assert closed.topic.phase is Phase.DECIDED


async def offers_trial(stage: Stage, *, kill: bool = True) -> OffersTrial:
    """A task for the whole team: one offer each, sent by the bot's outbox; the bot is
    killed while it sends them and started again."""
    now = datetime.now(UTC)
    title = f"搬器材{stage.rng.randrange(10**6)}"
    await volunteering.create_task(
        stage.database.uow(),
        council_id=stage.council_id,
        user_id=stage.chair.id,
        topic_id=None,
        title=title,
        assignee=volunteering.Assignee(team=TEAM),
        skill=None,
        due=None,
        now=now,
    )
    result = OffersTrial(volunteers=len(stage.members))

    def offers_to(user: User) -> int:
        return sum(1 for m in stage.emu.sent_to(user) if title in (m.text or m.caption or ""))

    if kill:
        # Once a random number of offers are out (0: before the outbox took any).
        began = time.monotonic()
        target = stage.rng.randrange(len(stage.members))
        while sum(1 for u in stage.members if offers_to(u)) < target:
            if time.monotonic() - began > 30:
                break
            await asyncio.sleep(0.002)
        result.killed_after = time.monotonic() - began
        await stage.bot.crash()
        result.sent_at_kill = sum(1 for u in stage.members if offers_to(u))
        result.sending_at_kill = await notices_sending(stage)
        await stage.bot.start()

    async def done() -> bool:
        return all(offers_to(u) for u in stage.members) and await notices_settled(stage)

    await wait_until(done, timeout=90)
    for user in stage.members:
        got = offers_to(user)
        result.delivered += got > 0
        result.lost += got == 0
        result.doubled += got > 1
    return result


async def notices_sending(stage: Stage) -> int:
    async with stage.database.sessions() as session:
        found = await session.scalars(
            select(NoticeRow.id).where(NoticeRow.state == NoticeState.SENDING.value)
        )
        return len(list(found))


async def notices_settled(stage: Stage) -> bool:
    async with stage.database.sessions() as session:
        waiting = await session.scalars(
            select(NoticeRow.id).where(
                NoticeRow.state.in_([NoticeState.PENDING.value, NoticeState.SENDING.value])
            )
        )
        return not list(waiting)


# --- trial: a ballot closing at its deadline ------------------------------------------------


@dataclass
class ClosingTrial:
    outcome_messages: int = 0
    in_doubt: bool = False  # the outcome notice was given up as UNKNOWN (and logged)
    logged: bool = False  # the log names it as left in doubt
    closed: bool = False
    closed_at_kill: bool = False  # the closing had committed before the bot died
    offset: float = 0.0  # kill moment minus deadline, seconds


async def closing_trial(stage: Stage, *, lead: float = 4.0) -> ClosingTrial:
    """A ballot whose deadline the bot plans; the bot is killed around that moment and
    started again: the outcome is announced once (or, if its send was cut mid-way, it
    is given up and the log says so: never twice)."""
    ballot, ballot_id = await new_ballot(stage)
    for user in stage.members[:3]:
        stage.emu.press_later(user, ballot, button(ballot, "赞成"))
    await wait_until(lambda: all_handled(stage), timeout=30)
    await stage.bot.stop()
    deadline = datetime.now(UTC) + timedelta(seconds=lead)
    await meetings.set_deadline(
        stage.database.uow(),
        council_id=stage.council_id,
        user_id=stage.chair.id,
        deadline=deadline,
        now=datetime.now(UTC),
    )
    await stage.bot.start()  # it plans the closing at start-up
    result = ClosingTrial(offset=stage.rng.uniform(-0.4, 0.4))
    wait = (deadline - datetime.now(UTC)).total_seconds() + result.offset
    await asyncio.sleep(max(0.0, wait))
    await stage.bot.crash()
    async with stage.database.uow() as uow:
        at_kill = await uow.ballots.get(ballot_id)
    result.closed_at_kill = at_kill is not None and not at_kill.is_open
    await stage.bot.start()
    key = f"ballot:{ballot_id}:outcome"

    async def finished() -> bool:
        async with stage.database.sessions() as session:
            state = await session.scalar(select(NoticeRow.state).where(NoticeRow.key == key))
        return state in (NoticeState.SENT.value, NoticeState.UNKNOWN.value)

    await wait_until(finished, timeout=60)
    await wait_until(lambda: all_handled(stage), timeout=30)
    async with stage.database.sessions() as session:
        state = await session.scalar(select(NoticeRow.state).where(NoticeRow.key == key))
    async with stage.database.uow() as uow:
        found = await uow.ballots.get(ballot_id)
    result.closed = found is not None and not found.is_open
    result.in_doubt = state == NoticeState.UNKNOWN.value
    result.logged = key in stage.bot.log_text() and "not sent again" in stage.bot.log_text()
    question = found.question if found is not None else "?"
    # An outcome is the result chart with the outcome as its caption, or a text.
    said = [
        (m.caption or "") if m.text is None else m.text
        for m in stage.emu.messages(stage.group)
        if m.from_bot
    ]
    result.outcome_messages = sum(1 for s in said if "表决结果" in s and question in s)
    return result


def summary(trials: Sequence[Any], fields: Iterable[str]) -> dict[str, int]:
    return {name: sum(getattr(t, name) for t in trials) for name in fields}


@asynccontextmanager
async def stage_on(
    emu: BotApiEmulator,
    database_url: str,
    workdir: Path,
    *arguments: str,
    members: int,
    seed: int = 0,
    **env: str,
) -> AsyncIterator[Stage]:
    stage = await open_stage(
        emu, database_url, workdir, *arguments, members=members, seed=seed, **env
    )
    try:
        yield stage
    finally:
        await close_stage(stage)
