"""The console's Twilio softphone in real Chromium, with a fake ``Twilio.Device`` injected.

The app is configured with a Twilio account, so the console loads the Voice SDK and uses it.
The test serves an empty file in place of the vendored SDK and injects (``add_init_script``) a
``Twilio.Device`` that records what the console asks of it and lets the test play Twilio's part:
registration, the call being accepted, the token about to expire, errors.
"""

from __future__ import annotations

import re
from typing import Any

import jwt
import pytest
from playwright.sync_api import expect

from app.agents import routing
from app.agents.routing import presence as presence_svc
from app.extensions import db
from tests.browser.conftest import screenshot
from tests.live import PASSWORD, staff_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]

API_SECRET = "browser-test-api-secret-not-for-production"  # noqa: S105 - test value

FAKE_DEVICE = """
(() => {
  const log = window.__twilio = { devices: [], calls: [], connectError: null };
  class Emitter {
    constructor() { this.handlers = {}; }
    on(name, handler) { (this.handlers[name] = this.handlers[name] || []).push(handler); return this; }
    emit(name, ...args) { (this.handlers[name] || []).forEach((h) => h(...args)); }
  }
  class FakeCall extends Emitter {
    constructor(params) { super(); this.params = params; this.muted = false; this.mutes = []; this.disconnected = 0; }
    mute(value) { this.muted = value !== false; this.mutes.push(this.muted); this.emit("mute", this.muted, this); }
    isMuted() { return this.muted; }
    disconnect() { this.disconnected += 1; this.emit("disconnect", this); }
  }
  class FakeDevice extends Emitter {
    constructor(token, options) {
      super();
      this.token = token; this.options = options; this.registered = 0; this.updatedTokens = []; this.connects = [];
      log.devices.push(this);
    }
    register() { this.registered += 1; setTimeout(() => this.emit("registered"), 10); return Promise.resolve(); }
    updateToken(token) { this.updatedTokens.push(token); }
    connect(options) {
      this.connects.push(options);
      if (log.connectError) return Promise.reject(log.connectError);
      const call = new FakeCall(options.params);
      log.calls.push(call);
      return Promise.resolve(call);
    }
  }
  window.Twilio = { Device: FakeDevice };
})();
"""


@pytest.fixture
def twilio_app(app):  # type: ignore[no-untyped-def]
    settings = {
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "auth-token",
        "TWILIO_API_KEY": "SK" + "2" * 32,
        "TWILIO_API_SECRET": API_SECRET,
        "TWILIO_TWIML_APP_SID": "AP" + "3" * 32,
    }
    app.config.update(settings)
    yield app
    app.config.update({name: None for name in settings})


def _fake_twilio(page: Any) -> None:
    page.route(
        re.compile(r".*/static/vendor/twilio-voice\.min\.js.*"),
        lambda route: route.fulfill(body="/* replaced by the test's fake Device */", content_type="text/javascript"),
    )
    page.add_init_script(FAKE_DEVICE)


def _sign_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form:not(.inline) button[type=submit]")
    expect(page).to_have_url(re.compile(r"/staff/$"))
    page.goto("/console/")
    expect(page.locator("#realtime-status")).to_have_attribute("data-state", "connected")


def _messages(page: Any) -> dict[str, str]:
    return page.evaluate("JSON.parse(document.getElementById('console-i18n').textContent)")


def _offered_and_accepted(page: Any, agent_id: int) -> int:
    page.select_option("#state-switcher", "available")
    page.click("#state-apply")
    expect(page.locator("#my-state")).to_have_attribute("data-state", "available")
    work = routing.enqueue("call", 9001, language="id", topic="claim_jht", country="TW")
    db.session.commit()
    expect(page.locator("#offer")).to_have_attribute("data-work-item", str(work.id))
    page.click("#offer-accept")
    expect(page.locator("#my-state")).to_have_attribute("data-state", "on_call")
    return work.id


def test_the_console_registers_a_device_connects_the_accepted_call_and_controls_it(
    page: Any, live_server, twilio_app
):
    agent = staff_user("agent", language="en")
    presence_svc.set_skills(agent.id, languages=["id"])
    db.session.commit()
    _fake_twilio(page)
    _sign_in(page, agent.email)
    text = _messages(page)

    # One Device, built with this agent's token, registered.
    softphone = page.locator("#softphone")
    expect(softphone).to_have_attribute("data-state", "ready")
    expect(page.locator("#softphone-status")).to_contain_text(f"agent:{agent.id}")
    device = page.evaluate("({n: __twilio.devices.length, token: __twilio.devices[0].token, registered: __twilio.devices[0].registered})")
    assert device["n"] == 1 and device["registered"] == 1
    claims = jwt.decode(device["token"], API_SECRET, algorithms=["HS256"])
    assert claims["grants"]["identity"] == f"agent:{agent.id}"
    expect(page.locator("#softphone-mute")).to_be_hidden()

    # Accepting the offer calls the TwiML App with the work item.
    work_id = _offered_and_accepted(page, agent.id)
    page.wait_for_function("() => __twilio.devices[0].connects.length === 1")
    assert page.evaluate("__twilio.devices[0].connects[0]") == {"params": {"WorkItemId": str(work_id)}}
    expect(softphone).to_have_attribute("data-state", "connecting")
    expect(page.locator("#softphone-status")).to_have_text(text["softphone_connecting"])

    # Twilio connects the call: on the call, with mute and hang-up.
    page.evaluate("__twilio.calls[0].emit('accept', __twilio.calls[0])")
    expect(softphone).to_have_attribute("data-state", "in_call")
    expect(page.locator("#softphone-status")).to_have_text(text["softphone_in_call"])
    mute = page.locator("#softphone-mute")
    expect(mute).to_be_visible()
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    expect(mute).to_have_text(text["softphone_unmute"])
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("__twilio.calls[0].mutes") == [True, False]
    screenshot(page, "softphone-in-call")

    # The token is refreshed before it expires.
    page.evaluate("__twilio.devices[0].emit('tokenWillExpire', __twilio.devices[0])")
    page.wait_for_function("() => __twilio.devices[0].updatedTokens.length === 1")
    fresh = page.evaluate("__twilio.devices[0].updatedTokens[0]")
    assert jwt.decode(fresh, API_SECRET, algorithms=["HS256"])["grants"]["identity"] == f"agent:{agent.id}"

    # Hanging up ends the call leg.
    page.click("#softphone-hangup")
    expect(softphone).to_have_attribute("data-state", "ended")
    expect(page.locator("#softphone-status")).to_have_text(text["softphone_ended"])
    assert page.evaluate("__twilio.calls[0].disconnected") == 1
    expect(page.locator("#softphone-hangup")).to_be_hidden()


def test_a_refused_microphone_is_explained_in_english(page: Any, live_server, twilio_app):
    agent = staff_user("agent", language="en")
    presence_svc.set_skills(agent.id, languages=["id"])
    db.session.commit()
    _fake_twilio(page)
    _sign_in(page, agent.email)
    expect(page.locator("#softphone")).to_have_attribute("data-state", "ready")
    page.evaluate("__twilio.connectError = {code: 31401, name: 'PermissionDeniedError', message: 'denied'}")
    _offered_and_accepted(page, agent.id)
    expect(page.locator("#softphone")).to_have_attribute("data-state", "error")
    expect(page.locator("#softphone-status")).to_contain_text("Microphone access was refused")
    screenshot(page, "softphone-microphone-refused")


def test_token_failures_are_explained_in_indonesian(page: Any, live_server, twilio_app):
    agent = staff_user("agent", language="id")
    db.session.commit()
    _fake_twilio(page)
    _sign_in(page, agent.email)
    expect(page.locator("#softphone")).to_have_attribute("data-state", "ready")
    text = _messages(page)
    assert text["softphone_token_failed"] != "The softphone could not sign in to the telephone service."
    # Twilio refuses the token (expired): the console says so, in the agent's language.
    page.evaluate("__twilio.devices[0].emit('error', {code: 20104, message: 'AccessTokenExpired'})")
    expect(page.locator("#softphone")).to_have_attribute("data-state", "error")
    expect(page.locator("#softphone-status")).to_have_text(text["softphone_token_failed"])
    assert "telepon" in text["softphone_token_failed"]  # Bahasa Indonesia

    # The server cannot issue a token at all: its own message is shown.
    twilio_app.config["TWILIO_API_KEY"] = None
    page.reload()
    expect(page.locator("#softphone")).to_have_attribute("data-state", "error")
    expect(page.locator("#softphone-status")).to_have_text(
        "Sistem telepon belum dikonfigurasi: softphone tidak tersedia."
    )
    assert page.evaluate("__twilio.devices.length") == 0
