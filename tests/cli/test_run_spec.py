"""`yishi run` as a process: refusals at start are quick, clear and carry the right exit code.

Each runs ``python -m bot.cli run`` in an empty directory (so no developer's ``.env`` is
read), configured only through the environment, against the local Bot API emulator.
Every process is bounded in time and killed if it outlives its bound.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from emulator import BotApiEmulator
from storage.db import DatabaseInUse, exclusive

PROJECT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:TEST-yishi-emulator-token"
BOUND = 20.0  # seconds a refused start may take at most, interpreter start-up included


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(TOKEN) as emu:
        yield emu


def environment(emulator: BotApiEmulator, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YISHI_")}
    env.update(
        YISHI_TELEGRAM_TOKEN=TOKEN,
        YISHI_TELEGRAM_BASE_URL=emulator.base_url,
        YISHI_DATABASE_URL=database_url,
        PYTHONPATH=str(PROJECT),
        PYTHONUNBUFFERED="1",
    )
    return env


async def run(
    args: list[str], env: dict[str, str], cwd: Path, bound: float = BOUND
) -> tuple[int, str, str, float]:
    """Run ``yishi`` with ``args``; (exit code, stdout, stderr, seconds taken)."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), bound)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        pytest.fail(
            f"`yishi {' '.join(args)}` still running after {bound}s\n"
            f"stdout: {out.decode()[-2000:]}\nstderr: {err.decode()[-2000:]}"
        )
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode(), time.monotonic() - started


async def test_run_on_a_sqlite_file_held_by_another_bot_exits_1_with_a_clear_message(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    database = tmp_path / "yishi.sqlite3"
    url = f"sqlite:///{database}"
    workdir = tmp_path / "work"
    workdir.mkdir()
    with exclusive(url):  # as a running `yishi run` holds it
        code, out, err, took = await run(["run"], environment(emulator, url), workdir)
    assert code == 1, (code, out, err)
    assert "in use" in err, err
    assert str(database) in err or database.name in err, err
    assert "postgres" in err.lower(), err
    assert "Traceback" not in err, err  # a message, not a crash
    assert took < 10, took  # no waiting and retrying for a lock that is held
    # The second bot never polled Telegram (that would take updates from the first).
    assert emulator.stats.calls["getUpdates"] == 0, emulator.stats.calls


async def test_run_webhook_without_its_url_exits_2_saying_what_to_set(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'yishi.sqlite3'}"
    workdir = tmp_path / "work"
    workdir.mkdir()
    code, out, err, _ = await run(["run", "--webhook"], environment(emulator, url), workdir)
    assert code == 2, (code, out, err)
    assert "YISHI_WEBHOOK_URL" in err, err
    assert "Traceback" not in err, err
    assert emulator.stats.calls["getUpdates"] == 0, emulator.stats.calls  # did not poll instead


async def test_once_the_holder_lets_go_run_starts_and_holds_the_file_itself(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'yishi.sqlite3'}"
    workdir = tmp_path / "work"
    workdir.mkdir()
    with exclusive(url):
        pass  # a bot ran and stopped
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run",
        cwd=workdir, env=environment(emulator, url),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + BOUND
        while emulator.stats.calls["getUpdates"] == 0:
            assert proc.returncode is None, (await proc.communicate())[1].decode()
            assert time.monotonic() < deadline, "the bot never polled"
            await asyncio.sleep(0.1)
        # Now it is the one holding the file: another start here is refused.
        with pytest.raises(DatabaseInUse) as refused, exclusive(url):
            pass
        assert str(proc.pid) in str(refused.value) or "in use" in str(refused.value)
    finally:
        if proc.returncode is None:
            proc.terminate()
        try:
            _, err = await asyncio.wait_for(proc.communicate(), 15)
        except TimeoutError:
            proc.kill()
            await proc.communicate()
            pytest.fail("`yishi run` did not stop within 15 s of SIGTERM")
    assert "Traceback" not in err.decode(), err.decode()
