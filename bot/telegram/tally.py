"""Keep ballot messages current without flooding the group.

A burst of votes must not become a burst of edits: Telegram lets a bot post
about 20 messages a minute to a group. Each ballot gets at most one edit per
``interval``; whatever arrived meanwhile is folded into the next edit. What
has been shown is recorded in the database (``rendered_seq``), so after a
restart the bot knows which ballot messages are behind.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Bot
from telegram.error import BadRequest, TelegramError

from bot.config import Settings
from bot.telegram import render
from bot.telegram.buttons import Signer
from bot.telegram.mini_app import MiniApp
from domain import errors, services
from domain.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)


class TallyRefresher:
    def __init__(
        self,
        bot: Bot,
        uow: UnitOfWorkFactory,
        signer: Signer,
        interval: float,
        *,
        settings: Settings | None = None,  # the web's: the Mini App's button
    ) -> None:
        self._bot = bot
        self._settings = settings
        self._uow = uow
        self._signer = signer
        self._interval = interval
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._dirty: set[int] = set()
        self._last_edit: dict[int, float] = {}
        self.edits = 0  # edits sent, for the benchmark

    def request(self, ballot_id: int) -> None:
        """Ask for the ballot message to be brought up to date soon."""
        self._dirty.add(ballot_id)
        if ballot_id not in self._tasks:
            self._tasks[ballot_id] = asyncio.create_task(self._run(ballot_id))

    async def _run(self, ballot_id: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            while ballot_id in self._dirty:
                wait = self._last_edit.get(ballot_id, -1e9) + self._interval - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._dirty.discard(ballot_id)
                try:
                    await self.refresh(ballot_id)
                except (TelegramError, errors.DomainError):
                    log.exception("could not refresh ballot %s", ballot_id)
                self._last_edit[ballot_id] = loop.time()
        finally:
            del self._tasks[ballot_id]

    async def refresh(self, ballot_id: int, *, force: bool = False) -> None:
        """Edit the ballot message if it is behind the votes (or always, if ``force``)."""
        view = await services.ballot_view(self._uow(), ballot_id=ballot_id)
        ballot = view.ballot
        if ballot.message_ref is None or (not force and view.seq <= ballot.rendered_seq):
            return
        app = MiniApp.of(self._settings, self._bot.username)
        text, markup = render.ballot_message(view.council.language, view, self._signer, app)
        try:
            await self._bot.edit_message_text(
                text,
                chat_id=view.council.chat_id,
                message_id=ballot.message_ref,
                reply_markup=markup,
            )
            self.edits += 1
        except BadRequest as error:
            if "not modified" not in error.message.lower():
                raise
        await services.mark_rendered(self._uow(), ballot_id=ballot_id, seq=view.seq)

    async def catch_up(self) -> None:
        """At start-up: bring every open ballot message that fell behind up to date."""
        for ballot_id in await services.open_ballot_ids(self._uow()):
            self.request(ballot_id)

    async def follow_others(self) -> None:
        """On the scheduler's tick: bring up to date the ballot messages behind votes
        that never reached this process's bus (``yishi web`` running on its own). One
        query finds them; the others are not touched."""
        for ballot_id in await services.ballots_behind(self._uow()):
            self.request(ballot_id)

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    async def drain(self) -> None:
        """Wait until every requested edit has been made (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)
