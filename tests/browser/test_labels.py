"""Labels, not codes, in what JavaScript renders, and the worker's case on her own clock.

The agent console builds its queue and screen pop in the browser from the state JSON; the
vocabulary test of the server-rendered pages cannot see that text, so here Chromium renders it
(a known member with claims calls, the console rings) and the same checker reads the DOM.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from playwright.sync_api import expect

from app.agents import routing
from app.agents.routing import presence as presence_svc
from app.extensions import db
from app.tickets import services as tickets
from tests.browser.conftest import TIMEOUT_MS, screenshot
from tests.factories import make_claim, make_member
from tests.live import PASSWORD, staff_user
from tests.test_vocabulary import codes_shown, forbidden_codes

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _sign_in_to_console(page: Any, email: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form:not(.inline) button[type=submit]")
    expect(page).to_have_url(re.compile(r"/staff/$"))
    page.goto("/console/")
    expect(page.locator("#realtime-status")).to_have_attribute("data-state", "connected")


@pytest.mark.parametrize("language", ["id", "en"])
def test_the_console_queue_and_screen_pop_show_labels(page: Any, live_server, language: str) -> None:
    agent = staff_user("agent", name="Sri Wahyuni", language=language)
    presence_svc.set_skills(agent.id, languages=["id"])
    member = make_member(
        name="Siti Aminah",
        placement_country="SA",
        phase="PMI",
        membership_status="active",
        programs=["JKK", "JKM"],
    )
    make_claim(member, claim_number="CLM-2026-000321", program="JKK", benefit_type="transport", status="paid")
    ticket = tickets.open_ticket(
        channel="phone", category="claim_jkk", subject="Klaim JKK", member_id=member.id
    )
    db.session.commit()

    _sign_in_to_console(page, agent.email)
    page.select_option("#state-switcher", "available")
    page.click("#state-apply")
    expect(page.locator("#my-state")).to_have_attribute("data-state", "available")
    routing.enqueue(
        "call", 601, language="id", topic="claim_jkk", country="SA", member_id=member.id, ticket_id=ticket.id
    )
    routing.enqueue("call", 602, language="id", topic="emergency", country="HK")  # waits: shows in the queue
    db.session.commit()

    expect(page.locator("#offer")).to_be_visible()
    expect(page.locator("#screen-pop .member-name")).to_have_text("Siti Aminah")
    expect(page.locator("#queue tbody tr")).to_have_count(1)
    words = {
        "id": ("Arab Saudi", "Aktif", "Dibayar", "Biaya transportasi", "Status tiket", "Baru", "Darurat"),
        "en": ("Saudi Arabia", "Active", "Paid", "Transport costs", "Ticket status", "New", "Emergency"),
    }[language]
    pop = page.locator("#screen-pop")
    for word in words[:5]:
        expect(pop).to_contain_text(word)
    expect(page.locator("#pop-ticket")).to_contain_text(words[5])  # the ticket's status, labelled as one
    expect(page.locator("#queue tbody tr")).to_contain_text(words[6])  # priority 100, in words
    expect(page.locator("#queue tbody tr")).to_contain_text("Hong Kong")
    screenshot(page, f"labels-console-screen-pop-{language}")

    shown = codes_shown(page.content(), forbidden_codes(), words=language != "en")
    assert shown == [], f"codes shown as text on the console: {shown}"


def test_the_case_page_follows_the_workers_browser_clock(browser: Any, live_server) -> None:
    """Her browser says Asia/Riyadh: after the page tells the server once, times read in
    Saudi time, named, whatever the staff zone is."""
    context = browser.new_context(
        base_url=live_server.url,
        locale="id-ID",
        timezone_id="Asia/Riyadh",
        viewport={"width": 390, "height": 844},
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        with time_machine.travel(datetime(2026, 12, 2, 7, 5, tzinfo=UTC), tick=True):
            page.goto("/complaints/new")
            page.fill("#f-name", "Siti Aminah")
            page.fill("#f-phone", "+852 9123 4567")  # a Hong Kong number: the country would say HK
            page.select_option("#f-country", "HK")
            page.select_option("#f-category", "service_complaint")
            page.fill("#f-description", "Gaji saya belum dibayar tiga bulan.")
            page.click("main form button[type=submit]")
            page.click("text=Pantau pengaduan Anda")
            expect(page.locator("#complaint")).to_contain_text("Gaji saya belum dibayar tiga bulan.")
            expect(page.locator("#history time").first).to_contain_text("Waktu Arab Saudi")
            expect(page.locator("#history time").first).to_contain_text("2 Des 2026 10.05")
            page.fill("#f-message", "Apakah ada kabar?")
            page.click("text=Kirim balasan")
            expect(page.locator(".flash[role=status]")).to_contain_text("Balasan Anda sudah terkirim")
            expect(page.locator("#history")).to_contain_text("Apakah ada kabar?")
            screenshot(page, "labels-case-page-riyadh-clock")
    finally:
        context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"
