"""PTB's ``AIORateLimiter``, with a way for one call to opt out of its retries.

On a 429 the limiter sleeps ``retry_after`` and holds back every other request
meanwhile — right for a reply a person is waiting for, wrong for the outbox,
which would stall a whole team-wide call for help on one refused message. A
call made with ``rate_limit_args=NO_RETRY`` still keeps to the limits, but a 429
comes straight back to the caller, which retries that one message later.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import AIORateLimiter

NO_RETRY = -1

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]


class RateLimiter(AIORateLimiter):
    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONResult:
        if rate_limit_args != NO_RETRY:
            return await super().process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )
        # The same chat and group detection as AIORateLimiter.process_request.
        chat_id = data.get("chat_id")
        with contextlib.suppress(ValueError, TypeError):
            chat_id = int(chat_id)  # type: ignore[arg-type]
        group: int | str | bool = False
        if (isinstance(chat_id, int) and chat_id < 0) or isinstance(chat_id, str):
            group = chat_id
        return await self._run_request(
            chat=chat_id is not None,
            group=group,
            allow_paid_broadcast=bool(data.get("allow_paid_broadcast", False)),
            callback=callback,
            args=args,
            kwargs=kwargs,
        )
