"""Which failures mean "the database cannot be reached now", as opposed to a bug.

A handler that meets an outage must say so truthfully ("暂时无法记录") rather
than report an internal error, and the inbox and the start-up wait and try
again; both ask :func:`is_unavailable`.
"""

from __future__ import annotations

import sqlite3
import sys

from sqlalchemy import exc

# SQLite's own words for a file it cannot use now (not for a mistake in a statement).
_SQLITE_OUTAGES = ("locked", "busy", "unable to open", "disk i/o", "readonly", "disk is full")


def is_unavailable(error: BaseException | None) -> bool:
    """True when ``error`` (or what caused it) says the database is unreachable or busy."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, sqlite3.OperationalError):
            return any(word in str(error).lower() for word in _SQLITE_OUTAGES)
        if isinstance(error, _outages()):
            return True
        if isinstance(error, exc.DBAPIError) and error.orig is not None:
            error = error.orig
            continue
        error = error.__cause__ or error.__context__
    return False


def _outages() -> tuple[type[BaseException], ...]:
    found: tuple[type[BaseException], ...] = (
        exc.InterfaceError,
        exc.TimeoutError,  # the pool had no connection to give
        ConnectionError,
    )
    # psycopg is not imported on SQLite (it costs ~0.1 s at start-up); an error can only
    # be one of its own once something has imported it.
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        found += (psycopg.OperationalError, psycopg.InterfaceError)
    return found
