"""The web's kept ballot views (bot.web.tallies), on the fakes: reused while nothing
changed or for a moment after counting, counted anew after a newer vote once that
moment passed, when the ballot closed, and at once after the resident's own vote."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from bot.web.tallies import FRESH, Tallies
from domain.services import residents
from tests.domain.builders import NOW, join, open_topic, put_motion, set_up, vote
from tests.fakes import FakeUnitOfWorkFactory


async def test_a_view_is_reused_until_a_newer_vote_and_its_moment_passed() -> None:
    factory = FakeUnitOfWorkFactory()
    council_id = await set_up(factory)
    for user in (7, 8):
        await join(factory, council_id, user)
    ballot = await put_motion(factory, council_id, await open_topic(factory, council_id))
    assert ballot.id is not None
    tallies = Tallies()

    async def page(now: datetime) -> residents.MemberBallot:
        found = await residents.council_ballot(
            factory(),
            council_id=council_id,
            ballot_id=ballot.id or 0,
            member_id=None,
            reuse=tallies.reuse(now),
        )
        tallies.put(found.view, now)
        return found

    first = await page(NOW)
    assert tallies.counted == 1 and first.view.outcome.tallies
    again = await page(NOW + timedelta(minutes=5))  # nothing new: reused, however late
    assert again.view is first.view and tallies.counted == 1

    await vote(factory, ballot.id, 7, "for")
    soon = await page(NOW + FRESH / 2)  # a newer vote, within the moment: reused
    assert soon.view is first.view and tallies.counted == 1
    later = await page(NOW + FRESH * 2)  # the moment passed: counted anew
    assert later.view is not first.view and tallies.counted == 2
    assert later.view.seq > first.view.seq

    await vote(factory, ballot.id, 8, "against")
    tallies.forget(ballot.id)  # the resident's own vote
    mine = await page(NOW + FRESH * 2)
    assert mine.view.seq > later.view.seq and tallies.counted == 3

    closed = dataclasses.replace(later.view.ballot, closed_at=NOW + timedelta(minutes=6))
    assert tallies.get(closed, mine.view.seq, NOW + timedelta(minutes=6)) is None
