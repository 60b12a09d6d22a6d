"""Call recording with consent: the notice, declining with a key, recorded conferences, and
playback through the app for the staff allowed to hear it (every playback audited)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from app.core.audit import AuditEvent
from app.core.jobs import OutboxIntent
from app.extensions import db
from app.telephony.models import Call, CallEvent, Recording
from app.telephony.prompts import text
from app.telephony.provider import ProviderError
from app.telephony.twilio_provider import TwilioProvider
from tests.telephony.conftest import call_params, parse, verbs
from tests.telephony.oai import OpenAPICheckedHttpClient
from tests.telephony.test_end_to_end import _accept, _available_agent, _run_jobs

SID = "CA" + "7" * 32


@pytest.fixture
def recording_on(app):  # type: ignore[no-untyped-def]
    app.config["TELEPHONY_RECORD_CALLS"] = True
    yield
    app.config["TELEPHONY_RECORD_CALLS"] = False


def _to_topic(post, language_digit: str = "1", sid: str = SID):  # type: ignore[no-untyped-def]
    post("/telephony/voice/inbound", call_params(sid))
    post("/telephony/voice/language", call_params(sid, Digits=language_digit))
    post("/telephony/voice/kpj", call_params(sid, Digits=""))
    return post("/telephony/voice/topic?lang=id", call_params(sid, Digits="4"))


def _conference(root: ET.Element) -> ET.Element:
    conference = root.find("./Dial/Conference")
    assert conference is not None, ET.tostring(root)
    return conference


def _recorded_call(sim, clock, *, press: str | None):  # type: ignore[no-untyped-def]
    """A worker calls, answers the recording notice (silence or a key), is answered, hangs up."""
    agent_id = _available_agent()
    phone = sim.dial_in("+85291234567")
    phone.press("1")
    phone.press("#")
    phone.press("4")
    assert phone.state == "gather" and phone.last_said() == text("recording_notice", "id")
    if press is None:
        phone.timeout()
    else:
        phone.press(press)
    assert phone.state == "queued"
    call = db.session.scalar(select(Call).where(Call.call_sid == phone.sid))
    item = _accept(agent_id, "call", call.id)
    item_id, call_id = item.id, call.id
    assert _run_jobs("app.telephony.tasks.connect_agent") == 1
    sim.poll()
    softphone = sim.agent_softphone(agent_id, item_id)
    assert phone.state == softphone.state == "conference"
    clock.advance(95)
    softphone.hangup()
    return agent_id, call_id, phone, softphone


@pytest.mark.parametrize(("digit", "language"), [("1", "id"), ("2", "en")])
def test_with_recording_on_the_caller_hears_the_notice_before_the_queue(
    post, clock, recording_on, digit, language
):
    root = parse(_to_topic(post, digit))
    assert verbs(root) == ["Gather", "Redirect"]
    gather = root.find("./Gather")
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == f"/telephony/voice/consent?lang={language}"
    assert gather.find("./Say").text == text("recording_notice", language)
    assert root.find("./Redirect").text == f"/telephony/voice/consent?lang={language}"
    call = db.session.scalar(select(Call))
    assert call.record_consent is None
    # Not queued yet: no agent can join before the caller's answer is known.
    assert db.session.scalar(select(CallEvent).where(CallEvent.kind == "queued")) is None


def test_silence_accepts_and_the_queue_follows(post, clock, recording_on):
    _to_topic(post)
    root = parse(post("/telephony/voice/consent?lang=id", call_params(SID)))
    assert root.find("./Enqueue") is not None
    assert text("recording_declined", "id") not in [s.text for s in root.iter("Say")]
    assert db.session.scalar(select(Call.record_consent)) == "accepted"


def test_a_key_declines_and_the_caller_is_told(post, clock, recording_on):
    _to_topic(post)
    root = parse(post("/telephony/voice/consent?lang=id", call_params(SID, Digits="5")))
    assert root.find("./Say").text == text("recording_declined", "id")
    assert root.find("./Enqueue") is not None
    # A replayed (or second) answer does not change the first one.
    post("/telephony/voice/consent?lang=id", call_params(SID))
    assert db.session.scalar(select(Call.record_consent)) == "declined"


def test_with_recording_off_there_is_no_notice_and_no_recording(post, clock):
    root = parse(_to_topic(post))
    assert root.find("./Enqueue") is not None
    assert text("recording_notice", "id") not in [s.text for s in root.iter("Say")]


def test_an_accepted_call_is_recorded_from_the_start_on_every_leg(sim, clock, recording_on):
    agent_id, call_id, phone, softphone = _recorded_call(sim, clock, press=None)
    callback = f"/telephony/voice/recording?call={call_id}"
    for leg in (phone, softphone):
        conference = leg.dialled[-1]
        assert conference.attrs["record"] == "record-from-start"
        assert conference.attrs["recordingStatusCallback"].endswith(callback)
    # The simulated conference reported its recording; we keep the reference only.
    [recording] = db.session.scalars(select(Recording)).all()
    assert recording.kind == "call" and recording.call_id == call_id
    assert recording.duration == 95
    assert db.session.scalar(
        select(OutboxIntent.id).where(OutboxIntent.key == f"recording:{recording.sid}:fetch")
    )


def test_a_declined_call_is_not_recorded(sim, clock, recording_on):
    _agent_id, _call_id, phone, softphone = _recorded_call(sim, clock, press="3")
    assert text("recording_declined", "id") in phone.said()
    for leg in (phone, softphone):
        assert "record" not in leg.dialled[-1].attrs
    assert sim.recordings == []
    assert db.session.scalars(select(Recording)).all() == []


def test_a_replayed_recording_callback_keeps_one_recording(post, clock, recording_on):
    _to_topic(post)
    post("/telephony/voice/consent?lang=id", call_params(SID))
    call_id = db.session.scalar(select(Call.id))
    values = {
        "AccountSid": "AC" + "0" * 32,
        "ConferenceSid": "CF" + "1" * 32,
        "RecordingSid": "RE" + "1" * 32,
        "RecordingStatus": "completed",
        "RecordingDuration": "42",
        "RecordingSource": "DialConference",
    }
    for _ in range(3):
        assert post(f"/telephony/voice/recording?call={call_id}", values).status_code == 204
    [recording] = db.session.scalars(select(Recording)).all()
    assert (recording.kind, recording.call_id, recording.duration) == ("call", call_id, 42)


def test_an_unsigned_recording_callback_is_refused(client, clock):
    response = client.post("/telephony/voice/recording?call=1", data={"RecordingSid": "RE" + "2" * 32})
    assert response.status_code == 403
    assert db.session.scalars(select(Recording)).all() == []


@pytest.mark.parametrize("press", [None, "9"])
def test_a_call_back_asks_after_the_greeting_and_the_worker_starts_the_conference(
    sim, clock, client, recording_on, press
):
    agent_id = _available_agent()
    response = client.post("/api/v1/callbacks", json={"phone": "+886912345678", "language": "en"})
    callback_id = response.get_json()["id"]
    item = _accept(agent_id, "callback", callback_id)
    item_id = item.id
    assert _run_jobs("app.telephony.tasks.place_callback") == 1
    [leg] = sim.poll()
    softphone = sim.agent_softphone(agent_id, item_id)
    assert softphone.dialled[-1].attrs["startConferenceOnEnter"] == "false"
    leg.answer()
    assert leg.said() == [text("callback_greeting", "en"), text("recording_notice", "en")]
    leg.timeout() if press is None else leg.press(press)
    assert leg.state == "conference"
    worker_conference = leg.dialled[-1].attrs
    assert worker_conference["startConferenceOnEnter"] == "true"
    clock.advance(30)
    leg.hangup()
    softphone.hangup()
    recordings = db.session.scalars(select(Recording)).all()
    if press is None:
        assert worker_conference["record"] == "record-from-start"
        assert [(r.kind, r.duration) for r in recordings] == [("call", 30)]
    else:
        assert "record" not in worker_conference
        assert text("recording_declined", "en") in leg.said()
        assert recordings == []


# --- playback ---------------------------------------------------------------------------------


@pytest.fixture
def recorded(sim, clock, recording_on):  # type: ignore[no-untyped-def]
    agent_id, call_id, _phone, _softphone = _recorded_call(sim, clock, press=None)
    recording = db.session.scalar(select(Recording))
    return {"agent_id": agent_id, "call_id": call_id, "recording_id": recording.id}


def _login_as(auth, user_id: int | None = None, role: str = "agent"):  # type: ignore[no-untyped-def]
    from app.staff.models import User

    user = db.session.get(User, user_id) if user_id else auth.user(role)
    if user_id:
        user.set_password(auth.password)
        db.session.commit()
    auth.login(user)
    return user


def _plays(recording_id: int) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "recording.play", AuditEvent.entity_id == str(recording_id)
            )
        )
    )


def test_the_agent_who_handled_the_call_can_listen_and_each_play_is_audited(client, auth, recorded):
    _login_as(auth, recorded["agent_id"])
    url = f"/telephony/recordings/{recorded['recording_id']}/audio"
    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200
        assert response.mimetype == "audio/wav"
        assert response.data[:4] == b"RIFF" and response.data[8:12] == b"WAVE"
        assert "no-store" in response.headers["Cache-Control"]
    plays = _plays(recorded["recording_id"])
    assert [p.actor_id for p in plays] == [recorded["agent_id"]] * 2
    assert plays[0].detail == {"call_id": recorded["call_id"], "kind": "call"}


def test_another_agent_may_not_listen_and_nothing_is_streamed(client, auth, recorded):
    _login_as(auth)
    response = client.get(f"/telephony/recordings/{recorded['recording_id']}/audio")
    assert response.status_code == 403
    assert _plays(recorded["recording_id"]) == []


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_supervisors_and_admins_may_listen(client, auth, recorded, role):
    user = _login_as(auth, role=role)
    assert client.get(f"/telephony/recordings/{recorded['recording_id']}/audio").status_code == 200
    assert [p.actor_id for p in _plays(recorded["recording_id"])] == [user.id]


def test_anonymous_and_unknown_recordings(client, auth, recorded):
    url = f"/telephony/recordings/{recorded['recording_id']}/audio"
    assert client.get(url, headers={"Accept": "application/json"}).status_code == 401
    _login_as(auth, role="supervisor")
    assert client.get("/telephony/recordings/999999/audio").status_code == 404


def test_the_ticket_page_shows_the_player_only_to_those_allowed(client, auth, recorded):
    call = db.session.get(Call, recorded["call_id"])
    page_url = f"/tickets/{call.ticket_id}"
    audio = f'src="/telephony/recordings/{recorded["recording_id"]}/audio"'
    _login_as(auth, recorded["agent_id"])
    page = client.get(page_url)
    assert page.status_code == 200
    assert audio in page.get_data(as_text=True)
    auth.logout()
    _login_as(auth)  # an agent who was not on the call
    page = client.get(page_url)
    assert page.status_code == 200
    assert audio not in page.get_data(as_text=True)


def test_a_provider_failure_is_a_clear_502_and_the_attempt_stays_audited(
    app, client, auth, recorded, monkeypatch
):
    def broken(self, sid):  # type: ignore[no-untyped-def]
        raise ProviderError("twilio 503: recording media", permanent=False)

    monkeypatch.setattr("app.telephony.simulated_provider.SimulatorProvider.recording_media", broken)
    _login_as(auth, role="supervisor")
    assert client.get(f"/telephony/recordings/{recorded['recording_id']}/audio").status_code == 502
    assert len(_plays(recorded["recording_id"])) == 1


class _FakeMedia:
    """A ``requests``-like session for the media download (binary, outside the REST client)."""

    def __init__(self, status: int = 200, body: bytes = b"ID3fake-mp3") -> None:
        self.status, self.body, self.calls = status, body, []

    def get(self, url, **kwargs):  # type: ignore[no-untyped-def]
        self.calls.append((url, kwargs))
        fake = self

        class _Response:
            status_code = fake.status
            headers = {"Content-Type": "audio/mpeg", "Content-Length": str(len(fake.body))}
            closed = False

            def iter_content(self, size):  # type: ignore[no-untyped-def]
                yield fake.body

            def close(self) -> None:
                type(self).closed = True

        return _Response()


def test_twilio_media_is_fetched_with_our_credentials_from_the_recording_resource():
    config = {
        "TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_API_KEY": "SK" + "b" * 32,
        "TWILIO_API_SECRET": "secret",
    }
    media_http = _FakeMedia()
    provider = TwilioProvider(config, media_http=media_http)
    media = provider.recording_media("RE" + "c" * 32)
    assert b"".join(media.chunks) == b"ID3fake-mp3" and media.content_type == "audio/mpeg"
    [(url, kwargs)] = media_http.calls
    assert kwargs["auth"] == ("SK" + "b" * 32, "secret") and kwargs["stream"] is True
    # The media lives at the Recording resource's URL with the audio extension.
    assert url.endswith(".mp3")
    OpenAPICheckedHttpClient().operation("GET", url[: -len(".mp3")] + ".json")

    with pytest.raises(ProviderError) as gone:
        TwilioProvider(config, media_http=_FakeMedia(status=404)).recording_media("RE" + "d" * 32)
    assert gone.value.permanent
