"""签到: a meeting's sign-in. A chair (or staff) opens it; members present check in with
a button, or a chair marks those without a phone; a chair closes it. Who attended is
kept per meeting (``attendance``), and the roll call lists those present first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain import errors
from domain.events import SignInChanged
from domain.model import Attendance, Council, Meeting, Member, MemberStatus, SignIn
from domain.ports import UnitOfWork
from domain.services.reading import require_council
from domain.services.recorded import page_of

# A bare /signin takes the council's meeting nearest to now within this window: a
# sitting is signed into from a little before it starts until it is over.
NEAR = timedelta(hours=12)


@dataclass(frozen=True)
class SignInView:
    sign_in: SignIn
    meeting: Meeting
    council: Council
    present: tuple[Member, ...]  # in the order they came
    roll_size: int  # voting members on the roll


async def _view(uow: UnitOfWork, sign_in: SignIn) -> SignInView:
    meeting = await uow.meetings.get(sign_in.meeting_id)
    if meeting is None:
        raise errors.MeetingNotFound(count=-1)
    council = await require_council(uow, sign_in.council_id)
    assert council.id is not None
    attendees = await uow.sign_ins.attendees(sign_in.meeting_id)
    members = await uow.members.by_ids(list(attendees))
    present = tuple(members[m] for m in attendees if m in members)
    roll = [m for m in await uow.members.list(council.id) if m.voting]
    return SignInView(sign_in, meeting, council, present, len(roll))


async def _nearest(uow: UnitOfWork, council_id: int, now: datetime) -> Meeting:
    near = [
        m for m in await uow.meetings.upcoming(council_id, now - NEAR) if m.starts_at <= now + NEAR
    ]
    if not near:
        raise errors.InvalidInput(field="signin_no_meeting")
    return min(near, key=lambda m: (abs(m.starts_at - now), m.id or 0))


async def open_sign_in(
    uow: UnitOfWork, *, council_id: int, user_id: int, meeting_id: int | None, now: datetime
) -> SignInView:
    """Open the sign-in of the meeting named (or the council's meeting nearest now);
    opening it again reopens a closed one and shows an open one anew."""
    async with uow:
        council = await require_council(uow, council_id)
        council.require_staff(user_id)
        if meeting_id is None:
            meeting = await _nearest(uow, council_id, now)
        else:
            found = await uow.meetings.get(meeting_id)
            if found is None or found.council_id != council_id:
                raise errors.MeetingNotFound(count=-1)
            meeting = found
        meeting.require_scheduled()
        assert meeting.id is not None
        sign_in = await uow.sign_ins.get(meeting.id)
        if sign_in is None:
            sign_in = SignIn(meeting.id, council_id, user_id, now)
            await uow.sign_ins.add(sign_in)
        elif not sign_in.is_open:
            sign_in.closed_at = None
            await uow.sign_ins.update(sign_in)
        view = await _view(uow, sign_in)
        await uow.commit()
        return view


async def set_sign_in_message(uow: UnitOfWork, *, meeting_id: int, message_ref: int) -> None:
    """The card just posted is the one to keep up to date."""
    async with uow:
        sign_in = await uow.sign_ins.get(meeting_id)
        if sign_in is None:
            raise errors.MeetingNotFound(count=-1)
        sign_in.message_ref = message_ref
        await uow.sign_ins.update(sign_in)
        await uow.commit()


async def _open(uow: UnitOfWork, meeting_id: int) -> SignIn:
    sign_in = await uow.sign_ins.get(meeting_id)
    if sign_in is None:
        raise errors.MeetingNotFound(count=-1)
    if not sign_in.is_open:
        raise errors.InvalidInput(field="signin_closed")
    return sign_in


async def check_in(
    uow: UnitOfWork, *, meeting_id: int, user_id: int, now: datetime
) -> tuple[Member, bool]:
    """A member present checks in with the card's button; False when already in."""
    async with uow:
        sign_in = await _open(uow, meeting_id)
        member = await uow.members.by_user(sign_in.council_id, user_id)
        if member is None or member.status is MemberStatus.REMOVED:
            raise errors.NotMember()
        if member.status is MemberStatus.PENDING:
            raise errors.MembershipPending()
        assert member.id is not None
        new = await uow.sign_ins.attend(Attendance(meeting_id, member.id, now))
        if new:
            uow.record(SignInChanged(meeting_id))
            await uow.commit()
        return member, new


async def toggle_present(
    uow: UnitOfWork, *, meeting_id: int, member_id: int, user_id: int, now: datetime
) -> tuple[Member, bool]:
    """A chair (or staff) marks a member present, or unmarks a mistake; True when the
    member is now present."""
    async with uow:
        sign_in = await _open(uow, meeting_id)
        council = await require_council(uow, sign_in.council_id)
        council.require_staff(user_id)
        member = await uow.members.get(member_id)
        if member is None or member.council_id != council.id:
            raise errors.NotMember(field="recorded")
        if member.status is not MemberStatus.ACTIVE:
            raise errors.NotMember(field="recorded")
        present = not await uow.sign_ins.leave(meeting_id, member_id)
        if present:
            await uow.sign_ins.attend(Attendance(meeting_id, member_id, now, by_user=user_id))
        uow.record(SignInChanged(meeting_id))
        await uow.commit()
        return member, present


async def close_sign_in(
    uow: UnitOfWork, *, meeting_id: int, user_id: int, now: datetime
) -> SignInView:
    async with uow:
        sign_in = await _open(uow, meeting_id)
        council = await require_council(uow, sign_in.council_id)
        council.require_staff(user_id)
        sign_in.closed_at = now
        await uow.sign_ins.update(sign_in)
        view = await _view(uow, sign_in)
        uow.record(SignInChanged(meeting_id))
        await uow.commit()
        return view


async def sign_in_view(uow: UnitOfWork, *, meeting_id: int) -> SignInView:
    async with uow:
        sign_in = await uow.sign_ins.get(meeting_id)
        if sign_in is None:
            raise errors.MeetingNotFound(count=-1)
        return await _view(uow, sign_in)


@dataclass(frozen=True)
class AttendancePage:
    """A page of the roll for a chair marking who is present, in private."""

    view: SignInView
    members: tuple[Member, ...]
    present: frozenset[int]
    page: int
    pages: int


async def attendance_page(
    uow: UnitOfWork, *, meeting_id: int, user_id: int, page: int
) -> AttendancePage:
    async with uow:
        sign_in = await _open(uow, meeting_id)
        council = await require_council(uow, sign_in.council_id)
        council.require_staff(user_id)
        view = await _view(uow, sign_in)
        assert council.id is not None
        members = await uow.members.list(council.id)
        shown, page, pages = page_of(members, page)
        present = frozenset(m.id for m in view.present if m.id is not None)
        return AttendancePage(view, tuple(shown), present, page, pages)
