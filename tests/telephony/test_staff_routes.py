"""Staff routes around telephony: the softphone token (issued by the console) and the simulator page."""

from __future__ import annotations

import jwt

from tests.conftest import csrf_token


def _post_json(client, path, body, token=None):
    headers = {"Accept": "application/json"}
    if token:
        headers["X-CSRFToken"] = token
    return client.post(path, json=body, headers=headers)


def test_agent_gets_a_softphone_token_for_their_own_identity(client, auth, app):
    app.config.update(
        TWILIO_API_KEY="SK" + "1" * 32, TWILIO_API_SECRET="s" * 40, TWILIO_TWIML_APP_SID="AP" + "3" * 32
    )
    agent = auth.login_as("agent")
    response = _post_json(client, "/console/api/voice-token", {}, csrf_token(client, "/staff/"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["identity"] == f"agent:{agent.id}"
    claims = jwt.decode(body["token"], "s" * 40, algorithms=["HS256"])
    assert claims["grants"]["voice"]["outgoing"]["application_sid"] == "AP" + "3" * 32


def test_softphone_token_needs_csrf_and_the_console_permission(client, auth):
    auth.login_as("agent")
    assert _post_json(client, "/console/api/voice-token", {}).status_code == 400
    auth.logout()
    auth.login_as("admin")
    assert _post_json(client, "/console/api/voice-token", {}, csrf_token(client, "/staff/")).status_code == 403


def test_anonymous_cannot_use_the_simulator(client):
    assert client.get("/telephony/simulator", headers={"Accept": "application/json"}).status_code == 401
    assert _post_json(client, "/telephony/simulator/action", {"action": "dial"}).status_code in (400, 401)


def test_simulator_page_is_there_without_twilio(client, auth):
    auth.login_as("agent")
    page = client.get("/telephony/simulator")
    assert page.status_code == 200
    assert b"/telephony/simulator/action" in page.data


def test_simulator_is_gone_when_twilio_is_configured(client, auth, app):
    auth.login_as("agent")
    app.config.update(TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_AUTH_TOKEN="t")
    assert client.get("/telephony/simulator").status_code == 404


def test_simulator_actions_need_csrf(client, auth):
    auth.login_as("agent")
    response = _post_json(client, "/telephony/simulator/action", {"action": "dial"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"


def test_simulator_dials_in_through_the_real_webhooks(client, auth, clock, redis_conn):
    auth.login_as("agent")
    token = csrf_token(client, "/staff/")
    state = _post_json(
        client, "/telephony/simulator/action", {"action": "dial", "from": "+85291234567"}, token
    )
    assert state.status_code == 200, state.get_json()
    [leg] = state.get_json()["legs"]
    assert leg["state"] == "gather" and leg["listening"]
    state = _post_json(
        client, "/telephony/simulator/action", {"action": "press", "sid": leg["sid"], "digits": "2"}, token
    )
    [leg] = state.get_json()["legs"]
    assert "KPJ" in leg["heard"][-1]["text"]
    wrong = _post_json(client, "/telephony/simulator/action", {"action": "record", "sid": leg["sid"]}, token)
    assert wrong.status_code == 409


def test_simulator_is_never_there_in_production(client, auth, app):
    auth.login_as("agent")
    app.config["NAME"] = "production"
    assert client.get("/telephony/simulator").status_code == 404
