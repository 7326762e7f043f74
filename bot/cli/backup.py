"""`yishi backup PATH` and `yishi restore PATH`: a council's data, kept somewhere else.

SQLite: SQLite's online backup API copies a consistent snapshot while the bot
keeps running (readers and the writer are not stopped). Restoring replaces the
database file the same way, and is refused while a bot process holds the file
(``storage.db.exclusive``). PostgreSQL: ``pg_dump`` (custom format) and
``pg_restore --clean``; only the schema the URL names (``search_path``) when it
names one. APScheduler's job store is not backed up: every start rebuilds it
from the council's state.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from bot.config import Settings

PG_MISSING = """\
{tool} was not found. Install PostgreSQL's client tools (Debian: apt-get install
postgresql-client), or back up with your own tools, for example:

    pg_dump --format=custom --file=yishi.dump "$YISHI_DATABASE_URL"
    pg_restore --clean --if-exists --no-owner --dbname="$YISHI_DATABASE_URL" yishi.dump
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = sub.add_parser("backup", help="copy the database to PATH (the bot may keep running)")
    backup.add_argument("path", type=Path, help="the backup file to write")
    backup.set_defaults(handler=run_backup)
    restore = sub.add_parser("restore", help="replace the database with the backup at PATH")
    restore.add_argument("path", type=Path, help="a file written by `yishi backup`")
    restore.add_argument(
        "--yes", action="store_true", help="do not ask before replacing the database"
    )
    restore.set_defaults(handler=run_restore)


def run_backup(args: argparse.Namespace) -> int:
    url = Settings().database_url
    try:
        rows = backup(url, args.path)
    except BackupError as error:
        print(f"yishi backup: {error}", file=sys.stderr)
        return 2
    print(f"backed up to {args.path}" + (f" ({rows} rows)" if rows is not None else ""))
    return 0


def run_restore(args: argparse.Namespace) -> int:
    url = Settings().database_url
    if not args.yes:
        answer = input(f"Replace the database at {_safe(url)} with {args.path}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing changed")
            return 1
    try:
        restore(url, args.path)
    except BackupError as error:
        print(f"yishi restore: {error}", file=sys.stderr)
        return 2
    print(f"restored {args.path}; the bot migrates it to this version when it starts")
    return 0


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why."""


def backup(url: str, path: Path) -> int | None:
    """Write a backup of the database at ``url`` to ``path``; the rows copied (SQLite)."""
    from storage.db import sqlite_path

    database = sqlite_path(url)
    if database is None:
        _pg_dump(url, path)
        return None
    if not database.exists():
        raise BackupError(f"there is no database at {database}")
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _connect(database) as source, _connect(partial) as target:
        source.backup(target)
        rows = _count_rows(target)
    os.replace(partial, path)  # a half-written backup never takes the name
    return rows


def restore(url: str, path: Path) -> None:
    """Replace the database at ``url`` with the backup at ``path``."""
    from storage.db import DatabaseInUse, exclusive, sqlite_path

    if not path.is_file():
        raise BackupError(f"there is no backup at {path}")
    database = sqlite_path(url)
    if database is None:
        _pg_restore(url, path)
        return
    with _connect(path) as source:
        _check_backup(source, path)
        try:
            with exclusive(url):
                database.parent.mkdir(parents=True, exist_ok=True)
                with _connect(database) as target:
                    source.backup(target)
                # The job store beside the database is rebuilt from the restored state.
                Path(f"{database}-jobs").unlink(missing_ok=True)
        except DatabaseInUse as error:
            raise BackupError(f"{error} (stop the bot before restoring)") from None


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=30)


def _check_backup(connection: sqlite3.Connection, path: Path) -> None:
    try:
        (status,) = connection.execute("PRAGMA integrity_check").fetchone()
        version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a Yishi backup: {error}") from None
    if status != "ok" or version is None:
        raise BackupError(f"{path} is not a sound Yishi backup ({status})")


def _count_rows(connection: sqlite3.Connection) -> int:
    tables = [
        name
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return sum(connection.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables)


def _schema(url: str) -> str | None:
    """The schema a URL's ``options=-csearch_path=…`` names (storage.db.with_search_path)."""
    from sqlalchemy.engine import make_url

    options = make_url(url).query.get("options")
    text = options if isinstance(options, str) else " ".join(options or ())
    for part in text.split():
        if part.startswith("-csearch_path="):
            return part.split("=", 1)[1].split(",")[0] or None
    return None


def _pg(tool: str, *arguments: str) -> None:
    found = shutil.which(tool)
    if found is None:
        raise BackupError(PG_MISSING.format(tool=tool))
    done = subprocess.run([found, *arguments], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.strip() or done.returncode}")


def _pg_dump(url: str, path: Path) -> None:
    from storage.db import libpq_url

    schema = _schema(url)
    partial = path.with_name(path.name + ".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    arguments = ["--format=custom", f"--file={partial}", "--no-owner"]
    if schema:
        arguments.append(f"--schema={schema}")
    _pg("pg_dump", *arguments, f"--dbname={libpq_url(url)}")
    os.replace(partial, path)


def _pg_restore(url: str, path: Path) -> None:
    from storage.db import libpq_url

    arguments = ["--clean", "--if-exists", "--no-owner", "--single-transaction"]
    schema = _schema(url)
    if schema:
        arguments.append(f"--schema={schema}")
    _pg("pg_restore", *arguments, f"--dbname={libpq_url(url)}", str(path))


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
