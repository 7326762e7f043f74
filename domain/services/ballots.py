"""Use cases of ballots and votes: open, vote (one press or a batch), show, close."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from domain import errors
from domain.events import BallotChanged, TopicChanged, VoteCast
from domain.model import (
    Ballot,
    BallotKind,
    BallotOption,
    Council,
    Member,
    MemberStatus,
    Notice,
    NoticeKind,
    Topic,
    Vote,
    Voters,
    VoteSource,
)
from domain.notices import queue
from domain.ports import Lock, UnitOfWork
from domain.rules import Outcome, Quantity, Rule, decide_counts
from domain.schedule import Subject
from domain.services.closing import Closed, close_locked
from domain.services.planning import replan
from domain.services.reading import (
    council_of_chat,
    not_member,
    require_council,
    require_topic,
    rule_named,
    topic_of,
)
from domain.when import parse_deadline

MAX_OPTIONS = 8


async def put_ballot(
    uow: UnitOfWork,
    *,
    council_id: int,
    topic_id: int | None = None,
    user_id: int,
    kind: BallotKind,
    proposal_ids: Sequence[int] = (),
    rule_name: str | None = None,
    secret: bool = False,
    deadline: datetime | None = None,
    now: datetime,
) -> Ballot:
    """Put a topic to the vote: a motion, or a choice among its proposals."""
    async with uow:
        council = await require_council(uow, council_id)
        ballot = await _put(
            uow, council, topic_id, user_id, kind, proposal_ids, rule_name, secret, deadline, now
        )
        await uow.commit()
        return ballot


async def put_ballot_in_chat(
    uow: UnitOfWork,
    *,
    chat_id: int,
    thread_id: int,
    user_id: int,
    kind: BallotKind,
    proposal_ids: Sequence[int] = (),
    rule_name: str | None = None,
    secret: bool = False,
    deadline: str | None = None,
    now: datetime,
) -> BallotView:
    """``/ballot`` as a chair typed it in a council's chat, in one transaction: the
    deadline as written ("48h", "12-01 20:00", read in the council's time zone), and
    the new ballot's message to post back."""
    async with uow:
        council = await council_of_chat(uow, chat_id, thread_id)
        when = (
            parse_deadline(deadline, now=now, timezone=council.timezone)
            if deadline is not None
            else None
        )
        ballot = await _put(
            uow, council, None, user_id, kind, proposal_ids, rule_name, secret, when, now
        )
        view = await _view(uow, ballot)
        await uow.commit()
        return view


async def _put(
    uow: UnitOfWork,
    council: Council,
    topic_id: int | None,
    user_id: int,
    kind: BallotKind,
    proposal_ids: Sequence[int],
    rule_name: str | None,
    secret: bool,
    deadline: datetime | None,
    now: datetime,
) -> Ballot:
    council.require_chair(user_id)
    assert council.id is not None
    topic = await topic_of(uow, council.id, topic_id)
    if deadline is not None and deadline <= now:
        raise errors.InvalidInput(field="deadline")
    return await open_ballot(
        uow,
        council,
        topic,
        kind=kind,
        proposal_ids=proposal_ids,
        rule=rule_named(rule_name) if rule_name else council.rule,
        secret=secret,
        deadline=deadline,
        opened_by=user_id,
        now=now,
    )


async def open_ballot(
    uow: UnitOfWork,
    council: Council,
    topic: Topic,
    *,
    kind: BallotKind,
    proposal_ids: Sequence[int],
    rule: Rule,
    secret: bool,
    deadline: datetime | None,
    opened_by: int,
    now: datetime,
) -> Ballot:
    """Within a transaction: move the topic to voting with a new ballot.

    The topic is written before its proposals are read: the write waits for an edit
    of a proposal in flight (which locks the topic), so the options show the text
    as edited, and an edit that comes later finds the topic voting."""
    topic.start_voting()
    assert topic.id is not None and council.id is not None
    await uow.topics.update(topic)
    options: tuple[BallotOption, ...] = ()
    if kind is BallotKind.OPTIONS:
        options = await _options(uow, topic.id, proposal_ids)
    ballot = await uow.ballots.add(
        Ballot(
            topic_id=topic.id,
            council_id=council.id,
            kind=kind,
            question=topic.title,
            rule=rule,
            secret=secret,
            opened_by=opened_by,
            opened_at=now,
            options=options,
            deadline=deadline,
        )
    )
    assert ballot.id is not None
    await replan(uow, Subject.BALLOT, ballot.id)
    await replan(uow, Subject.TOPIC, topic.id)  # collecting ended: no deadline job
    return ballot


async def _options(
    uow: UnitOfWork, topic_id: int, proposal_ids: Sequence[int]
) -> tuple[BallotOption, ...]:
    proposals = {p.id: p for p in await uow.proposals.for_topic(topic_id) if p.id is not None}
    chosen = list(dict.fromkeys(proposal_ids)) or list(proposals)
    unknown = [pid for pid in chosen if pid not in proposals]
    if unknown:
        raise errors.ProposalNotFound(ids=unknown)
    if len(chosen) < 2:
        raise errors.TooFewOptions(count=len(chosen))
    if len(chosen) > MAX_OPTIONS:
        raise errors.InvalidInput(field="options", limit=MAX_OPTIONS)
    return tuple(
        BallotOption(key=f"p{pid}", label=proposals[pid].text, proposal_id=pid) for pid in chosen
    )


async def _ballot_of(
    uow: UnitOfWork, council_id: int, ballot_id: int | None, lock: Lock = Lock.NONE
) -> Ballot:
    """The ballot a command names, or for a bare command the newest one still open."""
    if ballot_id is None:
        ballots = await uow.ballots.open(council_id)
        if not ballots:
            raise errors.BallotNotFound()
        ballot_id = ballots[0].id
        assert ballot_id is not None
    ballot = await uow.ballots.get(ballot_id, lock=lock)
    if ballot is None or ballot.council_id != council_id:
        raise errors.BallotNotFound()
    return ballot


async def set_ballot_message(uow: UnitOfWork, *, ballot_id: int, message_ref: int) -> None:
    async with uow:
        ballot = await uow.ballots.get(ballot_id)
        if ballot is None:
            raise errors.BallotNotFound()
        ballot.message_ref = message_ref
        await uow.ballots.update(ballot)
        uow.record(TopicChanged(ballot.topic_id))  # its card links to the ballot now
        await uow.commit()


@dataclass(frozen=True)
class VoteReceipt:
    ballot: Ballot
    member: Member
    choice: str
    previous: str | None

    @property
    def changed(self) -> bool:
        return self.previous is not None and self.previous != self.choice

    @property
    def repeated(self) -> bool:
        return self.previous == self.choice


@dataclass(frozen=True)
class VoteRequest:
    """One press of a vote button.

    ``key`` names the delivery (the update) so that a redelivered press is
    counted once; ``message_ref`` is the message whose button was pressed, so
    that a button copied onto another message is refused.
    """

    key: str | None
    ballot_id: int
    user_id: int  # who pressed: the member, or the chair or staff member recording
    choice: str
    message_ref: int | None = None
    # A recorded vote (``domain.services.recorded``): for whom, how, by whom, and why.
    member_id: int | None = None
    source: VoteSource = VoteSource.CHAT
    recorded_by: int | None = None
    reason: str | None = None


async def cast_vote(
    uow: UnitOfWork,
    *,
    ballot_id: int,
    user_id: int,
    choice: str,
    now: datetime,
    message_ref: int | None = None,
    key: str | None = None,
) -> VoteReceipt:
    """One member's show of hands: counted exactly once."""
    request = VoteRequest(key, ballot_id, user_id, choice, message_ref)
    (result,) = await cast_votes(uow, [request], now=now)
    if isinstance(result, errors.DomainError):
        raise result
    return result


async def cast_votes(
    uow: UnitOfWork, requests: Sequence[VoteRequest], *, now: datetime
) -> list[VoteReceipt | errors.DomainError]:
    """Many members' presses in one transaction: each counted once, or refused alone.

    Writing votes one transaction each is what limits a burst; a batch costs a
    handful of statements. Every request is claimed, refused ones too, so a
    redelivered press is neither counted nor answered twice. Presses by one
    member in one batch are applied in order.
    """
    async with uow:
        done, keep = await cast_within(uow, requests, now=now)
        if keep:
            # Without it, every request was refused and there is nothing to keep.
            await uow.commit()
        return done


async def cast_within(
    uow: UnitOfWork, requests: Sequence[VoteRequest], *, now: datetime, lock: Lock = Lock.SHARE
) -> tuple[list[VoteReceipt | errors.DomainError], bool]:
    """``cast_votes`` within a transaction the caller commits (a recorded vote, a paper
    upload's confirmation): the results, and whether a vote was written or a key
    claimed. ``Lock.UPDATE`` keeps every other vote on the ballot out meanwhile."""
    keys = list(dict.fromkeys(r.key for r in requests if r.key is not None))
    fresh = await uow.updates.claim_many(keys)
    claimed = bool(fresh)
    ballots: dict[int, Ballot | None] = {}
    for ballot_id in dict.fromkeys(r.ballot_id for r in requests):
        ballots[ballot_id] = await uow.ballots.get(ballot_id, lock=lock)
    users: dict[int, set[int]] = {}
    for ballot in ballots.values():
        if ballot is not None:
            users.setdefault(ballot.council_id, set())
    for request in requests:
        ballot = ballots[request.ballot_id]
        if ballot is not None and request.member_id is None:
            users[ballot.council_id].add(request.user_id)
    members = {
        council_id: await uow.members.by_users(council_id, sorted(ids))
        for council_id, ids in users.items()
    }
    wanted = sorted({r.member_id for r in requests if r.member_id is not None})
    recorded = await uow.members.by_ids(wanted) if wanted else {}
    councils: dict[int, Council | None] = {}
    results: list[VoteReceipt | errors.DomainError | None] = []
    accepted: list[_Accepted] = []
    for index, request in enumerate(requests):
        if request.key is not None:
            if request.key not in fresh:
                results.append(errors.Redelivered())
                continue
            fresh.discard(request.key)  # a key counts once, even within a batch
        try:
            ballot, member = _check_vote(request, ballots, members, recorded, now)
        except errors.NotMember:
            if request.member_id is not None:  # recorded for someone not on the roll
                results.append(errors.NotMember(field="recorded"))
                continue
            refused = ballots[request.ballot_id]
            assert refused is not None
            if refused.council_id not in councils:  # read only when someone is refused
                councils[refused.council_id] = await uow.councils.get(refused.council_id)
            results.append(not_member(councils[refused.council_id], request.user_id))
            continue
        except errors.DomainError as refusal:
            results.append(refusal)
            continue
        assert member.id is not None
        vote = Vote(
            request.ballot_id,
            member.id,
            request.choice,
            now,
            source=request.source,
            recorded_by=request.recorded_by,
            reason=request.reason,
        )
        accepted.append(_Accepted(index, vote, ballot, member))
        results.append(None)
    for round_ in _rounds(accepted):
        previous = await uow.votes.put_many([a.vote for a in round_])
        for item, before in zip(round_, previous, strict=True):
            results[item.index] = VoteReceipt(item.ballot, item.member, item.vote.choice, before)
    for receipt in results:
        if isinstance(receipt, VoteReceipt) and not receipt.repeated:
            assert receipt.ballot.id is not None
            uow.record(VoteCast(receipt.ballot.id))  # one per ballot once published
    done = [result for result in results if result is not None]
    assert len(done) == len(requests)
    return done, bool(accepted or claimed)


@dataclass(frozen=True)
class _Accepted:
    index: int
    vote: Vote
    ballot: Ballot
    member: Member


def _check_vote(
    request: VoteRequest,
    ballots: dict[int, Ballot | None],
    members: dict[int, dict[int, Member]],
    recorded: dict[int, Member],
    now: datetime,
) -> tuple[Ballot, Member]:
    ballot = ballots[request.ballot_id]
    if ballot is None:
        raise errors.BallotNotFound()
    if request.message_ref is not None and ballot.message_ref not in (None, request.message_ref):
        raise errors.StaleButton()
    ballot.require_open(now)
    ballot.require_choice(request.choice)
    if request.member_id is None:
        member = members[ballot.council_id].get(request.user_id)
    else:
        member = recorded.get(request.member_id)
        if member is not None and member.council_id != ballot.council_id:
            member = None
    if member is None or member.status is MemberStatus.REMOVED:
        raise errors.NotMember()
    if member.status is MemberStatus.PENDING:
        raise errors.MembershipPending()
    if not member.voting:  # a participant (列席) is never on a ballot's base
        raise errors.NotVoter()
    return ballot, member


def _rounds(accepted: list[_Accepted]) -> list[list[_Accepted]]:
    """Split a batch so that a member's k-th press on a ballot goes in round k."""
    rounds: list[list[_Accepted]] = []
    presses: dict[tuple[int, int], int] = {}
    for item in accepted:
        slot = (item.vote.ballot_id, item.vote.member_id)
        number = presses.get(slot, 0)
        presses[slot] = number + 1
        if number == len(rounds):
            rounds.append([])
        rounds[number].append(item)
    return rounds


VOTERS_SHOWN = 30  # names listed per choice on an open ballot's message


@dataclass(frozen=True)
class BallotView:
    """What the ballot message shows: the live (or final) count."""

    ballot: Ballot
    topic: Topic
    council: Council
    outcome: Outcome  # provisional while open; the recorded one once closed
    roll_size: int
    voters: dict[str, Voters]  # choice -> who chose it; empty for secret ballots
    seq: int  # last vote event included
    # Once closed: how many of the votes that counted came from the chat, the room,
    # paper and home visits.
    sources: Mapping[VoteSource, int] = field(default_factory=dict)


async def ballot_view(uow: UnitOfWork, *, ballot_id: int) -> BallotView:
    async with uow:
        ballot = await uow.ballots.get(ballot_id)
        if ballot is None:
            raise errors.BallotNotFound()
        return await _view(uow, ballot)


async def _view(uow: UnitOfWork, ballot: Ballot) -> BallotView:
    # Figures come from the repository's aggregates: a refresh during a burst of votes
    # never loads the roll.
    assert ballot.id is not None
    topic = await require_topic(uow, ballot.topic_id)
    seq = await uow.votes.last_seq(ballot.id)
    counts = None
    if ballot.outcome is None or not ballot.secret:
        counts = await uow.votes.counts(ballot.id, ballot.council_id, ballot.rule.quantities)
    outcome = ballot.outcome
    if outcome is None:
        assert counts is not None
        outcome = decide_counts(ballot.rule, counts, options=ballot.option_keys())
    voters: dict[str, Voters] = {}
    if not ballot.secret:
        assert counts is not None
        totals = {label: int(counts.weight(label, Quantity.HEADCOUNT)) for label in counts.labels}
        voters = await uow.votes.voters(ballot.id, ballot.council_id, VOTERS_SHOWN, totals)
    council = await require_council(uow, ballot.council_id)
    # Once closed, the roll that counted is the one recorded in the outcome.
    roll_size = int(outcome.tallies[Quantity.HEADCOUNT].roll)
    sources = {} if ballot.is_open else await uow.votes.by_source(ballot.id, ballot.council_id)
    return BallotView(ballot, topic, council, outcome, roll_size, voters, seq, sources)


async def mark_rendered(uow: UnitOfWork, *, ballot_id: int, seq: int) -> None:
    async with uow:
        await uow.ballots.set_rendered(ballot_id, seq)
        await uow.commit()


async def close_ballot(
    uow: UnitOfWork,
    *,
    council_id: int,
    ballot_id: int | None = None,
    user_id: int | None,
    now: datetime,
) -> Closed:
    """Close a ballot, record the resolution and queue the outcome's announcement in
    the same transaction (the outbox sends it: a crash after the commit loses nothing).
    ``user_id`` None: the deadline did it."""
    async with uow:
        council = await require_council(uow, council_id)
        if user_id is not None:
            council.require_chair(user_id)
        ballot = await _ballot_of(uow, council_id, ballot_id, Lock.UPDATE)
        closed = await close_locked(uow, ballot, now)
        await queue(uow, outcome_notice(closed.ballot, council, now))
        assert closed.ballot.id is not None
        await replan(uow, Subject.BALLOT, closed.ballot.id)
        await uow.commit()
        return closed


def outcome_notice(ballot: Ballot, council: Council, now: datetime, **params: object) -> Notice:
    """The announcement of a ballot's outcome in the council's chat; its key makes it
    one per ballot, whoever (a chair, the deadline) closed it."""
    assert ballot.id is not None
    return Notice(
        key=f"ballot:{ballot.id}:outcome",
        kind=NoticeKind.BALLOT_OUTCOME,
        council_id=ballot.council_id,
        chat_id=council.chat_id,
        thread_id=council.thread_id,
        subject=ballot.id,
        created_at=now,
        params=params,
    )


async def cancel_topic(
    uow: UnitOfWork, *, council_id: int, topic_id: int | None, user_id: int, now: datetime
) -> Topic:
    async with uow:
        council = await require_council(uow, council_id)
        council.require_chair(user_id)
        topic = await topic_of(uow, council_id, topic_id)
        topic.cancel(now)
        assert topic.id is not None
        for ballot in await uow.ballots.for_topic(topic.id):
            if ballot.is_open:
                assert ballot.id is not None
                ballot.closed_at = now
                await uow.ballots.update(ballot)
                await replan(uow, Subject.BALLOT, ballot.id)
                uow.record(BallotChanged(ballot.id))  # its message says it was cancelled
        await uow.topics.update(topic)
        await replan(uow, Subject.TOPIC, topic.id)
        uow.record(TopicChanged(topic.id))
        await uow.commit()
        return topic


async def open_ballot_ids(uow: UnitOfWork) -> list[int]:
    """Every ballot still taking votes, in every council."""
    async with uow:
        return await uow.ballots.all_open()


async def ballots_behind(uow: UnitOfWork) -> list[int]:
    """Open ballots whose message shows fewer votes than were cast: votes another
    process (``yishi web`` on its own) recorded, which never reached this one's bus."""
    async with uow:
        return await uow.ballots.behind()


async def ballot_ids(uow: UnitOfWork, *, topic_id: int) -> list[int]:
    async with uow:
        return [b.id for b in await uow.ballots.for_topic(topic_id) if b.id is not None]


async def latest_result(uow: UnitOfWork, *, council_id: int) -> BallotView:
    async with uow:
        ballot = await uow.ballots.latest(council_id)
        if ballot is None:
            raise errors.BallotNotFound()
        return await _view(uow, ballot)


async def mark_handled(uow: UnitOfWork, *, key: str) -> bool:
    """Record that an update was answered; False if a delivery of it already was."""
    async with uow:
        fresh = await uow.updates.claim(key)
        await uow.commit()
        return fresh


async def move_chat(uow: UnitOfWork, *, old_chat_id: int, new_chat_id: int, now: datetime) -> int:
    """The group became a supergroup and its chat got a new id: its councils, and the
    notices still to be sent there, move with it. Returns how many councils moved;
    0 when they already had (both the old and the new chat announce the move)."""
    async with uow:
        councils = await uow.councils.in_chat(old_chat_id)
        taken = {c.thread_id for c in await uow.councils.in_chat(new_chat_id)}
        moved = 0
        for council in councils:
            if council.thread_id in taken:
                continue  # a council was set up in the new chat meanwhile: it stays
            assert council.id is not None
            council.chat_id = new_chat_id
            await uow.councils.update(council)
            # Message ids start again in the new chat: an old one would name another
            # message there. Open ballots are posted again, so voting goes on.
            await uow.councils.forget_messages(council.id)
            for ballot in await uow.ballots.open(council.id):
                assert ballot.id is not None
                await queue(
                    uow,
                    Notice(
                        key=f"ballot:{ballot.id}:moved:{new_chat_id}",
                        kind=NoticeKind.BALLOT_OPENED,
                        council_id=council.id,
                        chat_id=new_chat_id,
                        thread_id=council.thread_id,
                        subject=ballot.id,
                        created_at=now,
                        params={"moved": True},
                    ),
                )
            moved += 1
        readdressed = await uow.notices.readdress(old_chat_id, new_chat_id)
        if moved or readdressed:
            await uow.commit()
        return moved
