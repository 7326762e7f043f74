"""Signing in on the web, on the fakes: console links once and in time, only for chairs
and staff; login keys as often as scanned until revoked; sessions that end when their
holder stops being staff or leaves the roll; refusals recorded and rate-limited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from itertools import count

import pytest

from domain import errors
from domain.model import MemberStatus
from domain.services import web_access as web
from domain.web_access import AccessKind, SessionKind, WebRefused
from tests.domain.builders import CHAIR, NOW, join, set_up, update_council
from tests.fakes import FakeUnitOfWorkFactory

KEY = b"k" * 32
CLIENT = "192.0.2.1"


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


_numbers = count(1)


def tokens() -> Callable[[], str]:
    """Tokens a test can tell apart (and unique across the test, as the CSPRNG's are)."""
    return lambda: f"token-{next(_numbers):04d}-abcdefghijklmnop"


async def test_a_console_link_signs_a_chair_in_once_within_its_minutes(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    link = await web.console_link(
        factory(), user_id=CHAIR, council_id=None, now=NOW, key=KEY, make_token=tokens()
    )
    assert link.expires_at == NOW + timedelta(minutes=10)
    signed = await web.sign_in_by_link(
        factory(), token=link.token, client=CLIENT, now=NOW + timedelta(minutes=9), key=KEY
    )
    assert signed.refusal is None and signed.token is not None and signed.session is not None
    assert signed.session.kind is SessionKind.STAFF and signed.session.user_id == CHAIR
    visitor = await web.visitor(factory(), token=signed.token, now=NOW, key=KEY)
    assert visitor is not None and visitor.council.id == council_id and visitor.is_staff
    again = await web.sign_in_by_link(
        factory(), token=link.token, client=CLIENT, now=NOW + timedelta(minutes=9), key=KEY
    )
    assert again.refusal is not None and again.refusal.params["field"] == "used"
    late = await web.console_link(
        factory(), user_id=CHAIR, council_id=council_id, now=NOW, key=KEY, make_token=tokens()
    )
    expired = await web.sign_in_by_link(
        factory(), token=late.token, client=CLIENT, now=NOW + timedelta(minutes=10), key=KEY
    )
    assert expired.refusal is not None and expired.refusal.params["field"] == "expired"


async def test_only_chairs_and_staff_get_a_link_and_a_demoted_chairs_session_ends(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, 7)
    with pytest.raises(errors.NotStaff):
        await web.console_link(factory(), user_id=7, council_id=council_id, now=NOW, key=KEY)
    await update_council(factory, council_id, staff={7})
    link = await web.console_link(factory(), user_id=7, council_id=council_id, now=NOW, key=KEY)
    signed = await web.sign_in_by_link(factory(), token=link.token, client=CLIENT, now=NOW, key=KEY)
    assert signed.token is not None
    assert await web.visitor(factory(), token=signed.token, now=NOW, key=KEY) is not None
    await update_council(factory, council_id, staff=set())
    assert await web.visitor(factory(), token=signed.token, now=NOW, key=KEY) is None


async def test_a_login_key_signs_in_as_often_as_scanned_until_reissued(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    member = await join(factory, council_id, 7)
    assert member.id is not None
    first = await web.issue_login_keys(
        factory(), council_id=council_id, member_ids=[member.id], user_id=CHAIR, now=NOW, key=KEY
    )
    sessions = []
    for minute in range(3):
        signed = await web.sign_in_by_key(
            factory(),
            token=first[0].token,
            client=CLIENT,
            now=NOW + timedelta(minutes=minute),
            key=KEY,
        )
        assert signed.token is not None and signed.session is not None
        assert signed.session.member_id == member.id
        sessions.append(signed.token)
    second = await web.issue_login_keys(
        factory(), council_id=council_id, member_ids=[member.id], user_id=CHAIR, now=NOW, key=KEY
    )
    assert second[0].token != first[0].token
    for token in sessions:  # the old key's browsers are signed out
        assert await web.visitor(factory(), token=token, now=NOW, key=KEY) is None
    old = await web.sign_in_by_key(factory(), token=first[0].token, client=CLIENT, now=NOW, key=KEY)
    assert old.refusal is not None and old.refusal.params["field"] == "revoked"
    new = await web.sign_in_by_key(
        factory(), token=second[0].token, client=CLIENT, now=NOW, key=KEY
    )
    assert new.token is not None
    kinds = [e.kind for e in factory.store.committed.web_access]
    assert kinds.count(AccessKind.KEY_USED) == 4 and kinds.count(AccessKind.KEY_ISSUED) == 2
    assert AccessKind.KEY_REFUSED in kinds


async def test_a_removed_household_is_refused_and_its_session_ends(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    member = await join(factory, council_id, 7)
    assert member.id is not None
    issued = await web.issue_login_keys(
        factory(), council_id=council_id, member_ids=[member.id], user_id=None, now=NOW, key=KEY
    )
    signed = await web.sign_in_by_key(
        factory(), token=issued[0].token, client=CLIENT, now=NOW, key=KEY
    )
    assert signed.token is not None
    async with factory() as uow:
        stored = await uow.members.get(member.id)
        assert stored is not None
        stored.status = MemberStatus.REMOVED
        await uow.members.update(stored)
        await uow.commit()
    assert await web.visitor(factory(), token=signed.token, now=NOW, key=KEY) is None
    refused = await web.sign_in_by_key(
        factory(), token=issued[0].token, client=CLIENT, now=NOW, key=KEY
    )
    assert refused.refusal is not None and refused.refusal.params["field"] == "removed"


async def test_guessing_is_limited_per_client_and_recorded(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    member = await join(factory, council_id, 7)
    assert member.id is not None
    issued = await web.issue_login_keys(
        factory(), council_id=council_id, member_ids=[member.id], user_id=None, now=NOW, key=KEY
    )
    for guess in range(10):
        refused = await web.sign_in_by_key(
            factory(), token=f"guess-{guess:04d}-abcdefghijklmnop", client=CLIENT, now=NOW, key=KEY
        )
        assert refused.refusal is not None and refused.refusal.params["field"] == "unknown"
    # The eleventh try within the hour is refused even with the right key...
    limited = await web.sign_in_by_key(
        factory(), token=issued[0].token, client=CLIENT, now=NOW, key=KEY
    )
    assert limited.refusal is not None and limited.refusal.params["field"] == "too_many"
    assert limited.refusal.params["count"] == 60
    # ... another client is not held back, and after the hour this one may try again.
    other = await web.sign_in_by_key(
        factory(), token=issued[0].token, client="192.0.2.2", now=NOW, key=KEY
    )
    assert other.token is not None
    later = await web.sign_in_by_key(
        factory(), token=issued[0].token, client=CLIENT, now=NOW + timedelta(minutes=61), key=KEY
    )
    assert later.token is not None


async def test_links_asked_for_are_limited_per_person(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    for _ in range(10):
        await web.console_link(factory(), user_id=CHAIR, council_id=council_id, now=NOW, key=KEY)
    with pytest.raises(WebRefused) as refused:
        await web.console_link(factory(), user_id=CHAIR, council_id=council_id, now=NOW, key=KEY)
    assert refused.value.params["field"] == "too_many"


async def test_a_telegram_account_off_the_roll_is_refused_and_signing_out_ends_a_session(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, 7)
    outsider = await web.sign_in_by_telegram(
        factory(), user_id=8, council_id=council_id, client=CLIENT, now=NOW, key=KEY
    )
    assert outsider.refusal is not None and outsider.refusal.params["field"] == "not_member"
    signed = await web.sign_in_by_telegram(
        factory(), user_id=7, council_id=council_id, client=CLIENT, now=NOW, key=KEY
    )
    assert signed.token is not None
    visitor = await web.visitor(factory(), token=signed.token, now=NOW, key=KEY)
    assert visitor is not None and not visitor.is_staff and visitor.member is not None
    assert visitor.member.user_id == 7
    await web.sign_out(factory(), token=signed.token, now=NOW, key=KEY)
    assert await web.visitor(factory(), token=signed.token, now=NOW, key=KEY) is None
    # An expired session is no session either.
    again = await web.sign_in_by_telegram(
        factory(), user_id=7, council_id=council_id, client=CLIENT, now=NOW, key=KEY
    )
    assert again.token is not None
    later = NOW + timedelta(days=181)
    assert await web.visitor(factory(), token=again.token, now=later, key=KEY) is None

