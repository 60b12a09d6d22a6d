"""The wallboard and the reports in real Chromium, as a supervisor; an agent is refused.

The wallboard loop runs beside the live server (as ``flask jobs worker`` runs it); a call
entering the queue must change the "calls waiting" number on the open page without a reload.
Screenshots at 1920×1080 (the wall screen) and 1366×768 (a laptop) go to
test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from app.agents import routing
from app.agents.routing.presence import set_state
from app.core.scheduler import Scheduler, periodic_jobs
from app.core.time import utcnow
from app.extensions import db
from app.supervisor.kpis import KpiSettings
from app.telephony.models import CallbackRequest
from app.tickets.models import Ticket
from tests.browser.conftest import TIMEOUT_MS, screenshot
from tests.live import PASSWORD, staff_user
from tests.supervisor.calllog import Spec, add_call, states, work_item_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _sign_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form:not(.inline) button[type=submit]")
    expect(page).to_have_url(re.compile(r"/staff/$"))


def _today_so_far() -> str:
    """The last hour's calls (local time, before now), agents and tickets, for real figures.
    Returns the local date of the first call: just after midnight some fall on yesterday, and the
    report is then opened from that day (CI once ran at 00:10 WIB and found no calls "today")."""
    zone = KpiSettings().zone
    now = utcnow().astimezone(zone)
    agent, other = staff_user("agent", name="Sri Wahyuni"), staff_user("agent", name="Budi Santoso")
    minutes_ago = [50, 40, 35, 30, 20, 12]
    specs = [
        dict(answer=8, talk=240, agent=agent.id),
        dict(answer=35, talk=420, agent=other.id, language="en"),
        dict(abandon=70),
        dict(answer=15, talk=180, agent=agent.id),
        dict(callback=95, language="en"),
        dict(abandon=2),
    ]
    for ago, spec in zip(minutes_ago, specs, strict=True):
        moment = now - timedelta(minutes=ago)
        call = add_call(Spec(moment.strftime("%H:%M:%S"), day=(moment.year, moment.month, moment.day), **spec))
        if "agent" in spec:
            item = work_item_for(call, spec["agent"])
            ended = moment + timedelta(seconds=spec["answer"] + spec["talk"])
            done = ended + timedelta(seconds=30)
            if done < now:
                day = (ended.year, ended.month, ended.day)
                states(spec["agent"], (ended.strftime("%H:%M:%S"), "wrap_up"), work_item_id=item.id, day=day)
                states(spec["agent"], (done.strftime("%H:%M:%S"), "available"), day=day)
    # A week before tomorrow (what the staffing page plans from): a busy morning.
    last_week = now + timedelta(days=1) - timedelta(weeks=1)
    day = (last_week.year, last_week.month, last_week.day)
    for n in range(60):
        minute = 8 * 60 + n * 4  # 08:00 to 11:56
        clock = f"{minute // 60:02d}:{minute % 60:02d}:00"
        if n % 9 == 4:
            add_call(Spec(clock, day=day, abandon=40 + n))
        else:
            add_call(Spec(clock, day=day, answer=n % 45, talk=200 + 7 * n, agent=agent.id))
    set_state(agent.id, "available")
    set_state(other.id, "away")
    # The SLA engine's verdicts as the sweep leaves them (tests/sla covers how it reaches them).
    db.session.add_all([
        Ticket(channel="phone", category="claim_jht", subject="s", status="open", sla_status="at_risk"),
        Ticket(channel="phone", category="membership", subject="s", status="new", sla_status="breached"),
        CallbackRequest(phone="+85291234567", status="pending"),
    ])  # fmt: skip
    db.session.commit()
    return (now - timedelta(minutes=max(minutes_ago))).date().isoformat()


def test_wallboard_updates_live_and_reports_open(page: Any, browser: Any, live_server, app):
    first_day = _today_so_far()
    supervisor = staff_user("supervisor", name="Ratna Supervisor")
    app.config["SUPERVISOR_WALLBOARD_SECONDS"] = 0.3
    scheduler = Scheduler(app, [periodic_jobs(app)["wallboard"]])
    scheduler.start()
    try:
        page.set_viewport_size({"width": 1920, "height": 1080})
        _sign_in(page, supervisor.email)
        page.goto("/supervisor/wallboard")
        expect(page.locator("#realtime-status")).to_have_attribute("data-state", "connected")
        waiting = page.locator('[data-field="waiting"]')
        expect(waiting).to_have_text("0")
        expect(page.locator('[data-field="breached"]')).to_have_text("1")
        expect(page.locator('[data-field="at_risk"]')).to_have_text("1")
        expect(page.locator('[data-field="callbacks_pending"]')).to_have_text("1")
        screenshot(page, "wallboard-1920x1080-quiet")

        # A caller enters the queue (as the telephony webhook does): the number changes live.
        routing.enqueue("call", 9001, language="id", topic="claim_jkk", country="HK")
        db.session.commit()
        expect(waiting).to_have_text("1", timeout=TIMEOUT_MS)
        expect(page.locator('#wb-queues tr[data-queue="id"] td').first).to_have_text("1")
        expect(page.locator('[data-field="longest"]')).to_have_text(re.compile(r"^0:0\d$"))
        screenshot(page, "wallboard-1920x1080-call-waiting")
        # Nothing spills off the wall screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 1920
        page.set_viewport_size({"width": 1366, "height": 768})
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        screenshot(page, "wallboard-1366x768-laptop")

        page.set_viewport_size({"width": 1280, "height": 900})
        today = utcnow().astimezone(KpiSettings().zone).date().isoformat()
        page.goto(f"/supervisor/reports/calls?start={first_day}&end={today}")
        expect(page.locator("svg.chart")).to_have_count(2)  # per interval, and the daily trends
        expect(page.locator("#trends svg.chart")).to_be_visible()
        expect(page.locator("#totals")).to_contain_text("Bahasa Indonesia")
        expect(page.locator(".report-definitions")).to_be_visible()
        screenshot(page, "reports-calls")
        for name in ("agents", "satisfaction", "staffing"):
            page.click(f'.report-tabs a[href*="/reports/{name}"]')
            expect(page).to_have_url(re.compile(rf"/supervisor/reports/{name}"))
            expect(page.locator("h1")).to_be_visible()
            screenshot(page, f"reports-{name}")
        expect(page.locator("#staffing")).to_be_visible()
    finally:
        scheduler.stop(timeout=10)


def test_an_agent_is_refused_the_wallboard(page: Any):
    agent = staff_user("agent")
    _sign_in(page, agent.email)
    response = page.goto("/supervisor/wallboard")
    assert response is not None and response.status == 403
    response = page.goto("/supervisor/reports/calls")
    assert response is not None and response.status == 403
    expect(page.locator("nav.nav")).not_to_contain_text("Supervisi")
