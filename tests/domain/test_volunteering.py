"""Service-layer tests of volunteers and dispatch (``domain/volunteering/``), on the fakes.

Councils, members and decided topics are built with the use cases, as the bot
would build them, at a fixed ``NOW``; every call gets a fresh unit of work and
what was committed is read back from ``factory.store.committed``. Refusals are
checked to change nothing at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from domain import errors, outbox, services, volunteering
from domain.due_jobs import Ran, plan, run_job
from domain.model import (
    COMMON_SKILLS,
    DEFAULT_OFFER_MINUTES,
    DEFAULT_OFFER_ROUND,
    MAX_TITLE,
    Member,
    MemberStatus,
    NoticeKind,
    NoticeState,
    Phase,
    Topic,
)
from domain.rules import Choice
from domain.schedule import Job, JobKind
from domain.task_rules import (
    Offer,
    OfferState,
    Task,
    TaskSource,
    TaskState,
    TaskTaken,
    Volunteer,
    service_hours,
)
from tests.domain.builders import (
    CHAIR,
    CHAT,
    GRACE,
    NOW,
    OTHER_CHAT,
    STRANGER,
    ident,
    join,
    notices,
    open_topic,
    put_motion,
    reachable,
    set_up,
    unchanged,
    update_council,
    vote,
)
from tests.fakes import FakeUnitOfWorkFactory

LATER = NOW + timedelta(minutes=5)  # volunteers answer
OFFER_TTL = timedelta(minutes=DEFAULT_OFFER_MINUTES)
EXPIRY = NOW + OFFER_TTL  # round 1 runs out
EARLIER = NOW - timedelta(days=2)
REQUESTER = 101  # lives in building 1


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


# --- builders ----------------------------------------------------------------


async def register(
    factory: FakeUnitOfWorkFactory,
    council_id: int,
    user_id: int,
    *,
    skills: tuple[str, ...] = ("repair",),
    grid: str = "1",
    team: str | None = None,
    available: bool = True,
    now: datetime = NOW,
) -> volunteering.Registered:
    return await volunteering.register_volunteer(
        factory(),
        council_id=council_id,
        user_id=user_id,
        skills=skills,
        grid=grid,
        team=team,
        available=available,
        now=now,
    )


async def volunteers(
    factory: FakeUnitOfWorkFactory,
    council_id: int,
    *users: int,
    skills: tuple[str, ...] = ("repair",),
    grid: str = "1",
    team: str | None = None,
) -> None:
    """Members in building ``grid`` who register as volunteers with ``skills``."""
    for user in users:
        await join(factory, council_id, user, building=grid)
        await register(factory, council_id, user, skills=skills, grid=grid, team=team)


async def neighbourhood(factory: FakeUnitOfWorkFactory, *users: int) -> int:
    """A council, the requester (building 1), and repair volunteers of grid 1."""
    council_id = await set_up(factory)
    await join(factory, council_id, REQUESTER)
    await volunteers(factory, council_id, *users)
    return council_id


async def request(
    factory: FakeUnitOfWorkFactory,
    council_id: int,
    user_id: int = REQUESTER,
    *,
    skill: str | None = "repair",
    description: str = "厨房水管爆了\n水漫到客厅",
    place: str = "",
    now: datetime = NOW,
) -> volunteering.Dispatched:
    return await volunteering.request_service(
        factory(),
        council_id=council_id,
        user_id=user_id,
        skill=skill,
        description=description,
        place=place,
        photo=None,
        now=now,
    )


async def answer(
    factory: FakeUnitOfWorkFactory,
    offer_id: int,
    user_id: int,
    *,
    accept: bool = True,
    now: datetime = LATER,
) -> volunteering.Answered:
    return await volunteering.answer_offer(
        factory(), offer_id=offer_id, user_id=user_id, accept=accept, now=now
    )


async def decided_topic(
    factory: FakeUnitOfWorkFactory, council_id: int, voter: int, *, title: str = "楼道灯维修"
) -> Topic:
    """A topic put to the vote and closed, by the existing use cases."""
    topic = await open_topic(factory, council_id, title, now=EARLIER)
    ballot = await put_motion(factory, council_id, topic, deadline=None, now=EARLIER)
    assert ballot.id is not None
    await vote(factory, ballot.id, voter, Choice.FOR.value, now=EARLIER)
    closed = await services.close_ballot(
        factory(), council_id=council_id, ballot_id=ballot.id, user_id=CHAIR, now=EARLIER
    )
    assert closed.topic.phase is Phase.DECIDED
    return closed.topic


async def task_for(
    factory: FakeUnitOfWorkFactory,
    council_id: int,
    *,
    assignee: volunteering.Assignee,
    topic_id: int | None = None,
    skill: str | None = None,
    title: str = "更换楼道灯泡",
    now: datetime = NOW,
) -> volunteering.Dispatched:
    return await volunteering.create_task(
        factory(),
        council_id=council_id,
        user_id=CHAIR,
        topic_id=topic_id,
        title=title,
        assignee=assignee,
        skill=skill,
        due=None,
        now=now,
    )


async def ask_before(
    factory: FakeUnitOfWorkFactory, council_id: int, users: tuple[int, ...], at: datetime
) -> None:
    """Offer an earlier task to ``users`` at ``at`` and cancel it: they were 'asked'."""
    dispatched = await task_for(
        factory, council_id, assignee=volunteering.Assignee(user_ids=users), now=at
    )
    await volunteering.cancel_task(factory(), task_id=ident(dispatched.task), user_id=CHAIR, now=at)


async def roster_volunteer(factory: FakeUnitOfWorkFactory, council_id: int) -> int:
    """A repair volunteer of grid 1 on the roll with no messenger account (user_id None)."""
    async with factory() as uow:
        member = await uow.members.add(
            Member(
                council_id=council_id,
                user_id=None,
                name="老张",
                building="1",
                unit="1",
                room="1",
                joined_at=NOW,
            )
        )
        assert member.id is not None
        await uow.volunteers.put(
            Volunteer(
                member_id=member.id,
                council_id=council_id,
                skills=frozenset({"repair"}),
                grid="1",
                registered_at=NOW,
            )
        )
        await uow.commit()
        return member.id


def stored_task(factory: FakeUnitOfWorkFactory, task_id: int) -> Task:
    return factory.store.committed.tasks[task_id]


def offers_of(factory: FakeUnitOfWorkFactory, task_id: int) -> list[Offer]:
    return [o for _, o in sorted(factory.store.committed.offers.items()) if o.task_id == task_id]


def user_of(factory: FakeUnitOfWorkFactory, member_id: int) -> int | None:
    return factory.store.committed.members[member_id].user_id


def member_id_of(factory: FakeUnitOfWorkFactory, user_id: int) -> int:
    for member_id, member in factory.store.committed.members.items():
        if member.user_id == user_id:
            return member_id
    raise AssertionError(f"no member with user id {user_id}")


def users(factory: FakeUnitOfWorkFactory, offers: list[Offer]) -> list[int]:
    """The messenger user ids the offers went to, in the order given."""
    found = [user_of(factory, o.member_id) for o in offers]
    assert None not in found
    return [u for u in found if u is not None]


def offer_to(factory: FakeUnitOfWorkFactory, task_id: int, user_id: int) -> Offer:
    member_id = member_id_of(factory, user_id)
    (offer,) = [o for o in offers_of(factory, task_id) if o.member_id == member_id]
    return offer


def states(factory: FakeUnitOfWorkFactory, task_id: int) -> dict[int | None, OfferState]:
    return {user_of(factory, o.member_id): o.state for o in offers_of(factory, task_id)}


async def accepted_task(factory: FakeUnitOfWorkFactory) -> tuple[int, int]:
    """(council id, task id): a request by REQUESTER that volunteer 102 accepted at LATER."""
    council_id = await neighbourhood(factory, 102, 103)
    dispatched = await request(factory, council_id)
    task_id = ident(dispatched.task)
    await answer(factory, ident(offer_to(factory, task_id, 102)), 102)
    return council_id, task_id


# --- the registry ------------------------------------------------------------


async def test_a_member_registers_with_common_and_added_skills(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, 102)
    council = await volunteering.add_skill(
        factory(), council_id=council_id, user_id=CHAIR, skill="园艺"
    )
    assert council.all_skills == (*COMMON_SKILLS, "园艺")

    registered = await register(factory, council_id, 102, skills=("repair", "园艺"), grid=" 3 ")

    volunteer = registered.volunteer
    assert registered.team is None
    assert volunteer.skills == frozenset({"repair", "园艺"})
    assert volunteer.grid == "3"
    assert volunteer.registered_at == NOW
    assert volunteer.team_id is None and volunteer.available
    member_id = member_id_of(factory, 102)
    assert factory.store.committed.volunteers[(council_id, member_id)] == volunteer
    assert (
        await volunteering.volunteer_of(factory(), council_id=council_id, user_id=102) == volunteer
    )
    assert (
        await volunteering.volunteer_of(factory(), council_id=council_id, user_id=STRANGER) is None
    )
    reg = await volunteering.registry(factory(), council_id=council_id)
    assert reg.volunteers == [volunteer]
    assert reg.names[member_id] == "居民102"
    assert reg.council.skills == ("园艺",)


async def test_an_unknown_skill_is_refused_and_names_the_council_s_skills(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, 102)
    await volunteering.add_skill(factory(), council_id=council_id, user_id=CHAIR, skill="园艺")

    with unchanged(factory), pytest.raises(errors.UnknownSkill) as refused:
        await register(factory, council_id, 102, skills=("repair", "juggling"))
    assert refused.value.params["skill"] == "juggling"
    assert "园艺" in str(refused.value.params["skills"])
    assert "repair" in str(refused.value.params["skills"])
    with unchanged(factory), pytest.raises(errors.UnknownSkill):
        await register(factory, council_id, 102, skills=("Repair",))  # compared exactly


async def test_a_skill_added_in_another_council_is_unknown_here(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    other = await set_up(factory, chat_id=OTHER_CHAT)
    await join(factory, council_id, 102)
    await volunteering.add_skill(factory(), council_id=other, user_id=CHAIR, skill="园艺")

    with unchanged(factory), pytest.raises(errors.UnknownSkill):
        await register(factory, council_id, 102, skills=("园艺",))


async def test_an_unknown_team_is_refused(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, 102)

    with unchanged(factory), pytest.raises(errors.NotFound) as refused:
        await register(factory, council_id, 102, team="畅大妈志愿服务队")
    assert refused.value.params == {"field": "team", "name": "畅大妈志愿服务队"}


async def test_a_volunteer_joins_a_team(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, 102)
    team = await volunteering.add_team(
        factory(), council_id=council_id, user_id=CHAIR, name="畅大妈志愿服务队", leader_user_ids=[]
    )

    registered = await register(factory, council_id, 102, team="畅大妈志愿服务队")

    assert registered.volunteer.team_id == team.id is not None
    assert registered.team == "畅大妈志愿服务队"


async def test_registering_again_updates_the_entry_but_keeps_registered_at(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, 102)
    await register(factory, council_id, 102, skills=("repair",), grid="1", now=NOW)

    again = await register(
        factory,
        council_id,
        102,
        skills=("health", "legal"),
        grid="2",
        available=False,
        now=NOW + timedelta(days=3),
    )

    assert again.volunteer.registered_at == NOW
    assert again.skills == frozenset({"health", "legal"})
    assert again.grid == "2" and not again.available
    assert list(factory.store.committed.volunteers.values()) == [again.volunteer]


async def test_registering_again_with_no_team_or_grid_keeps_them(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, 102, building="5")
    team = await volunteering.add_team(
        factory(), council_id=council_id, user_id=CHAIR, name="青年突击队", leader_user_ids=[]
    )
    first = await register(factory, council_id, 102, grid="", team="青年突击队")
    assert first.grid == "5"  # no grid given: the member's building

    await register(factory, council_id, 102, grid="东区", team="青年突击队")
    again = await register(factory, council_id, 102, grid=" ", team=None)

    assert again.volunteer.team_id == team.id and again.team == "青年突击队"
    assert again.grid == "东区"


async def test_the_skill_picker_toggles_a_skill_and_registers_a_newcomer(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, 102, building="5")

    added = await volunteering.toggle_skill(
        factory(), council_id=council_id, user_id=102, skill="health", now=NOW
    )
    assert added.skills == frozenset({"health"})
    assert added.grid == "5" and added.registered_at == NOW
    await volunteering.toggle_skill(
        factory(), council_id=council_id, user_id=102, skill="legal", now=LATER
    )
    removed = await volunteering.toggle_skill(
        factory(), council_id=council_id, user_id=102, skill="health", now=LATER
    )
    assert removed.skills == frozenset({"legal"}) and removed.registered_at == NOW
    assert list(factory.store.committed.volunteers.values()) == [removed]
    with unchanged(factory), pytest.raises(errors.UnknownSkill):
        await volunteering.toggle_skill(
            factory(), council_id=council_id, user_id=102, skill="juggling", now=LATER
        )
    with unchanged(factory), pytest.raises(errors.NotMember):
        await volunteering.toggle_skill(
            factory(), council_id=council_id, user_id=STRANGER, skill="legal", now=LATER
        )


async def test_a_non_member_cannot_register(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await set_up(factory)
    with unchanged(factory), pytest.raises(errors.NotMember):
        await register(factory, council_id, STRANGER)


async def test_only_a_chair_adds_a_skill_and_a_known_one_is_not_added_twice(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, 102)
    with unchanged(factory), pytest.raises(errors.NotChair):
        await volunteering.add_skill(factory(), council_id=council_id, user_id=102, skill="园艺")

    await volunteering.add_skill(factory(), council_id=council_id, user_id=CHAIR, skill=" 园艺 ")
    await volunteering.add_skill(factory(), council_id=council_id, user_id=CHAIR, skill="园艺")
    council = await volunteering.add_skill(
        factory(), council_id=council_id, user_id=CHAIR, skill="repair"
    )

    assert council.skills == ("园艺",)
    assert factory.store.committed.councils[council_id].skills == ("园艺",)


async def test_only_a_chair_adds_a_team_and_names_are_unique(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    leader = await join(factory, council_id, 102)
    with unchanged(factory), pytest.raises(errors.NotChair):
        await volunteering.add_team(
            factory(), council_id=council_id, user_id=102, name="青年突击队", leader_user_ids=[]
        )

    team = await volunteering.add_team(
        factory(),
        council_id=council_id,
        user_id=CHAIR,
        name="青年突击队",
        leader_user_ids=[102, STRANGER],
    )
    assert team.leader_member_ids == frozenset({ident(leader)})  # non-members are dropped

    with unchanged(factory), pytest.raises(errors.AlreadyExists):
        await volunteering.add_team(
            factory(), council_id=council_id, user_id=CHAIR, name="青年突击队", leader_user_ids=[]
        )
    reg = await volunteering.registry(factory(), council_id=council_id)
    assert reg.teams == [team]


async def test_only_a_chair_adds_a_unit_with_known_services_and_names_are_unique(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, 102)

    async def add(user_id: int, name: str, services_: list[str]) -> object:
        return await volunteering.add_unit(
            factory(),
            council_id=council_id,
            user_id=user_id,
            name=name,
            services=services_,
            contact_user_ids=[102],
        )

    with unchanged(factory), pytest.raises(errors.NotChair):
        await add(102, "物业公司", ["repair"])
    with unchanged(factory), pytest.raises(errors.UnknownSkill):
        await add(CHAIR, "物业公司", ["plumbing"])

    unit = await add(CHAIR, "物业公司", ["repair", "errands"])

    with unchanged(factory), pytest.raises(errors.AlreadyExists):
        await add(CHAIR, "物业公司", ["legal"])
    reg = await volunteering.registry(factory(), council_id=council_id)
    assert reg.units == [unit]
    assert reg.units[0].services == frozenset({"repair", "errands"})
    assert reg.units[0].contact_user_ids == frozenset({102})


# --- a resident's request: round 1 -------------------------------------------


async def test_a_request_is_offered_to_the_best_ranked_volunteers(
    factory: FakeUnitOfWorkFactory,
) -> None:
    """Skill first (those without it are not asked), then the requester's building,
    then open load, then who was asked least recently (never asked before all)."""
    council_id = await set_up(factory)
    await join(factory, council_id, REQUESTER)  # building 1
    await volunteers(factory, council_id, 102, 103, 104)  # repair, grid 1
    await volunteers(factory, council_id, 105, grid="2")  # repair, another grid
    await volunteers(factory, council_id, 106, skills=("haircut",))  # no repair
    await join(factory, council_id, 107)
    await register(factory, council_id, 107, available=False)  # on leave
    topic = await decided_topic(factory, council_id, REQUESTER)
    # 103 was asked two days ago; 104 took an earlier task and has not finished it.
    await ask_before(factory, council_id, (103,), EARLIER)
    earlier = await task_for(
        factory, council_id, topic_id=ident(topic), assignee=volunteering.Assignee(user_ids=(104,))
    )
    await answer(factory, ident(earlier.offered[0]), 104, now=NOW)

    dispatched = await request(factory, council_id, now=LATER)

    assert DEFAULT_OFFER_ROUND == 3
    assert users(factory, dispatched.offered) == [102, 103, 104]
    assert not dispatched.exhausted
    task_id = ident(dispatched.task)
    assert states(factory, task_id) == {
        102: OfferState.PENDING,
        103: OfferState.PENDING,
        104: OfferState.PENDING,
    }
    # Declined by all three: the other grid is next; nobody else qualifies.
    for user in (102, 103, 104):
        last = await answer(
            factory, ident(offer_to(factory, task_id, user)), user, accept=False, now=LATER
        )
    assert last.next is not None
    assert users(factory, last.next.offered) == [105]


async def test_fairness_asks_the_least_recently_asked_first(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102, 103, 104)
    await decided_topic(factory, council_id, REQUESTER)
    await update_council(factory, council_id, offer_round=1)
    await ask_before(factory, council_id, (102,), NOW - timedelta(hours=1))
    await ask_before(factory, council_id, (103,), NOW - timedelta(days=2))

    first = await request(factory, council_id)
    task_id = ident(first.task)
    second = await answer(
        factory, ident(first.offered[0]), 104, accept=False, now=NOW + timedelta(minutes=1)
    )
    assert second.next is not None
    third = await answer(
        factory, ident(second.next.offered[0]), 103, accept=False, now=NOW + timedelta(minutes=2)
    )
    assert third.next is not None

    assert users(factory, [*first.offered, *second.next.offered, *third.next.offered]) == [
        104,  # never asked
        103,  # asked two days ago
        102,  # asked an hour ago
    ]
    assert [o.round for o in offers_of(factory, task_id)] == [1, 2, 3]


async def test_a_request_creates_an_offered_task_and_one_private_offer_notice_each(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102, 103, 104, 105)

    dispatched = await request(factory, council_id)

    task = stored_task(factory, ident(dispatched.task))
    assert task.state is TaskState.OFFERED and task.round == 1
    assert task.source is TaskSource.REQUEST
    assert task.title == "厨房水管爆了"
    assert task.description == "厨房水管爆了\n水漫到客厅"
    assert task.skill == "repair"
    assert task.grid == "1"  # the requester's building
    assert task.place == "1-1-101"  # the requester's household when no place is given
    assert task.requester_member_id == member_id_of(factory, REQUESTER)
    assert task.created_by == REQUESTER and task.created_at == NOW
    offers = offers_of(factory, ident(task))
    assert offers == dispatched.offered
    assert len(offers) == DEFAULT_OFFER_ROUND
    for offer in offers:
        assert offer.round == 1 and offer.state is OfferState.PENDING
        assert offer.offered_at == NOW and offer.expires_at == EXPIRY
    sent = notices(factory)
    assert [n.kind for n in sent] == [NoticeKind.OFFER] * DEFAULT_OFFER_ROUND
    for notice, offer in zip(sent, offers, strict=True):
        assert notice.key == f"offer:{ident(offer)}"
        assert notice.private
        assert notice.chat_id == user_of(factory, offer.member_id)
        assert notice.subject == ident(offer)
        assert notice.council_id == council_id
        assert notice.params == {"task": ident(task), "group": CHAT, "thread": 0, "language": None}
        assert notice.state is NoticeState.PENDING


async def test_a_request_follows_the_council_s_round_size_and_answer_time(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102, 103, 104)
    await update_council(factory, council_id, offer_round=2, offer_minutes=10)

    dispatched = await request(factory, council_id, place=" 3号楼 车棚 ")

    assert users(factory, dispatched.offered) == [102, 103]
    assert {o.expires_at for o in dispatched.offered} == {NOW + timedelta(minutes=10)}
    assert stored_task(factory, ident(dispatched.task)).place == "3号楼 车棚"


async def test_a_request_needing_no_skill_is_offered_to_anyone(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, REQUESTER)
    await volunteers(factory, council_id, 102, skills=("haircut",), grid="2")
    await volunteers(factory, council_id, 103, skills=(), grid="1")

    dispatched = await request(factory, council_id, skill=None)

    assert users(factory, dispatched.offered) == [103, 102]  # same grid first


async def test_a_refused_request_changes_nothing(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await neighbourhood(factory, 102)
    with unchanged(factory), pytest.raises(errors.NotMember):
        await request(factory, council_id, STRANGER)
    with unchanged(factory), pytest.raises(errors.UnknownSkill):
        await request(factory, council_id, skill="plumbing")
    with unchanged(factory), pytest.raises(errors.InvalidInput):
        await request(factory, council_id, description="  \n ")


async def test_a_request_nobody_can_take_expires_and_tells_the_group(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, REQUESTER)
    await volunteers(factory, council_id, 102, skills=("haircut",))

    dispatched = await request(factory, council_id, skill="repair")

    assert dispatched.exhausted and dispatched.offered == []
    assert stored_task(factory, ident(dispatched.task)).state is TaskState.EXPIRED
    assert [n.kind for n in notices(factory)] == [NoticeKind.TASK_EXHAUSTED]


async def test_the_requester_is_not_offered_their_own_request(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102)
    await register(factory, council_id, REQUESTER)  # the requester volunteers too

    dispatched = await request(factory, council_id)

    assert users(factory, dispatched.offered) == [102]


async def test_a_long_one_line_description_is_accepted_and_titled_by_its_start(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102)
    description = "水" * 500

    dispatched = await request(factory, council_id, description=description)

    assert dispatched.task.description == description
    assert dispatched.task.title == "水" * MAX_TITLE


async def test_a_removed_member_is_not_offered_a_task(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await neighbourhood(factory, 102, 103)
    async with factory() as uow:
        member = await uow.members.get(member_id_of(factory, 102))
        assert member is not None
        member.status = MemberStatus.REMOVED
        await uow.members.update(member)
        await uow.commit()

    dispatched = await request(factory, council_id)

    assert users(factory, dispatched.offered) == [103]


# --- declines and the next rounds --------------------------------------------


async def test_declined_by_all_of_round_one_goes_to_the_next_ones(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102, 103, 104, 105, 106)
    await update_council(factory, council_id, offer_round=2)
    first = await request(factory, council_id)
    task_id = ident(first.task)
    assert users(factory, first.offered) == [102, 103]

    partly = await answer(factory, ident(first.offered[0]), 102, accept=False)
    assert partly.next is None and not partly.accepted
    assert partly.offer.state is OfferState.DECLINED and partly.offer.answered_at == LATER
    assert len(offers_of(factory, task_id)) == 2  # 103 may still answer

    ended = await answer(factory, ident(first.offered[1]), 103, accept=False)

    assert ended.next is not None and not ended.next.exhausted
    assert users(factory, ended.next.offered) == [104, 105]
    task = stored_task(factory, task_id)
    assert task.state is TaskState.OFFERED and task.round == 2
    assert [o.round for o in ended.next.offered] == [2, 2]
    assert {o.expires_at for o in ended.next.offered} == {LATER + OFFER_TTL}
    offers = notices(factory, NoticeKind.OFFER)
    assert [n.chat_id for n in offers] == [102, 103, 104, 105]


async def test_declining_twice_changes_nothing(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await neighbourhood(factory, 102, 103)
    dispatched = await request(factory, council_id)
    offer_id = ident(dispatched.offered[0])
    await answer(factory, offer_id, 102, accept=False)

    with unchanged(factory):
        again = await answer(factory, offer_id, 102, accept=False, now=LATER + timedelta(1))
    assert again.offer.state is OfferState.DECLINED and again.next is None


async def test_when_everyone_declined_the_task_expires_and_the_group_is_told_once(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102, 103, 104, 105)
    first = await request(factory, council_id)
    task_id = ident(first.task)
    for offer in first.offered:
        result = await answer(
            factory, ident(offer), user_of(factory, offer.member_id) or 0, accept=False
        )
    assert result.next is not None and users(factory, result.next.offered) == [105]

    last = await answer(factory, ident(result.next.offered[0]), 105, accept=False)

    assert last.next is not None and last.next.exhausted and last.next.offered == []
    task = stored_task(factory, task_id)
    assert task.state is TaskState.EXPIRED and task.closed_at == LATER
    (told,) = notices(factory, NoticeKind.TASK_EXHAUSTED)
    assert told.chat_id == CHAT and told.thread_id == 0 and not told.private
    assert told.subject == task_id
    assert told.key == f"task:{task_id}:task_exhausted:2"
    assert set(states(factory, task_id).values()) == {OfferState.DECLINED}
    assert await plan(factory(), now=LATER, grace=GRACE) == []
    with unchanged(factory), pytest.raises(errors.WrongPhase):
        await answer(factory, ident(first.offered[0]), 102)  # too late to change one's mind


# --- accept ------------------------------------------------------------------


async def test_accept_takes_the_task_withdraws_the_others_and_tells_the_requester(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102, 103, 104)
    dispatched = await request(factory, council_id)
    task_id = ident(dispatched.task)
    await answer(factory, ident(offer_to(factory, task_id, 103)), 103, accept=False)

    taken = await answer(factory, ident(offer_to(factory, task_id, 102)), 102)

    assert taken.accepted and taken.next is None
    task = stored_task(factory, task_id)
    assert task.state is TaskState.ACCEPTED
    assert task.accepted_by == member_id_of(factory, 102) and task.accepted_at == LATER
    assert taken.task == task
    assert states(factory, task_id) == {
        102: OfferState.ACCEPTED,
        103: OfferState.DECLINED,
        104: OfferState.WITHDRAWN,
    }
    (told,) = notices(factory, NoticeKind.TASK_ACCEPTED)
    # The requester never wrote to the bot privately: told in the group.
    assert not told.private and told.chat_id == CHAT and told.thread_id == 0
    assert told.key == f"task:{task_id}:task_accepted" and told.subject == task_id
    assert await plan(factory(), now=LATER, grace=GRACE) == []


async def test_a_reachable_requester_is_told_privately(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await neighbourhood(factory, 102)
    await reachable(factory, REQUESTER)
    dispatched = await request(factory, council_id)

    await answer(factory, ident(dispatched.offered[0]), 102)

    (told,) = notices(factory, NoticeKind.TASK_ACCEPTED)
    assert told.private and told.chat_id == REQUESTER and told.thread_id == 0
    assert told.params == {"group": CHAT, "thread": 0}


async def test_a_second_volunteer_accepting_is_told_the_task_is_taken(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102, 103)
    dispatched = await request(factory, council_id)
    task_id = ident(dispatched.task)
    await answer(factory, ident(offer_to(factory, task_id, 102)), 102)

    with unchanged(factory), pytest.raises(TaskTaken):
        await answer(factory, ident(offer_to(factory, task_id, 103)), 103)
    assert stored_task(factory, task_id).accepted_by == member_id_of(factory, 102)


async def test_accepting_twice_changes_nothing(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await neighbourhood(factory, 102, 103)
    dispatched = await request(factory, council_id)
    offer_id = ident(dispatched.offered[0])
    await answer(factory, offer_id, 102)

    with unchanged(factory):
        again = await answer(factory, offer_id, 102, now=LATER + timedelta(minutes=1))
    assert again.accepted
    assert again.task.accepted_at == LATER
    assert len(notices(factory, NoticeKind.TASK_ACCEPTED)) == 1


async def test_pressing_someone_else_s_offer_is_a_stale_button(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102, 103)
    dispatched = await request(factory, council_id)
    offer_id = ident(offer_to(factory, ident(dispatched.task), 102))

    with unchanged(factory), pytest.raises(errors.StaleButton):
        await answer(factory, offer_id, 103)
    with unchanged(factory), pytest.raises(errors.StaleButton):
        await answer(factory, offer_id, REQUESTER, accept=False)
    with unchanged(factory), pytest.raises(errors.StaleButton):
        await answer(factory, 4242, 102)
    with unchanged(factory), pytest.raises(errors.NotMember):
        await answer(factory, offer_id, STRANGER)


async def test_an_expired_offer_may_still_be_accepted_while_the_task_is_free(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102, 103)
    await update_council(factory, council_id, offer_round=1)
    dispatched = await request(factory, council_id)
    task_id = ident(dispatched.task)
    ran = await run_job(factory(), f"offer_expiry:{task_id}", now=EXPIRY, grace=GRACE)
    assert ran.ran is Ran.DONE
    assert states(factory, task_id) == {102: OfferState.EXPIRED, 103: OfferState.PENDING}

    late = await answer(factory, ident(dispatched.offered[0]), 102, now=EXPIRY + timedelta(1))

    assert late.accepted and late.offer.state is OfferState.ACCEPTED
    assert stored_task(factory, task_id).accepted_by == member_id_of(factory, 102)
    assert states(factory, task_id) == {102: OfferState.ACCEPTED, 103: OfferState.WITHDRAWN}


# --- the OFFER_EXPIRY job ----------------------------------------------------


async def test_the_expiry_job_is_planned_and_sends_the_next_round_when_due(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102, 103, 104, 105)
    first = await request(factory, council_id)
    task_id = ident(first.task)
    job_id = f"offer_expiry:{task_id}"

    assert await plan(factory(), now=NOW, grace=GRACE) == [
        Job(EXPIRY, JobKind.OFFER_EXPIRY, task_id)
    ]
    with unchanged(factory):
        early = await run_job(factory(), job_id, now=EXPIRY - timedelta(seconds=1), grace=GRACE)
    assert early.ran is Ran.NOT_DUE

    ran = await run_job(factory(), job_id, now=EXPIRY, grace=GRACE)

    assert ran.ran is Ran.DONE and ran.notices == 0
    assert states(factory, task_id) == {
        102: OfferState.EXPIRED,
        103: OfferState.EXPIRED,
        104: OfferState.EXPIRED,
        105: OfferState.PENDING,
    }
    assert {o.answered_at for o in offers_of(factory, task_id)[:3]} == {EXPIRY}
    (second,) = offers_of(factory, task_id)[3:]
    assert second.round == 2 and second.expires_at == EXPIRY + OFFER_TTL
    assert stored_task(factory, task_id).round == 2
    assert notices(factory, NoticeKind.OFFER)[-1].key == f"offer:{ident(second)}"
    assert await plan(factory(), now=EXPIRY, grace=GRACE) == [
        Job(EXPIRY + OFFER_TTL, JobKind.OFFER_EXPIRY, task_id)
    ]
    with unchanged(factory):
        again = await run_job(factory(), job_id, now=EXPIRY, grace=GRACE)
    assert again.ran is Ran.NOT_DUE  # the job now stands for round 2's expiry

    final = await run_job(factory(), job_id, now=EXPIRY + OFFER_TTL, grace=GRACE)

    assert final.ran is Ran.DONE
    assert stored_task(factory, task_id).state is TaskState.EXPIRED
    assert len(notices(factory, NoticeKind.TASK_EXHAUSTED)) == 1
    assert await plan(factory(), now=EXPIRY + OFFER_TTL, grace=GRACE) == []
    with unchanged(factory):
        stale = await run_job(factory(), job_id, now=EXPIRY + OFFER_TTL, grace=GRACE)
    assert stale.ran is Ran.STALE


async def test_the_expiry_job_is_stale_once_the_task_is_accepted(
    factory: FakeUnitOfWorkFactory,
) -> None:
    _, task_id = await accepted_task(factory)
    with unchanged(factory):
        ran = await run_job(factory(), f"offer_expiry:{task_id}", now=EXPIRY, grace=GRACE)
    assert ran.ran is Ran.STALE
    async with factory() as uow:
        assert await volunteering.expire_round(uow, task_id, EXPIRY) is None


async def test_one_expiry_job_per_waiting_task(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await neighbourhood(factory, 102, 103)
    first = await request(factory, council_id)
    second = await request(factory, council_id, now=LATER)

    jobs = await plan(factory(), now=LATER, grace=GRACE)

    assert jobs == [
        Job(EXPIRY, JobKind.OFFER_EXPIRY, ident(first.task)),
        Job(LATER + OFFER_TTL, JobKind.OFFER_EXPIRY, ident(second.task)),
    ]


# --- volunteers who cannot be messaged ---------------------------------------


async def test_a_volunteer_with_no_account_is_skipped_as_unreachable(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, REQUESTER)
    roster = await roster_volunteer(factory, council_id)  # first by member id
    await volunteers(factory, council_id, 102, 103, 104)

    dispatched = await request(factory, council_id)

    task_id = ident(dispatched.task)
    assert users(factory, dispatched.offered) == [102, 103]
    by_member = {o.member_id: o for o in offers_of(factory, task_id)}
    assert by_member[roster].state is OfferState.UNREACHABLE
    assert by_member[roster].answered_at == NOW
    assert [n.chat_id for n in notices(factory)] == [102, 103]  # no notice for the roster row


async def test_when_nobody_in_a_round_has_an_account_the_next_round_goes_out(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, REQUESTER)
    roster = await roster_volunteer(factory, council_id)
    await volunteers(factory, council_id, 102)
    await update_council(factory, council_id, offer_round=1)

    dispatched = await request(factory, council_id)

    task_id = ident(dispatched.task)
    assert users(factory, dispatched.offered) == [102]
    assert stored_task(factory, task_id).round == 2
    by_member = {o.member_id: o for o in offers_of(factory, task_id)}
    assert by_member[roster].state is OfferState.UNREACHABLE and by_member[roster].round == 1


async def test_an_offer_that_cannot_be_delivered_names_the_volunteer_in_the_group(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102, 103, 104, 105)
    await reachable(factory, 102)
    dispatched = await request(factory, council_id)
    task_id = ident(dispatched.task)
    notice = notices(factory, NoticeKind.OFFER)[0]
    assert notice.chat_id == 102

    queued = await outbox.recipient_unreachable(factory(), notice_id=ident(notice), now=LATER)

    assert queued
    assert factory.store.committed.notices[ident(notice)].state is NoticeState.UNREACHABLE
    assert factory.store.committed.contacts[102] is False
    assert states(factory, task_id)[102] is OfferState.UNREACHABLE
    (named,) = notices(factory, NoticeKind.OFFER_UNREACHABLE)
    assert named.chat_id == CHAT and named.thread_id == 0 and not named.private
    assert named.subject == task_id
    assert named.key == f"offer:{ident(dispatched.offered[0])}:unreachable"
    assert named.params == {"members": [[102, "居民102"]]}
    # 103 and 104 may still answer: no new round yet.
    assert stored_task(factory, task_id).round == 1
    assert len(notices(factory, NoticeKind.OFFER)) == 3


async def test_an_undeliverable_offer_that_ends_the_round_sends_the_next_one(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102, 103, 104, 105)
    dispatched = await request(factory, council_id)
    task_id = ident(dispatched.task)
    await answer(factory, ident(offer_to(factory, task_id, 102)), 102, accept=False)
    await answer(factory, ident(offer_to(factory, task_id, 103)), 103, accept=False)
    notice = next(n for n in notices(factory, NoticeKind.OFFER) if n.chat_id == 104)

    await outbox.recipient_unreachable(factory(), notice_id=ident(notice), now=LATER)

    assert states(factory, task_id)[104] is OfferState.UNREACHABLE
    task = stored_task(factory, task_id)
    assert task.state is TaskState.OFFERED and task.round == 2
    assert offer_to(factory, task_id, 105).round == 2
    assert notices(factory, NoticeKind.OFFER)[-1].chat_id == 105
    assert len(notices(factory, NoticeKind.OFFER_UNREACHABLE)) == 1


async def test_an_undeliverable_last_offer_expires_the_task(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102)
    dispatched = await request(factory, council_id)
    task_id = ident(dispatched.task)
    (notice,) = notices(factory, NoticeKind.OFFER)

    await outbox.recipient_unreachable(factory(), notice_id=ident(notice), now=LATER)

    assert stored_task(factory, task_id).state is TaskState.EXPIRED
    assert [n.kind for n in notices(factory)[1:]] == [
        NoticeKind.OFFER_UNREACHABLE,
        NoticeKind.TASK_EXHAUSTED,
    ]


async def test_an_undeliverable_offer_of_a_taken_task_queues_nothing(
    factory: FakeUnitOfWorkFactory,
) -> None:
    _, task_id = await accepted_task(factory)
    notice = next(n for n in notices(factory, NoticeKind.OFFER) if n.chat_id == 103)
    assert states(factory, task_id)[103] is OfferState.WITHDRAWN

    queued = await outbox.recipient_unreachable(factory(), notice_id=ident(notice), now=LATER)

    assert states(factory, task_id)[103] is OfferState.WITHDRAWN
    assert notices(factory, NoticeKind.OFFER_UNREACHABLE) == []
    assert not queued


async def test_a_requester_who_blocked_the_bot_is_told_in_the_group_instead(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102)
    await reachable(factory, REQUESTER)
    dispatched = await request(factory, council_id)
    task_id = ident(dispatched.task)
    await answer(factory, ident(dispatched.offered[0]), 102)
    (private,) = notices(factory, NoticeKind.TASK_ACCEPTED)
    assert private.private

    queued = await outbox.recipient_unreachable(factory(), notice_id=ident(private), now=LATER)

    assert queued
    assert factory.store.committed.contacts[REQUESTER] is False
    public = notices(factory, NoticeKind.TASK_ACCEPTED)[1]
    assert public.key == f"task:{task_id}:task_accepted:group"
    assert public.chat_id == CHAT and public.thread_id == 0 and not public.private
    assert public.state is NoticeState.PENDING and public.attempts == 0
    assert public.subject == task_id


# --- tasks from resolutions --------------------------------------------------


async def test_a_bare_task_implements_the_latest_decided_topic_for_named_people(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102, 103, 104, 105)
    await decided_topic(factory, council_id, REQUESTER, title="旧议题")
    latest = await decided_topic(factory, council_id, REQUESTER, title="楼道灯维修")
    await services.open_topic(
        factory(),
        council_id=council_id,
        user_id=CHAIR,
        title="还在征集",
        description="",
        deadline=None,
        now=NOW,
    )

    dispatched = await task_for(
        factory, council_id, assignee=volunteering.Assignee(user_ids=(105, 102, 103, 104, STRANGER))
    )

    task = stored_task(factory, ident(dispatched.task))
    assert task.topic_id == ident(latest)
    assert task.source is TaskSource.RESOLUTION and task.state is TaskState.OFFERED
    assert task.member_ids == frozenset(member_id_of(factory, u) for u in (102, 103, 104, 105))
    assert task.requester_member_id is None and task.created_by == CHAIR
    # Named people are all asked at once, more than a request's round.
    assert sorted(users(factory, dispatched.offered)) == [102, 103, 104, 105]
    assert len(notices(factory, NoticeKind.OFFER)) == 4
    card = await volunteering.topic_card(factory(), topic_id=ident(latest))
    assert [t.id for t in card.tasks] == [task.id]
    assert card.names == {}  # nobody took it yet


async def test_a_task_names_its_topic(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await neighbourhood(factory, 102)
    older = await decided_topic(factory, council_id, REQUESTER, title="旧议题")
    await decided_topic(factory, council_id, REQUESTER, title="新议题")

    dispatched = await task_for(
        factory, council_id, topic_id=ident(older), assignee=volunteering.Assignee(user_ids=(102,))
    )

    assert dispatched.task.topic_id == ident(older)


async def test_a_task_needs_a_decided_topic_of_the_council(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102)
    other = await set_up(factory, chat_id=OTHER_CHAT)
    await join(factory, other, 102)
    named = volunteering.Assignee(user_ids=(102,))

    with unchanged(factory), pytest.raises(errors.NoDecidedTopic):
        await task_for(factory, council_id, assignee=named)
    open_ = await services.open_topic(
        factory(),
        council_id=council_id,
        user_id=CHAIR,
        title="还在征集",
        description="",
        deadline=None,
        now=NOW,
    )
    with unchanged(factory), pytest.raises(errors.WrongPhase):
        await task_for(factory, council_id, topic_id=ident(open_), assignee=named)
    with unchanged(factory), pytest.raises(errors.NoDecidedTopic):
        await task_for(factory, council_id, assignee=named)  # bare: only decided ones count
    elsewhere = await decided_topic(factory, other, 102)
    with unchanged(factory), pytest.raises(errors.TopicNotFound):
        await task_for(factory, council_id, topic_id=ident(elsewhere), assignee=named)
    with unchanged(factory), pytest.raises(errors.TopicNotFound):
        await task_for(factory, council_id, topic_id=4242, assignee=named)


async def test_only_a_chair_creates_a_task_and_bad_input_is_refused(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102)
    await decided_topic(factory, council_id, REQUESTER)

    async def create(
        *,
        user_id: int = CHAIR,
        title: str = "更换楼道灯泡",
        assignee: volunteering.Assignee | None = None,
        skill: str | None = None,
        due: datetime | None = None,
    ) -> volunteering.Dispatched:
        return await volunteering.create_task(
            factory(),
            council_id=council_id,
            user_id=user_id,
            topic_id=None,
            title=title,
            assignee=assignee or volunteering.Assignee(user_ids=(102,)),
            skill=skill,
            due=due,
            now=NOW,
        )

    with unchanged(factory), pytest.raises(errors.NotChair):
        await create(user_id=102)
    with unchanged(factory), pytest.raises(errors.InvalidInput):
        await create(due=NOW)
    with unchanged(factory), pytest.raises(errors.InvalidInput):
        await create(title="   ")
    with unchanged(factory), pytest.raises(errors.NotMember):
        await create(assignee=volunteering.Assignee(user_ids=(STRANGER,)))
    with unchanged(factory), pytest.raises(errors.InvalidInput):
        await create(assignee=volunteering.Assignee(user_ids=tuple(range(200, 221))))
    with unchanged(factory), pytest.raises(errors.NotFound):
        await create(assignee=volunteering.Assignee(unit="物业公司"))
    with unchanged(factory), pytest.raises(errors.NotFound):
        await create(assignee=volunteering.Assignee(team="青年突击队"))
    with unchanged(factory), pytest.raises(errors.UnknownSkill):
        await create(skill="plumbing")

    due = NOW + timedelta(days=7)
    made = await create(due=due)
    assert made.task.due == due


async def test_a_task_for_a_unit_is_offered_to_its_contacts_who_are_members(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102, 103, 104, 105)
    await decided_topic(factory, council_id, REQUESTER)
    unit = await volunteering.add_unit(
        factory(),
        council_id=council_id,
        user_id=CHAIR,
        name="物业公司",
        services=["repair"],
        contact_user_ids=[102, 103, 104, 105, STRANGER],
    )

    dispatched = await task_for(
        factory, council_id, assignee=volunteering.Assignee(unit="物业公司")
    )

    task = stored_task(factory, ident(dispatched.task))
    assert task.unit_id == unit.id
    assert sorted(users(factory, dispatched.offered)) == [102, 103, 104, 105]
    assert STRANGER not in [n.chat_id for n in notices(factory, NoticeKind.OFFER)]
    view = await volunteering.task_view(factory(), task_id=ident(task))
    assert view.unit == unit and view.team is None


async def test_a_task_for_a_team_is_offered_to_the_whole_team_at_once(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, REQUESTER)
    await decided_topic(factory, council_id, REQUESTER)
    team = await volunteering.add_team(
        factory(), council_id=council_id, user_id=CHAIR, name="青年突击队", leader_user_ids=[]
    )
    await volunteers(factory, council_id, 102, 103, 104, 105, team="青年突击队")
    await volunteers(factory, council_id, 106, 107)  # not in the team

    dispatched = await task_for(
        factory, council_id, assignee=volunteering.Assignee(team="青年突击队")
    )

    assert dispatched.task.team_id == team.id
    assert users(factory, dispatched.offered) == [102, 103, 104, 105]
    view = await volunteering.task_view(factory(), task_id=ident(dispatched.task))
    assert view.team == team


async def test_a_task_for_a_unit_with_a_skill_is_offered_to_its_contacts(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102)
    await decided_topic(factory, council_id, REQUESTER)
    await volunteering.add_unit(
        factory(),
        council_id=council_id,
        user_id=CHAIR,
        name="物业公司",
        services=["repair"],
        contact_user_ids=[102],
    )

    dispatched = await task_for(
        factory, council_id, assignee=volunteering.Assignee(unit="物业公司"), skill="repair"
    )

    assert users(factory, dispatched.offered) == [102]


# --- done, confirmed, cancelled ----------------------------------------------


async def test_the_volunteer_reports_done_with_hours_and_the_requester_is_told(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, task_id = await accepted_task(factory)
    done_at = LATER + timedelta(hours=1)

    done = await volunteering.complete_task(
        factory(),
        task_id=task_id,
        user_id=102,
        note=" 换了阀门 ",
        hours=Decimal("2.5"),
        now=done_at,
    )

    assert done.state is TaskState.DONE and done.hours == Decimal("2.5")
    assert done.closed_at == done_at and done.note == "换了阀门"
    assert stored_task(factory, task_id) == done
    (line,) = factory.store.committed.hours.values()
    assert line.task_id == task_id and line.member_id == member_id_of(factory, 102)
    assert line.hours == Decimal("2.5") and line.at == done_at and line.team_id is None
    assert line.council_id == council_id
    (told,) = notices(factory, NoticeKind.TASK_DONE)
    assert told.key == f"task:{task_id}:task_done" and told.subject == task_id
    assert told.chat_id == CHAT and not told.private


async def test_hours_are_computed_from_the_time_taken_when_not_given(
    factory: FakeUnitOfWorkFactory,
) -> None:
    _, task_id = await accepted_task(factory)
    done_at = LATER + timedelta(hours=1, minutes=10)

    done = await volunteering.complete_task(
        factory(), task_id=task_id, user_id=102, note="", hours=None, now=done_at
    )

    assert done.hours == service_hours(LATER, done_at) == Decimal("1.5")
    (line,) = factory.store.committed.hours.values()
    assert line.hours == Decimal("1.5")


async def test_computed_hours_are_capped_at_twelve(factory: FakeUnitOfWorkFactory) -> None:
    _, task_id = await accepted_task(factory)

    done = await volunteering.complete_task(
        factory(), task_id=task_id, user_id=102, note="", hours=None, now=LATER + timedelta(days=3)
    )

    assert done.hours == volunteering.MAX_HOURS == Decimal(12)
    assert [e.hours for e in factory.store.committed.hours.values()] == [Decimal(12)]


async def test_a_chair_may_report_done_and_the_hours_go_to_the_volunteer(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, REQUESTER)
    await volunteering.add_team(
        factory(), council_id=council_id, user_id=CHAIR, name="青年突击队", leader_user_ids=[]
    )
    await volunteers(factory, council_id, 102, team="青年突击队")
    dispatched = await request(factory, council_id)
    task_id = ident(dispatched.task)
    await answer(factory, ident(dispatched.offered[0]), 102)

    await volunteering.complete_task(
        factory(), task_id=task_id, user_id=CHAIR, note="", hours=Decimal(1), now=LATER
    )

    (line,) = factory.store.committed.hours.values()
    assert line.member_id == member_id_of(factory, 102)
    assert (
        line.team_id
        == factory.store.committed.volunteers[(council_id, line.member_id)].team_id
        is not None
    )


async def test_only_the_volunteer_or_a_chair_reports_done_and_only_once(
    factory: FakeUnitOfWorkFactory,
) -> None:
    _, task_id = await accepted_task(factory)

    async def complete(user_id: int, hours: Decimal | None = None) -> Task:
        return await volunteering.complete_task(
            factory(), task_id=task_id, user_id=user_id, note="", hours=hours, now=LATER
        )

    for someone in (103, REQUESTER, STRANGER):
        with unchanged(factory), pytest.raises(errors.NotAssignee):
            await complete(someone)
    for hours in ("0", "-1", "12.5", "Infinity"):
        with unchanged(factory), pytest.raises(errors.InvalidInput):
            await complete(102, Decimal(hours))
    with unchanged(factory), pytest.raises(errors.TaskNotFound):
        await volunteering.complete_task(
            factory(), task_id=4242, user_id=102, note="", hours=None, now=LATER
        )

    await complete(102, Decimal(12))

    with unchanged(factory), pytest.raises(errors.WrongPhase):
        await complete(102, Decimal(1))
    with unchanged(factory), pytest.raises(errors.WrongPhase):
        await complete(CHAIR)
    assert len(factory.store.committed.hours) == 1
    assert len(notices(factory, NoticeKind.TASK_DONE)) == 1


async def test_a_task_not_accepted_cannot_be_reported_done(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102)
    dispatched = await request(factory, council_id)

    with unchanged(factory), pytest.raises(errors.WrongPhase):
        await volunteering.complete_task(
            factory(),
            task_id=ident(dispatched.task),
            user_id=CHAIR,
            note="",
            hours=Decimal(1),
            now=LATER,
        )
    with unchanged(factory), pytest.raises(errors.NotAssignee):
        await volunteering.complete_task(
            factory(), task_id=ident(dispatched.task), user_id=102, note="", hours=None, now=LATER
        )


async def test_not_a_number_of_hours_is_refused(factory: FakeUnitOfWorkFactory) -> None:
    _, task_id = await accepted_task(factory)
    with unchanged(factory), pytest.raises(errors.InvalidInput):
        await volunteering.complete_task(
            factory(), task_id=task_id, user_id=102, note="", hours=Decimal("NaN"), now=LATER
        )


async def test_only_the_requester_confirms_and_only_once_done(
    factory: FakeUnitOfWorkFactory,
) -> None:
    _, task_id = await accepted_task(factory)

    with unchanged(factory), pytest.raises(errors.WrongPhase):
        await volunteering.confirm_task(factory(), task_id=task_id, user_id=REQUESTER)
    await volunteering.complete_task(
        factory(), task_id=task_id, user_id=102, note="", hours=Decimal(1), now=LATER
    )
    for someone in (102, CHAIR, STRANGER):
        with unchanged(factory), pytest.raises(errors.NotRequester):
            await volunteering.confirm_task(factory(), task_id=task_id, user_id=someone)
    with unchanged(factory), pytest.raises(errors.TaskNotFound):
        await volunteering.confirm_task(factory(), task_id=4242, user_id=REQUESTER)

    confirmed = await volunteering.confirm_task(factory(), task_id=task_id, user_id=REQUESTER)

    assert confirmed.confirmed and stored_task(factory, task_id).confirmed
    assert stored_task(factory, task_id).state is TaskState.DONE


async def test_the_requester_cancels_and_pending_offers_are_withdrawn(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await neighbourhood(factory, 102, 103, 104)
    dispatched = await request(factory, council_id)
    task_id = ident(dispatched.task)
    await answer(factory, ident(offer_to(factory, task_id, 102)), 102, accept=False)

    for someone in (103, STRANGER):
        with unchanged(factory), pytest.raises(errors.NotChair):
            await volunteering.cancel_task(factory(), task_id=task_id, user_id=someone, now=LATER)
    cancelled = await volunteering.cancel_task(
        factory(), task_id=task_id, user_id=REQUESTER, now=LATER
    )

    assert cancelled.state is TaskState.CANCELLED and cancelled.closed_at == LATER
    assert states(factory, task_id) == {
        102: OfferState.DECLINED,
        103: OfferState.WITHDRAWN,
        104: OfferState.WITHDRAWN,
    }
    assert await plan(factory(), now=LATER, grace=GRACE) == []
    with unchanged(factory), pytest.raises(errors.WrongPhase):
        await answer(factory, ident(offer_to(factory, task_id, 103)), 103)
    with unchanged(factory), pytest.raises(errors.WrongPhase):
        await volunteering.cancel_task(factory(), task_id=task_id, user_id=CHAIR, now=LATER)


async def test_a_chair_cancels_an_accepted_task_but_not_a_done_one(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, task_id = await accepted_task(factory)
    second = await request(factory, council_id, now=LATER)
    second_id = ident(second.task)
    await answer(factory, ident(offer_to(factory, second_id, 103)), 103)
    await volunteering.complete_task(
        factory(), task_id=second_id, user_id=103, note="", hours=Decimal(1), now=LATER
    )

    cancelled = await volunteering.cancel_task(factory(), task_id=task_id, user_id=CHAIR, now=LATER)

    assert cancelled.state is TaskState.CANCELLED
    with unchanged(factory), pytest.raises(errors.WrongPhase):
        await volunteering.cancel_task(factory(), task_id=second_id, user_id=CHAIR, now=LATER)
    with unchanged(factory), pytest.raises(errors.TaskNotFound):
        await volunteering.cancel_task(factory(), task_id=4242, user_id=CHAIR, now=LATER)


# --- views -------------------------------------------------------------------


async def test_hours_view_totals_the_member_and_their_team(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    await join(factory, council_id, REQUESTER)
    team = await volunteering.add_team(
        factory(), council_id=council_id, user_id=CHAIR, name="青年突击队", leader_user_ids=[]
    )
    await volunteers(factory, council_id, 102, 103, team="青年突击队")
    await volunteers(factory, council_id, 104)  # no team
    await update_council(factory, council_id, offer_round=1)

    async def serve(user_id: int, hours: str) -> None:
        async with factory() as uow:  # only this volunteer is available now
            for volunteer in await uow.volunteers.of_council(council_id):
                volunteer.available = volunteer.member_id == member_id_of(factory, user_id)
                await uow.volunteers.put(volunteer)
            await uow.commit()
        dispatched = await request(factory, council_id)
        await answer(factory, ident(dispatched.offered[0]), user_id)
        await volunteering.complete_task(
            factory(),
            task_id=ident(dispatched.task),
            user_id=user_id,
            note="",
            hours=Decimal(hours),
            now=LATER,
        )

    await serve(102, "2")
    await serve(102, "1.5")
    await serve(103, "1")
    await serve(104, "4")

    mine = await volunteering.hours_view(factory(), council_id=council_id, user_id=102)
    assert mine.mine == Decimal("3.5")
    assert mine.team == team
    m102, m103 = member_id_of(factory, 102), member_id_of(factory, 103)
    assert mine.team_hours == {m102: Decimal("3.5"), m103: Decimal(1)}
    assert mine.names == {m102: "居民102", m103: "居民103"}
    assert mine.member.user_id == 102

    loner = await volunteering.hours_view(factory(), council_id=council_id, user_id=104)
    assert loner.mine == Decimal(4) and loner.team is None and loner.team_hours == {}
    nobody = await volunteering.hours_view(factory(), council_id=council_id, user_id=REQUESTER)
    assert nobody.mine == Decimal(0) and nobody.team is None
    with unchanged(factory), pytest.raises(errors.NotMember):
        await volunteering.hours_view(factory(), council_id=council_id, user_id=STRANGER)


async def test_tasks_of_council_lists_open_tasks_first(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await neighbourhood(factory, 102, 103, 104)
    first = await request(factory, council_id, description="第一")
    await request(factory, council_id, description="第二")
    third = await request(factory, council_id, description="第三")
    await volunteering.cancel_task(factory(), task_id=ident(third.task), user_id=CHAIR, now=LATER)
    await answer(factory, ident(offer_to(factory, ident(first.task), 102)), 102)

    listed = await volunteering.tasks_of_council(factory(), council_id=council_id)

    assert [v.task.title for v in listed] == ["第二", "第一", "第三"]
    assert [v.task.state for v in listed] == [
        TaskState.OFFERED,
        TaskState.ACCEPTED,
        TaskState.CANCELLED,
    ]
    view = listed[1]
    assert view.council.id == council_id
    assert view.names == {member_id_of(factory, u): f"居民{u}" for u in (REQUESTER, 102, 103, 104)}
    assert [o.id for o in view.offers] == [o.id for o in offers_of(factory, ident(first.task))]


async def test_offer_view_and_offer_sent(factory: FakeUnitOfWorkFactory) -> None:
    council_id = await neighbourhood(factory, 102)
    dispatched = await request(factory, council_id)
    offer_id = ident(dispatched.offered[0])

    await volunteering.offer_sent(factory(), offer_id=offer_id, message_ref=77)
    offer, view = await volunteering.offer_view(factory(), offer_id=offer_id)

    assert offer.message_ref == 77
    assert factory.store.committed.offers[offer_id].message_ref == 77
    assert view.task.id == dispatched.task.id
    assert view.names[offer.member_id] == "居民102"
    with pytest.raises(errors.StaleButton):
        await volunteering.offer_view(factory(), offer_id=4242)
    with pytest.raises(errors.TaskNotFound):
        await volunteering.task_view(factory(), task_id=4242)
    with unchanged(factory):
        await volunteering.offer_sent(factory(), offer_id=4242, message_ref=1)
