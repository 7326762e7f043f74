"""The PostgreSQL schemas the tests reuse come back empty, as a new database would."""

from __future__ import annotations

import pytest

from storage.db import with_search_path
from storage.uow import Database
from tests.conftest import _Schemas
from tests.storage.helpers import make_council


async def test_a_reused_schema_is_empty_and_numbers_rows_from_one_again(
    postgres_schemas: _Schemas | None,
) -> None:
    if postgres_schemas is None:
        pytest.skip("PostgreSQL is unavailable")
    schema = postgres_schemas.take()
    url = with_search_path(postgres_schemas.base, schema)
    db = await Database.open(url)
    try:
        assert await make_council(db, chat_id=-100) == 1
        assert await make_council(db, chat_id=-200) == 2
    finally:
        await db.dispose()
    postgres_schemas.give_back(schema)
    again = postgres_schemas.take()
    assert again == schema  # reused, not made again
    db = await Database.open(with_search_path(postgres_schemas.base, again))
    try:
        async with db.uow() as uow:
            assert await uow.councils.by_chat(-100, 0) is None
        assert await make_council(db, chat_id=-300) == 1
    finally:
        await db.dispose()
        postgres_schemas.give_back(again)
