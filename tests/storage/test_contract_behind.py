"""Which ballot messages are behind their votes, on the fakes, SQLite and PostgreSQL:
the bot asks on each scheduler tick, so that votes another process wrote (``yishi
web`` on its own) reach the group's live tally without the bot's bus."""

from __future__ import annotations

from domain import services
from domain.model import Vote
from domain.ports import UnitOfWorkFactory
from tests.storage.helpers import at, make_ballot, make_council, make_members, make_topic


async def test_only_open_ballots_whose_message_shows_fewer_votes(
    uows: UnitOfWorkFactory,
) -> None:
    council_id = await make_council(uows)
    a, b = await make_members(uows, council_id, 2)
    topic_id = await make_topic(uows, council_id)
    shown, unsent, closed, quiet = [
        await make_ballot(uows, council_id, topic_id, message_ref=ref)
        for ref in (101, None, 103, 104)
    ]
    assert await services.ballots_behind(uows()) == []

    async with uows() as uow:
        for ballot_id in (shown, unsent, closed):
            await uow.votes.put(Vote(ballot_id, a, "a", at(10)))
        ballot = await uow.ballots.get(closed)
        assert ballot is not None
        ballot.closed_at = at(20)
        await uow.ballots.update(ballot)
        await uow.commit()
    # Not the one without a message (nothing to edit), nor the closed one (its
    # outcome froze the message), nor the one nobody voted on.
    assert await services.ballots_behind(uows()) == [shown]

    await services.mark_rendered(uows(), ballot_id=shown, seq=1)
    assert await services.ballots_behind(uows()) == []

    # A change of vote is an event of its own; the same choice again is none.
    async with uows() as uow:
        await uow.votes.put(Vote(shown, a, "a", at(30)))
        await uow.commit()
    assert await services.ballots_behind(uows()) == []
    async with uows() as uow:
        await uow.votes.put(Vote(shown, a, "b", at(31)))
        await uow.votes.put(Vote(quiet, b, "a", at(32)))
        await uow.commit()
    assert await services.ballots_behind(uows()) == [shown, quiet]
    await services.mark_rendered(uows(), ballot_id=shown, seq=2)
    await services.mark_rendered(uows(), ballot_id=quiet, seq=1)
    assert await services.ballots_behind(uows()) == []


async def test_seq_and_choice_is_last_seq_and_choice_of_in_one_read(
    uows: UnitOfWorkFactory,
) -> None:
    council_id = await make_council(uows)
    a, b = await make_members(uows, council_id, 2)
    topic_id = await make_topic(uows, council_id)
    ballot_id = await make_ballot(uows, council_id, topic_id)
    async with uows() as uow:
        assert await uow.votes.seq_and_choice(ballot_id, a) == (0, None)
        assert await uow.votes.seq_and_choice(ballot_id, None) == (0, None)
        await uow.votes.put(Vote(ballot_id, a, "a", at(10)))
        await uow.votes.put(Vote(ballot_id, b, "b", at(11)))
        await uow.votes.put(Vote(ballot_id, a, "b", at(12)))
        await uow.commit()
    async with uows() as uow:
        assert await uow.votes.seq_and_choice(ballot_id, a) == (3, "b")
        assert await uow.votes.seq_and_choice(ballot_id, b) == (3, "b")
        assert await uow.votes.seq_and_choice(ballot_id, None) == (3, None)
        assert await uow.votes.last_seq(ballot_id) == 3
        assert await uow.votes.choice_of(ballot_id, a) == "b"
