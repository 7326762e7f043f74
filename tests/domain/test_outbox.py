"""Use cases of the outbox (``domain/outbox.py``), on the fakes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain import outbox
from domain.due_jobs import Ran, run_job
from domain.model import Notice, NoticeKind, NoticeState
from domain.outbox import MAX_ATTEMPTS
from tests.domain.builders import (
    CHAT,
    GRACE,
    NOW,
    join,
    notices,
    open_topic,
    put_motion,
    reachable,
    set_up,
    unchanged,
)
from tests.fakes import FakeUnitOfWorkFactory

RETRY = timedelta(minutes=1)


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


async def queue(
    factory: FakeUnitOfWorkFactory,
    key: str,
    *,
    not_before: datetime | None = None,
    kind: NoticeKind = NoticeKind.MEETING_REMINDER,
    chat_id: int = CHAT,
    private: bool = False,
    params: dict[str, object] | None = None,
) -> int:
    notice = Notice(
        key=key,
        kind=kind,
        council_id=1,
        chat_id=chat_id,
        subject=7,
        created_at=NOW,
        private=private,
        params=params or {},
        not_before=not_before,
    )
    async with factory() as uow:
        assert await uow.notices.add(notice)
        await uow.commit()
    assert notice.id is not None
    return notice.id


def notice(factory: FakeUnitOfWorkFactory, notice_id: int) -> Notice:
    return factory.store.committed.notices[notice_id]


async def claim(factory: FakeUnitOfWorkFactory, at: datetime = NOW, limit: int = 10) -> list[int]:
    return [n.id or 0 for n in await outbox.claim_notices(factory(), now=at, limit=limit)]


# --- claiming ----------------------------------------------------------------


async def test_claiming_takes_pending_notices_oldest_first_up_to_the_limit(
    factory: FakeUnitOfWorkFactory,
) -> None:
    ids = [await queue(factory, f"n{i}") for i in range(5)]

    taken = await outbox.claim_notices(factory(), now=NOW, limit=3)

    assert [n.id for n in taken] == ids[:3]
    assert all(n.state is NoticeState.SENDING and n.attempts == 1 for n in taken)
    assert [notice(factory, i).state for i in ids] == [NoticeState.SENDING] * 3 + [
        NoticeState.PENDING
    ] * 2
    assert await claim(factory) == ids[3:]  # the rest, and nothing taken twice
    assert await claim(factory) == []


async def test_claiming_with_nothing_to_send(factory: FakeUnitOfWorkFactory) -> None:
    assert await claim(factory) == []
    ids = [await queue(factory, f"n{i}") for i in range(2)]
    assert await claim(factory, limit=0) == []
    assert [notice(factory, i).state for i in ids] == [NoticeState.PENDING] * 2


async def test_claiming_respects_not_before(factory: FakeUnitOfWorkFactory) -> None:
    later = await queue(factory, "later", not_before=NOW + timedelta(minutes=5))
    due = await queue(factory, "due", not_before=NOW)
    free = await queue(factory, "free")

    assert await claim(factory) == [due, free]
    assert notice(factory, later).state is NoticeState.PENDING
    assert await claim(factory, NOW + timedelta(minutes=4, seconds=59)) == []
    assert await claim(factory, NOW + timedelta(minutes=5)) == [later]


async def test_a_limit_counts_only_what_is_taken(factory: FakeUnitOfWorkFactory) -> None:
    await queue(factory, "later", not_before=NOW + timedelta(hours=1))
    sent = await queue(factory, "sent")
    await claim(factory, limit=1)
    await outbox.notices_sent(factory(), sent=[(sent, 1)], now=NOW)
    due = [await queue(factory, f"due{i}") for i in range(3)]
    assert await claim(factory, limit=2) == due[:2]


# --- how sending went --------------------------------------------------------


async def test_a_sent_notice_is_recorded(factory: FakeUnitOfWorkFactory) -> None:
    notice_id = await queue(factory, "n")
    await claim(factory)
    sent_at = NOW + timedelta(seconds=2)

    await outbox.notices_sent(factory(), sent=[(notice_id, 555)], now=sent_at)

    stored = notice(factory, notice_id)
    assert (stored.state, stored.sent_at, stored.message_ref) == (
        NoticeState.SENT,
        sent_at,
        555,
    )
    assert await claim(factory, NOW + timedelta(days=1)) == []


async def test_a_dropped_notice_is_never_sent(factory: FakeUnitOfWorkFactory) -> None:
    notice_id = await queue(factory, "n")
    await claim(factory)
    await outbox.notice_dropped(factory(), notice_id=notice_id, now=NOW)
    stored = notice(factory, notice_id)
    assert (stored.state, stored.sent_at, stored.message_ref) == (NoticeState.SENT, NOW, None)


async def test_recording_an_unknown_notice_does_nothing(factory: FakeUnitOfWorkFactory) -> None:
    with unchanged(factory):
        await outbox.notices_sent(factory(), sent=[(42, 1)], now=NOW)
        await outbox.notice_dropped(factory(), notice_id=42, now=NOW)
        assert await outbox.notice_failed(factory(), notice_id=42, now=NOW, retry_in=RETRY) is False
        assert await outbox.recipient_unreachable(factory(), notice_id=42, now=NOW) is False


async def test_a_failed_notice_is_retried_up_to_max_attempts_then_failed(
    factory: FakeUnitOfWorkFactory,
) -> None:
    notice_id = await queue(factory, "n")
    at = NOW
    for attempt in range(1, MAX_ATTEMPTS):
        assert await claim(factory, at) == [notice_id]
        assert notice(factory, notice_id).attempts == attempt
        again = await outbox.notice_failed(factory(), notice_id=notice_id, now=at, retry_in=RETRY)
        assert again is True
        stored = notice(factory, notice_id)
        assert (stored.state, stored.not_before) == (NoticeState.PENDING, at + RETRY)
        # Not before its retry time.
        assert await claim(factory, at + RETRY - timedelta(seconds=1)) == []
        at += RETRY

    assert await claim(factory, at) == [notice_id]  # the last attempt
    assert notice(factory, notice_id).attempts == MAX_ATTEMPTS
    again = await outbox.notice_failed(factory(), notice_id=notice_id, now=at, retry_in=RETRY)

    assert again is False
    stored = notice(factory, notice_id)
    assert (stored.state, stored.not_before) == (NoticeState.FAILED, None)
    assert await claim(factory, at + timedelta(days=1)) == []


@pytest.mark.parametrize("state", [NoticeState.UNKNOWN, NoticeState.SENT])
async def test_a_failure_reported_after_the_notice_left_sending_changes_nothing(
    factory: FakeUnitOfWorkFactory, state: NoticeState
) -> None:
    notice_id = await queue(factory, "n", kind=NoticeKind.BALLOT_OUTCOME)
    assert await claim(factory) == [notice_id]
    later = NOW + timedelta(minutes=10)
    if state is NoticeState.UNKNOWN:  # its sender was taken for dead and it was given up
        found = await outbox.recover_notices(factory(), dead=[None], now=later)
        assert found.resent == []  # (an outcome is never sent twice)
    else:  # sent after all, then a late error for the same notice
        await outbox.notices_sent(factory(), sent=[(notice_id, 555)], now=later)
    before = notice(factory, notice_id)
    assert before.state is state

    with unchanged(factory):
        again = await outbox.notice_failed(
            factory(), notice_id=notice_id, now=later, retry_in=RETRY
        )

    assert again is False
    assert notice(factory, notice_id) == before  # not back to PENDING, nor FAILED
    assert await claim(factory, later + timedelta(days=1)) == []  # never sent again


# --- unreachable recipients --------------------------------------------------


async def nudged(
    factory: FakeUnitOfWorkFactory, *, secret: bool = False
) -> tuple[Notice, list[int]]:
    """A council of two; 101 is reachable and is nudged privately, 102 in the group."""
    council_id = await set_up(factory, thread_id=5, title="议事会")
    for user_id in (101, 102):
        await join(factory, council_id, user_id)
    await reachable(factory, 101)
    deadline = NOW + timedelta(days=1)
    topic = await open_topic(factory, council_id, "议题")
    ballot = await put_motion(factory, council_id, topic, deadline=deadline, secret=secret)
    result = await run_job(
        factory(),
        f"ballot_nudge:{ballot.id}",
        now=deadline - timedelta(hours=2),
        grace=GRACE,
    )
    assert result.ran is Ran.DONE
    private, group = notices(factory)
    assert (private.kind, private.chat_id) == (NoticeKind.BALLOT_NUDGE, 101)
    assert group.kind is NoticeKind.NON_VOTERS
    return private, [private.id or 0, group.id or 0]


async def test_an_unreachable_nudge_recipient_is_named_in_the_group_once(
    factory: FakeUnitOfWorkFactory,
) -> None:
    private, before = await nudged(factory)
    assert private.id is not None
    await claim(factory)
    later = NOW + timedelta(hours=1)

    queued = await outbox.recipient_unreachable(factory(), notice_id=private.id, now=later)

    assert queued is True
    assert notice(factory, private.id).state is NoticeState.UNREACHABLE
    assert factory.store.committed.contacts[101] is False
    (added,) = [n for n in notices(factory) if n.id not in before]
    assert added.kind is NoticeKind.NON_VOTERS
    assert added.key == f"{private.key}:group"
    assert (added.council_id, added.chat_id, added.thread_id) == (private.council_id, CHAT, 5)
    assert added.subject == private.subject
    assert not added.private
    assert added.created_at == later
    assert added.state is NoticeState.PENDING
    assert added.params == {
        "deadline": private.params["deadline"],
        "members": [[101, "居民101"]],
        "secret": False,
    }

    count = len(notices(factory))
    again = await outbox.recipient_unreachable(factory(), notice_id=private.id, now=later)
    assert again is False
    assert len(notices(factory)) == count


async def test_an_unreachable_nudge_recipient_of_a_secret_ballot_is_not_named(
    factory: FakeUnitOfWorkFactory,
) -> None:
    private, before = await nudged(factory, secret=True)
    assert private.id is not None
    group = notice(factory, before[1])
    assert group.params["members"] == []  # 102 could not be told privately: no name either
    await claim(factory)

    queued = await outbox.recipient_unreachable(factory(), notice_id=private.id, now=NOW)

    # 101 blocked the bot since: the group already has its nameless reminder, so nothing
    # more is queued, and nothing anywhere names 101.
    assert queued is False
    assert notice(factory, private.id).state is NoticeState.UNREACHABLE
    assert len(notices(factory)) == 2
    assert all("101" not in repr(n.params.get("members")) for n in notices(factory))


async def test_an_unreachable_recipient_of_another_notice_is_only_remembered(
    factory: FakeUnitOfWorkFactory,
) -> None:
    await outbox.note_private_chat(factory(), user_id=101, now=NOW)
    notice_id = await queue(
        factory,
        "private",
        kind=NoticeKind.MEETING_REMINDER,
        chat_id=101,
        private=True,
        params={"group": CHAT},
    )
    await claim(factory)

    assert await outbox.recipient_unreachable(factory(), notice_id=notice_id, now=NOW) is False

    assert notice(factory, notice_id).state is NoticeState.UNREACHABLE
    assert factory.store.committed.contacts[101] is False
    assert len(notices(factory)) == 1


async def test_a_nudge_without_a_group_queues_nothing(factory: FakeUnitOfWorkFactory) -> None:
    notice_id = await queue(
        factory, "nudge", kind=NoticeKind.BALLOT_NUDGE, chat_id=101, private=True
    )
    assert await outbox.recipient_unreachable(factory(), notice_id=notice_id, now=NOW) is False
    assert len(notices(factory)) == 1


async def test_a_private_chat_makes_a_member_reachable_again(
    factory: FakeUnitOfWorkFactory,
) -> None:
    await outbox.note_private_chat(factory(), user_id=101, now=NOW)
    assert factory.store.committed.contacts == {101: True}
    notice_id = await queue(factory, "n", chat_id=101, private=True)
    await outbox.recipient_unreachable(factory(), notice_id=notice_id, now=NOW)
    assert factory.store.committed.contacts == {101: False}
    await outbox.note_private_chat(factory(), user_id=101, now=NOW + timedelta(days=1))
    assert factory.store.committed.contacts == {101: True}


# --- notices a dead process left SENDING ------------------------------------------


async def claim_by(factory: FakeUnitOfWorkFactory, process: int) -> list[int]:
    taken = await outbox.claim_notices(factory(), now=NOW, limit=10, claimed_by=process)
    return [n.id or 0 for n in taken]


async def test_a_dead_process_s_notices_are_resent_unless_they_must_not_repeat(
    factory: FakeUnitOfWorkFactory,
) -> None:
    reminder = await queue(factory, "reminder", kind=NoticeKind.MEETING_REMINDER)
    offer = await queue(factory, "offer", kind=NoticeKind.OFFER, private=True)
    outcome = await queue(factory, "outcome", kind=NoticeKind.BALLOT_OUTCOME)
    assert await claim_by(factory, 7) == [reminder, offer, outcome]
    living = await queue(factory, "living", kind=NoticeKind.OFFER, private=True)
    assert await claim_by(factory, 8) == [living]

    found = await outbox.recover_notices(factory(), dead=[7], now=NOW)

    assert [n.id for n in found.resent] == [reminder, offer]
    assert [n.id for n in found.in_doubt] == [outcome]
    states = {i: notice(factory, i).state for i in (reminder, offer, outcome, living)}
    assert states == {
        reminder: NoticeState.PENDING,
        offer: NoticeState.PENDING,
        outcome: NoticeState.UNKNOWN,  # perhaps announced: never announced twice
        living: NoticeState.SENDING,  # its process is alive and may be sending it now
    }
    assert notice(factory, reminder).attempts == 0  # a dying sender costs no attempt
    assert await claim_by(factory, 9) == [reminder, offer]
    # Nothing left to recover from process 7.
    again = await outbox.recover_notices(factory(), dead=[7], now=NOW)
    assert (again.resent, again.in_doubt) == ([], [])


async def test_claimers_are_the_processes_with_notices_in_flight(
    factory: FakeUnitOfWorkFactory,
) -> None:
    assert await outbox.in_flight_claimers(factory()) == set()
    await queue(factory, "a")
    await queue(factory, "b")
    await claim_by(factory, 7)
    assert await outbox.in_flight_claimers(factory()) == {7}
    await queue(factory, "c")
    await claim(factory)  # claimed by an older release: no process id
    assert await outbox.in_flight_claimers(factory()) == {7, None}


async def test_nothing_to_recover_changes_nothing(factory: FakeUnitOfWorkFactory) -> None:
    await queue(factory, "n")
    with unchanged(factory):
        found = await outbox.recover_notices(factory(), dead=[], now=NOW)
    assert (found.resent, found.in_doubt) == ([], [])
    assert notices(factory)[0].state is NoticeState.PENDING


@pytest.mark.parametrize(
    ("kind", "state"),
    [
        (NoticeKind.OFFER, NoticeState.PENDING),
        (NoticeKind.MEETING_REMINDER, NoticeState.PENDING),
        (NoticeKind.BALLOT_OPENED, NoticeState.PENDING),
        (NoticeKind.BALLOT_OUTCOME, NoticeState.UNKNOWN),
    ],
)
async def test_a_send_that_may_have_arrived_is_repeated_only_if_harmless(
    factory: FakeUnitOfWorkFactory, kind: NoticeKind, state: NoticeState
) -> None:
    notice_id = await queue(factory, "n", kind=kind)
    await claim_by(factory, 7)

    again = await outbox.delivery_in_doubt(factory(), notice_id=notice_id, now=NOW, retry_in=RETRY)

    assert again is (state is NoticeState.PENDING)
    stored = notice(factory, notice_id)
    assert stored.state is state
    if again:
        assert stored.not_before == NOW + RETRY
        assert await claim(factory, NOW + RETRY) == [notice_id]


async def test_a_repeatable_notice_in_doubt_too_often_is_given_up(
    factory: FakeUnitOfWorkFactory,
) -> None:
    notice_id = await queue(factory, "n", kind=NoticeKind.OFFER)
    at = NOW
    for _ in range(MAX_ATTEMPTS):
        assert await claim(factory, at) == [notice_id]
        again = await outbox.delivery_in_doubt(
            factory(), notice_id=notice_id, now=at, retry_in=RETRY
        )
        at += RETRY
    assert again is False
    assert notice(factory, notice_id).state is NoticeState.UNKNOWN
