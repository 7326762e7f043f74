"""Chaos in CI: SIGKILL at random moments, the database cut away, Bot API calls failing.

A few bounded trials per database (``bench/chaos.py`` runs many and prints the
figures). Each checks member by member: every press counted exactly once (or, when
the member was told "暂时无法记录", not at all), every offer delivered, one outcome
message (or none, with the log saying it was left in doubt).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from emulator import BotApiEmulator, RateLimits
from tests.chaos.harness import (
    BotProcess,
    RoundRobin,
    Stage,
    TcpProxy,
    calibrate,
    closing_trial,
    free_port,
    make_volunteers,
    offers_trial,
    outage_trial,
    stage_on,
    through_proxy,
    votes_trial,
    wait_until,
)

MEMBERS = 120


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(limits=RateLimits(group_per_minute=600)) as emu:
        yield emu


@pytest.fixture
async def stage(
    emulator: BotApiEmulator, migrated_url: str, tmp_path: Path
) -> AsyncIterator[Stage]:
    async with stage_on(emulator, migrated_url, tmp_path, members=MEMBERS, seed=8) as ready:
        yield ready


async def test_killed_during_a_burst_of_votes_every_press_counts_once(stage: Stage) -> None:
    await calibrate(stage)
    for _ in range(2):
        trial = await votes_trial(stage)
        assert (trial.lost, trial.doubled) == (0, 0), trial
        assert trial.counted_once == MEMBERS


async def test_killed_while_calling_volunteers_every_offer_is_delivered(stage: Stage) -> None:
    await make_volunteers(stage)
    trial = await offers_trial(stage)
    assert trial.lost == 0 and trial.delivered == MEMBERS, trial


async def test_killed_around_a_closing_the_outcome_is_announced_once(stage: Stage) -> None:
    trial = await closing_trial(stage)
    assert trial.closed
    assert trial.outcome_messages <= 1, trial
    if trial.outcome_messages == 0:  # its send was cut mid-way: given up, and said so
        assert trial.in_doubt and trial.logged, trial


async def test_with_bot_api_calls_failing_nothing_is_lost_or_counted_twice(
    stage: Stage,
) -> None:
    stage.emu.inject_failures(0.05, seed=5)
    votes = await votes_trial(stage)
    assert (votes.lost, votes.doubled) == (0, 0), votes
    await make_volunteers(stage)
    offers = await offers_trial(stage, kill=False)
    assert offers.lost == 0, offers
    before, after = stage.emu.injected_failures
    assert before + after > 0


@pytest.fixture
async def proxied(
    emulator: BotApiEmulator, postgres_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Stage, TcpProxy]]:
    from sqlalchemy.engine import make_url

    parsed = make_url(postgres_url)
    proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    await proxy.start()
    try:
        async with stage_on(
            emulator,
            postgres_url,
            tmp_path,
            members=MEMBERS,
            seed=9,
            YISHI_DATABASE_URL=through_proxy(postgres_url, proxy),
        ) as ready:
            yield ready, proxy
    finally:
        await proxy.close()


async def test_the_database_cut_for_seconds_during_votes(
    proxied: tuple[Stage, TcpProxy],
) -> None:
    stage, proxy = proxied
    trial = await outage_trial(stage, proxy, after=1.0, length=3.0, spread=6.0)
    votes = trial.votes
    assert (votes.lost, votes.doubled, votes.told_but_counted) == (0, 0, 0), trial
    assert votes.refused_in_outage > 0  # some pressed while it was away, and were told
    assert votes.counted_once + votes.refused_in_outage == MEMBERS
    assert trial.recovery < 10, trial  # working again within seconds, without a restart


async def test_the_database_down_at_start_is_waited_for(
    emulator: BotApiEmulator, postgres_url: str, tmp_path: Path
) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(postgres_url)
    proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    await proxy.start()
    await proxy.cut()  # the database is not there when the bot starts
    bot = BotProcess(emulator, through_proxy(postgres_url, proxy), tmp_path)
    starting = asyncio.create_task(bot.start(timeout=60))
    try:

        async def waiting() -> bool:
            return "unavailable" in bot.log_text() and "trying again" in bot.log_text()

        assert await wait_until(waiting, timeout=30), bot.log_text()
        assert not starting.done()  # it waits; it did not exit
        await proxy.restore()
        await starting  # and starts once the database is back
        chair = emulator.add_user("杨静")
        group = emulator.add_group("议事会", admins=[chair])
        after = emulator.event_seq
        await emulator.send_text(chair, group, "/setup")
        reply = await emulator.wait_for_bot_message(group, after=after, timeout=30)
        assert (reply.text or "").startswith("✅")
    finally:
        starting.cancel()
        await bot.stop()
        await proxy.close()


async def test_two_webhook_processes_share_the_work_and_one_may_die(
    emulator: BotApiEmulator, postgres_url: str, tmp_path: Path
) -> None:
    """Two `yishi run --webhook` processes behind a round-robin proxy on one PostgreSQL
    database; one of them is killed in the middle of a burst of votes."""
    ports = [free_port(), free_port()]
    proxy = RoundRobin(ports)
    await proxy.start()
    url = f"http://127.0.0.1:{proxy.port}/telegram"
    common = {"YISHI_WEBHOOK_URL": url, "YISHI_WEBHOOK_SECRET": "chaos-secret"}
    try:
        async with stage_on(
            emulator,
            postgres_url,
            tmp_path,
            "run",
            "--webhook",
            members=MEMBERS,
            seed=11,
            YISHI_WEBHOOK_PORT=str(ports[0]),
            **common,
        ) as stage:
            (tmp_path / "second").mkdir()
            second = BotProcess(
                emulator,
                postgres_url,
                tmp_path / "second",
                "run",
                "--webhook",
                YISHI_WEBHOOK_PORT=str(ports[1]),
                **common,
            )
            await second.start()
            try:
                await calibrate(stage)
                trial = await votes_trial(stage)  # kills and restarts the first process
                assert (trial.lost, trial.doubled) == (0, 0), trial
                assert trial.counted_once == MEMBERS
                assert all(proxy.served[port] > 0 for port in ports)  # both took updates
            finally:
                await second.stop()
    finally:
        await proxy.close()
