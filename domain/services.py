"""Use cases of the deliberation loop.

Each use case is one async function: plain values and a unit of work in, a
plain result out. It commits on success; on a refusal it raises a
``DomainError`` and nothing is written. Time is an argument, never read here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from domain import errors
from domain.model import (
    MAX_ADDRESS_PART,
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_PROPOSAL,
    MAX_TITLE,
    Ballot,
    BallotKind,
    BallotOption,
    Council,
    Draft,
    Member,
    MemberStatus,
    Notice,
    NoticeKind,
    Phase,
    Proposal,
    Resolution,
    Topic,
    Vote,
)
from domain.numbers import fold, parse_decimal
from domain.ports import Lock, UnitOfWork
from domain.rules import PRESETS, Outcome, Quantity, Rule, decide

DEFAULT_RULE = "simple"
MAX_OPTIONS = 8


# --- reading helpers -------------------------------------------------------


async def council_of_chat(uow: UnitOfWork, chat_id: int, thread_id: int) -> Council:
    council = await uow.councils.by_chat(chat_id, thread_id)
    if council is None and thread_id:
        # A council set up for the whole forum serves every topic thread in it.
        council = await uow.councils.by_chat(chat_id, 0)
    if council is None:
        raise errors.CouncilNotSetUp()
    return council


async def find_council(uow: UnitOfWork, *, chat_id: int, thread_id: int) -> Council:
    """The council a chat (or forum topic) is linked to."""
    async with uow:
        return await council_of_chat(uow, chat_id, thread_id)


async def council_by_id(uow: UnitOfWork, *, council_id: int) -> Council:
    async with uow:
        return await require_council(uow, council_id)


async def require_council(uow: UnitOfWork, council_id: int) -> Council:
    council = await uow.councils.get(council_id)
    if council is None:
        raise errors.CouncilNotSetUp()
    return council


async def member_by_id(uow: UnitOfWork, *, member_id: int) -> Member | None:
    async with uow:
        return await uow.members.get(member_id)


async def voting_member(uow: UnitOfWork, council_id: int, user_id: int) -> Member:
    """The user's entry on the council's roll; refused unless they are an active member."""
    member = await uow.members.by_user(council_id, user_id)
    if member is None or member.status is MemberStatus.REMOVED:
        raise errors.NotMember()
    if member.status is MemberStatus.PENDING:
        raise errors.MembershipPending()
    assert member.id is not None
    return member


async def require_topic(uow: UnitOfWork, topic_id: int) -> Topic:
    topic = await uow.topics.get(topic_id)
    if topic is None:
        raise errors.TopicNotFound()
    return topic


async def _topic_of(uow: UnitOfWork, council_id: int, topic_id: int | None) -> Topic:
    """The topic a command names, or for a bare command the newest one still open."""
    if topic_id is not None:
        topic = await require_topic(uow, topic_id)
        if topic.council_id != council_id:
            raise errors.TopicNotFound()
        return topic
    active = await uow.topics.active(council_id)
    if not active:
        raise errors.NoOpenTopic()
    return active[0]


def rule_named(name: str) -> Rule:
    try:
        return PRESETS[name]
    except KeyError:
        raise errors.UnknownRule(name=name, presets=", ".join(PRESETS)) from None


def _clean(text: str, *, field: str, limit: int, required: bool = True) -> str:
    text = text.strip()
    if required and not text:
        raise errors.InvalidInput(field=field)
    if len(text) > limit:
        raise errors.TextTooLong(field=field, limit=limit, length=len(text))
    return text


# --- council and roll ------------------------------------------------------


async def set_up_council(
    uow: UnitOfWork,
    *,
    chat_id: int,
    thread_id: int,
    title: str,
    user_id: int,
    is_group_admin: bool,
    rule_name: str,
    timezone: str,
    language: str,
    now: datetime,
) -> Council:
    """Link a chat to a council; run again by a chair it changes the default rule."""
    rule = rule_named(rule_name)
    async with uow:
        council = await uow.councils.by_chat(chat_id, thread_id)
        if council is not None:
            if not (council.is_chair(user_id) or is_group_admin):
                raise errors.NotChair()
            council.rule = rule
            council.chairs.add(user_id)
            await uow.councils.update(council)
        else:
            if not is_group_admin:
                raise errors.NotGroupAdmin()
            council = await uow.councils.add(
                Council(
                    chat_id=chat_id,
                    thread_id=thread_id,
                    # The chat's own title, not typed by the user: shorten, never refuse.
                    title=" ".join(title.split())[:MAX_TITLE] or str(chat_id),
                    rule=rule,
                    timezone=timezone,
                    language=language,
                    created_at=now,
                    chairs={user_id},
                )
            )
        await uow.commit()
        return council


# Building, optional unit, room: "3-2-301", "3/2/301", "3栋2单元301", "10号楼2单元301室",
# "3-301". Separators are explicit so that "3-2301" is never read as unit 230, room 1.
ADDRESS = re.compile(
    r"(?P<building>[0-9A-Za-z]+)\s*(?:号楼|栋|幢|座|号|楼|[-－—–/]|\s)\s*"
    r"(?:(?P<unit>[0-9A-Za-z]+)\s*(?:单元|[-－—–/]|\s)\s*)?"
    r"(?P<room>[0-9A-Za-z]+)\s*(?:室|号)?"
)


@dataclass(frozen=True)
class Address:
    building: str
    unit: str
    room: str


def parse_address(text: str) -> Address:
    """Read "3-2-301", "3/2/301" or "3栋2单元301" as building, unit and room."""
    # Full-width digits and dashes ("３－２－３０１") are read as ASCII.
    match = ADDRESS.fullmatch(fold(text).strip())
    if match is None:
        raise errors.InvalidInput(field="address", value=text[:40])
    address = Address(match["building"], match["unit"] or "", match["room"])
    longest = max(len(address.building), len(address.unit), len(address.room))
    if longest > MAX_ADDRESS_PART:
        raise errors.TextTooLong(field="address", limit=MAX_ADDRESS_PART, length=longest)
    return address


MAX_AREA = Decimal(100000)  # m² of one flat: more is a typo


def parse_area(text: str) -> Decimal:
    """Square metres, "85.5", "85.5㎡" or "85.5 m²", to the hundredth."""
    return parse_decimal(text, field="area", maximum=MAX_AREA, units=("㎡", "m2", "m²"))


async def join(
    uow: UnitOfWork,
    *,
    council_id: int,
    user_id: int,
    name: str,
    address: Address,
    area: Decimal | None,
    language: str | None,
    now: datetime,
) -> Member:
    async with uow:
        council = await require_council(uow, council_id)
        existing = await uow.members.by_user(council_id, user_id)
        if existing is not None and existing.status is not MemberStatus.REMOVED:
            raise errors.AlreadyMember(status=existing.status.value)
        status = MemberStatus.PENDING if council.require_approval else MemberStatus.ACTIVE
        member = Member(
            council_id=council_id,
            user_id=user_id,
            # Taken from the messenger profile, so shortened rather than refused.
            name=" ".join(name.split())[:MAX_NAME] or str(user_id),
            building=address.building,
            unit=address.unit,
            room=address.room,
            joined_at=now,
            area=area if area is not None else Decimal(0),
            status=status,
            language=language,
        )
        if existing is not None:
            member.id = existing.id
            await uow.members.update(member)
        else:
            member = await uow.members.add(member)
        await uow.commit()
        return member


@dataclass(frozen=True)
class RollView:
    council: Council
    members: list[Member]
    pending: list[Member]

    @property
    def households(self) -> int:
        return len({m.household for m in self.members})

    @property
    def area(self) -> Decimal:
        return sum((m.area for m in self.members), Decimal(0))


async def roll(uow: UnitOfWork, *, council_id: int) -> RollView:
    async with uow:
        council = await require_council(uow, council_id)
        members = await uow.members.list(council_id, (MemberStatus.ACTIVE,))
        pending = await uow.members.list(council_id, (MemberStatus.PENDING,))
        return RollView(council, members, pending)


# --- topics and proposals --------------------------------------------------


async def open_topic(
    uow: UnitOfWork,
    *,
    council_id: int,
    user_id: int,
    title: str,
    description: str,
    deadline: datetime | None,
    now: datetime,
) -> Topic:
    async with uow:
        council = await require_council(uow, council_id)
        council.require_chair(user_id)
        if deadline is not None and deadline <= now:
            raise errors.InvalidInput(field="deadline")
        topic = await uow.topics.add(
            Topic(
                council_id=council_id,
                title=_clean(title, field="title", limit=MAX_TITLE),
                description=_clean(
                    description, field="description", limit=MAX_DESCRIPTION, required=False
                ),
                opened_by=user_id,
                opened_at=now,
                deadline=deadline,
            )
        )
        await uow.commit()
        return topic


async def set_card(uow: UnitOfWork, *, topic_id: int, card_ref: int) -> None:
    """Remember which message shows the topic card, so it can be edited later."""
    async with uow:
        topic = await require_topic(uow, topic_id)
        topic.card_ref = card_ref
        await uow.topics.update(topic)
        await uow.commit()


@dataclass(frozen=True)
class Submitted:
    proposal: Proposal
    topic: Topic
    council: Council
    author: Member


async def submit_proposal(
    uow: UnitOfWork,
    *,
    council_id: int,
    topic_id: int | None,
    user_id: int,
    text: str,
    now: datetime,
    per_hour: int = 0,
    source_ref: int | None = None,
) -> Submitted:
    """A member's proposal on a topic; ``per_hour`` > 0 caps how many a member makes in
    an hour (each is posted in the group for all to second). ``source_ref``: the
    member's message that made it, so that editing the message edits the proposal."""
    async with uow:
        topic = await _topic_of(uow, council_id, topic_id)
        submitted = await _submit(
            uow,
            topic=topic,
            user_id=user_id,
            text=text,
            now=now,
            per_hour=per_hour,
            source_ref=source_ref,
        )
        await uow.commit()
        return submitted


LIMIT_WINDOW = timedelta(hours=1)


def within_limit(count: int, limit: int, *, field: str) -> None:
    """Refuse the next one once ``count`` reached ``limit`` in the window (0: no limit)."""
    if limit > 0 and count >= limit:
        raise errors.TooMany(field=field, limit=limit, minutes=60)


async def _submit(
    uow: UnitOfWork,
    *,
    topic: Topic,
    user_id: int,
    text: str,
    now: datetime,
    per_hour: int,
    source_ref: int | None = None,
) -> Submitted:
    topic.require_phase(Phase.COLLECTING)
    council = await require_council(uow, topic.council_id)
    member = await voting_member(uow, topic.council_id, user_id)
    assert member.id is not None and topic.id is not None
    if per_hour > 0:
        made = await uow.proposals.count_by_author(member.id, now - LIMIT_WINDOW)
        within_limit(made, per_hour, field="proposals")
    proposal = await uow.proposals.add(
        Proposal(
            topic_id=topic.id,
            author_id=member.id,
            text=_clean(text, field="proposal", limit=MAX_PROPOSAL),
            created_at=now,
            source_ref=source_ref,
        )
    )
    return Submitted(proposal, topic, council, member)


async def set_proposal_message(uow: UnitOfWork, *, proposal_id: int, message_ref: int) -> None:
    """Remember which message announces a proposal, so an edit of it can be shown."""
    async with uow:
        await uow.proposals.set_message(proposal_id, message_ref)
        await uow.commit()


@dataclass(frozen=True)
class Revised:
    proposal: Proposal
    topic: Topic
    council: Council
    author: Member
    changed: bool  # False: the text was already this


async def revise_proposal(
    uow: UnitOfWork,
    *,
    chat_id: int,
    thread_id: int,
    source_ref: int,
    user_id: int,
    text: str,
) -> Revised:
    """The member edited the message that made a proposal: the proposal takes the new
    text, if it may still change (``Proposal.require_editable``); otherwise it is
    refused and the proposal stays as it was.

    The topic's row is locked first, then the proposal's: opening a ballot writes
    the topic before it reads the proposals (``open_ballot``), and a second being
    written holds a lock on its proposal (on PostgreSQL through its foreign key), so
    an edit never slips in between a second or a ballot's options and the text they
    saw: it waits, and then finds the topic voting or the proposal seconded."""
    async with uow:
        council = await council_of_chat(uow, chat_id, thread_id)
        assert council.id is not None
        found = await uow.proposals.by_source(council.id, source_ref)
        if found is None or found.id is None:
            raise errors.NotEditable(field="no_proposal")
        topic = await uow.topics.get(found.topic_id, lock=Lock.UPDATE)
        proposal = await uow.proposals.get(found.id, lock=Lock.UPDATE)
        assert topic is not None and proposal is not None and proposal.id is not None
        member = await voting_member(uow, council.id, user_id)
        assert member.id is not None
        proposal.require_editable(by=member.id, topic=topic)  # why not, before what is wrong
        cleaned = _clean(text, field="proposal", limit=MAX_PROPOSAL)
        changed = proposal.revise(cleaned, by=member.id, topic=topic)
        if changed:
            await uow.proposals.set_text(proposal.id, proposal.text)
        await uow.commit()
        return Revised(proposal, topic, council, member, changed)


@dataclass(frozen=True)
class Seconded:
    proposal: Proposal
    topic: Topic
    added: bool  # False: this member had already seconded


async def second_proposal(
    uow: UnitOfWork, *, proposal_id: int, user_id: int, now: datetime
) -> Seconded:
    async with uow:
        proposal = await uow.proposals.get(proposal_id)
        if proposal is None:
            raise errors.ProposalNotFound()
        topic = await require_topic(uow, proposal.topic_id)
        topic.require_phase(Phase.COLLECTING)
        member = await voting_member(uow, topic.council_id, user_id)
        assert member.id is not None and proposal.id is not None
        proposal.second(member.id)  # refuses one's own proposal
        added = await uow.proposals.add_second(proposal.id, member.id, now)
        await uow.commit()
        return Seconded(proposal, topic, added)


@dataclass(frozen=True)
class TopicView:
    topic: Topic
    proposals: list[Proposal]
    authors: dict[int, Member]
    ballots: list[Ballot]


async def topic_view(uow: UnitOfWork, *, topic_id: int) -> TopicView:
    async with uow:
        topic = await require_topic(uow, topic_id)
        assert topic.id is not None
        proposals = await uow.proposals.for_topic(topic.id)
        authors: dict[int, Member] = {}
        for proposal in proposals:
            if proposal.author_id not in authors:
                author = await uow.members.get(proposal.author_id)
                if author is not None:
                    authors[proposal.author_id] = author
        return TopicView(topic, proposals, authors, await uow.ballots.for_topic(topic.id))


async def proposal_with_author(uow: UnitOfWork, *, proposal_id: int) -> tuple[Proposal, Member]:
    async with uow:
        proposal = await uow.proposals.get(proposal_id)
        if proposal is None:
            raise errors.ProposalNotFound()
        author = await uow.members.get(proposal.author_id)
        if author is None:
            raise errors.NotMember()
        return proposal, author


# --- drafts (long proposals written in a private chat) ---------------------


async def start_draft(uow: UnitOfWork, *, topic_id: int, user_id: int, now: datetime) -> Topic:
    async with uow:
        topic = await require_topic(uow, topic_id)
        topic.require_phase(Phase.COLLECTING)
        await voting_member(uow, topic.council_id, user_id)
        await uow.drafts.put(Draft(user_id=user_id, topic_id=topic_id, text="", updated_at=now))
        await uow.commit()
        return topic


async def add_to_draft(uow: UnitOfWork, *, user_id: int, text: str, now: datetime) -> Draft | None:
    """Append a private message to the member's draft; None when no draft is open."""
    async with uow:
        draft = await uow.drafts.get(user_id)
        if draft is None:
            return None
        draft.text = f"{draft.text}\n{text}".strip() if draft.text else text.strip()
        if len(draft.text) > MAX_PROPOSAL:
            raise errors.TextTooLong(field="proposal", limit=MAX_PROPOSAL, length=len(draft.text))
        draft.updated_at = now
        await uow.drafts.put(draft)
        await uow.commit()
        return draft


async def submit_draft(
    uow: UnitOfWork, *, user_id: int, now: datetime, per_hour: int = 0
) -> Submitted:
    async with uow:
        draft = await uow.drafts.get(user_id)
        if draft is None:
            raise errors.NotFound(what="draft")
        topic = await require_topic(uow, draft.topic_id)
        submitted = await _submit(
            uow, topic=topic, user_id=user_id, text=draft.text, now=now, per_hour=per_hour
        )
        await uow.drafts.delete(user_id)
        await uow.commit()
        return submitted


async def discard_draft(uow: UnitOfWork, *, user_id: int) -> bool:
    async with uow:
        had = await uow.drafts.get(user_id) is not None
        await uow.drafts.delete(user_id)
        await uow.commit()
        return had


# --- ballots and votes -----------------------------------------------------


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
        council.require_chair(user_id)
        topic = await _topic_of(uow, council_id, topic_id)
        if deadline is not None and deadline <= now:
            raise errors.InvalidInput(field="deadline")
        ballot = await open_ballot(
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
        await uow.commit()
        return ballot


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
    user_id: int
    choice: str
    message_ref: int | None = None


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
        keys = list(dict.fromkeys(r.key for r in requests if r.key is not None))
        fresh = await uow.updates.claim_many(keys)
        claimed = bool(fresh)
        ballots: dict[int, Ballot | None] = {}
        for ballot_id in dict.fromkeys(r.ballot_id for r in requests):
            ballots[ballot_id] = await uow.ballots.get(ballot_id, lock=Lock.SHARE)
        users: dict[int, set[int]] = {}
        for ballot in ballots.values():
            if ballot is not None:
                users.setdefault(ballot.council_id, set())
        for request in requests:
            ballot = ballots[request.ballot_id]
            if ballot is not None:
                users[ballot.council_id].add(request.user_id)
        members = {
            council_id: await uow.members.by_users(council_id, sorted(ids))
            for council_id, ids in users.items()
        }
        results: list[VoteReceipt | errors.DomainError | None] = []
        accepted: list[_Accepted] = []
        for index, request in enumerate(requests):
            if request.key is not None:
                if request.key not in fresh:
                    results.append(errors.Redelivered())
                    continue
                fresh.discard(request.key)  # a key counts once, even within a batch
            try:
                ballot, member = _check_vote(request, ballots, members, now)
            except errors.DomainError as refusal:
                results.append(refusal)
                continue
            assert member.id is not None
            vote = Vote(request.ballot_id, member.id, request.choice, now)
            accepted.append(_Accepted(index, vote, ballot, member))
            results.append(None)
        for round_ in _rounds(accepted):
            previous = await uow.votes.put_many([a.vote for a in round_])
            for item, before in zip(round_, previous, strict=True):
                results[item.index] = VoteReceipt(
                    item.ballot, item.member, item.vote.choice, before
                )
        if accepted or claimed:
            # Without either, every request was refused and there is nothing to keep.
            await uow.commit()
        done = [result for result in results if result is not None]
        assert len(done) == len(requests)
        return done


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
    now: datetime,
) -> tuple[Ballot, Member]:
    ballot = ballots[request.ballot_id]
    if ballot is None:
        raise errors.BallotNotFound()
    if request.message_ref is not None and ballot.message_ref not in (None, request.message_ref):
        raise errors.StaleButton()
    ballot.require_open(now)
    ballot.require_choice(request.choice)
    member = members[ballot.council_id].get(request.user_id)
    if member is None or member.status is MemberStatus.REMOVED:
        raise errors.NotMember()
    if member.status is MemberStatus.PENDING:
        raise errors.MembershipPending()
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


@dataclass(frozen=True)
class BallotView:
    """What the ballot message shows: the live (or final) count."""

    ballot: Ballot
    topic: Topic
    council: Council
    outcome: Outcome  # provisional while open; the recorded one once closed
    roll_size: int
    voters: dict[str, list[str]]  # choice -> member names; empty for secret ballots
    seq: int  # last vote event included


async def ballot_view(uow: UnitOfWork, *, ballot_id: int) -> BallotView:
    async with uow:
        ballot = await uow.ballots.get(ballot_id)
        if ballot is None:
            raise errors.BallotNotFound()
        return await _view(uow, ballot)


async def _view(uow: UnitOfWork, ballot: Ballot) -> BallotView:
    assert ballot.id is not None
    topic = await require_topic(uow, ballot.topic_id)
    seq = await uow.votes.last_seq(ballot.id)
    members = await uow.members.list(ballot.council_id)
    votes = await uow.votes.current(ballot.id)
    outcome = ballot.outcome or _decide(ballot, members, votes)
    # Once closed, the roll that counted is the one recorded in the outcome.
    roll_size = int(outcome.tallies[Quantity.HEADCOUNT].roll) if ballot.outcome else len(members)
    voters: dict[str, list[str]] = {}
    if not ballot.secret:
        names = {m.id: m.name for m in members}
        for member_id, choice in sorted(votes.items()):
            if member_id in names:
                voters.setdefault(choice, []).append(names[member_id])
    council = await require_council(uow, ballot.council_id)
    return BallotView(ballot, topic, council, outcome, roll_size, voters, seq)


def _decide(ballot: Ballot, members: Sequence[Member], votes: dict[int, str]) -> Outcome:
    return decide(
        ballot.rule,
        [m.voter() for m in members],
        {str(member_id): choice for member_id, choice in votes.items()},
        options=ballot.option_keys(),
    )


async def mark_rendered(uow: UnitOfWork, *, ballot_id: int, seq: int) -> None:
    async with uow:
        await uow.ballots.set_rendered(ballot_id, seq)
        await uow.commit()


@dataclass(frozen=True)
class Closed:
    ballot: Ballot
    topic: Topic
    outcome: Outcome
    resolution: Resolution


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
        await uow.notices.add(outcome_notice(closed.ballot, council, now))
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


async def close_locked(uow: UnitOfWork, ballot: Ballot, now: datetime) -> Closed:
    """Within a transaction, on a ballot read with ``Lock.UPDATE``: decide and record."""
    ballot.require_open()
    assert ballot.id is not None
    topic = await require_topic(uow, ballot.topic_id)
    members = await uow.members.list(ballot.council_id)
    outcome = _decide(ballot, members, await uow.votes.current(ballot.id))
    ballot.closed_at = now
    ballot.outcome = outcome
    topic.decide(outcome.result, now)
    assert ballot.id is not None and topic.id is not None
    resolution = await uow.resolutions.add(
        Resolution(
            council_id=ballot.council_id,
            topic_id=topic.id,
            ballot_id=ballot.id,
            result=outcome.result,
            summary=ballot.label_of(outcome.winner) if outcome.winner else ballot.question,
            recorded_at=now,
            winner=outcome.winner,
        )
    )
    await uow.ballots.update(ballot)
    await uow.topics.update(topic)
    return Closed(ballot, topic, outcome, resolution)


async def cancel_topic(
    uow: UnitOfWork, *, council_id: int, topic_id: int | None, user_id: int, now: datetime
) -> Topic:
    async with uow:
        council = await require_council(uow, council_id)
        council.require_chair(user_id)
        topic = await _topic_of(uow, council_id, topic_id)
        topic.cancel(now)
        assert topic.id is not None
        for ballot in await uow.ballots.for_topic(topic.id):
            if ballot.is_open:
                ballot.closed_at = now
                await uow.ballots.update(ballot)
        await uow.topics.update(topic)
        await uow.commit()
        return topic


async def open_ballot_ids(uow: UnitOfWork) -> list[int]:
    """Every ballot still taking votes, in every council."""
    async with uow:
        return await uow.ballots.all_open()


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
                await uow.notices.add(
                    Notice(
                        key=f"ballot:{ballot.id}:moved:{new_chat_id}",
                        kind=NoticeKind.BALLOT_OPENED,
                        council_id=council.id,
                        chat_id=new_chat_id,
                        thread_id=council.thread_id,
                        subject=ballot.id,
                        created_at=now,
                        params={"moved": True},
                    )
                )
            moved += 1
        readdressed = await uow.notices.readdress(old_chat_id, new_chat_id)
        if moved or readdressed:
            await uow.commit()
        return moved
