"""Scaffolding shared by the benchmarks in this directory (votes, scheduler, dispatch, …).

Imported as ``common`` (the scripts run as ``python bench/x.py``, so ``bench/`` is on
``sys.path``). Kept light on purpose: the scheduler benchmark measures the peak RSS of
child processes that import it, so nothing of the bot is imported here (the emulator as
a process of its own is in ``remote.py``, which imports aiohttp).

Every benchmark states its targets with :class:`Target` and prints them with
:func:`print_targets` (PASS/FAIL lines; exit status 1 when a correctness target failed),
and has ``--quick``, which ``.ci/run`` runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import storage  # noqa: F401  (installed: pip install -e .)
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.engine import make_url

from storage.db import libpq_url, scratch_schema

TEST_DATABASE_URL = "TEST_DATABASE_URL"
DATABASES = ["sqlite", "postgresql", "all"]


def log(text: str) -> None:
    """A progress line on stderr."""
    print(text, file=sys.stderr, flush=True)


# --- figures ---------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Series:
    """The runs of one series ("bare", "sqlite", "postgresql", …), each a dataclass."""

    name: str
    runs: list[Any] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return float(statistics.median(getattr(r, attribute) for r in self.runs))

    def total(self, attribute: str) -> int:
        return sum(int(getattr(r, attribute)) for r in self.runs)


# --- databases -------------------------------------------------------------------------


def add_database_args(parser: argparse.ArgumentParser, *, runs_on: str = "the bot") -> None:
    """``--database`` and ``--postgresql-url``."""
    parser.add_argument(
        "--database",
        choices=DATABASES,
        default="all",
        help=f"which database(s) to run {runs_on} on (default all)",
    )
    parser.add_argument(
        "--postgresql-url",
        default=None,
        help=f"PostgreSQL to use (default ${TEST_DATABASE_URL}); a schema is created per run",
    )


def postgres_base(url: str | None) -> tuple[str | None, str]:
    """The PostgreSQL URL to use, or None with the reason it cannot be used."""
    url = url or os.environ.get(TEST_DATABASE_URL)
    if not url:
        return None, f"PostgreSQL skipped: neither --postgresql-url nor {TEST_DATABASE_URL} is set"
    import psycopg

    try:
        with psycopg.connect(libpq_url(url), connect_timeout=5) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        shown = make_url(url).render_as_string(hide_password=True)
        return None, f"PostgreSQL skipped: {shown} is unreachable: {error}".strip()
    return url, ""


def databases(
    args: argparse.Namespace, progress: Callable[[str], None] = log
) -> tuple[list[str], str | None, list[str]]:
    """The kinds of database to run on, the PostgreSQL URL (or None) and notes on what
    was skipped (each also sent to ``progress``), from ``--database`` and
    ``--postgresql-url``."""
    kinds = ["sqlite", "postgresql"] if args.database == "all" else [args.database]
    notes: list[str] = []
    postgres_url: str | None = None
    if "postgresql" in kinds:
        postgres_url, why = postgres_base(args.postgresql_url)
        if postgres_url is None:
            notes.append(why)
            progress(why)
            kinds.remove("postgresql")
    return kinds, postgres_url, notes


@contextmanager
def fresh_database(kind: str, postgres_url: str | None) -> Iterator[str]:
    """A URL to an empty database: a temporary SQLite file, or a new PostgreSQL schema."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="yishi-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        return
    assert postgres_url is not None
    with scratch_schema(postgres_url, prefix="bench") as url:
        yield url


# --- targets -----------------------------------------------------------------------------


@dataclass
class Target:
    """One target a benchmark states. A failed ``correctness`` target (a vote lost, an
    offer doubled …) makes the exit status 1; a speed target is reported only, because
    timings swing with the machine's load."""

    text: str
    ok: bool
    detail: str = ""
    correctness: bool = True

    def line(self) -> str:
        kind = "correctness" if self.correctness else "reported"
        detail = f" — {self.detail}" if self.detail else ""
        return f"{'PASS' if self.ok else 'FAIL'}  [{kind}] {self.text}{detail}"


def print_targets(targets: Sequence[Target], file: Any = None) -> int:
    """Print one PASS/FAIL line per target; the exit status: 1 when a correctness target
    failed, else 0."""
    out = file if file is not None else sys.stdout
    print("targets:", file=out)
    for target in targets:
        print(f"  {target.line()}", file=out, flush=True)
    return 1 if any(t.correctness and not t.ok for t in targets) else 0


def targets_json(targets: Sequence[Target]) -> list[dict[str, Any]]:
    return [
        {"target": t.text, "ok": t.ok, "detail": t.detail, "correctness": t.correctness}
        for t in targets
    ]
