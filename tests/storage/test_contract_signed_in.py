"""A web session with its council and member in one read, on the fakes, SQLite and
PostgreSQL (``WebAccessRepository.signed_in``, asked on every page view)."""

from __future__ import annotations

from datetime import timedelta

from domain.model import Flat
from domain.ports import UnitOfWorkFactory
from domain.web_access import SessionKind, Via, WebSession
from tests.storage.helpers import T0, make_council, make_members

CHAIR = 7_000_000_001  # make_council's chair


async def _session(uows: UnitOfWorkFactory, session: WebSession) -> None:
    async with uows() as uow:
        await uow.web.add_session(session)
        await uow.commit()


def _made(digest: str, council_id: int, kind: SessionKind, **more: int) -> WebSession:
    via = Via.LINK if kind is SessionKind.STAFF else Via.KEY
    return WebSession(digest, council_id, kind, via, T0, T0 + timedelta(days=1), **more)  # type: ignore[arg-type]


async def test_signed_in_reads_the_session_its_council_and_its_member(
    uows: UnitOfWorkFactory,
) -> None:
    council_id = await make_council(uows)
    other_council = await make_council(uows, chat_id=-100_999)
    resident_id, _ = await make_members(uows, council_id, 2)
    async with uows() as uow:
        member = await uow.members.get(resident_id)
        assert member is not None
        member.flats = (Flat("1-1-101", member.area, True),)
        await uow.members.update(member)
        await uow.commit()
    # The chair is on the roll of the first council only.
    (chair_entry,) = await make_members(uows, council_id, 1, first_user=CHAIR)
    await _session(uows, _made("r" * 64, council_id, SessionKind.RESIDENT, member_id=resident_id))
    await _session(uows, _made("s" * 64, council_id, SessionKind.STAFF, user_id=CHAIR))
    await _session(uows, _made("o" * 64, other_council, SessionKind.STAFF, user_id=CHAIR))

    async with uows() as uow:
        assert await uow.web.signed_in("x" * 64) is None

        found = await uow.web.signed_in("r" * 64)
        assert found is not None
        session, council, member = found
        assert (session.kind, session.member_id, council.id) == (
            SessionKind.RESIDENT, resident_id, council_id,
        )  # fmt: skip
        assert council.chairs == {CHAIR} and council.timezone == "Asia/Shanghai"
        assert member == await uow.members.get(resident_id)
        assert member is not None and [f.household for f in member.flats] == ["1-1-101"]

        found = await uow.web.signed_in("s" * 64)
        assert found is not None
        session, council, member = found
        assert session.user_id == CHAIR and council.id == council_id
        assert member is not None and member.id == chair_entry

        found = await uow.web.signed_in("o" * 64)  # staff not on that council's roll
        assert found is not None
        session, council, member = found
        assert council.id == other_council and member is None
