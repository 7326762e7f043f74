"""`yishi backup` and `yishi restore`: a round trip keeps every row, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from storage import migrate
from storage.db import exclusive
from tests.storage.migration_data import Snapshot, snapshot
from tests.storage.test_migrations import REVISIONS, _sync, build


@pytest.fixture
def settings_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI reads the database from the environment, as on a real machine."""
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("YISHI_DATABASE_URL", database_url)
    return database_url


async def test_a_backup_restores_every_row(
    settings_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = settings_env
    before = await build(url, REVISIONS[-1])  # real rows in every table
    target = tmp_path / "backups" / "yishi.backup"

    assert main(["backup", str(target)]) == 0
    assert target.is_file() and not target.with_name("yishi.backup.partial").exists()
    assert "backed up to" in capsys.readouterr().out

    # The council's data is lost...
    await migrate.downgrade(url, "base")
    assert await migrate.current(url) is None
    # ... and comes back whole.
    assert main(["restore", "--yes", str(target)]) == 0
    assert await migrate.current(url) == migrate.head()
    after: Snapshot = await _sync(url, snapshot)
    assert after == before


async def test_restore_is_refused_while_a_bot_holds_the_sqlite_file(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("YISHI_DATABASE_URL", sqlite_url)
    before = await build(sqlite_url, REVISIONS[-1])
    target = tmp_path / "yishi.backup"
    assert main(["backup", str(target)]) == 0
    with exclusive(sqlite_url):  # as `yishi run` does
        assert main(["restore", "--yes", str(target)]) == 2
    err = capsys.readouterr().err
    assert "in use by process" in err and "stop the bot before restoring" in err
    assert await _sync(sqlite_url, snapshot) == before


def test_bad_backups_are_refused_with_a_reason(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("YISHI_DATABASE_URL", sqlite_url)
    assert main(["backup", str(tmp_path / "x.backup")]) == 2
    assert "there is no database" in capsys.readouterr().err
    assert main(["restore", "--yes", str(tmp_path / "missing.backup")]) == 2
    assert "there is no backup" in capsys.readouterr().err
    junk = tmp_path / "junk.backup"
    junk.write_text("not a database")
    assert main(["restore", "--yes", str(junk)]) == 2
    assert "not a Yishi backup" in capsys.readouterr().err


def test_restore_asks_first(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("YISHI_DATABASE_URL", sqlite_url)
    monkeypatch.setattr("builtins.input", lambda _prompt: "n")
    assert main(["restore", str(tmp_path / "any.backup")]) == 1
    assert "nothing changed" in capsys.readouterr().out
