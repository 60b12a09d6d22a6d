"""Staff sign-in in a real browser: sign in, wrong password, language switch, sign out."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from app.core.realtime import emit_now
from tests.browser.conftest import SOCKET_IO_CLIENT, screenshot
from tests.live import PASSWORD, staff_user
from tests.services import need

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _sign_in(page: Any, email: str, password: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form:not(.inline) button[type=submit]")


def test_agent_signs_in_and_lands_on_staff_home(page: Any) -> None:
    agent = staff_user("agent", name="Sri Wahyuni")
    page.goto("/login")
    expect(page.locator("input[name=email]")).to_be_visible()
    screenshot(page, "login")

    _sign_in(page, agent.email, PASSWORD)

    expect(page).to_have_url(re.compile(r"/staff/$"))
    expect(page.locator("h1")).to_contain_text("Sri Wahyuni")
    expect(page.locator(".topbar .who")).to_contain_text("Sri Wahyuni")
    screenshot(page, "staff-home")


def test_wrong_password_shows_the_error_and_stays_on_login(page: Any) -> None:
    agent = staff_user("agent")

    _sign_in(page, agent.email, "not the password")

    expect(page.locator(".field.has-error [role=alert]")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("input[name=email]")).to_have_value(agent.email)
    expect(page.locator("input[name=password]")).to_have_value("")
    expect(page.locator(".topbar .who")).to_have_count(0)
    screenshot(page, "login-wrong-password")


def test_language_switch_toggles_indonesian_and_english(page: Any) -> None:
    agent = staff_user("agent", language="id")
    _sign_in(page, agent.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/staff/$"))
    html, switch = page.locator("html"), page.locator(".lang-switch")
    expect(html).to_have_attribute("lang", "id")
    expect(switch).to_have_text("English")

    switch.click()
    expect(html).to_have_attribute("lang", "en")
    expect(switch).to_have_text("Bahasa Indonesia")
    expect(page).to_have_url(re.compile(r"/staff/$"))  # the switch returns to the same page
    screenshot(page, "staff-home-english")

    switch.click()
    expect(html).to_have_attribute("lang", "id")
    expect(switch).to_have_text("English")


def test_sign_out_returns_to_login_and_closes_the_staff_pages(page: Any) -> None:
    agent = staff_user("agent")
    _sign_in(page, agent.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/staff/$"))

    page.click("form[action$='/logout'] button")

    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".flash")).to_be_visible()
    expect(page.locator(".topbar .who")).to_have_count(0)
    screenshot(page, "signed-out")
    page.goto("/staff/")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def _socket_io_client_installed() -> None:
    if not SOCKET_IO_CLIENT.exists():
        need(f"{SOCKET_IO_CLIENT} missing: npm ci && python scripts/copy_assets.py (run.py setup does both)")


def test_staff_home_connects_live_updates_and_resyncs_on_reconnect(page: Any) -> None:
    _socket_io_client_installed()
    agent = staff_user("agent")
    page.add_init_script(
        "window.__resyncs = 0; window.__events = [];"
        "document.addEventListener('halopmi:resync', () => { window.__resyncs += 1; });"
        "document.addEventListener('halopmi:ticket.assigned', (e) => { window.__events.push(e.detail); });"
    )
    _sign_in(page, agent.email, PASSWORD)
    status = page.locator("#realtime-status")
    expect(status).to_have_attribute("data-state", "connected")
    # The label comes from the template (translated), not from the script.
    expect(status).to_have_text(status.get_attribute("data-connected") or "(no label)")
    page.wait_for_function("() => window.__resyncs === 1")
    screenshot(page, "staff-home-live")

    # A server event for this user reaches the page as a DOM event.
    emit_now("ticket.assigned", {"ticket_id": 42}, room=f"user:{agent.id}")
    page.wait_for_function("() => window.__events.length === 1 && window.__events[0].ticket_id === 42")

    # Drop the transport: the client reconnects by itself and asks pages to re-fetch over HTTP.
    page.evaluate("window.halopmiRealtime.io.engine.close()")
    page.wait_for_function("() => window.__resyncs === 2")
    expect(status).to_have_attribute("data-state", "connected")
