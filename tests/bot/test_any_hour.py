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
@pytest.mark.parametrize("at", TIMES)
def test_the_scheduling_tests_pass_at_any_time_of_day(at: str) -> None:
    # On SQLite only: the hour matters to the schedule, not to the database. One run
    # per time of day, so that parallel workers (pytest-xdist) share them out.
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",  # one process: the run is one of the suite's parallel items already
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
        timeout=280,
        check=False,
    )
    output = run.stdout
    assert run.returncode == 0, f"--- at {at} Asia/Shanghai:\n{output[-3000:]}"
    assert " passed" in output and "skipped" not in output.splitlines()[-1], output
