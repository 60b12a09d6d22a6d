"""The agent console in real Chromium: two agents, one call, exactly one console rings.

Agent A is available, agent B is on a break. A call from a known member is enqueued (as the
telephony webhook does, through ``routing.enqueue``): A's console rings with the screen pop
(member, phase, claims), B's does not. A second call finds nobody free and appears live in both
consoles' queues. A accepts; the softphone hook receives ``halopmi:offer-accepted``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from app.agents import routing
from app.agents.routing import presence as presence_svc
from app.extensions import db
from tests.browser.conftest import TIMEOUT_MS, screenshot
from tests.factories import make_claim, make_member
from tests.live import PASSWORD, staff_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _sign_in_to_console(page: Any, email: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form:not(.inline) button[type=submit]")
    expect(page).to_have_url(re.compile(r"/staff/$"))
    page.goto("/console/")
    expect(page.locator("#realtime-status")).to_have_attribute("data-state", "connected")


def _set_state(page: Any, state: str) -> None:
    page.select_option("#state-switcher", state)
    page.click("#state-apply")
    expect(page.locator("#my-state")).to_have_attribute("data-state", state)


def test_one_console_rings_with_the_screen_pop_and_the_other_sees_the_queue(
    page: Any, browser: Any, live_server
):
    agent_a = staff_user("agent", name="Sri Wahyuni")
    agent_b = staff_user("agent", name="Budi Santoso")
    for agent in (agent_a, agent_b):
        presence_svc.set_skills(agent.id, languages=["id"])
    member = make_member(name="Siti Aminah", placement_country="HK", phase="PMI")
    make_claim(member, claim_number="CLM-2026-000321", program="JKK", status="verifying")
    make_claim(member, claim_number="CLM-2026-000322", program="JKM", status="paid")
    from app.tickets import services as tickets

    ticket = tickets.open_ticket(
        channel="phone", category="claim_jkk", subject="Phone call: JKK claim", member_id=member.id
    )
    db.session.commit()

    context_b = browser.new_context(
        base_url=live_server.url, locale="id-ID", viewport={"width": 1200, "height": 800}
    )
    context_b.set_default_timeout(TIMEOUT_MS)
    page_b = context_b.new_page()
    errors_b: list[str] = []
    page_b.on("pageerror", lambda exc: errors_b.append(str(exc)))
    try:
        _sign_in_to_console(page, agent_a.email)
        _sign_in_to_console(page_b, agent_b.email)
        _set_state(page, "available")
        _set_state(page_b, "away")

        work = routing.enqueue(
            "call",
            501,
            language="id",
            topic="claim_jkk",
            country="HK",
            member_id=member.id,
            ticket_id=ticket.id,
        )
        db.session.commit()

        # Exactly one console rings: A's, with the member and their claims.
        expect(page.locator("#offer")).to_be_visible()
        expect(page.locator("#offer")).to_have_attribute("data-work-item", str(work.id))
        expect(page.locator("#screen-pop .member-name")).to_have_text("Siti Aminah")
        expect(page.locator('#pop-claims tr[data-claim="CLM-2026-000321"]')).to_contain_text("Verifying")  # a label, not the code
        expect(page.locator('#pop-claims tr[data-claim="CLM-2026-000322"]')).to_contain_text("Paid")
        expect(page.locator("#pop-claims thead th")).to_have_text(
            ["Claim", "Program", "Benefit", "Claim status", "Incident date"]
        )
        expect(page.locator("#pop-ticket")).to_contain_text("Phone call: JKK claim")
        expect(page.locator("#pop-ticket")).to_contain_text("JKK claim (work accident)")  # label, not code
        expect(page.locator("#my-state")).to_have_attribute("data-state", "offered")
        screenshot(page, "console-a-ringing-screen-pop")
        expect(page_b.locator("#offer")).to_be_hidden()

        # A second caller finds nobody free: both queues show them, live.
        routing.enqueue("call", 502, language="id", topic="contribution", country="TW")
        db.session.commit()
        expect(page_b.locator("#queue tbody tr")).to_have_count(1)
        expect(page_b.locator("#queue tbody tr")).to_contain_text("Contributions / payment")
        expect(page.locator("#queue tbody tr")).to_have_count(1)
        expect(page_b.locator("#offer")).to_be_hidden()
        screenshot(page_b, "console-b-queue-updated")

        # A answers: the softphone hook gets the accepted work item.
        page.evaluate(
            "document.addEventListener('halopmi:offer-accepted', e => { window.__accepted = e.detail.work_item.id; })"
        )
        page.click("#offer-accept")
        expect(page.locator("#offer")).to_be_hidden()
        expect(page.locator("#my-state")).to_have_attribute("data-state", "on_call")
        assert page.wait_for_function("() => window.__accepted").json_value() == work.id
        expect(page.locator("#call-tools")).to_be_visible()
        # Simulator mode: the console's softphone tries to join the call at once. This contact
        # was enqueued without a telephone call behind it, so the call's webhook refuses the
        # leg and the softphone says so (tests/browser/test_console_softphone.py joins real calls).
        expect(page.locator("#softphone")).to_have_attribute("data-state", "error")
        expect(page.locator("#softphone-status")).to_contain_text("This call cannot be joined")
        screenshot(page, "console-a-on-call")
    finally:
        context_b.close()
    assert errors_b == [], f"JavaScript errors on B's console: {errors_b}"


def test_a_state_picked_before_the_console_loaded_its_state_is_the_one_applied(page: Any, live_server) -> None:
    """The agent picks "available" while the console is still fetching her state: the late
    answer ("offline") must not put the selector back, or "Set state" applies offline again."""
    agent = staff_user("agent", name="Sri Wahyuni")
    held: list[Any] = []
    page.route("**/console/api/state", lambda route: held.append(route))
    _sign_in_to_console(page, agent.email)
    expect(page.locator("#state-switcher")).to_be_enabled()
    page.select_option("#state-switcher", "available")
    assert held, "the console asked for its state"
    for route in list(held):
        route.continue_()  # the late answer: she is offline
    page.unroute("**/console/api/state")  # later requests go through (held ones too)
    expect(page.locator("#my-state")).to_have_attribute("data-state", "offline")
    expect(page.locator("#state-switcher")).to_have_value("available")  # her choice stands
    page.click("#state-apply")
    expect(page.locator("#my-state")).to_have_attribute("data-state", "available")
