"""Queueing notices: the outbox's rows, and the event that wakes it."""

from __future__ import annotations

from domain.events import NoticesQueued
from domain.model import Notice
from domain.ports import UnitOfWork


async def queue(uow: UnitOfWork, *notices: Notice) -> int:
    """Within a transaction: queue ``notices`` (one per key; a key already queued is
    left as it is) and, if any is new, have the outbox woken once the commit is in.
    Returns how many were new."""
    added = (
        int(await uow.notices.add(notices[0]))
        if len(notices) == 1
        else await uow.notices.add_many(notices)
    )
    if added:
        uow.record(NoticesQueued())
    return added
