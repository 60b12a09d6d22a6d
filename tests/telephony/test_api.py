"""Click-to-call API: voice tokens bound to a call request, and callback requests (toll-fraud guard)."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
import pytest
from sqlalchemy import select

from app.extensions import db
from app.telephony.clicktocall import next_in_window
from app.telephony.models import Call, CallbackRequest, CallRequest
from app.telephony.prompts import text
from app.tickets.models import Ticket
from tests.telephony.conftest import call_params, parse, verbs

API_SECRET = "test-api-secret-of-thirty-two-bytes!"  # noqa: S105


@pytest.fixture
def twilio_keys(app):
    app.config.update(
        TWILIO_API_KEY="SK" + "1" * 32, TWILIO_API_SECRET=API_SECRET, TWILIO_TWIML_APP_SID="AP" + "2" * 32
    )


def test_voice_token_is_short_lived_outgoing_only_and_bound_to_a_call_request(client, twilio_keys, clock):
    response = client.post("/api/v1/voice-token", json={"language": "en", "topic": "claim_jkk"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["identity"].startswith("worker:")
    claims = jwt.decode(body["token"], API_SECRET, algorithms=["HS256"])
    grant = claims["grants"]["voice"]
    assert claims["grants"]["identity"] == body["identity"]
    assert grant["outgoing"]["application_sid"] == "AP" + "2" * 32
    assert "incoming" not in grant or not grant["incoming"].get("allow")
    assert claims["exp"] - claims["nbf"] <= 600 if "nbf" in claims else claims["exp"] - claims["iat"] <= 600
    request_ = db.session.scalar(select(CallRequest))
    assert (request_.identity, request_.language, request_.topic) == (body["identity"], "en", "claim_jkk")


def test_voice_token_rejects_bad_fields_with_reasons(client):
    response = client.post("/api/v1/voice-token", json={"language": "fr", "topic": "x", "kpj": "12"})
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {
        "language": "unsupported_language",
        "topic": "unknown_topic",
        "kpj": "invalid_kpj",
    }


def test_voice_token_is_rate_limited_per_ip(client, app):
    app.config["VOICE_TOKEN_RATE_LIMIT"] = "2 per hour"
    codes = [client.post("/api/v1/voice-token", json={}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def _browser_call(post, identity, sid="CA" + "e" * 32, **more):
    return parse(post("/telephony/voice/client", call_params(sid, From=f"client:{identity}", To="", **more)))


def test_browser_call_with_an_issued_identity_is_queued(client, post, clock):
    identity = client.post(
        "/api/v1/voice-token", json={"language": "en", "topic": "emergency", "kpj": "26000000042"}
    ).get_json()["identity"]
    root = _browser_call(post, identity)
    assert verbs(root) == ["Say", "Say", "Enqueue"]
    assert root.find("Enqueue").text == "halopmi-en"
    call = db.session.scalar(select(Call))
    assert (call.direction, call.language, call.topic) == ("browser", "en", "emergency")
    assert db.session.get(Ticket, call.ticket_id).channel == "browser_call"


def test_a_call_ticket_is_titled_in_words(client, post, clock):
    identity = client.post(
        "/api/v1/voice-token", json={"language": "en", "topic": "emergency", "kpj": "26000000042"}
    ).get_json()["identity"]
    _browser_call(post, identity)
    ticket = db.session.get(Ticket, db.session.scalar(select(Call.ticket_id)))
    # Stored in the staff default language, shown in each reader's (app/tickets/titles.py).
    assert ticket.subject == "Panggilan dari browser atau aplikasi — Darurat"  # not "browser_call: emergency"


def test_browser_call_without_a_kpj_is_asked_for_it_then_queued_under_its_topic(client, post, clock):
    identity = client.post("/api/v1/voice-token", json={"language": "en", "topic": "claim_jht"}).get_json()[
        "identity"
    ]
    root = _browser_call(post, identity)
    assert verbs(root) == ["Gather", "Redirect"]
    assert root.find("Gather/Say").text == text("kpj_menu", "en")
    assert db.session.scalar(select(Call)).enqueued_at is None  # nobody is offered the call yet
    root = parse(post("/telephony/voice/kpj?lang=en", call_params("CA" + "e" * 32, Digits="")))
    assert verbs(root) == ["Say", "Enqueue"]  # no topic menu: she chose it on the page
    call = db.session.scalar(select(Call))
    assert (call.topic, call.enqueued_at is not None) == ("claim_jht", True)


def test_an_identity_makes_one_call_only(client, post, clock):
    identity = client.post("/api/v1/voice-token", json={}).get_json()["identity"]
    _browser_call(post, identity)
    root = _browser_call(post, identity, sid="CA" + "f" * 32)
    assert verbs(root) == ["Say", "Hangup"]


def test_expired_identity_is_refused(client, post, clock, app):
    identity = client.post("/api/v1/voice-token", json={}).get_json()["identity"]
    clock.advance(app.config["VOICE_TOKEN_TTL_SECONDS"] + 1)
    assert verbs(_browser_call(post, identity)) == ["Say", "Hangup"]


@pytest.mark.parametrize(
    "caller", ["client:someone", "client:worker:" + "0" * 32, "+85291234567", "client:agent:x"]
)
def test_unknown_identities_are_refused_and_nothing_is_dialled(post, caller, clock):
    form = call_params("CA" + "e" * 32, From=caller, To="+6281234567890")
    root = parse(post("/telephony/voice/client", form))
    assert verbs(root) == ["Say", "Hangup"]
    assert root.find(".//Number") is None and root.find(".//Dial") is None
    assert db.session.scalar(select(Call)) is None


def test_a_to_number_from_the_client_is_ignored(client, post, clock):
    identity = client.post("/api/v1/voice-token", json={"kpj": "26000000042"}).get_json()["identity"]
    form = call_params("CA" + "e" * 32, From=f"client:{identity}", To="+6281234567890")
    root = parse(post("/telephony/voice/client", form))
    assert root.find(".//Dial") is None and root.find("Enqueue") is not None


def test_callback_request_is_created_ticketed_and_queued(client, clock):
    response = client.post(
        "/api/v1/callbacks",
        json={
            "phone": "+886912345678",
            "language": "id",
            "topic": "claim_jkk",
            "kpj": "12345678901",
            "preferred_window": {"start": "09:00", "end": "21:30"},
        },
    )
    assert response.status_code == 201
    assert response.get_json()["status"] == "pending"
    callback = db.session.get(CallbackRequest, response.get_json()["id"])
    assert (callback.country, callback.timezone, callback.window_start, callback.window_end) == (
        "TW",
        "Asia/Taipei",
        "09:00",
        "21:30",
    )
    assert callback.phone == "+886912345678" and callback.phone_hash
    ticket = db.session.get(Ticket, callback.ticket_id)
    assert ticket.channel == "callback"
    assert ticket.subject == "Permintaan panggilan balik dari Taiwan — Klaim JKK (kecelakaan kerja)"  # no codes


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        ("0912345678", "not_e164"),
        ("+886203123456", "premium_rate"),
        ("+39848123456", "shared_cost"),
        ("+886800123456", "number_type_not_allowed"),
        ("+12015550123", "country_not_served"),
        ("+88691234", "invalid"),
        ("+8869", "unparseable"),
        ("", "not_e164"),
    ],
)
def test_callback_phone_is_checked_with_a_clear_reason(client, phone, reason):
    response = client.post("/api/v1/callbacks", json={"phone": phone, "language": "id", "topic": "other"})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed" and error["fields"]["phone"] == reason
    assert db.session.scalar(select(CallbackRequest)) is None


def test_callback_other_fields_have_reasons(client):
    response = client.post(
        "/api/v1/callbacks",
        json={
            "phone": "+886912345678",
            "language": "xx",
            "topic": "nope",
            "nik": "1",
            "preferred_window": {"start": "25:00", "end": "21:00"},
        },
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {
        "language": "unsupported_language",
        "topic": "unknown_topic",
        "nik": "invalid_nik",
        "preferred_window": "invalid_window",
    }


def test_callback_bad_json_is_a_400_not_a_500(client):
    response = client.post("/api/v1/callbacks", data="not json", content_type="application/json")
    assert response.status_code == 400


def test_callbacks_per_number_per_day_are_limited(client, app, clock):
    app.config["CALLBACK_LIMIT_PER_NUMBER_PER_DAY"] = 2
    body = {"phone": "+886912345678", "language": "id", "topic": "other"}
    codes = [client.post("/api/v1/callbacks", json=body).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    other = client.post("/api/v1/callbacks", json=dict(body, phone="+886912345679"))
    assert other.status_code == 201


def test_callbacks_per_ip_per_hour_are_limited(client, app):
    app.config["CALLBACK_RATE_LIMIT"] = "2 per hour"
    codes = [
        client.post("/api/v1/callbacks", json={"phone": f"+88691234567{i}", "topic": "other"}).status_code
        for i in range(3)
    ]
    assert codes == [201, 201, 429]


TZ = "Asia/Taipei"  # UTC+8


def test_retry_inside_the_window_keeps_its_time():
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 20:00 in Taipei
    assert next_in_window(at, TZ, "19:00", "21:30") == at


def test_retry_before_the_window_waits_for_it_that_day():
    at = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Taipei
    assert next_in_window(at, TZ, "19:00", "21:30") == datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


def test_retry_after_the_window_moves_to_the_next_day():
    at = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 22:00 in Taipei
    assert next_in_window(at, TZ, "19:00", "21:30") == datetime(2026, 11, 24, 11, 0, tzinfo=UTC)


def test_no_window_means_any_time():
    at = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert next_in_window(at, TZ, None, None) == at


def test_with_twilio_but_without_an_api_key_no_token_is_made(client, app):
    app.config.update(TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_AUTH_TOKEN="t")
    response = client.post("/api/v1/voice-token", json={})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "voice_not_configured"
    assert db.session.scalar(select(CallRequest)) is None


def test_callback_outside_the_preferred_window_waits_for_it(client, clock):
    from app.agents.models import WorkItem
    from app.core.jobs import OutboxIntent

    # The clock says 11:00 in Taipei; the worker wants 19:00-21:30 their time.
    response = client.post(
        "/api/v1/callbacks",
        json={
            "phone": "+886912345678",
            "topic": "other",
            "preferred_window": {"start": "19:00", "end": "21:30"},
        },
    )
    assert response.status_code == 201 and response.get_json()["status"] == "scheduled"
    callback = db.session.scalar(select(CallbackRequest))
    assert callback.next_attempt_at == datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    assert db.session.scalar(select(WorkItem)) is None
    intent = db.session.scalar(
        select(OutboxIntent).where(OutboxIntent.func == "app.telephony.tasks.retry_callback")
    )
    assert intent.run_after == callback.next_attempt_at


def test_callback_inside_the_preferred_window_is_queued_now(client, clock):
    from app.agents.models import WorkItem

    response = client.post(
        "/api/v1/callbacks",
        json={
            "phone": "+886912345678",
            "topic": "other",
            "preferred_window": {"start": "09:00", "end": "12:00"},
        },
    )
    assert response.get_json()["status"] == "pending"
    assert db.session.scalar(select(WorkItem.kind)) == "callback"
