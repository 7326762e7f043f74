"""A proposal made off the chat (on the web page), in the group: its own message with
the second button, as ``/propose`` posts; and that message redrawn when it is seconded
off the chat."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telegram import Bot
from telegram.error import BadRequest

from bot.runtime.messenger import Outgoing
from bot.telegram import render
from bot.telegram.buttons import Signer
from domain import errors, services
from domain.model import Notice, Phase
from domain.ports import UnitOfWorkFactory

if TYPE_CHECKING:
    from bot.telegram.notices import NoticeRenderer

log = logging.getLogger(__name__)


async def proposal_posted(renderer: NoticeRenderer, notice: Notice) -> Outgoing | None:
    try:
        view = await services.proposal_view(renderer.uow(), proposal_id=notice.subject)
    except (errors.ProposalNotFound, errors.TopicNotFound, errors.NotMember):
        return None  # gone meanwhile: nothing to second
    if view.proposal.message_ref is not None:
        return None  # posted already (a retry after the message went out)
    text, markup = render.proposal_message(
        view.council.language,
        view.proposal,
        view.author,
        renderer.signer,
        open_for_seconds=view.topic.phase is Phase.COLLECTING,
    )

    async def after(message_id: int) -> None:
        await services.set_proposal_message(
            renderer.uow(), proposal_id=notice.subject, message_ref=message_id
        )

    return Outgoing(text, markup=markup, after=after)


async def refresh_proposal_message(
    bot: Bot, uow: UnitOfWorkFactory, signer: Signer, proposal_id: int
) -> None:
    """Redraw a proposal's message in the group (its seconds), where it has one."""
    view = await services.proposal_view(uow(), proposal_id=proposal_id)
    if view.proposal.message_ref is None:
        return
    text, markup = render.proposal_message(
        view.council.language,
        view.proposal,
        view.author,
        signer,
        open_for_seconds=view.topic.phase is Phase.COLLECTING,
    )
    try:
        await bot.edit_message_text(
            text,
            chat_id=view.council.chat_id,
            message_id=view.proposal.message_ref,
            reply_markup=markup,
        )
    except BadRequest as error:
        if "not modified" not in error.message.lower():
            raise
