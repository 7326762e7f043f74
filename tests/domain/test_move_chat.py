"""A group upgraded to a supergroup: its council moves to the new chat id."""

from __future__ import annotations

import pytest

from domain import services
from domain.model import NoticeKind, NoticeState
from tests.domain.builders import (
    CHAT,
    NOW,
    OTHER_CHAT,
    notices,
    open_topic,
    put_motion,
    set_up,
    unchanged,
)
from tests.fakes import FakeUnitOfWorkFactory

NEW_CHAT = -1005555555555


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


async def test_the_council_moves_and_its_open_ballot_is_posted_again(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    topic = await open_topic(factory, council_id, "议题")
    ballot = await put_motion(factory, council_id, topic)
    assert ballot.id is not None
    await services.set_ballot_message(factory(), ballot_id=ballot.id, message_ref=41)
    await services.set_card(factory(), topic_id=topic.id or 0, card_ref=40)
    other = await set_up(factory, chat_id=OTHER_CHAT)

    moved = await services.move_chat(factory(), old_chat_id=CHAT, new_chat_id=NEW_CHAT, now=NOW)

    assert moved == 1
    store = factory.store.committed
    assert store.councils[council_id].chat_id == NEW_CHAT
    assert store.councils[other].chat_id == OTHER_CHAT  # another group's council stays
    # Message ids of the old chat mean nothing (or something else) in the new one.
    assert store.ballots[ballot.id].message_ref is None
    assert store.topics[topic.id or 0].card_ref is None
    (posted,) = notices(factory)
    assert (posted.kind, posted.chat_id, posted.subject) == (
        NoticeKind.BALLOT_OPENED,
        NEW_CHAT,
        ballot.id,
    )
    assert posted.params == {"moved": True} and posted.state is NoticeState.PENDING


async def test_the_second_announcement_of_the_move_changes_nothing(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id = await set_up(factory)
    topic = await open_topic(factory, council_id, "议题")
    await put_motion(factory, council_id, topic)
    await services.move_chat(factory(), old_chat_id=CHAT, new_chat_id=NEW_CHAT, now=NOW)
    with unchanged(factory):
        again = await services.move_chat(factory(), old_chat_id=CHAT, new_chat_id=NEW_CHAT, now=NOW)
    assert again == 0
    assert len(notices(factory)) == 1
