"""The message bus and the units of work that publish to it, on a real database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest

from bot.runtime.bus import MessageBus
from domain import services
from domain.events import Event, NoticesQueued, TopicChanged, VoteCast
from storage.uow import Database


async def test_each_event_reaches_its_subscribers_in_order_and_a_failure_stops_no_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = MessageBus()
    heard: list[str] = []

    def broken(_event: TopicChanged) -> None:
        raise RuntimeError("telegram is down")

    async def card(event: TopicChanged) -> None:
        heard.append(f"card {event.topic_id}")

    bus.subscribe(TopicChanged, broken)
    bus.subscribe(TopicChanged, card)
    bus.subscribe(VoteCast, lambda event: heard.append(f"tally {event.ballot_id}"))
    with caplog.at_level(logging.ERROR, logger="bot.runtime.bus"):
        await bus.handle([TopicChanged(1), VoteCast(2), NoticesQueued()])
    assert heard == ["card 1", "tally 2"]
    assert bus.handled == 3
    assert "failed to follow TopicChanged(topic_id=1)" in caplog.text
    assert "telegram is down" in caplog.text


async def test_a_unit_of_work_publishes_what_it_committed_once_it_has_ended(
    database: Database,
) -> None:
    got: list[list[Event]] = []

    async def publish(events: Sequence[Event]) -> None:
        got.append(list(events))

    database.publish_to(publish)
    async with database.uow() as uow:
        uow.record(TopicChanged(1))
        uow.record(TopicChanged(1))  # the same change twice: heard once
        await uow.commit()
        uow.record(VoteCast(5))  # after the commit, and never committed: dropped
        assert got == []  # nothing is told while the transaction's session is open
    assert got == [[TopicChanged(1)]]

    async with database.uow() as uow:
        uow.record(TopicChanged(2))
        await uow.rollback()
        uow.record(TopicChanged(3))
        await uow.commit()
    assert got[-1] == [TopicChanged(3)]

    with pytest.raises(RuntimeError):
        async with database.uow() as uow:
            uow.record(TopicChanged(4))
            raise RuntimeError("a use case failed before its commit")
    assert len(got) == 2

    # A read-only use case commits nothing and tells nobody.
    assert await services.open_ballot_ids(database.uow()) == []
    assert len(got) == 2


async def test_events_of_one_update_follow_it_each_once_and_a_task_it_started_is_not_held() -> None:
    bus = MessageBus()
    heard: list[Event] = []
    bus.subscribe(TopicChanged, heard.append)
    release = asyncio.Event()

    async def writer() -> None:  # started by the update, outlives it (as the ballot box's)
        await release.wait()
        await bus.handle([TopicChanged(9)])

    async with bus.held():
        await bus.handle([TopicChanged(1)])
        await bus.handle([TopicChanged(2), TopicChanged(1)])
        started = asyncio.create_task(writer())
        assert heard == []  # the handler is still at work
    assert heard == [TopicChanged(1), TopicChanged(2)]
    release.set()
    await started
    assert heard[-1] == TopicChanged(9)
