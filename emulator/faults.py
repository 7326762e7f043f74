"""Injected Bot API failures: the network and Telegram's servers are not always there.

``FaultInjector`` fails a fraction of all calls (any method, getUpdates and
answerCallbackQuery included) with HTTP 500, reproducibly from a seed. Half of
the failures happen before the call takes effect, half after it (the message is
sent, but the reply is lost on the way back), as a lost connection would leave
it; the bot cannot tell which.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from emulator.errors import ApiError


def server_error() -> ApiError:
    return ApiError(500, "Internal Server Error")


@dataclass
class FaultInjector:
    ratio: float = 0.0
    seed: int = 0
    after_share: float = 0.5  # of the failures, those after the call took effect
    spare: frozenset[str] = frozenset()  # methods never failed (lower-case)
    only: frozenset[str] = frozenset()  # if given, the only methods failed (lower-case)
    before: int = 0  # failures injected, by kind
    after: int = 0
    _rng: random.Random = field(default_factory=random.Random)

    def configure(
        self,
        ratio: float,
        seed: int = 0,
        *,
        after_share: float = 0.5,
        spare: frozenset[str] = frozenset(),
        only: frozenset[str] = frozenset(),
    ) -> None:
        if not 0.0 <= ratio <= 1.0 or not 0.0 <= after_share <= 1.0:
            raise ValueError("ratio and after_share must be within [0, 1]")
        self.ratio, self.after_share, self.spare, self.only = ratio, after_share, spare, only
        self._rng = random.Random(seed)

    def decide(self, method: str) -> str | None:
        """None (no failure), "before" or "after"."""
        name = method.lower()
        if self.ratio <= 0 or name in self.spare or (self.only and name not in self.only):
            return None
        if self._rng.random() >= self.ratio:
            return None
        if self._rng.random() < self.after_share:
            self.after += 1
            return "after"
        self.before += 1
        return "before"
