"""What the residents' page reads: a council's open topics and ballots and the latest
outcomes, a topic with its proposals, a ballot with the member's own choice.

Every read names the council it is for: a topic or ballot of another council is not
found (a resident never learns that it exists). Writes go through the same use cases
as the chat (``submit_proposal``, ``second_proposal`` with ``member_id``; votes through
the ``BallotBox`` with ``VoteRequest.member_id``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain import errors
from domain.model import Ballot, Council, Phase, Topic
from domain.ports import UnitOfWork
from domain.services.ballots import BallotView, _view
from domain.services.reading import require_council
from domain.services.topics import TopicView, read_topic_view

RECENT = 5  # closed ballots on the home page


@dataclass(frozen=True)
class Noticeboard:
    """The residents' home page."""

    council: Council
    collecting: list[Topic]  # taking proposals, newest first
    open_ballots: list[Ballot]  # taking votes, newest first
    closed: list[Ballot]  # the latest closed (or cancelled), latest first
    topics: dict[int, Topic]  # the ballots' topics


async def noticeboard(uow: UnitOfWork, *, council_id: int, recent: int = RECENT) -> Noticeboard:
    async with uow:
        council = await require_council(uow, council_id)
        active = await uow.topics.active(council_id)
        collecting = [t for t in active if t.phase is Phase.COLLECTING]
        ballots = await uow.ballots.of_council(council_id)
        open_ballots = sorted(
            (b for b in ballots if b.is_open), key=lambda b: b.opened_at, reverse=True
        )
        closed = sorted(
            (b for b in ballots if not b.is_open and b.closed_at is not None),
            key=lambda b: (b.closed_at, b.id or 0),
            reverse=True,
        )[:recent]
        wanted = sorted({b.topic_id for b in (*open_ballots, *closed)})
        topics = await uow.topics.many(wanted) if wanted else {}
        return Noticeboard(council, collecting, open_ballots, closed, topics)


async def council_topic(uow: UnitOfWork, *, council_id: int, topic_id: int) -> TopicView:
    """A topic of the council with its proposals and their authors."""
    async with uow:
        topic = await uow.topics.get(topic_id)
        if topic is None or topic.council_id != council_id:
            raise errors.TopicNotFound()
        return await read_topic_view(uow, topic_id)


@dataclass(frozen=True)
class MemberBallot:
    """A ballot as its message shows it, and what this member chose (None: not yet)."""

    view: BallotView
    choice: str | None


async def council_ballot(
    uow: UnitOfWork,
    *,
    council_id: int,
    ballot_id: int,
    member_id: int | None,
    reuse: Callable[[Ballot, int], BallotView | None] | None = None,
) -> MemberBallot:
    """``reuse(ballot, seq)``: a view the caller kept of this ballot as it is now (its
    latest vote event ``seq``), or None to count it here (``bot.web.tallies``)."""
    async with uow:
        ballot = await uow.ballots.get(ballot_id)
        if ballot is None or ballot.council_id != council_id:
            raise errors.BallotNotFound()
        seq, choice = await uow.votes.seq_and_choice(ballot_id, member_id)
        kept = reuse(ballot, seq) if reuse else None
        view = kept if kept is not None else await _view(uow, ballot)
        return MemberBallot(view, choice)


async def require_ballot(uow: UnitOfWork, *, council_id: int, ballot_id: int) -> Ballot:
    """The council's ballot, else not found (before a vote for it is written)."""
    async with uow:
        ballot = await uow.ballots.get(ballot_id)
        if ballot is None or ballot.council_id != council_id:
            raise errors.BallotNotFound()
        return ballot


async def topic_of_proposal(uow: UnitOfWork, *, council_id: int, proposal_id: int) -> int:
    """The topic a proposal of the council is on, else not found."""
    async with uow:
        proposal = await uow.proposals.get(proposal_id)
        if proposal is not None:
            topic = await uow.topics.get(proposal.topic_id)
            if topic is not None and topic.council_id == council_id:
                return proposal.topic_id
        raise errors.ProposalNotFound()
