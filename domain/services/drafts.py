"""Use cases of drafts: long proposals written in a private chat."""

from __future__ import annotations

from datetime import datetime

from domain import errors
from domain.model import MAX_PROPOSAL, Draft, Phase, Topic
from domain.ports import UnitOfWork
from domain.services.reading import require_topic, voting_member
from domain.services.topics import Submitted, add_proposal


async def start_draft(uow: UnitOfWork, *, topic_id: int, user_id: int, now: datetime) -> Topic:
    async with uow:
        topic = await require_topic(uow, topic_id)
        topic.require_phase(Phase.COLLECTING)
        await voting_member(uow, topic.council_id, user_id)
        await uow.drafts.put(Draft(user_id=user_id, topic_id=topic_id, text="", updated_at=now))
        await uow.commit()
        return topic


async def add_to_draft(uow: UnitOfWork, *, user_id: int, text: str, now: datetime) -> Draft | None:
    """Append a private message to the member's draft; None when no draft is open."""
    async with uow:
        draft = await uow.drafts.get(user_id)
        if draft is None:
            return None
        draft.text = f"{draft.text}\n{text}".strip() if draft.text else text.strip()
        if len(draft.text) > MAX_PROPOSAL:
            raise errors.TextTooLong(field="proposal", limit=MAX_PROPOSAL, length=len(draft.text))
        draft.updated_at = now
        await uow.drafts.put(draft)
        await uow.commit()
        return draft


async def submit_draft(
    uow: UnitOfWork, *, user_id: int, now: datetime, per_hour: int = 0
) -> Submitted:
    async with uow:
        draft = await uow.drafts.get(user_id)
        if draft is None:
            raise errors.NotFound(what="draft")
        topic = await require_topic(uow, draft.topic_id)
        submitted = await add_proposal(
            uow, topic=topic, user_id=user_id, text=draft.text, now=now, per_hour=per_hour
        )
        await uow.drafts.delete(user_id)
        await uow.commit()
        return submitted


async def discard_draft(uow: UnitOfWork, *, user_id: int) -> bool:
    async with uow:
        had = await uow.drafts.get(user_id) is not None
        await uow.drafts.delete(user_id)
        await uow.commit()
        return had
