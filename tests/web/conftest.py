"""The web beside the real bot on the emulator, HTTP clients and a real browser.

Browser tests drive Debian's Chromium (``/usr/bin/chromium``; ``.ci/run`` installs the
``chromium`` package when missing) with the Python ``playwright`` package; where no
browser can be had they skip, saying why. On a failure, each open page's screenshot is
saved under ``test-output/web/<test name>/`` (and the path printed).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.telegram.local import LocalBot, local_bot
from bot.web.init_data import sign

CHROMIUM = os.environ.get("YISHI_CHROMIUM", "/usr/bin/chromium")
OUTPUT = Path(os.environ.get("YISHI_TEST_OUTPUT", "test-output")) / "web"
PHONE = {"width": 375, "height": 812}
# The README's pictures are taken by tests: YISHI_SCREENSHOTS=docs/screenshots pytest
# tests/web -k "phone or console_home" refreshes them; otherwise they go to test-output.
SCREENSHOTS = Path(os.environ.get("YISHI_SCREENSHOTS", str(OUTPUT / "screenshots")))


@pytest.fixture
async def web_local(migrated_url: str) -> AsyncIterator[LocalBot]:
    """The real bot on the emulator with the web beside it (SQLite, then PostgreSQL)."""
    async with local_bot(migrated_url, web=True) as running:
        yield running


@pytest.fixture
async def http(web_local: LocalBot) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the web (keeps cookies, follows no redirect by itself)."""
    assert web_local.web_url is not None
    async with httpx.AsyncClient(base_url=web_local.web_url, timeout=15) as client:
        yield client


def same_origin(local: LocalBot) -> dict[str, str]:
    """The Origin header a browser sends with a POST from one of the web's pages."""
    assert local.web_url is not None
    return {"origin": local.web_url}


def init_data(
    token: str, user_id: int, *, auth_date: int, start: str | None = None, **extra: str
) -> str:
    """``initData`` as Telegram would sign it for ``user_id`` (tests forge by changing it)."""
    from urllib.parse import urlencode

    fields = {
        "auth_date": str(auth_date),
        "query_id": "AAH-test",
        "user": f'{{"id":{user_id},"first_name":"测试","language_code":"zh-hans"}}',
        **extra,
    }
    if start is not None:
        fields["start_param"] = start
    fields["hash"] = sign(fields, token)
    return urlencode(fields)


# --- a real browser ------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keeps each phase's report on the test, so ``pages`` knows whether it failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _browser_missing() -> str | None:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    missing = _browser_missing()
    if missing:
        pytest.skip(f"browser tests need a browser: {missing}")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def pages(browser: Any, request: pytest.FixtureRequest) -> AsyncIterator[list[Any]]:
    """Pages the test opens (append them); screenshots of each on failure."""
    opened: list[Any] = []
    yield opened
    failed = any(
        getattr(getattr(request.node, f"report_{when}", None), "failed", False)
        for when in ("setup", "call")
    )
    if failed:
        folder = OUTPUT / re.sub(r"[^\w.-]+", "_", request.node.name)
        folder.mkdir(parents=True, exist_ok=True)
        for number, page in enumerate(opened, start=1):
            if not page.is_closed():
                path = folder / f"page-{number}.png"
                await page.screenshot(path=str(path), full_page=True)
                print(f"screenshot of page {number} at {page.url}: {path}")


async def phone_page(browser: Any, pages: list[Any]) -> Any:
    """A new page on a 375 px wide phone, in its own browser context (its own cookies)."""
    context = await browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page = await context.new_page()
    pages.append(page)
    return page


async def desk_page(browser: Any, pages: list[Any]) -> Any:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    pages.append(page)
    return page
