"""`yishi demo --web`: the demo, then the console serving its data until Ctrl+C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import httpx

from bot.telegram.local import free_port


def test_demo_web_serves_the_console_and_a_household_page_until_ctrl_c() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo", "--web", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 240
    try:
        for line in process.stdout:
            lines.append(line)
            if "Press Ctrl+C to stop." in line or time.monotonic() > deadline:
                break
        text = "".join(lines)
        assert "Press Ctrl+C to stop." in text, text[-3000:]
        base = f"http://127.0.0.1:{port}"
        console = re.search(r"Staff console .*?: (\S+/login/\S+)", text)
        household = re.search(r"(http://\S+/k/\S+)", text)
        assert console and household, text[-2000:]
        with httpx.Client(base_url=base, timeout=15) as chair:
            path = console.group(1).removeprefix(base)
            shown = chair.get(path)
            token = re.search(r'name="form_token" value="(\w+)"', shown.text)
            assert token, shown.text
            signed = chair.post(
                path, data={"form_token": token.group(1)}, headers={"origin": base}
            )
            assert signed.status_code == 303
            home = chair.get("/console")
            assert home.status_code == 200 and "杨家园社区小院议事会" in home.text
        with httpx.Client(base_url=base, timeout=15) as grandma:
            path = household.group(1).removeprefix(base)
            token = re.search(r'name="form_token" value="(\w+)"', grandma.get(path).text)
            assert token
            signed = grandma.post(
                path, data={"form_token": token.group(1)}, headers={"origin": base}
            )
            assert signed.status_code == 303
            assert "王奶奶" in grandma.get("/r").text
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0
