"""A supervisor joins a live call from the wallboard in real Chromium (issue 15), in simulator mode
with nothing injected: a worker calls from ``/call`` and an agent answers in the console (as in
test_journeys.py); the supervisor, signed in through the login form, finds the call among the
calls in progress on the wallboard and whispers; the agent's console says the supervisor is
coaching them; the supervisor barges in, then leaves, and the console follows. In Bahasa
Indonesia and in English; labels, never codes. Screenshots: test-artifacts/screenshots/
supervise-<lang>-*.png.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TIMEOUT_MS, screenshot
from tests.browser.test_journeys import (  # noqa: F401 - fixtures
    WORDS,
    Browsers,
    _agent_accepts,
    _agent_ready,
    _no_codes,
    _sign_in,
    _worker_calls,
    jobs_worker,
    open_hours,
    people,
)
from tests.factories import make_member
from tests.live import staff_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AGENT = {"id": "Sri Wahyuni", "en": "Budi Santoso"}
SUPERVISOR = "Ratna Dewi"
SAYS = {
    "id": {
        "whisper_button": "Bisikkan",
        "barge_button": "Ikut bicara",
        "leave": "Keluar dari panggilan",
        "coaching": "Anda membimbing {agent}: hanya agen yang mendengar Anda.",
        "barged": "Anda berada di panggilan {agent}: penelepon dan agen mendengar Anda.",
        "hears": "Anda mendengar: penelepon, agen · Didengar oleh: agen",
        "hears_barge": "Anda mendengar: penelepon, agen · Didengar oleh: penelepon, agen",
        "left": "Anda telah keluar dari panggilan.",
        "console_whisper": f"{SUPERVISOR} (supervisor) sedang membimbing Anda: hanya Anda yang mendengarnya.",
        "console_barge": f"{SUPERVISOR} (supervisor) ikut dalam panggilan: penelepon juga mendengarnya.",
        "row": ["Bahasa Indonesia", "Klaim JHT", "Arab Saudi"],
    },
    "en": {
        "whisper_button": "Whisper",
        "barge_button": "Barge in",
        "leave": "Leave the call",
        "coaching": "You are coaching {agent}: only the agent hears you.",
        "barged": "You are on {agent}'s call: the caller and the agent hear you.",
        "hears": "You hear: the caller, the agent · Heard by: the agent",
        "hears_barge": "You hear: the caller, the agent · Heard by: the caller, the agent",
        "left": "You have left the call.",
        "console_whisper": f"{SUPERVISOR} (supervisor) is coaching you: only you hear them.",
        "console_barge": f"{SUPERVISOR} (supervisor) has joined the call: the caller hears them too.",
        "row": ["English", "JHT claim", "Saudi Arabia"],
    },
}


def _wallboard(browsers: Browsers, lang: str) -> Any:
    supervisor = staff_user("supervisor", name=SUPERVISOR, language=lang)
    page = browsers.open(WORDS[lang].locale, {"width": 1366, "height": 900})
    _sign_in(page, supervisor.email)
    page.goto("/supervisor/wallboard")
    expect(page.locator("#realtime-status")).to_have_attribute("data-state", "connected")
    return page


@pytest.mark.parametrize("lang", ["id", "en"])
def test_a_supervisor_whispers_to_an_agent_from_the_wallboard_and_the_console_shows_it(
    people: Browsers,  # noqa: F811 - the fixture
    lang: str,
) -> None:
    says, shot = SAYS[lang], f"supervise-{lang}"
    make_member(kpj="26000000042", name="Siti Rahayu", name_key="siti rahayu", placement_country="SA")
    console = _agent_ready(people, lang, shot)
    worker = _worker_calls(people, lang, shot)
    _agent_accepts(console, shot)
    expect(worker.locator("#call-state")).to_have_text(WORDS[lang].connected)

    wallboard = _wallboard(people, lang)
    agent = AGENT[lang]
    row = wallboard.locator("#wb-calls tr[data-call]").filter(has_text=agent)
    expect(row).to_have_count(1, timeout=TIMEOUT_MS * 2)
    for text in says["row"]:  # language, topic, country: by their names
        expect(row).to_contain_text(text)
    expect(row.locator("td[data-talk-since]")).to_have_text(re.compile(r"^0:\d\d$"))  # seconds, not hours
    expect(row.locator("td").nth(3)).to_have_text(re.compile(r"^10[.:]0\d WIB$"))  # answered at, the reader's zone
    expect(wallboard.locator("#wb-listen")).to_be_hidden()  # not on a call yet
    screenshot(wallboard, f"{shot}-1-wallboard-call-in-progress")
    _no_codes(wallboard, lang, "wallboard")

    # Whisper: only the agent hears the supervisor.
    row.get_by_role("button", name=f"{says['whisper_button']}: {agent}").click()
    panel = wallboard.locator("#wb-listen")
    expect(panel).to_have_attribute("data-state", "joined", timeout=TIMEOUT_MS * 2)
    expect(wallboard.locator("#wb-listen-status")).to_have_text(says["coaching"].format(agent=agent))
    expect(wallboard.locator("#wb-listen-hears")).to_have_text(says["hears"])
    expect(panel.locator('button[data-mode="whisper"]')).to_have_attribute("aria-pressed", "true")
    expect(wallboard.locator("#wb-calls tr.wb-mine")).to_contain_text(f"{SUPERVISOR} ({says['whisper_button']})")
    note = console.locator("#supervision-note")
    expect(note).to_have_text(says["console_whisper"])
    expect(note.locator("li")).to_have_attribute("data-mode", "whisper")
    screenshot(wallboard, f"{shot}-2-wallboard-whispering")
    screenshot(console, f"{shot}-3-console-coached")
    _no_codes(wallboard, lang, "wallboard while whispering")
    _no_codes(console, lang, "console while coached")

    # Barge in: both hear the supervisor now (the worker tells the provider, the line follows).
    panel.get_by_role("button", name=says["barge_button"], exact=True).click()
    expect(wallboard.locator("#wb-listen-status")).to_have_text(says["barged"].format(agent=agent), timeout=TIMEOUT_MS * 2)
    expect(wallboard.locator("#wb-listen-hears")).to_have_text(says["hears_barge"], timeout=TIMEOUT_MS * 2)
    expect(note).to_have_text(says["console_barge"], timeout=TIMEOUT_MS * 2)
    expect(wallboard.locator("#wb-calls tr.wb-mine")).to_contain_text(f"{SUPERVISOR} ({says['barge_button']})")
    screenshot(wallboard, f"{shot}-4-wallboard-barged-in")
    screenshot(console, f"{shot}-5-console-supervisor-on-the-call")

    # Leave: the console no longer shows anyone; the call goes on.
    panel.get_by_role("button", name=says["leave"], exact=True).click()
    expect(wallboard.locator("#wb-listen-status")).to_have_text(says["left"])
    expect(wallboard.locator("#wb-listen .wb-modes")).to_be_hidden()
    expect(row.locator("td").nth(5)).to_have_text("—")  # no supervisor on the call any more
    expect(wallboard.locator("#wb-calls tr.wb-mine")).to_have_count(0)
    expect(note).to_be_hidden()
    expect(console.locator("#softphone")).to_have_attribute("data-state", "in_call")
    expect(worker.locator("#call-state")).to_have_text(WORDS[lang].connected)
    screenshot(wallboard, f"{shot}-6-wallboard-left")
    screenshot(console, f"{shot}-7-console-after")
