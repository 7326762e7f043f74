"""``/console``: a chair or staff member asks for a one-time link to the web console,
sent to them privately (the link signs in whoever opens it first)."""

from __future__ import annotations

from datetime import timedelta

from telegram import Update
from telegram.ext import ContextTypes

from bot.i18n import t
from bot.telegram.context import deps, keyed_uow, now, user_language
from bot.telegram.handlers.binding import parse_cards_args
from bot.telegram.handlers.common import private_only, refusals
from bot.web_links import WEB_PURPOSE, console_url
from domain.services import web_access


@refusals
@private_only
async def console(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    lang = user_language(update, context)
    d = deps(context)
    council_id, _ = parse_cards_args((context.args or [])[:1])
    lifetimes = web_access.Lifetimes(link=timedelta(minutes=d.settings.web_link_minutes))
    link = await web_access.console_link(
        keyed_uow(update, context),
        user_id=user.id,
        council_id=council_id,
        now=now(context),
        key=d.signer.key_for(WEB_PURPOSE),
        lifetimes=lifetimes,
    )
    minutes = max(1, round(d.settings.web_link_minutes))
    await message.reply_text(
        t(
            lang,
            "console.link",
            council=link.council.title,
            minutes=minutes,
            url=console_url(d.settings, link.token),
        )
    )
