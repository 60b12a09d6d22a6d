"""Provider contract: every REST request matches Twilio's OpenAPI document; errors never dial twice."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.telephony import twiml
from app.telephony.clicktocall import create_callback
from app.telephony.models import CallbackAttempt, CallbackRequest
from app.telephony.provider import ProviderError
from app.telephony.providers import get_provider
from app.telephony.simulated_provider import SimulatorProvider
from app.telephony.tasks import place_callback
from app.telephony.twilio_provider import TwilioProvider
from tests.telephony.oai import ContractViolation, OpenAPICheckedHttpClient

ACCOUNT = "AC" + "a" * 32
CONFIG = {
    "TWILIO_ACCOUNT_SID": ACCOUNT,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_API_KEY": "SK" + "b" * 32,
    "TWILIO_API_SECRET": "secret",
}


@pytest.fixture
def fake():
    return OpenAPICheckedHttpClient()


@pytest.fixture
def provider(fake):
    return TwilioProvider(CONFIG, http_client=fake)


def test_the_checker_catches_a_wrong_parameter_name(fake):
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    with pytest.raises(ContractViolation, match="unknown parameter"):
        fake.check("POST", url, None, {"To": "+1", "From": "+1", "StatusCallbackEvents": "ringing"})


def test_the_checker_catches_a_bad_enum_value(fake):
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    with pytest.raises(ContractViolation, match="not in"):
        fake.check("POST", url, None, {"To": "+1", "From": "+1", "StatusCallbackEvent": ["answerd"]})
    with pytest.raises(ContractViolation, match="not in"):
        fake.check("POST", url, None, {"To": "+1", "From": "+1", "Method": "PUT"})


def test_the_checker_catches_a_missing_required_parameter_and_unknown_operations(fake):
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    with pytest.raises(ContractViolation, match="missing required From"):
        fake.check("POST", url, None, {"To": "+1"})
    with pytest.raises(ContractViolation, match="no operation"):
        fake.check(
            "POST", f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Dial.json", None, {"To": "+1"}
        )


def test_create_call_matches_the_contract(provider, fake):
    sid = provider.create_call(
        to="+886912345678",
        from_="+622150001234",
        url="https://x.example/a",
        status_callback="https://x.example/telephony/voice/status",
    )
    assert sid.startswith("CA")
    [request] = fake.requests
    assert request["method"] == "POST" and request["url"].endswith(f"/Accounts/{ACCOUNT}/Calls.json")
    assert request["data"]["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert request["auth"] == ("SK" + "b" * 32, "secret")


def test_update_call_with_twiml_matches_the_contract(provider, fake, app):
    with app.test_request_context():
        document = str(twiml.conference("call-1", language="id", agent=False))
    provider.update_call("CA" + "c" * 32, twiml=document)
    assert fake.requests[0]["data"]["Twiml"].startswith("<?xml")


def test_sms_and_recording_fetch_match_the_contract(provider, fake):
    assert provider.send_sms(to="+886912345678", from_="+622150001234", body="hi").startswith("SM")
    info = provider.fetch_recording("RE" + "d" * 32)
    assert info["sid"].startswith("RE")
    assert [r["method"] for r in fake.requests] == ["POST", "GET"]


def test_4xx_is_a_permanent_error(provider, fake):
    fake.fail_next(400, 21211, "Invalid 'To' Phone Number")
    with pytest.raises(ProviderError) as caught:
        provider.create_call(
            to="+886912345678", from_="+62", url="https://x/a", status_callback="https://x/s"
        )
    assert caught.value.permanent and caught.value.code == 21211


def test_5xx_and_429_are_transient(provider, fake):
    fake.fail_next(503)
    with pytest.raises(ProviderError) as caught:
        provider.create_call(
            to="+886912345678", from_="+62", url="https://x/a", status_callback="https://x/s"
        )
    assert not caught.value.permanent
    fake.fail_next(429, 20429)
    with pytest.raises(ProviderError) as caught:
        provider.send_sms(to="+886912345678", from_="+62", body="x")
    assert not caught.value.permanent


def test_without_credentials_the_simulator_is_the_provider(app):
    assert isinstance(get_provider(app), SimulatorProvider)
    app.config.update(TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_AUTH_TOKEN="t")
    assert isinstance(get_provider(app), TwilioProvider)


class _Item:
    def __init__(self, item_id, ref_id):
        self.id, self.kind, self.ref_id, self.agent_id = item_id, "callback", ref_id, None


@pytest.fixture
def callback_item(app, clock, monkeypatch, fake):
    app.extensions["telephony_provider"] = TwilioProvider(CONFIG, http_client=fake)
    app.config["PUBLIC_BASE_URL"] = "https://calls.example.org"
    callback = create_callback(phone="+886912345678", language="id", topic="other")
    db.session.commit()
    items = {77: _Item(77, callback.id), 78: _Item(78, callback.id)}
    monkeypatch.setattr("app.telephony.integration.work_item", lambda item_id: items.get(item_id))
    monkeypatch.setattr("app.telephony.integration.cancel", lambda *a, **k: None)
    yield callback.id
    app.extensions.pop("telephony_provider", None)


def test_a_redelivered_place_callback_job_never_dials_twice(callback_item, fake):
    place_callback(77)
    db.session.commit()
    place_callback(77)
    db.session.commit()
    calls = [r for r in fake.requests if r["url"].endswith("/Calls.json")]
    assert len(calls) == 1
    assert (
        calls[0]["data"]["Url"]
        == f"https://calls.example.org/telephony/voice/callback-answer?callback={callback_item}"
    )
    assert calls[0]["data"]["StatusCallback"] == "https://calls.example.org/telephony/voice/status"
    attempt = db.session.scalar(select(CallbackAttempt))
    assert attempt.status == "dialed" and attempt.call_sid.startswith("CA")


def test_a_refused_number_fails_clearly_without_retry(callback_item, fake):
    fake.fail_next(400, 21215, "Geo permission")
    place_callback(77)
    db.session.commit()
    callback = db.session.get(CallbackRequest, callback_item)
    assert callback.status == "failed"
    assert db.session.scalar(select(CallbackAttempt.status)) == "error"
    assert len(fake.requests) == 1


def test_a_provider_outage_is_not_answered_with_a_blind_redial(callback_item, fake):
    """A 500 does not say whether Twilio placed the call: the attempt stays "dialing" for the
    housekeeping to ask (tests/telephony/test_dial_recovery.py), no new attempt is scheduled.
    (It used to schedule one, which rang her phone a second time if the first call went out.)"""
    fake.fail_next(500)
    place_callback(77)
    db.session.commit()
    callback = db.session.get(CallbackRequest, callback_item)
    assert callback.status == "dialing" and callback.attempts == 1 and callback.next_attempt_at is None
    attempt = db.session.scalar(select(CallbackAttempt))
    assert attempt.status == "dialing" and "500" in attempt.error
    place_callback(77)  # a redelivered job
    db.session.commit()
    assert len(fake.requests) == 1


def test_errors_say_whether_twilio_did_nothing(provider, fake):
    for status, not_done in ((400, True), (429, True), (500, False), (503, False)):
        fake.fail_next(status)
        with pytest.raises(ProviderError) as caught:
            provider.send_sms(to="+886912345678", from_="+62", body="x")
        assert caught.value.not_done is not_done, status


class _CallItem:
    def __init__(self, ref_id, agent_id=None):
        self.id, self.kind, self.ref_id, self.agent_id = 90, "call", ref_id, agent_id
        self.offers = 1


@pytest.fixture
def queued_call(app, clock, fake, monkeypatch):
    from app.telephony import services

    app.extensions["telephony_provider"] = TwilioProvider(CONFIG, http_client=fake)
    call = services.start_call({"CallSid": "CA" + "5" * 32, "From": "+85291234567", "CallStatus": "ringing"})
    db.session.commit()
    monkeypatch.setattr("app.telephony.integration.work_item", lambda item_id: _CallItem(call.id))
    yield call
    app.extensions.pop("telephony_provider", None)


def test_connect_agent_moves_the_caller_into_the_calls_conference(queued_call, fake):
    from app.telephony.tasks import connect_agent

    connect_agent(90)
    [request] = fake.requests
    assert request["url"].endswith(f"/Calls/{queued_call.call_sid}.json")
    assert f">call-{queued_call.id}-90-1</Conference>" in request["data"]["Twiml"]


def test_connect_agent_does_nothing_for_a_call_that_already_ended(queued_call, fake):
    from app.telephony.tasks import connect_agent

    queued_call.move_to("completed")
    db.session.commit()
    connect_agent(90)
    assert fake.requests == []


def test_connect_agent_gives_up_quietly_when_twilio_says_the_call_is_gone(queued_call, fake):
    from app.telephony.tasks import connect_agent

    fake.fail_next(400, 21220, "Call is not in-progress")
    connect_agent(90)  # no exception: rq would only retry a hopeless request
    fake.fail_next(503)
    with pytest.raises(ProviderError):
        connect_agent(90)  # transient: raised so rq retries (a second redirect is harmless)


def test_fetch_recording_keeps_our_reference_and_the_duration(app, clock, fake):
    from app.telephony.models import Recording
    from app.telephony.tasks import fetch_recording

    app.extensions["telephony_provider"] = TwilioProvider(CONFIG, http_client=fake)
    recording = Recording(sid="RE" + "6" * 32, kind="voicemail", status="completed")
    db.session.add(recording)
    db.session.commit()
    fetch_recording(recording.id)
    assert fake.requests[0]["url"].endswith(f"/Recordings/RE{'6' * 32}.json")
    assert recording.fetched_at is not None and recording.duration is not None
    app.extensions.pop("telephony_provider", None)


# --- supervisors on live calls: conference participant updates (issue 15) --------------------

CONFERENCE = "CF" + "e" * 32
SUPERVISOR_LEG, AGENT_LEG = "CA" + "f" * 32, "CA" + "1" * 32


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("listen", {"Muted": "true", "Coaching": "false"}),
        ("whisper", {"Muted": "false", "Coaching": "true", "CallSidToCoach": AGENT_LEG}),
        ("barge", {"Muted": "false", "Coaching": "false"}),
    ],
)
def test_each_supervision_mode_is_a_participant_update_that_matches_the_contract(provider, fake, mode, expected):
    from app.telephony.supervision import participant_settings

    provider.update_participant(CONFERENCE, SUPERVISOR_LEG, **participant_settings(mode, AGENT_LEG))
    [request] = fake.requests
    assert request["method"] == "POST"
    assert request["url"].endswith(f"/Accounts/{ACCOUNT}/Conferences/{CONFERENCE}/Participants/{SUPERVISOR_LEG}.json")
    assert request["data"] == expected


def test_leaving_removes_the_participant_and_a_leg_already_gone_is_no_error(provider, fake):
    provider.remove_participant(CONFERENCE, SUPERVISOR_LEG)
    fake.fail_next(404, 20404, "not found")
    provider.remove_participant(CONFERENCE, SUPERVISOR_LEG)  # the browser hung up first
    assert [r["method"] for r in fake.requests] == ["DELETE", "DELETE"]
    assert fake.requests[0]["url"].endswith(f"/Conferences/{CONFERENCE}/Participants/{SUPERVISOR_LEG}.json")
    fake.fail_next(500)
    with pytest.raises(ProviderError) as caught:
        provider.remove_participant(CONFERENCE, SUPERVISOR_LEG)
    assert not caught.value.permanent


def test_coaching_without_the_leg_to_coach_is_refused_before_any_request(provider, fake):
    with pytest.raises(ValueError, match="coach"):
        provider.update_participant(CONFERENCE, SUPERVISOR_LEG, muted=False, coaching=True)
    assert fake.requests == []


def test_the_checker_catches_a_conference_named_instead_of_its_sid(fake):
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Conferences/call-1-2-1/Participants/{SUPERVISOR_LEG}.json"
    with pytest.raises(ContractViolation, match="ConferenceSid"):
        fake.check("POST", url, None, {"Muted": "true"})
