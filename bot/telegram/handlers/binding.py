"""Binding codes in the chat: ``/cards`` prints them for chairs and staff, privately;
``/start <code>`` (the card's QR code, or the code typed) binds an account."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from telegram import InputFile, Update
from telegram.constants import ChatAction
from telegram.ext import ContextTypes

from bot.config import Settings
from bot.i18n import language_of, t
from bot.telegram import binding_pdf
from bot.telegram.context import deps, keyed_uow, now, user_language
from bot.telegram.handlers.common import private_only, refusals, refuse
from bot.web_links import WEB_PURPOSE, key_url, web_configured
from domain import errors
from domain.numbers import read_id
from domain.services.binding import CardBatch, bind
from domain.services.household_cards import issue_household_cards

log = logging.getLogger(__name__)

# The binding codes' digests are keyed by the bot's secret (domain/binding.py says why);
# `yishi cards` derives the same key from the same settings.
CODES = "binding-codes"


def parse_cards_args(args: list[str]) -> tuple[int | None, list[str]]:
    """``/cards [#council] [household or building …]``."""
    council_id = None
    households = []
    for arg in args:
        if arg.startswith(("#", "＃")) and council_id is None:
            council_id = read_id(arg[1:])
            if council_id is None:
                raise errors.InvalidInput(field="cards_usage")
        else:
            households.append(arg)
    return council_id, households


@refusals
@private_only
async def cards(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    lang = user_language(update, context)
    settings = deps(context).settings
    council_id, households = parse_cards_args(context.args or [])
    try:
        # Before any code is issued: a new card ends the old ones.
        font = binding_pdf.find_font(settings.cards_font)
    except binding_pdf.FontMissing as missing:
        log.error("/cards: %s", missing)
        await message.reply_text(t(lang, "cards.no_font", package=binding_pdf.FONT_PACKAGE))
        return
    signer = deps(context).signer
    batch = await issue_household_cards(
        keyed_uow(update, context),
        council_id=council_id,
        user_id=user.id,
        households=households,
        now=now(context),
        valid_for=timedelta(days=settings.binding_code_days),
        key=signer.key_for(CODES),
        # With the web, the household's login key too: the card's second QR code.
        web_key=signer.key_for(WEB_PURPOSE) if web_configured(settings) else None,
    )
    await context.bot.send_chat_action(user.id, ChatAction.UPLOAD_DOCUMENT)
    # In a thread: a roll of 3,000 households takes about half a minute to draw.
    pdf = await asyncio.to_thread(render_batch, batch, context.bot.username, font, settings)
    council = batch.council
    date = batch.expires_at.astimezone(ZoneInfo(council.timezone)).strftime("%Y-%m-%d")
    caption = t(lang, "cards.sent", council=council.title, count=len(batch.cards), date=date)
    if batch.replaced:
        caption += "\n" + t(lang, "cards.replaced", count=batch.replaced)
    await message.reply_document(
        InputFile(pdf, filename=f"binding-cards-{council.id}-{date}.pdf"), caption=caption
    )


def render_batch(
    batch: CardBatch, bot_username: str, font: binding_pdf.Font, settings: Settings | None = None
) -> bytes:
    """The PDF of a batch, in the council's language (the cards are for its residents);
    a card with a login key gets the web page's QR code too (``settings``' address)."""
    council = batch.council
    return binding_pdf.render(
        [
            binding_pdf.PrintedCard(
                card.member.household,
                card.member.name,
                card.code,
                web=key_url(settings, card.login_key)
                if settings is not None and card.login_key
                else None,
            )
            for card in batch.cards
        ],
        council=council.title,
        bot_username=bot_username,
        expires_at=batch.expires_at.astimezone(ZoneInfo(council.timezone)),
        lang=language_of(council.language),
        font=font,
    )


async def bind_by_code(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    """``/start ABCD-EFGH-JKLM``: bind this account to the roll entry of the code. A
    refusal is answered here, not raised: the attempt it recorded must stay."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    lang = user_language(update, context)
    result = await bind(
        keyed_uow(update, context),
        text=text,
        user_id=user.id,
        language=language_of(user.language_code) if user.language_code else None,
        now=now(context),
        failures_per_hour=deps(context).settings.limit_binding_failures_per_hour,
        key=deps(context).signer.key_for(CODES),
    )
    if result.refusal is not None:
        await refuse(update, context, result.refusal)
        return
    assert result.council is not None and result.member is not None
    await message.reply_text(
        t(
            lang,
            "binding.done",
            council=result.council.title,
            name=result.member.name,
            household=result.member.household,
        )
    )
