"""The household card with both ways in: the binding code (Telegram) and, where the web
is served, the household's login key to the residents' page (WeChat or any browser,
which cannot open a ``t.me`` link). Both are issued in one transaction: a card is never
printed with a code that binds and a key that was never stored, nor the other way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from domain.binding import DEFAULT_VALID_DAYS, new_code
from domain.ports import UnitOfWork
from domain.services.binding import CardBatch, issue_cards_within
from domain.services.web_access import issue_keys_within
from domain.web_access import new_token


async def issue_household_cards(
    uow: UnitOfWork,
    *,
    council_id: int | None,
    user_id: int | None,
    households: Sequence[str] = (),
    now: datetime,
    valid_for: timedelta = timedelta(days=DEFAULT_VALID_DAYS),
    make_code: Callable[[], str] = new_code,
    key: bytes = b"",
    web_key: bytes | None = None,
    make_token: Callable[[], str] = new_token,
) -> CardBatch:
    """``binding.issue_cards``; with ``web_key`` (the web's key, ``bot.keys.web_key``)
    each card carries a fresh login key as well, which ends the household's older key
    and the browsers it signed in (a reprinted card replaces the lost one)."""
    async with uow:
        batch = await issue_cards_within(
            uow,
            council_id=council_id,
            user_id=user_id,
            households=households,
            now=now,
            valid_for=valid_for,
            make_code=make_code,
            key=key,
        )
        if web_key is not None:
            assert batch.council.id is not None
            issued = await issue_keys_within(
                uow,
                council_id=batch.council.id,
                member_ids=[c.member.id for c in batch.cards if c.member.id is not None],
                user_id=user_id,
                now=now,
                key=web_key,
                make_token=make_token,
            )
            tokens = {i.member.id: i.token for i in issued}
            cards = [replace(c, login_key=tokens.get(c.member.id)) for c in batch.cards]
            batch = replace(batch, cards=cards)
        await uow.commit()
        return batch
