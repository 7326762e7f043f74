"""An edited /propose edits its proposal, while it may still change; fakes only."""

from __future__ import annotations

from typing import cast

import pytest

from domain import errors, services
from domain.idempotency import IdempotentUnitOfWork
from domain.model import MAX_PROPOSAL, BallotKind, Phase, Proposal
from domain.ports import Lock, UnitOfWork
from tests.domain.builders import (
    CHAIR,
    CHAT,
    NOW,
    OTHER_CHAT,
    STRANGER,
    ident,
    join,
    open_topic,
    put_motion,
    set_up,
    unchanged,
)
from tests.fakes import FakeUnitOfWork, FakeUnitOfWorkFactory

AUTHOR, NEIGHBOUR = 101, 102
SOURCE = 41  # the author's message in the council's chat


@pytest.fixture
def factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


async def council_with_proposal(
    factory: FakeUnitOfWorkFactory, text: str = "修长椅"
) -> tuple[int, int, Proposal]:
    """A council with two members, an open topic, and AUTHOR's proposal made by SOURCE."""
    council_id = await set_up(factory)
    await join(factory, council_id, AUTHOR)
    await join(factory, council_id, NEIGHBOUR)
    topic = await open_topic(factory, council_id)
    submitted = await services.submit_proposal(
        factory(),
        council_id=council_id,
        topic_id=ident(topic),
        user_id=AUTHOR,
        text=text,
        now=NOW,
        source_ref=SOURCE,
    )
    return council_id, ident(topic), submitted.proposal


async def revise(
    factory: FakeUnitOfWorkFactory | UnitOfWork,
    text: str,
    *,
    user_id: int = AUTHOR,
    chat_id: int = CHAT,
    source_ref: int = SOURCE,
) -> services.Revised:
    uow = factory() if isinstance(factory, FakeUnitOfWorkFactory) else factory
    return await services.revise_proposal(
        uow, chat_id=chat_id, thread_id=0, source_ref=source_ref, user_id=user_id, text=text
    )


async def stored(factory: FakeUnitOfWorkFactory, proposal: Proposal) -> Proposal:
    async with factory() as uow:
        found = await uow.proposals.get(ident(proposal))
    assert found is not None
    return found


async def second(factory: FakeUnitOfWorkFactory, proposal: Proposal, user_id: int) -> None:
    await services.second_proposal(factory(), proposal_id=ident(proposal), user_id=user_id, now=NOW)


# --- the edit that is taken --------------------------------------------------------


async def test_the_author_edits_a_proposal_nobody_seconded(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, topic_id, proposal = await council_with_proposal(factory)
    assert proposal.source_ref == SOURCE

    revised = await revise(factory, "  修长椅和路灯 ")

    assert revised.changed
    assert revised.proposal.text == "修长椅和路灯"
    assert (revised.council.id, revised.topic.id) == (council_id, topic_id)
    assert revised.author.user_id == AUTHOR and revised.author.id == proposal.author_id
    after = await stored(factory, proposal)
    assert after.text == "修长椅和路灯"
    # Only the text changed: the same proposal, its time and source kept, no new one.
    assert (after.id, after.created_at, after.source_ref) == (proposal.id, NOW, SOURCE)
    async with factory() as uow:
        assert [p.id for p in await uow.proposals.for_topic(topic_id)] == [proposal.id]


async def test_the_same_text_again_changes_nothing(factory: FakeUnitOfWorkFactory) -> None:
    _, _, proposal = await council_with_proposal(factory)
    revised = await revise(factory, "修长椅")
    assert not revised.changed
    assert (await stored(factory, proposal)).text == "修长椅"


async def test_a_later_edit_of_the_same_message_wins(factory: FakeUnitOfWorkFactory) -> None:
    _, _, proposal = await council_with_proposal(factory)
    await revise(factory, "修长椅和路灯")
    await revise(factory, "修长椅、路灯和垃圾亭")
    assert (await stored(factory, proposal)).text == "修长椅、路灯和垃圾亭"


async def test_the_edit_locks_the_topic_then_the_proposal(factory: FakeUnitOfWorkFactory) -> None:
    _, topic_id, proposal = await council_with_proposal(factory)
    uow = factory()
    await revise(uow, "修长椅和路灯")
    assert isinstance(uow, FakeUnitOfWork)
    assert uow.locked == [
        ("topic", topic_id, Lock.UPDATE),
        ("proposal", ident(proposal), Lock.UPDATE),
    ]


async def test_a_redelivered_edit_takes_effect_once(factory: FakeUnitOfWorkFactory) -> None:
    _, _, proposal = await council_with_proposal(factory)

    def keyed() -> UnitOfWork:
        return cast(UnitOfWork, IdempotentUnitOfWork(factory(), "update:1:500"))

    await revise(keyed(), "修长椅和路灯")
    with unchanged(factory), pytest.raises(errors.Redelivered):
        await revise(keyed(), "修长椅和路灯")
    assert (await stored(factory, proposal)).text == "修长椅和路灯"


async def test_a_ballot_of_options_shows_the_edited_text(factory: FakeUnitOfWorkFactory) -> None:
    council_id, topic_id, proposal = await council_with_proposal(factory)
    other = await services.submit_proposal(
        factory(), council_id=council_id, topic_id=topic_id, user_id=NEIGHBOUR, text="种树", now=NOW
    )
    await revise(factory, "修长椅和路灯")
    ballot = await services.put_ballot(
        factory(),
        council_id=council_id,
        topic_id=topic_id,
        user_id=CHAIR,
        kind=BallotKind.OPTIONS,
        now=NOW,
    )
    assert [(o.proposal_id, o.label) for o in ballot.options] == [
        (proposal.id, "修长椅和路灯"),
        (other.proposal.id, "种树"),
    ]


# --- refused: the proposal stays as it was -----------------------------------------


async def test_a_seconded_proposal_cannot_be_edited(factory: FakeUnitOfWorkFactory) -> None:
    _, _, proposal = await council_with_proposal(factory)
    await second(factory, proposal, NEIGHBOUR)
    with unchanged(factory), pytest.raises(errors.NotEditable) as refused:
        await revise(factory, "修长椅和路灯")
    assert refused.value.params == {"field": "seconded", "count": 1}
    assert (await stored(factory, proposal)).text == "修长椅"


async def test_a_proposal_cannot_be_edited_once_its_topic_is_put_to_the_vote(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, topic_id, proposal = await council_with_proposal(factory)
    async with factory() as uow:
        topic = await uow.topics.get(topic_id)
    assert topic is not None
    await put_motion(factory, council_id, topic)
    with unchanged(factory), pytest.raises(errors.NotEditable) as refused:
        await revise(factory, "修长椅和路灯")
    assert refused.value.params == {"field": "phase", "topic": topic.title, "phase": "voting"}
    assert (await stored(factory, proposal)).text == "修长椅"


async def test_a_proposal_of_a_cancelled_topic_cannot_be_edited(
    factory: FakeUnitOfWorkFactory,
) -> None:
    council_id, topic_id, _ = await council_with_proposal(factory)
    await services.cancel_topic(
        factory(), council_id=council_id, topic_id=topic_id, user_id=CHAIR, now=NOW
    )
    with unchanged(factory), pytest.raises(errors.NotEditable) as refused:
        await revise(factory, "修长椅和路灯")
    assert refused.value.params["phase"] == Phase.CANCELLED.value


async def test_only_the_author_may_edit(factory: FakeUnitOfWorkFactory) -> None:
    await council_with_proposal(factory)
    with unchanged(factory), pytest.raises(errors.NotEditable) as refused:
        await revise(factory, "改成停车场", user_id=NEIGHBOUR)
    assert refused.value.params == {"field": "not_author"}
    with unchanged(factory), pytest.raises(errors.NotMember):
        await revise(factory, "改成停车场", user_id=STRANGER)


async def test_a_message_that_made_no_proposal_edits_nothing(
    factory: FakeUnitOfWorkFactory,
) -> None:
    _, topic_id, _ = await council_with_proposal(factory)
    # A proposal written in a private draft has no message in the group.
    await services.start_draft(factory(), topic_id=topic_id, user_id=NEIGHBOUR, now=NOW)
    await services.add_to_draft(factory(), user_id=NEIGHBOUR, text="种树", now=NOW)
    await services.submit_draft(factory(), user_id=NEIGHBOUR, now=NOW)
    # The same message id in another council's chat is another message.
    await set_up(factory, chat_id=OTHER_CHAT)
    for source_ref, chat_id in ((SOURCE + 1, CHAT), (SOURCE, OTHER_CHAT)):
        with unchanged(factory), pytest.raises(errors.NotEditable) as refused:
            await revise(factory, "修长椅和路灯", chat_id=chat_id, source_ref=source_ref)
        assert refused.value.params == {"field": "no_proposal"}
    async with factory() as uow:
        assert [p.text for p in await uow.proposals.for_topic(topic_id)] == ["修长椅", "种树"]


@pytest.mark.parametrize(
    ("text", "refusal"),
    [("", errors.InvalidInput), ("字" * (MAX_PROPOSAL + 1), errors.TextTooLong)],
)
async def test_bad_new_text_is_refused(
    factory: FakeUnitOfWorkFactory, text: str, refusal: type[Exception]
) -> None:
    _, _, proposal = await council_with_proposal(factory)
    with unchanged(factory), pytest.raises(refusal):
        await revise(factory, text)
    assert (await stored(factory, proposal)).text == "修长椅"


async def test_why_it_cannot_change_comes_before_what_is_wrong_with_the_text(
    factory: FakeUnitOfWorkFactory,
) -> None:
    _, _, proposal = await council_with_proposal(factory)
    await second(factory, proposal, NEIGHBOUR)
    with unchanged(factory), pytest.raises(errors.NotEditable):
        await revise(factory, "")


# --- the messages it is linked to --------------------------------------------------


async def test_the_announcing_message_is_remembered(factory: FakeUnitOfWorkFactory) -> None:
    _, _, proposal = await council_with_proposal(factory)
    assert proposal.message_ref is None
    await services.set_proposal_message(factory(), proposal_id=ident(proposal), message_ref=42)
    revised = await revise(factory, "修长椅和路灯")
    assert revised.proposal.message_ref == 42


async def test_after_a_supergroup_upgrade_old_message_ids_edit_nothing(
    factory: FakeUnitOfWorkFactory,
) -> None:
    """Message ids start again in the new chat: message 41 there is another message."""
    _, _, proposal = await council_with_proposal(factory)
    await services.set_proposal_message(factory(), proposal_id=ident(proposal), message_ref=42)
    assert await services.move_chat(factory(), old_chat_id=CHAT, new_chat_id=OTHER_CHAT, now=NOW)
    after = await stored(factory, proposal)
    assert (after.source_ref, after.message_ref) == (None, None)
    with pytest.raises(errors.NotEditable) as refused:
        await revise(factory, "修长椅和路灯", chat_id=OTHER_CHAT)
    assert refused.value.params == {"field": "no_proposal"}
