"""SLA in Chromium: a supervisor reads compliance and breaches and drills into a ticket; an
administrator edits a calendar. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from app.core.time import utcnow
from app.extensions import db
from app.sla import services as sla
from app.sla.sweep import sweep
from app.tickets import services as tickets
from tests.browser.conftest import screenshot
from tests.live import PASSWORD, staff_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _sign_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form:not(.inline) button[type=submit]")
    expect(page).to_have_url(re.compile(r"/staff/$"))


def _seed() -> tuple[str, str]:
    sla.install_defaults()
    agent = staff_user("agent", name="Dewi Lestari")
    made = []
    for n, category in enumerate(["membership", "claim_jkm", "claim_jkk", "service_complaint", "emergency"] * 2):
        ticket = tickets.open_ticket(channel="portal", category=category, subject=f"Keluhan {n}", country="HK")
        if n % 3 == 0:
            tickets.assign(ticket, agent.id)
            tickets.reply(ticket, "Kami bantu.", actor_id=agent.id)
        made.append(ticket)
    db.session.commit()
    later = utcnow() + timedelta(days=4)
    while sweep(later).full:
        pass
    db.session.commit()
    breached = next(t for t in made if t.first_response_at is None)
    return breached.reference, (later.date() + timedelta(days=1)).isoformat()


def test_supervisor_reads_compliance_and_drills_into_a_breach(page: Any) -> None:
    reference, until = _seed()
    supervisor = staff_user("supervisor", name="Rina Supervisor", language="en")
    _sign_in(page, supervisor.email)
    page.click("nav.nav >> text=SLA reports")
    expect(page.locator("h1")).to_have_text("SLA compliance")
    expect(page.locator("#compliance tbody tr")).to_have_count(5)
    expect(page.locator("#report-totals")).to_contain_text("first responses on time")
    expect(page.locator("#definitions")).to_contain_text("A target is decided")
    screenshot(page, "sla-compliance-by-category")

    page.select_option("select[name=by]", "agent")
    page.click("#report-filters button[type=submit]")
    expect(page.locator("#compliance")).to_contain_text("Dewi Lestari")
    screenshot(page, "sla-compliance-by-agent")

    page.goto(f"/supervisor/sla/breaches?to={until}")
    row = page.locator("#breaches tbody tr", has_text=reference).first
    expect(row).to_be_visible()
    screenshot(page, "sla-breach-list")
    row.locator("a").click()
    expect(page.locator("#sla-panel")).to_contain_text("breach recorded")
    screenshot(page, "sla-ticket-breached")


def test_admin_edits_a_calendar_and_sees_its_due_times(page: Any) -> None:
    sla.install_defaults()
    db.session.commit()
    admin = staff_user("admin", name="Admin", language="en")
    _sign_in(page, admin.email)
    page.click('nav.nav >> text="SLA"')
    expect(page.locator("#sla-policies")).to_contain_text("Klaim JKM (kematian) / Death claim")
    screenshot(page, "sla-admin-policies")
    page.click("#sla-calendars >> text=Jam kerja kantor BPJS (WIB)")
    expect(page.locator("#calendar-preview tr")).to_have_count(4)
    expect(page.locator("#calendar-holidays")).to_contain_text(re.compile(r"25 Dec \d{4}"))  # this year's, in the one date style
    page.fill("#f-day", "2026-12-31")
    page.fill("#f-windows", "08:00-12:00")
    page.fill("#f-note", "Half day before New Year")
    page.click("#override-form button[type=submit]")
    expect(page.locator("#calendar-overrides")).to_contain_text("Half day before New Year")
    screenshot(page, "sla-admin-calendar")
    # A mistake is explained next to the field.
    page.fill("#f-day0", "17:00-08:00")
    page.click("#calendar-form button[type=submit]")
    expect(page.locator("#calendar-form .has-error")).to_contain_text("Write opening hours as")


def test_assignee_sees_a_live_alert_when_their_ticket_breaches(page: Any) -> None:
    sla.install_defaults()
    agent = staff_user("agent", name="Sri Wahyuni", language="en")
    ticket = tickets.open_ticket(channel="phone", category="emergency", subject="Kecelakaan di pabrik")
    tickets.assign(ticket, agent.id)
    db.session.commit()
    _sign_in(page, agent.email)
    page.goto("/tickets/")
    page.wait_for_function("() => window.halopmiRealtime && window.halopmiRealtime.connected")
    sweep(utcnow() + timedelta(minutes=20))  # the 15-minute first response has passed
    db.session.commit()
    alert = page.locator("#sla-alerts .sla-alert")
    expect(alert).to_contain_text("Your tickets need attention")
    expect(alert.locator("a", has_text=ticket.reference).first).to_contain_text("breached")
    screenshot(page, "sla-live-alert")
