"""What a batch of closings reads and writes in bulk (``services.Closings``), the same on
the fakes, SQLite and PostgreSQL: ballots and topics read many at once (unknown ids left
out), written many at once (a ballot's ``rendered_seq`` never lowered), resolutions added
many at once with their ids. ``counts_many`` is in ``test_contract_counts.py``."""

from __future__ import annotations

from domain.model import Phase, Resolution
from domain.ports import Lock, UnitOfWorkFactory
from domain.rules import Result
from tests.storage.helpers import at, make_ballot, make_council, make_topic

UNKNOWN = 999_999_999


async def _ballots(uows: UnitOfWorkFactory, count: int) -> tuple[list[int], list[int]]:
    council_id = await make_council(uows)
    topics = [await make_topic(uows, council_id) for _ in range(count)]
    return topics, [await make_ballot(uows, council_id, t) for t in topics]


async def test_ballots_and_topics_read_and_written_many_at_once(uows: UnitOfWorkFactory) -> None:
    topics, ballots = await _ballots(uows, 3)
    async with uows() as uow:
        found = await uow.ballots.many([ballots[2], UNKNOWN, *ballots], lock=Lock.UPDATE)
        read = await uow.topics.many([*topics, UNKNOWN, topics[0]])
        assert sorted(found) == sorted(ballots)
        assert sorted(read) == sorted(topics)
        await uow.ballots.set_rendered(ballots[0], 7)  # after the read: the copy says 0
        for ballot in found.values():
            ballot.closed_at = at(30)
        for topic in read.values():
            topic.phase = Phase.DECIDED
            topic.result = Result.PASSED
            topic.decided_at = at(30)
        await uow.ballots.update_many(list(found.values()))
        await uow.topics.update_many(list(read.values()))
        await uow.commit()

    async with uows() as uow:
        again = await uow.ballots.many(ballots)
        decided = await uow.topics.many(topics)
        alone = await uow.ballots.get(ballots[1])
    assert all(again[b].closed_at == at(30) for b in ballots)
    assert again[ballots[0]].rendered_seq == 7  # set_rendered's, not lowered
    assert alone == again[ballots[1]]
    assert all(t.phase is Phase.DECIDED and t.result is Result.PASSED for t in decided.values())
    assert all(t.decided_at == at(30) for t in decided.values())


async def test_resolutions_added_many_at_once_get_their_ids_in_order(
    uows: UnitOfWorkFactory,
) -> None:
    topics, ballots = await _ballots(uows, 3)
    async with uows() as uow:
        council_id = (await uow.ballots.many(ballots))[ballots[0]].council_id
        new = [
            Resolution(
                council_id=council_id,
                topic_id=t,
                ballot_id=b,
                result=result,
                summary=f"决议{i}",
                recorded_at=at(40 + i),
                winner="a" if result is Result.PASSED else None,
            )
            for i, (t, b, result) in enumerate(
                zip(topics, ballots, (Result.PASSED, Result.REJECTED, Result.TIED), strict=True)
            )
        ]
        added = await uow.resolutions.add_many(list(reversed(new)))
        assert await uow.resolutions.add_many([]) == []
        await uow.commit()

    assert [r.summary for r in added] == ["决议2", "决议1", "决议0"]
    assert len({r.id for r in added}) == 3 and all(r.id is not None for r in added)
    async with uows() as uow:
        for resolution in added:
            assert await uow.resolutions.for_topic(resolution.topic_id) == [resolution]
