"""The agent console's softphone in real Chromium, simulator mode (no Twilio account), nothing
injected into the page.

A worker's phone calls the centre through the telephony simulator of the live server's process
(the same one the console's softphone uses): she answers the IVR with keys and waits. The
agent's console rings; the agent accepts; the console joins the call by itself and shows "on
the call"; the simulator has both legs in one conference. A reload restores the panel. One side
hangs up (the caller in one test, the agent from the console in the other); the agent picks a
disposition, writes a note, and the ticket's timeline shows the call, the disposition and the
note. A thread plays the rq worker's part for the job that moves the caller into the conference.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import select

from app.agents.routing import presence as presence_svc
from app.core.jobs import OutboxIntent, run_intent
from app.extensions import db
from app.telephony.models import Call, CallEvent
from app.telephony.softphone import get_simulator
from tests.browser.conftest import TIMEOUT_MS, screenshot
from tests.live import PASSWORD, staff_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# A Monday morning in Jakarta: the call centre is open, so the IVR queues the call.
OPEN_HOURS = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
CALLER = "+85291234567"  # a Hong Kong mobile; no KPJ given, so no member is matched


@pytest.fixture
def open_hours() -> Iterator[None]:
    # Before anyone signs in: a session signed "in the future" would be refused.
    with time_machine.travel(OPEN_HOURS, tick=True):
        yield


@pytest.fixture
def telephony_worker(app: Flask) -> Iterator[None]:
    """Runs the telephony jobs recorded in the outbox, as `flask jobs worker` does."""
    stop = threading.Event()

    def loop() -> None:
        with app.app_context():
            while not stop.is_set():
                ids = db.session.scalars(
                    select(OutboxIntent.id).where(
                        OutboxIntent.queue == "telephony", OutboxIntent.status == "pending"
                    )
                ).all()
                db.session.rollback()
                for intent_id in ids:
                    run_intent(intent_id)
                stop.wait(0.2)

    thread = threading.Thread(target=loop, name="telephony-worker", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=5)


def _sign_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form:not(.inline) button[type=submit]")
    expect(page).to_have_url(re.compile(r"/staff/$"))
    page.goto("/console/")
    expect(page.locator("#realtime-status")).to_have_attribute("data-state", "connected")
    page.select_option("#state-switcher", "available")
    page.click("#state-apply")
    expect(page.locator("#my-state")).to_have_attribute("data-state", "available")


def _caller_waits(sim: Any, language_key: str) -> Any:
    with sim.lock:
        phone = sim.dial_in(CALLER)
        phone.press(language_key)  # 1: Bahasa Indonesia, 2: English
        phone.press("#")  # no KPJ
        phone.press("1")  # membership
    assert phone.state == "queued", phone.heard
    return phone


def _agent_legs(sim: Any, agent_id: int) -> list[Any]:
    with sim.lock:
        return [leg for leg in sim.legs.values() if leg.from_ == f"client:agent:{agent_id}"]


def _answer_from_the_console(page: Any, sim: Any, phone: Any, agent_id: int, lang: str) -> Call:
    offer = page.locator("#offer")
    expect(offer).to_be_visible()
    expect(page.locator("#pop-where")).to_contain_text("Hong Kong")
    expect(page.locator("#pop-where")).to_contain_text(re.compile(r"\b\d{1,2}[:.]\d{2}\b"))  # her local time
    expect(page.locator("#pop-where")).not_to_contain_text("Asia/")  # a place, not a zone code
    screenshot(page, f"console-softphone-{lang}-1-ringing")
    page.click("#offer-accept")
    softphone = page.locator("#softphone")
    expect(softphone).to_have_attribute("data-state", "in_call", timeout=TIMEOUT_MS * 2)
    expect(page.locator("#softphone-hangup")).to_be_visible()
    expect(page.locator("#softphone-mute")).to_be_visible()
    [leg] = _agent_legs(sim, agent_id)
    with sim.lock:
        assert phone.state == "conference" and leg.state == "conference"
        conference = (phone.conference.text or "").strip()
        assert {s.sid for s in sim.in_conference(conference)} == {phone.sid, leg.sid}
    call = db.session.scalar(select(Call).where(Call.call_sid == phone.sid))
    kinds = set(db.session.scalars(select(CallEvent.kind).where(CallEvent.call_id == call.id)))
    assert {"answered", "agent_joined"} <= kinds and "abandoned" not in kinds
    page.click("#softphone-keypad-toggle")
    page.click('#softphone-keypad button[data-digit="5"]')
    expect(page.locator("#softphone-digits")).to_have_text("5")
    screenshot(page, f"console-softphone-{lang}-2-on-the-call")

    page.reload()  # in the middle of the call: the server knows the agent's leg
    expect(page.locator("#softphone")).to_have_attribute("data-state", "in_call")
    expect(page.locator("#softphone-hangup")).to_be_visible()
    expect(page.locator("#screen-pop")).to_be_visible()
    assert len(_agent_legs(sim, agent_id)) == 1  # restored, not dialled again
    return call


def _wrap_up(page: Any, lang: str, disposition: str, note: str) -> None:
    expect(page.locator("#softphone")).to_have_attribute("data-state", "ended")
    expect(page.locator("#my-state")).to_have_attribute("data-state", "wrap_up")
    expect(page.locator("#wrap-up")).to_be_visible()
    expect(page.locator("#screen-pop")).to_be_visible()  # the pop stays up while wrapping up
    expect(page.locator("#state-switcher")).to_have_value("")  # shows "wrap-up", not "available"
    page.select_option("#disposition", disposition)
    page.fill("#wrap-up-note", note)
    screenshot(page, f"console-softphone-{lang}-3-wrap-up")
    page.click("#wrap-up-done")
    expect(page.locator("#my-state")).to_have_attribute("data-state", "available")
    expect(page.locator("#wrap-up")).to_be_hidden()


def _timeline_shows(page: Any, call: Call, lang: str, disposition_label: str, note: str) -> None:
    page.goto(f"/tickets/{call.ticket_id}")
    wrap = page.locator("li.event-wrap_up")
    expect(wrap).to_have_count(1)
    expect(wrap.locator(".wrap-up-disposition")).to_contain_text(disposition_label)
    expect(wrap).to_contain_text(note)
    expect(page.locator("li.event-call_linked")).to_contain_text(f"#{call.id}")
    screenshot(page, f"console-softphone-{lang}-4-ticket-timeline")


def test_the_caller_hangs_up_and_the_wrap_up_lands_on_the_ticket(
    page: Any, app: Flask, live_server: Any, redis_conn: Any, open_hours: None, telephony_worker: None
) -> None:
    agent = staff_user("agent", name="Sri Wahyuni", language="id")
    presence_svc.set_skills(agent.id, languages=["id", "en"])
    db.session.commit()
    agent_id = agent.id
    sim = get_simulator(app)
    _sign_in(page, agent.email)
    phone = _caller_waits(sim, "1")
    call = _answer_from_the_console(page, sim, phone, agent_id, "id")
    expect(page.locator("#softphone-status")).to_have_text("Sedang bertelepon")

    with sim.lock:
        phone.hangup()  # the worker ends the call
    note = "Menanyakan saldo JHT; dijelaskan cara cek di aplikasi."
    _wrap_up(page, "id", "information_given", note)
    [leg] = _agent_legs(sim, agent_id)
    assert leg.state == "ended"
    db.session.expire_all()
    assert db.session.get(Call, call.id).disposition == "information_given"
    _timeline_shows(page, call, "id", "Informasi diberikan", note)


def test_the_agent_hangs_up_from_the_console_in_english(
    page: Any, app: Flask, live_server: Any, redis_conn: Any, open_hours: None, telephony_worker: None
) -> None:
    agent = staff_user("agent", name="Budi Santoso", language="en")
    presence_svc.set_skills(agent.id, languages=["id", "en"])
    db.session.commit()
    agent_id = agent.id
    sim = get_simulator(app)
    _sign_in(page, agent.email)
    phone = _caller_waits(sim, "2")
    call = _answer_from_the_console(page, sim, phone, agent_id, "en")
    expect(page.locator("#softphone-status")).to_have_text("On the call")

    page.click("#softphone-hangup")
    note = "Asked how to register; sent the link by SMS."
    _wrap_up(page, "en", "resolved", note)
    with sim.lock:
        assert phone.state == "ended"  # the agent's hang-up ended the caller's leg too
    completed = db.session.scalar(
        select(CallEvent).where(CallEvent.call_id == call.id, CallEvent.kind == "completed")
    )
    assert completed is not None and completed.data.get("ended_by") == "agent"
    _timeline_shows(page, call, "en", "Resolved on the call", note)
