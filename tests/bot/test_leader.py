"""The scheduler's leader lock: one leader per database and schema, taken over when freed."""

from __future__ import annotations

import os

from bot.runtime.leader import Leadership
from storage.db import scratch_schema
from tests.conftest import TEST_DATABASE_URL


async def test_one_leader_per_schema_and_a_free_lock_is_taken(postgres_url: str) -> None:
    first, second = Leadership(postgres_url), Leadership(postgres_url)
    try:
        assert await first.try_acquire()
        assert not await second.try_acquire()
        assert await first.still_leader()
        await first.release()
        assert await second.try_acquire()
    finally:
        await first.release()
        await second.release()


async def test_deployments_in_other_schemas_do_not_share_the_lead(postgres_url: str) -> None:
    with scratch_schema(os.environ[TEST_DATABASE_URL], prefix="test") as other_url:
        here, there = Leadership(postgres_url), Leadership(other_url)
        try:
            assert await here.try_acquire()
            assert await there.try_acquire()
        finally:
            await here.release()
            await there.release()


async def test_sqlite_has_a_single_process_which_leads(sqlite_url: str) -> None:
    leadership = Leadership(sqlite_url)
    assert await leadership.try_acquire()
    assert await leadership.still_leader()
    await leadership.release()
    assert not leadership.is_leader
