"""The repository contract of deliberation, on the fakes, SQLite and PostgreSQL.

Councils, members, topics, proposals and their seconds, ballots, votes and their audit
trail, resolutions, drafts and the update log; and what every unit of work promises:
uncommitted work is lost, times come back aware in UTC, an ``update`` without an id is
refused and one of an unknown id changes nothing. See ``tests/storage/conftest.py``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from domain import errors, services
from domain.model import (
    Account,
    BallotKind,
    Council,
    Draft,
    Member,
    MemberStatus,
    Phase,
    Proposal,
    Resolution,
    Topic,
    Vote,
)
from domain.ports import Lock, UnitOfWorkFactory
from domain.rules import Result, decide, preset
from domain.task_rules import MemberUnit, Team
from tests.storage.helpers import (
    T0,
    add_meetings,
    add_tasks,
    at,
    make_ballot,
    make_council,
    make_members,
    make_task,
    make_topic,
    meeting,
    notice,
    offer,
)

# --- councils -------------------------------------------------------------------


async def test_council_round_trip(uows: UnitOfWorkFactory) -> None:
    council = Council(
        chat_id=-1_001_234_567_890,
        thread_id=42,
        title="梧桐里业主议事会",
        rule=preset("two-thirds"),
        timezone="Asia/Shanghai",
        language="zh",
        created_at=datetime(2025, 3, 1, 17, 30, tzinfo=timezone(timedelta(hours=8))),
        require_approval=True,
        chairs={1, 2_000_000_000_123},
    )
    async with uows() as uow:
        added = await uow.councils.add(council)
        await uow.commit()
    assert added.id is not None
    async with uows() as uow:
        loaded = await uow.councils.get(added.id)
        by_chat = await uow.councils.by_chat(-1_001_234_567_890, 42)
        assert await uow.councils.by_chat(-1_001_234_567_890, 0) is None
        assert await uow.councils.get(added.id + 1000) is None
    assert loaded == council
    assert by_chat == council
    assert loaded is not None and loaded is not council
    assert loaded.created_at.tzinfo is UTC
    assert loaded.created_at == datetime(2025, 3, 1, 9, 30, tzinfo=UTC)

    loaded.chairs = {3}
    loaded.rule = preset("simple")
    loaded.title = "新名字"
    async with uows() as uow:
        await uow.councils.update(loaded)
        await uow.commit()
    async with uows() as uow:
        again = await uow.councils.get(added.id)
    assert again == loaded
    assert again is not None and (again.chairs, again.title) == ({3}, "新名字")


async def test_councils_in_a_chat(uows: UnitOfWorkFactory) -> None:
    forum = -1_001_234_567_890
    general = await make_council(uows, chat_id=forum, thread_id=0)
    elsewhere = await make_council(uows, chat_id=-1_009_999_999_999)
    thread = await make_council(uows, chat_id=forum, thread_id=77)
    async with uows() as uow:
        found = await uow.councils.in_chat(forum)
        assert await uow.councils.in_chat(-1) == []
        other = await uow.councils.in_chat(-1_009_999_999_999)
    assert [(c.id, c.thread_id) for c in found] == [(general, 0), (thread, 77)]
    assert [c.id for c in other] == [elsewhere]
    assert found[0].chairs == {7_000_000_001}  # whole councils, chairs and all


async def test_forget_messages(uows: UnitOfWorkFactory) -> None:
    """A chat that got a new id: its message ids mean nothing any more, another
    council's keep theirs."""
    here = await make_council(uows, chat_id=-100_1)
    there = await make_council(uows, chat_id=-100_2)
    (alice,) = await make_members(uows, here, 1)
    (bob,) = await make_members(uows, there, 1, first_user=50)
    refs: dict[int, dict[str, int]] = {}
    for council_id, author in ((here, alice), (there, bob)):
        topic_id = await make_topic(uows, council_id)
        ballot_id = await make_ballot(uows, council_id, topic_id)
        (meeting_id,) = await add_meetings(uows, meeting(council_id, at(100)))
        (task_id,) = await add_tasks(uows, make_task(council_id))
        async with uows() as uow:
            proposal = await uow.proposals.add(
                Proposal(topic_id, author, "修长椅", at(3), source_ref=41, message_ref=42)
            )
            assert proposal.id is not None
            topic = await uow.topics.get(topic_id)
            ballot = await uow.ballots.get(ballot_id)
            met = await uow.meetings.get(meeting_id)
            task = await uow.tasks.get(task_id)
            assert topic and ballot and met and task
            topic.card_ref, ballot.message_ref, met.message_ref, task.card_ref = 1, 2, 3, 4
            await uow.topics.update(topic)
            await uow.ballots.update(ballot)
            await uow.meetings.update(met)
            await uow.tasks.update(task)
            await uow.commit()
        refs[council_id] = {
            "topic": topic_id,
            "ballot": ballot_id,
            "meeting": meeting_id,
            "task": task_id,
            "proposal": proposal.id,
        }

    async with uows() as uow:
        await uow.councils.forget_messages(here)
        await uow.commit()

    async with uows() as uow:
        for council_id, kept in ((here, False), (there, True)):
            ids = refs[council_id]
            topic = await uow.topics.get(ids["topic"])
            ballot = await uow.ballots.get(ids["ballot"])
            met = await uow.meetings.get(ids["meeting"])
            task = await uow.tasks.get(ids["task"])
            loaded = await uow.proposals.get(ids["proposal"])
            assert topic and ballot and met and task and loaded
            found = (
                topic.card_ref,
                ballot.message_ref,
                met.message_ref,
                task.card_ref,
                loaded.source_ref,
                loaded.message_ref,
            )
            assert found == ((1, 2, 3, 4, 41, 42) if kept else (None,) * 6)
            # Nothing else about them changed.
            assert (topic.title, loaded.text, met.starts_at) == ("加装电梯", "修长椅", at(100))
        assert await uow.proposals.by_source(here, 41) is None
        theirs = await uow.proposals.by_source(there, 41)
    assert theirs is not None and theirs.id == refs[there]["proposal"]


# --- members --------------------------------------------------------------------


async def test_member_round_trip_and_roll(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    member = Member(
        council_id=council_id,
        user_id=9_876_543_210,
        name="王阿姨",
        building="3",
        unit="2",
        room="501",
        joined_at=T0,
        area=Decimal("123.45"),
        status=MemberStatus.PENDING,
        language="en",
    )
    unbound = [
        Member(council_id, None, f"未绑定{i}", "4", "1", f"10{i}", T0, area=Decimal("60"))
        for i in range(3)
    ]
    async with uows() as uow:
        added = await uow.members.add(member)
        for m in unbound:  # several roster rows without an account: no conflict
            await uow.members.add(m)
        await uow.commit()
    assert added.id is not None
    async with uows() as uow:
        loaded = await uow.members.get(added.id)
        assert await uow.members.get(added.id + 1000) is None
        assert await uow.members.by_user(council_id, 9_876_543_210) == member
        assert await uow.members.by_user(council_id, 1) is None
        assert await uow.members.by_user(council_id + 1000, 9_876_543_210) is None
        active = await uow.members.list(council_id)
        everyone = await uow.members.list(council_id, list(MemberStatus))
        pending = await uow.members.list(council_id, [MemberStatus.PENDING])
    assert loaded == member
    assert loaded is not None
    assert loaded.household == "3-2-501"
    assert loaded.area == Decimal("123.45")
    assert isinstance(loaded.area, Decimal)
    assert active == unbound
    assert [m.id for m in everyone] == [added.id, *(m.id for m in unbound)]  # by id
    assert pending == [member]
    # An amount comes back with the two decimals of its column.
    assert [str(m.area) for m in active] == ["60.00"] * 3

    loaded.status = MemberStatus.ACTIVE
    loaded.area = Decimal("99.99")
    async with uows() as uow:
        await uow.members.update(loaded)
        await uow.commit()
    async with uows() as uow:
        assert await uow.members.get(added.id) == loaded
        assert len(await uow.members.list(council_id)) == 4


async def test_member_add_twice_raises_already_member(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other_council = await make_council(uows, chat_id=5)
    await make_members(uows, council_id, 1, first_user=77)
    async with uows() as uow:
        with pytest.raises(errors.AlreadyMember) as refused:
            await uow.members.add(Member(council_id, 77, "again", "1", "1", "1", T0))
        assert refused.value.params == {"name": "again"}
        # The transaction is still usable, and the same account may join another council.
        await uow.members.add(Member(other_council, 77, "elsewhere", "1", "1", "1", T0))
        await uow.commit()
    async with uows() as uow:
        assert [m.name for m in await uow.members.list(council_id)] == ["居民0"]
        assert [m.name for m in await uow.members.list(other_council)] == ["elsewhere"]
        # A removed member still holds the account's place on the roll.
        (first,) = await uow.members.list(council_id)
        first.status = MemberStatus.REMOVED
        await uow.members.update(first)
        with pytest.raises(errors.AlreadyMember):
            await uow.members.add(Member(council_id, 77, "back", "1", "1", "1", T0))


# --- member accounts ------------------------------------------------------------

TELEGRAM_ID = 9_100_000_001


async def _member_with_wecom(uows: UnitOfWorkFactory, council_id: int) -> int:
    member = Member(council_id, TELEGRAM_ID, "周阿姨", "2", "1", "201", T0)
    async with uows() as uow:
        added = await uow.members.add(member)
        assert added.id is not None
        assert await uow.members.link_account(added.id, Account("wecom", "zhou.ayi"))
        await uow.commit()
    return added.id


async def test_member_with_a_telegram_and_a_wecom_account(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other_council = await make_council(uows, chat_id=5)
    member_id = await _member_with_wecom(uows, council_id)
    telegram, wecom = Account.telegram(TELEGRAM_ID), Account("wecom", "zhou.ayi")
    async with uows() as uow:
        loaded = await uow.members.get(member_id)
        by_telegram = await uow.members.by_account(council_id, telegram)
        by_wecom = await uow.members.by_account(council_id, wecom)
        by_user = await uow.members.by_user(council_id, TELEGRAM_ID)
        listed = await uow.members.list(council_id)
        by_ids = await uow.members.by_ids([member_id])
        by_users = await uow.members.by_users(council_id, [TELEGRAM_ID])
        assert await uow.members.by_account(other_council, wecom) is None
        assert await uow.members.by_account(council_id, Account("wecom", "other")) is None
    assert loaded is not None
    assert loaded.accounts == (telegram, wecom)
    assert loaded.account("wecom") == wecom and loaded.account("web") is None
    assert loaded.user_id == TELEGRAM_ID  # the Telegram front end still knows it so
    assert by_telegram == by_wecom == by_user == loaded
    assert listed == [loaded] and by_ids == {member_id: loaded}
    assert by_users == {TELEGRAM_ID: loaded}


async def test_joining_writes_the_telegram_account_with_the_member(
    uows: UnitOfWorkFactory,
) -> None:
    """As the Telegram /join does: the member and its account in one transaction."""
    council_id = await make_council(uows)
    joined = await services.join(
        uows(),
        council_id=council_id,
        user_id=TELEGRAM_ID,
        name="周阿姨",
        address=services.parse_address("2-1-201"),
        area=None,
        language=None,
        now=T0,
    )
    async with uows() as uow:
        found = await uow.members.by_account(council_id, Account.telegram(TELEGRAM_ID))
    assert found is not None and found == joined
    assert found.accounts == (Account("telegram", str(TELEGRAM_ID)),)


async def test_same_id_on_another_messenger_is_another_account(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    (first,) = await make_members(uows, council_id, 1, first_user=8_002)
    (second,) = await make_members(uows, council_id, 1, first_user=8_003)
    async with uows() as uow:
        # "8002" on the web is not Telegram's 8002: another member may have it.
        assert await uow.members.link_account(second, Account("web", "8002"))
        await uow.commit()
    async with uows() as uow:
        on_telegram = await uow.members.by_account(council_id, Account("telegram", "8002"))
        on_web = await uow.members.by_account(council_id, Account("web", "8002"))
    assert on_telegram is not None and on_telegram.id == first
    assert on_web is not None and on_web.id == second
    assert on_web.accounts == (Account("telegram", "8003"), Account("web", "8002"))


async def test_linking_an_account_taken_by_another_member_is_refused(
    uows: UnitOfWorkFactory,
) -> None:
    council_id = await make_council(uows)
    other_council = await make_council(uows, chat_id=5)
    owner = await _member_with_wecom(uows, council_id)
    (other,) = await make_members(uows, council_id, 1, first_user=8_100)
    (elsewhere,) = await make_members(uows, other_council, 1, first_user=8_100)
    async with uows() as uow:
        for account in (Account("wecom", "zhou.ayi"), Account.telegram(TELEGRAM_ID)):
            with pytest.raises(errors.AccountTaken) as refused:
                await uow.members.link_account(other, account)
            assert refused.value.params == {"messenger": account.messenger, "account": account.id}
    async with uows() as uow:
        # Linking again what the member has changes nothing; another council may have it.
        assert not await uow.members.link_account(owner, Account("wecom", "zhou.ayi"))
        assert await uow.members.link_account(elsewhere, Account("wecom", "zhou.ayi"))
        # A new account on a messenger takes the place of the old one.
        assert await uow.members.link_account(other, Account("wecom", "new.one"))
        assert await uow.members.link_account(other, Account("wecom", "newer.one"))
        await uow.commit()
    async with uows() as uow:
        unchanged = await uow.members.get(other)
        owner_now = await uow.members.get(owner)
        with pytest.raises(errors.NotFound):
            await uow.members.link_account(owner + 1000, Account("wecom", "x"))
    assert unchanged is not None and unchanged.user_id == 8_100
    assert unchanged.accounts == (Account.telegram(8_100), Account("wecom", "newer.one"))
    assert owner_now is not None
    assert owner_now.accounts == (Account.telegram(TELEGRAM_ID), Account("wecom", "zhou.ayi"))


async def test_a_member_added_with_a_taken_account_is_refused(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    await _member_with_wecom(uows, council_id)
    taken = Member(
        council_id, None, "冒名", "1", "1", "1", T0, accounts=(Account("wecom", "zhou.ayi"),)
    )
    async with uows() as uow:
        with pytest.raises(errors.AccountTaken):
            await uow.members.add(taken)
    async with uows() as uow:
        assert len(await uow.members.list(council_id)) == 1


async def test_accounts_survive_a_member_update(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    member_id = await _member_with_wecom(uows, council_id)
    async with uows() as uow:
        member = await uow.members.get(member_id)
        assert member is not None
        member.name = "周老师"
        member.status = MemberStatus.REMOVED
        await uow.members.update(member)
        await uow.commit()
    async with uows() as uow:
        loaded = await uow.members.get(member_id)
        assert loaded is not None and loaded.name == "周老师"
        assert loaded.accounts == (Account.telegram(TELEGRAM_ID), Account("wecom", "zhou.ayi"))
        # As a removed member joining again writes it: built afresh, its accounts unknown.
        again = Member(council_id, TELEGRAM_ID, "周阿姨", "2", "1", "201", T0, id=member_id)
        await uow.members.update(again)
        await uow.commit()
    async with uows() as uow:
        loaded = await uow.members.get(member_id)
        assert loaded is not None
        assert loaded.accounts == (Account.telegram(TELEGRAM_ID), Account("wecom", "zhou.ayi"))
        # The Telegram account follows user_id: a new one, or none.
        loaded.user_id = 9_100_000_002
        await uow.members.update(loaded)
        await uow.commit()
    async with uows() as uow:
        moved = await uow.members.by_account(council_id, Account.telegram(9_100_000_002))
        assert await uow.members.by_account(council_id, Account.telegram(TELEGRAM_ID)) is None
        assert moved is not None and moved.id == member_id
        assert moved.accounts == (Account.telegram(9_100_000_002), Account("wecom", "zhou.ayi"))
        moved.user_id = None
        await uow.members.update(moved)
        await uow.commit()
    async with uows() as uow:
        unbound = await uow.members.by_account(council_id, Account("wecom", "zhou.ayi"))
    assert unbound is not None and unbound.accounts == (Account("wecom", "zhou.ayi"),)


async def test_members_by_ids_and_by_users(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other = await make_council(uows, chat_id=-100_999)
    a, b, c = await make_members(uows, council_id, 3, first_user=1000)
    (z,) = await make_members(uows, other, 1, first_user=1000)  # the same account elsewhere
    async with uows() as uow:
        member = await uow.members.get(b)
        assert member is not None
        member.status = MemberStatus.REMOVED
        await uow.members.update(member)
        await uow.commit()
    async with uows() as uow:
        by_ids = await uow.members.by_ids([c, a, b, z, z + 1000])
        assert await uow.members.by_ids([]) == {}
        by_users = await uow.members.by_users(council_id, [1000, 1001, 1002, 5555])
        assert await uow.members.by_users(council_id, []) == {}
        assert await uow.members.by_users(council_id + other + 1, [1000]) == {}
        elsewhere = await uow.members.by_users(other, [1000, 1001])
    assert sorted(by_ids) == sorted([a, b, c, z])  # any status, any council
    assert by_ids[b].status is MemberStatus.REMOVED
    assert by_ids[z].council_id == other
    assert {user: m.id for user, m in by_users.items()} == {1000: a, 1001: b, 1002: c}
    assert {m.council_id for m in by_users.values()} == {council_id}
    assert {user: m.id for user, m in elsewhere.items()} == {1000: z}


# --- topics -----------------------------------------------------------------------


async def test_topic_round_trip_and_active(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other_id = await make_council(uows, chat_id=-100_999)
    topics = [
        Topic(council_id, f"议题{i}", "说明", 7, at(i), deadline=at(100 + i)) for i in range(4)
    ]
    topics.append(Topic(other_id, "别处的议题", "", 7, at(9)))
    async with uows() as uow:
        for topic in topics:
            await uow.topics.add(topic)
        await uow.commit()
    topics[1].start_voting()
    topics[2].start_voting()
    topics[2].decide(Result.PASSED, at(50))
    topics[2].card_ref = 123_456
    topics[3].cancel(at(51))
    async with uows() as uow:
        for topic in topics[1:4]:
            await uow.topics.update(topic)
        await uow.commit()
    async with uows() as uow:
        for topic in topics:
            assert topic.id is not None
            assert await uow.topics.get(topic.id) == topic
            assert await uow.topics.get(topic.id, lock=Lock.UPDATE) == topic
        assert await uow.topics.get(9_999) is None
        assert await uow.topics.get(9_999, lock=Lock.UPDATE) is None
        active = await uow.topics.active(council_id)
        assert await uow.topics.active(council_id + other_id + 1) == []
    assert [t.title for t in active] == ["议题1", "议题0"]  # newest first
    assert [t.phase for t in active] == [Phase.VOTING, Phase.COLLECTING]


async def test_active_topics_opened_at_the_same_moment(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    async with uows() as uow:
        first = await uow.topics.add(Topic(council_id, "先", "", 7, at(5)))
        second = await uow.topics.add(Topic(council_id, "后", "", 7, at(5)))
        # The same instant written in UTC+8 is the same moment, not a later one.
        shanghai = await uow.topics.add(
            Topic(council_id, "上海", "", 7, at(5).astimezone(timezone(timedelta(hours=8))))
        )
        older = await uow.topics.add(Topic(council_id, "旧", "", 7, at(1)))
        await uow.commit()
    async with uows() as uow:
        active = await uow.topics.active(council_id)
    assert [t.id for t in active] == [shanghai.id, second.id, first.id, older.id]


# --- proposals and seconds ---------------------------------------------------------


async def test_proposals_and_seconds(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    alice, bob, carol = await make_members(uows, council_id, 3)
    topic_id = await make_topic(uows, council_id)
    async with uows() as uow:
        # Added out of order: listed by when they were made.
        second = await uow.proposals.add(Proposal(topic_id, bob, "方案二", at(4), seconds={alice}))
        first = await uow.proposals.add(Proposal(topic_id, alice, "方案一", at(3)))
        await uow.commit()
    assert first.id is not None and second.id is not None
    async with uows() as uow:
        assert await uow.proposals.add_second(first.id, bob, at(5)) is True
        assert await uow.proposals.add_second(first.id, bob, at(6)) is False
        # A refused second leaves the transaction usable.
        assert await uow.proposals.add_second(first.id, carol, at(7)) is True
        await uow.commit()
    async with uows() as uow:
        assert await uow.proposals.add_second(first.id, carol, at(8)) is False
        loaded = await uow.proposals.for_topic(topic_id)
        assert await uow.proposals.for_topic(topic_id + 1000) == []
        assert await uow.proposals.get(second.id) == second
        locked = await uow.proposals.get(first.id, lock=Lock.UPDATE)
        assert await uow.proposals.get(second.id + 99) is None
        assert await uow.proposals.get(second.id + 99, lock=Lock.UPDATE) is None
    assert [p.text for p in loaded] == ["方案一", "方案二"]
    assert loaded[0].seconds == {bob, carol}
    assert loaded[1].seconds == {alice}
    assert locked == loaded[0]
    assert loaded[0].created_at.tzinfo is UTC


async def test_proposal_source_text_and_announcement(uows: UnitOfWorkFactory) -> None:
    here = await make_council(uows, chat_id=-100_1)
    there = await make_council(uows, chat_id=-100_2)
    (alice,) = await make_members(uows, here, 1)
    (bob,) = await make_members(uows, there, 1, first_user=50)
    topic_here = await make_topic(uows, here)
    topic_there = await make_topic(uows, there)
    async with uows() as uow:
        old = await uow.proposals.add(Proposal(topic_here, alice, "旧的", at(2), source_ref=41))
        mine = await uow.proposals.add(Proposal(topic_here, alice, "修长椅", at(3), source_ref=41))
        unlinked = await uow.proposals.add(Proposal(topic_here, alice, "种花", at(4)))
        theirs = await uow.proposals.add(Proposal(topic_there, bob, "种树", at(3), source_ref=41))
        await uow.commit()
    assert mine.id and old.id and unlinked.id and theirs.id
    async with uows() as uow:
        found = await uow.proposals.by_source(here, 41)
        assert found is not None and (found.id, found.source_ref) == (mine.id, 41)  # the latest
        other = await uow.proposals.by_source(there, 41)  # the same id, another chat
        assert other is not None and other.id == theirs.id
        assert await uow.proposals.by_source(here, 42) is None
        await uow.proposals.set_text(mine.id, "修长椅和路灯")
        await uow.proposals.set_message(mine.id, 42)
        await uow.proposals.set_text(9_999, "没有这个提议")  # nothing to change: nothing
        await uow.proposals.set_message(9_999, 43)
        # Seen within the same transaction.
        again = await uow.proposals.get(mine.id)
        assert again is not None and again.text == "修长椅和路灯"
        await uow.commit()
    async with uows() as uow:
        loaded = await uow.proposals.get(mine.id, lock=Lock.UPDATE)
        by_message = await uow.proposals.by_source(here, 41)
        assert await uow.proposals.get(9_999) is None
        untouched = await uow.proposals.get(unlinked.id)
    assert loaded is not None
    assert (loaded.text, loaded.source_ref, loaded.message_ref) == ("修长椅和路灯", 41, 42)
    assert by_message == loaded
    assert untouched is not None and (untouched.source_ref, untouched.message_ref) == (None, None)


async def test_count_proposals_by_author(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    alice, bob = await make_members(uows, council_id, 2)
    topic_a = await make_topic(uows, council_id)
    topic_b = await make_topic(uows, council_id)
    async with uows() as uow:
        assert await uow.proposals.count_by_author(alice, at(0)) == 0
        for topic_id, author, minute in (
            (topic_a, alice, 1),
            (topic_a, alice, 10),
            (topic_b, alice, 20),  # on any topic
            (topic_a, bob, 15),
        ):
            await uow.proposals.add(Proposal(topic_id, author, "提议", at(minute)))
        await uow.commit()
    async with uows() as uow:
        assert await uow.proposals.count_by_author(alice, at(0)) == 3
        assert await uow.proposals.count_by_author(alice, at(10)) == 2  # at or after
        assert await uow.proposals.count_by_author(alice, at(10).astimezone(UTC)) == 2
        assert await uow.proposals.count_by_author(alice, at(10.001)) == 1
        assert await uow.proposals.count_by_author(alice, at(21)) == 0
        assert await uow.proposals.count_by_author(bob, at(0)) == 1


# --- ballots -----------------------------------------------------------------------


async def test_ballot_round_trip(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other_id = await make_council(uows, chat_id=-100_999)
    members = await make_members(uows, council_id, 3)
    topic_id = await make_topic(uows, council_id)
    ballot_id = await make_ballot(uows, council_id, topic_id)
    motion_id = await make_ballot(
        uows,
        council_id,
        topic_id,
        kind=BallotKind.MOTION,
        options=(),
        question="是否同意?",
        secret=True,
        deadline=None,
        opened_at=at(3),
    )
    elsewhere = await make_ballot(uows, other_id, await make_topic(uows, other_id))
    async with uows() as uow:
        ballot = await uow.ballots.get(ballot_id)
        for lock in Lock:
            assert await uow.ballots.get(ballot_id, lock=lock) == ballot
        assert await uow.ballots.get(elsewhere + 1000, lock=Lock.SHARE) is None
        assert await uow.ballots.get(elsewhere + 1000) is None
        assert [b.id for b in await uow.ballots.for_topic(topic_id)] == [motion_id, ballot_id]
        assert await uow.ballots.for_topic(topic_id + 1000) == []
        latest = await uow.ballots.latest(council_id)
        assert latest is not None and latest.id == motion_id
        assert await uow.ballots.latest(council_id + other_id + 1) is None
        assert [b.id for b in await uow.ballots.open(council_id)] == [motion_id, ballot_id]
        assert await uow.ballots.all_open() == [ballot_id, motion_id, elsewhere]
        roll = await uow.members.list(council_id)
    assert ballot is not None
    assert ballot.options[1].label == "乙公司"
    assert ballot.rule == preset("simple")
    assert ballot.deadline == at(60 * 24)
    assert ballot.deadline is not None and ballot.deadline.tzinfo is UTC
    assert ballot.is_open

    outcome = decide(
        ballot.rule,
        [m.voter() for m in roll],
        {str(members[0]): "a", str(members[1]): "a", str(members[2]): "b"},
        options=ballot.option_keys(),
    )
    ballot.closed_at = at(30)
    ballot.outcome = outcome
    ballot.message_ref = 4242
    async with uows() as uow:
        await uow.ballots.update(ballot)
        await uow.commit()
    async with uows() as uow:
        loaded = await uow.ballots.get(ballot_id)
        assert [b.id for b in await uow.ballots.open(council_id)] == [motion_id]
        assert await uow.ballots.all_open() == [motion_id, elsewhere]
        # Closed ballots still count for latest and for_topic.
        assert [b.id for b in await uow.ballots.for_topic(topic_id)] == [motion_id, ballot_id]
    assert loaded is not None
    assert loaded.closed_at == at(30)
    assert loaded.message_ref == 4242
    assert loaded.outcome == outcome
    assert loaded == ballot


async def test_set_rendered_never_lowers(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    ballot_id = await make_ballot(uows, council_id, await make_topic(uows, council_id))
    async with uows() as uow:
        stale = await uow.ballots.get(ballot_id)
        await uow.ballots.set_rendered(ballot_id, 5)
        await uow.ballots.set_rendered(ballot_id, 3)
        await uow.ballots.set_rendered(ballot_id + 1000, 3)  # no such ballot: nothing
        await uow.commit()
    assert stale is not None and stale.rendered_seq == 0
    async with uows() as uow:
        # An update from a stale copy does not lower it either.
        await uow.ballots.update(replace(stale, message_ref=9))
        await uow.commit()
    async with uows() as uow:
        ballot = await uow.ballots.get(ballot_id)
        assert ballot is not None
        assert (ballot.rendered_seq, ballot.message_ref) == (5, 9)
        # An update may raise it.
        await uow.ballots.update(replace(ballot, rendered_seq=8))
        await uow.commit()
    async with uows() as uow:
        ballot = await uow.ballots.get(ballot_id)
        assert ballot is not None and ballot.rendered_seq == 8


# --- votes ---------------------------------------------------------------------------


async def test_votes_and_audit_trail(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    alice, bob = await make_members(uows, council_id, 2)
    ballot_id = await make_ballot(uows, council_id, await make_topic(uows, council_id))
    async with uows() as uow:
        assert await uow.votes.last_seq(ballot_id) == 0
        assert await uow.votes.events(ballot_id) == []
        assert await uow.votes.current(ballot_id) == {}
        assert await uow.votes.put(Vote(ballot_id, alice, "a", at(3))) is None
        assert await uow.votes.put(Vote(ballot_id, alice, "a", at(4))) == "a"  # no change
        assert await uow.votes.put(Vote(ballot_id, bob, "b", at(5))) is None
        assert await uow.votes.put(Vote(ballot_id, alice, "abstain", at(6))) == "a"
        await uow.commit()
    async with uows() as uow:
        assert await uow.votes.current(ballot_id) == {alice: "abstain", bob: "b"}
        assert await uow.votes.choice_of(ballot_id, alice) == "abstain"
        assert await uow.votes.choice_of(ballot_id, alice + bob + 100) is None
        assert await uow.votes.choice_of(ballot_id + 1000, alice) is None
        events = await uow.votes.events(ballot_id)
        assert await uow.votes.last_seq(ballot_id) == 3
    assert [(e.member_id, e.previous, e.choice, e.at) for e in events] == [
        (alice, None, "a", at(3)),
        (bob, None, "b", at(5)),
        (alice, "a", "abstain", at(6)),
    ]
    assert [e.seq for e in events] == [1, 2, 3]
    assert all(e.ballot_id == ballot_id for e in events)
    assert all(e.at.tzinfo is UTC for e in events)


async def test_votes_are_numbered_per_ballot(uows: UnitOfWorkFactory) -> None:
    """``seq`` counts one ballot's events, 1, 2, …, whatever other ballots got meanwhile
    (``rendered_seq`` is compared with it)."""
    council_id = await make_council(uows)
    alice, bob = await make_members(uows, council_id, 2)
    topic_id = await make_topic(uows, council_id)
    first = await make_ballot(uows, council_id, topic_id)
    second = await make_ballot(uows, council_id, topic_id)
    async with uows() as uow:
        await uow.votes.put(Vote(first, alice, "a", at(1)))
        await uow.votes.put(Vote(second, alice, "b", at(2)))
        await uow.votes.put(Vote(second, bob, "a", at(3)))
        await uow.votes.put(Vote(first, bob, "b", at(4)))
        await uow.votes.put(Vote(second, alice, "a", at(5)))
        await uow.commit()
    async with uows() as uow:
        of_first = await uow.votes.events(first)
        of_second = await uow.votes.events(second)
        assert (await uow.votes.last_seq(first), await uow.votes.last_seq(second)) == (2, 3)
        assert await uow.votes.current(first) == {alice: "a", bob: "b"}
        assert await uow.votes.current(second) == {alice: "a", bob: "a"}
    assert [(e.seq, e.member_id, e.choice) for e in of_first] == [(1, alice, "a"), (2, bob, "b")]
    assert [(e.seq, e.member_id, e.previous, e.choice) for e in of_second] == [
        (1, alice, None, "b"),
        (2, bob, None, "a"),
        (3, alice, "b", "a"),
    ]


async def test_put_many_reports_previous_choices_and_records_only_changes(
    uows: UnitOfWorkFactory,
) -> None:
    council_id = await make_council(uows)
    m1, m2, m3 = await make_members(uows, council_id, 3, first_user=1000)
    topic_id = await make_topic(uows, council_id)
    ballot_id = await make_ballot(uows, council_id, topic_id)
    other = await make_ballot(uows, council_id, topic_id)
    async with uows() as uow:
        assert await uow.votes.put_many([]) == []
        assert await uow.votes.put_many(
            [Vote(ballot_id, m1, "a", at(1)), Vote(ballot_id, m2, "b", at(1))]
        ) == [None, None]
        await uow.commit()
    async with uows() as uow:
        previous = await uow.votes.put_many(
            [
                Vote(ballot_id, m1, "a", at(2)),  # unchanged
                Vote(ballot_id, m2, "abstain", at(2)),  # changed
                Vote(other, m1, "b", at(2)),  # the same member on another ballot
                Vote(ballot_id, m3, "a", at(2)),  # new
            ]
        )
        await uow.commit()
    assert previous == ["a", "b", None, None]
    async with uows() as uow:
        assert await uow.votes.current(ballot_id) == {m1: "a", m2: "abstain", m3: "a"}
        assert await uow.votes.current(other) == {m1: "b"}
        events = await uow.votes.events(ballot_id)
        assert await uow.votes.last_seq(ballot_id) == 4
        assert await uow.votes.last_seq(other) == 1
    assert [(e.seq, e.member_id, e.previous, e.choice) for e in events] == [
        (1, m1, None, "a"),
        (2, m2, None, "b"),
        (3, m2, "b", "abstain"),
        (4, m3, None, "a"),
    ]


# --- resolutions, drafts, the update log --------------------------------------------


async def test_resolutions(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    topic_id = await make_topic(uows, council_id)
    ballot_id = await make_ballot(uows, council_id, topic_id)
    resolution = Resolution(council_id, topic_id, ballot_id, Result.PASSED, "甲公司", at(9), "a")
    async with uows() as uow:
        added = await uow.resolutions.add(resolution)
        assert resolution.id is None and added.id is not None
        # Recorded earlier, added later: listed in the order they were recorded.
        earlier = await uow.resolutions.add(
            Resolution(council_id, topic_id, ballot_id, Result.TIED, "平局", at(5))
        )
        await uow.commit()
    async with uows() as uow:
        loaded = await uow.resolutions.for_topic(topic_id)
        assert await uow.resolutions.for_topic(topic_id + 1) == []
    assert loaded == [earlier, added]
    assert [r.result for r in loaded] == [Result.TIED, Result.PASSED]
    assert (loaded[0].winner, loaded[1].winner) == (None, "a")
    assert loaded[1].recorded_at.tzinfo is UTC


async def test_drafts(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    topic_id = await make_topic(uows, council_id)
    other_topic = await make_topic(uows, council_id)
    draft = Draft(user_id=8_000_000_001, topic_id=topic_id, text="草稿", updated_at=at(1))
    async with uows() as uow:
        assert await uow.drafts.get(draft.user_id) is None
        await uow.drafts.put(draft)
        await uow.drafts.put(Draft(8_000_000_002, topic_id, "别人的", at(1)))
        await uow.commit()
    async with uows() as uow:
        assert await uow.drafts.get(draft.user_id) == draft
        changed = Draft(draft.user_id, other_topic, "改过的草稿", at(2))
        await uow.drafts.put(changed)
        await uow.commit()
    async with uows() as uow:
        loaded = await uow.drafts.get(draft.user_id)
        assert loaded == changed
        assert loaded is not None and loaded.updated_at.tzinfo is UTC
        await uow.drafts.delete(draft.user_id)
        await uow.drafts.delete(draft.user_id)  # deleting nothing is fine
        await uow.commit()
    async with uows() as uow:
        assert await uow.drafts.get(draft.user_id) is None
        kept = await uow.drafts.get(8_000_000_002)
    assert kept is not None and kept.text == "别人的"


async def test_claim_twice(uows: UnitOfWorkFactory) -> None:
    async with uows() as uow:
        assert await uow.updates.claim("update:1") is True
        assert await uow.updates.claim("update:1") is False
        assert await uow.updates.claim("update:2") is True
        await uow.commit()
    async with uows() as uow:
        assert await uow.updates.claim("update:1") is False
    async with uows() as uow:
        # A claim that was never committed was never made.
        assert await uow.updates.claim("update:3") is True
    async with uows() as uow:
        assert await uow.updates.claim("update:3") is True
        await uow.commit()


async def test_updates_seen_and_claimed_in_batches(uows: UnitOfWorkFactory) -> None:
    async with uows() as uow:
        assert await uow.updates.seen(["update:1"]) == set()
        assert await uow.updates.claim("update:1") is True
        assert await uow.updates.claim_many([]) == set()
        assert await uow.updates.claim_many(["update:2", "job:ballot:7:close"]) == {
            "update:2",
            "job:ballot:7:close",
        }
        # Only the keys not claimed before, in this transaction or an earlier one.
        assert await uow.updates.claim_many(["update:1", "update:9", "update:2"]) == {"update:9"}
        await uow.commit()
    async with uows() as uow:
        await uow.updates.claim("update:3")  # never committed: never claimed
    async with uows() as uow:
        assert await uow.updates.seen([]) == set()
        assert await uow.updates.seen(
            ["update:1", "update:3", "update:4", "job:ballot:7:close"]
        ) == {"update:1", "job:ballot:7:close"}
        assert await uow.updates.seen(("update:2", "update:2")) == {"update:2"}
        assert await uow.updates.seen(["UPDATE:1", "update:1 ", "update"]) == set()
        assert await uow.updates.seen(["job:会议:提醒"]) == set()
        # A claim is seen within its own transaction.
        assert await uow.updates.claim("job:会议:提醒") is True
        assert await uow.updates.seen(["job:会议:提醒", "update:3"]) == {"job:会议:提醒"}
        assert await uow.updates.claim_many(["update:3", "job:会议:提醒"]) == {"update:3"}
        await uow.commit()
    many = [f"update:{i}" for i in range(500)]
    async with uows() as uow:
        assert await uow.updates.seen(many) == {"update:1", "update:2", "update:3", "update:9"}
        assert await uow.updates.seen([*many, "job:会议:提醒"]) == {
            "update:1",
            "update:2",
            "update:3",
            "update:9",
            "job:会议:提醒",
        }
        assert await uow.updates.claim_many(many[:20]) == set(many[:20]) - {
            "update:1",
            "update:2",
            "update:3",
            "update:9",
        }


# --- what every unit of work promises --------------------------------------------


async def test_uncommitted_work_is_rolled_back(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    (alice,) = await make_members(uows, council_id, 1)
    ballot_id = await make_ballot(uows, council_id, await make_topic(uows, council_id))
    async with uows() as uow:
        await uow.votes.put(Vote(ballot_id, alice, "a", at(3)))
    with pytest.raises(RuntimeError):
        async with uows() as uow:
            await uow.votes.put(Vote(ballot_id, alice, "a", at(3)))
            raise RuntimeError("boom")
    async with uows() as uow:
        await uow.votes.put(Vote(ballot_id, alice, "b", at(3)))
        await uow.rollback()
        assert await uow.votes.current(ballot_id) == {}
    async with uows() as uow:
        assert await uow.votes.current(ballot_id) == {}
        assert await uow.votes.events(ballot_id) == []


async def test_work_after_a_commit_needs_a_commit_of_its_own(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    uow = uows()
    async with uow:
        kept = await uow.topics.add(Topic(council_id, "保留", "", 7, at(1)))
        await uow.commit()
        lost = await uow.topics.add(Topic(council_id, "丢失", "", 7, at(2)))
        assert [t.title for t in await uow.topics.active(council_id)] == ["丢失", "保留"]
    async with uow:  # the same unit of work, entered again: a new transaction
        assert [t.title for t in await uow.topics.active(council_id)] == ["保留"]
        assert lost.id is not None and await uow.topics.get(lost.id) is None
        again = await uow.topics.add(Topic(council_id, "再来", "", 7, at(3)))
        await uow.commit()
    async with uows() as other:
        assert [t.id for t in await other.topics.active(council_id)] == [again.id, kept.id]


async def test_times_must_be_aware(uows: UnitOfWorkFactory) -> None:
    """A naive time is a bug upstream: refused, never guessed (``UTCDateTime``)."""
    council_id = await make_council(uows)
    (alice,) = await make_members(uows, council_id, 1)
    topic_id = await make_topic(uows, council_id)
    ballot_id = await make_ballot(uows, council_id, topic_id)
    proposal_id = await _proposal(uows, topic_id, alice)
    naive = datetime(2025, 1, 1)
    async with uows() as uow:
        with pytest.raises(Exception, match="naive"):
            await uow.topics.add(Topic(council_id, "t", "d", 1, naive))
    async with uows() as uow:
        with pytest.raises(Exception, match="naive"):
            await uow.votes.put(Vote(ballot_id, alice, "a", naive))
    async with uows() as uow:
        with pytest.raises(Exception, match="naive"):
            await uow.meetings.add(meeting(council_id, naive))
    async with uows() as uow:
        with pytest.raises(Exception, match="naive"):
            await uow.notices.add(notice(council_id, "k", not_before=naive))
    async with uows() as uow:
        with pytest.raises(Exception, match="naive"):
            await uow.drafts.put(Draft(1, topic_id, "草稿", naive))
    async with uows() as uow:
        with pytest.raises(Exception, match="naive"):
            await uow.tasks.add(make_task(council_id, due=naive))
    async with uows() as uow:
        with pytest.raises(Exception, match="naive"):
            await uow.contacts.mark(1, True, naive)
    async with uows() as uow:
        with pytest.raises(Exception, match="naive"):
            await uow.proposals.add_second(proposal_id, alice, naive)
    async with uows() as uow:  # nothing of it was stored
        assert [t.id for t in await uow.topics.active(council_id)] == [topic_id]
        assert await uow.votes.current(ballot_id) == {}
        assert await uow.drafts.get(1) is None
        assert await uow.notices.claim(at(0), 10) == []
        proposal = await uow.proposals.get(proposal_id)
        assert proposal is not None and proposal.seconds == set()


async def _proposal(uows: UnitOfWorkFactory, topic_id: int, author: int) -> int:
    async with uows() as uow:
        proposal = await uow.proposals.add(Proposal(topic_id, author, "提议", at(1)))
        await uow.commit()
    assert proposal.id is not None
    return proposal.id


async def test_update_without_an_id_or_of_an_unknown_one(uows: UnitOfWorkFactory) -> None:
    """``update`` is ``UPDATE … WHERE id = …``: without an id it is refused, for an id
    never added it changes nothing (and adds nothing)."""
    council_id = await make_council(uows)
    (alice,) = await make_members(uows, council_id, 1)
    topic_id = await make_topic(uows, council_id)
    ballot_id = await make_ballot(uows, council_id, topic_id)
    (task_id,) = await add_tasks(uows, make_task(council_id))
    async with uows() as uow:
        council = await uow.councils.get(council_id)
        member = await uow.members.get(alice)
        topic = await uow.topics.get(topic_id)
        ballot = await uow.ballots.get(ballot_id)
        task = await uow.tasks.get(task_id)
    assert council and member and topic and ballot and task
    unknown = 9_999
    no_chairs = replace(council, chairs=set())
    entities: list[tuple[str, Any]] = [
        ("councils", no_chairs),
        ("members", member),
        ("topics", topic),
        ("ballots", ballot),
        ("meetings", meeting(council_id, at(100))),
        ("tasks", task),
        ("offers", offer(task_id, alice, 0)),
        ("teams", Team(council_id, "青年突击队")),
        ("units", MemberUnit(council_id, "物业公司")),
    ]
    for name, entity in entities:
        async with uows() as uow:
            repository = getattr(uow, name)
            with pytest.raises(ValueError, match="no id"):
                await repository.update(replace(entity, id=None))
            await repository.update(replace(entity, id=unknown))
            assert await repository.get(unknown) is None, name
            await uow.commit()
    async with uows() as uow:
        n = notice(council_id, "k")
        with pytest.raises(ValueError, match="no id"):
            await uow.notices.update(n)
        n.id = unknown
        await uow.notices.update(n)
        assert await uow.notices.get(unknown) is None
        assert await uow.notices.claim(at(0), 10) == []
        # What was there is as it was.
        assert await uow.councils.get(council_id) == council
        assert await uow.members.get(alice) == member
        assert await uow.tasks.get(task_id) == task
