"""A member can type NUL; PostgreSQL's text cannot hold it. Both databases store it as
U+FFFD, so the same text comes back from either and neither refuses the write."""

from __future__ import annotations

from domain.model import Proposal
from storage.uow import Database
from tests.storage.helpers import at, make_council, make_members, make_topic


async def test_a_nul_typed_by_a_member_is_stored_as_a_replacement_character(
    database: Database,
) -> None:
    council_id = await make_council(database)
    (alice,) = await make_members(database, council_id, 1)
    topic_id = await make_topic(database, council_id)
    async with database.uow() as uow:
        added = await uow.proposals.add(Proposal(topic_id, alice, "修长椅\x00和路灯", at(1)))
        await uow.commit()
    assert added.id is not None
    async with database.uow() as uow:
        loaded = await uow.proposals.get(added.id)
    assert loaded is not None and loaded.text == "修长椅\ufffd和路灯"
