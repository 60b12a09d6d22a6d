"""The workspace and admin pages this slice changed, in Chromium, in both languages: a ticket
found by a phone typed the local way, its status changed with a confirmation; an agent's skills
edited on the staff page; an SLA policy's targets in hours and days. Screenshots are saved in
test-artifacts/screenshots/ to be looked at."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.sla import services as sla
from app.telephony.clicktocall import create_callback
from tests.browser.conftest import screenshot
from tests.browser.test_accessibility import axe_script, axe_violations, serious  # noqa: F401 - fixture
from tests.live import PASSWORD, staff_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _sign_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form:not(.inline) button[type=submit]")
    expect(page).to_have_url(re.compile(r"/staff/$"))


def _switch_language(page: Any) -> None:
    page.click("button.lang-switch")
    page.wait_for_load_state()


def _accessible(page: Any, script: Any) -> None:
    assert serious(axe_violations(page, script)) == []


def test_agent_finds_a_call_back_ticket_by_phone_and_changes_its_status(page: Any, axe_script: Any) -> None:  # noqa: F811 - fixture
    sla.install_defaults()
    callback = create_callback(phone="+85291234567", language="id", topic="claim_jkk")
    db.session.commit()
    agent = staff_user("agent", name="Dewi Lestari", language="id")
    colleague = staff_user("agent", name="Rina Wati", language="id")
    _sign_in(page, agent.email)
    page.click("nav.nav >> text=Tiket")
    page.goto("/tickets/?view=all")
    page.fill("#q", "9123 4567")
    page.select_option("#phone_country", "HK")
    page.click("form[role=search] button[type=submit]")
    row = page.locator("#tickets tbody tr").first
    expect(row).to_contain_text("Permintaan panggilan balik dari Hong Kong — Klaim JKK (kecelakaan kerja)")
    screenshot(page, "workspace-search-by-phone-id")
    _accessible(page, axe_script)
    row.locator("a").first.click()
    expect(page.locator("#new-status")).to_have_value("new")
    page.select_option("#new-status", "pending_worker")
    page.click("form[action$='/status'] button[type=submit]")
    expect(page.locator("div.flash")).to_contain_text("Status diubah: Baru → Menunggu pekerja")
    expect(page.locator("#new-status")).to_have_value("pending_worker")
    page.select_option("#assignee", str(colleague.id))
    page.click("form[action$='/assign'] button[type=submit]")
    expect(page.locator("div.flash")).to_contain_text("ditugaskan kepada Rina Wati")
    screenshot(page, "workspace-ticket-id")
    _switch_language(page)
    expect(page.locator("#new-status option:checked")).to_have_text("Waiting for the worker (current)")
    expect(page.locator("h1")).to_contain_text("Call-back request from Hong Kong — JKK claim (work accident)")
    screenshot(page, "workspace-ticket-en")
    _accessible(page, axe_script)
    assert callback.ticket_id is not None


def test_admin_edits_an_agents_skills(page: Any, axe_script: Any) -> None:  # noqa: F811 - fixture
    admin = staff_user("admin", name="Admin", language="en")
    agent = staff_user("agent", name="Agus Salim", language="id")
    _sign_in(page, admin.email)
    page.click("nav.nav >> text=Staff")
    row = page.locator(f"#skills-{agent.id}")
    expect(row.locator("[data-skills]")).to_contain_text("Bahasa Indonesia (default)")
    row.locator("summary").click()
    row.locator("input[name=languages][value=yue]").check()
    row.locator("input[name=topics][value=claim_jkk]").check()
    row.locator("input[name=topics][value=emergency]").check()
    row.locator("button[type=submit]").click()
    expect(page.locator("div.flash")).to_contain_text("Skills of Agus Salim saved.")
    row = page.locator(f"#skills-{agent.id}")
    expect(row.locator("[data-skills]")).to_contain_text("粵語 (Cantonese)")
    expect(row.locator("[data-skills]")).to_contain_text("JKK claim (work accident)")
    expect(row.locator("input[name=languages][value=yue]")).to_be_checked()  # shown open
    screenshot(page, "admin-users-skills-en")
    _accessible(page, axe_script)
    # A refusal is explained, not a crash: untick every language.
    for box in row.locator("input[name=languages]").all():
        box.uncheck()
    row.locator("button[type=submit]").click()
    expect(page.locator("div.flash-error")).to_contain_text("Choose at least one language")
    page.goto(f"/admin/users?skills={agent.id}")
    _switch_language(page)
    expect(page.locator(f"#skills-{agent.id} [data-skills]")).to_contain_text("Klaim JKK (kecelakaan kerja)")
    expect(page.locator(f"#skills-{agent.id} [data-skills]")).to_contain_text("粵語 (Kanton)")
    screenshot(page, "admin-users-skills-id")


def test_admin_sets_policy_targets_in_hours_and_days(page: Any, axe_script: Any) -> None:  # noqa: F811 - fixture
    sla.install_defaults()
    db.session.commit()
    admin = staff_user("admin", name="Admin", language="id")
    _sign_in(page, admin.email)
    page.click('nav.nav >> text="SLA"')
    row = page.locator("#sla-policies tr", has_text="Klaim JKM (kematian) / Death claim")
    expect(row).to_contain_text("2 jam kerja")
    expect(row).to_contain_text("3 hari kerja")
    screenshot(page, "sla-policy-list-id")
    row.locator("a").first.click()
    expect(page.locator("#f-resolution_amount")).to_have_value("3")
    expect(page.locator("#f-resolution_unit")).to_have_value("days")
    screenshot(page, "sla-policy-form-id")
    _accessible(page, axe_script)
    page.fill("#f-resolution_amount", "4")
    page.click("#policy-form button[type=submit]")
    row = page.locator("#sla-policies tr", has_text="Klaim JKM (kematian) / Death claim")
    expect(row).to_contain_text("4 hari kerja")
    _switch_language(page)
    row = page.locator("#sla-policies tr", has_text="Klaim JKM (kematian) / Death claim")
    expect(row).to_contain_text("4 business days")
    row.locator("a").first.click()
    page.fill("#f-first_response_amount", "lots")
    page.click("#policy-form button[type=submit]")
    expect(page.locator("#policy-form .has-error")).to_contain_text("Enter a number, such as 4 or 1.5.")
    screenshot(page, "sla-policy-form-en")


def test_an_agent_reads_a_description_with_identifiers_masked_and_reveals_it(page: Any, axe_script: Any) -> None:  # noqa: F811 - fixture
    """Issue 12 item 6 in Chromium, both languages: the NIK and phone a worker typed are masked;
    the reveal button shows them, and the timeline says who looked."""
    from app.tickets import services

    nik, phone = "3201015705900123", "+852 9123 4567"
    ticket = services.open_ticket(
        channel="portal", category="claim_jkk", subject="Gaji ditahan", requester_phone="+85291234567",
        description=f"NIK saya {nik}. Tolong telepon {phone}, majikan menahan gaji saya.",
    )
    db.session.commit()
    agent = staff_user("agent", name="Dewi Lestari", language="id")
    _sign_in(page, agent.email)
    page.goto(f"/tickets/{ticket.id}")
    body = page.locator(".free-text").first
    expect(body).to_contain_text("majikan menahan gaji saya")
    expect(body).not_to_contain_text(nik)
    expect(body).not_to_contain_text("9123 4567")
    screenshot(page, "workspace-free-text-masked-id")
    _accessible(page, axe_script)
    page.click("form:has(input[value=description]) button[type=submit]")
    expect(page.locator("[data-revealed=description]")).to_contain_text(nik)
    expect(page.locator("#timeline")).to_contain_text("Melihat data pribadi dalam deskripsi.")
    screenshot(page, "workspace-free-text-revealed-id")
    page.goto(f"/tickets/{ticket.id}")  # the reveal answered a POST: come back to the page
    _switch_language(page)
    expect(page.locator("form:has(input[value=description]) button[type=submit]")).to_have_text(
        "Reveal personal data in this text"
    )
    expect(page.locator(".free-text").first).not_to_contain_text(nik)  # masked again on a new view
    screenshot(page, "workspace-free-text-masked-en")
