"""Telegram's size limits and its flood control (HTTP 429), emulated.

Flood control uses token buckets rather than sliding windows on purpose: PTB's
``AIORateLimiter`` is built on ``aiolimiter`` leaky buckets (30 per second overall, 20 per
minute per group), and a token bucket with the same capacity and refill rate accepts exactly
what such a leaky bucket lets through.  A sliding window would be *stricter* (after a burst of
20 it refuses for a whole minute, the leaky bucket admits one more every 3 s) and would make a
correctly rate-limited bot fail.

Extra capacity (``jitter_tolerance`` seconds' worth of refill) absorbs the delay between the
client-side limiter and this server.  It is deliberately generous: under load, httpx (PTB's
HTTP client) was measured to delay some new connections by 1-6 s (with more than ~128
connecting at once), so requests a limiter spaced out arrive here in bunches of 4-5x the
rate.  Telegram's global limit is soft as well.  A bot without a limiter blasting a group
still trips the group bucket after ~21 messages.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from emulator.errors import ApiError, too_many_requests

MAX_TEXT_LENGTH = 4096  # UTF-16 code units after entity parsing
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_INLINE_BUTTONS = 100
MAX_COMMANDS = 100
MAX_COMMAND_LENGTH = 32
MAX_COMMAND_DESCRIPTION = 256
MAX_DESCRIPTION = 512
MAX_SHORT_DESCRIPTION = 120
MAX_UPDATES_PER_CALL = 100

#: Methods that post or change visible content and so count against flood control.
#: answerCallbackQuery and getUpdates are deliberately absent, as in Telegram.
SENDING_METHODS = frozenset(
    {
        "sendmessage",
        "editmessagetext",
        "editmessagereplymarkup",
        "editmessagecaption",
        "senddocument",
        "sendphoto",
        "pinchatmessage",
    }
)


@dataclass(frozen=True)
class RateLimits:
    """Flood-control settings.

    ``per_chat_per_second`` is the sustained rate in a private chat; ``private_burst`` messages
    may go out at once before it applies (Telegram tolerates short bursts there, and PTB's
    limiter does not throttle private chats at all).  Groups get ``group_per_minute`` with a
    burst of the same size; everything together gets ``global_per_second``.  ``time_scale`` > 1
    makes emulated time pass faster (buckets refill sooner), for benchmarks; ``retry_after``
    is reported in real seconds.
    """

    per_chat_per_second: float = 1.0
    group_per_minute: int = 20
    global_per_second: int = 30
    enabled: bool = True
    time_scale: float = 1.0
    private_burst: int = 30
    jitter_tolerance: float = 4.0  # seconds of refill granted as extra capacity


class TokenBucket:
    """Classic token bucket; time is passed in so one clock serves all buckets."""

    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 if one is available now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


class RateLimiter:
    """Decides whether a sending call to ``chat_id`` may proceed; raises 429 otherwise."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._global: TokenBucket | None = None
        self._chats: dict[int, TokenBucket] = {}
        self._rng: random.Random | None = None
        self._fault_ratio = 0.0
        self.injected = 0

    def inject_429(self, ratio: float, seed: int = 0) -> None:
        """Make a ``ratio`` fraction of sending calls fail with retry_after=1, reproducibly."""
        if not 0.0 <= ratio <= 1.0:
            raise ValueError("ratio must be within [0, 1]")
        self._fault_ratio = ratio
        self._rng = random.Random(seed)

    def _now(self) -> float:
        return self._clock() * self.limits.time_scale

    def _bucket_for(self, chat_id: int, is_group: bool, now: float) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            lim = self.limits
            if is_group:
                rate = lim.group_per_minute / 60.0
                capacity = lim.group_per_minute + max(1.0, rate * lim.jitter_tolerance)
            else:
                rate = lim.per_chat_per_second
                capacity = lim.private_burst + max(1.0, rate * lim.jitter_tolerance)
            bucket = self._chats[chat_id] = TokenBucket(capacity, rate, now)
        return bucket

    def check_injected(self) -> None:
        """Raise the injected 429 before any real work, so it costs the caller nothing."""
        if self._rng is not None and self._rng.random() < self._fault_ratio:
            self.injected += 1
            raise too_many_requests(1)

    def acquire(self, chat_id: int, *, is_group: bool) -> None:
        """Consume one token from the chat's and the global bucket, or raise 429."""
        lim = self.limits
        if not lim.enabled:
            return
        now = self._now()
        if self._global is None:
            cap = lim.global_per_second + max(1.0, lim.global_per_second * lim.jitter_tolerance)
            self._global = TokenBucket(cap, float(lim.global_per_second), now)
        chat = self._bucket_for(chat_id, is_group, now)
        wait = max(self._global.wait_time(now), chat.wait_time(now))
        if wait > 0:
            raise _retry(wait / lim.time_scale)
        self._global.take()
        chat.take()


def _retry(seconds: float) -> ApiError:
    return too_many_requests(max(1, math.ceil(seconds)))
