"""The `yishi` command: one entry point, one sub-command per job."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="yishi",
        description="Yishi (议事): a resident deliberation council in your group chat.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from bot.cli import backup, demo, run, tally

    run.register(sub)
    demo.register(sub)
    tally.register(sub)
    backup.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
