"""Per-member limits on what the bot posts in the group for one member.

One member's burst of commands becomes a burst of group messages, and a group
takes about 20 bot messages a minute: everybody else's answers would wait
behind it. Proposals and requests, which also reach other members privately,
are counted in the database by their use cases (``TooMany``), exactly and
across processes. Other commands in a group are counted here, per process:
past the limit the member is told once when to try again, and the rest of
their commands in that window are ignored.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.config import Settings


@dataclass
class MemberLimits:
    proposals_per_hour: int  # 0: no limit
    requests_per_hour: int
    group_commands: int  # per member and group, within window seconds
    window: float
    _clock: Callable[[], float] = time.monotonic
    _seen: dict[tuple[int, int], deque[float]] = field(default_factory=dict)
    _told: dict[tuple[int, int], float] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> MemberLimits:
        return cls(
            proposals_per_hour=settings.limit_proposals_per_hour,
            requests_per_hour=settings.limit_requests_per_hour,
            group_commands=settings.limit_group_commands,
            window=settings.limit_group_window_minutes * 60,
        )

    def command(self, chat_id: int, user_id: int) -> str:
        """Count a command in a group: "ok", "tell" (the first one over the limit: say
        when to try again) or "ignore"."""
        if self.group_commands <= 0:
            return "ok"
        now = self._clock()
        key = (chat_id, user_id)
        seen = self._seen.setdefault(key, deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if len(seen) < self.group_commands:
            seen.append(now)
            self._told.pop(key, None)
            if len(self._seen) > 10_000:
                self._forget(now)
            return "ok"
        if key in self._told:
            return "ignore"
        self._told[key] = now
        return "tell"

    def retry_in_minutes(self, chat_id: int, user_id: int) -> int:
        seen = self._seen.get((chat_id, user_id))
        if not seen:
            return 1
        return max(1, round((seen[0] + self.window - self._clock()) / 60 + 0.5))

    def _forget(self, now: float) -> None:
        """Drop members quiet for a whole window, so the table stays small."""
        for key in [k for k, v in self._seen.items() if not v or v[-1] <= now - self.window]:
            del self._seen[key]
            self._told.pop(key, None)
