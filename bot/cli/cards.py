"""`yishi cards --council N --out cards.pdf`: the binding cards of a council's roll.

The same cards as ``/cards`` in a private chat, for whoever runs the bot: one for each
member of the roll without an account (or of the households named), a fresh code on
each, which ends the member's older unused one. The bot's username, which the QR
codes' links need, is ``--bot`` or asked of Telegram (getMe) with the bot's token.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.keys import WEB_PURPOSE

TELEGRAM_API = "https://api.telegram.org/bot"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cards = sub.add_parser(
        "cards", help="print binding cards (PDF) for the roll's members without an account"
    )
    cards.add_argument(
        "--council", type=int, metavar="N", help="the council's number (without it: a list)"
    )
    cards.add_argument("--out", type=Path, help="the PDF to write (required with --council)")
    cards.add_argument(
        "--bot", metavar="USERNAME", help="the bot's username (default: asked of Telegram)"
    )
    cards.add_argument(
        "--days", type=int, help="days the codes are valid (default: YISHI_BINDING_CODE_DAYS)"
    )
    cards.add_argument(
        "households", nargs="*", help="only these households or buildings: 3-2-301, 3-2, 3"
    )
    cards.set_defaults(handler=run_cards)


class CardsError(RuntimeError):
    """Why no cards were printed."""


def run_cards(args: argparse.Namespace) -> int:
    settings = Settings()
    try:
        if args.council is None or args.out is None:
            print(asyncio.run(_councils(settings.database_url)))
            print("\nyishi cards --council N --out cards.pdf [household …]", file=sys.stderr)
            return 2
        written = asyncio.run(_print_cards(settings, args))
    except CardsError as error:
        print(f"yishi cards: {error}", file=sys.stderr)
        return 2
    print(written)
    return 0


async def _print_cards(settings: Settings, args: argparse.Namespace) -> str:
    from bot.runtime.clock import utcnow
    from bot.telegram.binding_pdf import FontMissing, find_font
    from bot.telegram.handlers.binding import render_batch
    from bot.web_links import web_configured
    from domain.errors import DomainError
    from domain.services.household_cards import issue_household_cards
    from storage.uow import Database

    try:
        # Before any code is issued: a new card ends the old ones.
        font = find_font(settings.cards_font)
    except FontMissing as missing:
        raise CardsError(str(missing)) from None
    bot = args.bot or await _bot_username(settings)
    key = _codes_key(settings)
    # With the web (YISHI_WEB_URL): the household's login key, the card's second QR code.
    web_key = _codes_key(settings, WEB_PURPOSE) if web_configured(settings) else None
    days = args.days if args.days is not None else settings.binding_code_days
    if days < 1:
        raise CardsError("--days must be 1 or more")
    database = await Database.open(settings.database_url)
    try:
        batch = await issue_household_cards(
            database.uow(),
            council_id=args.council,
            user_id=None,
            households=args.households,
            now=utcnow(),
            valid_for=timedelta(days=days),
            key=key,
            web_key=web_key,
        )
    except DomainError as error:
        raise CardsError(_refusal(error)) from None
    finally:
        await database.dispose()
    pdf = await asyncio.to_thread(render_batch, batch, bot.lstrip("@"), font, settings)
    args.out.write_bytes(pdf)
    expires = batch.expires_at.astimezone(ZoneInfo(batch.council.timezone)).date().isoformat()
    replaced = f"; {batch.replaced} older unused codes ended" if batch.replaced else ""
    return (
        f"{len(batch.cards)} cards of {batch.council.title} written to {args.out} "
        f"(valid until {expires}{replaced})"
    )


def _refusal(error: Exception) -> str:
    code = getattr(error, "code", "")
    if code == "nothing_to_print":
        return "nobody on the roll (of those households) is without an account: no cards"
    if code == "council_not_set_up":
        return "there is no council with that number (run without --council for a list)"
    return f"refused: {code} {getattr(error, 'params', '')}".strip()


def _codes_key(settings: Settings, purpose: str = "") -> bytes:
    """The key the bot checks codes with (or the web its login keys, ``purpose``
    ``WEB_PURPOSE``): from YISHI_SECRET, else from the token, as the bot derives it (so
    the token, or the secret, must be the bot's own)."""
    from bot.telegram.app import signer_for
    from bot.telegram.handlers.binding import CODES

    if settings.secret is None and settings.telegram_token is None:
        raise CardsError(
            "set YISHI_SECRET (or YISHI_TELEGRAM_TOKEN) as the bot has it: "
            "the codes are checked with a key derived from it"
        )
    token = settings.telegram_token.get_secret_value() if settings.telegram_token else ""
    return signer_for(settings, token).key_for(purpose or CODES)


async def _bot_username(settings: Settings) -> str:
    """The bot's username, from Telegram's getMe with its token."""
    import httpx

    if settings.telegram_token is None:
        raise CardsError("pass --bot USERNAME, or set YISHI_TELEGRAM_TOKEN to ask Telegram")
    base = settings.telegram_base_url or TELEGRAM_API
    url = f"{base}{settings.telegram_token.get_secret_value()}/getMe"
    try:
        async with httpx.AsyncClient(timeout=20) as client:
            answer = (await client.get(url)).json()
    except (httpx.HTTPError, ValueError) as error:
        raise CardsError(
            f"could not ask Telegram for the bot's name ({error}); pass --bot"
        ) from None
    if not answer.get("ok"):
        raise CardsError(f"Telegram refused getMe: {answer.get('description')}; pass --bot")
    return str(answer["result"]["username"])


async def _councils(url: str) -> str:
    """The councils of the database, one "#N title" a line: whose number --council takes."""
    from sqlalchemy import select

    from storage.orm import CouncilRow
    from storage.uow import Database

    database = await Database.open(url)
    try:
        async with database.sessions() as session:
            rows = (await session.execute(select(CouncilRow.id, CouncilRow.title))).all()
    finally:
        await database.dispose()
    if not rows:
        return "no council yet: /setup one in its group first"
    return "\n".join(f"#{council_id} {title}" for council_id, title in sorted(rows))
