"""`yishi run` loads only what it needs, and the shortcuts that let it do so stay right.

The start-up skips Alembic when the database is at head: the head is read from the
revision files and the database's revision by one query. A wrong "at head" would skip
a migration, so both are checked against Alembic's own answers, on shapes of revision
history the project has not had yet (a new revision, a branch, a merge), and a database
one revision behind must still be migrated. Then `yishi run` itself, as a process, must
reach Telegram without importing what a polling bot on SQLite does not use.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from emulator import BotApiEmulator
from storage import migrate
from storage.db import create_engine, sqlite_path

PROJECT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:TEST-yishi-emulator-token"


# --- the head, from the files -------------------------------------------------------------


def alembic_head_of(versions: Path) -> str | None:
    """Alembic's head for a copy of our migrations with ``versions`` as their versions;
    None when Alembic sees several heads."""
    script_location = versions.parent
    for name in ("env.py", "script.py.mako"):
        shutil.copy(migrate.MIGRATIONS / name, script_location / name)
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("path_separator", "os")
    heads = ScriptDirectory.from_config(config).get_heads()
    return heads[0] if len(heads) == 1 else None


def revision_file(
    versions: Path, name: str, revision: str, down: str | tuple[str, ...] | None, **extra: str
) -> None:
    lines = [
        f'"""{name}"""',
        f"revision: str = {revision!r}",
        f"down_revision = {down!r}",
        *(f"{key} = {value}" for key, value in extra.items()),
        "def upgrade() -> None: ...",
        "def downgrade() -> None: ...",
    ]
    (versions / f"{name}.py").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def versions(tmp_path: Path) -> Path:
    """A copy of the shipped revision files, in a scratch migrations folder."""
    target = tmp_path / "migrations" / "versions"
    shutil.copytree(migrate.VERSIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_the_head_read_from_the_files_is_alembics() -> None:
    assert migrate.linear_head(migrate.VERSIONS) is not None, "the shipped chain is linear"
    assert migrate.head() == migrate.alembic_head()


def test_a_new_revision_file_moves_the_head(versions: Path) -> None:
    old = migrate.linear_head(versions)
    assert old is not None
    revision_file(versions, "9999_next", "9999", old)
    assert migrate.linear_head(versions) == "9999" == alembic_head_of(versions)


@pytest.mark.parametrize(
    "shape",
    [
        "branch",
        "merge",
        "computed",
        "branch label",
        "depends on",
        "duplicate",
        "unparsable",
        "reassigned below",
        "assigned in a block",
        "unpacked",
    ],
)
def test_any_other_history_is_left_to_alembic(versions: Path, shape: str) -> None:
    old = migrate.linear_head(versions)
    assert old is not None
    if shape == "branch":  # two children of the head: two heads
        revision_file(versions, "a_one", "a1", old)
        revision_file(versions, "b_two", "b2", old)
    elif shape == "merge":
        revision_file(versions, "a_one", "a1", old)
        revision_file(versions, "b_two", "b2", old)
        revision_file(versions, "c_merge", "c3", ("a1", "b2"))
    elif shape == "computed":
        (versions / "x_next.py").write_text(
            f'revision = "9" + "999"\ndown_revision = {old!r}\n', encoding="utf-8"
        )
    elif shape == "branch label":
        revision_file(versions, "a_one", "a1", old, branch_labels="('side',)")
    elif shape == "depends on":
        revision_file(versions, "a_one", "a1", old, depends_on="'0001'")
    elif shape == "duplicate":
        (versions / "x_next.py").write_text(
            f'revision = "a1"\nrevision = "a2"\ndown_revision = {old!r}\n', encoding="utf-8"
        )
    elif shape == "reassigned below":  # after the code begins: Alembic would see "a2"
        revision_file(versions, "a_one", "a1", old)
        with (versions / "a_one.py").open("a", encoding="utf-8") as file:
            file.write('if True:\n    revision = "a2"\n')
    elif shape == "assigned in a block":
        (versions / "x_next.py").write_text(
            f'down_revision = {old!r}\ntry:\n    revision = "a1"\nexcept Exception:\n    pass\n',
            encoding="utf-8",
        )
    elif shape == "unpacked":
        (versions / "x_next.py").write_text(
            f'revision, down_revision = "a1", {old!r}\n', encoding="utf-8"
        )
    else:
        (versions / "x_next.py").write_text("revision = (\n", encoding="utf-8")
    assert migrate.linear_head(versions) is None


def test_files_alembic_does_not_read_are_not_read(versions: Path) -> None:
    old = migrate.linear_head(versions)
    (versions / ".#0007_lock.py").write_text("not python", encoding="utf-8")
    (versions / "notes.txt").write_text('revision = "zzz"', encoding="utf-8")
    assert migrate.linear_head(versions) == old == alembic_head_of(versions)


# --- the database's revision, by one query ------------------------------------------------


def alembics_current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def both_answers(url: str) -> tuple[str | None, str | None]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            alembics = await connection.run_sync(alembics_current)
    finally:
        await engine.dispose()
    return alembics, await migrate.current(url)


async def test_current_answers_as_alembic_does(database_url: str) -> None:
    assert await both_answers(database_url) == (None, None)  # no version table
    revisions = [s.revision for s in reversed(list(_script().walk_revisions()))]
    for revision in revisions:
        await migrate.upgrade(database_url, revision)
        assert await both_answers(database_url) == (revision, revision)
    await migrate.downgrade(database_url, "base")  # the table stays, empty
    assert await both_answers(database_url) == (None, None)


async def test_current_leaves_two_heads_to_alembic_which_refuses_them(sqlite_url: str) -> None:
    await migrate.upgrade(sqlite_url)
    path = sqlite_path(sqlite_url)
    assert path is not None
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO alembic_version (version_num) VALUES ('other')")
    with pytest.raises(CommandError, match="more than one head"):
        await migrate.current(sqlite_url)


async def test_asking_a_missing_sqlite_file_does_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "none.sqlite3"
    assert await migrate.current(f"sqlite:///{path}") is None
    assert not path.exists()


async def test_a_database_one_revision_behind_is_migrated(database_url: str) -> None:
    behind = _script().get_revision(migrate.head()).down_revision
    assert isinstance(behind, str)
    await migrate.upgrade(database_url, behind)
    assert await migrate.current(database_url) == behind
    await migrate.upgrade(database_url)
    assert await migrate.current(database_url) == migrate.head()


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(migrate.alembic_config())


# --- yishi run, as a process ----------------------------------------------------------------

# Not needed by `yishi run` polling on SQLite at head: the other sub-commands, the
# migration machinery, the webhook server, the PostgreSQL driver and dialect, the
# calendar files, the printed cards, the emulator.
NOT_IMPORTED = (
    "alembic",
    "bot.cli.backup",
    "bot.cli.demo",
    "bot.cli.tally",
    "bot.cli.cards",
    "fpdf",  # the binding cards' PDF, QR codes and font: only when cards are made
    "segno",
    "fontTools",
    "openpyxl",  # the roll file's XLSX: only when one is read or written
    "aiohttp",
    "bot.telegram.webhook",
    "sqlalchemy.dialects.postgresql",
    "psycopg",
    "icalendar",
    "bot.reports.ics",
    "emulator",
)


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(TOKEN) as emu:
        yield emu


# `python -m bot.cli run`, printing ``sys.modules`` when it exits (``-X importtime`` would
# not do: it does not see modules imported through importlib, as the sub-commands are).
RUN_AND_LIST_MODULES = """\
import atexit, runpy, sys
atexit.register(lambda: sys.stderr.write("".join(f"MODULE {m}\\n" for m in sys.modules)))
sys.argv = ["yishi", "run"]
runpy.run_module("bot.cli", run_name="__main__", alter_sys=True)
"""


async def imported_by_yishi_run(emulator: BotApiEmulator, url: str, cwd: Path) -> set[str]:
    """The modules a `yishi run` process imported by the time it stopped (after it
    polled once and was sent SIGTERM)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YISHI_")}
    env.update(
        YISHI_TELEGRAM_TOKEN=TOKEN,
        YISHI_TELEGRAM_BASE_URL=emulator.base_url,
        YISHI_DATABASE_URL=url,
        PYTHONPATH=str(PROJECT),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", RUN_AND_LIST_MODULES,
        cwd=cwd, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    errors = asyncio.create_task(proc.stderr.read())
    try:
        deadline = time.monotonic() + 30
        while emulator.stats.calls["getUpdates"] == 0:
            assert proc.returncode is None, (await errors).decode()[-3000:]
            assert time.monotonic() < deadline, "yishi run never polled"
            await asyncio.sleep(0.05)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 20)
    stderr = (await errors).decode()
    assert proc.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    return {line.split()[1] for line in stderr.splitlines() if line.startswith("MODULE ")}


async def test_yishi_run_at_head_imports_only_what_it_uses(
    emulator: BotApiEmulator, sqlite_head_url: str, tmp_path: Path
) -> None:
    modules = await imported_by_yishi_run(emulator, sqlite_head_url, tmp_path)
    assert {"bot.cli.run", "bot.telegram.app", "storage.migrate"} <= modules  # it did list
    loaded = sorted(
        name
        for name in modules
        for unwanted in NOT_IMPORTED
        if name == unwanted or name.startswith(unwanted + ".")
    )
    assert loaded == []


async def test_yishi_run_on_a_new_database_migrates_it(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    modules = await imported_by_yishi_run(emulator, url, tmp_path)
    assert "alembic" in modules
    assert await migrate.current(url) == migrate.head()
