"""Reading helpers shared by the use cases: the council, member, topic or rule a
command names, or a refusal when there is none.
"""

from __future__ import annotations

from domain import errors
from domain.model import Council, Member, MemberStatus, Topic
from domain.ports import UnitOfWork
from domain.rules import PRESETS, Rule

DEFAULT_RULE = "simple"


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


async def member_of(uow: UnitOfWork, *, council_id: int, user_id: int) -> Member | None:
    """The user's entry on the council's roll (any status), or None."""
    async with uow:
        return await uow.members.by_user(council_id, user_id)


async def voting_member(uow: UnitOfWork, council_id: int, user_id: int) -> Member:
    """The user's entry on the council's roll; refused unless they are an active member."""
    member = await uow.members.by_user(council_id, user_id)
    if member is None or member.status is MemberStatus.REMOVED:
        raise not_member(await uow.councils.get(council_id), user_id)
    if member.status is MemberStatus.PENDING:
        raise errors.MembershipPending()
    assert member.id is not None
    return member


def not_member(council: Council | None, user_id: int) -> errors.NotMember:
    """The refusal of someone not on the roll. Being a chair or staff puts nobody on it,
    which surprises a chair who set the council up: they are told so, and how to join."""
    if council is not None and council.is_chair(user_id):
        return errors.NotMember(field="chair")
    if council is not None and council.is_staff(user_id):
        return errors.NotMember(field="staff")
    return errors.NotMember()


async def require_topic(uow: UnitOfWork, topic_id: int) -> Topic:
    topic = await uow.topics.get(topic_id)
    if topic is None:
        raise errors.TopicNotFound()
    return topic


async def topic_of(uow: UnitOfWork, council_id: int, topic_id: int | None) -> Topic:
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
