"""The emulator as a process of its own, driven over HTTP (``emulator/control.py``).

    python -m emulator [--host 127.0.0.1] [--port 0] [--token TOKEN] [--limits JSON]
                       [--until-stdin-closes]

Prints one JSON line on stdout once it listens (``{"base_url": …, "port": …}``) and
serves until SIGTERM or SIGINT, or, with ``--until-stdin-closes``, until its standard
input reaches end of file: a parent that holds the other end of a pipe need not
outlive it by a signal (a crashed benchmark leaves no emulator behind).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence

from emulator.limits import RateLimits
from emulator.server import DEFAULT_TOKEN, BotApiEmulator


async def serve(args: argparse.Namespace) -> None:
    limits = RateLimits(**json.loads(args.limits)) if args.limits else RateLimits()
    emulator = BotApiEmulator(args.token or None, limits=limits, control=True)
    await emulator.start(args.host, args.port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watcher: asyncio.Task[None] | None = None
    if args.until_stdin_closes:
        stdin = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)

        async def watch_stdin() -> None:
            await stdin.read()  # returns at end of file: the parent is gone or done
            stop.set()

        watcher = asyncio.create_task(watch_stdin())
    ready = {"base_url": emulator.base_url, "port": emulator.port, "token": emulator.token}
    print(json.dumps(ready), flush=True)
    try:
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await emulator.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (printed)")
    parser.add_argument(
        "--token", default=DEFAULT_TOKEN, help="the bot token accepted ('': any well-formed one)"
    )
    parser.add_argument(
        "--limits", default=None, help='RateLimits fields as JSON, e.g. {"group_per_minute": 20}'
    )
    parser.add_argument("--until-stdin-closes", action="store_true")
    asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
