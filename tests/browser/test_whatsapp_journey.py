"""A WhatsApp conversation end to end, in real Chromium on the real pages of the embedded default
in simulator mode, nothing injected: a worker writes from the simulator's phone; her message
opens a case that appears live in an agent's workspace list; the agent opens it and sees which
way an answer will go; her second message appears live on the case page; the agent answers;
her phone receives the first answer and the agent's answer, and shows them, so the agent's page
reports them read. Beside the web process runs only what ``flask jobs worker`` runs.
Screenshots of every step go to test-artifacts/screenshots/whatsapp-*.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.tickets import tasks
from app.tickets.models import Ticket
from tests.browser.conftest import TIMEOUT_MS, screenshot
from tests.browser.test_journeys import (  # noqa: F401 - fixtures
    DESK,
    Browsers,
    _lang_of,
    _no_codes,
    _sign_in,
    jobs_worker,
    open_hours,
    people,
)
from tests.factories import make_member
from tests.live import staff_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KPJ = "26000000042"
WORDS = {
    "id": {
        "locale": "id-ID",
        "channel": "WhatsApp",
        "window_open": "jendela 24 jam terbuka sampai",
        "worker_wrote": "Pekerja menulis",
        "sent": "Balasan telah terkirim.",
        "read": "Dibaca",
        "first": "pesan Anda kami terima",
        "first_message": "Klaim JKK saya belum dibayar, sudah 3 bulan",
        "second_message": f"Nama saya Siti Rahayu, KPJ {KPJ}",
        "answer": "Baik Bu Siti, klaim JKK Anda kami periksa hari ini.",
    },
    "en": {
        "locale": "en-US",
        "channel": "WhatsApp",
        "window_open": "the 24-hour window is open until",
        "worker_wrote": "The worker wrote",
        "sent": "Reply sent.",
        "read": "Read",
        "first": "we received your message",
        "first_message": "My JKK claim has not been paid for 3 months",
        "second_message": f"My name is Siti Rahayu, KPJ {KPJ}",
        "answer": "Dear Siti, we are checking your JKK claim today.",
    },
}
HER_NUMBER = "+85291234567"


def _connected(page: Any) -> None:
    page.wait_for_function("() => window.halopmiRealtime && window.halopmiRealtime.connected", timeout=TIMEOUT_MS)


def _phone_sends(phone: Any, text: str) -> None:
    phone.locator('#sim-message input[name=channel][value="whatsapp"]').check()
    phone.fill("#sim-phone-number", HER_NUMBER)
    phone.fill("#sim-message-body", text)
    phone.click("#sim-message-send")
    expect(phone.locator('#sim-thread li[data-direction="out"]').last).to_contain_text(text)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_a_whatsapp_message_reaches_the_agent_live_and_her_answer_reaches_the_phone(
    app: Flask, people: Browsers, lang: str  # noqa: F811 - the fixture
) -> None:
    # As the embedded default is configured: messages to workers go through the telephony
    # provider, which is the simulator without a Twilio account.
    app.config["TICKETS_MESSENGER"] = "app.telephony.messaging:sms_messenger"
    tasks.set_messenger(None)
    words = WORDS[lang]
    shot = f"whatsapp-{lang}"
    make_member(kpj=KPJ, name="Siti Rahayu", name_key="siti rahayu", placement_country="HK", preferred_language=lang)
    agent = staff_user("agent", name="Sri Wahyuni" if lang == "id" else "Budi Santoso", language=lang)
    tester = staff_user("supervisor", name="Penguji Simulator", language=lang)
    db.session.commit()

    # The agent watches the workspace list; someone plays the worker's phone on the simulator.
    workspace = people.open(words["locale"], DESK)
    _sign_in(workspace, agent.email)
    workspace.goto("/tickets/?view=all")
    _connected(workspace)
    screenshot(workspace, f"{shot}-1-agent-list-before")
    phone = people.open(words["locale"], DESK)
    _sign_in(phone, tester.email)
    phone.goto("/telephony/simulator")
    _phone_sends(phone, words["first_message"])
    screenshot(phone, f"{shot}-2-phone-first-message")

    # Her case appears in the list without a reload, labelled WhatsApp.
    row = workspace.locator("#tickets tbody tr", has_text=words["first_message"][:30])
    expect(row).to_be_visible(timeout=TIMEOUT_MS * 2)
    expect(row.locator(".channel-whatsapp")).to_have_text(words["channel"])
    screenshot(workspace, f"{shot}-3-agent-list-live")
    _no_codes(workspace, _lang_of(workspace), "ticket list")

    # The phone gets the first answer: her case's reference, hours and commands.
    reference = db.session.scalar(select(Ticket.reference))
    assert reference
    first = phone.locator('#sim-thread li[data-direction="in"]').first
    expect(first).to_contain_text(reference, timeout=TIMEOUT_MS * 2)
    expect(first).to_contain_text(words["first"])

    # The agent opens her case: the reply box says the answer goes by WhatsApp, as written.
    row.locator(f'a:has-text("{reference}")').click()
    expect(workspace).to_have_url(re.compile(r"/tickets/\d+$"))
    _connected(workspace)
    expect(workspace.locator("#reply-route")).to_have_attribute("data-mode", "free")
    expect(workspace.locator("#reply-route")).to_contain_text(words["window_open"])
    screenshot(workspace, f"{shot}-4-agent-case")

    # Her second message appears live on the case page.
    _phone_sends(phone, words["second_message"])
    # (Her KPJ is masked on staff pages until revealed: the words around it are shown as written.)
    mine = workspace.locator("#timeline li.from-worker", has_text=words["second_message"].split(",")[0])
    expect(mine).to_be_visible(timeout=TIMEOUT_MS * 2)
    expect(mine.locator(".channel-whatsapp")).to_have_text(words["channel"])
    expect(workspace.locator("#live-worker")).to_contain_text(words["worker_wrote"])
    expect(workspace.locator("#live-changed")).to_be_hidden()
    screenshot(workspace, f"{shot}-5-agent-case-live")
    _no_codes(workspace, _lang_of(workspace), "case page")

    # The agent answers (no conflict with her message, which the page already shows).
    workspace.fill("#body", words["answer"])
    workspace.click("#reply-form button[type=submit]")
    expect(workspace.locator(".flash").first).to_contain_text(words["sent"])
    screenshot(workspace, f"{shot}-6-agent-answered")

    # Her phone receives it.
    answer = phone.locator('#sim-thread li[data-direction="in"]', has_text=words["answer"])
    expect(answer).to_be_visible(timeout=TIMEOUT_MS * 2)
    screenshot(phone, f"{shot}-7-phone-received")

    # Shown on her phone, it is reported read: the case page says so, live.
    read = workspace.locator("li.event-notification .carrier-read")
    expect(read.last).to_have_text(words["read"], timeout=TIMEOUT_MS * 2)
    screenshot(workspace, f"{shot}-8-agent-read")
    _no_codes(workspace, _lang_of(workspace), "case page after the answer")
    _no_codes(phone, _lang_of(phone), "simulator phone")
