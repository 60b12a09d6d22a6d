"""Accessibility: axe-core, run in Chromium, finds no serious or critical violation on the
worker-facing pages (phone-sized) and on the agent console, in Bahasa Indonesia and English.

axe-core comes from npm (a devDependency in package.json, installed by ``python3 run.py setup``
with ``npm ci``) and is read straight from node_modules, so it is never served to users. It is
evaluated in the page after load (through the DevTools protocol, which the page's
Content-Security-Policy does not govern, so no test-only exception is made in the policy) and ``axe.run()`` checks the whole
document with all of its rules; a failure lists each violation (rule, impact, element, help).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ROOT, TIMEOUT_MS, screenshot
from tests.browser.portal_pages import PORTAL_PAGES, PortalPage
from tests.live import PASSWORD, LiveServer, staff_user
from tests.services import need

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")
LOCALES = {"id": "id-ID", "en": "en-US"}


@pytest.fixture(scope="session")
def axe_script() -> Path:
    if not AXE.exists():
        need(f"axe-core not installed at {AXE} (python3 run.py setup runs npm ci)")
    return AXE


def axe_violations(page: Any, script: Path) -> list[dict[str, Any]]:
    """axe.run() on the whole document; every violation with its nodes."""
    page.evaluate(script.read_text(encoding="utf-8") + "\n;undefined")
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const results = await axe.run(document, {resultTypes: ['violations']});
            return results.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map((n) => ({
                    target: n.target.join(' '), impact: n.impact, summary: n.failureSummary,
                })),
            }));
        }"""
    )
    return violations


def serious(violations: list[dict[str, Any]]) -> list[str]:
    """One line per failing element: rule, impact, target, help (and what to fix)."""
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            impact = node["impact"] or violation["impact"]
            if impact in FAILING_IMPACTS:
                summary = " ".join((node["summary"] or "").split())
                summary = summary if len(summary) <= 200 else summary[:199] + "…"
                lines.append(
                    f"{violation['id']} [{impact}] {node['target']}: {violation['help']} "
                    f"({violation['helpUrl']}) — {summary}"
                )
    return lines


@pytest.fixture
def new_page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A factory of fresh pages (own context, no cookies) in a given language and size."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make(language: str, width: int, height: int) -> Any:
        context = browser.new_context(
            base_url=live_server.url, locale=LOCALES[language], viewport={"width": width, "height": height}
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def _check(page: Any, language: str, script: Path, name: str) -> None:
    screenshot(page, f"a11y-{name}-{language}")
    failing = serious(axe_violations(page, script))
    assert failing == [], f"axe-core: {len(failing)} serious/critical on {name} ({language}):\n" + "\n".join(
        failing
    )
    # And the page was checked in the language it was meant to be (the browser's, here).
    expect(page.locator("html")).to_have_attribute("lang", language)


@pytest.mark.parametrize("language", sorted(LOCALES))
@pytest.mark.parametrize("portal_page", PORTAL_PAGES, ids=lambda p: p.name.replace(" ", "-"))
def test_portal_page_has_no_serious_accessibility_violation(
    portal_page: PortalPage, language: str, new_page: Any, axe_script: Path
) -> None:
    page = new_page(language, 390, 844)
    path = portal_page.open(page)
    response = page.goto(path)
    assert response is not None and response.status == 200, f"{path}: {response and response.status}"
    _check(page, language, axe_script, portal_page.name.replace(" ", "-"))


@pytest.mark.parametrize("language", sorted(LOCALES))
def test_complaint_form_with_its_errors_has_no_serious_accessibility_violation(
    language: str, new_page: Any, axe_script: Path
) -> None:
    """The form as a worker often sees it: sent incomplete, every error shown beside its field."""
    page = new_page(language, 390, 844)
    page.goto("/complaints/new")
    page.click("form.card button[type=submit]")
    expect(page.locator(".field.has-error").first).to_be_visible()
    _check(page, language, axe_script, "complaint-form-errors")


@pytest.mark.parametrize("language", sorted(LOCALES))
def test_agent_console_has_no_serious_accessibility_violation(
    language: str, new_page: Any, axe_script: Path
) -> None:
    """The console at rest, then ringing: the offer, the screen pop and a caller in the queue."""
    from app.agents import routing
    from app.agents.routing import presence
    from app.extensions import db
    from app.tickets import services as tickets
    from tests.factories import make_claim, make_member

    agent = staff_user("agent", name="Sri Wahyuni", language=language)
    presence.set_skills(agent.id, languages=["id"])
    member = make_member(name="Siti Aminah", placement_country="HK", phase="PMI")
    make_claim(member, claim_number="CLM-2026-000321", program="JKK", status="verifying")
    ticket = tickets.open_ticket(
        channel="phone", category="claim_jkk", subject="Panggilan telepon: klaim JKK", member_id=member.id
    )
    db.session.commit()
    page = new_page(language, 1280, 800)
    page.goto("/login")
    page.fill("input[name=email]", agent.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form:not(.inline) button[type=submit]")
    expect(page).to_have_url(re.compile(r"/staff/$"))
    page.goto("/console/")
    expect(page.locator("#realtime-status")).to_have_attribute("data-state", "connected")
    _check(page, language, axe_script, "console")

    page.select_option("#state-switcher", "available")
    page.click("#state-apply")
    expect(page.locator("#my-state")).to_have_attribute("data-state", "available")
    routing.enqueue(
        "call", 501, language="id", topic="claim_jkk", country="HK", member_id=member.id, ticket_id=ticket.id
    )
    db.session.commit()
    expect(page.locator("#offer")).to_be_visible()
    routing.enqueue("call", 502, language="id", topic="contribution", country="TW")
    db.session.commit()
    expect(page.locator("#queue tbody tr")).to_have_count(1)
    expect(page.locator("#screen-pop .member-name")).to_have_text("Siti Aminah")
    _check(page, language, axe_script, "console-ringing")
