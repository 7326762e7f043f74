"""Builders shared by the service-layer tests of ``tests/domain``, on the fakes.

Councils, members, topics, ballots and meetings are built with the use cases,
as the bot would build them, at the fixed ``NOW`` unless a test says otherwise;
every call gets a fresh unit of work from the ``factory`` fixture each test
module declares, and what was committed is read back from
``factory.store.committed``.

A builder's defaults are what most tests want; where a test module builds
something differently it says so at the call (or in a one-line wrapper of its
own), never through a default changed here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from domain import meetings, outbox, services
from domain.model import (
    Ballot,
    BallotKind,
    Meeting,
    Member,
    Notice,
    NoticeKind,
    Proposal,
    Topic,
)
from domain.schedule import DEFAULT_GRACE
from domain.task_rules import Offer, Task
from tests.fakes import FakeUnitOfWorkFactory

NOW = datetime(2025, 5, 6, 9, 30, tzinfo=UTC)
CLOSING = NOW + timedelta(days=2)  # a ballot's deadline
STARTS = NOW + timedelta(days=3)  # a meeting
GRACE = DEFAULT_GRACE
CHAT = -1001234567890
OTHER_CHAT = -1009876543210
CHAIR = 1  # group admin who set the council up; not on the roll
STRANGER = 999  # never joined


@contextmanager
def unchanged(factory: FakeUnitOfWorkFactory) -> Iterator[None]:
    """Asserts that nothing was committed inside the block."""
    before = factory.store.snapshot()
    commits = factory.committed
    yield
    assert factory.committed == commits
    assert factory.store.committed == before


# --- councils and members ----------------------------------------------------


async def set_up(
    factory: FakeUnitOfWorkFactory,
    *,
    chat_id: int = CHAT,
    thread_id: int = 0,
    title: str = "杨家园社区小院议事会",
) -> int:
    """A council set up by CHAIR (a group admin) at NOW; its id."""
    council = await services.set_up_council(
        factory(),
        chat_id=chat_id,
        thread_id=thread_id,
        title=title,
        user_id=CHAIR,
        is_group_admin=True,
        rule_name="simple",
        timezone="Asia/Shanghai",
        language="zh-CN",
        now=NOW,
    )
    assert council.id is not None
    return council.id


async def join(
    factory: FakeUnitOfWorkFactory,
    council_id: int,
    user_id: int,
    *,
    building: str = "1",
    address: str | None = None,
    name: str | None = None,
) -> Member:
    """``user_id`` joins at NOW as 居民<user_id>, of ``building``-1-<user_id>.

    ``address`` (as typed, e.g. "3-2-301") and ``name`` replace those defaults.
    """
    return await services.join(
        factory(),
        council_id=council_id,
        user_id=user_id,
        name=f"居民{user_id}" if name is None else name,
        address=services.parse_address(f"{building}-1-{user_id}" if address is None else address),
        area=None,
        language=None,
        now=NOW,
    )


async def update_council(
    factory: FakeUnitOfWorkFactory, council_id: int, **changes: object
) -> None:
    async with factory() as uow:
        council = await uow.councils.get(council_id)
        assert council is not None
        for name, value in changes.items():
            setattr(council, name, value)
        await uow.councils.update(council)
        await uow.commit()


async def reachable(factory: FakeUnitOfWorkFactory, *user_ids: int) -> None:
    """The users have opened a private chat with the bot (at NOW)."""
    for user_id in user_ids:
        await outbox.note_private_chat(factory(), user_id=user_id, now=NOW)


# --- topics, ballots and meetings --------------------------------------------


async def open_topic(
    factory: FakeUnitOfWorkFactory,
    council_id: int,
    title: str = "口袋花园建设方案",
    *,
    deadline: datetime | None = None,
    now: datetime = NOW,
) -> Topic:
    """A topic opened by CHAIR, with no description."""
    return await services.open_topic(
        factory(),
        council_id=council_id,
        user_id=CHAIR,
        title=title,
        description="",
        deadline=deadline,
        now=now,
    )


async def put_motion(
    factory: FakeUnitOfWorkFactory,
    council_id: int,
    topic: Topic,
    *,
    deadline: datetime | None = CLOSING,
    now: datetime = NOW,
    secret: bool = False,
) -> Ballot:
    """CHAIR puts ``topic`` to a motion vote, closing at ``deadline``."""
    return await services.put_ballot(
        factory(),
        council_id=council_id,
        topic_id=topic.id,
        user_id=CHAIR,
        kind=BallotKind.MOTION,
        deadline=deadline,
        now=now,
        secret=secret,
    )


async def vote(
    factory: FakeUnitOfWorkFactory,
    ballot_id: int,
    user_id: int,
    choice: str,
    *,
    now: datetime = NOW,
) -> None:
    await services.cast_vote(
        factory(), ballot_id=ballot_id, user_id=user_id, choice=choice, now=now
    )


async def schedule(
    factory: FakeUnitOfWorkFactory,
    council_id: int,
    *,
    starts_at: datetime = STARTS,
    place: str = "社区活动室",
    online: bool = False,
    items: Sequence[str] = (),
    user_id: int = CHAIR,
    now: datetime = NOW,
) -> Meeting:
    return await meetings.schedule_meeting(
        factory(),
        council_id=council_id,
        user_id=user_id,
        starts_at=starts_at,
        place=place,
        online=online,
        items=items,
        now=now,
    )


# --- reading back ------------------------------------------------------------


def ident(entity: Ballot | Meeting | Member | Notice | Offer | Proposal | Task | Topic) -> int:
    assert entity.id is not None
    return entity.id


def notices(factory: FakeUnitOfWorkFactory, kind: NoticeKind | None = None) -> list[Notice]:
    """The committed notices in the order they were queued; only ``kind`` if given."""
    return [
        n
        for _, n in sorted(factory.store.committed.notices.items())
        if kind is None or n.kind is kind
    ]
