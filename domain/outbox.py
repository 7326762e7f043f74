"""Use cases of the outbox: take notices to send, and record how sending went.

A notice is taken (SENDING, by one process) in a commit of its own before the
message goes out, and marked SENT after. A process that dies in between leaves
it SENDING; whoever notices the process is gone (``recover_notices``) decides by
the notice's kind. Telegram has no idempotency key, so such a notice may or may
not have gone out:

- most notices are harmless to repeat (an offer, a reminder, a nudge, a receipt,
  the ballot message a collection deadline opens, whose older copy's buttons
  would only answer "stale"), and losing them is not: they are sent again;
- an outcome must not be announced twice: it is given up as UNKNOWN and logged
  (the ballot message itself is frozen by an edit, which is safe to repeat).

The same holds for a send that fails in a way that leaves delivery in doubt (a
timeout, a connection lost mid-request): repeated if repeatable, else UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from domain.model import Notice, NoticeKind, NoticeState
from domain.notices import queue
from domain.ports import UnitOfWork
from domain.volunteering import offer_unreachable, remember_offer_message

# Announcements a council would misread if they came twice: at most once.
AT_MOST_ONCE: frozenset[NoticeKind] = frozenset({NoticeKind.BALLOT_OUTCOME})


def repeatable(kind: NoticeKind) -> bool:
    """May this notice be sent again when it is not known whether it went out?"""
    return kind not in AT_MOST_ONCE


MAX_ATTEMPTS = 5


async def claim_notices(
    uow: UnitOfWork, *, now: datetime, limit: int, claimed_by: int | None = None
) -> list[Notice]:
    async with uow:
        notices = await uow.notices.claim(now, limit, claimed_by)
        await uow.commit()
        return notices


async def notices_sent(
    uow: UnitOfWork, *, sent: Sequence[tuple[int, int | None]], now: datetime
) -> None:
    """A batch delivered: (notice id, message ref) each, recorded in one transaction.

    One commit per batch rather than per message is what lets a call for help to a
    thousand volunteers go out at Telegram's pace; a sender that dies before it
    leaves the batch SENDING, given up later as UNKNOWN (at most once).
    """
    async with uow:
        found = False
        for notice_id, message_ref in sent:
            notice = await uow.notices.get(notice_id)
            if notice is None:
                continue
            found = True
            notice.state = NoticeState.SENT
            notice.sent_at = now
            notice.message_ref = message_ref
            await uow.notices.update(notice)
            if notice.kind is NoticeKind.OFFER and message_ref is not None:
                await remember_offer_message(uow, notice.subject, message_ref)
        if found:
            await uow.commit()


async def notice_dropped(uow: UnitOfWork, *, notice_id: int, now: datetime) -> None:
    """Nothing to send any more (the meeting was cancelled meanwhile, …)."""
    async with uow:
        notice = await uow.notices.get(notice_id)
        if notice is None:
            return
        notice.state = NoticeState.SENT
        notice.sent_at = now
        await uow.notices.update(notice)
        await uow.commit()


async def notice_failed(
    uow: UnitOfWork, *, notice_id: int, now: datetime, retry_in: timedelta
) -> bool:
    """A passing failure: try again later, or give up after ``MAX_ATTEMPTS``.

    Returns True when it will be tried again.
    """
    async with uow:
        notice = await uow.notices.get(notice_id)
        if notice is None or notice.state is not NoticeState.SENDING:
            return False  # given up meanwhile (UNKNOWN): never back in the queue
        again = notice.attempts < MAX_ATTEMPTS
        notice.state = NoticeState.PENDING if again else NoticeState.FAILED
        notice.not_before = now + retry_in if again else None
        await uow.notices.update(notice)
        await uow.commit()
        return again


async def notice_postponed(uow: UnitOfWork, *, notice_id: int, until: datetime) -> None:
    """Telegram said "too many requests, retry after …": not a failure of the notice,
    so it does not use up an attempt."""
    async with uow:
        notice = await uow.notices.get(notice_id)
        if notice is None or notice.state is not NoticeState.SENDING:
            return
        notice.state = NoticeState.PENDING
        notice.not_before = until
        notice.attempts = max(0, notice.attempts - 1)
        await uow.notices.update(notice)
        await uow.commit()


async def recipient_unreachable(uow: UnitOfWork, *, notice_id: int, now: datetime) -> bool:
    """The member never started the bot, or blocked it: remember that, and where the
    notice has a public counterpart, name them in the group instead.

    Returns True when a group notice was queued.
    """
    async with uow:
        notice = await uow.notices.get(notice_id)
        if notice is None:
            return False
        notice.state = NoticeState.UNREACHABLE
        await uow.notices.update(notice)
        await uow.contacts.mark(notice.chat_id, False, now)
        queued = False
        group = notice.params.get("group")
        thread = int(str(notice.params.get("thread", 0)))
        if notice.kind is NoticeKind.OFFER:
            offer = await uow.offers.get(notice.subject)
            if offer is not None:
                queued = await offer_unreachable(uow, offer, now)
        elif notice.kind in (NoticeKind.TASK_ACCEPTED, NoticeKind.TASK_DONE) and isinstance(
            group, int
        ):  # the requester blocked the bot since: tell them in the group
            queued = (
                await queue(
                    uow,
                    replace(
                        notice,
                        key=f"{notice.key}:group",
                        chat_id=group,
                        thread_id=thread,
                        private=False,
                        state=NoticeState.PENDING,
                        attempts=0,
                        id=None,
                    ),
                )
                > 0
            )
        elif notice.kind is NoticeKind.BALLOT_NUDGE and isinstance(group, int):
            # A secret ballot names nobody in the group: one nameless reminder there,
            # however many members could not be told privately (the key is shared).
            secret = bool(notice.params.get("secret"))
            shared = notice.params.get("group_key")
            queued = (
                await queue(
                    uow,
                    Notice(
                        key=str(shared) if secret and shared else f"{notice.key}:group",
                        kind=NoticeKind.NON_VOTERS,
                        council_id=notice.council_id,
                        chat_id=group,
                        thread_id=thread,
                        subject=notice.subject,
                        created_at=now,
                        params={
                            "deadline": notice.params.get("deadline"),
                            "members": []
                            if secret
                            else [[notice.chat_id, notice.params.get("name", "")]],
                            "secret": secret,
                        },
                    ),
                )
                > 0
            )
        await uow.commit()
        return queued


@dataclass(frozen=True)
class Recovered:
    resent: list[Notice]  # back in the queue
    in_doubt: list[Notice]  # given up as UNKNOWN: perhaps sent, perhaps not


async def in_flight_claimers(uow: UnitOfWork) -> set[int | None]:
    """The processes with notices SENDING (None: claimed by an older release)."""
    async with uow:
        return await uow.notices.claimers()


async def recover_notices(
    uow: UnitOfWork, *, dead: Collection[int | None], now: datetime
) -> Recovered:
    """The notices processes that are gone left SENDING: repeat the repeatable ones,
    give up the others as UNKNOWN (never sent twice)."""
    if not dead:
        return Recovered([], [])
    async with uow:
        resent: list[Notice] = []
        in_doubt: list[Notice] = []
        for notice in await uow.notices.in_flight(list(dead)):
            if repeatable(notice.kind):
                notice.state = NoticeState.PENDING
                notice.not_before = None
                notice.attempts = max(0, notice.attempts - 1)  # dying is not the notice's fault
                resent.append(notice)
            else:
                notice.state = NoticeState.UNKNOWN
                in_doubt.append(notice)
            await uow.notices.update(notice)
        await uow.commit()
        return Recovered(resent, in_doubt)


async def delivery_in_doubt(
    uow: UnitOfWork, *, notice_id: int, now: datetime, retry_in: timedelta
) -> bool:
    """A send failed in a way that leaves open whether it arrived (a timeout, a lost
    connection): a repeatable notice is queued again, another is given up as UNKNOWN.
    Returns True when it will be sent again."""
    async with uow:
        notice = await uow.notices.get(notice_id)
        if notice is None or notice.state is not NoticeState.SENDING:
            return False
        again = repeatable(notice.kind) and notice.attempts < MAX_ATTEMPTS
        notice.state = NoticeState.PENDING if again else NoticeState.UNKNOWN
        notice.not_before = now + retry_in if again else None
        await uow.notices.update(notice)
        await uow.commit()
        return again


async def note_private_chat(uow: UnitOfWork, *, user_id: int, now: datetime) -> None:
    """The member wrote to the bot privately, so the bot may write to them."""
    async with uow:
        await uow.contacts.mark(user_id, True, now)
        await uow.commit()
