"""What the console's "topics and ballots" page reads: the council's topics, newest
first, each with its proposals (text, author, who seconded) and its ballots, open and
closed, with their figures (a provisional outcome while open, the recorded one once
closed, votes by source).

Read-only, for the council's chairs and staff (``reports.require_reader``; ``user_id``
None is the operator, so a front end passes the signed-in staff member's id). The
records are those the minutes use (``reports.TopicRecord``): a secret ballot's figures
are totals only.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain import errors
from domain.model import Council
from domain.ports import UnitOfWork
from domain.services.ballots import BallotView, _view
from domain.services.reading import require_council
from domain.services.reports import TopicRecord, _topic_record, require_reader

__all__ = ["TOPICS_SHOWN", "TopicBoard", "staff_ballot_view", "topic_board"]

TOPICS_SHOWN = 30  # the latest topics the page lists (those still open always among them)


@dataclass(frozen=True)
class TopicBoard:
    council: Council
    topics: tuple[TopicRecord, ...]  # open ones first (newest first), then the latest others
    more: int  # topics with ballots not listed (older)


async def topic_board(
    uow: UnitOfWork,
    *,
    council_id: int,
    user_id: int | None,
    member_id: int | None = None,
    limit: int = TOPICS_SHOWN,
) -> TopicBoard:
    """The topics still collecting opinions or voting, and those that came to a
    ballot, newest first, at most ``limit`` of them (open ones are never left out)."""
    async with uow:
        council = await require_council(uow, council_id)
        await require_reader(uow, council, user_id=user_id, member_id=member_id)
        active = await uow.topics.active(council_id)
        ballots = await uow.ballots.of_council(council_id)  # oldest first
        by_topic: dict[int, list[int]] = {}
        for n, ballot in enumerate(ballots):
            by_topic.setdefault(ballot.topic_id, []).append(n)
        # Topics that came to a ballot, the latest ballot's first.
        voted = list(dict.fromkeys(b.topic_id for b in reversed(ballots)))
        open_ids = [t.id for t in active if t.id is not None]
        wanted = list(dict.fromkeys([*open_ids, *voted]))
        shown = wanted[: max(limit, len(open_ids))]
        topics = {t.id: t for t in active if t.id is not None}
        missing = [i for i in shown if i not in topics]
        if missing:
            topics.update(await uow.topics.many(missing))
        records = []
        for topic_id in shown:
            topic = topics.get(topic_id)
            if topic is None:
                continue
            own = [ballots[n] for n in by_topic.get(topic_id, [])]
            records.append(await _topic_record(uow, topic, own))
        return TopicBoard(council, tuple(records), len(wanted) - len(shown))


async def staff_ballot_view(
    uow: UnitOfWork,
    *,
    ballot_id: int,
    council_id: int,
    user_id: int | None,
    member_id: int | None = None,
) -> BallotView:
    """``services.ballot_view`` (the chat's live tally, or the outcome once closed) for
    a chair or staff member of the council the ballot belongs to: a ballot of another
    council is ``BallotNotFound``, whoever asks."""
    async with uow:
        ballot = await uow.ballots.get(ballot_id)
        if ballot is None or ballot.council_id != council_id:
            raise errors.BallotNotFound()
        council = await require_council(uow, council_id)
        await require_reader(uow, council, user_id=user_id, member_id=member_id)
        return await _view(uow, ballot)
