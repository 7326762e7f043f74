"""What handlers share: dependencies in ``bot_data`` and small update helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, cast

from telegram import Message, Update
from telegram.ext import ContextTypes

from bot.config import Settings
from bot.i18n import language_of
from bot.runtime.clock import utcnow
from bot.telegram.buttons import Signer
from domain.idempotency import IdempotentUnitOfWork
from domain.ports import Clock, UnitOfWork

if TYPE_CHECKING:
    from bot.runtime.ballot_box import BallotBox
    from bot.runtime.bus import MessageBus
    from bot.runtime.inbox import Inbox
    from bot.runtime.outbox import Outbox
    from bot.runtime.presence import Presence
    from bot.runtime.scheduler import Scheduler
    from bot.telegram.limits import MemberLimits
    from bot.telegram.tally import TallyRefresher
    from storage.uow import Database

__all__ = ["Clock", "Deps", "deps", "keyed_uow", "now", "uow", "update_key", "utcnow"]


@dataclass
class Deps:
    settings: Settings
    database: Database
    signer: Signer
    refresher: TallyRefresher
    ballot_box: BallotBox
    scheduler: Scheduler
    outbox: Outbox
    clock: Clock
    presence: Presence
    inbox: Inbox
    limits: MemberLimits
    bus: MessageBus


def deps(context: ContextTypes.DEFAULT_TYPE) -> Deps:
    return cast(Deps, context.bot_data["deps"])


def now(context: ContextTypes.DEFAULT_TYPE) -> datetime:
    return deps(context).clock()


def uow(context: ContextTypes.DEFAULT_TYPE) -> UnitOfWork:
    return deps(context).database.uow()


def update_key(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The claim of an update: scoped to the bot, because update ids are the bot's own
    sequence (and pruned after 25 h, because Telegram may start the sequence anew)."""
    return f"update:{context.bot.id}:{update.update_id}"


def keyed_uow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> UnitOfWork:
    """A unit of work whose commit takes effect once per update, however often delivered."""
    return IdempotentUnitOfWork(uow(context), update_key(update, context))


def user_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    user = update.effective_user
    return language_of(user.language_code if user else None, deps(context).settings.language)


def thread_of(message: Message | None) -> int:
    if message is not None and message.is_topic_message and message.message_thread_id:
        return message.message_thread_id
    return 0


def is_private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == chat.PRIVATE


def command_text(message: Message) -> str:
    """What follows the command, keeping line breaks (``context.args`` splits them away)."""
    text = message.text or ""
    head, _, rest = text.partition(" ")
    if "\n" in head:
        head, _, more = head.partition("\n")
        rest = f"{more} {rest}" if rest else more
    return rest.strip()
