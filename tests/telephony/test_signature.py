"""X-Twilio-Signature: every webhook refuses unsigned, tampered and wrongly addressed requests."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from app import create_app
from app.telephony.signature import sign, webhook_token
from config import TestingConfig
from tests.telephony.conftest import call_params, twilio_post

INBOUND = "/telephony/voice/inbound"
WEBHOOKS = [
    "/telephony/voice/inbound",
    "/telephony/voice/client",
    "/telephony/voice/status",
    "/telephony/voice/fallback",
    "/telephony/voice/language",
    "/telephony/voice/kpj",
    "/telephony/voice/topic",
    "/telephony/voice/wait",
    "/telephony/voice/wait-key",
    "/telephony/voice/queue-exit",
    "/telephony/voice/voicemail-done",
    "/telephony/voice/recording",
    "/telephony/voice/fallback-done",
    "/telephony/voice/callback-answer",
    "/telephony/voice/self-service/birth-date",
    "/telephony/voice/self-service/menu",
]


def test_twilio_golden_vector():
    # tests/unit/test_request_validator.py in twilio/twilio-python
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert sign(url, params, "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert RequestValidator("12345").validate(url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


@pytest.mark.parametrize("path", WEBHOOKS)
def test_unsigned_webhook_is_refused(client, path):
    assert client.post(path, data=call_params()).status_code == 403


def test_signed_webhook_is_answered(post):
    assert post(INBOUND, call_params()).status_code == 200


def test_tampered_parameter_is_refused(client, app):
    params = call_params()
    with app.app_context():
        signature = sign(f"http://localhost{INBOUND}", params, webhook_token(app))
    tampered = dict(params, From="+85299999999")
    response = client.post(INBOUND, data=tampered, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_signature_for_another_scheme_is_refused(post):
    assert post(INBOUND, call_params(), url=f"https://localhost{INBOUND}").status_code == 403


def test_signature_with_another_token_is_refused(post):
    assert post(INBOUND, call_params(), token="not-the-token").status_code == 403


def test_query_string_is_part_of_the_signed_url_not_the_params(post):
    path = "/telephony/voice/kpj?lang=en"
    assert post(path, call_params(Digits="#")).status_code == 200
    # Signed without the query string: refused.
    assert post(path, call_params(Digits="#"), url="http://localhost/telephony/voice/kpj").status_code == 403


@pytest.fixture
def proxied_app(app, redis_url):
    return create_app(TestingConfig, REDIS_URL=redis_url, PROXY_COUNT=1)


def test_signed_for_public_https_url_passes_behind_one_proxy(proxied_app):
    client = proxied_app.test_client()
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "calls.example.org"}
    response = twilio_post(
        client,
        proxied_app,
        INBOUND,
        call_params(),
        url=f"https://calls.example.org{INBOUND}",
        headers=headers,
    )
    assert response.status_code == 200


def test_without_proxy_headers_the_https_signature_does_not_match(proxied_app):
    client = proxied_app.test_client()
    response = twilio_post(
        client, proxied_app, INBOUND, call_params(), url=f"https://calls.example.org{INBOUND}"
    )
    assert response.status_code == 403


def test_forwarded_headers_are_ignored_without_proxy_count(client, app):
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "calls.example.org"}
    response = twilio_post(
        client, app, INBOUND, call_params(), url=f"https://calls.example.org{INBOUND}", headers=headers
    )
    assert response.status_code == 403


def test_public_base_url_is_what_is_signed(app, client):
    app.config["PUBLIC_BASE_URL"] = "https://calls.example.org/"
    ok = twilio_post(client, app, INBOUND, call_params(), url=f"https://calls.example.org{INBOUND}")
    assert ok.status_code == 200
    assert twilio_post(client, app, INBOUND, call_params("CA" + "2" * 32)).status_code == 403


def test_configured_auth_token_is_used(app, client):
    app.config.update(TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_AUTH_TOKEN="real-token")
    assert twilio_post(client, app, INBOUND, call_params(), token="real-token").status_code == 200
    assert twilio_post(client, app, INBOUND, call_params("CA" + "3" * 32), token="other").status_code == 403
