"""The agent softphone's voice token with a Twilio account configured: a JWT Twilio accepts,
for this agent's identity, with the voice grant (our TwiML App out, incoming allowed)."""

from __future__ import annotations

import time

import jwt
import pytest
from twilio.jwt.access_token import AccessToken

from tests.conftest import csrf_token
from tests.console.test_console_api import login_agent

ACCOUNT = "AC" + "1" * 32
API_KEY = "SK" + "2" * 32
API_SECRET = "a-secret-only-this-deployment-and-twilio-know"  # noqa: S105 - test value
APP_SID = "AP" + "3" * 32


@pytest.fixture
def twilio_account(app):  # type: ignore[no-untyped-def]
    settings = {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": "auth-token",
        "TWILIO_API_KEY": API_KEY,
        "TWILIO_API_SECRET": API_SECRET,
        "TWILIO_TWIML_APP_SID": APP_SID,
    }
    app.config.update(settings)
    yield settings
    app.config.update({name: None for name in settings})


def test_the_token_is_a_valid_twilio_jwt_for_the_agent_with_the_voice_grant(auth, console, twilio_account):
    agent = login_agent(auth)
    response = console.post("api/voice-token")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["provider"] == "twilio" and body["identity"] == f"agent:{agent.id}"

    claims = jwt.decode(body["token"], API_SECRET, algorithms=["HS256"])
    header = jwt.get_unverified_header(body["token"])
    assert header["cty"] == "twilio-fpa;v=1"
    assert claims["iss"] == API_KEY and claims["sub"] == ACCOUNT
    assert claims["grants"]["identity"] == f"agent:{agent.id}"
    voice = claims["grants"]["voice"]
    assert voice["outgoing"]["application_sid"] == APP_SID
    assert voice["incoming"]["allow"] is True
    assert 0 < claims["exp"] - time.time() <= body["ttl"]
    # A token signed with another secret is not ours.
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(body["token"], "another-secret-that-is-long-enough-for-hs256", algorithms=["HS256"])
    # And twilio's own library reads it back the same way.
    decoded = AccessToken.from_jwt(body["token"], API_SECRET)
    assert decoded.payload["grants"]["identity"] == f"agent:{agent.id}"


def test_without_the_api_key_no_token_is_issued(auth, console, twilio_account, app):
    app.config["TWILIO_API_KEY"] = None
    login_agent(auth)
    response = console.post("api/voice-token")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "telephony_not_configured"


def test_staff_without_the_console_get_no_token(client, auth, twilio_account):
    auth.login_as("admin")
    token = csrf_token(client, "/staff/")
    response = client.post(
        "/console/api/voice-token", headers={"Accept": "application/json", "X-CSRFToken": token}
    )
    assert response.status_code == 403


def test_the_console_page_loads_the_voice_sdk_only_with_twilio(client, auth, twilio_account, app):
    login_agent(auth)
    page = client.get("/console/").get_data(as_text=True)
    assert 'data-provider="twilio"' in page and "vendor/twilio-voice.min.js" in page
    app.config["TWILIO_ACCOUNT_SID"] = None
    page = client.get("/console/").get_data(as_text=True)
    assert 'data-provider="simulator"' in page and "twilio-voice.min.js" not in page
