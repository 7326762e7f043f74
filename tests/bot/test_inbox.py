"""The durable update inbox, end to end: stored before confirmed, handled from the store.

The crash tests with real processes and SIGKILL are in ``tests/chaos``; these
check the inbox's rules one at a time with the real bot and the emulator.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import psycopg
import pytest
import time_machine
from sqlalchemy import exc, func, insert, select

from bot.telegram.local import bot_on
from bot.telegram.webhook import SECRET_HEADER, WebhookConfig
from emulator import BotApiEmulator, RateLimits
from storage.inbox import SqlInbox
from storage.orm import InboxRow
from storage.uow import Database
from tests.bot.conftest import (
    button,
    current_votes,
    latest_update_id,
    make_council,
    settled,
)


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(limits=RateLimits(group_per_minute=600)) as emu:
        yield emu


def outage() -> exc.OperationalError:
    """What SQLAlchemy raises when the database server cannot be reached."""
    return exc.OperationalError("INSERT INTO inbox …", {}, psycopg.OperationalError("refused"))


class FlakyStore:
    """Makes ``SqlInbox.store`` fail as during an outage until ``up()``; counts the tries."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.down = True
        self.tries = 0
        self.failed = asyncio.Event()
        real = SqlInbox.store

        async def store(inbox: SqlInbox, *args: Any, **kwargs: Any) -> Any:
            self.tries += 1
            if self.down:
                self.failed.set()
                raise outage()
            return await real(inbox, *args, **kwargs)

        monkeypatch.setattr(SqlInbox, "store", store)

    def up(self) -> None:
        self.down = False


async def inbox_rows(database: Database) -> list[tuple[int, int | None, bool]]:
    """(update id, claimed by, handled) of every stored update."""
    async with database.sessions() as session:
        rows = await session.execute(
            select(InboxRow.update_id, InboxRow.claimed_by, InboxRow.handled_at).order_by(
                InboxRow.id
            )
        )
        return [(u, c, h is not None) for u, c, h in rows]


async def roll(database: Database) -> list[str]:
    async with database.uow() as uow:
        found = await uow.councils.many([1])
        members = await uow.members.list(found[1].id or 0)
    return [m.name for m in members]


# --- a process that stored updates and died -----------------------------------------


async def test_updates_a_dead_process_stored_are_handled_at_the_next_start(
    emulator: BotApiEmulator, migrated_url: str
) -> None:
    async with bot_on(emulator, migrated_url) as first:
        council = await make_council(first, residents=("张阿姨",))
    newcomer = emulator.add_user("新邻居")
    emulator.add_member(council.group, newcomer)
    # With no bot running: the /join arrives; a process stores it, confirms it to
    # Telegram (it leaves Telegram's queue) and is killed before handling it.
    await emulator.send_text(newcomer, council.group, "/join 8-8-808")
    update_id = latest_update_id(emulator)
    payload = emulator._engine.world.pending.pop(update_id)
    dead_process = 424_242
    database = await Database.open(migrated_url)
    try:
        async with database.sessions() as session, session.begin():
            await session.execute(
                insert(InboxRow).values(
                    bot_id=int((emulator.token or "0").split(":")[0]),
                    update_id=update_id,
                    payload=payload,
                    received_at=first.deps.clock(),
                    claimed_by=dead_process,
                )
            )
        after = emulator.event_seq
        async with bot_on(emulator, migrated_url) as second:
            reply = await emulator.wait_for_bot_message(council.group, after=after, timeout=15)
            await second.deps.inbox.drain()
            assert reply.text is not None and reply.text.startswith("✅")
            assert "新邻居" in await roll(database)
            (row,) = [r for r in await inbox_rows(database) if r[0] == update_id]
            # Handled, by the new process, which took it over from the dead one.
            assert row == (update_id, second.deps.presence.instance_id, True)
            assert second.deps.inbox.recovered == 1
    finally:
        await database.dispose()


# --- update ids the messenger may start anew ------------------------------------------


async def test_a_reused_update_id_is_new_once_telegram_could_no_longer_resend_it(
    emulator: BotApiEmulator, migrated_url: str
) -> None:
    with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
        async with bot_on(emulator, migrated_url) as first:
            council = await make_council(first, residents=("张阿姨",))
            reused = latest_update_id(emulator)  # the last /join's id

        def join_with_reused_id(name: str) -> None:
            user = emulator.add_user(name)
            emulator.add_member(council.group, user)
            message = emulator._engine.world.new_message(
                council.group,
                user,
                text="/join 9-9-909",
                entities=[{"type": "bot_command", "offset": 0, "length": 5}],
            )
            emulator.push_raw_update({"update_id": reused, "message": message.to_api()})

        # Within Telegram's 24 hours the same id is a redelivery: not handled again.
        join_with_reused_id("重发者")
        async with bot_on(emulator, migrated_url) as second:
            await emulator.wait_idle(quiet=0.3)
            await second.deps.inbox.drain()
            assert "重发者" not in await roll(second.database)
        # A day and more later Telegram may start its update ids anew: the id is new.
        traveller.shift(timedelta(hours=26))
        join_with_reused_id("新来者")
        after = emulator.event_seq
        async with bot_on(emulator, migrated_url) as third:
            reply = await emulator.wait_for_bot_message(council.group, after=after, timeout=15)
            assert reply.text is not None and reply.text.startswith("✅")
            assert "新来者" in await roll(third.database)


# --- the database away while updates arrive --------------------------------------------


async def test_updates_that_cannot_be_stored_stay_with_telegram_and_presses_are_told(
    emulator: BotApiEmulator, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with bot_on(emulator, migrated_url) as local:
        council = await make_council(local)
        await council.topic()
        ballot, ballot_id = await council.ballot()
        aunt = council.members[0]
        newcomer = emulator.add_user("新邻居")
        emulator.add_member(council.group, newcomer)
        flaky = FlakyStore(monkeypatch)

        await emulator.send_text(newcomer, council.group, "/join 8-8-808")
        join_id = latest_update_id(emulator)
        query = emulator.press_later(aunt, ballot, button(ballot, "赞成"))
        press_id = latest_update_id(emulator)
        answer = await asyncio.wait_for(asyncio.shield(emulator._engine.queries[query].future), 15)
        # The member is told at once, truthfully; nothing is confirmed to Telegram.
        assert answer.show_alert and answer.text == "⚠️ 暂时无法记录，请稍后再按。"
        assert {join_id, press_id} <= set(emulator._engine.world.pending)
        assert not {row[0] for row in await inbox_rows(local.database)} & {join_id, press_id}

        after = emulator.event_seq
        flaky.up()  # the database is back
        reply = await emulator.wait_for_bot_message(council.group, after=after, timeout=20)
        await settled(local)
        # The held message is handled once; the press its member was told about is not.
        assert reply.text is not None and reply.text.startswith("✅")
        assert "新邻居" in await roll(local.database)
        assert await current_votes(local, ballot_id) == {}
        stored = [row[0] for row in await inbox_rows(local.database)]
        assert join_id in stored and press_id not in stored
        assert not set(emulator._engine.world.pending) & {join_id, press_id}


# --- webhook mode ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_webhook_updates_are_stored_then_answered_and_the_secret_is_checked(
    emulator: BotApiEmulator, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    config = WebhookConfig(
        url=f"http://127.0.0.1:{port}/telegram/hook",
        secret_token="s3cret_token-1",
        listen="127.0.0.1",
        port=port,
    )
    async with bot_on(emulator, migrated_url, webhook=config) as local:
        info = await local.application.bot.get_webhook_info()
        assert info.url == config.url
        council = await make_council(local)  # every update of it came by the webhook
        assert emulator.webhook_stats.delivered > 0
        stored = len(await inbox_rows(local.database))

        update = {
            "update_id": 999_999,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 1, "type": "private"},
                "text": "/start",
            },
        }
        async with aiohttp.ClientSession() as http:
            for headers in (
                {},
                {SECRET_HEADER: "wrong"},
                {SECRET_HEADER: config.secret_token + "x"},
            ):
                async with http.post(config.url, json=update, headers=headers) as response:
                    assert response.status == 403
            async with http.post(
                config.url, data=b"not json", headers={SECRET_HEADER: config.secret_token}
            ) as response:
                assert response.status == 400
        assert len(await inbox_rows(local.database)) == stored  # nothing refused was stored

        # The database away: 503, and Telegram delivers again until it is stored.
        flaky = FlakyStore(monkeypatch)
        newcomer = emulator.add_user("新邻居")
        emulator.add_member(council.group, newcomer)
        after = emulator.event_seq
        await emulator.send_text(newcomer, council.group, "/join 8-8-808")
        await flaky.failed.wait()
        flaky.up()
        reply = await emulator.wait_for_bot_message(council.group, after=after, timeout=20)
        assert reply.text is not None and reply.text.startswith("✅")
        assert emulator.webhook_stats.statuses.get(503, 0) >= 1
        await settled(local)
        assert (await roll(local.database)).count("新邻居") == 1
        async with local.database.sessions() as session:
            joins = await session.scalar(select(func.count()).select_from(InboxRow))
        assert joins == stored + 1
