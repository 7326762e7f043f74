"""Messages the bot keeps up to date by editing them: the topic and meeting cards."""

from __future__ import annotations

from telegram import Bot
from telegram.error import BadRequest

from bot.config import Settings
from bot.telegram import render, render_dispatch
from bot.telegram.buttons import Signer
from bot.telegram.mini_app import MiniApp
from domain import meetings, volunteering
from domain.ports import UnitOfWorkFactory


async def edit_quietly(bot: Bot, text: str, *, caption: bool = False, **kwargs: object) -> None:
    """Edit a message's text (or a photo's ``caption``); an edit that changes nothing
    is not an error."""
    try:
        if caption:
            await bot.edit_message_caption(caption=text, **kwargs)  # type: ignore[arg-type]
        else:
            await bot.edit_message_text(text, **kwargs)  # type: ignore[arg-type]
    except BadRequest as error:
        if "not modified" not in error.message.lower():
            raise


async def refresh_topic_card(
    bot: Bot,
    uow: UnitOfWorkFactory,
    signer: Signer,
    topic_id: int,
    *,
    settings: Settings | None = None,
) -> None:
    """Re-render a topic card from the database after its proposals or phase changed
    (with the web in ``settings``, its Mini App button too)."""
    card = await volunteering.topic_card(uow(), topic_id=topic_id)
    view, council = card.view, card.council
    if view.topic.card_ref is None:
        return
    progress = render_dispatch.progress_lines(council.language, card.tasks, card.names)
    app = MiniApp.of(settings, bot.username)
    text, markup = render.topic_card(
        council.language, view, bot.username, signer, progress, app=app
    )
    await edit_quietly(
        bot, text, chat_id=council.chat_id, message_id=view.topic.card_ref, reply_markup=markup
    )


async def refresh_meeting_card(
    bot: Bot, uow: UnitOfWorkFactory, signer: Signer, meeting_id: int
) -> None:
    """Re-render a meeting's card after it moved, was cancelled or its agenda changed."""
    view = await meetings.meeting_view(uow(), meeting_id=meeting_id)
    if view.meeting.message_ref is None:
        return
    text, markup = render.meeting_card(view.council.language, view, signer)
    await edit_quietly(
        bot,
        text,
        chat_id=view.council.chat_id,
        message_id=view.meeting.message_ref,
        reply_markup=markup,
    )
