"""Long polling that loses nothing: a batch is confirmed to Telegram only once it is stored.

python-telegram-bot's ``Updater`` confirms a batch (the next ``getUpdates``
offset) as soon as it has put the updates in an in-memory queue, before they
are handled, and confirms the whole queue again when it stops: a crash, or a
stop with work queued, loses updates for good. Here the next offset is asked
for only after :meth:`bot.runtime.inbox.Inbox.receive` has committed the batch.

While the database is away the batch stays unconfirmed (Telegram keeps it) and
storing is tried again with backoff; a member pressing a button meanwhile is
told at once that the press was not recorded ("暂时无法记录，请稍后再按"), and
that press is left out when the batch is finally stored, so what they were
told stays true.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from telegram import Bot, Update
from telegram.error import Conflict, InvalidToken, TelegramError

from bot.i18n import language_of, t
from bot.runtime.inbox import Inbox
from bot.telegram.render import plain
from bot.telegram.startup_calls import retrying
from storage.errors import is_unavailable

log = logging.getLogger(__name__)

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 10.0


class Poller:
    def __init__(
        self, bot: Bot, inbox: Inbox, *, timeout: int = 10, language: str = "zh-CN"
    ) -> None:
        self._bot = bot
        self._inbox = inbox
        self._timeout = timeout
        self._language = language
        self._offset: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.batches = 0  # stored batches, for tests
        self.refused_during_outage = 0
        self.in_hand = 0  # updates fetched and not stored yet

    async def start(self) -> None:
        # As PTB's bootstrap does: polling works only without a webhook.
        await retrying(
            lambda: self._bot.delete_webhook(drop_pending_updates=False), what="deleteWebhook"
        )
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="yishi:polling")

    async def stop(self) -> None:
        """Stop fetching; confirm what was stored (it is safe in the inbox)."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._offset is not None:
            with contextlib.suppress(TelegramError):
                await self._bot.get_updates(offset=self._offset, timeout=0)

    async def _loop(self) -> None:
        backoff = BACKOFF_FIRST
        while not self._stopping:
            try:
                updates = await self._bot.get_updates(
                    offset=self._offset,
                    timeout=self._timeout,
                    allowed_updates=Update.ALL_TYPES,
                )
            except InvalidToken:
                log.critical("Telegram refused the bot token; polling stops")
                raise
            except (Conflict, TelegramError) as error:
                log.warning("getUpdates failed (%s); trying again in %.1f s", error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            backoff = BACKOFF_FIRST
            if not updates:
                continue
            self.in_hand = len(updates)
            try:
                await self._store(list(updates))
            except Exception:  # a bug, not an outage: keep the batch with Telegram, go on
                log.exception("could not store %d updates; they stay unconfirmed", len(updates))
                await asyncio.sleep(BACKOFF_MAX)
                continue
            finally:
                self.in_hand = 0
            self._offset = updates[-1].update_id + 1

    async def _store(self, updates: list[Update]) -> None:
        """Commit the batch to the inbox, however long the database takes to come back."""
        refused: set[int] = set()
        backoff = BACKOFF_FIRST
        while True:
            kept = [u for u in updates if u.update_id not in refused]
            try:
                await self._inbox.receive([_payload(u) for u in kept], kept)
                self.batches += 1
                return
            except Exception as error:
                if not is_unavailable(error):
                    raise
                if not refused:
                    log.warning(
                        "database unavailable: %d updates held unconfirmed; retrying in %.1f s",
                        len(kept),
                        backoff,
                    )
                refused |= await self._refuse_presses(kept)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)

    async def _refuse_presses(self, updates: list[Update]) -> set[int]:
        """Tell each member whose press is held that it was not recorded."""
        answered: set[int] = set()
        for update in updates:
            query = update.callback_query
            if query is None:
                continue
            lang = language_of(query.from_user.language_code, self._language)
            with contextlib.suppress(TelegramError):
                await query.answer(plain(t(lang, "error.unavailable_press")), show_alert=True)
            answered.add(update.update_id)
            self.refused_during_outage += 1
        return answered


def _payload(update: Update) -> dict[str, Any]:
    """The update as Telegram sent it (PTB keeps unknown fields in ``api_kwargs``)."""
    return update.to_dict()
