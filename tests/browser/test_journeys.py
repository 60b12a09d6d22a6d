"""Each person's way through a call, end to end, in real Chromium on the real pages of the
embedded default in simulator mode (no Twilio account), with nothing injected into the pages.

(a) A worker on a phone-sized page opens ``/call``, picks her language and topic, presses "call
    now", answers the IVR with the page's keypad (her KPJ), and waits. An agent, signed in through
    the real login form in another browser, sees the console ring and accepts: both pages show
    "connected". One side hangs up (each in turn): both pages show the end, the agent wraps up
    with a disposition and a note, and the ticket's timeline (reached from the screen pop, no id
    typed) shows the call, the disposition and the note.
(b) A worker asks for a call-back on ``/call/back``; an agent accepts the call-back offer in the
    console; the simulator rings her number (her status page plays the phone) and she answers
    there; both are connected; after the hang-up her status page says done.
(c) A supervisor signs in: the wallboard and the call report count these calls as answered.

The only help from the test is what production runs beside the web process: ``flask jobs
worker``'s periodic jobs (router tick, wallboard, …) and its rq jobs (the outbox intents, run
as the worker runs them). Screenshots of every step go to test-artifacts/screenshots/journey-*.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
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
from app.core.scheduler import Scheduler, periodic_jobs
from app.extensions import db
from app.telephony.models import Call
from app.telephony.prompts import text as prompt
from tests.browser.conftest import TIMEOUT_MS, screenshot
from tests.factories import make_member
from tests.live import PASSWORD, LiveServer, staff_user
from tests.test_vocabulary import codes_shown, forbidden_codes

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# A Monday morning in Jakarta: the centre is open, so the IVR queues the call.
OPEN_HOURS = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1200, "height": 800}
KPJ = "26000000042"
TOPICS = [
    "membership",
    "contribution",
    "claim_jkk",
    "claim_jkm",
    "claim_jht",
    "benefit_info",
    "other",
    "emergency",
]


@dataclass(frozen=True)
class Words:
    """What each language's pages say at the steps the journeys check (not the msgids: an
    Indonesian page that shows English must fail)."""

    locale: str
    call_now: str
    key: str  # the keypad's accessible name, "{key}" for the key
    hash: str
    connected: str
    ended_you: str
    ended_agent: str
    call_me_back: str
    number: str
    waiting: str
    answer: str
    done: str
    hang_up: str
    next_in_queue: str
    calling_you: str


WORDS = {
    "id": Words(
        locale="id-ID",
        call_now="Telepon sekarang",
        key="Tombol {key}",
        hash="pagar",
        connected="Terhubung dengan petugas. Silakan bicara.",
        ended_you="Anda mengakhiri panggilan.",
        ended_agent="Petugas mengakhiri panggilan. Terima kasih telah menelepon.",
        call_me_back="Telepon saya kembali",
        number="Nomor telepon",
        waiting="Menunggu petugas",
        answer="Jawab",
        done="Selesai: kami sudah berbicara dengan Anda",
        hang_up="Tutup telepon",
        next_in_queue="Anda berikutnya dalam antrean.",
        calling_you="Kami sedang menelepon Anda",
    ),
    "en": Words(
        locale="en-US",
        call_now="Call now",
        key="Key {key}",
        hash="hash",
        connected="Connected with an agent. Go ahead and talk.",
        ended_you="You ended the call.",
        ended_agent="The agent ended the call. Thank you for calling.",
        call_me_back="Call me back",
        number="Phone number",
        waiting="Waiting for an agent",
        answer="Answer",
        done="Done: we spoke with you",
        hang_up="Hang up",
        next_in_queue="You are next in the queue.",
        calling_you="We are calling you",
    ),
}


@pytest.fixture
def open_hours() -> Iterator[None]:
    # Before anyone signs in or anything is signed: a session "from the future" is refused.
    with time_machine.travel(OPEN_HOURS, tick=True):
        yield


@pytest.fixture
def jobs_worker(app: Flask, open_hours: None) -> Iterator[None]:
    """What ``flask jobs worker`` runs beside the web process: its periodic jobs (router
    tick, wallboard, housekeeping, …) and the jobs recorded in the outbox (run one at a time,
    as its SimpleWorker does on SQLite)."""
    stop = threading.Event()

    def run_jobs() -> None:
        with app.app_context():
            while not stop.is_set():
                ids = db.session.scalars(
                    select(OutboxIntent.id).where(OutboxIntent.status == "pending").order_by(OutboxIntent.id)
                ).all()
                db.session.rollback()
                for intent_id in ids:
                    run_intent(intent_id)
                stop.wait(0.2)

    threads = [threading.Thread(target=run_jobs, name="jobs", daemon=True)]
    for thread in threads:
        thread.start()
    periodic = [job for name, job in periodic_jobs(app).items() if not name.startswith("outbox")]
    scheduler = Scheduler(app, periodic, stop=stop)
    scheduler.start()
    yield
    scheduler.stop(timeout=10)
    for thread in threads:
        thread.join(timeout=10)


class Browsers:
    """Browser contexts for the people of a journey; JavaScript errors on any page fail it."""

    def __init__(self, browser: Any, live_server: LiveServer) -> None:
        self.browser = browser
        self.url = live_server.url
        self.contexts: list[Any] = []
        self.errors: list[str] = []

    def open(self, locale: str, viewport: dict[str, int]) -> Any:
        context = self.browser.new_context(base_url=self.url, locale=locale, viewport=viewport)
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        # Every page of the context, including a tab the person opens from a link.
        context.on(
            "weberror",
            lambda web_error: self.errors.append(
                f"{web_error.page and web_error.page.url}: {web_error.error}"
            ),
        )
        return context.new_page()

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def people(browser: Any, live_server: LiveServer, jobs_worker: None) -> Iterator[Browsers]:
    browsers = Browsers(browser, live_server)
    try:
        yield browsers
    finally:
        browsers.close()
    assert browsers.errors == [], f"JavaScript errors on the pages: {browsers.errors}"


def _no_codes(page: Any, lang: str, where: str) -> None:
    """No stored code on the screen (the vocabulary test's checker, on the DOM as rendered)."""
    shown = codes_shown(page.content(), forbidden_codes(), words=lang != "en")
    assert shown == [], f"codes on the {where}: {shown}"


def _lang_of(page: Any) -> str:
    return str(page.locator("html").get_attribute("lang"))


def _agent(lang: str) -> Any:
    agent = staff_user("agent", name="Sri Wahyuni" if lang == "id" else "Budi Santoso", language=lang)
    presence_svc.set_skills(agent.id, languages=["id", "en"], topics=TOPICS)
    db.session.commit()
    return agent


def _sign_in(page: Any, email: str) -> None:
    """Through the real login form, as a person does."""
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form:not(.inline) button[type=submit]")
    expect(page).to_have_url(re.compile(r"/staff/$"))


def _agent_ready(people: Browsers, lang: str, shot: str) -> Any:
    agent = _agent(lang)
    page = people.open(WORDS[lang].locale, DESK)
    _sign_in(page, agent.email)
    page.goto("/console/")
    expect(page.locator("#realtime-status")).to_have_attribute("data-state", "connected")
    page.select_option("#state-switcher", "available")
    page.click("#state-apply")
    expect(page.locator("#my-state")).to_have_attribute("data-state", "available")
    screenshot(page, f"{shot}-agent-0-available")
    return page


def _keypad(page: Any, words: Words, keys: str) -> None:
    for key in keys:
        name = words.key.format(key=words.hash if key == "#" else key)
        page.get_by_role("button", name=name, exact=True).click()


def _worker_calls(people: Browsers, lang: str, shot: str) -> Any:
    words = WORDS[lang]
    page = people.open(words.locale, PHONE)
    page.goto("/call")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    page.locator(f'#call-form input[name=language][value="{lang}"]').check()
    page.locator("#call-topic").select_option("claim_jht")
    screenshot(page, f"{shot}-worker-1-call-page")
    page.get_by_role("button", name=re.compile(words.call_now)).click()
    prompts = page.locator("#prompts")
    expect(prompts).to_contain_text(prompt("kpj_menu", lang))
    screenshot(page, f"{shot}-worker-2-ivr")
    _keypad(page, words, KPJ[:5])
    expect(page.locator("#typed")).to_have_text(KPJ[:5])  # what she typed so far, shown
    _keypad(page, words, KPJ[5:])  # the eleventh digit completes it, as on a real call
    expect(prompts).to_contain_text(prompt("kpj_found", lang))
    expect(prompts).to_contain_text(prompt("queued", lang))
    _keypad(page, words, "#")  # a hash out of habit after the number: changes nothing
    expect(page.locator("#call-state")).to_have_text(words.next_in_queue)
    return page


def _agent_accepts(console: Any, shot: str) -> None:
    offer = console.locator("#offer")
    expect(offer).to_be_visible(timeout=TIMEOUT_MS * 2)
    screenshot(console, f"{shot}-agent-1-ringing")
    console.click("#offer-accept")
    expect(console.locator("#softphone")).to_have_attribute("data-state", "in_call", timeout=TIMEOUT_MS * 2)
    expect(console.locator("#softphone-hangup")).to_be_visible()
    expect(console.locator("#screen-pop")).to_be_visible()


def _wrap_up(console: Any, disposition: str, note: str, shot: str) -> str:
    """The agent picks a disposition, writes a note and finishes; returns the ticket's address
    as the screen pop links it (the agent never types an id)."""
    expect(console.locator("#softphone")).to_have_attribute("data-state", "ended")
    expect(console.locator("#my-state")).to_have_attribute("data-state", "wrap_up")
    expect(console.locator("#wrap-up")).to_be_visible()
    ticket_link = console.locator('#pop-ticket a[href*="/tickets/"]').first
    expect(ticket_link).to_be_visible()
    href = str(ticket_link.get_attribute("href"))
    console.select_option("#disposition", disposition)
    console.fill("#wrap-up-note", note)
    screenshot(console, f"{shot}-agent-3-wrap-up")
    console.click("#wrap-up-done")
    expect(console.locator("#my-state")).to_have_attribute("data-state", "available")
    expect(console.locator("#wrap-up")).to_be_hidden()
    return href


def _disposition_label(lang: str, code: str) -> str:
    from flask_babel import force_locale

    from app.agents.wrapup import disposition_label

    with force_locale(lang):
        return str(disposition_label(code))


def call_journey(people: Browsers, lang: str, hangs_up: str, console: Any = None) -> Call:
    """Journey (a) (with the console of an agent already signed in, if given); returns the
    call as the call log has it."""
    shot = f"journey-a-{lang}-{hangs_up}"
    words = WORDS[lang]
    make_member(kpj=KPJ, name="Siti Rahayu", name_key="siti rahayu", placement_country="SA")
    console = console or _agent_ready(people, lang, shot)
    worker = _worker_calls(people, lang, shot)
    screenshot(worker, f"{shot}-worker-3-queued")

    _agent_accepts(console, shot)
    expect(console.locator("#pop-member")).to_contain_text("Siti Rahayu")
    expect(worker.locator("#call-state")).to_have_text(words.connected)
    screenshot(worker, f"{shot}-worker-4-connected")
    screenshot(console, f"{shot}-agent-2-connected")
    _no_codes(worker, lang, "worker's call page")
    _no_codes(console, _lang_of(console), "console on the call")

    if hangs_up == "worker":
        worker.get_by_role("button", name=words.hang_up, exact=True).click()
        expect(worker.locator("#call-over-text")).to_have_text(words.ended_you)
    else:
        console.click("#softphone-hangup")
        expect(worker.locator("#call-over-text")).to_have_text(words.ended_agent)
    screenshot(worker, f"{shot}-worker-5-ended")

    note = {
        "id": "Menanyakan saldo JHT; dijelaskan cara cek di aplikasi.",
        "en": "Asked about her JHT balance; explained how to check it in the app.",
    }[lang]
    ticket = _wrap_up(console, "information_given", note, shot)

    db.session.expire_all()
    call = db.session.scalars(select(Call).order_by(Call.id.desc())).first()
    assert call is not None and call.status == "completed", call and call.status
    _ticket_shows(console, ticket, lang, "information_given", note, shot, call_id=call.id)
    return call


def _ticket_shows(
    console: Any, ticket: str, lang: str, disposition: str, note: str, shot: str, call_id: int | None = None
) -> None:
    """The agent opens the ticket from the screen pop's link, in a tab beside the console: the
    timeline has the wrap-up (disposition and note) and, for a call, the call."""
    timeline = console.context.new_page()
    timeline.goto(ticket)
    wrap = timeline.locator("li.event-wrap_up")
    expect(wrap).to_have_count(1)
    expect(wrap.locator(".wrap-up-disposition")).to_contain_text(_disposition_label(lang, disposition))
    expect(wrap).to_contain_text(note)
    if call_id is not None:
        expect(timeline.locator("li.event-call_linked")).to_contain_text(f"#{call_id}")
    # She was answered: the ticket is being worked, not "New" (and its first response is met).
    expect(timeline.locator("#new-status")).to_have_value("open")
    screenshot(timeline, f"{shot}-agent-4-ticket-timeline")
    _no_codes(timeline, lang, "ticket page")
    timeline.close()


def callback_journey(people: Browsers, lang: str, hangs_up: str, console: Any = None) -> None:
    """Journey (b) (with the console of an agent already signed in, if given)."""
    shot = f"journey-b-{lang}-{hangs_up}"
    words = WORDS[lang]
    console = console or _agent_ready(people, lang, shot)
    worker = people.open(words.locale, PHONE)
    worker.goto("/call/back")
    worker.locator("#f-country").select_option("HK")
    worker.get_by_label(words.number, exact=True).fill("9123 4567")
    worker.locator(f'input[name=language][value="{lang}"]').check()
    worker.locator("#f-topic").select_option("claim_jkm")
    screenshot(worker, f"{shot}-worker-1-form")
    worker.get_by_role("button", name=words.call_me_back).click()
    expect(worker).to_have_url(re.compile(r"/call/back/[^/]+$"))
    screenshot(worker, f"{shot}-worker-2-status")

    _agent_accepts_callback(console, shot)
    expect(worker.locator("#ringing")).to_be_visible(timeout=TIMEOUT_MS * 2)
    expect(worker.locator("#phase")).to_have_text(words.calling_you)
    expect(worker.locator("#phase-text")).to_be_hidden()  # no longer "the next agent will call"
    screenshot(worker, f"{shot}-worker-3-ringing")
    worker.get_by_role("button", name=words.answer, exact=True).click()
    expect(worker.locator("#on-phone-text")).to_have_text(words.connected)
    expect(console.locator("#softphone")).to_have_attribute("data-state", "in_call")
    screenshot(worker, f"{shot}-worker-4-connected")
    screenshot(console, f"{shot}-agent-2-connected")
    _no_codes(worker, lang, "call-back status page")
    _no_codes(console, lang, "console on the call-back")

    if hangs_up == "worker":
        worker.locator("#phone-hangup").click()
    else:
        console.click("#softphone-hangup")
    expect(worker.locator("#phase")).to_have_text(words.done)
    screenshot(worker, f"{shot}-worker-5-done")
    note = {"id": "Klaim JKM: dokumen dijelaskan.", "en": "JKM claim: documents explained."}[lang]
    ticket = _wrap_up(console, "resolved", note, shot)
    _ticket_shows(console, ticket, lang, "resolved", note, shot)


def _agent_accepts_callback(console: Any, shot: str) -> None:
    offer = console.locator("#offer")
    expect(offer).to_be_visible(timeout=TIMEOUT_MS * 2)
    screenshot(console, f"{shot}-agent-1-offer")
    console.click("#offer-accept")
    expect(console.locator("#softphone")).to_have_attribute("data-state", re.compile("connecting|in_call"))
    expect(console.locator("#screen-pop")).to_be_visible()


@pytest.mark.parametrize(
    ("lang", "hangs_up"),
    [("id", "worker"), ("id", "agent"), ("en", "worker"), ("en", "agent")],
)
def test_a_worker_calls_from_her_phone_an_agent_answers_and_wraps_up(
    people: Browsers, lang: str, hangs_up: str
) -> None:
    call_journey(people, lang, hangs_up)


@pytest.mark.parametrize(("lang", "hangs_up"), [("id", "worker"), ("en", "agent")])
def test_a_worker_asks_for_a_call_back_and_is_called(people: Browsers, lang: str, hangs_up: str) -> None:
    callback_journey(people, lang, hangs_up)


def test_the_supervisor_sees_the_calls_answered(people: Browsers) -> None:
    console = _agent_ready(people, "id", "journey-c")
    call_journey(people, "id", "agent", console)
    callback_journey(people, "id", "worker", console)
    supervisor = staff_user("supervisor", name="Ratna Supervisor", language="id")
    page = people.open("id-ID", {"width": 1366, "height": 768})  # a browser in UTC
    _sign_in(page, supervisor.email)
    page.goto("/supervisor/wallboard")
    expect(page.locator("#realtime-status")).to_have_attribute("data-state", "connected")
    # The centre's time (Jakarta), named, as its "today" figures are counted.
    expect(page.locator("#wb-clock")).to_have_text(re.compile(r"^10[.:]0\d[.:]\d\d WIB$"))
    # Her call entered the Indonesian queue and was answered; the call-back was an outbound
    # call (no queue wait, so it is kept out of the queue's service level by definition) and
    # is no longer pending.
    row = page.locator('#wb-queues tr[data-queue="id"] td')
    expect(row.nth(3)).to_have_text("1")  # offered
    expect(row.nth(4)).to_have_text("1")  # answered
    expect(row.nth(5)).to_have_text("0")  # abandoned
    expect(page.locator('[data-field="callbacks_pending"]')).to_have_text("0")
    expect(page.locator('[data-agents="available"]')).to_have_text("1")
    screenshot(page, "journey-c-wallboard")

    page.goto("/supervisor/reports/calls")
    totals = page.locator("#totals")
    expect(totals).to_contain_text("Bahasa Indonesia")
    # Both calls were answered, each counted under the agent's wrap-up disposition.
    dispositions = page.locator("#dispositions")
    expect(dispositions.locator('tr[data-disposition="information_given"] td')).to_have_text("1")
    expect(dispositions.locator('tr[data-disposition="resolved"] td')).to_have_text("1")
    expect(dispositions).to_contain_text(_disposition_label("id", "information_given"))
    expect(dispositions).to_contain_text(_disposition_label("id", "resolved"))
    screenshot(page, "journey-c-call-report")
