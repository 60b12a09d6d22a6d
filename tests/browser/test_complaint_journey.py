"""A complaint's whole journey in real Chromium: a worker files it on a phone, an agent answers.

Two browser contexts on one live server: the agent's (signed in, desktop-sized, the ticket
workspace kept open) and the worker's (anonymous, phone-sized). The worker gives the KPJ of a
known member, so the ticket is linked to that member; the agent's public reply then shows in the
worker's case history, reached through the tracking form (reference + phone on file).

The new ticket must appear in the agent's already-open list within ``LIVE_TIMEOUT_MS``, without
a reload (``ticket.updated`` on the "tickets" room makes the page re-fetch its list).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TIMEOUT_MS, screenshot
from tests.factories import make_member
from tests.live import PASSWORD, LiveServer, staff_user

pytestmark = [pytest.mark.slow]

KPJ = "26000000042"
MEMBER_NAME = "Siti Rahayu"
PHONE = "+85291234567"
REPLY = "We have received your documents."
LIVE_TIMEOUT_MS = 10_000


def _sign_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form:not(.inline) button[type=submit]")
    expect(page).to_have_url(re.compile(r"/staff/$"))


def _ticket_row(page: Any, reference: str) -> Any:
    return page.locator("#tickets tbody tr").filter(has=page.get_by_role("link", name=reference, exact=True))


@pytest.mark.browser
def test_worker_complaint_reaches_the_agent_and_the_reply_reaches_the_worker(
    page: Any,
    browser: Any,
    live_server: LiveServer,
) -> None:
    # 1. A member on record.
    make_member(
        kpj=KPJ,
        name=MEMBER_NAME,
        name_key="siti rahayu",
        placement_country="HK",
        phone_abroad=PHONE,
    )

    # 2. The agent signs in and keeps the ticket workspace open. A new portal complaint is
    #    unassigned and not the agent's, so the "Unassigned" view (not the default "Mine").
    agent = staff_user("agent", name="Dewi Lestari", language="en")
    events = "window.__ticketEvents = [];" + (
        "document.addEventListener('halopmi:ticket.updated', (e) => window.__ticketEvents.push(e.detail));"
    )
    page.add_init_script(events)
    _sign_in(page, agent.email)
    page.goto("/tickets/")
    page.get_by_role("link", name="Unassigned", exact=True).click()
    expect(page).to_have_url(re.compile(r"/tickets/\?view=unassigned$"))
    expect(page.locator("h1")).to_contain_text("Tickets")
    screenshot(page, "complaint-journey-1-agent-workspace")

    # 3. The worker files the complaint on a phone, in a separate anonymous context.
    phone_context = browser.new_context(
        base_url=live_server.url, locale="en-US", viewport={"width": 390, "height": 844}
    )
    phone_context.set_default_timeout(TIMEOUT_MS)
    phone = phone_context.new_page()
    phone_errors: list[str] = []
    phone.on("pageerror", lambda exc: phone_errors.append(str(exc)))
    try:
        phone.goto("/complaints/new")
        phone.fill("#f-name", MEMBER_NAME)
        phone.fill("#f-phone", PHONE)
        phone.select_option("#f-country", "HK")
        phone.select_option("#f-category", "claim_jkk")
        phone.fill("#f-description", "My employer kept my documents and I cannot claim my JKK benefit.")
        phone.locator("form.card details summary").click()
        expect(phone.locator("#f-kpj")).to_be_visible()
        phone.fill("#f-kpj", KPJ)
        screenshot(phone, "complaint-journey-2-worker-form")
        phone.click("form.card button[type=submit]")
        expect(phone.locator("#reference")).to_have_text(re.compile(r"^PMI-\d{4}-\d{6}$"))
        reference = phone.locator("#reference").inner_text()
        screenshot(phone, "complaint-journey-3-worker-reference")

        # 4. The new ticket appears in the agent's open workspace without a reload.
        row = _ticket_row(page, reference)
        expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
        expect(row).to_contain_text("JKK claim (work accident)")  # the label, not the code
        expect(row).to_contain_text("Hong Kong")  # the country by name, not its code
        screenshot(page, "complaint-journey-5-agent-workspace-new-ticket")

        # 5. The agent opens it: linked to the member; a public reply.
        row.get_by_role("link", name=reference, exact=True).click()
        expect(page.locator("h1")).to_contain_text(reference)
        panel = page.locator("#member-panel")
        expect(panel).to_contain_text(MEMBER_NAME)
        expect(panel).to_contain_text(KPJ)
        screenshot(page, "complaint-journey-6-agent-ticket")
        reply_form = page.locator("#reply-form")
        reply_form.locator("input[name=kind][value=public_reply]").check()
        reply_form.locator("#body").fill(REPLY)
        reply_form.locator("button[type=submit]").click()
        expect(page.get_by_role("status").filter(has_text="Reply sent.")).to_be_visible()
        reply_entry = page.locator("#timeline li.event-public_reply")
        expect(reply_entry).to_contain_text(REPLY)
        expect(reply_entry).not_to_contain_text("internal")
        screenshot(page, "complaint-journey-7-agent-replied")

        # 6. The worker follows the case with the reference and the phone on file.
        phone.goto("/complaints/track")
        phone.fill("#f-reference", reference)
        phone.fill("#f-verification", PHONE)
        phone.click("form.card button[type=submit]")
        expect(phone.locator("h1")).to_contain_text(reference)
        expect(phone.locator("ol.timeline .message")).to_have_text([REPLY])
        screenshot(phone, "complaint-journey-8-worker-sees-reply")
    finally:
        phone_context.close()
    assert phone_errors == [], f"JavaScript errors on the worker's phone: {phone_errors}"
