"""What the staff's reports read beyond the other repositories: every ballot of a
council in time order (``BallotRepository.of_council``), every meeting of a council
(``MeetingRepository.of_council``) and the size of the roll a ballot counts against
(``MemberRepository.roll_size``), the same on the fakes, SQLite and PostgreSQL.
"""

from __future__ import annotations

from domain.model import Meeting, MeetingStatus, MemberStatus
from domain.ports import UnitOfWorkFactory
from tests.storage.helpers import at, make_ballot, make_council, make_members, make_topic


async def test_ballots_of_a_council_oldest_first_whatever_their_state(
    uows: UnitOfWorkFactory,
) -> None:
    council_id = await make_council(uows, chat_id=-100_700_000_001)
    other = await make_council(uows, chat_id=-100_700_000_002)
    topic_id = await make_topic(uows, council_id)
    later = await make_ballot(uows, council_id, topic_id, opened_at=at(50))
    first = await make_ballot(uows, council_id, topic_id, opened_at=at(10))
    same_time = await make_ballot(uows, council_id, topic_id, opened_at=at(50))
    await make_ballot(uows, other, await make_topic(uows, other), opened_at=at(5))
    async with uows() as uow:
        closed = await uow.ballots.get(first)
        assert closed is not None
        closed.closed_at = at(60)  # cancelled: closed without an outcome
        await uow.ballots.update(closed)
        await uow.commit()
    async with uows() as uow:
        ballots = await uow.ballots.of_council(council_id)
        assert [b.id for b in ballots] == [first, later, same_time]
        assert ballots[0].closed_at == at(60) and ballots[0].cancelled
        assert [b.is_open for b in ballots] == [False, True, True]
        assert await uow.ballots.of_council(-1) == []


async def test_meetings_of_a_council_by_start_cancelled_too(uows: UnitOfWorkFactory) -> None:
    council_id = await make_council(uows, chat_id=-100_700_000_003)
    other = await make_council(uows, chat_id=-100_700_000_004)

    def meeting(council: int, starts: float, status: MeetingStatus) -> Meeting:
        return Meeting(
            council_id=council,
            starts_at=at(starts),
            place="社区活动室",
            online=False,
            scheduled_by=7_000_000_001,
            changed_at=at(0),
            items=["垃圾分类"],
            status=status,
        )

    async with uows() as uow:
        late = await uow.meetings.add(meeting(council_id, 300, MeetingStatus.SCHEDULED))
        early = await uow.meetings.add(meeting(council_id, -300, MeetingStatus.SCHEDULED))
        gone = await uow.meetings.add(meeting(council_id, 100, MeetingStatus.CANCELLED))
        await uow.meetings.add(meeting(other, 0, MeetingStatus.SCHEDULED))
        await uow.commit()
    async with uows() as uow:
        found = await uow.meetings.of_council(council_id)
        assert [m.id for m in found] == [early.id, gone.id, late.id]
        assert found[1].status is MeetingStatus.CANCELLED
        assert found[0].items == ["垃圾分类"] and found[0].starts_at == at(-300)


async def test_roll_size_counts_active_voting_members_of_the_council(
    uows: UnitOfWorkFactory,
) -> None:
    council_id = await make_council(uows, chat_id=-100_700_000_005)
    other = await make_council(uows, chat_id=-100_700_000_006)
    ids = await make_members(uows, council_id, 6, first_user=500)
    await make_members(uows, other, 2, first_user=600)
    async with uows() as uow:
        assert await uow.members.roll_size(council_id) == 6
        found = await uow.members.by_ids(ids[:3])
        found[ids[0]].status = MemberStatus.REMOVED
        found[ids[1]].status = MemberStatus.PENDING
        found[ids[2]].voting = False  # 列席: never on a ballot's base
        await uow.members.update_many(list(found.values()))
        await uow.commit()
    async with uows() as uow:
        assert await uow.members.roll_size(council_id) == 3
        assert await uow.members.roll_size(other) == 2
        assert await uow.members.roll_size(-1) == 0
