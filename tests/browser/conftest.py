"""Real Chromium (the Debian package) driven by Playwright's sync API against a live server.

Playwright never downloads a browser here: it launches /usr/bin/chromium. Without it the tests
skip locally and fail under CI=true (tests.services.need).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live import LiveServer, live_server  # noqa: F401 - fixture
from tests.services import need

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# From npm (socket.io-client), copied at set-up by scripts/copy_assets.py; never committed.
SOCKET_IO_CLIENT = ROOT / "app" / "static" / "vendor" / "socket.io.min.js"
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        need(f"chromium not found at {CHROMIUM} (apt-get install chromium chromium-driver)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - it is in requirements-dev.txt
        need("playwright (Python package) not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Any]:  # noqa: F811
    """A fresh browser context (no cookies) on the live server, Indonesian first like most users."""
    context = browser.new_context(
        base_url=live_server.url, locale="id-ID", viewport={"width": 1200, "height": 800}
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Every page runs under the Content-Security-Policy: anything it refuses fails the test.
    page.on("console", lambda msg: _csp_violation(msg, errors))
    try:
        yield page
    finally:
        context.close()
    assert errors == [], f"JavaScript errors or CSP violations on the page: {errors}"


def _csp_violation(message: Any, errors: list[str]) -> None:
    if "Content Security Policy" in message.text:
        errors.append(message.text)


def watch_csp(page: Any) -> list[str]:
    """For pages opened in other contexts than the ``page`` fixture: collect CSP refusals."""
    refused: list[str] = []
    page.on("console", lambda msg: _csp_violation(msg, refused))
    return refused


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (re.sub(r"[^A-Za-z0-9_.-]+", "-", name) + ".png")
    page.screenshot(path=str(path), full_page=True)
    return path
