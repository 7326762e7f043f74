"""The `yishi` command: one entry point, one sub-command per job."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Which module registers each sub-command, in the order ``yishi --help`` lists them.
# ``main`` imports only the module of the command it was given: each module imports what
# its commands need, and `yishi run` should not pay for the CSV tallying or the backup
# tools at every start (nor `yishi tally` for the bot).
MODULES = {
    "run": "bot.cli.run",
    "web": "bot.cli.web",
    "db": "bot.cli.run",
    "demo": "bot.cli.demo",
    "tally": "bot.cli.tally",
    "cards": "bot.cli.cards",
    "backup": "bot.cli.backup",
    "restore": "bot.cli.backup",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every sub-command, or only of ``command``'s module when it names one
    (its parser then knows that module's sub-commands only)."""
    parser = argparse.ArgumentParser(
        prog="yishi",
        description="Yishi (议事): a resident deliberation council in your group chat.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = [MODULES[command]] if command in MODULES else MODULES.values()
    for name in dict.fromkeys(wanted):  # each module once, in order
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    # The sub-command is the first argument (the top level has no option but --help,
    # which needs every command's help, and then gets the full parser).
    command = arguments[0] if arguments else None
    parser = build_parser(command)
    args = parser.parse_args(arguments)
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
