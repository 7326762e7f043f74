"""The scheduling tests at four times of day: after midnight, morning, afternoon and
the last minute of a day, Asia/Shanghai. A test that reads the wall clock once made
the suite red from 00:00 to 16:30; this runs them where such a test would fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TIMES = ("00:30", "08:00", "16:00", "23:59")


@pytest.mark.skipif(
    "YISHI_TEST_CLOCK" in os.environ, reason="already running at a chosen time of day"
)
def test_the_scheduling_tests_pass_at_any_time_of_day() -> None:
    # On SQLite only: the hour matters to the schedule, not to the database. The four
    # runs mostly wait for the scheduler, so they run side by side.
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    runs = {
        at: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-x",
                "-k",
                "not postgresql",
                "tests/bot/test_scheduling.py",
            ],
            cwd=REPO,
            env={**env, "YISHI_TEST_CLOCK": at},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for at in TIMES
    }
    failed = {}
    for at, run in runs.items():
        output, _ = run.communicate(timeout=280)
        if run.returncode != 0:
            failed[at] = output[-3000:]
        else:
            assert " passed" in output and "skipped" not in output.splitlines()[-1], output
    assert not failed, "\n".join(f"--- at {at} Asia/Shanghai:\n{out}" for at, out in failed.items())
