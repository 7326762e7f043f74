"""Storage of dispatch, where only a database will do; on SQLite and PostgreSQL.

The round trips and queries of volunteers, teams, units, tasks, offers and the hours
ledger are the contract tests (``test_contract_dispatch.py``), run on the fakes too.
Here: councils migrated from before dispatch, the one-offer-per-volunteer constraint,
times read through a session in another time zone, row locks, and races between
connections, which the fakes (one sequential store) cannot run.

The race the issue is about: two volunteers press Accept on offers of the same
task at the same moment, each in a unit of work of its own (its own session and
connection), started together with ``asyncio.gather``. ``answer_offer`` locks the
task (``Lock.UPDATE``), so exactly one gets it and the other is told ``TaskTaken``;
likewise an Accept and the ``OFFER_EXPIRY`` job at the expiry moment: whichever
commits first wins, never both. Also a double tap, two declines ending the round
once, an accept against the other volunteer's decline, and concurrent duplicate teams
and hour credits. Each race runs many times; the contenders meet at a start line (an
``asyncio.Barrier``) and record when they ask for the lock, get it and commit, so the
tests see the serialization itself, not only its outcome.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any, cast

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from domain import due_jobs, errors, services, volunteering
from domain.model import NoticeKind
from domain.ports import Lock, UnitOfWork
from domain.rules import preset
from domain.schedule import DEFAULT_GRACE, Job, JobKind
from domain.task_rules import (
    HoursEntry,
    Offer,
    OfferState,
    Task,
    TaskState,
    TaskTaken,
    Team,
)
from storage import migrate
from storage.db import create_engine
from storage.orm import NoticeRow
from storage.uow import Database, SqlUnitOfWork
from tests.storage.helpers import (
    T0,
    add_offers,
    add_tasks,
    assert_types,
    assert_utc,
    at,
    make_council,
    make_members,
    make_task,
    offer,
)


def is_postgresql(db: Database) -> bool:
    return db.engine.dialect.name == "postgresql"


async def count_notices(db: Database, task_id: int, kind: NoticeKind) -> int:
    async with db.uow() as uow:
        count = await uow.session.scalar(
            select(func.count())
            .select_from(NoticeRow)
            .where(NoticeRow.kind == kind.value, NoticeRow.subject == task_id)
        )
    return int(count or 0)


# --- councils set up before dispatch: rows written by migration 0002's schema ------


async def test_councils_set_up_before_dispatch_get_its_defaults(database_url: str) -> None:
    """Migration 0003 gives existing councils no skills of their own, 30 minutes to answer
    an offer and 3 volunteers asked at once; the repository reads and writes them."""
    await migrate.upgrade(database_url, "0002")
    engine = create_engine(database_url)
    rule = json.dumps(dict(preset("simple").to_dict()))
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(
                "INSERT INTO councils (chat_id, thread_id, title, rule, timezone, language,"
                f" require_approval, created_at) VALUES (-100, 0, 'old', '{rule}', 'Asia/Shanghai',"
                " 'zh', false, '2025-01-01 00:00:00')"
            )
    finally:
        await engine.dispose()
    await migrate.upgrade(database_url)
    db = await Database.open(database_url, migrate=False)
    try:
        async with db.uow() as uow:
            council = await uow.councils.by_chat(-100, 0)
            assert council is not None
            assert (council.skills, council.offer_minutes, council.offer_round) == ((), 30, 3)
            council.skills = ("园艺",)
            council.offer_round = 4
            await uow.councils.update(council)
            await uow.commit()
        async with db.uow() as uow:
            assert await uow.councils.by_chat(-100, 0) == council
    finally:
        await db.dispose()


# --- offers: what the fakes do not model -------------------------------------------


async def test_one_offer_per_task_and_member(database: Database) -> None:
    """A unique constraint: the fake refuses with an AssertionError (a bug upstream,
    never handled by the domain), the databases with IntegrityError."""
    council_id = await make_council(database)
    a, b = await make_members(database, council_id, 2)
    task_id, other_task = await add_tasks(database, make_task(council_id), make_task(council_id))
    await add_offers(database, offer(task_id, a, 0))
    with pytest.raises(IntegrityError):
        async with database.uow() as uow:
            await uow.offers.add(offer(task_id, a, 60, round=2))  # even in a later round
            await uow.commit()
    # Another member of the same task, and the same member for another task, are fine.
    await add_offers(database, offer(task_id, b, 1), offer(other_task, a, 2))
    async with database.uow() as uow:
        assert [(o.member_id, o.round) for o in await uow.offers.for_task(task_id)] == [
            (a, 1),
            (b, 1),
        ]


async def test_aggregated_times_are_utc_whatever_the_session_time_zone(
    database: Database,
) -> None:
    """PostgreSQL hands timestamptz back in the session's TimeZone; the repositories
    must still give UTC, also for min()/max() aggregates."""
    if not is_postgresql(database):
        pytest.skip("SQLite has no session time zone")
    council_id = await make_council(database)
    (a,) = await make_members(database, council_id, 1)
    (task_id,) = await add_tasks(
        database, make_task(council_id, state=TaskState.OFFERED, round=1, due=at(90))
    )
    await add_offers(database, offer(task_id, a, 10))
    url = make_url(database.url)
    options = url.query.get("options")
    existing = options if isinstance(options, str) else " ".join(options or ())
    shanghai_url = url.update_query_dict({"options": f"{existing} -ctimezone=Asia/Shanghai"})
    db = await Database.open(shanghai_url.render_as_string(hide_password=False), migrate=False)
    try:
        async with db.uow() as uow:
            zone = await uow.session.scalar(select(func.current_setting("TimeZone")))
            task = await uow.tasks.get(task_id)
            (loaded,) = await uow.offers.for_task(task_id)
            last = await uow.offers.last_offered([a])
            expiries = await uow.offers.pending_expiries()
    finally:
        await db.dispose()
    assert zone == "Asia/Shanghai"
    assert task is not None
    assert_types(task)
    assert task.due == at(90)
    assert_utc(loaded.offered_at)
    assert last == {a: at(10)}
    assert expiries == {task_id: at(40)}
    assert_utc(last[a])
    assert_utc(expiries[task_id])


# --- row locks ----------------------------------------------------------------------


async def test_task_lock_update_waits_on_postgresql(database: Database) -> None:
    """While one unit of work holds a task with Lock.UPDATE, another one's Lock.UPDATE
    waits and then reads what the first committed; a plain read does not wait."""
    if not is_postgresql(database):
        pytest.skip("row locks are PostgreSQL's; SQLite serializes whole transactions")
    council_id = await make_council(database)
    (a,) = await make_members(database, council_id, 1)
    (task_id,) = await add_tasks(database, make_task(council_id, state=TaskState.OFFERED, round=1))

    async def read(lock: Lock) -> Task | None:
        async with database.uow() as uow:
            return await uow.tasks.get(task_id, lock=lock)

    async with database.uow() as first:
        task = await first.tasks.get(task_id, lock=Lock.UPDATE)
        assert task is not None
        waiting = asyncio.create_task(read(Lock.UPDATE))
        plain = await asyncio.wait_for(read(Lock.NONE), timeout=5)
        assert plain is not None and plain.state is TaskState.OFFERED
        await asyncio.sleep(0.3)
        assert not waiting.done()
        task.accept(a, at(5))
        await first.tasks.update(task)
        await first.commit()
    after = await asyncio.wait_for(waiting, timeout=5)
    assert after is not None
    assert (after.state, after.accepted_by, after.accepted_at) == (TaskState.ACCEPTED, a, at(5))


# --- THE RACE: two Accepts, and an Accept against the expiry job ---------------------

CHAIR = 7_000_000_001
REQUESTER = 8_000_000_100
VOLUNTEER_USERS = (8_000_000_201, 8_000_000_202)
RACES = 20


@dataclass
class Track:
    """What the contenders of one race did, in the order they did it."""

    pg: bool
    events: list[tuple[str, str]] = field(default_factory=list)

    def first_lock_then_commit_then_second_lock(self) -> tuple[str, str]:
        """The first to lock the task committed before the other one got the lock.

        On PostgreSQL also: both had asked for the lock before the first committed, so
        the second really waited on the row lock. Returns (first, second) by name.
        """
        locks = [who for what, who in self.events if what == "locked"]
        assert len(locks) == 2, self.events
        first, second = locks
        assert first != second
        committed = self.events.index(("committing", first))
        assert committed < self.events.index(("locked", second)), self.events
        if self.pg:
            assert self.events.index(("asking", second)) < committed, self.events
        return first, second


class _TracedTasks:
    def __init__(self, inner: Any, owner: Contender) -> None:
        self._inner = inner
        self._owner = owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def get(self, task_id: int, lock: Lock = Lock.NONE) -> Task | None:
        owner = self._owner
        if lock is Lock.NONE or owner.locked:
            return cast("Task | None", await self._inner.get(task_id, lock=lock))
        if owner.pg:
            await owner.at_the_line()
        owner.track.events.append(("asking", owner.name))
        task = await self._inner.get(task_id, lock=lock)
        owner.locked = True
        owner.track.events.append(("locked", owner.name))
        return cast("Task | None", task)


class Contender:
    """A unit of work that waits for its rival at the start line and records when it
    asks for the task's lock, gets it, and commits.

    On PostgreSQL the start line is the task's row lock itself: both contenders are
    in a transaction (and have read their offer) and send ``SELECT … FOR UPDATE``
    together. On SQLite (whose ``BEGIN IMMEDIATE`` takes the write lock with the first
    statement) it is the start of the unit of work, before any statement.

    Whoever reaches the barrier last leaves it first; ``lag`` holds a contender back
    a few event-loop ticks after it, so that a test can give either one the lead.
    The other's statement is then still in flight: a tick is far shorter than a
    round trip to the database.
    """

    def __init__(
        self,
        inner: SqlUnitOfWork,
        name: str,
        start: asyncio.Barrier,
        track: Track,
        lag: int,
    ) -> None:
        self._inner = inner
        self.name = name
        self.start = start
        self.track = track
        self.pg = track.pg
        self.lag = lag
        self.locked = False

    async def at_the_line(self) -> None:
        await self.start.wait()
        for _ in range(self.lag):
            await asyncio.sleep(0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def tasks(self) -> _TracedTasks:
        return _TracedTasks(self._inner.tasks, self)

    async def __aenter__(self) -> Contender:
        await self._inner.__aenter__()
        if self.pg:
            # Connected and in a transaction already, as a contender that read its offer
            # is: at the start line neither is a round trip behind the other.
            await self._inner.session.execute(text("SELECT 1"))
        else:
            await self.at_the_line()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        self.track.events.append(("committing", self.name))
        await self._inner.commit()


def contenders(
    db: Database, *names: str, lag: dict[str, int] | None = None
) -> tuple[Track, Iterator[UnitOfWork]]:
    track = Track(is_postgresql(db))
    start = asyncio.Barrier(len(names))
    lags = lag or {}
    made = (
        cast("UnitOfWork", Contender(db.uow(), name, start, track, lags.get(name, 0)))
        for name in names
    )
    return track, made


async def race(*runs: Awaitable[Any]) -> list[Any]:
    """Run the contenders together; exceptions are results. A hang fails the test."""
    return await asyncio.wait_for(asyncio.gather(*runs, return_exceptions=True), timeout=60)


@dataclass(frozen=True)
class Neighbourhood:
    council_id: int
    requester: int  # member ids
    volunteers: dict[int, int]  # member id -> user id


async def neighbourhood(db: Database) -> Neighbourhood:
    """A council set up as the bot does it: a resident and two registered volunteers."""
    council = await services.set_up_council(
        db.uow(),
        chat_id=-1_001_234_567_890,
        thread_id=0,
        title="梧桐里业主议事会",
        user_id=CHAIR,
        is_group_admin=True,
        rule_name="simple",
        timezone="Asia/Shanghai",
        language="zh",
        now=T0,
    )
    assert council.id is not None
    members = {}
    for i, user_id in enumerate((REQUESTER, *VOLUNTEER_USERS)):
        member = await services.join(
            db.uow(),
            council_id=council.id,
            user_id=user_id,
            name=f"居民{i}",
            address=services.Address("3", "2", f"30{i}"),
            area=Decimal("88.50"),
            language=None,
            now=T0,
        )
        assert member.id is not None
        members[user_id] = member.id
    for user_id in VOLUNTEER_USERS:
        await volunteering.register_volunteer(
            db.uow(),
            council_id=council.id,
            user_id=user_id,
            skills=["repair"],
            grid="3",
            team=None,
            available=True,
            now=T0,
        )
    async with db.uow() as uow:  # both volunteers are asked in the first round
        loaded = await uow.councils.get(council.id)
        assert loaded is not None
        loaded.offer_round = 2
        await uow.councils.update(loaded)
        await uow.commit()
    return Neighbourhood(council.id, members[REQUESTER], {members[u]: u for u in VOLUNTEER_USERS})


async def request(db: Database, place: Neighbourhood, n: int, now: datetime) -> list[Offer]:
    """A resident's request; returns the two offers it made, one per volunteer."""
    dispatched = await volunteering.request_service(
        db.uow(),
        council_id=place.council_id,
        user_id=REQUESTER,
        skill="repair",
        description=f"厨房水管漏水 ({n})",
        place="",
        photo=None,
        now=now,
    )
    assert not dispatched.exhausted
    assert dispatched.task.state is TaskState.OFFERED and dispatched.task.round == 1
    assert sorted(o.member_id for o in dispatched.offered) == sorted(place.volunteers)
    return dispatched.offered


async def test_two_volunteers_accept_at_the_same_moment(database: Database) -> None:
    place = await neighbourhood(database)
    wins: Counter[int] = Counter()
    for n in range(RACES):
        now = T0 + timedelta(hours=n + 1)
        offers = await request(database, place, n, now)
        if n % 2:
            offers.reverse()  # neither volunteer is always started first
        task_id = offers[0].task_id
        pressed = now + timedelta(minutes=3)
        track, units = contenders(database, *(str(o.member_id) for o in offers))
        results = await race(
            *(
                volunteering.answer_offer(
                    uow,
                    offer_id=_id(o),
                    user_id=place.volunteers[o.member_id],
                    accept=True,
                    now=pressed,
                )
                for uow, o in zip(units, offers, strict=True)
            )
        )

        answered = [r for r in results if isinstance(r, volunteering.Answered)]
        taken = [r for r in results if isinstance(r, TaskTaken)]
        assert len(answered) == 1 and len(taken) == 1, results
        (won,) = answered
        assert won.accepted is True and won.next is None
        winner = won.offer.member_id
        loser = next(o.member_id for o in offers if o.member_id != winner)
        first, second = track.first_lock_then_commit_then_second_lock()
        assert (first, second) == (str(winner), str(loser))
        wins[winner] += 1

        async with database.uow() as uow:
            task = await uow.tasks.get(task_id)
            stored = {o.member_id: o for o in await uow.offers.for_task(task_id)}
            assert task_id not in await uow.offers.pending_expiries()
        assert task is not None
        assert (task.state, task.accepted_by, task.accepted_at) == (
            TaskState.ACCEPTED,
            winner,
            pressed,
        )
        assert task == won.task
        assert (stored[winner].state, stored[winner].answered_at) == (OfferState.ACCEPTED, pressed)
        assert (stored[loser].state, stored[loser].answered_at) == (OfferState.WITHDRAWN, pressed)
        assert await count_notices(database, task_id, NoticeKind.TASK_ACCEPTED) == 1
        assert await count_notices(database, task_id, NoticeKind.TASK_EXHAUSTED) == 0

    assert sum(wins.values()) == RACES
    async with database.uow() as uow:  # every task is held by exactly its one winner
        assert await uow.tasks.open_load(sorted(place.volunteers)) == dict(wins)
    print(f"\naccept races on {database.engine.dialect.name}: winners {dict(wins)}")


async def test_one_volunteer_pressing_accept_twice_at_once(database: Database) -> None:
    """A double tap: both presses are told the task is theirs, and it is accepted once."""
    place = await neighbourhood(database)
    for n in range(RACES // 2):
        now = T0 + timedelta(hours=n + 1)
        offers = await request(database, place, n, now)
        pressing, other = offers[n % 2], offers[1 - n % 2]
        task_id = pressing.task_id
        pressed = now + timedelta(minutes=1)
        track, units = contenders(database, "tap", "again")
        results = await race(
            *(
                volunteering.answer_offer(
                    uow,
                    offer_id=_id(pressing),
                    user_id=place.volunteers[pressing.member_id],
                    accept=True,
                    now=pressed,
                )
                for uow in units
            )
        )
        assert all(isinstance(r, volunteering.Answered) and r.accepted for r in results), results
        first, _ = track.first_lock_then_commit_then_second_lock()
        assert ("committing", "again" if first == "tap" else "tap") not in track.events
        async with database.uow() as uow:
            task = await uow.tasks.get(task_id)
            stored = {o.member_id: o for o in await uow.offers.for_task(task_id)}
        assert task is not None
        assert (task.state, task.accepted_by, task.accepted_at) == (
            TaskState.ACCEPTED,
            pressing.member_id,
            pressed,
        )
        assert stored[pressing.member_id].state is OfferState.ACCEPTED
        assert stored[other.member_id].state is OfferState.WITHDRAWN
        assert await count_notices(database, task_id, NoticeKind.TASK_ACCEPTED) == 1


async def test_both_volunteers_decline_at_once(database: Database) -> None:
    """The round ends once: exactly one of the two declines sees it over and moves on
    (nobody is left, so the task expires and the group is told, once)."""
    place = await neighbourhood(database)
    for n in range(RACES // 2):
        now = T0 + timedelta(hours=n + 1)
        offers = await request(database, place, n, now)
        task_id = offers[0].task_id
        pressed = now + timedelta(minutes=2)
        track, units = contenders(database, *(str(o.member_id) for o in offers))
        results = await race(
            *(
                volunteering.answer_offer(
                    uow,
                    offer_id=_id(o),
                    user_id=place.volunteers[o.member_id],
                    accept=False,
                    now=pressed,
                )
                for uow, o in zip(units, offers, strict=True)
            )
        )
        assert all(isinstance(r, volunteering.Answered) and not r.accepted for r in results), (
            results
        )
        track.first_lock_then_commit_then_second_lock()
        moved_on = [r.next for r in results if isinstance(r, volunteering.Answered) and r.next]
        assert len(moved_on) == 1, results
        assert moved_on[0].exhausted and moved_on[0].offered == []
        async with database.uow() as uow:
            task = await uow.tasks.get(task_id)
            stored = await uow.offers.for_task(task_id)
        assert task is not None
        assert (task.state, task.closed_at, task.round) == (TaskState.EXPIRED, pressed, 1)
        assert [o.state for o in stored] == [OfferState.DECLINED] * 2
        assert await count_notices(database, task_id, NoticeKind.TASK_EXHAUSTED) == 1


async def test_accept_racing_with_the_other_volunteers_decline(database: Database) -> None:
    """Whichever goes first, the task is the accepter's and does not go out again."""
    place = await neighbourhood(database)
    for n in range(RACES // 2):
        now = T0 + timedelta(hours=n + 1)
        offers = await request(database, place, n, now)
        accepting, declining = offers[n % 2], offers[1 - n % 2]
        task_id = accepting.task_id
        pressed = now + timedelta(minutes=2)
        names = ("accept", "decline") if n % 2 else ("decline", "accept")
        track, units = contenders(database, *names, lag={names[1]: 5})
        by_name = dict(zip(names, units, strict=True))
        accepted, declined = await race(
            *(
                volunteering.answer_offer(
                    by_name[name],
                    offer_id=_id(o),
                    user_id=place.volunteers[o.member_id],
                    accept=name == "accept",
                    now=pressed,
                )
                for name, o in (("accept", accepting), ("decline", declining))
            )
        )
        first, _ = track.first_lock_then_commit_then_second_lock()
        assert isinstance(accepted, volunteering.Answered) and accepted.accepted, accepted
        assert isinstance(declined, volunteering.Answered) and not declined.accepted, declined
        assert declined.next is None
        async with database.uow() as uow:
            task = await uow.tasks.get(task_id)
            stored = {o.member_id: o for o in await uow.offers.for_task(task_id)}
        assert task is not None
        assert (task.state, task.accepted_by) == (TaskState.ACCEPTED, accepting.member_id)
        assert stored[accepting.member_id].state is OfferState.ACCEPTED
        # Declined in time, or withdrawn by the accept that came first.
        expected = OfferState.WITHDRAWN if first == "accept" else OfferState.DECLINED
        assert stored[declining.member_id].state is expected
        assert await count_notices(database, task_id, NoticeKind.TASK_ACCEPTED) == 1
        assert await count_notices(database, task_id, NoticeKind.TASK_EXHAUSTED) == 0


async def test_same_team_name_added_at_once(database: Database) -> None:
    council_id = await make_council(database)

    async def add(n: int) -> int:
        async with database.uow() as uow:
            team = await uow.teams.add(Team(council_id, "畅大妈志愿服务队", frozenset({n})))
            await uow.commit()
        assert team.id is not None
        return team.id

    results = await race(*(add(n) for n in range(10)))
    added = [r for r in results if isinstance(r, int)]
    assert len(added) == 1, results
    assert all(isinstance(r, errors.AlreadyExists) for r in results if r not in added), results
    async with database.uow() as uow:
        assert [t.id for t in await uow.teams.of_council(council_id)] == added


async def test_same_task_credited_at_once(database: Database) -> None:
    council_id = await make_council(database)
    (a,) = await make_members(database, council_id, 1)
    (task_id,) = await add_tasks(database, make_task(council_id))

    async def credit(hours: str) -> bool:
        async with database.uow() as uow:
            first = await uow.hours.add(HoursEntry(council_id, a, task_id, Decimal(hours), at(9)))
            await uow.commit()
        return first

    results = await race(*(credit(f"{n}.50") for n in range(10)))
    assert sorted(results) == [False] * 9 + [True]
    async with database.uow() as uow:
        total = await uow.hours.total(council_id, a)
    assert total == Decimal(f"{results.index(True)}.50")


async def test_accept_racing_with_offer_expiry(database: Database) -> None:
    """At the expiry moment a volunteer presses Accept while the OFFER_EXPIRY job runs.

    Either the Accept commits first (the task is theirs; the job finds nothing to do)
    or the job does (both offers expire, nobody is left to ask: the task expires and
    the Accept is refused). Never both: an accepted task whose round expired too.
    """
    place = await neighbourhood(database)
    outcomes: Counter[str] = Counter()
    for n in range(RACES):
        now = T0 + timedelta(hours=n + 1)
        offers = await request(database, place, n, now)
        task_id = offers[0].task_id
        pressing = offers[n % 2]
        other = offers[1 - n % 2]
        expiry = now + timedelta(minutes=30)
        async with database.uow() as uow:
            assert (await uow.offers.pending_expiries())[task_id] == expiry
        job_id = Job(expiry, JobKind.OFFER_EXPIRY, task_id).id

        names = ("accept", "expiry") if n % 2 else ("expiry", "accept")
        # Each gets the lead in turn (held back: the other one, by a few ticks).
        track, units = contenders(database, *names, lag={names[1]: 5})
        by_name = dict(zip(names, units, strict=True))
        runs = {
            "accept": volunteering.answer_offer(
                by_name["accept"],
                offer_id=_id(pressing),
                user_id=place.volunteers[pressing.member_id],
                accept=True,
                now=expiry,
            ),
            "expiry": due_jobs.run_job(by_name["expiry"], job_id, now=expiry, grace=DEFAULT_GRACE),
        }
        results = dict(zip(names, await race(*(runs[name] for name in names)), strict=True))
        first, _ = track.first_lock_then_commit_then_second_lock()
        outcomes[first] += 1

        async with database.uow() as uow:
            task = await uow.tasks.get(task_id)
            stored = {o.member_id: o for o in await uow.offers.for_task(task_id)}
            still_waiting = task_id in await uow.offers.pending_expiries()
        accepted_notices = await count_notices(database, task_id, NoticeKind.TASK_ACCEPTED)
        exhausted_notices = await count_notices(database, task_id, NoticeKind.TASK_EXHAUSTED)
        assert task is not None and not still_waiting
        assert len(stored) == 2  # no second round went out: nobody else to ask

        if first == "accept":
            answered, ran = results["accept"], results["expiry"]
            assert isinstance(answered, volunteering.Answered) and answered.accepted, results
            assert isinstance(ran, due_jobs.JobRun) and ran.ran is due_jobs.Ran.STALE, results
            assert (task.state, task.accepted_by, task.closed_at) == (
                TaskState.ACCEPTED,
                pressing.member_id,
                None,
            )
            assert stored[pressing.member_id].state is OfferState.ACCEPTED
            assert stored[other.member_id].state is OfferState.WITHDRAWN
            assert (accepted_notices, exhausted_notices) == (1, 0)
        else:
            refused, ran = results["accept"], results["expiry"]
            assert isinstance(refused, errors.WrongPhase), results
            assert isinstance(ran, due_jobs.JobRun) and ran.ran is due_jobs.Ran.DONE, results
            assert (task.state, task.accepted_by, task.closed_at) == (
                TaskState.EXPIRED,
                None,
                expiry,
            )
            assert {o.state for o in stored.values()} == {OfferState.EXPIRED}
            assert (accepted_notices, exhausted_notices) == (0, 1)

    print(f"\naccept vs. expiry on {database.engine.dialect.name}: first {dict(outcomes)}")
    assert set(outcomes) == {"accept", "expiry"}  # both orders were exercised


def _id(o: Offer) -> int:
    assert o.id is not None
    return o.id
