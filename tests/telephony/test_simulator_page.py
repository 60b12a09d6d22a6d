"""The simulator page in real Chromium: dial in and press keys through the real webhooks.

Playwright runs in its own thread: the browser tests' session-wide Playwright (tests/browser)
may already hold this thread's event loop, and the sync API refuses to nest.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from app.telephony.prompts import text
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, screenshot
from tests.live import PASSWORD, live_server, staff_user  # noqa: F401 - fixtures
from tests.services import need

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _in_browser(base_url: str, email: str) -> list[str]:
    from playwright.sync_api import expect, sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=base_url, locale="en-US")
            context.set_default_timeout(10_000)
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto("/login")
            page.fill("input[name=email]", email)
            page.fill("input[name=password]", PASSWORD)
            page.click("form:not(.inline) button[type=submit]")
            page.wait_for_url("**/staff/")
            page.goto("/telephony/simulator")
            page.click("#sim-dial button[type=submit]")
            leg = page.locator("#sim-legs .sim-leg").first
            expect(leg.locator(".sim-state")).to_have_text("gather")
            leg.locator(".sim-keys button", has_text="2").click()
            expect(leg.locator(".sim-heard")).to_contain_text(text("kpj_menu", "en"))
            screenshot(page, "telephony-simulator")
        finally:
            browser.close()
    return errors


def test_a_worker_dials_in_and_chooses_english(live_server: Any) -> None:  # noqa: F811
    if not os.access(CHROMIUM, os.X_OK):
        need(f"chromium not found at {CHROMIUM}")
    email = staff_user("agent", language="en").email  # read here: the thread has no app context
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["errors"] = _in_browser(live_server.url, email)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            outcome["exception"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(90)
    assert not thread.is_alive(), "the browser did not finish"
    if "exception" in outcome:
        raise outcome["exception"]
    assert outcome["errors"] == [], f"JavaScript errors on the page: {outcome['errors']}"
