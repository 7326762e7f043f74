"""Binding codes on the fakes: issuing cards, binding by a code, and every refusal.

A refusal of a code records the attempt and nothing else; the sixth wrong code within
an hour is refused without being looked at.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import binding, errors
from domain.binding import ALPHABET, NothingToPrint, WhichCouncil
from domain.model import Account, Member, MemberStatus
from domain.services.binding import Binding, CardBatch, bind, issue_cards
from tests.domain.builders import CHAIR, NOW, STRANGER, set_up
from tests.fakes import FakeUnitOfWorkFactory

RESIDENT = 501
NEIGHBOUR = 502
KEY = b"the front end's key for binding codes"


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


async def roster(factory: FakeUnitOfWorkFactory, council_id: int, *rows: str) -> list[int]:
    """Roll entries without an account, as an imported roster makes them: "name@3-2-301"."""
    ids = []
    for row in rows:
        name, household = row.split("@")
        building, unit, room = household.split("-")
        async with factory() as uow:
            member = await uow.members.add(
                Member(council_id, None, name, building, unit, room, joined_at=NOW)
            )
            await uow.commit()
        assert member.id is not None
        ids.append(member.id)
    return ids


async def issue(
    factory: FakeUnitOfWorkFactory, council_id: int | None, *households: str, **kw: object
) -> CardBatch:
    return await issue_cards(
        factory(),
        council_id=council_id,
        user_id=kw.pop("user_id", CHAIR),  # type: ignore[arg-type]
        households=households,
        now=kw.pop("now", NOW),  # type: ignore[arg-type]
        key=KEY,
        **kw,  # type: ignore[arg-type]
    )


async def use(
    factory: FakeUnitOfWorkFactory, text: str, user_id: int = RESIDENT, **kw: object
) -> Binding:
    return await bind(
        factory(),
        text=text,
        user_id=user_id,
        language="zh_CN",
        now=kw.pop("now", NOW + timedelta(days=1)),  # type: ignore[arg-type]
        key=KEY,
        **kw,  # type: ignore[arg-type]
    )


def attempts(factory: FakeUnitOfWorkFactory) -> list[tuple[int, bool]]:
    return [(who, ok) for who, _at, ok in factory.store.committed.binding_attempts]


# --- codes -------------------------------------------------------------------------------


def test_a_code_has_sixty_bits_and_no_look_alikes() -> None:
    assert len(set(ALPHABET)) == 32 and not set("0O1I") & set(ALPHABET)
    codes = {binding.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert len(code) == 14 and code[4] == code[9] == "-"
        assert binding.read_code(code) == code


@given(st.text(alphabet=ALPHABET, min_size=12, max_size=12))
def test_a_code_is_read_however_it_is_typed(squeezed: str) -> None:
    code = binding.printed(squeezed)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code.lower())  # ａｂｃｄ－…
    for typed in (code, squeezed, code.lower(), " ".join(code.split("-")), full_width):
        assert binding.looks_like_code(typed), typed
        assert binding.read_code(typed) == code, typed
        assert binding.digest(typed, KEY) == binding.digest(code, KEY)


@pytest.mark.parametrize(
    "payload",
    ["p12_Ab3-x_9Q", "m3", "p5", "r7_AAAAAAAA", "m²", "p" + "9" * 19, "", "hello"],
)
def test_the_bots_signed_links_and_junk_are_not_codes(payload: str) -> None:
    assert not binding.looks_like_code(payload)


def test_a_mistyped_code_is_still_taken_as_one_and_refused_as_malformed() -> None:
    assert binding.looks_like_code("ABCD-EFGH-JKL")  # one symbol short
    assert binding.read_code("ABCD-EFGH-JKL") is None
    assert binding.read_code("ABCD-EFGH-JKL0") is None  # 0 is not in the alphabet


def test_the_digest_is_an_hmac_of_the_twelve_symbols_under_the_key() -> None:
    import hashlib
    import hmac

    expected = hmac.new(KEY, b"ABCDEFGHJKMN", hashlib.sha256).hexdigest()
    assert binding.digest("abcd-efgh-jkmn", KEY) == expected
    # Without the key a copy of the database tells nothing: another key, another digest.
    assert binding.digest("ABCD-EFGH-JKMN", b"another") != expected
    assert expected != hashlib.sha256(b"ABCDEFGHJKMN").hexdigest()


# --- issuing cards -------------------------------------------------------------------------


async def test_cards_for_members_without_an_account_in_address_order(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await roster(factory, council_id, "王五@12-1-101", "张三@3-2-301", "李四@3-10-101")
    async with factory() as uow:  # one with an account already gets no card
        await uow.members.add(Member(council_id, 77, "赵六", "3", "1", "101", joined_at=NOW))
        await uow.commit()

    batch = await issue(factory, council_id)
    assert [c.member.household for c in batch.cards] == ["3-2-301", "3-10-101", "12-1-101"]
    assert batch.expires_at == NOW + timedelta(days=30) and batch.replaced == 0
    stored = factory.store.committed.binding_codes
    assert sorted(c.digest for c in stored.values()) == sorted(
        binding.digest(c.code, KEY) for c in batch.cards
    )
    # Only digests are kept: no stored field holds a code.
    for code in stored.values():
        assert not {c.code for c in batch.cards} & {str(v) for v in vars(code).values()}


async def test_cards_for_a_building_or_a_household_only(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    await roster(factory, council_id, "张三@3-2-301", "李四@3-10-101", "王五@12-1-101")
    assert [c.member.name for c in (await issue(factory, council_id, "3")).cards] == [
        "张三",
        "李四",
    ]
    only = await issue(factory, council_id, "3栋2单元301")
    assert [c.member.name for c in only.cards] == ["张三"] and only.replaced == 1
    with pytest.raises(NothingToPrint) as nothing:
        await issue(factory, council_id, "5")
    assert nothing.value.params == {"field": "households", "households": "5"}


async def test_a_new_card_ends_the_old_unused_one(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    await roster(factory, council_id, "张三@3-2-301")
    first = (await issue(factory, council_id)).cards[0].code
    second = await issue(factory, council_id, now=NOW + timedelta(hours=1))
    assert second.replaced == 1
    refused = await use(factory, first)
    assert refused.refusal is not None and refused.refusal.params["field"] == "expired"
    bound = await use(factory, second.cards[0].code, user_id=NEIGHBOUR)
    assert bound.refusal is None and bound.member is not None and bound.member.name == "张三"


async def test_only_chairs_and_staff_issue_cards(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    await roster(factory, council_id, "张三@3-2-301")
    before = factory.store.snapshot()
    with pytest.raises(errors.NotStaff):
        await issue(factory, council_id, user_id=STRANGER)
    with pytest.raises(errors.NotStaff):  # no council given, none kept
        await issue(factory, None, user_id=STRANGER)
    assert factory.store.committed == before
    batch = await issue(factory, None)  # the one council the chair keeps
    assert batch.council.id == council_id and len(batch.cards) == 1


async def test_a_private_chat_with_two_councils_asks_which(
    factory: FakeUnitOfWorkFactory,
) -> None:
    first = await set_up(factory)
    second = await set_up(factory, chat_id=-100777, title="幸福里社区议事会")
    with pytest.raises(WhichCouncil) as which:
        await issue(factory, None)
    assert which.value.params == {
        "choices": f"#{first} 杨家园社区小院议事会\n#{second} 幸福里社区议事会",
        "first": first,
    }


async def test_nothing_to_print_when_everyone_has_an_account(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    with pytest.raises(NothingToPrint) as nothing:
        await issue(factory, council_id)
    assert nothing.value.params == {}


# --- binding -------------------------------------------------------------------------------


async def test_a_code_binds_the_account_to_its_roll_entry_once(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    zhang, li = await roster(factory, council_id, "张三@3-2-301", "李四@3-2-302")
    cards = {c.member.id: c.code for c in (await issue(factory, council_id)).cards}

    bound = await use(factory, cards[li].lower().replace("-", " "))
    assert bound.refusal is None and bound.council is not None and bound.member is not None
    assert (bound.council.id, bound.member.id, bound.member.name) == (council_id, li, "李四")
    member = factory.store.committed.members[li]
    assert member.user_id == RESIDENT and member.account("telegram") == Account.telegram(RESIDENT)
    assert member.language == "zh_CN"
    assert factory.store.committed.members[zhang].user_id is None
    used = [c for c in factory.store.committed.binding_codes.values() if c.member_id == li]
    assert [(c.used_by, c.used_at) for c in used] == [(RESIDENT, NOW + timedelta(days=1))]

    again = await use(factory, cards[li], user_id=NEIGHBOUR)
    assert again.refusal is not None and again.refusal.params == {
        "field": "used",
        "code": cards[li],
    }
    # The account is on the roll now: another entry's code is refused.
    other = await use(factory, cards[zhang])
    assert other.refusal is not None and other.refusal.params == {
        "field": "already_bound",
        "council": "杨家园社区小院议事会",
        "name": "李四",
    }
    assert factory.store.committed.members[zhang].user_id is None
    assert attempts(factory) == [(RESIDENT, True), (NEIGHBOUR, False), (RESIDENT, False)]


async def test_a_removed_self_join_gives_its_account_to_the_card(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    async with factory() as uow:
        old = await uow.members.add(
            Member(
                council_id, RESIDENT, "小李", "3", "2", "302", joined_at=NOW,
                status=MemberStatus.REMOVED,
            )
        )  # fmt: skip
        await uow.commit()
    (li,) = await roster(factory, council_id, "李四@3-2-302")
    code = (await issue(factory, council_id)).cards[0].code
    bound = await use(factory, code)
    assert bound.refusal is None
    members = factory.store.committed.members
    assert members[li].user_id == RESIDENT and old.id is not None
    assert members[old.id].user_id is None and members[old.id].accounts == ()


async def test_refused_codes_record_only_the_attempt(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    await roster(factory, council_id, "张三@3-2-301")
    code = (await issue(factory, council_id)).cards[0].code
    expired_at = NOW + timedelta(days=30)
    cases = [
        ("ABCD-EFGH-JKL", {"field": "malformed", "value": "ABCD-EFGH-JKL"}, NOW),
        ("ABCD-EFGH-JKLM", {"field": "unknown", "code": "ABCD-EFGH-JKLM"}, NOW),
        (code, {"field": "expired", "code": code}, expired_at),
    ]
    for n, (text, params, at) in enumerate(cases, 1):
        before = factory.store.snapshot()
        result = await use(factory, text, now=at)
        assert result.refusal is not None and result.refusal.params == params
        after = factory.store.committed
        assert after.binding_attempts == [*before.binding_attempts, (RESIDENT, at, False)]
        assert after.members == before.members and after.binding_codes == before.binding_codes
        assert len(after.binding_attempts) == n


async def test_the_sixth_wrong_code_within_an_hour_is_refused_unread(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await roster(factory, council_id, "张三@3-2-301")
    code = (await issue(factory, council_id)).cards[0].code
    start = NOW + timedelta(days=1)
    for n in range(5):
        wrong = await use(factory, "ABCD-EFGH-JKLM", now=start + timedelta(minutes=n))
        assert wrong.refusal is not None and wrong.refusal.params["field"] == "unknown"
    # Now even the right code is refused: it is not looked at.
    limited = await use(factory, code, now=start + timedelta(minutes=10))
    assert limited.refusal is not None
    assert limited.refusal.params == {"field": "too_many", "count": 51}  # the 2nd fails at 61
    assert factory.store.committed.members[1].user_id is None
    assert attempts(factory)[-1] == (RESIDENT, False) and len(attempts(factory)) == 6
    # Another account is not limited by this one's failures.
    other = await use(factory, code, user_id=NEIGHBOUR, now=start + timedelta(minutes=11))
    assert other.refusal is None
    # An hour after the failures the limit has cleared for the first account.
    later = await use(factory, "ABCD-EFGH-JKLM", now=start + timedelta(minutes=71))
    assert later.refusal is not None and later.refusal.params["field"] == "unknown"
