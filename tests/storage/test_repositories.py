"""What only a database enforces: the constraints behind the repositories.

The round trips and queries of every repository are the contract tests
(``test_contract_*.py``), run on the fakes and both databases alike. These stay
database-only: a broken foreign key or a second council in one chat and thread is a
bug upstream, which the databases refuse with ``IntegrityError`` and the fakes with an
``AssertionError`` (or not at all, for the foreign keys a fake does not model). The
domain never handles either, so the fakes need not raise the same thing.
"""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from domain.model import Council, Member
from domain.rules import preset
from storage.uow import Database
from tests.storage.helpers import T0, at, make_council


async def test_referential_integrity(database: Database) -> None:
    council_id = await make_council(database)
    async with database.uow() as uow:
        with pytest.raises(IntegrityError):
            await uow.members.add(Member(council_id + 99, 1, "nobody", "1", "1", "1", T0))
    async with database.uow() as uow:
        with pytest.raises(IntegrityError):  # a second of a proposal that does not exist
            await uow.proposals.add_second(9_999, 1, at(1))


async def test_one_council_per_chat_and_thread(database: Database) -> None:
    await make_council(database, chat_id=-100, thread_id=7)
    await make_council(database, chat_id=-100, thread_id=8)  # another forum topic: fine
    with pytest.raises(IntegrityError):
        async with database.uow() as uow:
            await uow.councils.add(
                Council(-100, 7, "again", preset("simple"), "Asia/Shanghai", "zh", T0)
            )
    async with database.uow() as uow:
        assert [c.thread_id for c in await uow.councils.in_chat(-100)] == [7, 8]
