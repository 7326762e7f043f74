"""Service-layer tests: every use case of ``domain/services/`` on the fakes.

Each test drives the use cases as the bot would, one fresh unit of work per
call, with a fixed ``now``. Refusals are checked to change nothing at all:
the committed state and the commit count are compared before and after.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import errors, services
from domain.idempotency import IdempotentUnitOfWork
from domain.model import (
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_PROPOSAL,
    MAX_TITLE,
    Ballot,
    BallotKind,
    Council,
    Member,
    MemberStatus,
    Phase,
    Proposal,
    Topic,
    Voters,
)
from domain.ports import Lock, UnitOfWork
from domain.rules import PRESETS, Choice, Quantity, Result
from tests.domain.builders import unchanged, update_council
from tests.fakes import FakeUnitOfWork, FakeUnitOfWorkFactory

NOW = datetime(2025, 5, 6, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)
CLOSING = NOW + timedelta(days=2)
CHAT = -1001234567890
CHAIR = 1  # group admin who set the council up; not on the roll unless they join
STRANGER = 999  # never joined
FOR, AGAINST, ABSTAIN = Choice.FOR.value, Choice.AGAINST.value, Choice.ABSTAIN.value


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


def keyed(factory: FakeUnitOfWorkFactory, key: str) -> UnitOfWork:
    """A unit of work for one messenger update, as the bot makes it."""
    # cast: IdempotentUnitOfWork exposes the repositories as read-only properties,
    # which mypy does not accept for the protocol's settable attributes.
    return cast(UnitOfWork, IdempotentUnitOfWork(factory(), key))


# --- builders ----------------------------------------------------------------


async def set_up(
    factory: FakeUnitOfWorkFactory,
    *,
    rule: str = "simple",
    user_id: int = CHAIR,
    is_group_admin: bool = True,
    thread_id: int = 0,
    title: str = "杨家园社区小院议事会",
) -> Council:
    return await services.set_up_council(
        factory(),
        chat_id=CHAT,
        thread_id=thread_id,
        title=title,
        user_id=user_id,
        is_group_admin=is_group_admin,
        rule_name=rule,
        timezone="Asia/Shanghai",
        language="zh-CN",
        now=NOW,
    )


def cid(council: Council) -> int:
    assert council.id is not None
    return council.id


async def join(
    factory: FakeUnitOfWorkFactory,
    council_id: int,
    user_id: int,
    *,
    address: str = "",
    name: str = "",
    area: str | None = None,
) -> Member:
    return await services.join(
        factory(),
        council_id=council_id,
        user_id=user_id,
        name=name or f"居民{user_id}",
        address=services.parse_address(address or f"1-1-{100 + user_id}"),
        area=None if area is None else services.parse_area(area),
        language=None,
        now=NOW,
    )


async def council_with_roll(
    factory: FakeUnitOfWorkFactory, size: int, *, rule: str = "simple"
) -> tuple[int, list[int]]:
    """A council and ``size`` active members in separate households; user ids 101..."""
    council = await set_up(factory, rule=rule)
    users = [101 + i for i in range(size)]
    for user in users:
        await join(factory, cid(council), user)
    return cid(council), users


async def set_status(factory: FakeUnitOfWorkFactory, member: Member, status: MemberStatus) -> None:
    async with factory() as uow:
        assert member.id is not None
        stored = await uow.members.get(member.id)
        assert stored is not None
        stored.status = status
        await uow.members.update(stored)
        await uow.commit()


async def open_topic(
    factory: FakeUnitOfWorkFactory, council_id: int, title: str = "口袋花园建设方案"
) -> Topic:
    return await services.open_topic(
        factory(),
        council_id=council_id,
        user_id=CHAIR,
        title=title,
        description="楼前空地改建为口袋花园",
        deadline=None,
        now=NOW,
    )


def tid(topic: Topic) -> int:
    assert topic.id is not None
    return topic.id


def bid(ballot: Ballot) -> int:
    assert ballot.id is not None
    return ballot.id


def pid(proposal: Proposal) -> int:
    assert proposal.id is not None
    return proposal.id


async def council_of(
    factory: FakeUnitOfWorkFactory, *, topic_id: int = 0, ballot_id: int = 0
) -> int:
    """The council a topic or ballot belongs to, as the bot knows it from the chat."""
    async with factory() as uow:
        topic = await uow.topics.get(topic_id)
        ballot = await uow.ballots.get(ballot_id)
    if topic is not None:
        return topic.council_id
    if ballot is not None:
        return ballot.council_id
    return 1


async def propose(
    factory: FakeUnitOfWorkFactory, topic_id: int, user_id: int, text: str, *, now: datetime = NOW
) -> Proposal:
    submitted = await services.submit_proposal(
        factory(),
        council_id=await council_of(factory, topic_id=topic_id),
        topic_id=topic_id,
        user_id=user_id,
        text=text,
        now=now,
    )
    return submitted.proposal


async def motion(
    factory: FakeUnitOfWorkFactory,
    council_id: int,
    *,
    rule: str | None = None,
    secret: bool = False,
    deadline: datetime | None = None,
) -> Ballot:
    topic = await open_topic(factory, council_id)
    return await services.put_ballot(
        factory(),
        council_id=topic.council_id,
        topic_id=tid(topic),
        user_id=CHAIR,
        kind=BallotKind.MOTION,
        rule_name=rule,
        secret=secret,
        deadline=deadline,
        now=NOW,
    )


async def vote(factory: FakeUnitOfWorkFactory, ballot_id: int, user_id: int, choice: str) -> None:
    await services.cast_vote(
        factory(), ballot_id=ballot_id, user_id=user_id, choice=choice, now=LATER
    )


async def votes(factory: FakeUnitOfWorkFactory, ballot_id: int, choices: dict[int, str]) -> None:
    for user_id, choice in choices.items():
        await vote(factory, ballot_id, user_id, choice)


async def close(factory: FakeUnitOfWorkFactory, ballot_id: int) -> services.Closed:
    return await services.close_ballot(
        factory(),
        council_id=await council_of(factory, ballot_id=ballot_id),
        ballot_id=ballot_id,
        user_id=CHAIR,
        now=CLOSING,
    )


# --- council set-up ----------------------------------------------------------


async def test_group_admin_sets_up_a_council_and_becomes_its_chair(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council = await set_up(factory, rule="residents-meeting")

    assert council.id is not None
    assert council.chairs == {CHAIR}
    assert council.rule == PRESETS["residents-meeting"]
    assert council.timezone == "Asia/Shanghai"
    assert council.created_at == NOW
    async with factory() as uow:
        assert await services.council_of_chat(uow, CHAT, 0) == council
    assert factory.committed == 1


async def test_only_a_group_admin_may_set_up_a_council(factory: FakeUnitOfWorkFactory) -> None:
    with unchanged(factory), pytest.raises(errors.NotGroupAdmin):
        await set_up(factory, is_group_admin=False)


async def test_unknown_rule_is_refused_and_names_the_presets(
    factory: FakeUnitOfWorkFactory,
) -> None:
    with unchanged(factory), pytest.raises(errors.UnknownRule) as refused:
        await set_up(factory, rule="majority-ish")
    assert refused.value.params["name"] == "majority-ish"
    assert "residents-meeting" in str(refused.value.params["presets"])


async def test_set_up_run_again_by_a_chair_changes_the_default_rule(
    factory: FakeUnitOfWorkFactory,
) -> None:
    first = await set_up(factory, rule="simple")
    again = await set_up(factory, rule="two-thirds", is_group_admin=False)

    assert again.id == first.id
    async with factory() as uow:
        stored = await uow.councils.get(cid(first))
    assert stored is not None and stored.rule == PRESETS["two-thirds"]


async def test_set_up_run_again_by_a_plain_member_is_refused(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council = await set_up(factory)
    await join(factory, cid(council), 101)
    with unchanged(factory), pytest.raises(errors.NotChair):
        await set_up(factory, rule="consensus", user_id=101, is_group_admin=False)


async def test_set_up_run_again_by_another_group_admin_makes_them_a_chair(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council = await set_up(factory)
    await set_up(factory, user_id=2, rule="consensus")
    async with factory() as uow:
        stored = await uow.councils.get(cid(council))
    assert stored is not None
    assert stored.chairs == {CHAIR, 2}
    assert stored.rule == PRESETS["consensus"]


async def test_unknown_rule_on_a_re_run_changes_nothing(factory: FakeUnitOfWorkFactory) -> None:
    await set_up(factory)
    with unchanged(factory), pytest.raises(errors.UnknownRule):
        await set_up(factory, rule="nope")


async def test_a_council_of_the_whole_forum_serves_its_threads(
    factory: FakeUnitOfWorkFactory,
) -> None:
    whole = await set_up(factory)
    thread = await set_up(factory, thread_id=42, title="3号楼议事")
    async with factory() as uow:
        assert (await services.council_of_chat(uow, CHAT, 42)).id == thread.id
        assert (await services.council_of_chat(uow, CHAT, 7)).id == whole.id
        with pytest.raises(errors.CouncilNotSetUp):
            await services.council_of_chat(uow, CHAT + 1, 0)


async def test_a_thread_council_does_not_serve_the_whole_chat(
    factory: FakeUnitOfWorkFactory,
) -> None:
    await set_up(factory, thread_id=42)
    async with factory() as uow:
        with pytest.raises(errors.CouncilNotSetUp):
            await services.council_of_chat(uow, CHAT, 0)


async def test_set_up_falls_back_to_the_chat_id_when_the_chat_has_no_title(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council = await set_up(factory, title="")
    assert council.title == str(CHAT)


async def test_a_long_chat_title_does_not_prevent_set_up(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory, title="议" * 128)
    assert council.id is not None


async def test_finding_a_council(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory)
    assert await services.find_council(factory(), chat_id=CHAT, thread_id=9) == council
    assert await services.council_by_id(factory(), council_id=cid(council)) == council
    with pytest.raises(errors.CouncilNotSetUp):
        await services.find_council(factory(), chat_id=CHAT + 1, thread_id=0)
    with pytest.raises(errors.CouncilNotSetUp):
        await services.council_by_id(factory(), council_id=404)
    assert factory.committed == 1


# --- addresses and areas -----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["3-2-301", "3栋2单元301", "3/2/301", "3栋2单元301室", " 3 - 2 - 301 ", "3－2－301", "3—2—301"],
)
def test_parse_address_reads_the_usual_notations(text: str) -> None:
    assert services.parse_address(text) == services.Address("3", "2", "301")


def test_parse_address_keeps_letters() -> None:
    assert services.parse_address("A-1-101") == services.Address("A", "1", "101")


@pytest.mark.parametrize(
    "text", ["", "   ", "garbage", "301", "3-", "-2-301", "3--", "我住三楼", "3-2-301; DROP", "<b>"]
)
def test_parse_address_refuses_garbage(text: str) -> None:
    with pytest.raises(errors.InvalidInput) as refused:
        services.parse_address(text)
    assert refused.value.params["field"] == "address"


def test_parse_address_echoes_at_most_40_characters() -> None:
    with pytest.raises(errors.InvalidInput) as refused:
        services.parse_address("x" * 500)
    assert refused.value.params["value"] == "x" * 40


@pytest.mark.parametrize("text", ["3-2301", "3栋201", "3号楼201"])
def test_parse_address_does_not_split_a_room_number(text: str) -> None:
    try:
        address = services.parse_address(text)
    except errors.InvalidInput:
        return  # refusing is fine; misreading is not
    assert address.room.endswith("01") and len(address.room) >= 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10号楼2单元301", ("10", "2", "301")), ("3幢2-301", ("3", "2", "301"))],
)
def test_parse_address_reads_chinese_building_words(text: str, expected: tuple[str, ...]) -> None:
    assert services.parse_address(text) == services.Address(*expected)


@pytest.mark.parametrize(
    ("text", "area"),
    [
        ("80", "80.00"),
        (" 89.5 ", "89.50"),
        ("80.5㎡", "80.50"),
        ("80m2", "80.00"),
        ("80 m²", "80.00"),
        ("0.01", "0.01"),
        ("100000", "100000.00"),
        ("80.005", "80.00"),
    ],
)
def test_parse_area_reads_square_metres_exactly(text: str, area: str) -> None:
    parsed = services.parse_area(text)
    assert parsed == Decimal(area)
    assert str(parsed) == area


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "-1",
        "100000.01",
        "NaN",
        "Infinity",
        "-0.5㎡",
        "80平米",
        "1e100000",
        "0",
        "0.00",
        "0.004",
    ],
)
def test_parse_area_refuses_garbage(text: str) -> None:
    with pytest.raises(errors.InvalidInput) as refused:
        services.parse_area(text)
    assert refused.value.params["field"] == "area"


# --- the roll ----------------------------------------------------------------


async def test_a_resident_joins_the_roll(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory)
    member = await join(
        factory, cid(council), 101, name=" 王阿姨 ", address="3栋2单元301", area="89.5"
    )

    assert member.id is not None
    assert member.status is MemberStatus.ACTIVE
    assert member.name == "王阿姨"
    assert (member.building, member.unit, member.room) == ("3", "2", "301")
    assert member.household == "3-2-301"
    assert member.area == Decimal("89.50")
    assert member.joined_at == NOW
    async with factory() as uow:
        assert await uow.members.by_user(cid(council), 101) == member


async def test_joining_twice_is_refused(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory)
    await join(factory, cid(council), 101)
    with unchanged(factory), pytest.raises(errors.AlreadyMember) as refused:
        await join(factory, cid(council), 101, address="5-1-101")
    assert refused.value.params["status"] == "active"


async def test_join_needs_approval_when_the_council_requires_it(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council = await set_up(factory)
    await update_council(factory, cid(council), require_approval=True)

    member = await join(factory, cid(council), 101)

    assert member.status is MemberStatus.PENDING
    with unchanged(factory), pytest.raises(errors.AlreadyMember) as refused:
        await join(factory, cid(council), 101)
    assert refused.value.params["status"] == "pending"


async def test_a_removed_member_may_join_again(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory)
    first = await join(factory, cid(council), 101, address="3-2-301")
    await set_status(factory, first, MemberStatus.REMOVED)

    again = await join(factory, cid(council), 101, address="5-1-102")

    assert again.id == first.id
    assert again.status is MemberStatus.ACTIVE
    assert again.household == "5-1-102"
    async with factory() as uow:
        roll = await uow.members.list(cid(council))
    assert [m.household for m in roll] == ["5-1-102"]


async def test_join_without_a_name_uses_the_account_id(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory)
    member = await services.join(
        factory(),
        council_id=cid(council),
        user_id=101,
        name="   ",
        address=services.parse_address("3-2-301"),
        area=None,
        language="en",
        now=NOW,
    )
    assert member.name == "101"
    assert member.language == "en"
    assert member.area == 0


async def test_an_over_long_profile_name_is_shortened(factory: FakeUnitOfWorkFactory) -> None:
    # The name comes from the messenger profile, not from what the member typed.
    council = await set_up(factory)
    member = await join(factory, cid(council), 101, name="名" * (MAX_NAME + 10))
    assert member.name == "名" * MAX_NAME


async def test_joining_a_council_that_does_not_exist_is_refused(
    factory: FakeUnitOfWorkFactory,
) -> None:
    with unchanged(factory), pytest.raises(errors.CouncilNotSetUp):
        await join(factory, 404, 101)


async def test_the_same_account_may_be_on_two_rolls(factory: FakeUnitOfWorkFactory) -> None:
    one = await set_up(factory)
    two = await set_up(factory, thread_id=42)
    await join(factory, cid(one), 101)
    member = await join(factory, cid(two), 101)
    assert member.council_id == cid(two)


async def test_roll_view_totals(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory)
    await join(factory, cid(council), 101, address="3-2-301", area="89.5")
    await join(factory, cid(council), 102, address="3栋2单元301")  # same household, no flat
    await join(factory, cid(council), 103, address="3-2-302", area="60.25")
    removed = await join(factory, cid(council), 104, address="3-2-303", area="70")
    await set_status(factory, removed, MemberStatus.REMOVED)
    await update_council(factory, cid(council), require_approval=True)
    await join(factory, cid(council), 105, address="3-2-304", area="75")

    view = await services.roll(factory(), council_id=cid(council))

    assert [m.user_id for m in view.members] == [101, 102, 103]
    assert [m.user_id for m in view.pending] == [105]
    assert view.households == 2
    # Declared areas wait for staff: nothing counts until they verify.
    assert (view.area, view.owners, view.unverified) == (Decimal("0.00"), 0, 2)
    for member in view.members[::2]:
        assert member.id is not None
        await services.verify_flat(
            factory(),
            council_id=cid(council),
            user_id=CHAIR,
            member_id=member.id,
            household=member.household,
        )
    view = await services.roll(factory(), council_id=cid(council))
    # 101 declared 89.5 for 3-2-301 (102 lives there too, owning nothing), 103 60.25.
    assert (view.area, view.owners, view.unverified) == (Decimal("149.75"), 2, 0)
    assert view.council.id == cid(council)


async def test_roll_of_an_unknown_council_is_refused(factory: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(errors.CouncilNotSetUp):
        await services.roll(factory(), council_id=404)


# --- topics ------------------------------------------------------------------


async def test_a_chair_opens_a_topic(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory)
    topic = await services.open_topic(
        factory(),
        council_id=cid(council),
        user_id=CHAIR,
        title="  口袋花园建设方案 ",
        description="",
        deadline=CLOSING,
        now=NOW,
    )

    assert topic.id is not None
    assert topic.title == "口袋花园建设方案"
    assert topic.phase is Phase.COLLECTING
    assert topic.deadline == CLOSING
    assert topic.opened_at == NOW and topic.opened_by == CHAIR
    async with factory() as uow:
        assert await uow.topics.get(tid(topic)) == topic
        assert await uow.topics.active(cid(council)) == [topic]


async def test_bare_commands_refer_to_the_newest_open_topic(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    older = await open_topic(factory, council_id, "活动室使用规则")
    newer = await open_topic(factory, council_id, "口袋花园")

    async def bare_proposal() -> services.Submitted:
        return await services.submit_proposal(
            factory(), council_id=council_id, topic_id=None, user_id=alice, text="同意", now=NOW
        )

    assert (await bare_proposal()).topic.id == newer.id
    cancelled = await services.cancel_topic(
        factory(), council_id=council_id, topic_id=None, user_id=CHAIR, now=LATER
    )
    assert cancelled.id == newer.id
    assert (await bare_proposal()).topic.id == older.id
    ballot = await services.put_ballot(
        factory(), council_id=council_id, user_id=CHAIR, kind=BallotKind.MOTION, now=NOW
    )
    assert ballot.topic_id == older.id
    await close(factory, bid(ballot))
    with unchanged(factory), pytest.raises(errors.NoOpenTopic):
        await bare_proposal()
    with unchanged(factory), pytest.raises(errors.NoOpenTopic):
        await services.put_ballot(
            factory(), council_id=council_id, user_id=CHAIR, kind=BallotKind.MOTION, now=NOW
        )


async def test_a_topic_of_another_council_is_not_found(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    other = await set_up(factory, thread_id=42)
    await join(factory, cid(other), alice)
    topic = await open_topic(factory, council_id)
    with unchanged(factory), pytest.raises(errors.TopicNotFound):
        await services.submit_proposal(
            factory(), council_id=cid(other), topic_id=tid(topic), user_id=alice, text="x", now=NOW
        )
    with unchanged(factory), pytest.raises(errors.TopicNotFound):
        await services.put_ballot(
            factory(),
            council_id=cid(other),
            topic_id=tid(topic),
            user_id=CHAIR,
            kind=BallotKind.MOTION,
            now=NOW,
        )
    with unchanged(factory), pytest.raises(errors.TopicNotFound):
        await services.cancel_topic(
            factory(), council_id=cid(other), topic_id=tid(topic), user_id=CHAIR, now=NOW
        )


async def test_only_a_chair_opens_a_topic(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory)
    await join(factory, cid(council), 101)
    with unchanged(factory), pytest.raises(errors.NotChair):
        await services.open_topic(
            factory(),
            council_id=cid(council),
            user_id=101,
            title="我的议题",
            description="",
            deadline=None,
            now=NOW,
        )


@pytest.mark.parametrize(
    ("title", "description", "refusal"),
    [
        ("", "", errors.InvalidInput),
        ("   \n ", "", errors.InvalidInput),
        ("议" * (MAX_TITLE + 1), "", errors.TextTooLong),
        ("口袋花园", "说" * (MAX_DESCRIPTION + 1), errors.TextTooLong),
    ],
)
async def test_bad_topic_text_is_refused(
    factory: FakeUnitOfWorkFactory, title: str, description: str, refusal: type[Exception]
) -> None:
    council = await set_up(factory)
    with unchanged(factory), pytest.raises(refusal):
        await services.open_topic(
            factory(),
            council_id=cid(council),
            user_id=CHAIR,
            title=title,
            description=description,
            deadline=None,
            now=NOW,
        )


async def test_a_title_of_exactly_the_limit_is_accepted(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory)
    topic = await open_topic(factory, cid(council), "议" * MAX_TITLE)
    assert len(topic.title) == MAX_TITLE


@pytest.mark.parametrize("deadline", [NOW, NOW - timedelta(minutes=1)])
async def test_a_deadline_not_in_the_future_is_refused(
    factory: FakeUnitOfWorkFactory, deadline: datetime
) -> None:
    council = await set_up(factory)
    with unchanged(factory), pytest.raises(errors.InvalidInput) as refused:
        await services.open_topic(
            factory(),
            council_id=cid(council),
            user_id=CHAIR,
            title="口袋花园",
            description="",
            deadline=deadline,
            now=NOW,
        )
    assert refused.value.params["field"] == "deadline"


async def test_set_card_remembers_the_topic_message(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory)
    topic = await open_topic(factory, cid(council))
    await services.set_card(factory(), topic_id=tid(topic), card_ref=5150)
    async with factory() as uow:
        stored = await uow.topics.get(tid(topic))
    assert stored is not None and stored.card_ref == 5150
    with pytest.raises(errors.TopicNotFound):
        await services.set_card(factory(), topic_id=404, card_ref=1)


# --- proposals and seconds ---------------------------------------------------


async def test_a_member_submits_a_proposal(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 2)
    topic = await open_topic(factory, council_id)

    proposal = await propose(factory, tid(topic), alice, "  种月季和绣球 ")

    assert proposal.id is not None
    assert proposal.text == "种月季和绣球"
    assert proposal.created_at == NOW
    async with factory() as uow:
        member = await uow.members.by_user(council_id, alice)
        assert member is not None and proposal.author_id == member.id
        assert await uow.proposals.for_topic(tid(topic)) == [proposal]


async def test_submitting_reports_topic_council_and_author(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    topic = await open_topic(factory, council_id)
    submitted = await services.submit_proposal(
        factory(), council_id=council_id, topic_id=tid(topic), user_id=alice, text="种花", now=NOW
    )
    assert submitted.topic.id == tid(topic)
    assert submitted.council.id == council_id
    assert submitted.author.user_id == alice


async def test_a_non_member_may_not_propose(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    topic = await open_topic(factory, council_id)
    with unchanged(factory), pytest.raises(errors.NotMember):
        await propose(factory, tid(topic), STRANGER, "建个停车场")


async def test_a_removed_member_may_not_propose(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory)
    member = await join(factory, cid(council), 101)
    await set_status(factory, member, MemberStatus.REMOVED)
    topic = await open_topic(factory, cid(council))
    with unchanged(factory), pytest.raises(errors.NotMember):
        await propose(factory, tid(topic), 101, "种树")


async def test_a_pending_member_may_not_propose(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory)
    await update_council(factory, cid(council), require_approval=True)
    await join(factory, cid(council), 101)
    topic = await open_topic(factory, cid(council))
    with unchanged(factory), pytest.raises(errors.MembershipPending):
        await propose(factory, tid(topic), 101, "种树")


async def test_proposals_are_taken_only_while_collecting(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)
    with unchanged(factory), pytest.raises(errors.WrongPhase) as refused:
        await propose(factory, ballot.topic_id, alice, "晚了一步的意见")
    assert refused.value.params["phase"] == "voting"


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("", errors.InvalidInput),
        (" \n\t", errors.InvalidInput),
        ("字" * (MAX_PROPOSAL + 1), errors.TextTooLong),
    ],
)
async def test_bad_proposal_text_is_refused(
    factory: FakeUnitOfWorkFactory, text: str, refusal: type[Exception]
) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    topic = await open_topic(factory, council_id)
    with unchanged(factory), pytest.raises(refusal):
        await propose(factory, tid(topic), alice, text)


async def test_proposal_on_an_unknown_topic_is_refused(factory: FakeUnitOfWorkFactory) -> None:
    _, (alice, *_) = await council_with_roll(factory, 1)
    with unchanged(factory), pytest.raises(errors.TopicNotFound):
        await propose(factory, 404, alice, "种树")


async def test_a_member_seconds_a_proposal_once(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, bob, carol) = await council_with_roll(factory, 3)
    topic = await open_topic(factory, council_id)
    proposal = await propose(factory, tid(topic), alice, "种月季")

    first = await services.second_proposal(
        factory(), proposal_id=pid(proposal), user_id=bob, now=NOW
    )
    again = await services.second_proposal(
        factory(), proposal_id=pid(proposal), user_id=bob, now=LATER
    )
    await services.second_proposal(factory(), proposal_id=pid(proposal), user_id=carol, now=NOW)

    assert first.added is True
    assert again.added is False
    assert first.topic.id == tid(topic)
    async with factory() as uow:
        stored = await uow.proposals.get(pid(proposal))
        bob_member = await uow.members.by_user(council_id, bob)
        carol_member = await uow.members.by_user(council_id, carol)
    assert stored is not None and bob_member is not None and carol_member is not None
    assert stored.seconds == {bob_member.id, carol_member.id}


async def test_seconding_ones_own_proposal_is_refused(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    topic = await open_topic(factory, council_id)
    proposal = await propose(factory, tid(topic), alice, "种月季")
    with unchanged(factory), pytest.raises(errors.OwnProposal):
        await services.second_proposal(factory(), proposal_id=pid(proposal), user_id=alice, now=NOW)


async def test_seconding_is_refused_to_non_members_and_after_collecting(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, (alice, bob) = await council_with_roll(factory, 2)
    topic = await open_topic(factory, council_id)
    proposal = await propose(factory, tid(topic), alice, "种月季")
    with unchanged(factory), pytest.raises(errors.NotMember):
        await services.second_proposal(
            factory(), proposal_id=pid(proposal), user_id=STRANGER, now=NOW
        )
    with unchanged(factory), pytest.raises(errors.ProposalNotFound):
        await services.second_proposal(factory(), proposal_id=404, user_id=bob, now=NOW)
    await services.cancel_topic(
        factory(), council_id=topic.council_id, topic_id=tid(topic), user_id=CHAIR, now=NOW
    )
    with unchanged(factory), pytest.raises(errors.WrongPhase):
        await services.second_proposal(factory(), proposal_id=pid(proposal), user_id=bob, now=NOW)


async def test_topic_view_lists_proposals_oldest_first_with_authors(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, (alice, bob) = await council_with_roll(factory, 2)
    topic = await open_topic(factory, council_id)
    first = await propose(factory, tid(topic), alice, "种月季")
    second = await propose(factory, tid(topic), bob, "放健身器材", now=LATER)
    await services.second_proposal(factory(), proposal_id=pid(first), user_id=bob, now=LATER)

    view = await services.topic_view(factory(), topic_id=tid(topic))

    assert [p.id for p in view.proposals] == [first.id, second.id]
    assert len(view.proposals[0].seconds) == 1
    assert {m.user_id for m in view.authors.values()} == {alice, bob}
    assert view.ballots == []
    with pytest.raises(errors.TopicNotFound):
        await services.topic_view(factory(), topic_id=404)


# --- drafts ------------------------------------------------------------------


async def test_a_long_proposal_is_written_in_a_draft_and_sent(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    topic = await open_topic(factory, council_id)

    started = await services.start_draft(factory(), topic_id=tid(topic), user_id=alice, now=NOW)
    one = await services.add_to_draft(factory(), user_id=alice, text=" 第一段：种花 ", now=NOW)
    two = await services.add_to_draft(factory(), user_id=alice, text="第二段：装长椅", now=LATER)
    submitted = await services.submit_draft(factory(), user_id=alice, now=LATER)
    proposal = submitted.proposal

    assert started.id == tid(topic)
    assert one is not None and one.text == "第一段：种花"
    assert two is not None and two.text == "第一段：种花\n第二段：装长椅"
    assert two.updated_at == LATER
    assert proposal.text == "第一段：种花\n第二段：装长椅"
    assert proposal.topic_id == tid(topic)
    async with factory() as uow:
        assert await uow.drafts.get(alice) is None


async def test_a_draft_that_grows_too_long_is_refused_and_kept(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    topic = await open_topic(factory, council_id)
    await services.start_draft(factory(), topic_id=tid(topic), user_id=alice, now=NOW)
    await services.add_to_draft(factory(), user_id=alice, text="字" * (MAX_PROPOSAL - 1), now=NOW)

    with unchanged(factory), pytest.raises(errors.TextTooLong):
        await services.add_to_draft(factory(), user_id=alice, text="多了", now=LATER)

    async with factory() as uow:
        draft = await uow.drafts.get(alice)
    assert draft is not None and len(draft.text) == MAX_PROPOSAL - 1


async def test_draft_refusals(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    topic = await open_topic(factory, council_id)
    with unchanged(factory), pytest.raises(errors.NotMember):
        await services.start_draft(factory(), topic_id=tid(topic), user_id=STRANGER, now=NOW)
    with unchanged(factory):
        assert await services.add_to_draft(factory(), user_id=alice, text="无稿", now=NOW) is None
    with unchanged(factory), pytest.raises(errors.NotFound):
        await services.submit_draft(factory(), user_id=alice, now=NOW)

    await services.start_draft(factory(), topic_id=tid(topic), user_id=alice, now=NOW)
    with unchanged(factory), pytest.raises(errors.InvalidInput):
        await services.submit_draft(factory(), user_id=alice, now=NOW)  # still empty


async def test_a_draft_for_a_topic_that_moved_on_is_refused_and_kept(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    topic = await open_topic(factory, council_id)
    await services.start_draft(factory(), topic_id=tid(topic), user_id=alice, now=NOW)
    await services.add_to_draft(factory(), user_id=alice, text="种花", now=NOW)
    await services.put_ballot(
        factory(),
        council_id=topic.council_id,
        topic_id=tid(topic),
        user_id=CHAIR,
        kind=BallotKind.MOTION,
        now=NOW,
    )
    with unchanged(factory), pytest.raises(errors.WrongPhase):
        await services.submit_draft(factory(), user_id=alice, now=LATER)


async def test_discarding_a_draft(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    topic = await open_topic(factory, council_id)
    await services.start_draft(factory(), topic_id=tid(topic), user_id=alice, now=NOW)
    assert await services.discard_draft(factory(), user_id=alice) is True
    assert await services.discard_draft(factory(), user_id=alice) is False
    async with factory() as uow:
        assert await uow.drafts.get(alice) is None


# --- putting a topic to the vote ---------------------------------------------


async def test_a_chair_puts_a_motion(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await council_with_roll(factory, 3, rule="residents-meeting")
    topic = await open_topic(factory, council_id)

    ballot = await services.put_ballot(
        factory(),
        council_id=topic.council_id,
        topic_id=tid(topic),
        user_id=CHAIR,
        kind=BallotKind.MOTION,
        deadline=CLOSING,
        now=NOW,
    )

    assert ballot.id is not None
    assert ballot.kind is BallotKind.MOTION
    assert ballot.question == topic.title
    assert ballot.rule == PRESETS["residents-meeting"]  # the council's default
    assert ballot.options == ()
    assert ballot.valid_choices() == (FOR, AGAINST, ABSTAIN)
    assert ballot.is_open and ballot.deadline == CLOSING and not ballot.secret
    async with factory() as uow:
        stored = await uow.topics.get(tid(topic))
        assert stored is not None and stored.phase is Phase.VOTING
        assert await uow.ballots.open(council_id) == [ballot]
        assert await uow.ballots.for_topic(tid(topic)) == [ballot]
    assert await services.open_ballot_ids(factory()) == [ballot.id]
    assert await services.ballot_ids(factory(), topic_id=tid(topic)) == [ballot.id]


async def test_only_a_chair_puts_a_ballot(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    topic = await open_topic(factory, council_id)
    with unchanged(factory), pytest.raises(errors.NotChair):
        await services.put_ballot(
            factory(),
            council_id=topic.council_id,
            topic_id=tid(topic),
            user_id=alice,
            kind=BallotKind.MOTION,
            now=NOW,
        )


async def test_a_ballot_may_override_the_rule(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id, rule="two-thirds", secret=True)
    assert ballot.rule == PRESETS["two-thirds"]
    assert ballot.secret


async def test_an_unknown_ballot_rule_is_refused(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    topic = await open_topic(factory, council_id)
    with unchanged(factory), pytest.raises(errors.UnknownRule):
        await services.put_ballot(
            factory(),
            council_id=topic.council_id,
            topic_id=tid(topic),
            user_id=CHAIR,
            kind=BallotKind.MOTION,
            rule_name="most-votes",
            now=NOW,
        )


async def test_a_ballot_deadline_in_the_past_is_refused(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    topic = await open_topic(factory, council_id)
    with unchanged(factory), pytest.raises(errors.InvalidInput):
        await services.put_ballot(
            factory(),
            council_id=topic.council_id,
            topic_id=tid(topic),
            user_id=CHAIR,
            kind=BallotKind.MOTION,
            deadline=NOW - timedelta(seconds=1),
            now=NOW,
        )


async def test_a_second_ballot_on_a_voting_topic_is_refused(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)
    with unchanged(factory), pytest.raises(errors.WrongPhase):
        await services.put_ballot(
            factory(),
            council_id=ballot.council_id,
            topic_id=ballot.topic_id,
            user_id=CHAIR,
            kind=BallotKind.MOTION,
            now=NOW,
        )


async def test_a_ballot_on_an_unknown_topic_is_refused(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    with unchanged(factory), pytest.raises(errors.TopicNotFound):
        await services.put_ballot(
            factory(),
            council_id=council_id,
            topic_id=404,
            user_id=CHAIR,
            kind=BallotKind.MOTION,
            now=NOW,
        )


async def proposals(
    factory: FakeUnitOfWorkFactory, topic: Topic, users: list[int]
) -> list[Proposal]:
    texts = ["方案一：种月季", "方案二：健身角", "方案三：儿童沙池", "方案四", "方案五"]
    return [
        await propose(factory, tid(topic), user, text)
        for user, text in zip(users, texts, strict=False)
    ]


async def test_options_are_the_topics_proposals_by_default(factory: FakeUnitOfWorkFactory) -> None:
    council_id, users = await council_with_roll(factory, 3)
    topic = await open_topic(factory, council_id)
    made = await proposals(factory, topic, users)

    ballot = await services.put_ballot(
        factory(),
        council_id=topic.council_id,
        topic_id=tid(topic),
        user_id=CHAIR,
        kind=BallotKind.OPTIONS,
        now=NOW,
    )

    assert [o.proposal_id for o in ballot.options] == [p.id for p in made]
    assert [o.label for o in ballot.options] == [p.text for p in made]
    assert [o.key for o in ballot.options] == [f"p{p.id}" for p in made]
    assert ballot.valid_choices() == (*(f"p{p.id}" for p in made), ABSTAIN)


async def test_options_may_be_a_shortlist_in_the_chairs_order(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, users = await council_with_roll(factory, 3)
    topic = await open_topic(factory, council_id)
    one, _two, three = await proposals(factory, topic, users)

    ballot = await services.put_ballot(
        factory(),
        council_id=topic.council_id,
        topic_id=tid(topic),
        user_id=CHAIR,
        kind=BallotKind.OPTIONS,
        proposal_ids=[pid(three), pid(one), pid(three)],
        now=NOW,
    )

    assert [o.proposal_id for o in ballot.options] == [three.id, one.id]


async def test_too_few_options_are_refused(factory: FakeUnitOfWorkFactory) -> None:
    council_id, users = await council_with_roll(factory, 2)
    topic = await open_topic(factory, council_id)
    with unchanged(factory), pytest.raises(errors.TooFewOptions):
        await services.put_ballot(
            factory(),
            council_id=topic.council_id,
            topic_id=tid(topic),
            user_id=CHAIR,
            kind=BallotKind.OPTIONS,
            now=NOW,
        )
    one, _two = await proposals(factory, topic, users)
    with unchanged(factory), pytest.raises(errors.TooFewOptions) as refused:
        await services.put_ballot(
            factory(),
            council_id=topic.council_id,
            topic_id=tid(topic),
            user_id=CHAIR,
            kind=BallotKind.OPTIONS,
            proposal_ids=[pid(one), pid(one)],
            now=NOW,
        )
    assert refused.value.params["count"] == 1


async def test_unknown_or_foreign_proposal_ids_are_refused(factory: FakeUnitOfWorkFactory) -> None:
    council_id, users = await council_with_roll(factory, 3)
    other = await open_topic(factory, council_id, "活动室使用规则")
    foreign = await propose(factory, tid(other), users[2], "周末开放")
    topic = await open_topic(factory, council_id)
    one, two = await proposals(factory, topic, users[:2])
    for ids in ([pid(one), 404], [pid(one), pid(two), pid(foreign)]):
        with unchanged(factory), pytest.raises(errors.ProposalNotFound) as refused:
            await services.put_ballot(
                factory(),
                council_id=topic.council_id,
                topic_id=tid(topic),
                user_id=CHAIR,
                kind=BallotKind.OPTIONS,
                proposal_ids=ids,
                now=NOW,
            )
        assert refused.value.params["ids"] == ids[-1:]


async def test_too_many_options_are_refused(factory: FakeUnitOfWorkFactory) -> None:
    council_id, users = await council_with_roll(factory, services.MAX_OPTIONS + 1)
    topic = await open_topic(factory, council_id)
    for user in users:
        await propose(factory, tid(topic), user, f"方案{user}")
    with unchanged(factory), pytest.raises(errors.InvalidInput) as refused:
        await services.put_ballot(
            factory(),
            council_id=topic.council_id,
            topic_id=tid(topic),
            user_id=CHAIR,
            kind=BallotKind.OPTIONS,
            now=NOW,
        )
    assert refused.value.params["field"] == "options"


async def test_set_ballot_message(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)
    await services.set_ballot_message(factory(), ballot_id=bid(ballot), message_ref=77)
    async with factory() as uow:
        stored = await uow.ballots.get(bid(ballot))
    assert stored is not None and stored.message_ref == 77
    with pytest.raises(errors.BallotNotFound):
        await services.set_ballot_message(factory(), ballot_id=404, message_ref=1)


# --- votes -------------------------------------------------------------------


async def test_a_member_votes(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 2)
    ballot = await motion(factory, council_id)
    uow = factory()

    receipt = await services.cast_vote(
        uow, ballot_id=bid(ballot), user_id=alice, choice=FOR, now=LATER
    )

    assert receipt.choice == FOR and receipt.previous is None
    assert not receipt.changed and not receipt.repeated
    assert receipt.member.user_id == alice
    assert isinstance(uow, FakeUnitOfWork)
    assert uow.ballot_repo.locks == [(bid(ballot), Lock.SHARE)]
    async with factory() as check:
        assert await check.votes.current(bid(ballot)) == {receipt.member.id: FOR}
        [event] = await check.votes.events(bid(ballot))
    assert (event.choice, event.previous, event.at) == (FOR, None, LATER)
    assert event.seq > 0


async def test_changing_a_vote_keeps_the_audit_trail(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)
    await vote(factory, bid(ballot), alice, FOR)

    changed = await services.cast_vote(
        factory(), ballot_id=bid(ballot), user_id=alice, choice=AGAINST, now=LATER
    )
    await vote(factory, bid(ballot), alice, ABSTAIN)

    assert changed.previous == FOR and changed.changed and not changed.repeated
    async with factory() as uow:
        events = await uow.votes.events(bid(ballot))
        assert await uow.votes.choice_of(bid(ballot), changed.member.id or 0) == ABSTAIN
        assert await uow.votes.last_seq(bid(ballot)) == events[-1].seq
    assert [(e.previous, e.choice) for e in events] == [
        (None, FOR),
        (FOR, AGAINST),
        (AGAINST, ABSTAIN),
    ]
    assert [e.seq for e in events] == sorted({e.seq for e in events})


async def test_the_same_vote_again_is_a_repeat_and_adds_no_event(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)
    await vote(factory, bid(ballot), alice, FOR)

    repeat = await services.cast_vote(
        factory(), ballot_id=bid(ballot), user_id=alice, choice=FOR, now=LATER
    )

    assert repeat.repeated and not repeat.changed and repeat.previous == FOR
    async with factory() as uow:
        assert len(await uow.votes.events(bid(ballot))) == 1


@pytest.mark.parametrize("user", [STRANGER, 101])
async def test_a_vote_from_a_non_member_is_refused(
    factory: FakeUnitOfWorkFactory, user: int
) -> None:
    council = await set_up(factory)
    member = await join(factory, cid(council), 101)
    await join(factory, cid(council), 102)
    await set_status(factory, member, MemberStatus.REMOVED)
    ballot = await motion(factory, cid(council))
    with unchanged(factory), pytest.raises(errors.NotMember):
        await vote(factory, bid(ballot), user, FOR)


async def test_a_vote_from_a_pending_member_is_refused(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory)
    await update_council(factory, cid(council), require_approval=True)
    await join(factory, cid(council), 101)
    ballot = await motion(factory, cid(council))
    with unchanged(factory), pytest.raises(errors.MembershipPending):
        await vote(factory, bid(ballot), 101, FOR)


async def test_a_member_of_another_council_may_not_vote(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    other = await set_up(factory, thread_id=42)
    await join(factory, cid(other), 500)
    ballot = await motion(factory, council_id)
    with unchanged(factory), pytest.raises(errors.NotMember):
        await vote(factory, bid(ballot), 500, FOR)


@pytest.mark.parametrize("choice", ["maybe", "", "FOR", "p1", "for "])
async def test_an_invalid_choice_on_a_motion_is_refused(
    factory: FakeUnitOfWorkFactory, choice: str
) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)
    await vote(factory, bid(ballot), alice, FOR)
    with unchanged(factory), pytest.raises(errors.InvalidChoice):
        await vote(factory, bid(ballot), alice, choice)


async def test_for_is_not_a_choice_on_an_options_ballot(factory: FakeUnitOfWorkFactory) -> None:
    council_id, users = await council_with_roll(factory, 2)
    topic = await open_topic(factory, council_id)
    await proposals(factory, topic, users)
    ballot = await services.put_ballot(
        factory(),
        council_id=topic.council_id,
        topic_id=tid(topic),
        user_id=CHAIR,
        kind=BallotKind.OPTIONS,
        now=NOW,
    )
    with unchanged(factory), pytest.raises(errors.InvalidChoice):
        await vote(factory, bid(ballot), users[0], FOR)
    with unchanged(factory), pytest.raises(errors.InvalidChoice):
        await vote(factory, bid(ballot), users[0], "p404")


async def test_a_button_copied_onto_another_message_is_refused(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)

    async def press(message_ref: int) -> services.VoteReceipt:
        return await services.cast_vote(
            factory(),
            ballot_id=bid(ballot),
            user_id=alice,
            choice=FOR,
            now=LATER,
            message_ref=message_ref,
        )

    await press(999)  # the ballot message is not known yet: accepted
    await services.set_ballot_message(factory(), ballot_id=bid(ballot), message_ref=77)
    with unchanged(factory), pytest.raises(errors.StaleButton):
        await press(78)
    assert (await press(77)).repeated


async def test_a_vote_on_an_unknown_ballot_is_refused(factory: FakeUnitOfWorkFactory) -> None:
    _, (alice, *_) = await council_with_roll(factory, 1)
    with unchanged(factory), pytest.raises(errors.BallotNotFound):
        await vote(factory, 404, alice, FOR)


async def test_a_vote_after_the_ballot_deadline_is_refused(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id, deadline=LATER)
    with unchanged(factory), pytest.raises(errors.BallotClosed):
        await services.cast_vote(
            factory(),
            ballot_id=bid(ballot),
            user_id=alice,
            choice=FOR,
            now=LATER + timedelta(minutes=1),
        )


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2), st.sampled_from([FOR, AGAINST, ABSTAIN])), max_size=12)
)
def test_the_audit_trail_replays_to_the_current_votes(presses: list[tuple[int, str]]) -> None:
    async def scenario() -> None:
        factory = FakeUnitOfWorkFactory()
        council_id, users = await council_with_roll(factory, 3)
        ballot = await motion(factory, council_id)
        expected: dict[int, str] = {}
        changes = 0
        for index, choice in presses:
            receipt = await services.cast_vote(
                factory(), ballot_id=bid(ballot), user_id=users[index], choice=choice, now=LATER
            )
            assert receipt.previous == expected.get(index)
            changes += receipt.previous != choice
            expected[index] = choice
        async with factory() as uow:
            events = await uow.votes.events(bid(ballot))
            current = await uow.votes.current(bid(ballot))
        replayed: dict[int, str] = {}
        for event in events:
            assert event.previous == replayed.get(event.member_id)
            replayed[event.member_id] = event.choice
        assert replayed == current
        assert len(events) == changes
        assert [e.seq for e in events] == sorted({e.seq for e in events})
        view = await services.ballot_view(factory(), ballot_id=bid(ballot))
        heads = view.outcome.tallies[Quantity.HEADCOUNT]
        assert heads.for_ == list(expected.values()).count(FOR)
        assert heads.participants == len(expected)
        assert view.seq == (events[-1].seq if events else 0)

    asyncio.run(scenario())


# --- closing -----------------------------------------------------------------


async def test_the_pocket_garden_passes_by_residents_meeting(
    factory: FakeUnitOfWorkFactory,
) -> None:
    """杨家园社区: 9 on the roll, 7 take part, 5 for, 1 against, 1 abstains."""
    council_id, users = await council_with_roll(factory, 9, rule="residents-meeting")
    ballot = await motion(factory, council_id)
    choices = [FOR, FOR, FOR, FOR, FOR, AGAINST, ABSTAIN]
    await votes(factory, bid(ballot), dict(zip(users, choices, strict=False)))
    uow = factory()

    closed = await services.close_ballot(
        uow, council_id=ballot.council_id, ballot_id=bid(ballot), user_id=CHAIR, now=CLOSING
    )

    outcome = closed.outcome
    assert outcome.result is Result.PASSED and outcome.quorum_met
    heads = outcome.tallies[Quantity.HEADCOUNT]
    assert (heads.roll, heads.participants, heads.for_, heads.against, heads.abstain) == tuple(
        map(Fraction, (9, 7, 5, 1, 1))
    )
    assert [c.met for c in outcome.quorum_checks] == [True]
    assert outcome.pass_checks[0].value / outcome.pass_checks[0].base == Fraction(5, 7)
    assert closed.ballot.closed_at == CLOSING and not closed.ballot.is_open
    assert closed.topic.phase is Phase.DECIDED
    assert closed.topic.result is Result.PASSED and closed.topic.decided_at == CLOSING
    assert closed.resolution.id is not None
    assert closed.resolution.result is Result.PASSED
    assert closed.resolution.summary == ballot.question
    assert closed.resolution.winner is None
    assert closed.resolution.recorded_at == CLOSING
    assert isinstance(uow, FakeUnitOfWork)
    assert uow.ballot_repo.locks[0] == (bid(ballot), Lock.UPDATE)
    async with factory() as check:
        assert await check.resolutions.for_topic(ballot.topic_id) == [closed.resolution]
        stored_topic = await check.topics.get(ballot.topic_id)
        stored_ballot = await check.ballots.get(bid(ballot))
        assert await check.topics.active(council_id) == []
        assert await check.ballots.open(council_id) == []
    assert stored_topic is not None and stored_topic.phase is Phase.DECIDED
    assert stored_topic.result is Result.PASSED
    assert stored_ballot is not None and stored_ballot.outcome == outcome


async def test_abstaining_counts_as_not_for_in_a_residents_meeting(
    factory: FakeUnitOfWorkFactory,
) -> None:
    """6 of 9 take part: 3 for, 2 against, 1 abstains. 3 of 5 cast, but not over half of 6."""
    choices = [FOR, FOR, FOR, AGAINST, AGAINST, ABSTAIN]
    results = {}
    for rule in ("simple", "residents-meeting"):
        factory = FakeUnitOfWorkFactory()
        council_id, users = await council_with_roll(factory, 9, rule=rule)
        ballot = await motion(factory, council_id)
        await votes(factory, bid(ballot), dict(zip(users, choices, strict=False)))
        results[rule] = (await close(factory, bid(ballot))).outcome.result
    assert results == {"simple": Result.PASSED, "residents-meeting": Result.REJECTED}


async def test_no_quorum_when_half_the_roll_or_less_takes_part(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, users = await council_with_roll(factory, 10, rule="residents-meeting")
    ballot = await motion(factory, council_id)
    await votes(factory, bid(ballot), dict.fromkeys(users[:5], FOR))

    closed = await close(factory, bid(ballot))

    assert closed.outcome.result is Result.NO_QUORUM and not closed.outcome.quorum_met
    assert closed.topic.result is Result.NO_QUORUM
    assert closed.resolution.result is Result.NO_QUORUM


async def test_a_tie_is_reported_as_tied(factory: FakeUnitOfWorkFactory) -> None:
    council_id, users = await council_with_roll(factory, 5)
    ballot = await motion(factory, council_id)
    await votes(
        factory, bid(ballot), dict(zip(users, [FOR, FOR, AGAINST, AGAINST, ABSTAIN], strict=True))
    )

    closed = await close(factory, bid(ballot))

    assert closed.outcome.result is Result.TIED
    assert closed.topic.result is Result.TIED
    assert closed.resolution.result is Result.TIED


async def test_two_thirds_is_exact_six_of_nine(factory: FakeUnitOfWorkFactory) -> None:
    council_id, users = await council_with_roll(factory, 9)
    ballot = await motion(factory, council_id, rule="two-thirds")
    await votes(factory, bid(ballot), dict(zip(users, [FOR] * 6 + [AGAINST] * 3, strict=True)))
    assert (await close(factory, bid(ballot))).outcome.result is Result.PASSED


async def test_owners_rules_weigh_floor_area(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory, rule="owners-ordinary")
    areas = {101: "120", 102: "60", 103: "60"}
    for user, area in areas.items():
        member = await join(factory, cid(council), user, area=area)
        assert member.id is not None and [f.verified for f in member.flats] == [False]
        await services.verify_flat(
            factory(),
            council_id=cid(council),
            user_id=CHAIR,
            member_id=member.id,
            household=member.household,
        )
    ballot = await motion(factory, cid(council))
    # Everyone takes part; 2 of 3 members vote for but they hold only 120 of 240 m².
    await votes(factory, bid(ballot), {101: AGAINST, 102: FOR, 103: FOR})

    closed = await close(factory, bid(ballot))

    assert closed.outcome.tallies[Quantity.AREA].for_ == 120
    assert closed.outcome.result is Result.TIED


async def test_a_self_declared_area_counts_only_once_staff_verify_it(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council = await set_up(factory, rule="owners-ordinary")
    honest = await join(factory, cid(council), 101, address="3-2-301", area="90")
    await join(factory, cid(council), 102, address="3-2-302", area="20000")  # not verified
    assert honest.id is not None
    with pytest.raises(errors.NotStaff):
        await services.verify_flat(
            factory(),
            council_id=cid(council),
            user_id=102,
            member_id=honest.id,
            household="3-2-301",
        )
    await services.verify_flat(
        factory(),
        council_id=cid(council),
        user_id=CHAIR,
        member_id=honest.id,
        household="3-2-301",
        area=services.parse_area("90.5"),
    )
    ballot = await motion(factory, cid(council))
    await votes(factory, bid(ballot), {101: FOR})

    outcome = (await close(factory, bid(ballot))).outcome

    assert outcome.tallies[Quantity.AREA].roll == Fraction(905, 10)
    assert outcome.tallies[Quantity.OWNERS].roll == 1
    assert outcome.result is Result.PASSED


async def test_the_options_ballot_adopts_the_leading_proposal(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, users = await council_with_roll(factory, 5)
    topic = await open_topic(factory, council_id)
    one, two, _three = await proposals(factory, topic, users[:3])
    ballot = await services.put_ballot(
        factory(),
        council_id=topic.council_id,
        topic_id=tid(topic),
        user_id=CHAIR,
        kind=BallotKind.OPTIONS,
        now=NOW,
    )
    key_one, key_two = f"p{one.id}", f"p{two.id}"
    await votes(
        factory,
        bid(ballot),
        dict(zip(users, [key_one, key_one, key_one, key_two, ABSTAIN], strict=True)),
    )

    closed = await close(factory, bid(ballot))

    assert closed.outcome.result is Result.PASSED
    assert closed.outcome.winner == key_one
    assert closed.resolution.winner == key_one
    assert closed.resolution.summary == one.text
    assert closed.outcome.option_totals[key_one][Quantity.HEADCOUNT] == 3


async def test_an_options_ballot_with_a_shared_top_is_tied(factory: FakeUnitOfWorkFactory) -> None:
    council_id, users = await council_with_roll(factory, 4)
    topic = await open_topic(factory, council_id)
    one, two = await proposals(factory, topic, users[:2])
    ballot = await services.put_ballot(
        factory(),
        council_id=topic.council_id,
        topic_id=tid(topic),
        user_id=CHAIR,
        kind=BallotKind.OPTIONS,
        now=NOW,
    )
    await votes(
        factory,
        bid(ballot),
        dict(zip(users, [f"p{one.id}", f"p{one.id}", f"p{two.id}", f"p{two.id}"], strict=True)),
    )

    closed = await close(factory, bid(ballot))

    assert closed.outcome.result is Result.TIED and closed.outcome.winner is None
    assert closed.resolution.summary == ballot.question


async def test_only_a_chair_closes_a_ballot(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)
    with unchanged(factory), pytest.raises(errors.NotChair):
        await services.close_ballot(
            factory(),
            council_id=ballot.council_id,
            ballot_id=bid(ballot),
            user_id=alice,
            now=CLOSING,
        )


async def test_the_deadline_closes_a_ballot_without_a_user(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id, deadline=CLOSING)
    await vote(factory, bid(ballot), alice, FOR)

    closed = await services.close_ballot(
        factory(), council_id=ballot.council_id, ballot_id=bid(ballot), user_id=None, now=CLOSING
    )

    assert closed.outcome.result is Result.PASSED
    assert closed.ballot.closed_at == CLOSING


async def test_a_bare_close_counts_the_votes_of_the_newest_open_ballot(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, users = await council_with_roll(factory, 3)
    ballot = await motion(factory, council_id)
    await votes(factory, bid(ballot), dict.fromkeys(users, FOR))

    closed = await services.close_ballot(
        factory(), council_id=council_id, user_id=CHAIR, now=CLOSING
    )

    assert closed.ballot.id == ballot.id
    assert closed.outcome.tallies[Quantity.HEADCOUNT].for_ == 3
    assert closed.outcome.result is Result.PASSED


async def test_a_bare_close_closes_the_newest_open_ballot(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    older = await motion(factory, council_id)
    newer = await motion(factory, council_id)

    closed = await services.close_ballot(
        factory(), council_id=council_id, user_id=CHAIR, now=CLOSING
    )

    assert closed.ballot.id == newer.id
    assert await services.open_ballot_ids(factory()) == [older.id]


async def test_a_bare_close_without_an_open_ballot_is_refused(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    with unchanged(factory), pytest.raises(errors.BallotNotFound):
        await services.close_ballot(factory(), council_id=council_id, user_id=CHAIR, now=CLOSING)


async def test_a_ballot_of_another_council_is_not_closed(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    other = await set_up(factory, thread_id=42)
    ballot = await motion(factory, council_id)
    with unchanged(factory), pytest.raises(errors.BallotNotFound):
        await services.close_ballot(
            factory(), council_id=cid(other), ballot_id=bid(ballot), user_id=CHAIR, now=CLOSING
        )


async def test_closing_twice_and_voting_after_close_are_refused(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, (alice, bob) = await council_with_roll(factory, 2)
    ballot = await motion(factory, council_id)
    await vote(factory, bid(ballot), alice, FOR)
    await close(factory, bid(ballot))

    with unchanged(factory), pytest.raises(errors.BallotClosed):
        await close(factory, bid(ballot))
    with unchanged(factory), pytest.raises(errors.BallotClosed):
        await services.close_ballot(
            factory(),
            council_id=ballot.council_id,
            ballot_id=bid(ballot),
            user_id=None,
            now=CLOSING,
        )
    for user, choice in ((bob, FOR), (alice, AGAINST), (alice, FOR)):
        with unchanged(factory), pytest.raises(errors.BallotClosed):
            await vote(factory, bid(ballot), user, choice)


async def test_closing_an_unknown_ballot_is_refused(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    with unchanged(factory), pytest.raises(errors.BallotNotFound):
        await services.close_ballot(
            factory(), council_id=council_id, ballot_id=404, user_id=CHAIR, now=CLOSING
        )


async def test_a_vote_of_a_member_removed_before_the_close_is_not_counted(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council = await set_up(factory)
    alice = await join(factory, cid(council), 101)
    await join(factory, cid(council), 102)
    ballot = await motion(factory, cid(council))
    await votes(factory, bid(ballot), {101: FOR, 102: AGAINST})
    await set_status(factory, alice, MemberStatus.REMOVED)

    closed = await close(factory, bid(ballot))

    assert closed.outcome.result is Result.REJECTED
    assert closed.outcome.invalid_votes == (str(alice.id),)


# --- cancelling --------------------------------------------------------------


async def test_a_chair_cancels_a_collecting_topic(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    topic = await open_topic(factory, council_id)

    cancelled = await services.cancel_topic(
        factory(), council_id=topic.council_id, topic_id=tid(topic), user_id=CHAIR, now=LATER
    )

    assert cancelled.phase is Phase.CANCELLED and cancelled.decided_at == LATER
    assert cancelled.result is None
    with unchanged(factory), pytest.raises(errors.WrongPhase):
        await propose(factory, tid(topic), alice, "还有意见")


async def test_cancelling_a_voting_topic_closes_its_ballot(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)

    await services.cancel_topic(
        factory(), council_id=ballot.council_id, topic_id=ballot.topic_id, user_id=CHAIR, now=LATER
    )

    async with factory() as uow:
        stored = await uow.ballots.get(bid(ballot))
        assert await uow.ballots.open(council_id) == []
        assert await uow.resolutions.for_topic(ballot.topic_id) == []
    assert stored is not None and stored.closed_at == LATER and stored.outcome is None
    with unchanged(factory), pytest.raises(errors.BallotClosed):
        await vote(factory, bid(ballot), alice, FOR)
    with unchanged(factory), pytest.raises(errors.BallotClosed):
        await close(factory, bid(ballot))


async def test_cancel_refusals(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)
    with unchanged(factory), pytest.raises(errors.NotChair):
        await services.cancel_topic(
            factory(),
            council_id=ballot.council_id,
            topic_id=ballot.topic_id,
            user_id=alice,
            now=LATER,
        )
    with unchanged(factory), pytest.raises(errors.TopicNotFound):
        await services.cancel_topic(
            factory(), council_id=council_id, topic_id=404, user_id=CHAIR, now=LATER
        )
    await close(factory, bid(ballot))
    with unchanged(factory), pytest.raises(errors.WrongPhase):
        await services.cancel_topic(
            factory(),
            council_id=ballot.council_id,
            topic_id=ballot.topic_id,
            user_id=CHAIR,
            now=LATER,
        )


# --- what the ballot message shows -------------------------------------------


async def test_an_open_ballot_shows_names_by_choice(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory, rule="residents-meeting")
    for user, name in ((101, "王阿姨"), (102, "李师傅"), (103, "张大爷"), (104, "赵姐")):
        await join(factory, cid(council), user, name=name)
    ballot = await motion(factory, cid(council))
    await votes(factory, bid(ballot), {103: FOR, 101: FOR, 102: AGAINST})

    view = await services.ballot_view(factory(), ballot_id=bid(ballot))

    assert view.voters == {
        FOR: Voters(("王阿姨", "张大爷"), 2),
        AGAINST: Voters(("李师傅",), 1),
    }
    assert view.roll_size == 4
    assert view.topic.id == ballot.topic_id
    assert view.outcome.result is Result.PASSED  # provisional: 3 of 4 took part, 2 of 3 for
    assert view.outcome.tallies[Quantity.HEADCOUNT].participants == 3
    async with factory() as uow:
        assert view.seq == await uow.votes.last_seq(bid(ballot))
    assert view.seq > 0


async def test_a_secret_ballot_shows_counts_but_no_names(factory: FakeUnitOfWorkFactory) -> None:
    council_id, users = await council_with_roll(factory, 3)
    ballot = await motion(factory, council_id, secret=True)
    await votes(factory, bid(ballot), dict(zip(users, [FOR, AGAINST, FOR], strict=True)))

    view = await services.ballot_view(factory(), ballot_id=bid(ballot))

    assert view.voters == {}
    assert view.outcome.tallies[Quantity.HEADCOUNT].for_ == 2
    assert view.outcome.result is Result.PASSED


async def test_the_view_of_a_fresh_ballot(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await council_with_roll(factory, 3, rule="residents-meeting")
    ballot = await motion(factory, council_id)
    with unchanged(factory):
        view = await services.ballot_view(factory(), ballot_id=bid(ballot))
    assert view.seq == 0 and view.voters == {}
    assert view.outcome.result is Result.NO_QUORUM
    with pytest.raises(errors.BallotNotFound):
        await services.ballot_view(factory(), ballot_id=404)


async def test_the_seq_follows_each_change(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, bob) = await council_with_roll(factory, 2)
    ballot = await motion(factory, council_id)
    seqs = []
    for user, choice in ((alice, FOR), (bob, FOR), (alice, FOR), (alice, AGAINST)):
        await vote(factory, bid(ballot), user, choice)
        seqs.append((await services.ballot_view(factory(), ballot_id=bid(ballot))).seq)
    assert seqs[0] < seqs[1] == seqs[2] < seqs[3]


async def test_a_closed_ballot_shows_its_recorded_outcome(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, _bob) = await council_with_roll(factory, 2)
    ballot = await motion(factory, council_id)
    await vote(factory, bid(ballot), alice, FOR)
    closed = await close(factory, bid(ballot))
    await join(factory, council_id, 103)  # joins after the close

    view = await services.ballot_view(factory(), ballot_id=bid(ballot))

    assert view.outcome == closed.outcome
    assert not view.ballot.is_open


async def test_mark_rendered_never_lowers(factory: FakeUnitOfWorkFactory) -> None:
    council_id, _ = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)
    await services.mark_rendered(factory(), ballot_id=bid(ballot), seq=5)
    await services.mark_rendered(factory(), ballot_id=bid(ballot), seq=3)
    async with factory() as uow:
        stored = await uow.ballots.get(bid(ballot))
    assert stored is not None and stored.rendered_seq == 5


async def test_latest_result_is_the_newest_ballot(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    with pytest.raises(errors.BallotNotFound):
        await services.latest_result(factory(), council_id=council_id)
    first = await motion(factory, council_id)
    await vote(factory, bid(first), alice, AGAINST)
    await close(factory, bid(first))
    second = await motion(factory, council_id)
    await vote(factory, bid(second), alice, FOR)

    view = await services.latest_result(factory(), council_id=council_id)

    assert view.ballot.id == second.id
    assert view.outcome.result is Result.PASSED
    assert await services.open_ballot_ids(factory()) == [second.id]
    await close(factory, bid(second))
    assert await services.open_ballot_ids(factory()) == []
    view = await services.latest_result(factory(), council_id=council_id)
    assert view.ballot.id == second.id and not view.ballot.is_open


# --- exactly once ------------------------------------------------------------


async def test_a_redelivered_update_takes_effect_once(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)

    first = await services.cast_vote(
        keyed(factory, "tg:update:7"),
        ballot_id=bid(ballot),
        user_id=alice,
        choice=FOR,
        now=LATER,
    )
    assert first.previous is None
    with unchanged(factory), pytest.raises(errors.Redelivered):
        await services.cast_vote(
            keyed(factory, "tg:update:7"),
            ballot_id=bid(ballot),
            user_id=alice,
            choice=AGAINST,
            now=LATER,
        )
    async with factory() as uow:
        assert len(await uow.votes.events(bid(ballot))) == 1
        assert set((await uow.votes.current(bid(ballot))).values()) == {FOR}


async def test_different_updates_each_take_effect(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)
    for n, choice in enumerate((FOR, AGAINST)):
        await services.cast_vote(
            keyed(factory, f"tg:update:{n}"),
            ballot_id=bid(ballot),
            user_id=alice,
            choice=choice,
            now=LATER,
        )
    async with factory() as uow:
        assert len(await uow.votes.events(bid(ballot))) == 2


async def test_a_refused_update_is_not_claimed(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    ballot = await motion(factory, council_id)
    with unchanged(factory), pytest.raises(errors.InvalidChoice):
        await services.cast_vote(
            keyed(factory, "tg:update:9"),
            ballot_id=bid(ballot),
            user_id=alice,
            choice="maybe",
            now=LATER,
        )
    # Its redelivery is refused for the same reason, not reported as a duplicate.
    with unchanged(factory), pytest.raises(errors.InvalidChoice):
        await services.cast_vote(
            keyed(factory, "tg:update:9"),
            ballot_id=bid(ballot),
            user_id=alice,
            choice="maybe",
            now=LATER,
        )


async def test_a_redelivered_proposal_is_recorded_once(factory: FakeUnitOfWorkFactory) -> None:
    council_id, (alice, *_) = await council_with_roll(factory, 1)
    topic = await open_topic(factory, council_id)
    for attempt in range(2):
        try:
            await services.submit_proposal(
                keyed(factory, "tg:update:11"),
                council_id=council_id,
                topic_id=tid(topic),
                user_id=alice,
                text="种月季",
                now=NOW,
            )
        except errors.Redelivered:
            assert attempt == 1
    async with factory() as uow:
        assert len(await uow.proposals.for_topic(tid(topic))) == 1


# --- the fakes themselves ----------------------------------------------------


async def test_the_fake_discards_what_was_not_committed(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory)
    async with factory() as uow:
        stored = await uow.councils.get(cid(council))
        assert stored is not None
        stored.title = "改名"
        await uow.councils.update(stored)
        await uow.topics.add(
            Topic(council_id=cid(council), title="t", description="", opened_by=1, opened_at=NOW)
        )
    async with factory() as uow:
        again = await uow.councils.get(cid(council))
        assert again is not None and again.title == council.title
        assert await uow.topics.active(cid(council)) == []


async def test_the_fake_hands_out_copies(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory)
    async with factory() as uow:
        stored = await uow.councils.get(cid(council))
        assert stored is not None
        stored.chairs.add(12345)
        stored.title = "不保存"
        assert await uow.councils.get(cid(council)) == council
        await uow.commit()
    council.chairs.add(777)  # the caller's object is not the stored one either
    async with factory() as uow:
        assert (await uow.councils.get(cid(council))) != council


async def test_the_fake_rolls_back_on_request(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory)
    uow = factory()
    async with uow:
        await join(factory, cid(council), 101)  # another transaction commits meanwhile
        await uow.updates.claim("k")
        await uow.rollback()
        assert await uow.updates.claim("k") is True
        assert await uow.members.by_user(cid(council), 101) is not None
    assert uow.committed == 0 and uow.rolled_back == 1
