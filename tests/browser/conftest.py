"""Browser tests: Playwright drives Debian's Chromium against the running product (uvicorn + Celery
worker + GOWA simulator, the process stack of tests/e2e) on the test database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.conftest import BASE_DIR, Stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = BASE_DIR / "var" / "test-output" / "screenshots"


@pytest.fixture(scope="module")
def browser_stack(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    stack = Stack(tmp_path_factory.mktemp("browser-stack"))
    # The web process runs with DEBUG off, so it serves collected static files (as in production).
    static_root = tmp_path_factory.mktemp("static")
    stack.env["STATIC_ROOT"] = str(static_root)
    stack.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env=stack.env,
        check=True,
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def live(browser_stack: Stack, transactional_db: None, request: pytest.FixtureRequest) -> Iterator[Stack]:
    browser_stack.sim.control("POST", "/_sim/reset")
    yield browser_stack
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        print(browser_stack.logs())
    browser_stack.wait_until_idle()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (make test does)")
    # Playwright's sync API keeps an event loop in this thread while it is open; the tests' own ORM
    # calls (and the database flush after each test) are plain blocking calls between page actions,
    # which Django refuses in a thread with a loop unless told otherwise. Only for this module.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser: Browser, live: Stack, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(base_url=live.web_url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w-]+", "_", request.node.name)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    context.close()
