"""Round trips of every entity, and the atomic operations one at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from domain import errors
from domain.model import (
    Ballot,
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
from domain.ports import Lock
from domain.rules import Result, decide, preset
from storage.uow import Database
from tests.storage.helpers import (
    T0,
    at,
    make_ballot,
    make_council,
    make_members,
    make_topic,
)


async def test_council_round_trip(database: Database) -> None:
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
    async with database.uow() as uow:
        added = await uow.councils.add(council)
        await uow.commit()
    assert added.id is not None
    async with database.uow() as uow:
        loaded = await uow.councils.get(added.id)
        by_chat = await uow.councils.by_chat(-1_001_234_567_890, 42)
        assert await uow.councils.by_chat(-1_001_234_567_890, 0) is None
        assert await uow.councils.get(added.id + 1000) is None
    assert loaded == council
    assert by_chat == council
    assert loaded is not None
    assert loaded.created_at.tzinfo is UTC
    assert loaded.created_at == datetime(2025, 3, 1, 9, 30, tzinfo=UTC)

    loaded.chairs = {3}
    loaded.rule = preset("simple")
    loaded.title = "新名字"
    async with database.uow() as uow:
        await uow.councils.update(loaded)
        await uow.commit()
    async with database.uow() as uow:
        assert await uow.councils.get(added.id) == loaded


async def test_member_round_trip_and_roll(database: Database) -> None:
    council_id = await make_council(database)
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
    async with database.uow() as uow:
        added = await uow.members.add(member)
        for m in unbound:  # several roster rows without an account: no conflict
            await uow.members.add(m)
        await uow.commit()
    assert added.id is not None
    async with database.uow() as uow:
        loaded = await uow.members.get(added.id)
        assert await uow.members.by_user(council_id, 9_876_543_210) == member
        assert await uow.members.by_user(council_id, 1) is None
        active = await uow.members.list(council_id)
        everyone = await uow.members.list(council_id, list(MemberStatus))
    assert loaded == member
    assert loaded is not None
    assert loaded.household == "3-2-501"
    assert loaded.area == Decimal("123.45")
    assert isinstance(loaded.area, Decimal)
    assert active == unbound
    assert len(everyone) == 4

    loaded.status = MemberStatus.ACTIVE
    loaded.area = Decimal("99.99")
    async with database.uow() as uow:
        await uow.members.update(loaded)
        await uow.commit()
    async with database.uow() as uow:
        assert await uow.members.get(added.id) == loaded


async def test_member_add_twice_raises_already_member(database: Database) -> None:
    council_id = await make_council(database)
    other_council = await make_council(database, chat_id=5)
    await make_members(database, council_id, 1, first_user=77)
    async with database.uow() as uow:
        with pytest.raises(errors.AlreadyMember):
            await uow.members.add(Member(council_id, 77, "again", "1", "1", "1", T0))
        # The transaction is still usable, and the same account may join another council.
        await uow.members.add(Member(other_council, 77, "elsewhere", "1", "1", "1", T0))
        await uow.commit()
    async with database.uow() as uow:
        assert len(await uow.members.list(council_id)) == 1
        assert len(await uow.members.list(other_council)) == 1


async def test_topic_round_trip_and_active(database: Database) -> None:
    council_id = await make_council(database)
    topics = [
        Topic(council_id, f"议题{i}", "说明", 7, at(i), deadline=at(100 + i)) for i in range(4)
    ]
    async with database.uow() as uow:
        for topic in topics:
            await uow.topics.add(topic)
        await uow.commit()
    topics[1].start_voting()
    topics[2].start_voting()
    topics[2].decide(Result.PASSED, at(50))
    topics[2].card_ref = 123_456
    topics[3].cancel(at(51))
    async with database.uow() as uow:
        for topic in topics[1:]:
            await uow.topics.update(topic)
        await uow.commit()
    async with database.uow() as uow:
        for topic in topics:
            assert topic.id is not None
            assert await uow.topics.get(topic.id) == topic
        active = await uow.topics.active(council_id)
    assert [t.title for t in active] == ["议题1", "议题0"]
    assert [t.phase for t in active] == [Phase.VOTING, Phase.COLLECTING]


async def test_proposals_and_seconds(database: Database) -> None:
    council_id = await make_council(database)
    alice, bob, carol = await make_members(database, council_id, 3)
    topic_id = await make_topic(database, council_id)
    async with database.uow() as uow:
        first = await uow.proposals.add(Proposal(topic_id, alice, "方案一", at(3)))
        second = await uow.proposals.add(Proposal(topic_id, bob, "方案二", at(4), seconds={alice}))
        await uow.commit()
    assert first.id is not None and second.id is not None
    async with database.uow() as uow:
        assert await uow.proposals.add_second(first.id, bob, at(5)) is True
        assert await uow.proposals.add_second(first.id, bob, at(6)) is False
        # A refused second leaves the transaction usable.
        assert await uow.proposals.add_second(first.id, carol, at(7)) is True
        await uow.commit()
    async with database.uow() as uow:
        assert await uow.proposals.add_second(first.id, carol, at(8)) is False
        loaded = await uow.proposals.for_topic(topic_id)
        assert await uow.proposals.get(second.id) == second
        assert await uow.proposals.get(second.id + 99) is None
    assert [p.text for p in loaded] == ["方案一", "方案二"]
    assert loaded[0].seconds == {bob, carol}
    assert loaded[1].seconds == {alice}


async def test_ballot_round_trip(database: Database) -> None:
    council_id = await make_council(database)
    members = await make_members(database, council_id, 3)
    topic_id = await make_topic(database, council_id)
    ballot_id = await make_ballot(database, council_id, topic_id)
    motion_id = await make_ballot(
        database,
        council_id,
        topic_id,
        kind=BallotKind.MOTION,
        options=(),
        question="是否同意?",
        secret=True,
        deadline=None,
        opened_at=at(3),
    )
    async with database.uow() as uow:
        ballot = await uow.ballots.get(ballot_id)
        for lock in Lock:
            assert await uow.ballots.get(ballot_id, lock=lock) == ballot
        assert await uow.ballots.get(ballot_id + 1000, lock=Lock.SHARE) is None
        assert [b.id for b in await uow.ballots.for_topic(topic_id)] == [motion_id, ballot_id]
        latest = await uow.ballots.latest(council_id)
        assert latest is not None and latest.id == motion_id
        assert [b.id for b in await uow.ballots.open(council_id)] == [motion_id, ballot_id]
        assert await uow.ballots.all_open() == [ballot_id, motion_id]
    assert ballot is not None
    assert ballot.options[1].label == "乙公司"
    assert ballot.rule == preset("simple")
    assert ballot.deadline == at(60 * 24)
    assert ballot.is_open

    outcome = decide(
        ballot.rule,
        [replace_member.voter() for replace_member in await _members(database, council_id)],
        {str(members[0]): "a", str(members[1]): "a", str(members[2]): "b"},
        options=ballot.option_keys(),
    )
    ballot.closed_at = at(30)
    ballot.outcome = outcome
    ballot.message_ref = 4242
    async with database.uow() as uow:
        await uow.ballots.update(ballot)
        await uow.commit()
    async with database.uow() as uow:
        loaded = await uow.ballots.get(ballot_id)
        assert [b.id for b in await uow.ballots.open(council_id)] == [motion_id]
        assert await uow.ballots.all_open() == [motion_id]
    assert loaded is not None
    assert loaded.closed_at == at(30)
    assert loaded.message_ref == 4242
    assert loaded.outcome == outcome
    assert loaded == ballot


async def _members(db: Database, council_id: int) -> list[Member]:
    async with db.uow() as uow:
        return await uow.members.list(council_id)


async def test_set_rendered_never_lowers(database: Database) -> None:
    council_id = await make_council(database)
    ballot_id = await make_ballot(database, council_id, await make_topic(database, council_id))
    async with database.uow() as uow:
        stale = await uow.ballots.get(ballot_id)
        await uow.ballots.set_rendered(ballot_id, 5)
        await uow.ballots.set_rendered(ballot_id, 3)
        await uow.commit()
    assert stale is not None and stale.rendered_seq == 0
    async with database.uow() as uow:
        # An update from a stale copy does not lower it either.
        await uow.ballots.update(replace(stale, message_ref=9))
        await uow.commit()
    async with database.uow() as uow:
        ballot = await uow.ballots.get(ballot_id)
        assert ballot is not None
        assert (ballot.rendered_seq, ballot.message_ref) == (5, 9)


async def test_votes_and_audit_trail(database: Database) -> None:
    council_id = await make_council(database)
    alice, bob = await make_members(database, council_id, 2)
    ballot_id = await make_ballot(database, council_id, await make_topic(database, council_id))
    async with database.uow() as uow:
        assert await uow.votes.last_seq(ballot_id) == 0
        assert await uow.votes.put(Vote(ballot_id, alice, "a", at(3))) is None
        assert await uow.votes.put(Vote(ballot_id, alice, "a", at(4))) == "a"  # no change
        assert await uow.votes.put(Vote(ballot_id, bob, "b", at(5))) is None
        assert await uow.votes.put(Vote(ballot_id, alice, "abstain", at(6))) == "a"
        await uow.commit()
    async with database.uow() as uow:
        assert await uow.votes.current(ballot_id) == {alice: "abstain", bob: "b"}
        assert await uow.votes.choice_of(ballot_id, alice) == "abstain"
        assert await uow.votes.choice_of(ballot_id, alice + bob + 100) is None
        events = await uow.votes.events(ballot_id)
        assert await uow.votes.last_seq(ballot_id) == 3
    assert [(e.member_id, e.previous, e.choice, e.at) for e in events] == [
        (alice, None, "a", at(3)),
        (bob, None, "b", at(5)),
        (alice, "a", "abstain", at(6)),
    ]
    assert [e.seq for e in events] == [1, 2, 3]
    assert all(e.ballot_id == ballot_id for e in events)


async def test_uncommitted_work_is_rolled_back(database: Database) -> None:
    council_id = await make_council(database)
    (alice,) = await make_members(database, council_id, 1)
    ballot_id = await make_ballot(database, council_id, await make_topic(database, council_id))
    async with database.uow() as uow:
        await uow.votes.put(Vote(ballot_id, alice, "a", at(3)))
    with pytest.raises(RuntimeError):
        async with database.uow() as uow:
            await uow.votes.put(Vote(ballot_id, alice, "a", at(3)))
            raise RuntimeError("boom")
    async with database.uow() as uow:
        await uow.votes.put(Vote(ballot_id, alice, "b", at(3)))
        await uow.rollback()
        assert await uow.votes.current(ballot_id) == {}
    async with database.uow() as uow:
        assert await uow.votes.current(ballot_id) == {}
        assert await uow.votes.events(ballot_id) == []


async def test_resolutions(database: Database) -> None:
    council_id = await make_council(database)
    topic_id = await make_topic(database, council_id)
    ballot_id = await make_ballot(database, council_id, topic_id)
    resolution = Resolution(council_id, topic_id, ballot_id, Result.PASSED, "甲公司", at(9), "a")
    async with database.uow() as uow:
        added = await uow.resolutions.add(resolution)
        assert resolution.id is None and added.id is not None
        await uow.resolutions.add(
            Resolution(council_id, topic_id, ballot_id, Result.TIED, "平局", at(10))
        )
        await uow.commit()
    async with database.uow() as uow:
        loaded = await uow.resolutions.for_topic(topic_id)
        assert await uow.resolutions.for_topic(topic_id + 1) == []
    assert loaded[0] == added
    assert [r.result for r in loaded] == [Result.PASSED, Result.TIED]
    assert loaded[1].winner is None


async def test_drafts(database: Database) -> None:
    council_id = await make_council(database)
    topic_id = await make_topic(database, council_id)
    other_topic = await make_topic(database, council_id)
    draft = Draft(user_id=8_000_000_001, topic_id=topic_id, text="草稿", updated_at=at(1))
    async with database.uow() as uow:
        assert await uow.drafts.get(draft.user_id) is None
        await uow.drafts.put(draft)
        await uow.commit()
    async with database.uow() as uow:
        assert await uow.drafts.get(draft.user_id) == draft
        changed = Draft(draft.user_id, other_topic, "改过的草稿", at(2))
        await uow.drafts.put(changed)
        await uow.commit()
    async with database.uow() as uow:
        assert await uow.drafts.get(draft.user_id) == changed
        await uow.drafts.delete(draft.user_id)
        await uow.drafts.delete(draft.user_id)  # deleting nothing is fine
        await uow.commit()
    async with database.uow() as uow:
        assert await uow.drafts.get(draft.user_id) is None


async def test_claim_twice(database: Database) -> None:
    async with database.uow() as uow:
        assert await uow.updates.claim("update:1") is True
        assert await uow.updates.claim("update:1") is False
        assert await uow.updates.claim("update:2") is True
        await uow.commit()
    async with database.uow() as uow:
        assert await uow.updates.claim("update:1") is False
    async with database.uow() as uow:
        # A claim that was never committed was never made.
        assert await uow.updates.claim("update:3") is True
    async with database.uow() as uow:
        assert await uow.updates.claim("update:3") is True
        await uow.commit()


async def test_times_must_be_aware(database: Database) -> None:
    council_id = await make_council(database)
    async with database.uow() as uow:
        with pytest.raises(Exception, match="naive"):
            await uow.topics.add(Topic(council_id, "t", "d", 1, datetime(2025, 1, 1)))


async def test_referential_integrity(database: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    council_id = await make_council(database)
    async with database.uow() as uow:
        with pytest.raises(IntegrityError):
            await uow.members.add(Member(council_id + 99, 1, "nobody", "1", "1", "1", T0))


def _unused(b: Ballot) -> None:  # pragma: no cover - keeps the import for type checkers
    del b
