"""Bot API calls made at start-up, retried through a passing network fault.

A start-up that dies on one failed ``getMe`` or ``setMyCommands`` leaves the
council without its bot until someone restarts it by hand; Telegram's own
servers answer 5xx now and then. Refusals (a bad token, a bad request) are not
retried: they will not get better.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_DELAY = 0.5
MAX_DELAY = 10.0


async def retrying(call: Callable[[], Awaitable[T]], *, attempts: int = 6, what: str = "") -> T:
    """``call()``, again after a network fault or a flood wait, up to ``attempts`` times."""
    delay = FIRST_DELAY
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except RetryAfter as error:
            if attempt == attempts:
                raise
            wait = float(
                error.retry_after
                if isinstance(error.retry_after, int | float)
                else error.retry_after.total_seconds()
            )
            await asyncio.sleep(wait)
        except (BadRequest, InvalidToken):
            raise
        except NetworkError as error:
            if attempt == attempts:
                raise
            log.warning("%s failed (%s); trying again in %.1f s", what or "a call", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)
    raise AssertionError("unreachable")
