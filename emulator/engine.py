"""State shared by the Bot API method handlers and the simulated-user API.

Everything runs on one event loop, so plain attributes suffice; waiting is done with
:class:`Signal`, a broadcast wake-up that needs no lock (unlike ``asyncio.Condition``)
and can therefore be fired from synchronous code.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from emulator.errors import bad_request
from emulator.faults import FaultInjector
from emulator.html import FormattedText, format_text, utf16_len
from emulator.limits import RateLimiter, RateLimits
from emulator.models import CallbackAnswer, Message, User
from emulator.state import World
from emulator.transcript import Entry, Transcript
from emulator.webhook import WebhookDelivery


class Signal:
    """Wake every current waiter; later waiters wait for the next ``fire``."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Wait for the next ``fire`` or ``timeout`` seconds, whichever comes first."""
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(0.0, timeout))


@dataclass
class EmulatorStats:
    """Counters for benchmarks and assertions."""

    calls: Counter[str] = field(default_factory=Counter)  # per Bot API method
    too_many_requests: int = 0  # 429s returned, injected ones included
    injected_429: int = 0
    errors: Counter[int] = field(default_factory=Counter)  # error replies by status code
    sent: Counter[int] = field(default_factory=Counter)  # bot messages per chat id
    edited: Counter[int] = field(default_factory=Counter)  # bot edits per chat id

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())


@dataclass(frozen=True)
class BotEvent:
    seq: int
    kind: Literal["sent", "edited"]
    message: Message  # a snapshot; later edits do not change it
    at: float = 0.0  # time.monotonic() when it happened (for timings taken in another process)


@dataclass
class PendingQuery:
    user: User
    future: asyncio.Future[CallbackAnswer]
    entry: Entry
    answered: bool = False


class Engine:
    def __init__(self, bot: User, limits: RateLimits, *, strict_ampersand: bool) -> None:
        self.world = World(bot)
        self.limiter = RateLimiter(limits)
        self.faults = FaultInjector()
        self.webhook = WebhookDelivery(self)
        self.stats = EmulatorStats()
        self.transcript = Transcript(bot.first_name)
        self.strict_ampersand = strict_ampersand
        self.queries: dict[str, PendingQuery] = {}
        self.bot_events: list[BotEvent] = []
        self.updates_signal = Signal()  # new updates, or a poll must end
        self.activity_signal = Signal()  # bot calls and deliveries (for wait_idle)
        self.bot_signal = Signal()  # bot messages and edits
        self.last_activity = time.monotonic()
        self.touches = 0  # bot calls other than getUpdates
        # The bot's own "nothing in hand" signals (see BotApiEmulator.watch).
        self.idle_probes: list[Callable[[], Awaitable[None]]] = []
        self.poll_generation = 0
        self.closing = False

    @property
    def bot(self) -> User:
        return self.world.bot

    def touch(self) -> None:
        self.touches += 1
        self.last_activity = time.monotonic()
        self.activity_signal.fire()

    def enqueue(self, payload: dict[str, Any]) -> dict[str, Any]:
        update = self.world.enqueue(payload)
        self.updates_signal.fire()
        self.activity_signal.fire()
        return update

    def record_bot_message(self, kind: Literal["sent", "edited"], message: Message) -> None:
        snapshot = copy.copy(message)
        self.bot_events.append(
            BotEvent(len(self.bot_events) + 1, kind, snapshot, at=time.monotonic())
        )
        counter = self.stats.sent if kind == "sent" else self.stats.edited
        counter[message.chat.id] += 1
        rows = message.buttons
        urls = [
            ["url" in button for button in row]
            for row in (message.reply_markup or {}).get("inline_keyboard") or []
        ]
        shown = message.text if message.text is not None else _media_line(message)
        self.transcript.add(
            Entry(
                kind="bot" if kind == "sent" else "edit",
                chat=message.chat.label,
                actor=self.bot.first_name,
                text=shown,
                message_id=message.message_id,
                buttons=rows,
                button_urls=urls,
            )
        )
        self.bot_signal.fire()

    def format(
        self,
        source: str | None,
        parse_mode: str | None,
        entities: Any,
        *,
        limit: int,
        empty: str | None,
        too_long: str,
    ) -> FormattedText:
        """Parse text or caption; ``empty`` is the error for empty text (None: allowed)."""
        if entities is not None and not isinstance(entities, list):
            raise bad_request("can't parse entities JSON object")
        formatted = format_text(
            source or "", parse_mode, entities, strict_ampersand=self.strict_ampersand
        )
        length = utf16_len(formatted.text)
        if length == 0 and empty is not None:
            raise bad_request(empty)
        if length > limit:
            raise bad_request(too_long)
        return formatted


def _media_line(message: Message) -> str:
    if message.document is not None:
        head = f"📎 {message.document.get('file_name', 'document')}"
    else:
        head = "🖼 photo"
    return f"{head} — {message.caption}" if message.caption else head
