"""Use cases of topics and proposals: open a topic, propose, edit, second, read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain import errors
from domain.events import ProposalChanged, TopicChanged
from domain.model import (
    MAX_DESCRIPTION,
    MAX_PROPOSAL,
    MAX_TITLE,
    Ballot,
    Council,
    Member,
    MemberStatus,
    Notice,
    NoticeKind,
    Phase,
    Proposal,
    Topic,
)
from domain.notices import queue
from domain.ports import Lock, UnitOfWork
from domain.services.reading import (
    council_of_chat,
    require_council,
    require_topic,
    topic_of,
    voting_member,
)


def _clean(text: str, *, field: str, limit: int, required: bool = True) -> str:
    text = text.strip()
    if required and not text:
        raise errors.InvalidInput(field=field)
    if len(text) > limit:
        raise errors.TextTooLong(field=field, limit=limit, length=len(text))
    return text


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
    user_id: int | None = None,
    text: str,
    now: datetime,
    per_hour: int = 0,
    source_ref: int | None = None,
    member_id: int | None = None,
) -> Submitted:
    """A member's proposal on a topic; ``per_hour`` > 0 caps how many a member makes in
    an hour (each is posted in the group for all to second). ``source_ref``: the
    member's message that made it, so that editing the message edits the proposal.

    The member is known by their Telegram account (``user_id``, the chat) or by their
    entry on the roll (``member_id``: the residents' web page, where a household may
    have no account). A proposal made off the chat is on the topic's card at once; the
    chat's own is once its message is posted (``set_proposal_message``)."""
    async with uow:
        topic = await topic_of(uow, council_id, topic_id)
        submitted = await add_proposal(
            uow,
            topic=topic,
            user_id=user_id,
            text=text,
            now=now,
            per_hour=per_hour,
            source_ref=source_ref,
            member_id=member_id,
        )
        if member_id is not None:
            # Off the chat: the card shows it at once, and the group gets its message
            # with the second button from the outbox (durable, unlike the chat's reply).
            assert topic.id is not None and submitted.proposal.id is not None
            uow.record(TopicChanged(topic.id))
            council = submitted.council
            assert council.id is not None
            await queue(
                uow,
                Notice(
                    key=f"proposal_posted:{submitted.proposal.id}",
                    kind=NoticeKind.PROPOSAL_POSTED,
                    council_id=council.id,
                    chat_id=council.chat_id,
                    thread_id=council.thread_id,
                    subject=submitted.proposal.id,
                    created_at=now,
                ),
            )
        await uow.commit()
        return submitted


LIMIT_WINDOW = timedelta(hours=1)


async def acting_member(
    uow: UnitOfWork, council_id: int, *, user_id: int | None, member_id: int | None
) -> Member:
    """Who acts, refused unless an active member of the council: known by their
    Telegram account (``user_id``), or by their entry on the roll (``member_id``, on
    the web: a household imported from a roster may have no account at all)."""
    if member_id is None:
        if user_id is None:
            raise TypeError("acting_member needs a user_id or a member_id")
        return await voting_member(uow, council_id, user_id)
    member = await uow.members.get(member_id)
    if member is None or member.council_id != council_id or member.status is MemberStatus.REMOVED:
        raise errors.NotMember()
    if member.status is MemberStatus.PENDING:
        raise errors.MembershipPending()
    return member


def within_limit(count: int, limit: int, *, field: str) -> None:
    """Refuse the next one once ``count`` reached ``limit`` in the window (0: no limit)."""
    if limit > 0 and count >= limit:
        raise errors.TooMany(field=field, limit=limit, minutes=60)


async def add_proposal(
    uow: UnitOfWork,
    *,
    topic: Topic,
    user_id: int | None = None,
    text: str,
    now: datetime,
    per_hour: int,
    source_ref: int | None = None,
    member_id: int | None = None,
) -> Submitted:
    """Within a transaction: the member's proposal on ``topic`` (``submit_proposal``
    and ``submit_draft`` commit it)."""
    topic.require_phase(Phase.COLLECTING)
    council = await require_council(uow, topic.council_id)
    member = await acting_member(uow, topic.council_id, user_id=user_id, member_id=member_id)
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
        proposal = await uow.proposals.get(proposal_id)
        if proposal is None:
            raise errors.ProposalNotFound()
        await uow.proposals.set_message(proposal_id, message_ref)
        uow.record(TopicChanged(proposal.topic_id))  # the card lists it, with its link
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
            uow.record(TopicChanged(proposal.topic_id))
        await uow.commit()
        return Revised(proposal, topic, council, member, changed)


@dataclass(frozen=True)
class Seconded:
    proposal: Proposal  # with its seconds as committed when this one was added
    topic: Topic
    added: bool  # False: this member had already seconded
    council: Council
    author: Member


async def second_proposal(
    uow: UnitOfWork,
    *,
    proposal_id: int,
    user_id: int | None = None,
    now: datetime,
    member_id: int | None = None,
    council_id: int | None = None,
) -> Seconded:
    """A member seconds a proposal: by their Telegram account (``user_id``) or their
    entry on the roll (``member_id``). ``council_id``: the proposal must be that
    council's, else it is not found (the web names proposals by their id)."""
    async with uow:
        proposal = await uow.proposals.get(proposal_id)
        if proposal is None:
            raise errors.ProposalNotFound()
        topic = await require_topic(uow, proposal.topic_id)
        if council_id is not None and topic.council_id != council_id:
            raise errors.ProposalNotFound()
        topic.require_phase(Phase.COLLECTING)
        member = await acting_member(uow, topic.council_id, user_id=user_id, member_id=member_id)
        assert member.id is not None and proposal.id is not None
        proposal.second(member.id)  # refuses one's own proposal
        added = await uow.proposals.add_second(proposal.id, member.id, now)
        if added:
            # Read again: seconds that others committed meanwhile are counted too.
            proposal = await uow.proposals.get(proposal_id) or proposal
            assert topic.id is not None
            uow.record(TopicChanged(topic.id))
            if member_id is not None:  # off the chat: its message in the group follows
                uow.record(ProposalChanged(proposal_id))
        council = await require_council(uow, topic.council_id)
        author = await uow.members.get(proposal.author_id)
        if author is None:
            raise errors.NotMember()
        await uow.commit()
        return Seconded(proposal, topic, added, council, author)


@dataclass(frozen=True)
class TopicView:
    topic: Topic
    proposals: list[Proposal]
    authors: dict[int, Member]
    ballots: list[Ballot]


async def topic_view(uow: UnitOfWork, *, topic_id: int) -> TopicView:
    async with uow:
        return await read_topic_view(uow, topic_id)


async def read_topic_view(uow: UnitOfWork, topic_id: int) -> TopicView:
    """``topic_view`` within an open unit of work."""
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


@dataclass(frozen=True)
class ProposalView:
    """What a proposal's own message in the group shows."""

    proposal: Proposal
    topic: Topic
    council: Council
    author: Member


async def proposal_view(uow: UnitOfWork, *, proposal_id: int) -> ProposalView:
    async with uow:
        proposal = await uow.proposals.get(proposal_id)
        if proposal is None:
            raise errors.ProposalNotFound()
        topic = await require_topic(uow, proposal.topic_id)
        council = await require_council(uow, topic.council_id)
        author = await uow.members.get(proposal.author_id)
        if author is None:
            raise errors.NotMember()
        return ProposalView(proposal, topic, council, author)
