"""``uows``: one repository spec, run on the fakes and on both databases.

The service-layer tests in ``tests/domain`` run on ``tests/fakes.py``; they are only
as good as the fakes are faithful. The contract tests (``test_contract_*.py``) take
``uows``, a ``domain.ports.UnitOfWorkFactory`` parametrized over

* ``fake``: a fresh ``FakeUnitOfWorkFactory``;
* ``sqlite`` and ``postgresql``: ``Database.uow`` of a migrated database, as the
  ``database`` fixture of ``tests/conftest.py`` gives it (PostgreSQL is skipped when
  ``TEST_DATABASE_URL`` is unset or unreachable),

and speak only the ports' language, so a fake that drifts from the databases fails
the same assertion the databases pass. What only a database can show (raw rows,
constraints a fake does not model, races between connections) stays in the
``database``-only tests, each saying why.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from domain.ports import UnitOfWorkFactory
from storage.uow import Database
from tests.fakes import FakeUnitOfWorkFactory


@pytest.fixture(params=["fake", "sqlite", "postgresql"])
async def uows(request: pytest.FixtureRequest) -> AsyncIterator[UnitOfWorkFactory]:
    """A unit-of-work factory over an empty store: the fakes, SQLite or PostgreSQL."""
    if request.param == "fake":
        yield FakeUnitOfWorkFactory()
        return
    # postgres_url skips the test when PostgreSQL is not available.
    url: str = request.getfixturevalue(
        "sqlite_head_url" if request.param == "sqlite" else "postgres_head_url"
    )
    db = await Database.open(url)
    try:
        yield db.uow
    finally:
        await db.dispose()
