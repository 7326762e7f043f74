"""Tests for the dispatch model: task states, offers, candidate ranking and service hours."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise, product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import errors
from domain.task_rules import (
    TRANSITIONS,
    CandidateFacts,
    Offer,
    OfferState,
    Ranked,
    Task,
    TaskSource,
    TaskState,
    TaskTaken,
    Volunteer,
    next_round,
    rank_candidates,
    require_transition,
    service_hours,
)

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
COUNCIL = 1


def volunteer(
    member_id: int,
    skills: frozenset[str] = frozenset({"repair"}),
    grid: str = "g1",
    available: bool = True,
    council_id: int = COUNCIL,
) -> Volunteer:
    return Volunteer(
        member_id=member_id,
        council_id=council_id,
        skills=skills,
        grid=grid,
        registered_at=NOW - timedelta(days=30),
        available=available,
    )


def facts(
    member_id: int,
    *,
    skills: frozenset[str] = frozenset({"repair"}),
    grid: str = "g1",
    available: bool = True,
    load: int = 0,
    last: datetime | None = None,
    declined: bool = False,
    offered: bool = False,
) -> CandidateFacts:
    return CandidateFacts(
        volunteer=volunteer(member_id, skills, grid, available),
        open_load=load,
        last_offered_at=last,
        declined_this_task=declined,
        already_offered_this_task=offered,
    )


def task(skill: str | None = "repair", grid: str = "g1", state: TaskState = TaskState.OPEN) -> Task:
    return Task(
        council_id=COUNCIL,
        title="Burst pipe in 3-2-501",
        description="Water under the sink",
        skill=skill,
        grid=grid,
        source=TaskSource.REQUEST,
        created_at=NOW - timedelta(hours=1),
        requester_member_id=99,
        state=state,
    )


def ids(ranked: list[Ranked]) -> list[int]:
    return [r.member_id for r in ranked]


# --- state machine ---------------------------------------------------------------------

ALLOWED = {
    (TaskState.OPEN, TaskState.OFFERED),
    (TaskState.OPEN, TaskState.CANCELLED),
    (TaskState.OPEN, TaskState.EXPIRED),  # nobody at all could be asked
    (TaskState.OFFERED, TaskState.OFFERED),
    (TaskState.OFFERED, TaskState.ACCEPTED),
    (TaskState.OFFERED, TaskState.EXPIRED),
    (TaskState.OFFERED, TaskState.CANCELLED),
    (TaskState.ACCEPTED, TaskState.DONE),
    (TaskState.ACCEPTED, TaskState.CANCELLED),
    (TaskState.ACCEPTED, TaskState.OFFERED),
}
ALL_PAIRS = list(product(TaskState, TaskState))


@pytest.mark.parametrize(("current", "new"), sorted(ALLOWED))
def test_allowed_transition(current: TaskState, new: TaskState) -> None:
    require_transition(current, new)
    assert new in TRANSITIONS[current]


@pytest.mark.parametrize(("current", "new"), [p for p in ALL_PAIRS if p not in ALLOWED])
def test_forbidden_transition(current: TaskState, new: TaskState) -> None:
    with pytest.raises(errors.WrongPhase) as refused:
        require_transition(current, new)
    assert refused.value.params == {"field": "task", "task_state": current.value, "to": new.value}


def test_final_states_have_no_way_out() -> None:
    for final in (TaskState.DONE, TaskState.CANCELLED, TaskState.EXPIRED):
        assert TRANSITIONS[final] == frozenset()
    assert set(TRANSITIONS) == set(TaskState)


def test_task_lifecycle_offer_escalate_accept_done() -> None:
    t = task()
    assert t.offer() == 1
    assert t.offer() == 2  # escalation to the next candidates
    assert t.accept(7, NOW) is True
    assert (t.state, t.accepted_by, t.accepted_at) == (TaskState.ACCEPTED, 7, NOW)
    done_at = NOW + timedelta(hours=2)
    t.complete(done_at, Decimal("2.0"))
    assert (t.state, t.hours, t.closed_at) == (TaskState.DONE, Decimal("2.0"), done_at)


def test_withdrawal_sends_task_out_again() -> None:
    t = task()
    t.offer()
    t.accept(7, NOW)
    assert t.offer() == 2
    assert (t.state, t.accepted_by, t.accepted_at) == (TaskState.OFFERED, None, None)
    assert t.accept(8, NOW) is True
    assert t.accepted_by == 8


def test_accept_by_second_volunteer_refused() -> None:
    t = task()
    t.offer()
    t.accept(7, NOW)
    with pytest.raises(TaskTaken) as refused:
        t.accept(8, NOW + timedelta(minutes=1))
    assert refused.value.code == "task_taken"
    assert isinstance(refused.value, errors.DomainError)
    assert (t.state, t.accepted_by, t.accepted_at) == (TaskState.ACCEPTED, 7, NOW)


def test_accept_by_second_volunteer_after_done_refused_as_taken() -> None:
    t = task()
    t.offer()
    t.accept(7, NOW)
    t.complete(NOW + timedelta(hours=1), Decimal(1))
    with pytest.raises(TaskTaken):
        t.accept(8, NOW + timedelta(hours=2))
    assert t.state is TaskState.DONE


def test_same_volunteer_accepting_twice_is_a_no_op() -> None:
    t = task()
    t.offer()
    t.accept(7, NOW)
    assert t.accept(7, NOW + timedelta(minutes=5)) is False
    assert t.accepted_at == NOW


def test_accept_not_offered_task_is_wrong_phase() -> None:
    t = task()
    with pytest.raises(errors.WrongPhase):
        t.accept(7, NOW)
    assert t.state is TaskState.OPEN and t.accepted_by is None


@pytest.mark.parametrize("final", [TaskState.DONE, TaskState.CANCELLED, TaskState.EXPIRED])
def test_final_task_refuses_everything(final: TaskState) -> None:
    t = task(state=final)
    for action in (
        t.offer,
        lambda: t.accept(7, NOW),
        lambda: t.complete(NOW, Decimal(1)),
        lambda: t.cancel(NOW),
        lambda: t.expire(NOW),
    ):
        with pytest.raises(errors.WrongPhase):
            action()
    assert t.state is final


def test_cancel_and_expire_record_when() -> None:
    cancelled = task()
    cancelled.cancel(NOW)
    assert (cancelled.state, cancelled.closed_at) == (TaskState.CANCELLED, NOW)
    expired = task()
    expired.offer()
    expired.expire(NOW)
    assert (expired.state, expired.closed_at) == (TaskState.EXPIRED, NOW)
    nobody = task()
    nobody.expire(NOW)  # nobody at all could be asked
    assert (nobody.state, nobody.closed_at) == (TaskState.EXPIRED, NOW)
    with pytest.raises(errors.WrongPhase):
        expired.expire(NOW)  # expired already


@pytest.mark.parametrize("hours", [Decimal(-1), Decimal("NaN"), Decimal("Infinity")])
def test_complete_refuses_bad_hours(hours: Decimal) -> None:
    t = task()
    t.offer()
    t.accept(7, NOW)
    with pytest.raises(errors.InvalidInput):
        t.complete(NOW, hours)
    assert t.state is TaskState.ACCEPTED


def test_task_has_at_most_one_assignee_kind() -> None:
    with pytest.raises(ValueError):
        replace(task(), unit_id=1, team_id=2)
    with pytest.raises(ValueError):
        replace(task(), team_id=2, member_ids=frozenset({3}))
    assert replace(task(), team_id=2).team_id == 2


def test_offer_closes_once() -> None:
    offer = Offer(task_id=1, member_id=7, round=1, offered_at=NOW, expires_at=NOW + timedelta(1))
    assert not offer.is_due(NOW)
    assert offer.is_due(NOW + timedelta(1))
    offer.close(OfferState.UNREACHABLE, NOW)
    assert (offer.state, offer.answered_at) == (OfferState.UNREACHABLE, NOW)
    assert not offer.is_due(NOW + timedelta(2))
    with pytest.raises(errors.WrongPhase):
        offer.close(OfferState.ACCEPTED, NOW)
    with pytest.raises(errors.WrongPhase):
        Offer(1, 7, 1, NOW, NOW + timedelta(1)).close(OfferState.PENDING, NOW)
    with pytest.raises(ValueError):
        Offer(1, 7, 0, NOW, NOW + timedelta(1))
    with pytest.raises(ValueError):
        Offer(1, 7, 1, NOW, NOW)


# --- exclusions ------------------------------------------------------------------------


def test_unavailable_excluded() -> None:
    assert ids(rank_candidates(task(), [facts(1, available=False), facts(2)], NOW)) == [2]


def test_declined_this_task_excluded() -> None:
    assert ids(rank_candidates(task(), [facts(1, declined=True), facts(2)], NOW)) == [2]


def test_already_offered_this_task_excluded() -> None:
    assert ids(rank_candidates(task(), [facts(1, offered=True), facts(2)], NOW)) == [2]


def test_missing_required_skill_excluded() -> None:
    pool = [facts(1, skills=frozenset({"haircut"})), facts(2), facts(3, skills=frozenset())]
    assert ids(rank_candidates(task(skill="repair"), pool, NOW)) == [2]


def test_no_skill_needed_admits_everyone_without_skill_preference() -> None:
    pool = [facts(3, skills=frozenset({"repair"})), facts(1, skills=frozenset())]
    ranked = rank_candidates(task(skill=None), pool, NOW)
    assert ids(ranked) == [1, 3]  # decided by member id alone
    assert [r.skill_match for r in ranked] == [False, False]


def test_nobody_eligible_gives_empty_ranking() -> None:
    pool = [facts(1, declined=True), facts(2, available=False)]
    assert rank_candidates(task(), pool, NOW) == []
    assert next_round(task(), pool, NOW, 3) == []


# --- ordering, one criterion at a time -------------------------------------------------


def test_skill_match_reported() -> None:
    ranked = rank_candidates(task(skill="repair"), [facts(1)], NOW)
    assert ranked[0].skill_match is True


def test_same_grid_first() -> None:
    pool = [facts(1, grid="g2"), facts(2, grid="g1")]
    ranked = rank_candidates(task(grid="g1"), pool, NOW)
    assert ids(ranked) == [2, 1]
    assert [r.same_grid for r in ranked] == [True, False]


def test_task_without_grid_matches_nobody_by_grid() -> None:
    ranked = rank_candidates(task(grid=""), [facts(2, grid=""), facts(1, grid="g1")], NOW)
    assert ids(ranked) == [1, 2]
    assert not any(r.same_grid for r in ranked)


def test_lower_load_first() -> None:
    pool = [facts(1, load=2), facts(2, load=0), facts(3, load=1)]
    ranked = rank_candidates(task(), pool, NOW)
    assert ids(ranked) == [2, 3, 1]
    assert [r.load for r in ranked] == [0, 1, 2]


def test_asked_least_recently_first_never_asked_before_all() -> None:
    pool = [
        facts(1, last=NOW - timedelta(hours=1)),
        facts(2, last=NOW - timedelta(days=3)),
        facts(3, last=None),
        facts(4, last=NOW - timedelta(days=1)),
    ]
    assert ids(rank_candidates(task(), pool, NOW)) == [3, 2, 4, 1]


def test_member_id_breaks_remaining_ties() -> None:
    pool = [facts(5), facts(2), facts(9)]
    assert ids(rank_candidates(task(), pool, NOW)) == [2, 5, 9]


def test_criteria_are_lexicographic() -> None:
    pool = [
        facts(1, grid="g2", load=0, last=None),  # other grid loses to any same-grid one
        facts(2, grid="g1", load=1, last=None),  # load beats fairness
        facts(3, grid="g1", load=0, last=NOW - timedelta(minutes=1)),
    ]
    assert ids(rank_candidates(task(grid="g1"), pool, NOW)) == [3, 2, 1]


def test_next_round_takes_the_first_size() -> None:
    pool = [facts(i, load=10 - i) for i in range(1, 6)]
    t = task()
    assert [v.member_id for v in next_round(t, pool, NOW, 2)] == [5, 4]
    assert next_round(t, pool, NOW, 0) == []
    assert len(next_round(t, pool, NOW, 50)) == 5
    with pytest.raises(ValueError):
        next_round(t, pool, NOW, -1)


def test_caller_mistakes_raise() -> None:
    with pytest.raises(ValueError):
        rank_candidates(task(), [facts(1), facts(1, load=3)], NOW)
    stranger = replace(facts(1), volunteer=volunteer(1, council_id=COUNCIL + 1))
    with pytest.raises(ValueError):
        rank_candidates(task(), [stranger], NOW)
    with pytest.raises(ValueError):
        rank_candidates(task(), [facts(1)], NOW.replace(tzinfo=None))
    with pytest.raises(ValueError):
        facts(1, last=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError):
        facts(1, load=-1)


def test_shuffled_input_same_output() -> None:
    pool = [
        facts(i, grid=f"g{i % 3}", load=i % 4, last=NOW - timedelta(hours=i % 5) if i % 2 else None)
        for i in range(1, 30)
    ]
    expected = ids(rank_candidates(task(grid="g1"), pool, NOW))
    rng = random.Random(42)
    for _ in range(20):
        shuffled = pool[:]
        rng.shuffle(shuffled)
        assert ids(rank_candidates(task(grid="g1"), shuffled, NOW)) == expected


# --- properties ------------------------------------------------------------------------

SKILLS = ("repair", "health", "haircut")
GRIDS = ("g1", "g2", "")
TIMES = (None, NOW - timedelta(days=2), NOW - timedelta(hours=5), NOW - timedelta(minutes=1))


@st.composite
def pools(draw: st.DrawFn) -> list[CandidateFacts]:
    member_ids = draw(st.lists(st.integers(1, 60), unique=True, max_size=25))
    return [
        facts(
            member_id,
            skills=frozenset(draw(st.sets(st.sampled_from(SKILLS)))),
            grid=draw(st.sampled_from(GRIDS)),
            available=draw(st.booleans()),
            load=draw(st.integers(0, 3)),
            last=draw(st.sampled_from(TIMES)),
            declined=draw(st.booleans()),
            offered=draw(st.booleans()),
        )
        for member_id in member_ids
    ]


def expected_key(t: Task, f: CandidateFacts) -> tuple[object, ...]:
    """The documented order, written independently of the module's sort key."""
    last = f.last_offered_at
    return (
        not (t.skill is not None and t.skill in f.volunteer.skills),
        not (t.grid != "" and f.volunteer.grid == t.grid),
        f.open_load,
        # never asked first, then the oldest ask; timestamps keep the tuple comparable
        -1.0 if last is None else last.timestamp(),
        f.volunteer.member_id,
    )


def excluded(t: Task, f: CandidateFacts) -> bool:
    v = f.volunteer
    return (
        not v.available
        or f.declined_this_task
        or f.already_offered_this_task
        or (t.skill is not None and t.skill not in v.skills)
    )


@settings(max_examples=300, deadline=None)
@given(
    pool=pools(),
    skill=st.sampled_from((None, *SKILLS)),
    grid=st.sampled_from(GRIDS),
    data=st.data(),
)
def test_ranking_is_a_permutation_invariant_total_order(
    pool: list[CandidateFacts], skill: str | None, grid: str, data: st.DataObject
) -> None:
    t = task(skill=skill, grid=grid)
    ranked = rank_candidates(t, pool, NOW)
    shuffled = data.draw(st.permutations(pool))
    assert ranked == rank_candidates(t, shuffled, NOW)

    by_id = {f.volunteer.member_id: f for f in pool}
    assert not any(excluded(t, by_id[r.member_id]) for r in ranked)
    assert sorted(ids(ranked)) == sorted(i for i, f in by_id.items() if not excluded(t, f))

    keys = [expected_key(t, by_id[r.member_id]) for r in ranked]
    assert all(a < b for a, b in pairwise(keys))  # strictly: a total order
    module_keys = [r.sort_key() for r in ranked]
    assert len(set(module_keys)) == len(module_keys)

    size = data.draw(st.integers(0, 30))
    assert [v.member_id for v in next_round(t, shuffled, NOW, size)] == ids(ranked)[:size]


# --- service hours ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("elapsed", "hours"),
    [
        (timedelta(0), Decimal("0.5")),  # below the minimum
        (timedelta(minutes=10), Decimal("0.5")),
        (timedelta(minutes=30), Decimal("0.5")),  # exactly the minimum
        (timedelta(minutes=30, microseconds=1), Decimal("1.0")),  # just above a step
        (timedelta(hours=1), Decimal("1.0")),  # exactly on a step
        (timedelta(hours=1, seconds=1), Decimal("1.5")),
        (timedelta(hours=2, minutes=29, seconds=59), Decimal("2.5")),
        (timedelta(hours=2, minutes=30), Decimal("2.5")),
        (timedelta(days=1), Decimal("24.0")),
    ],
)
def test_service_hours_defaults(elapsed: timedelta, hours: Decimal) -> None:
    assert service_hours(NOW, NOW + elapsed) == hours


def test_service_hours_other_step_and_minimum() -> None:
    quarter = Decimal("0.25")
    assert service_hours(NOW, NOW + timedelta(minutes=16), step=quarter) == Decimal("0.5")
    assert service_hours(NOW, NOW + timedelta(minutes=15), step=quarter) == Decimal("0.5")
    assert service_hours(NOW, NOW + timedelta(minutes=45), step=quarter) == Decimal("0.75")
    assert service_hours(
        NOW, NOW + timedelta(minutes=20), minimum=Decimal(1), step=Decimal(1)
    ) == Decimal(1)
    assert service_hours(NOW, NOW, minimum=Decimal(0)) == Decimal(0)
    # a step that is no exact binary fraction still lands exactly on its multiples
    tenth = Decimal("0.1")
    assert service_hours(NOW, NOW + timedelta(minutes=18), minimum=tenth, step=tenth) == Decimal(
        "0.3"
    )
    assert service_hours(
        NOW, NOW + timedelta(minutes=18, microseconds=1), minimum=tenth, step=tenth
    ) == Decimal("0.4")


def test_service_hours_is_exact_decimal() -> None:
    result = service_hours(NOW, NOW + timedelta(hours=3, minutes=1))
    assert isinstance(result, Decimal)
    assert result == Decimal("3.5")
    assert str(result) == "3.5"


def test_service_hours_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        service_hours(NOW, NOW - timedelta(seconds=1))
    with pytest.raises(ValueError):
        service_hours(NOW, NOW, step=Decimal(0))
    with pytest.raises(ValueError):
        service_hours(NOW, NOW, minimum=Decimal(-1))
    with pytest.raises(ValueError):
        service_hours(NOW.replace(tzinfo=None), NOW.replace(tzinfo=None))


@given(st.integers(0, 10**12))
def test_service_hours_covers_the_time_with_less_than_one_step_to_spare(us: int) -> None:
    elapsed = timedelta(microseconds=us)
    hours = service_hours(NOW, NOW + elapsed)
    exact = Fraction(us, 3_600_000_000)
    assert hours >= Decimal("0.5")
    assert Fraction(hours) >= exact
    assert Fraction(hours) - Fraction(1, 2) < exact or hours == Decimal("0.5")
    assert hours % Decimal("0.5") == 0
