"""The repository contract of recorded votes, on the fakes, SQLite and PostgreSQL: how
each vote came and who recorded it (the current vote and its audit line), votes counted
by source, a meeting's sign-in and attendance, paper uploads awaiting confirmation."""

from __future__ import annotations

from datetime import UTC

from domain.model import (
    Attendance,
    MemberStatus,
    PaperUpload,
    SignIn,
    UploadStatus,
    Vote,
    VoteSource,
)
from domain.ports import Lock, UnitOfWorkFactory
from tests.storage.helpers import (
    BIG_USER,
    add_meetings,
    at,
    make_ballot,
    make_council,
    make_members,
    make_topic,
    meeting,
)


async def test_a_vote_keeps_how_it_came_and_who_recorded_it(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    a, b, c, gone = await make_members(uows, council_id, 4)
    ballot_id = await make_ballot(uows, council_id, await make_topic(uows, council_id))
    async with uows() as uow:
        await uow.votes.put_many(
            [
                Vote(ballot_id, a, "a", at(10)),
                Vote(ballot_id, b, "b", at(11), VoteSource.ROOM, BIG_USER),
                Vote(ballot_id, c, "a", at(12), VoteSource.ASSISTED, BIG_USER, "入户走访"),
                Vote(ballot_id, gone, "a", at(13), VoteSource.PAPER, BIG_USER, "纸质票.xlsx"),
            ]
        )
        # Changed: the member's own press, and a paper upload's single put.
        await uow.votes.put_many([Vote(ballot_id, b, "a", at(20))])
        await uow.votes.put(Vote(ballot_id, c, "b", at(21), VoteSource.PAPER, 42, "更正.csv"))
        removed = await uow.members.get(gone)
        assert removed is not None
        removed.status = MemberStatus.REMOVED
        await uow.members.update(removed)
        await uow.commit()
    async with uows() as uow:
        current = await uow.votes.of_members(ballot_id, [a, b, c, gone, 999_999])
        events = await uow.votes.events(ballot_id)
        sources = await uow.votes.by_source(ballot_id, council_id)
    assert {m: (v.choice, v.source, v.recorded_by) for m, v in current.items()} == {
        a: ("a", VoteSource.CHAT, None),
        b: ("a", VoteSource.CHAT, None),
        c: ("b", VoteSource.PAPER, 42),
        gone: ("a", VoteSource.PAPER, BIG_USER),
    }
    assert all(v.cast_at.tzinfo is UTC and v.reason is None for v in current.values())
    assert [(e.member_id, e.source, e.recorded_by, e.reason, e.previous) for e in events] == [
        (a, VoteSource.CHAT, None, None, None),
        (b, VoteSource.ROOM, BIG_USER, None, None),
        (c, VoteSource.ASSISTED, BIG_USER, "入户走访", None),
        (gone, VoteSource.PAPER, BIG_USER, "纸质票.xlsx", None),
        (b, VoteSource.CHAT, None, None, "b"),
        (c, VoteSource.PAPER, 42, "更正.csv", "a"),
    ]
    # Only members on the roll count, as in the tally.
    assert sources == {VoteSource.CHAT: 2, VoteSource.PAPER: 1}


async def test_sign_in_and_attendance(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    a, b, c = await make_members(uows, council_id, 3)
    first, second = await add_meetings(
        uows, meeting(council_id, at(60)), meeting(council_id, at(120))
    )
    async with uows() as uow:
        assert await uow.sign_ins.open_of(council_id) is None
        assert await uow.sign_ins.add(SignIn(first, council_id, BIG_USER, at(55)))
        assert not await uow.sign_ins.add(SignIn(first, council_id, 1, at(56)))
        assert await uow.sign_ins.add(SignIn(second, council_id, BIG_USER, at(115)))
        assert await uow.sign_ins.attend(Attendance(first, b, at(58)))
        assert await uow.sign_ins.attend(Attendance(first, a, at(59), by_user=BIG_USER))
        assert not await uow.sign_ins.attend(Attendance(first, a, at(61)))
        assert await uow.sign_ins.attend(Attendance(first, c, at(62)))
        assert await uow.sign_ins.leave(first, c)
        assert not await uow.sign_ins.leave(first, c)
        await uow.commit()
    async with uows() as uow:
        newest = await uow.sign_ins.open_of(council_id)
        assert newest is not None and newest.meeting_id == second
        signed = await uow.sign_ins.get(second)
        assert signed is not None
        signed.closed_at, signed.message_ref = at(130), 77
        await uow.sign_ins.update(signed)
        await uow.commit()
    async with uows() as uow:
        attendees = await uow.sign_ins.attendees(first)
        still = await uow.sign_ins.open_of(council_id)
        closed = await uow.sign_ins.get(second)
        assert await uow.sign_ins.get(999_999) is None
    assert list(attendees) == [b, a]  # in the order they came
    assert attendees[a] == Attendance(first, a, at(59), BIG_USER)
    assert attendees[b].by_user is None and attendees[b].at.tzinfo is UTC
    assert still is not None and still.meeting_id == first
    assert closed == SignIn(second, council_id, BIG_USER, at(115), at(130), 77)


async def test_paper_uploads_wait_for_their_confirmation(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows)
    ballot_id = await make_ballot(uows, council_id, await make_topic(uows, council_id))
    plan: dict[str, object] = {
        "votes": [{"row": 2, "member_id": 5, "name": "赵奶奶", "choice": "a"}],
        "kept": [],
        "errors": [{"row": 3, "reason": "choice", "value": "也许"}],
    }
    async with uows() as uow:
        upload = await uow.paper_uploads.add(
            PaperUpload(ballot_id, council_id, BIG_USER, "纸质票.csv", "ab" * 32, plan, at(5))
        )
        await uow.commit()
    assert upload.id is not None
    async with uows() as uow:
        loaded = await uow.paper_uploads.get(upload.id, lock=Lock.UPDATE)
        assert loaded is not None and loaded.plan == plan
        assert loaded.status is UploadStatus.PENDING and loaded.created_at.tzinfo is UTC
        loaded.status, loaded.decided_at = UploadStatus.APPLIED, at(6)
        await uow.paper_uploads.update(loaded)
        await uow.commit()
    async with uows() as uow:
        assert await uow.paper_uploads.get(upload.id) == PaperUpload(
            ballot_id,
            council_id,
            BIG_USER,
            "纸质票.csv",
            "ab" * 32,
            plan,
            at(5),
            UploadStatus.APPLIED,
            at(6),
            upload.id,
        )
        assert await uow.paper_uploads.get(upload.id + 1) is None
