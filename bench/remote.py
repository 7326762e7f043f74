"""The Bot API emulator in a process of its own, for the benchmarks.

Imported as ``remote`` (see ``common.py``). :class:`RemoteEmulator` starts
``python -m emulator`` on a free port and plays the users through its ``/_control/``
endpoints (``emulator/control.py``); the bot under test, or the bare baseline, talks to
it by ``base_url`` as it would to Telegram. So the emulator's work (parsing every Bot
API call, queueing updates, flood control) never runs on the bot's event loop, and the
bot's process is charged only for the bot: baseline and bot alike.

Users and chats are named by their ids; bot messages come back as :class:`Sent`.
Times (``Sent.at``, ``Burst.started`` …) are ``time.monotonic()`` of the emulator's
process: on Linux the system-wide monotonic clock, comparable with this process's
``time.monotonic()``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import aiohttp

from emulator import DEFAULT_TOKEN, RateLimits

if TYPE_CHECKING:
    from bot.telegram.local import LocalBot

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Sent:
    """A bot message (or, from :meth:`RemoteEmulator.events`, one sending or edit of it)."""

    chat_id: int
    message_id: int
    from_bot: bool
    text: str | None
    buttons: list[list[tuple[str, str | None]]]
    kind: str = "sent"  # "sent" or "edited" (events only)
    at: float = 0.0  # when the emulator recorded it (events only)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Sent:
        return cls(
            chat_id=int(data["chat_id"]),
            message_id=int(data["message_id"]),
            from_bot=bool(data["from_bot"]),
            text=data.get("text"),
            buttons=[[(str(t), d) for t, d in row] for row in data.get("buttons") or []],
            kind=str(data.get("kind", "sent")),
            at=float(data.get("at", 0.0)),
        )

    def callback_data(self, prefix: str = "") -> list[str]:
        return [d for row in self.buttons for _, d in row if d and d.startswith(prefix)]


@dataclass
class Burst:
    """Presses fired at once by the emulator: when each was queued and answered."""

    started: list[float]
    answered: list[float | None]  # None: no answer within the timeout
    answers: list[dict[str, Any] | None]  # {"text", "show_alert"}

    @property
    def latencies(self) -> list[float]:
        return [a - s for s, a in zip(self.started, self.answered, strict=True) if a is not None]

    @property
    def wall(self) -> float:
        """First press queued → last answer received (nan when nothing was answered)."""
        done = [a for a in self.answered if a is not None]
        return max(done) - min(self.started) if done else float("nan")


@dataclass
class Stats:
    calls: dict[str, int] = field(default_factory=dict)
    too_many_requests: int = 0
    injected_429: int = 0
    total_errors: int = 0
    event_seq: int = 0
    transcript: int = 0
    cpu_s: float = 0.0


class RemoteEmulator:
    """``python -m emulator`` with ``limits``, until the ``async with`` block ends."""

    def __init__(self, limits: RateLimits | None = None, token: str = DEFAULT_TOKEN) -> None:
        self.limits = limits or RateLimits()
        self.token = token
        self._proc: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None
        self._base = ""
        self._probes: list[Callable[[], Awaitable[None]]] = []

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> RemoteEmulator:
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
        )
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "emulator",
            "--token",
            self.token,
            "--limits",
            json.dumps(asdict(self.limits)),
            "--until-stdin-closes",  # a benchmark that dies takes its emulator with it
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        assert self._proc.stdout is not None
        line = b""
        try:
            line = await asyncio.wait_for(self._proc.stdout.readline(), START_TIMEOUT)
            ready = json.loads(line)
        except (TimeoutError, ValueError):
            await self._stop_process()
            raise RuntimeError(f"the emulator process did not start (said {line!r})") from None
        self._base = f"http://127.0.0.1:{ready['port']}"
        # No overall timeout: a burst of 20,000 presses waits for its answers for minutes.
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
        await self._stop_process()

    async def _stop_process(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        if proc.stdin is not None:
            proc.stdin.close()  # end of file: the emulator stops (--until-stdin-closes)
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    # -- addresses, as BotApiEmulator's --------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self._base}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self._base}/file/bot"

    # -- control -------------------------------------------------------------------------

    async def call(self, op: str, **body: Any) -> Any:
        assert self._session is not None, "use RemoteEmulator in an async with block"
        async with self._session.post(f"{self._base}/_control/{op}", json=body) as response:
            payload = await response.json()
        if response.status == 504:
            raise TimeoutError(f"emulator {op}: {payload.get('error')}")
        if not payload.get("ok"):
            raise RuntimeError(f"emulator {op} failed ({response.status}): {payload.get('error')}")
        return payload["result"]

    async def add_users(self, users: Sequence[tuple[str, int]]) -> list[int]:
        """(first name, user id) each; returns the ids."""
        made = await self.call(
            "add_users", users=[{"first_name": name, "user_id": uid} for name, uid in users]
        )
        return [int(uid) for uid in made]

    async def add_group(
        self, title: str, members: Sequence[int], creator: int | None = None
    ) -> int:
        return int(
            await self.call("add_group", title=title, members=list(members), creator=creator)
        )

    async def start_bot(self, user_ids: Sequence[int]) -> None:
        await self.call("start_bot", user_ids=list(user_ids))

    async def send_text(self, user_id: int, chat_id: int, text: str) -> Sent:
        return Sent.of(await self.call("send_text", user_id=user_id, chat_id=chat_id, text=text))

    async def burst(
        self, chat_id: int, message_id: int, presses: Sequence[tuple[int, str]], timeout: float
    ) -> Burst:
        result = await self.call(
            "burst",
            chat_id=chat_id,
            message_id=message_id,
            presses=[list(p) for p in presses],
            timeout=timeout,
        )
        return Burst(result["started"], result["answered"], result["answers"])

    async def events(self, after: int, timeout: float = 0.0) -> tuple[int, list[Sent]]:
        """Bot messages and edits after event ``after``, waiting up to ``timeout`` s for
        the first; returns the number of events so far and those."""
        result = await self.call("events", after=after, timeout=timeout)
        return int(result["seq"]), [Sent.of(e) for e in result["events"]]

    async def event_seq(self) -> int:
        return (await self.stats()).event_seq

    async def wait_for_bot_message(self, chat_id: int, after: int, timeout: float = 30.0) -> Sent:
        """The first bot message or edit in ``chat_id`` after event ``after``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (remaining := deadline - loop.time()) > 0:
            after, events = await self.events(after, remaining)
            for event in events:
                if event.chat_id == chat_id:
                    return event
        raise TimeoutError(f"no bot message in chat {chat_id} within {timeout}s")

    async def messages(self, chat_ids: Sequence[int]) -> dict[int, list[Sent]]:
        found = await self.call("messages", chat_ids=list(chat_ids))
        return {int(c): [Sent.of(m) for m in ms] for c, ms in found.items()}

    async def last_bot_message(self, chat_id: int) -> Sent | None:
        mine = [m for m in (await self.messages([chat_id]))[chat_id] if m.from_bot]
        return mine[-1] if mine else None

    async def stats(self) -> Stats:
        s = await self.call("stats")
        return Stats(
            calls=s["calls"],
            too_many_requests=s["too_many_requests"],
            injected_429=s["injected_429"],
            total_errors=s["total_errors"],
            event_seq=s["event_seq"],
            transcript=s["transcript"],
            cpu_s=s["cpu_s"],
        )

    async def error_texts(self, since: int) -> list[str]:
        """Texts of the error replies after transcript entry ``since``."""
        return [str(t) for t in await self.call("errors", since=since)]

    async def inject_429(self, ratio: float, seed: int = 0) -> None:
        await self.call("inject_429", ratio=ratio, seed=seed)

    async def inject_failures(self, ratio: float, seed: int = 0) -> None:
        await self.call("inject_failures", ratio=ratio, seed=seed)

    # -- waiting for the bot ---------------------------------------------------------------

    def watch(self, probe: Callable[[], Awaitable[None]]) -> Callable[[], None]:
        """As ``BotApiEmulator.watch``: :meth:`wait_idle` asks the bot (in this process)."""
        self._probes.append(probe)
        return lambda: self._probes.remove(probe)

    async def wait_idle(self, quiet: float = 0.2, timeout: float = 10.0) -> None:
        """As ``BotApiEmulator.wait_idle``: with a watched bot, until the emulator holds no
        unconfirmed update, the bot's probes return and it made no call meanwhile;
        without one, until no call came for ``quiet`` s."""
        async with asyncio.timeout(timeout):
            if not self._probes:
                await self.call("wait_idle", quiet=quiet, timeout=timeout)
                return
            while True:
                mark = await self.call("wait_confirmed", timeout=timeout)
                for probe in list(self._probes):
                    await probe()
                state = await self.call("stats")
                if not state["unconfirmed"] and state["touches"] == mark:
                    return


@asynccontextmanager
async def bot_on_remote(
    emulator: RemoteEmulator, database_url: str, **settings: Any
) -> AsyncIterator[LocalBot]:
    """The real bot (``bot.telegram.local.bot_on``) against the emulator process.
    ``bot_on`` reads only the emulator's ``base_url``, ``token``, ``limits`` and
    ``watch``, which :class:`RemoteEmulator` has; the ``LocalBot`` it yields carries the
    remote emulator in its ``emulator`` field, so use ``emulator`` itself instead."""
    from bot.telegram.local import bot_on
    from emulator import BotApiEmulator

    async with bot_on(cast(BotApiEmulator, emulator), database_url, **settings) as local:
        yield local
