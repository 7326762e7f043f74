"""Several bot processes on one PostgreSQL database: one runs the jobs, once.

Real processes (``tests/bot/scheduler_process.py``) share the database and the
emulated Telegram with this test's own bot. Deadlines are a few seconds ahead,
in real time: the processes have no clock of the test's to share.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from bot.telegram.local import LocalBot, bot_on
from domain import meetings
from domain.schedule import Subject
from emulator import BotApiEmulator, RateLimits
from tests.bot.conftest import Council, bot_messages, make_council, shown

ROOT = Path(__file__).resolve().parents[2]
POLL = 0.3


class Process:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.roles: list[str] = []

    async def role(self, wanted: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while wanted not in self.roles:
            assert self.proc.stdout is not None
            line = await asyncio.wait_for(self.proc.stdout.readline(), deadline - time.monotonic())
            assert line, f"process ended before it was {wanted}: {self.roles}"
            self.roles.append(line.decode().strip())


@asynccontextmanager
async def bot_process(url: str, emu: BotApiEmulator) -> AsyncIterator[Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bot.scheduler_process",
        url,
        emu.base_url,
        emu.token or "",
        str(POLL),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        yield Process(proc)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def outcomes(council: Council) -> list[str]:
    """The outcomes announced in the group: texts, or charts' captions."""
    texts = [shown(m) for m in bot_messages(council.emu, council.group)]
    return [text for text in texts if "表决结果" in text]


async def ballot_closing_in(local: LocalBot, council: Council, seconds: float) -> int:
    """A topic put to the vote whose ballot closes in ``seconds``, planned like /deadline."""
    await council.topic()
    _message, ballot_id = await council.ballot()
    council_id = await council_id_of(local, council)
    result = await meetings.set_deadline(
        local.database.uow(),
        council_id=council_id,
        user_id=council.chair.id,
        deadline=local.deps.clock() + timedelta(seconds=seconds),
        now=local.deps.clock(),
    )
    assert result.ballot is not None and result.ballot.id == ballot_id
    await local.deps.scheduler.sync(Subject.BALLOT, ballot_id)
    return ballot_id


async def council_id_of(local: LocalBot, council: Council) -> int:
    from domain import services

    found = await services.find_council(local.database.uow(), chat_id=council.group.id, thread_id=0)
    assert found.id is not None
    return found.id


async def wait_for(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_two_processes_one_closing_and_a_take_over(postgres_url: str) -> None:
    async with BotApiEmulator(limits=RateLimits(group_per_minute=600)) as emu:
        # Migrated by the first process of the test; the others only connect.
        async with bot_on(emu, postgres_url, scheduler_poll=POLL) as setup:
            council = await make_council(setup)
        async with bot_process(postgres_url, emu) as first:
            await first.role("leader")
            async with (
                bot_process(postgres_url, emu) as second,
                bot_on(emu, postgres_url, scheduler_poll=POLL) as local,
            ):
                council.local = local
                await second.role("follower")
                assert not local.deps.scheduler.leadership.is_leader
                # A chair's deadline, planned by this (follower) process into the shared store.
                ballot_id = await ballot_closing_in(local, council, 3)
                await wait_for(lambda: len(outcomes(council)) == 1, 20)
                await asyncio.sleep(2 * POLL + 0.5)  # time for a second closing, if any
                assert len(outcomes(council)) == 1

                # The leader dies without a word; another process takes over.
                first.proc.kill()
                await first.proc.wait()
                await ballot_closing_in(local, council, 4)
                await wait_for(lambda: len(outcomes(council)) == 2, 30)
                await asyncio.sleep(2 * POLL + 0.5)
                assert len(outcomes(council)) == 2
                took_over = local.deps.scheduler.leadership.is_leader or "leader" in (
                    await _roles_after(second)
                )
                assert took_over
                async with local.database.uow() as uow:
                    closed = await uow.ballots.get(ballot_id)
                    assert closed is not None and not closed.is_open
                    assert len(await uow.resolutions.for_topic(closed.topic_id)) == 1
                    assert await uow.ballots.open_with_deadline() == []


async def _roles_after(process: Process) -> list[str]:
    assert process.proc.stdout is not None
    try:
        while True:
            line = await asyncio.wait_for(process.proc.stdout.readline(), 0.5)
            if not line:
                break
            process.roles.append(line.decode().strip())
    except TimeoutError:
        pass
    return process.roles
