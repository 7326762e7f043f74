"""How many transactions a command costs: counted on the database engine, end to end.

A ``/ballot`` and a "second" press go through the emulator like any member's; every
transaction begun on the bot's database while the bot handles them is counted, less
what the durable inbox spends on any update (measured here on a message no handler
answers), so the figure is what the command itself costs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Connection

from bot.telegram.local import LocalBot
from tests.bot.conftest import button, make_council, press, send, text_of
from tests.bot.test_e2e import proposal_id

BALLOT_AT_MOST = 3
SECOND_AT_MOST = 2


@contextmanager
def transactions(local: LocalBot) -> Iterator[list[int]]:
    """Collect one entry per transaction begun on the bot's database."""
    begun: list[int] = []
    engine = local.deps.database.engine.sync_engine

    def on_begin(connection: Connection) -> None:
        begun.append(id(connection))

    event.listen(engine, "begin", on_begin)
    try:
        yield begun
    finally:
        event.remove(engine, "begin", on_begin)


async def test_a_ballot_and_a_second_cost_few_transactions(local: LocalBot) -> None:
    council = await make_council(local)
    card, _topic_id = await council.topic("空地做什么？")
    proposal = await council.say(council.members[0], "/propose 建口袋花园")
    assert f"#{proposal_id(proposal)} 建口袋花园" in text_of(council.emu, card)

    with transactions(local) as inbox_only:
        await send(council.emu, council.members[1], council.group, "大家好", expect_reply=False)
    with transactions(local) as seconding:
        answer = await press(council.emu, council.members[1], proposal, button(proposal, "附议"))
    assert answer.text == "已附议 👍"
    assert "（附议 1）" in text_of(council.emu, card)  # the card followed, within the count
    with transactions(local) as balloting:
        ballot = await council.say(council.chair, "/ballot 48h")
    assert ballot.text is not None and ballot.text.startswith("🗳")
    assert "阶段：表决中" in text_of(council.emu, card)
    jobs = local.deps.scheduler.pending()
    assert any(job_id.startswith("ballot_close") for job_id in jobs), jobs

    overhead = len(inbox_only)
    second_cost, ballot_cost = len(seconding) - overhead, len(balloting) - overhead
    print(f"inbox {overhead}, second {second_cost}, /ballot {ballot_cost}")
    assert second_cost <= SECOND_AT_MOST, (overhead, len(seconding))
    assert ballot_cost <= BALLOT_AT_MOST, (overhead, len(balloting))
