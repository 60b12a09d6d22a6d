"""Click-to-Call in real Chromium on a phone-sized page, in simulator mode, nothing injected.

The worker's side is the real page; the agent's side is played by the test as the console
would: routing offers and accepts the call, the recorded ``connect_agent`` / ``place_callback``
jobs run, and the agent's softphone joins through the process's own simulator
(``Simulator.agent_softphone``). Screenshots in both languages go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.agents import routing
from app.agents.models import WorkItem
from app.agents.routing.presence import set_skills, set_state
from app.core.jobs import OutboxIntent, run_intent
from app.extensions import db
from app.telephony.models import Call, CallbackRequest, CallRequest
from app.telephony.prompts import text
from app.telephony.simulator_routes import SIMULATOR_KEY
from tests.browser.conftest import TIMEOUT_MS, screenshot
from tests.factories import make_user
from tests.live import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PHONE_VIEWPORT = {"width": 390, "height": 844}
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


def _phone(browser: Any, live_server: LiveServer, locale: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(base_url=live_server.url, locale=locale, viewport=PHONE_VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def _agent() -> int:
    agent = make_user("agent")
    set_skills(agent.id, languages=["id", "en"], topics=TOPICS)
    set_state(agent.id, "available")
    db.session.commit()
    return int(agent.id)


def _accept(agent_id: int, kind: str, ref_id: int) -> int:
    db.session.expire_all()
    item = db.session.scalar(select(WorkItem).where(WorkItem.kind == kind, WorkItem.ref_id == ref_id))
    routing.route()
    db.session.refresh(item)
    assert item.status == "offered" and item.agent_id == agent_id
    routing.accept(agent_id, item.id)
    db.session.commit()
    return int(item.id)


def _run_jobs(func: str) -> None:
    ids = db.session.scalars(
        select(OutboxIntent.id).where(OutboxIntent.func == func, OutboxIntent.status == "pending")
    ).all()
    assert ids, f"no {func} job recorded"
    for intent_id in ids:
        assert run_intent(intent_id) == "done"


def _keypad(page: Any, keys: str) -> None:
    names = {"#": "pagar", "*": "bintang"}
    for key in keys:
        page.get_by_role("button", name=f"Tombol {names.get(key, key)}", exact=True).click()


@pytest.mark.parametrize(("locale", "lang"), [("id-ID", "id"), ("en-US", "en")])
def test_call_page_on_a_phone(browser: Any, live_server: LiveServer, locale: str, lang: str) -> None:
    context, page, errors = _phone(browser, live_server, locale)
    try:
        page.goto("/")
        first = page.locator("main a").first
        expect(first).to_have_attribute("href", "/call")
        screenshot(page, f"c2c-0-home-{lang}")
        first.click()
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(
            page.get_by_role("button", name=re.compile("Telepon sekarang" if lang == "id" else "Call now"))
        ).to_be_visible()
        screenshot(page, f"c2c-1-call-page-{lang}")
        page.goto("/call/back")
        screenshot(page, f"c2c-5-callback-form-{lang}")
    finally:
        context.close()
    assert errors == []


def test_worker_calls_from_the_page_answers_the_ivr_queues_is_connected_and_the_agent_hangs_up(
    browser: Any, live_server: LiveServer, app: Any
) -> None:
    agent_id = _agent()
    context, page, errors = _phone(browser, live_server, "id-ID")
    try:
        page.goto("/call")
        page.get_by_label("Bahasa Indonesia").check()
        page.get_by_label("Apa topik panggilan Anda?").select_option("claim_jkm")
        loaded: list[str] = []
        page.on("request", lambda request: loaded.append(request.url))
        page.get_by_role("button", name=re.compile("Telepon sekarang")).click()

        prompts = page.locator("#prompts")
        expect(prompts).to_contain_text(text("kpj_menu", "id"))
        expect(page.locator("#call-state")).to_have_text(
            "Dengarkan menu dan jawab dengan papan tombol di bawah."
        )
        screenshot(page, "c2c-2-ivr-id")
        _keypad(page, "26000")
        expect(page.locator("#typed")).to_have_text("26000")
        _keypad(page, "#")  # not a member on record: the IVR says so, and queues her anyway
        expect(prompts).to_contain_text(text("kpj_not_found", "id"))
        expect(prompts).to_contain_text(text("queued", "id"))
        expect(page.locator("#call-state")).to_have_text("Anda berikutnya dalam antrean.", timeout=5000)
        expect(page.locator("#call-timer")).not_to_have_text("00:00")
        screenshot(page, "c2c-3-queued-id")
        assert not [url for url in loaded if "twilio-voice" in url]  # no SDK in simulator mode

        call_id = db.session.scalar(select(Call.id))
        item_id = _accept(agent_id, "call", call_id)
        _run_jobs("app.telephony.tasks.connect_agent")
        sim = app.extensions[SIMULATOR_KEY]
        page.wait_for_timeout(2000)  # the page's poll delivers the redirect: she is in the conference
        with sim.lock:
            softphone = sim.agent_softphone(agent_id, item_id)
            assert softphone.state == "conference"
        expect(page.locator("#call-state")).to_have_text("Terhubung dengan petugas. Silakan bicara.")
        page.get_by_role("button", name="Bisukan").click()
        expect(page.locator("#mute-button")).to_have_attribute("aria-pressed", "true")
        screenshot(page, "c2c-4-connected-id")
        with sim.lock:
            softphone.hangup()
        expect(page.locator("#call-over-text")).to_have_text(
            "Petugas mengakhiri panggilan. Terima kasih telah menelepon."
        )
        screenshot(page, "c2c-4b-agent-hung-up-id")
    finally:
        context.close()
    assert errors == []


def test_keys_tapped_in_a_burst_reach_the_voice_menu_in_order(browser: Any, live_server: LiveServer) -> None:
    from tests.factories import make_member

    make_member(kpj="26000000042")
    context, page, errors = _phone(browser, live_server, "id-ID")
    try:
        page.goto("/call")
        page.get_by_role("button", name=re.compile("Telepon sekarang")).click()
        expect(page.locator("#prompts")).to_contain_text(text("kpj_menu", "id"))
        # A quick thumb: eleven taps before the first one is answered (one request per key).
        page.evaluate(
            """keys => keys.split("").forEach(
                key => document.querySelector(`#in-call .key[data-key="${key}"]`).click())""",
            "26000000042",
        )
        expect(page.locator("#prompts")).to_contain_text(text("kpj_found", "id"))
        assert db.session.scalar(select(Call.kpj)) == "26000000042"
    finally:
        context.close()
    assert errors == []


def test_worker_hangs_up_in_english(browser: Any, live_server: LiveServer) -> None:
    context, page, errors = _phone(browser, live_server, "en-US")
    try:
        page.goto("/call")
        page.get_by_label("English").check()
        page.get_by_role("button", name=re.compile("Call now")).click()
        expect(page.locator("#prompts")).to_contain_text(text("kpj_menu", "en"))
        page.get_by_role("button", name="Key hash", exact=True).click()
        expect(page.locator("#call-state")).to_have_text("You are next in the queue.", timeout=5000)
        screenshot(page, "c2c-3-queued-en")
        page.reload()  # the simulated call goes on: the page picks it up again
        expect(page.locator("#call-state")).to_have_text("You are next in the queue.")
        expect(page.locator("#prompts")).to_contain_text(text("queued", "en"))
        page.get_by_role("button", name="Hang up").click()
        expect(page.locator("#call-over-text")).to_have_text("You ended the call.")
        screenshot(page, "c2c-4-ended-en")
        assert db.session.scalar(select(Call.status)) == "completed"
    finally:
        context.close()
    assert errors == []


def _request_callback(page: Any) -> None:
    page.goto("/")
    page.get_by_role("link", name="Minta ditelepon balik").click()
    page.get_by_label("Negara nomor telepon").select_option("HK")
    page.get_by_label("Nomor telepon", exact=True).fill("9123 4567")
    page.get_by_label("Apa topik panggilan Anda?").select_option("claim_jkm")
    page.get_by_role("button", name="Telepon saya kembali").click()
    expect(page.locator("#phase")).to_have_text("Menunggu petugas")


def test_worker_asks_for_a_call_back_sees_its_status_and_cancels(
    browser: Any, live_server: LiveServer
) -> None:
    context, page, errors = _phone(browser, live_server, "id-ID")
    try:
        page.goto("/call/back")
        page.get_by_label("Nomor telepon", exact=True).fill("+1 212 555 0123")  # a US number
        page.get_by_role("button", name="Telepon saya kembali").click()
        expect(page.locator("#e-number")).to_contain_text("Kami tidak dapat menelepon nomor di negara ini.")
        screenshot(page, "c2c-6-callback-refused-id")

        _request_callback(page)
        expect(page.locator("main")).to_contain_text("Waktu Hong Kong")
        screenshot(page, "c2c-7-callback-waiting-id")
        page.get_by_role("button", name="Batalkan telepon balik").click()
        expect(page.locator("#phase")).to_have_text("Dibatalkan")
        expect(page.get_by_role("status").first).to_contain_text("Permintaan telepon balik Anda dibatalkan.")
        screenshot(page, "c2c-8-callback-cancelled-id")
        db.session.expire_all()
        assert db.session.scalar(select(CallbackRequest.status)) == "cancelled"
    finally:
        context.close()
    assert errors == []


def test_the_simulator_rings_her_number_she_answers_talks_and_the_page_says_done(
    browser: Any, live_server: LiveServer, app: Any
) -> None:
    agent_id = _agent()
    context, page, errors = _phone(browser, live_server, "id-ID")
    try:
        _request_callback(page)
        callback_id = db.session.scalar(select(CallbackRequest.id))
        item_id = _accept(agent_id, "callback", callback_id)
        _run_jobs("app.telephony.tasks.place_callback")
        expect(page.locator("#ringing")).to_be_visible()
        screenshot(page, "c2c-9-callback-ringing-id")
        sim = app.extensions[SIMULATOR_KEY]
        with sim.lock:
            softphone = sim.agent_softphone(agent_id, item_id)  # the agent waits in the conference
        page.get_by_role("button", name="Jawab").click()
        expect(page.locator("#on-phone-text")).to_have_text("Terhubung dengan petugas. Silakan bicara.")
        screenshot(page, "c2c-10-callback-connected-id")
        with sim.lock:
            softphone.hangup()
        expect(page.locator("#phase")).to_have_text("Selesai: kami sudah berbicara dengan Anda")
        screenshot(page, "c2c-11-callback-done-id")
    finally:
        context.close()
    assert errors == []


def _with_twilio(app: Any) -> None:
    app.config.update(
        TWILIO_ACCOUNT_SID="AC" + "1" * 32,
        TWILIO_AUTH_TOKEN="auth-token",  # noqa: S106
        TWILIO_API_KEY="SK" + "1" * 32,
        TWILIO_API_SECRET="test-api-secret-of-thirty-two-bytes!",  # noqa: S106
        TWILIO_TWIML_APP_SID="AP" + "2" * 32,
    )


@pytest.fixture
def browser_with_microphone(browser: Any) -> Any:
    """Chromium with a fake microphone (a device exists; whether the site may use it is the
    context's permission, as on a phone)."""
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    with_microphone = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[*CHROMIUM_ARGS, "--use-fake-device-for-media-stream"],
        timeout=30_000,
    )
    try:
        yield with_microphone
    finally:
        with_microphone.close()


@pytest.mark.parametrize("permitted", [False, True], ids=["refused", "allowed"])
def test_with_twilio_the_sdk_is_loaded_only_when_she_presses_call_and_after_the_microphone(
    browser_with_microphone: Any, live_server: LiveServer, app: Any, permitted: bool
) -> None:
    _with_twilio(app)
    context = browser_with_microphone.new_context(
        base_url=live_server.url,
        locale="id-ID",
        viewport=PHONE_VIEWPORT,
        permissions=["microphone"] if permitted else [],
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    loaded: list[str] = []
    page.on("request", lambda request: loaded.append(request.url))
    try:
        page.goto("/call")
        expect(page.locator("#mic-explain")).to_contain_text("mikrofon")
        page.wait_for_load_state("networkidle")
        assert not [url for url in loaded if "twilio-voice" in url]
        call_button = page.get_by_role("button", name=re.compile("Telepon sekarang"))
        if not permitted:
            call_button.click()
            expect(page.locator("#call-error")).to_contain_text("Anda tidak mengizinkan mikrofon")
            screenshot(page, "c2c-13-twilio-mic-refused-id")
            assert not [url for url in loaded if "twilio-voice" in url or "/call/start" in url]
        else:
            with page.expect_response(re.compile(r"/call/start$")) as started:
                call_button.click()
            assert started.value.status == 200
            page.wait_for_function("() => window.Twilio && typeof window.Twilio.Device === 'function'")
            db.session.expire_all()
            assert db.session.scalar(select(CallRequest.topic)) == "other"
            # Twilio's servers are out of reach here (or refuse a test token): she is told.
            expect(page.locator("#call-over-text")).to_contain_text(
                re.compile("Panggilan terputus|Panggilan tidak dapat dimulai"), timeout=20_000
            )
            screenshot(page, "c2c-14-twilio-unreachable-id")
    finally:
        context.close()
    assert errors == []


def test_with_twilio_a_phone_without_a_microphone_is_told_so(
    browser: Any, live_server: LiveServer, app: Any
) -> None:
    _with_twilio(app)
    context, page, errors = _phone(browser, live_server, "id-ID")
    loaded: list[str] = []
    page.on("request", lambda request: loaded.append(request.url))
    try:
        page.goto("/call")
        expect(page.locator("#mic-explain")).to_contain_text("mikrofon")
        page.wait_for_load_state("networkidle")
        assert not [url for url in loaded if "twilio-voice" in url]
        screenshot(page, "c2c-12-twilio-mic-explained-id")
        page.get_by_role("button", name=re.compile("Telepon sekarang")).click()
        error = page.locator("#call-error")
        expect(error).to_be_visible()
        expect(error).to_contain_text("Mikrofon tidak ditemukan di perangkat ini.")
        screenshot(page, "c2c-13-twilio-no-microphone-id")
        assert not [url for url in loaded if "twilio-voice" in url or "/call/start" in url]
    finally:
        context.close()
    assert errors == []
