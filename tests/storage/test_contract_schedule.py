"""The repository contract of the schedule, on the fakes, SQLite and PostgreSQL.

Meetings, the outbox of notices (claims by a process, retries, readdressing), contacts,
and what the deadline jobs query (``councils.many``, ``collecting_with_deadline``,
``open_with_deadline``). Several senders claiming at once are a race between
connections, which only the databases can run: ``test_schedule_storage.py``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from domain.model import (
    Ballot,
    Council,
    MeetingStatus,
    Notice,
    NoticeKind,
    NoticeState,
    Phase,
    Topic,
)
from domain.ports import UnitOfWorkFactory
from domain.rules import Result, preset
from tests.storage.helpers import (
    T0,
    add_meetings,
    add_notices,
    at,
    in_shanghai,
    make_ballot,
    make_council,
    make_topic,
    meeting,
    notice,
    stored,
)

# --- meetings -------------------------------------------------------------------


async def test_meeting_round_trip(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    topic_a = await make_topic(uows, council_id)
    topic_b = await make_topic(uows, council_id)
    original = meeting(
        council_id,
        in_shanghai(at(60 * 24 * 7)),  # given in UTC+8, kept as the same instant
        changed_at=in_shanghai(at(5)),
        items=["物业费调整", "停车位分配 (第二轮)"],
        topic_ids=[topic_b, topic_a],  # the order the chair chose, not sorted
    )
    async with uows() as uow:
        added = await uow.meetings.add(original)
        assert added is original and original.id is not None
        assert await uow.meetings.get(original.id + 1000) is None
        await uow.commit()
    meeting_id = original.id

    async with uows() as uow:
        loaded = await uow.meetings.get(meeting_id)
    assert loaded == original
    assert loaded is not None and loaded is not original
    assert loaded.starts_at.tzinfo is UTC
    assert loaded.starts_at == at(60 * 24 * 7)
    assert loaded.changed_at.tzinfo is UTC
    assert loaded.items == ["物业费调整", "停车位分配 (第二轮)"]
    assert loaded.topic_ids == [topic_b, topic_a]
    assert (loaded.status, loaded.version, loaded.message_ref) == (
        MeetingStatus.SCHEDULED,
        1,
        None,
    )

    # Moved, agenda changed, announced: every field goes back.
    loaded.move(at(60 * 24 * 8), now=at(10))
    assert loaded.toggle_topic(topic_a) is False
    loaded.items.append("其他事项")
    loaded.online = True
    loaded.place = ""
    loaded.message_ref = 9_876_543_210
    async with uows() as uow:
        await uow.meetings.update(loaded)
        await uow.commit()
    async with uows() as uow:
        moved = await uow.meetings.get(meeting_id)
    assert moved == loaded
    assert moved is not None
    assert (moved.version, moved.starts_at, moved.changed_at) == (2, at(60 * 24 * 8), at(10))
    assert moved.topic_ids == [topic_b]
    assert moved.items[-1] == "其他事项"

    moved.cancel(at(11))
    async with uows() as uow:
        await uow.meetings.update(moved)
        await uow.commit()
    async with uows() as uow:
        cancelled = await uow.meetings.get(meeting_id)
    assert cancelled == moved
    assert cancelled is not None and cancelled.status is MeetingStatus.CANCELLED


async def test_meeting_with_empty_agenda(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    (meeting_id,) = await add_meetings(uows, meeting(council_id, at(100), online=True))
    async with uows() as uow:
        loaded = await uow.meetings.get(meeting_id)
    assert loaded is not None
    assert (loaded.items, loaded.topic_ids) == ([], [])


async def test_upcoming_order_and_filtering(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other_id = await make_council(uows, chat_id=-100_999)
    cancelled = meeting(council_id, at(150))
    cancelled.cancel(at(1))
    late, soon, middle, soon_too, _, _, _, boundary, other = await add_meetings(
        uows,
        meeting(council_id, at(300)),
        meeting(council_id, at(100)),
        meeting(council_id, at(200)),
        meeting(council_id, at(100), place="同一时间的第二个会"),  # tie: by id
        cancelled,
        meeting(council_id, at(-10)),  # already past
        meeting(council_id, at(-60 * 24)),
        meeting(council_id, at(0)),  # exactly at "after": not upcoming
        meeting(other_id, at(120)),
    )
    async with uows() as uow:
        upcoming = await uow.meetings.upcoming(council_id, at(0))
        # The same instant written in another zone gives the same answer.
        assert await uow.meetings.upcoming(council_id, in_shanghai(at(0))) == upcoming
        later = await uow.meetings.upcoming(council_id, at(100))
        of_other = await uow.meetings.upcoming(other_id, at(0))
        assert await uow.meetings.upcoming(other_id, at(120)) == []
        assert await uow.meetings.upcoming(council_id + other_id + 1, at(0)) == []
        everywhere = await uow.meetings.all_upcoming(at(0))
        everywhere_later = await uow.meetings.all_upcoming(in_shanghai(at(150)))
        from_the_start = await uow.meetings.all_upcoming(at(-60 * 24 * 2))
    assert [m.id for m in upcoming] == [soon, soon_too, middle, late]
    assert [m.starts_at for m in upcoming] == [at(100), at(100), at(200), at(300)]
    assert all(m.status is MeetingStatus.SCHEDULED for m in upcoming)
    assert [m.id for m in later] == [middle, late]
    assert [m.id for m in of_other] == [other]
    # Every council, scheduled only, strictly after the moment (the order is not promised).
    assert sorted(m.id or 0 for m in everywhere) == sorted([late, soon, middle, soon_too, other])
    assert sorted(m.id or 0 for m in everywhere_later) == sorted([late, middle])
    assert boundary in {m.id for m in from_the_start}
    assert cancelled.id not in {m.id for m in from_the_start}
    by_id = {m.id: m for m in everywhere}
    assert by_id[other].council_id == other_id
    assert by_id[soon] == upcoming[0]


# --- notices --------------------------------------------------------------------


PARAMS: dict[str, object] = {
    "title": "关于加装电梯的表决",
    "members": [[8_000_000_001, "王阿姨"], [8_000_000_002, "李叔叔 (3-2-501)"]],
    "items": ["物业费", ["停车位", "充电桩"], []],
    "deadline": "2025-03-02T10:00:00+00:00",
    "group": -1_001_234_567_890,
    "thread": 42,
    "nested": {"a": [1, [2, [3]]], "b": None, "c": True, "d": 1.5, "e": {}},
    "quote": "引号 \"双\" '单' 与 \\ 反斜杠",
}


async def test_notice_round_trip(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    original = notice(
        council_id,
        "ballot:7:nudge:8000000001",
        kind=NoticeKind.BALLOT_NUDGE,
        chat_id=8_000_000_001,
        thread_id=42,
        private=True,
        subject=7,
        params=PARAMS,
        not_before=in_shanghai(at(30)),
        created_at=in_shanghai(at(1)),
    )
    async with uows() as uow:
        assert await uow.notices.add(original) is True
        assert original.id is not None
        assert await uow.notices.get(original.id + 1000) is None
        await uow.commit()
    assert original.id is not None
    (loaded,) = await stored(uows, [original.id])
    assert loaded == original
    assert loaded is not original
    assert loaded.params == PARAMS
    assert loaded.params["members"] == [
        [8_000_000_001, "王阿姨"],
        [8_000_000_002, "李叔叔 (3-2-501)"],
    ]
    assert loaded.kind is NoticeKind.BALLOT_NUDGE
    assert loaded.state is NoticeState.PENDING
    assert (loaded.not_before, loaded.created_at) == (at(30), at(1))
    assert loaded.not_before is not None and loaded.not_before.tzinfo is UTC
    assert loaded.created_at.tzinfo is UTC
    assert (loaded.attempts, loaded.sent_at, loaded.message_ref) == (0, None, None)

    loaded.state = NoticeState.SENT
    loaded.attempts = 2
    loaded.sent_at = in_shanghai(at(31))
    loaded.message_ref = 2_147_483_648  # beyond 32 bits
    loaded.not_before = None
    loaded.params = {"members": [["嵌套", ["列表", [1, 2]]]], "名字": "中文键"}
    async with uows() as uow:
        await uow.notices.update(loaded)
        await uow.commit()
    (updated,) = await stored(uows, [original.id])
    assert updated == loaded
    assert updated.sent_at == at(31)
    assert updated.params == {"members": [["嵌套", ["列表", [1, 2]]]], "名字": "中文键"}


async def test_notice_add_refuses_a_duplicate_key(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    first = notice(council_id, "meeting:1:v1:1440", params={"which": "第一个"})
    duplicate = notice(
        council_id,
        "meeting:1:v1:1440",
        kind=NoticeKind.BALLOT_OUTCOME,
        subject=99,
        params={"which": "第二个"},
        created_at=at(5),
    )
    async with uows() as uow:
        assert await uow.notices.add(first) is True
        assert await uow.notices.add(duplicate) is False  # within the same transaction
        assert duplicate.id is None
        # The refusal leaves the transaction usable.
        assert await uow.notices.add(notice(council_id, "meeting:1:v1:60")) is True
        await uow.commit()
    async with uows() as uow:
        assert await uow.notices.add(duplicate) is False  # and in a later one
        assert duplicate.id is None
        await uow.commit()
    assert first.id is not None
    (kept,) = await stored(uows, [first.id])
    assert kept == first
    assert kept.params == {"which": "第一个"}
    assert kept.kind is NoticeKind.MEETING_REMINDER
    async with uows() as uow:
        # Nothing else was queued: exactly two notices are there to claim.
        claimed = await uow.notices.claim(at(0), 10)
    assert [n.key for n in claimed] == ["meeting:1:v1:1440", "meeting:1:v1:60"]


async def test_claim_takes_due_pending_notices_oldest_first(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    now = at(5)
    ids = await add_notices(
        uows,
        notice(council_id, "n0"),  # due: no not_before
        notice(council_id, "n1", not_before=now, attempts=2),  # due: exactly now
        notice(council_id, "n2", not_before=at(6)),  # not yet
        notice(council_id, "n3", state=NoticeState.SENT, sent_at=at(1)),
        notice(council_id, "n4", state=NoticeState.FAILED),
        notice(council_id, "n5", not_before=at(-100)),  # due long ago
        notice(council_id, "n6", state=NoticeState.UNKNOWN),
        notice(council_id, "n7", state=NoticeState.UNREACHABLE),
        notice(council_id, "n8"),  # due
        notice(council_id, "n9", not_before=now + timedelta(microseconds=1)),  # not yet
    )
    n0, n1, n2, n3, n4, n5, n6, n7, n8, n9 = ids
    before = await stored(uows, ids)

    async with uows() as uow:
        first = await uow.notices.claim(in_shanghai(now), 2)
        await uow.commit()
    assert [n.id for n in first] == [n0, n1]
    assert [n.state for n in first] == [NoticeState.SENDING] * 2
    assert [n.attempts for n in first] == [1, 3]
    assert first[0] == replace(before[0], state=NoticeState.SENDING, attempts=1)
    assert first[1] == replace(before[1], state=NoticeState.SENDING, attempts=3)

    async with uows() as uow:
        second = await uow.notices.claim(now, 10)
        await uow.commit()
    assert [n.id for n in second] == [n5, n8]  # not n0, n1 again
    assert all(n.state is NoticeState.SENDING and n.attempts == 1 for n in second)

    async with uows() as uow:
        assert await uow.notices.claim(now, 10) == []
        await uow.commit()

    after = {n.id: n for n in await stored(uows, ids)}
    for notice_id in (n0, n5, n8):
        assert (after[notice_id].state, after[notice_id].attempts) == (NoticeState.SENDING, 1)
    assert (after[n1].state, after[n1].attempts) == (NoticeState.SENDING, 3)
    for index, notice_id in enumerate(ids):
        if notice_id in (n2, n3, n4, n6, n7, n9):
            assert after[notice_id] == before[index]  # untouched

    async with uows() as uow:
        # Due one microsecond later: times keep their microseconds on both databases.
        later = await uow.notices.claim(now + timedelta(microseconds=1), 10)
        await uow.commit()
    assert [n.id for n in later] == [n9]
    async with uows() as uow:
        latest = await uow.notices.claim(at(6), 10)
        await uow.commit()
    assert [n.id for n in latest] == [n2]


async def test_claim_respects_the_limit_and_a_retry_is_claimed_again(
    uows: UnitOfWorkFactory,
) -> None:
    council_id = await make_council(uows)
    ids = await add_notices(uows, *(notice(council_id, f"k{i}") for i in range(7)))
    async with uows() as uow:
        assert await uow.notices.claim(at(0), 0) == []
        batch = await uow.notices.claim(at(0), 3)
        assert [n.id for n in batch] == ids[:3]
        # Within the same transaction the claimed ones are not taken again.
        assert [n.id for n in await uow.notices.claim(at(0), 3)] == ids[3:6]
        await uow.commit()
    async with uows() as uow:
        assert [n.id for n in await uow.notices.claim(at(0), 3)] == ids[6:]
        await uow.commit()

    # A passing failure puts a notice back as PENDING for later: claimed again then,
    # with one more attempt.
    retry = batch[1]
    retry.state = NoticeState.PENDING
    retry.not_before = at(10)
    async with uows() as uow:
        await uow.notices.update(retry)
        await uow.commit()
    async with uows() as uow:
        assert await uow.notices.claim(at(9), 10) == []
        again = await uow.notices.claim(at(10), 10)
        await uow.commit()
    assert [(n.id, n.state, n.attempts) for n in again] == [(retry.id, NoticeState.SENDING, 2)]


async def test_an_uncommitted_claim_takes_nothing(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    ids = await add_notices(uows, notice(council_id, "a"), notice(council_id, "b"))
    async with uows() as uow:
        assert [n.id for n in await uow.notices.claim(at(0), 10)] == ids
    async with uows() as uow:
        assert [n.id for n in await uow.notices.claim(at(0), 10)] == ids
        await uow.rollback()
    assert [(n.state, n.attempts) for n in await stored(uows, ids)] == [
        (NoticeState.PENDING, 0)
    ] * 2


async def test_notices_in_flight_are_found_by_the_process_that_claimed_them(
    uows: UnitOfWorkFactory,
) -> None:
    council_id = await make_council(uows)
    ids = await add_notices(uows, *(notice(council_id, f"n{i}") for i in range(5)))
    async with uows() as uow:
        assert await uow.notices.claimers() == set()
        assert len(await uow.notices.claim(at(0), 2, claimed_by=7)) == 2
        assert len(await uow.notices.claim(at(0), 1, claimed_by=8)) == 1
        assert len(await uow.notices.claim(at(0), 1)) == 1  # an older release: no process
        await uow.commit()
    (sent,) = await stored(uows, [ids[0]])
    sent.state = NoticeState.SENT
    async with uows() as uow:
        await uow.notices.update(sent)
        await uow.commit()

    async with uows() as uow:
        assert await uow.notices.claimers() == {7, 8, None}
        assert [n.id for n in await uow.notices.in_flight([7])] == [ids[1]]
        assert [n.id for n in await uow.notices.in_flight([7, None])] == [ids[1], ids[3]]
        assert [n.id for n in await uow.notices.in_flight([8, 9])] == [ids[2]]
        assert await uow.notices.in_flight([]) == []
        assert await uow.notices.in_flight([9]) == []


async def test_readdressing_moves_only_notices_still_to_send(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    ids = await add_notices(uows, *(notice(council_id, f"n{i}") for i in range(3)))
    async with uows() as uow:
        assert len(await uow.notices.claim(at(0), 1)) == 1
        await uow.commit()
    (done,) = await stored(uows, [ids[1]])
    done.state = NoticeState.SENT
    async with uows() as uow:
        await uow.notices.update(done)
        await uow.commit()
    old = (await stored(uows, [ids[0]]))[0].chat_id
    async with uows() as uow:
        assert await uow.notices.readdress(old, -100_999) == 2
        await uow.commit()
    assert [n.chat_id for n in await stored(uows, ids)] == [-100_999, old, -100_999]


async def test_notice_parameters_come_back_as_json_gives_them(uows: UnitOfWorkFactory) -> None:
    """Parameters go through a JSON column: tuples come back as lists, keys as strings."""
    council_id = await make_council(uows)
    original = notice(
        council_id,
        "k",
        params={"pair": (1, "一"), "rows": [(8_000_000_001, "王阿姨")], 3: {"x": (None,)}},
    )
    ids = await add_notices(uows, original)
    (loaded,) = await stored(uows, ids)
    assert loaded.params == {
        "pair": [1, "一"],
        "rows": [[8_000_000_001, "王阿姨"]],
        "3": {"x": [None]},
    }
    loaded.params = {"later": (2, 3)}
    async with uows() as uow:
        await uow.notices.update(loaded)
        await uow.commit()
    (updated,) = await stored(uows, ids)
    assert updated.params == {"later": [2, 3]}
    (claimed,) = await _claim(uows, 10)
    assert claimed.params == {"later": [2, 3]}


async def _claim(uows: UnitOfWorkFactory, limit: int) -> list[Notice]:
    async with uows() as uow:
        claimed = await uow.notices.claim(at(0), limit)
        await uow.commit()
    return claimed


async def test_notices_added_many_at_once(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    (before,) = await add_notices(uows, notice(council_id, "queued:before"))
    batch = [
        notice(council_id, "b0"),
        notice(council_id, "queued:before", subject=2),  # queued before: not again
        notice(council_id, "b1", not_before=in_shanghai(at(30))),
        notice(council_id, "b0", subject=3),  # twice in the batch: one row
        notice(council_id, "b2"),
    ]
    async with uows() as uow:
        assert await uow.notices.add_many([]) == 0
        assert await uow.notices.add_many(batch) == 3
        b0, again, b1, b0_again, b2 = (n.id for n in batch)
        assert again is None
        assert b0 is not None and b1 is not None and b2 is not None
        assert b0 < b1 < b2 and b0 > before
        assert b0_again == b0  # the row queued under its key
        await uow.commit()
    async with uows() as uow:
        assert await uow.notices.add_many([notice(council_id, "b1")]) == 0
        loaded = [await uow.notices.get(i) for i in (before, b0, b1, b2)]
        claimed = await uow.notices.claim(at(0), 10)
    assert [n.key if n else None for n in loaded] == ["queued:before", "b0", "b1", "b2"]
    assert [n.subject if n else None for n in loaded] == [1, 1, 1, 1]
    assert loaded[2] is not None and loaded[2].not_before == at(30)
    assert loaded[2].not_before.tzinfo is UTC
    assert [n.id for n in claimed] == [before, b0, b2]  # b1 is not due yet


# --- contacts -------------------------------------------------------------------


async def test_contacts_mark_and_reachable(uows: UnitOfWorkFactory) -> None:
    alice, bob, carol, dave = 8_000_000_001, 8_000_000_002, 2**40 + 3, 8_000_000_004
    async with uows() as uow:
        assert await uow.contacts.reachable([alice, bob]) == set()
        await uow.contacts.mark(alice, True, at(1))
        await uow.contacts.mark(bob, False, at(1))
        await uow.contacts.mark(carol, True, at(1))
        await uow.commit()
    async with uows() as uow:
        assert await uow.contacts.reachable([alice, bob, carol, dave]) == {alice, carol}
        assert await uow.contacts.reachable([alice, alice, dave]) == {alice}
        assert await uow.contacts.reachable([]) == set()
        assert await uow.contacts.reachable((carol,)) == {carol}
        # Upserts: blocked after starting the bot, started after being unreachable.
        await uow.contacts.mark(carol, False, in_shanghai(at(2)))
        await uow.contacts.mark(bob, True, at(3))
        await uow.contacts.mark(bob, True, at(4))  # marking twice is fine
        # Seen within the same transaction.
        assert await uow.contacts.reachable([alice, bob, carol]) == {alice, bob}
        await uow.commit()
    async with uows() as uow:
        assert await uow.contacts.reachable([alice, bob, carol, dave]) == {alice, bob}
        await uow.contacts.mark(dave, True, at(5))  # not committed: forgotten
    async with uows() as uow:
        assert await uow.contacts.reachable([dave]) == set()


# --- councils.many and what the deadline jobs look for ------------------------------


async def test_councils_many_with_chairs_and_reminder_settings(uows: UnitOfWorkFactory) -> None:
    def council(chat_id: int, **changes: object) -> Council:
        fields: dict[str, object] = {
            "chat_id": chat_id,
            "thread_id": 0,
            "title": f"议事会{chat_id}",
            "rule": preset("simple"),
            "timezone": "Asia/Shanghai",
            "language": "zh",
            "created_at": T0,
        }
        fields.update(changes)
        return Council(**fields)  # type: ignore[arg-type]

    first = council(
        -101, chairs={1, 2_000_000_000_123}, meeting_reminders=(7 * 24 * 60, 24 * 60, 15)
    )
    quiet = council(-102, thread_id=7, meeting_reminders=(), ballot_nudge=0)
    defaults = council(-103)
    lone = council(-104, chairs={5}, ballot_nudge=30, rule=preset("two-thirds"))
    async with uows() as uow:
        for c in (first, quiet, defaults, lone):
            await uow.councils.add(c)
        await uow.commit()
    assert first.id and quiet.id and defaults.id and lone.id
    missing = first.id + quiet.id + defaults.id + lone.id + 1000

    async with uows() as uow:
        everything = await uow.councils.many([first.id, quiet.id, defaults.id, lone.id])
        some = await uow.councils.many([lone.id, missing, first.id, lone.id])
        assert await uow.councils.many([]) == {}
        assert await uow.councils.many([missing]) == {}
        assert await uow.councils.many((quiet.id,)) == {quiet.id: quiet}
        one_by_one = {
            c.id: await uow.councils.get(c.id)
            for c in (first, quiet, defaults, lone)
            if c.id is not None
        }
    assert everything == {first.id: first, quiet.id: quiet, defaults.id: defaults, lone.id: lone}
    assert everything == one_by_one
    assert some == {lone.id: lone, first.id: first}
    assert everything[first.id].chairs == {1, 2_000_000_000_123}
    assert everything[first.id].meeting_reminders == (7 * 24 * 60, 24 * 60, 15)
    assert (everything[quiet.id].chairs, everything[quiet.id].meeting_reminders) == (set(), ())
    assert everything[quiet.id].ballot_nudge == 0
    assert everything[defaults.id].meeting_reminders == (24 * 60, 60)
    assert everything[defaults.id].ballot_nudge == 2 * 60
    assert isinstance(everything[defaults.id].meeting_reminders, tuple)
    assert everything[lone.id].rule == preset("two-thirds")

    # The settings change with update like everything else.
    first.meeting_reminders = (30,)
    first.ballot_nudge = 0
    first.chairs = {3}
    async with uows() as uow:
        await uow.councils.update(first)
        await uow.commit()
    async with uows() as uow:
        assert await uow.councils.many([first.id]) == {first.id: first}
        assert await uow.councils.by_chat(-101, 0) == first


async def test_collecting_with_deadline(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other_id = await make_council(uows, chat_id=-100_999)

    def topic(council: int, title: str, deadline: datetime | None) -> Topic:
        return Topic(council, title, "说明", 7, at(1), deadline=deadline)

    topics = [
        topic(council_id, "征集中, 有截止", at(100)),
        topic(council_id, "征集中, 无截止", None),
        topic(council_id, "表决中", at(100)),
        topic(council_id, "已决", at(100)),
        topic(council_id, "已取消", at(100)),
        topic(other_id, "别的议事会, 已过截止", at(-100)),
        topic(council_id, "征集中, 截止在后", at(50)),
    ]
    topics[2].start_voting()
    topics[3].start_voting()
    topics[3].decide(Result.PASSED, at(2))
    topics[4].cancel(at(2))
    async with uows() as uow:
        assert await uow.topics.collecting_with_deadline() == []
        for t in topics:
            await uow.topics.add(t)
        await uow.commit()
    async with uows() as uow:
        found = await uow.topics.collecting_with_deadline()
    expected = [topics[0], topics[5], topics[6]]
    assert sorted(found, key=lambda t: t.id or 0) == expected
    assert all(t.phase is Phase.COLLECTING and t.deadline is not None for t in found)
    assert {t.council_id for t in found} == {council_id, other_id}
    assert all(t.deadline is not None and t.deadline.tzinfo is UTC for t in found)

    topics[0].start_voting()  # no longer collecting
    async with uows() as uow:
        await uow.topics.update(topics[0])
        await uow.commit()
    async with uows() as uow:
        assert sorted(t.id or 0 for t in await uow.topics.collecting_with_deadline()) == sorted(
            t.id or 0 for t in topics[5:]
        )


async def test_open_with_deadline(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    other_id = await make_council(uows, chat_id=-100_999)
    topic_id = await make_topic(uows, council_id)
    other_topic = await make_topic(uows, other_id)
    async with uows() as uow:
        assert await uow.ballots.open_with_deadline() == []
    with_deadline = await make_ballot(uows, council_id, topic_id, deadline=at(100))
    await make_ballot(uows, council_id, topic_id, deadline=None)
    closed = await make_ballot(uows, council_id, topic_id, deadline=at(100))
    cancelled = await make_ballot(uows, council_id, topic_id, deadline=at(100))
    elsewhere = await make_ballot(uows, other_id, other_topic, deadline=at(-5))
    async with uows() as uow:
        for ballot_id, outcome_kept in ((closed, True), (cancelled, False)):
            ballot = await uow.ballots.get(ballot_id)
            assert ballot is not None
            ballot.closed_at = at(50)
            if not outcome_kept:
                ballot.outcome = None
            await uow.ballots.update(ballot)
        await uow.commit()
    async with uows() as uow:
        found = await uow.ballots.open_with_deadline()
        one_by_one = [await uow.ballots.get(i) for i in (with_deadline, elsewhere)]
    assert sorted(found, key=lambda b: b.id or 0) == one_by_one
    assert all(isinstance(b, Ballot) and b.is_open and b.deadline for b in found)
    assert {b.council_id for b in found} == {council_id, other_id}
