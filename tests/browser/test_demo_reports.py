"""The supervisor pages on the demo's call history, in real Chromium (screenshots to look at)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from playwright.sync_api import expect

from app.demo import seed
from tests.browser.conftest import screenshot
from tests.browser.test_supervision import _sign_in
from tests.live import staff_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOW = datetime(2026, 3, 4, 7, 30, tzinfo=UTC)  # 14:30 in Jakarta, a Wednesday


def test_reports_and_wallboard_show_the_demo_history(page: Any, live_server, app, tmp_path):
    app.config["DEMO_LOGINS_FILE"] = str(tmp_path / "logins.json")
    # The clock moves before anything is signed (sign-in, CSRF) and keeps ticking from there.
    with time_machine.travel(NOW, tick=True):
        seed(members=60, history_days=14, now=NOW)
        supervisor = staff_user("supervisor", name="Ratna Supervisor")
        page.set_viewport_size({"width": 1366, "height": 900})
        _sign_in(page, supervisor.email)

        page.goto("/supervisor/wallboard")
        expect(page.locator('[data-field="waiting"]')).to_have_text("0")
        offered = page.locator('[data-field="offered"]')
        expect(offered).to_have_text(re.compile(r"^[1-9]\d*$"))
        screenshot(page, "demo-wallboard")

        page.goto("/supervisor/reports/calls?start=2026-02-18&end=2026-03-04&interval=day&by=queue")
        expect(page.locator("svg.chart").first).to_be_visible()
        expect(page.locator("#totals")).to_contain_text("Bahasa Indonesia")
        screenshot(page, "demo-reports-calls")
        page.goto("/supervisor/reports/agents?start=2026-02-18&end=2026-03-04")
        expect(page.locator("table").first).to_contain_text("Rina Agen")
        screenshot(page, "demo-reports-agents")
        page.goto("/supervisor/reports/staffing")
        expect(page.locator("#staffing")).to_be_visible()
        screenshot(page, "demo-reports-staffing")
        # A phone: wide tables scroll inside their card, the page itself does not.
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto("/supervisor/reports/calls?start=2026-02-18&end=2026-03-04&interval=day&by=queue")
        # (The staff navigation bar above the page is not the report's: it is not measured.)
        wide = page.evaluate(
            "[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > 391"
            " && !e.closest('.table-scroll')).map(e => e.tagName + '.' + e.className).slice(0, 8)"
        )
        assert wide == []
        assert page.evaluate("document.querySelector('#intervals').scrollWidth") > 390  # it does scroll
        screenshot(page, "demo-reports-calls-phone")
