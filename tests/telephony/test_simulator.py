"""The simulator's TwiML interpreter, against canned documents (the real webhooks: test_end_to_end)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from twilio.request_validator import RequestValidator

from app.telephony.signature import webhook_token
from app.telephony.simulator import Simulator, SimulatorError


@dataclass
class _Response:
    status_code: int
    body: str

    def get_data(self, as_text: bool = True) -> str:
        return self.body


class CannedClient:
    def __init__(self, documents: dict[str, str]) -> None:
        self.documents = documents
        self.requests: list[tuple[str, dict[str, str], str]] = []

    def post(self, path, *, data, headers):  # type: ignore[no-untyped-def]
        self.requests.append((path, data, headers["X-Twilio-Signature"]))
        body = self.documents.get(path.split("?")[0], "")
        return _Response(200, f'<?xml version="1.0"?><Response>{body}</Response>' if body else "")


def _sim(app, documents):
    client = CannedClient(documents)
    return Simulator(app, client), client


def test_requests_are_signed_like_twilios(app):
    sim, client = _sim(app, {"/telephony/voice/inbound": "<Hangup/>"})
    sim.dial_in("+85291234567")
    validator = RequestValidator(webhook_token(app))
    for path, data, signature in client.requests:
        assert validator.validate(f"http://localhost{path}", data, signature), path


def test_say_play_pause_then_the_end_of_the_document_hangs_up(app):
    docs = {
        "/telephony/voice/inbound": '<Say language="en-US">hello</Say><Play>http://x/a.mp3</Play><Pause length="1"/>'
    }
    sim, client = _sim(app, docs)
    leg = sim.dial_in("+85291234567")
    assert [h.verb for h in leg.heard] == ["Say", "Play", "Pause"]
    assert leg.state == "ended"
    assert client.requests[-1][0] == "/telephony/voice/status"
    assert client.requests[-1][1]["CallStatus"] == "completed"


def test_gather_posts_digits_to_its_action_and_redirect_follows(app):
    docs = {
        "/telephony/voice/inbound": '<Gather action="/g" numDigits="1"><Say>menu</Say></Gather><Say>after</Say>',
        "/g": "<Redirect>/r</Redirect>",
        "/r": "<Dial><Number>+6281234567890</Number></Dial>",
    }
    sim, client = _sim(app, docs)
    leg = sim.dial_in("+85291234567")
    assert leg.state == "gather"
    leg.press("5")
    assert ("/g", "5") == (client.requests[1][0], client.requests[1][1]["Digits"])
    assert leg.state == "dialing" and leg.dialled[0].verb == "Number"


def test_silence_at_a_gather_runs_the_next_verb(app):
    sim, _ = _sim(
        app, {"/telephony/voice/inbound": '<Gather action="/g"><Say>menu</Say></Gather><Say>after</Say>'}
    )
    leg = sim.dial_in("+85291234567")
    leg.timeout()
    assert leg.said() == ["menu", "after"] and leg.state == "ended"


def test_enqueue_fetches_the_wait_url_and_leave_calls_the_action(app):
    docs = {
        "/telephony/voice/inbound": '<Enqueue action="/exit" waitUrl="/wait">q</Enqueue>',
        "/wait": "<Say>hold</Say><Leave/>",
        "/exit": "<Say>bye</Say><Hangup/>",
    }
    sim, client = _sim(app, docs)
    leg = sim.dial_in("+85291234567")
    assert leg.said() == ["hold", "bye"]
    exit_request = next(data for path, data, _ in client.requests if path == "/exit")
    assert exit_request["QueueResult"] == "leave"


def test_a_verb_not_allowed_in_a_wait_url_is_an_error(app):
    docs = {
        "/telephony/voice/inbound": '<Enqueue action="/exit" waitUrl="/wait">q</Enqueue>',
        "/wait": "<Record/>",
    }
    sim, _ = _sim(app, docs)
    with pytest.raises(SimulatorError, match="not allowed in a wait URL"):
        sim.dial_in("+85291234567")


def test_record_posts_the_recording_to_its_action_and_status_callback(app):
    docs = {
        "/telephony/voice/inbound": '<Record action="/done" recordingStatusCallback="/rec"/>',
        "/done": "<Hangup/>",
    }
    sim, client = _sim(app, docs)
    leg = sim.dial_in("+85291234567")
    assert leg.state == "recording"
    leg.finish_recording(9)
    paths = [path for path, _, _ in client.requests]
    assert paths[1:3] == ["/rec", "/done"]
    assert client.requests[2][1]["RecordingDuration"] == "9"


def test_pressing_keys_nobody_listens_for_is_an_error(app):
    sim, _ = _sim(app, {"/telephony/voice/inbound": '<Record action="/done"/>'})
    leg = sim.dial_in("+85291234567")
    with pytest.raises(SimulatorError):
        leg.press("1")
