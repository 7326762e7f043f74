"""A member's identity is its messenger accounts: Telegram's and others', on the fakes."""

from __future__ import annotations

import pytest

from domain import errors, services
from domain.model import Account, Member, MemberStatus
from tests.domain.builders import NOW, join, set_up, unchanged
from tests.fakes import FakeUnitOfWorkFactory

WECOM = Account("wecom", "zhang.ayi")


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


def ident(member: Member) -> int:
    assert member.id is not None
    return member.id


async def test_joining_on_telegram_gives_the_telegram_account(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council = await set_up(factory)
    member = await join(factory, council, 101)
    assert member.accounts == (Account("telegram", "101"),)
    async with factory() as uow:
        assert await uow.members.by_account(council, Account.telegram(101)) == member


async def test_link_a_wecom_account_beside_the_telegram_one(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council = await set_up(factory)
    member = await join(factory, council, 101)
    linked = await services.link_account(
        factory(), council_id=council, member_id=ident(member), account=WECOM
    )
    assert linked.accounts == (Account.telegram(101), WECOM)
    assert linked.user_id == 101
    async with factory() as uow:
        assert await uow.members.by_account(council, WECOM) == linked
        assert await uow.members.by_user(council, 101) == linked
        assert await uow.members.by_account(council, Account("wecom", "101")) is None
    # Linking it again changes nothing.
    again = await services.link_account(
        factory(), council_id=council, member_id=ident(member), account=WECOM
    )
    assert again == linked


async def test_an_account_of_another_member_is_refused(factory: FakeUnitOfWorkFactory) -> None:
    council = await set_up(factory)
    owner = await join(factory, council, 101)
    other = await join(factory, council, 102)
    await services.link_account(
        factory(), council_id=council, member_id=ident(owner), account=WECOM
    )
    for account in (WECOM, Account.telegram(101)):
        with unchanged(factory), pytest.raises(errors.AccountTaken) as refused:
            await services.link_account(
                factory(), council_id=council, member_id=ident(other), account=account
            )
        assert refused.value.params == {"messenger": account.messenger, "account": account.id}


async def test_only_a_member_of_the_council_may_be_given_an_account(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council = await set_up(factory)
    elsewhere = await set_up(factory, chat_id=-100_777)
    member = await join(factory, council, 101)
    with unchanged(factory), pytest.raises(errors.NotMember):
        await services.link_account(
            factory(), council_id=elsewhere, member_id=ident(member), account=WECOM
        )
    with unchanged(factory), pytest.raises(errors.NotMember):
        await services.link_account(factory(), council_id=council, member_id=999, account=WECOM)
    async with factory() as uow:
        removed = await uow.members.get(ident(member))
        assert removed is not None
        removed.status = MemberStatus.REMOVED
        await uow.members.update(removed)
        await uow.commit()
    with unchanged(factory), pytest.raises(errors.NotMember):
        await services.link_account(
            factory(), council_id=council, member_id=ident(member), account=WECOM
        )


async def test_a_telegram_account_linked_to_a_roll_row_binds_it(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council = await set_up(factory)
    async with factory() as uow:
        row = await uow.members.add(Member(council, None, "王老师", "6", "3", "502", joined_at=NOW))
        await uow.commit()
    assert row.accounts == ()
    bound = await services.link_account(
        factory(), council_id=council, member_id=ident(row), account=Account.telegram(555)
    )
    assert bound.user_id == 555 and bound.accounts == (Account.telegram(555),)


@pytest.mark.parametrize(
    ("messenger", "account_id"),
    [
        ("telegram", "abc"),  # a Telegram account is its user id
        ("telegram", "0"),
        ("telegram", "0101"),  # one spelling per account
        ("telegram", "-5"),
        ("telegram", str(2**63)),
        ("Telegram", "5"),  # messengers are named in lower case
        ("", "5"),
        ("wecom", ""),
        ("wecom", "x" * 129),
        ("a" * 17, "5"),
    ],
)
def test_accounts_that_cannot_be(messenger: str, account_id: str) -> None:
    with pytest.raises(errors.InvalidInput):
        Account(messenger, account_id)


def test_the_same_id_on_two_messengers_is_two_accounts() -> None:
    assert Account("telegram", "8002") != Account("wecom", "8002")
    assert Account.telegram(8002).telegram_id == 8002
    assert Account("wecom", "8002").telegram_id is None
