"""Closing ballots: each decided from its count and recorded (the ballot's outcome, its
topic decided, a resolution). A chair's /close closes one; a deadline that many
ballots share closes them together (``Closings``), in a few statements for them all:
at eight statements a closing, a thousand ballots due at one moment took 12–17 s to
commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from domain import errors
from domain.model import Ballot, Resolution, Topic
from domain.ports import UnitOfWork
from domain.rules import Counts, Outcome, decide_counts


@dataclass(frozen=True)
class Closed:
    ballot: Ballot
    topic: Topic
    outcome: Outcome
    resolution: Resolution


class Closings:
    """Ballots closing in one transaction, each read with ``Lock.UPDATE``: their topics
    and counts read together (``read``), each decided alone (``close``), then all
    written together (``write``): one statement or two each step, however many."""

    def __init__(self, topics: dict[int, Topic], counts: dict[int, Counts]) -> None:
        self._topics = topics
        self._counts = counts
        self._closed: dict[int, Closed] = {}  # by ballot id, until written
        self._written: set[int] = set()

    @classmethod
    async def read(cls, uow: UnitOfWork, ballots: Sequence[Ballot]) -> Closings:
        topics = await uow.topics.many([ballot.topic_id for ballot in ballots])
        counts = await uow.votes.counts_many({_id(b): b.rule.quantities for b in ballots})
        return cls(topics, counts)

    def close(self, ballot: Ballot, now: datetime) -> Closed:
        """Decide ``ballot``, one of those read, and close it; ``write`` records it.
        Refused (``BallotClosed``) if it is closed, or was closed here already."""
        ballot_id = _id(ballot)
        if ballot_id in self._closed or ballot_id in self._written:
            raise errors.BallotClosed(question=ballot.question)  # once per ballot
        ballot.require_open()
        topic = self._topics.get(ballot.topic_id)
        if topic is None:
            raise errors.TopicNotFound()
        outcome = decide_counts(ballot.rule, self._counts[ballot_id], options=ballot.option_keys())
        topic.decide(outcome.result, now)  # refused unless voting: nothing changed then
        ballot.closed_at = now
        ballot.outcome = outcome
        assert topic.id is not None
        closed = Closed(
            ballot,
            topic,
            outcome,
            Resolution(
                council_id=ballot.council_id,
                topic_id=topic.id,
                ballot_id=ballot_id,
                result=outcome.result,
                summary=ballot.label_of(outcome.winner) if outcome.winner else ballot.question,
                recorded_at=now,
                winner=outcome.winner,
            ),
        )
        self._closed[ballot_id] = closed
        return closed

    async def write(self, uow: UnitOfWork) -> list[Closed]:
        """Record every closing decided since the last ``write``, as ``close_locked``
        records one: the resolutions, then the ballots, then their topics."""
        closed = list(self._closed.values())
        self._written |= self._closed.keys()
        self._closed = {}
        if not closed:
            return []
        resolutions = await uow.resolutions.add_many([c.resolution for c in closed])
        await uow.ballots.update_many([c.ballot for c in closed])
        topics = {_id(c.topic): c.topic for c in closed}
        await uow.topics.update_many([topics[t] for t in sorted(topics)])
        return [replace(c, resolution=r) for c, r in zip(closed, resolutions, strict=True)]


async def close_many(uow: UnitOfWork, ballots: Sequence[Ballot], now: datetime) -> list[Closed]:
    """Within a transaction, on ballots read with ``Lock.UPDATE``: decide and record
    each, in the order given."""
    for ballot in ballots:
        ballot.require_open()  # before reading anything for it
    closings = await Closings.read(uow, ballots)
    for ballot in ballots:
        closings.close(ballot, now)
    return await closings.write(uow)


async def close_locked(uow: UnitOfWork, ballot: Ballot, now: datetime) -> Closed:
    """Within a transaction, on a ballot read with ``Lock.UPDATE``: decide and record."""
    (closed,) = await close_many(uow, [ballot], now)
    return closed


def _id(entity: Ballot | Topic) -> int:
    assert entity.id is not None
    return entity.id
