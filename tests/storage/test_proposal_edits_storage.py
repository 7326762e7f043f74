"""An edit of a proposal racing a second or a ballot.

The races run on both databases: PostgreSQL's row locks and SQLite's one writer at a
time (``BEGIN IMMEDIATE``) must both make the later transaction wait and then see
what the earlier one committed. The fakes cannot race (one sequential store); how a
proposal is linked to its messages is in the contract tests
(``test_contract_deliberation.py``), run on the fakes too.
"""

from __future__ import annotations

import asyncio

import pytest

from domain import errors, services
from domain.model import BallotKind, Proposal
from domain.ports import Lock
from storage.uow import Database
from tests.storage.helpers import at, make_council, make_members, make_topic

CHAIR = 7_000_000_001  # make_council's chair
SOURCE = 41
WAIT = 0.3  # long enough for a transaction that does not wait to have finished


async def add_proposal(
    db: Database, topic_id: int, author: int, text: str, source_ref: int | None = SOURCE
) -> int:
    async with db.uow() as uow:
        proposal = await uow.proposals.add(
            Proposal(topic_id, author, text, at(3), source_ref=source_ref)
        )
        await uow.commit()
    assert proposal.id is not None
    return proposal.id


async def text_of(db: Database, proposal_id: int) -> str:
    async with db.uow() as uow:
        proposal = await uow.proposals.get(proposal_id)
    assert proposal is not None
    return proposal.text


async def test_an_edit_waits_for_a_second_in_flight_and_is_refused(database: Database) -> None:
    council_id = await make_council(database)
    author, seconder = await make_members(database, council_id, 2)
    proposal_id = await add_proposal(
        database, await make_topic(database, council_id), author, "修长椅"
    )
    council = await services.council_by_id(database.uow(), council_id=council_id)

    async with database.uow() as seconding:
        assert await seconding.proposals.add_second(proposal_id, seconder, at(4))
        editing = asyncio.create_task(
            services.revise_proposal(
                database.uow(),
                chat_id=council.chat_id,
                thread_id=0,
                source_ref=SOURCE,
                user_id=1,  # make_members: the first member's user id
                text="修长椅和路灯",
            )
        )
        await asyncio.sleep(WAIT)
        assert not editing.done()  # waits for the second in flight
        await seconding.commit()
    with pytest.raises(errors.NotEditable) as refused:
        await asyncio.wait_for(editing, timeout=10)
    assert refused.value.params == {"field": "seconded", "count": 1}
    assert await text_of(database, proposal_id) == "修长椅"


async def test_a_ballot_waits_for_an_edit_in_flight_and_shows_its_text(
    database: Database,
) -> None:
    council_id = await make_council(database)
    alice, bob = await make_members(database, council_id, 2)
    topic_id = await make_topic(database, council_id)
    edited = await add_proposal(database, topic_id, alice, "修长椅")
    other = await add_proposal(database, topic_id, bob, "种树", source_ref=None)

    async with database.uow() as editing:  # the edit's storage calls, as revise_proposal makes them
        assert await editing.topics.get(topic_id, lock=Lock.UPDATE) is not None
        assert await editing.proposals.get(edited, lock=Lock.UPDATE) is not None
        await editing.proposals.set_text(edited, "修长椅和路灯")
        opening = asyncio.create_task(
            services.put_ballot(
                database.uow(),
                council_id=council_id,
                topic_id=topic_id,
                user_id=CHAIR,
                kind=BallotKind.OPTIONS,
                now=at(5),
            )
        )
        await asyncio.sleep(WAIT)
        assert not opening.done()  # waits for the edit in flight
        await editing.commit()
    ballot = await asyncio.wait_for(opening, timeout=10)
    assert [(o.proposal_id, o.label) for o in ballot.options] == [
        (edited, "修长椅和路灯"),
        (other, "种树"),
    ]


async def test_an_edit_waits_for_a_ballot_opening_and_is_refused(database: Database) -> None:
    council_id = await make_council(database)
    (alice,) = await make_members(database, council_id, 1)
    topic_id = await make_topic(database, council_id)
    proposal_id = await add_proposal(database, topic_id, alice, "修长椅")
    council = await services.council_by_id(database.uow(), council_id=council_id)

    async with database.uow() as opening:  # open_ballot's first write: the topic votes
        topic = await opening.topics.get(topic_id)
        assert topic is not None
        topic.start_voting()
        await opening.topics.update(topic)
        editing = asyncio.create_task(
            services.revise_proposal(
                database.uow(),
                chat_id=council.chat_id,
                thread_id=0,
                source_ref=SOURCE,
                user_id=1,
                text="修长椅和路灯",
            )
        )
        await asyncio.sleep(WAIT)
        assert not editing.done()  # waits for the topic being put to the vote
        await opening.commit()
    with pytest.raises(errors.NotEditable) as refused:
        await asyncio.wait_for(editing, timeout=10)
    assert refused.value.params["field"] == "phase"
    assert await text_of(database, proposal_id) == "修长椅"
