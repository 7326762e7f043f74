"""The staff console: chairs and staff of a council, signed in by a ``/console`` link.
Each page is a module here; ``routes`` lists them all."""

from __future__ import annotations

from starlette.routing import BaseRoute

from bot.web.console import ballots, downloads, home, people, roll, tasks

routes: list[BaseRoute] = [
    *home.routes,
    *roll.routes,
    *people.routes,
    *ballots.routes,
    *tasks.routes,
    *downloads.routes,
]
