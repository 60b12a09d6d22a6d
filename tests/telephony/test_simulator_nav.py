"""The telephony simulator is linked in the staff navigation exactly when it can be used."""

from __future__ import annotations

import pytest

LINK = 'id="nav-simulator"'


def test_linked_for_staff_without_twilio(client, auth):
    auth.login_as("agent")
    html = client.get("/staff/").get_data(as_text=True)
    assert LINK in html and 'href="/telephony/simulator"' in html
    assert client.get("/telephony/simulator").status_code == 200


def test_not_linked_with_a_twilio_account(client, auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "TWILIO_ACCOUNT_SID", "AC" + "a" * 32)
    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", "token")
    auth.login_as("agent")
    assert LINK not in client.get("/staff/").get_data(as_text=True)
    assert client.get("/telephony/simulator").status_code == 404


def test_not_linked_in_production(client, auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "NAME", "production")
    auth.login_as("supervisor")
    assert LINK not in client.get("/staff/").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/", "/login"])
def test_not_linked_for_the_public(client, path):
    assert LINK not in client.get(path).get_data(as_text=True)
