"""The complaint form in real Chromium on a phone-sized screen: file, get a reference, follow it.

Playwright's sync API refuses to start while another instance runs in the same thread (the
``browser`` fixture of tests/browser stays alive for the session), so each scenario here runs
in its own thread with its own Playwright.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, screenshot
from tests.live import LiveServer, live_server  # noqa: F401 - fixture
from tests.services import need

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def on_a_phone(base_url: str, scenario: Callable[[Any], None]) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        need(f"chromium not found at {CHROMIUM} (apt-get install chromium)")
    failures: list[BaseException] = []

    def run() -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                try:
                    context = browser.new_context(
                        base_url=base_url, locale="en-US", viewport={"width": 390, "height": 844}
                    )
                    context.set_default_timeout(TIMEOUT_MS)
                    page = context.new_page()
                    errors: list[str] = []
                    page.on("pageerror", lambda exc: errors.append(str(exc)))
                    scenario(page)
                    assert errors == [], f"JavaScript errors on the page: {errors}"
                finally:
                    browser.close()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the browser scenario did not finish"
    if failures:
        raise failures[0]


def test_worker_files_a_complaint_and_follows_it_on_a_phone(live_server: LiveServer) -> None:  # noqa: F811
    from playwright.sync_api import expect

    def scenario(phone: Any) -> None:
        phone.goto("/")
        phone.click("a[href='/complaints/new']")
        phone.fill("#f-name", "Siti Aminah")
        phone.fill("#f-phone", "9123 4567")
        phone.select_option("#f-country", "HK")
        phone.select_option("#f-category", "claim_jkk")
        phone.fill("#f-description", "I fell at my employer's house and need treatment.")
        screenshot(phone, "complaint-form-phone")
        phone.click("form.card button[type=submit]")
        expect(phone.locator("#reference")).to_have_text(re.compile(r"^PMI-\d{4}-\d{6}$"))
        reference = phone.locator("#reference").inner_text()
        screenshot(phone, "complaint-done-phone")
        # No horizontal scrolling on a phone.
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        phone.goto(f"/complaints/track?reference={reference}")
        phone.fill("#f-verification", "+852 9123 4567")
        phone.click("form.card button[type=submit]")
        expect(phone.locator("h1")).to_contain_text(reference)
        expect(phone.locator("#status")).to_have_text("Received")
        screenshot(phone, "complaint-case-phone")

    on_a_phone(live_server.url, scenario)


def test_errors_are_shown_beside_their_fields(live_server: LiveServer) -> None:  # noqa: F811
    from playwright.sync_api import expect

    def scenario(phone: Any) -> None:
        phone.goto("/complaints/new")
        phone.fill("#f-phone", "12")
        phone.click("form.card button[type=submit]")
        expect(phone.locator("#e-name")).to_be_visible()
        expect(phone.locator("#e-phone")).to_contain_text("not a valid phone number")
        expect(phone.locator("#e-description")).to_be_visible()

    on_a_phone(live_server.url, scenario)
