"""The binding codes' repository contract, on the fakes, SQLite and PostgreSQL; and the
use cases over it on both databases (a code binds once, a new card ends the old one)."""

from __future__ import annotations

from datetime import timedelta

from domain import binding
from domain.binding import BindingCode
from domain.model import Member
from domain.ports import UnitOfWorkFactory
from domain.services.binding import bind, issue_cards
from tests.storage.helpers import BIG_USER, T0, assert_utc, at, in_shanghai, make_council


async def roster_row(uows: UnitOfWorkFactory, council_id: int, name: str, room: str) -> int:
    async with uows() as uow:
        member = await uow.members.add(Member(council_id, None, name, "3", "2", room, joined_at=T0))
        await uow.commit()
    assert member.id is not None
    return member.id


def code(council_id: int, member_id: int, text: str, *, days: int = 30) -> BindingCode:
    return BindingCode(
        council_id=council_id,
        member_id=member_id,
        digest=binding.digest(text, b"k"),
        created_at=in_shanghai(T0),
        expires_at=in_shanghai(T0 + timedelta(days=days)),
    )


async def test_codes_round_trip_expire_and_are_used_once(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    zhang = await roster_row(uows, council_id, "张三", "301")
    li = await roster_row(uows, council_id, "李四", "302")
    async with uows() as uow:
        await uow.binding_codes.add(
            [code(council_id, zhang, "AAAA-AAAA-AAAA"), code(council_id, li, "BBBB-BBBB-BBBB")]
        )
        await uow.binding_codes.add([code(council_id, li, "CCCC-CCCC-CCCC", days=1)])
        await uow.commit()

    async with uows() as uow:
        found = await uow.binding_codes.by_digest(binding.digest("AAAA-AAAA-AAAA", b"k"))
        assert found is not None and found.id is not None
        assert (found.council_id, found.member_id, found.used_at, found.used_by) == (
            council_id,
            zhang,
            None,
            None,
        )
        assert found.created_at == T0 and found.expires_at == T0 + timedelta(days=30)
        assert_utc(found.expires_at)
        assert await uow.binding_codes.by_digest(binding.digest("DDDD-DDDD-DDDD", b"k")) is None
        # Li's two live codes end; one already past its end would not count.
        assert await uow.binding_codes.expire_unused([li], at(60 * 24 * 2)) == 1
        assert await uow.binding_codes.expire_unused([li], at(60 * 24 * 2)) == 0
        assert await uow.binding_codes.use(found.id, BIG_USER, at(5))
        assert not await uow.binding_codes.use(found.id, BIG_USER + 1, at(6))
        await uow.commit()

    async with uows() as uow:
        used = await uow.binding_codes.by_digest(binding.digest("AAAA-AAAA-AAAA", b"k"))
        assert used is not None and (used.used_at, used.used_by) == (at(5), BIG_USER)
        assert_utc(used.used_at)
        ended = await uow.binding_codes.by_digest(binding.digest("BBBB-BBBB-BBBB", b"k"))
        assert ended is not None and ended.expires_at == at(60 * 24 * 2)
        short = await uow.binding_codes.by_digest(binding.digest("CCCC-CCCC-CCCC", b"k"))
        assert short is not None and short.expires_at == T0 + timedelta(days=1)
        # A used code is not ended again.
        assert await uow.binding_codes.expire_unused([zhang], at(7)) == 0


async def test_attempts_count_failures_per_account_within_the_window(
    uows: UnitOfWorkFactory,
) -> None:
    async with uows() as uow:
        for minutes, who, ok in [(0, BIG_USER, False), (10, BIG_USER, True), (20, BIG_USER, False),
                                 (30, 5, False), (40, BIG_USER, False)]:  # fmt: skip
            await uow.binding_codes.attempt(who, in_shanghai(at(minutes)), ok)
        await uow.commit()
    async with uows() as uow:
        failures = await uow.binding_codes.failures_since(BIG_USER, at(20))
        assert sorted(failures) == [at(20), at(40)]
        for moment in failures:
            assert_utc(moment)
        assert await uow.binding_codes.failures_since(5, at(0)) == [at(30)]
        assert await uow.binding_codes.failures_since(6, at(0)) == []


async def test_uncommitted_codes_are_lost(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    zhang = await roster_row(uows, council_id, "张三", "301")
    async with uows() as uow:
        await uow.binding_codes.add([code(council_id, zhang, "AAAA-AAAA-AAAA")])
        await uow.binding_codes.attempt(BIG_USER, T0, False)
    async with uows() as uow:
        assert await uow.binding_codes.by_digest(binding.digest("AAAA-AAAA-AAAA", b"k")) is None
        assert await uow.binding_codes.failures_since(BIG_USER, T0) == []


async def test_a_card_binds_its_member_on_every_store(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    zhang = await roster_row(uows, council_id, "张三", "301")
    chair = 7_000_000_001
    old = await issue_cards(uows(), council_id=council_id, user_id=chair, now=T0)
    new = await issue_cards(uows(), council_id=council_id, user_id=chair, now=at(60))
    assert new.replaced == 1
    stale = await bind(uows(), text=old.cards[0].code, user_id=BIG_USER, language=None, now=at(61))
    assert stale.refusal is not None and stale.refusal.params["field"] == "expired"
    bound = await bind(uows(), text=new.cards[0].code, user_id=BIG_USER, language="en", now=at(62))
    assert bound.refusal is None and bound.member is not None and bound.member.id == zhang
    async with uows() as uow:
        member = await uow.members.by_user(council_id, BIG_USER)
        assert member is not None and member.id == zhang and member.language == "en"
        assert await uow.binding_codes.failures_since(BIG_USER, T0) == [at(61)]
    again = await bind(uows(), text=new.cards[0].code, user_id=5, language=None, now=at(63))
    assert again.refusal is not None and again.refusal.params["field"] == "used"
