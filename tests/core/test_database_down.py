"""Failure injection: the database unreachable (issue 12). Callers still hear the fallback
(apology and voicemail) straight from the webhook, reports say 503, and people filling in a form
are told to try again later — a 503 with Retry-After, never a 500 and never a trace.

The app under test points at a PostgreSQL port nothing listens on: every connection attempt
really fails, as when the database server is down or unreachable.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.telephony.signature import sign, webhook_token
from config import TestingConfig

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:9/halopmi"  # the discard port: refused
COMPLAINT = {
    "name": "Siti Rahayu",
    "phone": "+85291234567",
    "country": "HK",
    "category": "claim_jkk",
    "description": "Majikan saya menahan paspor saya dan gaji tiga bulan belum dibayar.",
    "language": "id",
}


@pytest.fixture
def down(redis_url: str) -> Iterator[Flask]:
    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=UNREACHABLE,
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 3}},
        REDIS_URL=redis_url,
        TESTING=False,  # answer as production does, not re-raise into the test
        PROPAGATE_EXCEPTIONS=False,
    )
    with app.app_context():
        yield app


def _signed(client: FlaskClient, app: Flask, path: str, data: dict[str, str]) -> Any:
    with app.app_context():
        token = webhook_token(app)
    return client.post(
        path, data=data, headers={"X-Twilio-Signature": sign(f"http://localhost{path}", data, token)}
    )


def _call(**more: str) -> dict[str, str]:
    return {
        "CallSid": "CA" + uuid.uuid4().hex,
        "AccountSid": "AC" + "0" * 32,
        "From": "+85291234567",
        "To": "+622150001234",
        "CallStatus": "ringing",
        **more,
    }


def _no_trace(body: bytes) -> None:
    assert b"Traceback" not in body and b"OperationalError" not in body and b"psycopg" not in body


@pytest.mark.parametrize("path", ["/telephony/voice/inbound", "/telephony/voice/language?lang=en"])
def test_a_caller_hears_the_fallback_from_the_webhook_itself(down: Flask, path: str) -> None:
    response = _signed(down.test_client(), down, path, _call(Digits="2"))
    assert response.status_code == 200 and response.mimetype.endswith("/xml")
    body = response.get_data(as_text=True)
    assert "<Record" in body and "/telephony/voice/fallback-done" in body  # a message can be left
    _no_trace(response.data)
    if "lang=en" in path:
        assert 'language="en-' in body and 'language="id-' not in body  # in the language she chose


def test_reports_are_refused_with_503_and_the_fallback_url_answers(down: Flask) -> None:
    client = down.test_client()
    status = _signed(client, down, "/telephony/voice/status", _call(CallStatus="completed"))
    assert status.status_code == 503 and status.headers["Retry-After"]
    fallback = _signed(client, down, "/telephony/voice/fallback", _call(ErrorCode="11200"))
    assert fallback.status_code == 200 and "<Record" in fallback.get_data(as_text=True)


@pytest.mark.parametrize("language, words", [("id", "coba lagi"), ("en", "try again")])
def test_a_worker_sending_a_complaint_is_asked_to_try_again(down: Flask, language: str, words: str) -> None:
    client = down.test_client()
    headers = {"Accept-Language": language}
    page = client.get("/complaints/new", headers=headers)
    assert page.status_code == 200  # the form itself needs no database
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    assert token
    response = client.post(
        "/complaints/new", data={**COMPLAINT, "csrf_token": token.group(1)}, headers=headers
    )
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert words in response.get_data(as_text=True).lower()
    _no_trace(response.data)


def test_the_api_says_503_with_its_usual_error_body(down: Flask) -> None:
    response = down.test_client().post("/api/v1/complaints", json=COMPLAINT)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_unavailable"
    _no_trace(response.data)


def test_signing_in_is_a_503_not_a_500(down: Flask) -> None:
    client = down.test_client()
    page = client.get("/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    assert token
    response = client.post(
        "/login", data={"email": "dewi@example.org", "password": "x" * 12, "csrf_token": token.group(1)}
    )
    assert response.status_code == 503
    _no_trace(response.data)


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/console/api/presence"), ("get", "/console/"), ("get", "/tickets/"), ("get", "/supervisor/")],
)
def test_a_signed_in_agent_is_told_to_try_again_not_given_a_500(down: Flask, method: str, path: str) -> None:
    """Her session names her, so the request loads her from the database first: that failure
    was a 500 (seen in the crisis-burst benchmark when PostgreSQL ran out of connections)."""
    from app.extensions import login_manager

    client = down.test_client()
    with down.test_request_context(environ_base=client.environ_base):
        bound_to = login_manager._session_identifier_generator()  # this client's address and agent
    with client.session_transaction() as session:  # as signing in left it
        session["_user_id"] = "1:0"
        session["_fresh"] = True
        session["_id"] = bound_to
    down.config["WTF_CSRF_ENABLED"] = False  # the console sends its token; not what is tested here
    response = getattr(client, method)(path, json={"state": "available"} if method == "post" else None)
    assert response.status_code == 503, response.data[:300]
    _no_trace(response.data)


def test_the_log_says_what_the_database_said(down: Flask, caplog: pytest.LogCaptureFixture) -> None:
    """The bare "OperationalError" did not tell an operator a server that is down from one out of
    connections ("too many clients", seen in the crisis-burst benchmark) or a deadlock."""
    with caplog.at_level("ERROR"):
        down.test_client().post("/api/v1/complaints", json=COMPLAINT)
        _signed(down.test_client(), down, "/telephony/voice/inbound", _call())
    lines = [r.getMessage() for r in caplog.records if "database unavailable on" in r.getMessage()]
    assert len(lines) == 2, lines
    assert all(
        "OperationalError: connection failed" in line and "Connection refused" in line for line in lines
    )
    assert all("\n" not in line for line in lines)
