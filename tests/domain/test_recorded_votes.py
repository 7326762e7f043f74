"""Votes from the meeting room and the doorstep, on the fakes: raised hands recorded in a
roll call, votes entered after a home visit, paper ballots checked then confirmed, and
meetings' sign-in. Each recorded vote is a vote like any other; refusals write nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import errors, services
from domain.events import SignInChanged, VoteCast
from domain.model import (
    Ballot,
    BallotKind,
    BallotOption,
    Member,
    NoticeKind,
    UploadStatus,
    VoteSource,
    may_replace,
)
from domain.rules import preset
from domain.services import recorded, sign_in
from domain.sheets import Row
from tests.domain.builders import (
    CHAIR,
    NOW,
    STRANGER,
    ident,
    join,
    notices,
    open_topic,
    put_motion,
    reachable,
    schedule,
    set_up,
    unchanged,
    update_council,
    vote,
)
from tests.fakes import FakeUnitOfWorkFactory

STAFF = 500  # 社工: keeps the roll, records assisted votes


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


async def _council(factory: FakeUnitOfWorkFactory, *, secret: bool = False) -> tuple[int, Ballot]:
    council_id = await set_up(factory)
    await update_council(factory, council_id, staff={STAFF})
    for user_id in (11, 12, 13):
        await join(factory, council_id, user_id)
    topic = await open_topic(factory, council_id)
    return council_id, await put_motion(factory, council_id, topic, secret=secret)


async def _offline(factory: FakeUnitOfWorkFactory, council_id: int, address: str) -> Member:
    """A resident on the roll without any chat account (an older neighbour)."""
    building, unit, room = address.split("-")
    async with factory() as uow:
        member = await uow.members.add(
            Member(council_id, None, "赵奶奶", building, unit, room, joined_at=NOW)
        )
        await uow.commit()
    return member


async def _member(factory: FakeUnitOfWorkFactory, council_id: int, user_id: int) -> Member:
    found = await services.member_of(factory(), council_id=council_id, user_id=user_id)
    assert found is not None
    return found


async def _record(
    factory: FakeUnitOfWorkFactory,
    ballot: Ballot,
    member_id: int,
    choice: str,
    *,
    by: int = CHAIR,
    source: VoteSource = VoteSource.ROOM,
    reason: str | None = None,
    key: str | None = None,
) -> recorded.RecordedVote:
    return await recorded.record_vote(
        factory(),
        ballot_id=ident(ballot),
        member_id=member_id,
        choice=choice,
        user_id=by,
        source=source,
        reason=reason,
        key=key,
        now=NOW + timedelta(minutes=5),
    )


def test_a_paper_ballot_never_replaces_a_vote_given_at_a_known_moment() -> None:
    for old in (VoteSource.CHAT, VoteSource.ROOM, VoteSource.ASSISTED):
        assert not may_replace(VoteSource.PAPER, old)
        for new in (VoteSource.CHAT, VoteSource.ROOM, VoteSource.ASSISTED):
            assert may_replace(new, old)  # the latest wins
    assert may_replace(VoteSource.PAPER, None)
    assert may_replace(VoteSource.PAPER, VoteSource.PAPER)  # a corrected upload
    for new in VoteSource:
        assert may_replace(new, VoteSource.PAPER)


def test_choices_are_read_as_people_write_them() -> None:
    motion = Ballot(1, 1, BallotKind.MOTION, "q", preset("simple"), False, CHAIR, NOW)
    for word, choice in (("赞成", "for"), ("√", "for"), ("同意", "for"), ("Yes", "for")):
        assert recorded.read_choice(motion, word) == choice
    for word in ("反对", "×", "against", "不同意"):
        assert recorded.read_choice(motion, word) == "against"
    assert recorded.read_choice(motion, "弃权") == "abstain"
    assert recorded.read_choice(motion, "也许") is None
    options = Ballot(
        1,
        1,
        BallotKind.OPTIONS,
        "q",
        preset("simple"),
        False,
        CHAIR,
        NOW,
        options=(BallotOption("p3", "花园"), BallotOption("p4", "停车场")),
    )
    for word in ("2", "选项2", "option 2", "２", "p4"):
        assert recorded.read_choice(options, word) == "p4"
    assert recorded.read_choice(options, "3") is None
    assert recorded.read_choice(options, "赞成") is None


async def test_a_raised_hand_is_a_vote_that_says_who_recorded_it_and_tells_the_member(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, ballot = await _council(factory)
    member = await _member(factory, council_id, 11)
    await reachable(factory, 11)  # 11 opened a private chat with the bot
    done = await _record(factory, ballot, ident(member), "for", key="update:1:7")
    assert done.receipt.choice == "for" and done.receipt.previous is None and done.told
    async with factory() as uow:
        (event,) = await uow.votes.events(ident(ballot))
        current = await uow.votes.of_members(ident(ballot), [ident(member)])
    assert (event.source, event.recorded_by, event.choice) == (VoteSource.ROOM, CHAIR, "for")
    assert current[ident(member)].source is VoteSource.ROOM
    assert VoteCast(ident(ballot)) in factory.store.published  # the live tally follows
    (notice,) = notices(factory, NoticeKind.VOTE_RECORDED)
    assert notice.private and notice.chat_id == 11 and notice.subject == ident(ballot)
    assert notice.params["role"] == "chair"
    # The same press delivered again counts once (its key is claimed with the vote).
    with pytest.raises(errors.Redelivered), unchanged(factory):
        await _record(factory, ballot, ident(member), "against", key="update:1:7")


async def test_the_member_overrides_a_recorded_vote_with_their_own_press(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, ballot = await _council(factory)
    member = await _member(factory, council_id, 12)
    await _record(
        factory, ballot, ident(member), "for", by=STAFF, source=VoteSource.ASSISTED, reason="入户"
    )
    await vote(factory, ident(ballot), 12, "against", now=NOW + timedelta(minutes=9))
    async with factory() as uow:
        events = await uow.votes.events(ident(ballot))
        current = await uow.votes.of_members(ident(ballot), [ident(member)])
    assert [(e.source, e.recorded_by, e.reason, e.choice) for e in events] == [
        (VoteSource.ASSISTED, STAFF, "入户", "for"),
        (VoteSource.CHAT, None, None, "against"),
    ]
    assert current[ident(member)].source is VoteSource.CHAT


async def test_who_may_record_and_for_whom(factory: FakeUnitOfWorkFactory) -> None:
    council_id, ballot = await _council(factory)
    member = await _member(factory, council_id, 11)
    with unchanged(factory):
        with pytest.raises(errors.NotStaff):
            await _record(factory, ballot, ident(member), "for", by=12)
        with pytest.raises(errors.NotMember):
            await _record(factory, ballot, 4242, "for")
        with pytest.raises(errors.InvalidChoice):
            await _record(factory, ballot, ident(member), "maybe")
        with pytest.raises(errors.InvalidInput) as refused:
            await _record(factory, ballot, ident(member), "for", source=VoteSource.ASSISTED)
        assert refused.value.params["field"] == "assist_reason"
        with pytest.raises(errors.TextTooLong):
            await _record(
                factory, ballot, ident(member), "for", source=VoteSource.ASSISTED, reason="长" * 201
            )
    async with factory() as uow:
        participant = await uow.members.get(ident(member))
        assert participant is not None
        participant.voting = False
        await uow.members.update(participant)
        await uow.commit()
    with pytest.raises(errors.InvalidInput) as refused, unchanged(factory):
        await _record(factory, ballot, ident(member), "for")
    assert refused.value.params["field"] == "recorded_participant"
    await services.close_ballot(
        factory(), council_id=council_id, user_id=CHAIR, now=NOW + timedelta(hours=1)
    )
    other = await _member(factory, council_id, 13)
    with pytest.raises(errors.BallotClosed), unchanged(factory):
        await _record(factory, ballot, ident(other), "for")


async def test_a_secret_ballot_takes_no_raised_hands_and_no_paper_but_a_home_visit(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, ballot = await _council(factory, secret=True)
    member = await _member(factory, council_id, 11)
    with unchanged(factory):
        with pytest.raises(errors.InvalidInput) as room:
            await _record(factory, ballot, ident(member), "for")
        with pytest.raises(errors.InvalidInput) as roll_call:
            await recorded.roll_call(factory(), user_id=CHAIR, ballot_id=ident(ballot), now=NOW)
        with pytest.raises(errors.InvalidInput) as paper:
            await recorded.paper_ballot(factory(), user_id=STAFF, ballot_id=ident(ballot), now=NOW)
    assert {room.value.params["field"], roll_call.value.params["field"]} == {"secret_room"}
    assert paper.value.params["field"] == "secret_paper"
    done = await _record(
        factory, ballot, ident(member), "for", by=STAFF, source=VoteSource.ASSISTED, reason="入户"
    )
    assert done.receipt.choice == "for"


async def test_the_roll_call_lists_those_signed_in_first_in_pages(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, ballot = await _council(factory)
    for user_id in range(20, 30):
        await join(factory, council_id, user_id)
    meeting = await schedule(factory, council_id, starts_at=NOW + timedelta(minutes=30))
    await sign_in.open_sign_in(
        factory(), council_id=council_id, user_id=CHAIR, meeting_id=None, now=NOW
    )
    late = await _member(factory, council_id, 29)
    await sign_in.check_in(factory(), meeting_id=ident(meeting), user_id=29, now=NOW)
    await _record(factory, ballot, ident(late), "against")
    first = await recorded.roll_call(factory(), user_id=CHAIR, council_id=council_id, now=NOW)
    assert (first.page, first.pages, first.present) == (0, 2, 1)
    assert len(first.lines) == recorded.PAGE
    assert first.lines[0].member.id == ident(late) and first.lines[0].present
    assert first.lines[0].vote is not None and first.lines[0].vote.source is VoteSource.ROOM
    assert all(line.vote is None for line in first.lines[1:])
    last = await recorded.roll_call(
        factory(), user_id=STAFF, ballot_id=ident(ballot), page=7, now=NOW
    )
    assert last.page == 1 and len(last.lines) == 13 - recorded.PAGE
    with pytest.raises(errors.NotStaff):
        await recorded.roll_call(factory(), user_id=11, council_id=council_id, now=NOW)


async def test_sign_in_check_in_mark_and_close(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    for user_id in (11, 12):
        await join(factory, council_id, user_id)
    offline = await _offline(factory, council_id, "6-3-501")
    with pytest.raises(errors.InvalidInput) as none, unchanged(factory):
        await sign_in.open_sign_in(
            factory(), council_id=council_id, user_id=CHAIR, meeting_id=None, now=NOW
        )
    assert none.value.params["field"] == "signin_no_meeting"
    meeting = await schedule(factory, council_id, starts_at=NOW + timedelta(hours=1))
    with pytest.raises(errors.NotStaff), unchanged(factory):
        await sign_in.open_sign_in(
            factory(), council_id=council_id, user_id=11, meeting_id=None, now=NOW
        )
    view = await sign_in.open_sign_in(
        factory(), council_id=council_id, user_id=CHAIR, meeting_id=None, now=NOW
    )
    assert view.meeting.id == ident(meeting) and view.present == () and view.roll_size == 3
    member, new = await sign_in.check_in(factory(), meeting_id=ident(meeting), user_id=11, now=NOW)
    assert new and member.name == "居民11"
    _, again = await sign_in.check_in(factory(), meeting_id=ident(meeting), user_id=11, now=NOW)
    assert not again
    with pytest.raises(errors.NotMember), unchanged(factory):
        await sign_in.check_in(factory(), meeting_id=ident(meeting), user_id=STRANGER, now=NOW)
    marked, present = await sign_in.toggle_present(
        factory(), meeting_id=ident(meeting), member_id=ident(offline), user_id=CHAIR, now=NOW
    )
    assert present and marked.name == "赵奶奶"
    async with factory() as uow:
        attendance = await uow.sign_ins.attendees(ident(meeting))
    assert (
        attendance[ident(offline)].by_user == CHAIR and attendance[member.id or 0].by_user is None
    )
    page = await sign_in.attendance_page(
        factory(), meeting_id=ident(meeting), user_id=CHAIR, page=0
    )
    assert page.present == {ident(offline), member.id}
    closed = await sign_in.close_sign_in(
        factory(), meeting_id=ident(meeting), user_id=CHAIR, now=NOW
    )
    assert [m.name for m in closed.present] == ["居民11", "赵奶奶"]
    assert SignInChanged(ident(meeting)) in factory.store.published
    with pytest.raises(errors.InvalidInput) as late, unchanged(factory):
        await sign_in.check_in(factory(), meeting_id=ident(meeting), user_id=12, now=NOW)
    assert late.value.params["field"] == "signin_closed"
    reopened = await sign_in.open_sign_in(
        factory(), council_id=council_id, user_id=CHAIR, meeting_id=ident(meeting), now=NOW
    )
    assert reopened.sign_in.is_open and len(reopened.present) == 2


def _upload_id(check: recorded.PaperCheck) -> int:
    assert check.upload.id is not None
    return check.upload.id


def _rows(*rows: tuple[str, str]) -> list[Row]:
    return [Row(n, cells) for n, cells in enumerate(rows, 1)]


async def test_paper_ballots_are_checked_then_confirmed_and_never_replace_an_own_vote(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, ballot = await _council(factory)
    offline = await _offline(factory, council_id, "6-3-501")
    await join(factory, council_id, 14, address="6-3-502", name="王老师")
    await join(factory, council_id, 15, address="6-3-502", name="王师母")  # co-owners
    await vote(factory, ident(ballot), 11, "against")  # pressed in the chat
    rows = _rows(
        ("地址", "意向"),
        ("6-3-501", "赞成"),
        ("1-1-11", "赞成"),
        ("9-9-999", "反对"),
        ("1-1-12", "也许"),
        ("6-3-502", "反对"),
        ("王老师", "反对"),
        ("#" + str(ident(offline)), "反对"),
        ("", "赞成"),
    )
    with unchanged(factory), pytest.raises(errors.NotStaff):
        await recorded.check_paper(
            factory(),
            ballot_id=ident(ballot),
            user_id=12,
            file_name="纸质票.csv",
            digest="ab" * 32,
            rows=rows,
            now=NOW,
        )
    check = await recorded.check_paper(
        factory(),
        ballot_id=ident(ballot),
        user_id=STAFF,
        file_name="纸质票.csv",
        digest="ab" * 32,
        rows=rows,
        now=NOW,
    )
    assert [(v["row"], v["name"], v["choice"]) for v in check.votes] == [
        (2, "赵奶奶", "for"),
        (7, "王老师", "against"),
    ]
    assert [(k["row"], k["source"]) for k in check.kept] == [(3, "chat")]
    assert [(e["row"], e["reason"]) for e in check.errors] == [
        (4, "unknown_member"),
        (5, "choice"),
        (6, "several_members"),
        (8, "twice"),
        (9, "no_member"),
    ]
    async with factory() as uow:
        assert await uow.votes.current(ident(ballot)) == {
            ident(await _member(factory, council_id, 11)): "against"
        }  # nothing voted by the check
    # Meanwhile 王老师 votes himself: his paper row is kept, not applied.
    await vote(factory, ident(ballot), 14, "for")
    applied = await recorded.confirm_paper(
        factory(), upload_id=_upload_id(check), user_id=STAFF, now=NOW + timedelta(minutes=1)
    )
    assert (applied.recorded, applied.unchanged, applied.kept, applied.refused) == (1, 0, 1, 0)
    async with factory() as uow:
        current = await uow.votes.of_members(ident(ballot), [ident(offline)])
        upload = await uow.paper_uploads.get(_upload_id(check))
    assert current[ident(offline)].source is VoteSource.PAPER
    assert current[ident(offline)].recorded_by == STAFF
    assert upload is not None and upload.status is UploadStatus.APPLIED
    assert notices(factory, NoticeKind.VOTE_RECORDED) == []  # 赵奶奶 has no account
    with pytest.raises(errors.InvalidInput) as twice, unchanged(factory):
        await recorded.confirm_paper(factory(), upload_id=_upload_id(check), user_id=STAFF, now=NOW)
    assert twice.value.params["field"] == "paper_applied"
    # The same file again changes nothing; a corrected one replaces the paper vote.
    again = await recorded.check_paper(
        factory(),
        ballot_id=ident(ballot),
        user_id=STAFF,
        file_name="纸质票.csv",
        digest="ab" * 32,
        rows=rows,
        now=NOW,
    )
    assert [e["row"] for e in again.same] == [2] and again.votes == []  # said in the dry run
    same = await recorded.confirm_paper(
        factory(), upload_id=_upload_id(again), user_id=STAFF, now=NOW
    )
    assert (same.recorded, same.unchanged) == (0, 0)
    corrected = await recorded.check_paper(
        factory(),
        ballot_id=ident(ballot),
        user_id=STAFF,
        file_name="更正.csv",
        digest="cd" * 32,
        rows=_rows(("6-3-501", "反对")),
        now=NOW,
    )
    assert (
        await recorded.confirm_paper(
            factory(), upload_id=_upload_id(corrected), user_id=STAFF, now=NOW
        )
    ).recorded == 1
    closed = await services.close_ballot(
        factory(), council_id=council_id, user_id=CHAIR, now=NOW + timedelta(hours=1)
    )
    view = await services.ballot_view(factory(), ballot_id=ident(closed.ballot))
    assert view.sources == {VoteSource.CHAT: 2, VoteSource.PAPER: 1}


async def test_a_cancelled_upload_records_nothing(factory: FakeUnitOfWorkFactory) -> None:
    _council_id, ballot = await _council(factory)
    check = await recorded.check_paper(
        factory(),
        ballot_id=ident(ballot),
        user_id=CHAIR,
        file_name="p.csv",
        digest="ef" * 32,
        rows=_rows(("1-1-11", "赞成")),
        now=NOW,
    )
    cancelled = await recorded.cancel_paper(
        factory(), upload_id=_upload_id(check), user_id=CHAIR, now=NOW
    )
    assert cancelled.status is UploadStatus.CANCELLED
    with pytest.raises(errors.InvalidInput), unchanged(factory):
        await recorded.confirm_paper(factory(), upload_id=_upload_id(check), user_id=CHAIR, now=NOW)
    async with factory() as uow:
        assert await uow.votes.current(ident(ballot)) == {}


async def test_assist_names_a_member_by_number_or_address(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, ballot = await _council(factory)
    offline = await _offline(factory, council_id, "6-3-501")
    target = await recorded.assist_target(
        factory(), user_id=STAFF, ballot_id=None, who="6-3-501", choice="赞成", now=NOW
    )
    assert (target.ballot_id, target.member_id, target.choice) == (
        ident(ballot),
        ident(offline),
        "for",
    )
    by_number = await recorded.assist_target(
        factory(), user_id=STAFF, ballot_id=None, who=f"#{ident(offline)}", choice="×", now=NOW
    )
    assert by_number.choice == "against"
    with pytest.raises(errors.InvalidChoice):
        await recorded.assist_target(
            factory(), user_id=STAFF, ballot_id=None, who="6-3-501", choice="好", now=NOW
        )
    with pytest.raises(errors.NotStaff):
        await recorded.assist_target(
            factory(), user_id=11, ballot_id=None, who=f"#{ident(offline)}", choice="赞成", now=NOW
        )
