"""Staff sign-in and sign-out: credentials, CSRF, redirects, rate limit, deactivated accounts."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.agents.helpers import audit_events, post_login, staff_post
from tests.conftest import Auth, csrf_token

ENGLISH = {"Accept-Language": "en"}


def _path(response) -> str:  # type: ignore[no-untyped-def]
    return urlsplit(response.headers["Location"]).path


def test_correct_credentials_sign_in_and_are_audited(client, auth):
    user = auth.user("agent")
    response = post_login(client, user.email, auth.password)
    assert response.status_code == 302
    assert _path(response) == "/staff/"
    assert client.get("/staff/").status_code == 200
    [event] = audit_events("user.login")
    assert event.actor_id == user.id


def test_email_is_matched_without_regard_to_case_or_spaces(client, auth):
    user = auth.user("agent")
    response = post_login(client, f"  {user.email.upper()} ", auth.password)
    assert response.status_code == 302


def test_wrong_password_is_401_and_records_a_failed_login(client, auth):
    user = auth.user("agent")
    response = post_login(client, user.email, "not the password", headers=ENGLISH)
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)
    [event] = audit_events("user.login_failed")
    assert event.entity_id == str(user.id)
    assert event.detail == {"reason": "wrong_password"}
    assert audit_events("user.login") == []
    assert client.get("/staff/").status_code == 302  # not signed in


def test_unknown_email_is_401_with_the_same_message(client):
    response = post_login(client, "nobody@example.test", "whatever password", headers=ENGLISH)
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)
    [event] = audit_events("user.login_failed")
    assert event.entity_id is None
    assert event.actor_id is None


def test_login_post_without_csrf_token_is_400(client, auth):
    user = auth.user("agent")
    response = post_login(client, user.email, auth.password, with_token=False)
    assert response.status_code == 400
    assert audit_events("user.login") == []
    assert client.get("/staff/").status_code == 302


def test_login_post_with_a_forged_csrf_token_is_400(client, auth):
    user = auth.user("agent")
    response = client.post(
        "/login", data={"email": user.email, "password": auth.password, "csrf_token": "forged"}
    )
    assert response.status_code == 400


def test_anonymous_staff_page_redirects_to_login_with_next(client):
    response = client.get("/staff/")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/staff/"]


@pytest.mark.parametrize("path", ["/staff/", "/admin/users"])
def test_anonymous_json_request_gets_401_not_a_redirect(client, path):
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_next_with_a_relative_path_is_followed(client, auth):
    user = auth.user("admin")
    response = client.post(
        "/login?next=/admin/users",
        data={"email": user.email, "password": auth.password, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/users"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "javascript:alert(1)",
        "evil.example/path",
        "http:/evil.example",
    ],
)
def test_next_never_leaves_the_site(client, auth, target):
    user = auth.user("agent")
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": user.email, "password": auth.password, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"


def test_login_attempts_are_rate_limited(app, client, auth):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    user = auth.user("agent")
    statuses = [post_login(client, user.email, "wrong password").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    # Even the right password is refused until the window passes.
    assert post_login(client, user.email, auth.password).status_code == 429


def test_logout_ends_the_session(client, auth):
    auth.login_as("agent")
    assert client.get("/staff/").status_code == 200
    response = staff_post(client, "/logout")
    assert response.status_code == 302
    assert _path(response) == "/login"
    assert client.get("/staff/").status_code == 302


def test_logout_without_csrf_token_is_400_and_keeps_the_session(client, auth):
    auth.login_as("agent")
    assert client.post("/logout").status_code == 400
    assert client.get("/staff/").status_code == 200


def test_deactivated_user_cannot_sign_in(client, auth):
    user = auth.user("agent", active=False)
    response = post_login(client, user.email, auth.password)
    assert response.status_code == 401
    [event] = audit_events("user.login_failed")
    assert event.detail == {"reason": "inactive"}
    assert client.get("/staff/").status_code == 302


def test_session_of_a_deactivated_user_stops_working(app, client, auth):
    agent = auth.login_as("agent")
    assert client.get("/staff/").status_code == 200

    admin_client = app.test_client()
    Auth(admin_client).login_as("admin")
    response = staff_post(admin_client, f"/admin/users/{agent.id}/deactivate")
    assert response.status_code == 303

    response = client.get("/staff/")
    assert response.status_code == 302
    assert _path(response) == "/login"
    assert client.get("/staff/", headers={"Accept": "application/json"}).status_code == 401


def test_a_demoted_admin_loses_admin_pages_on_the_next_request(app, client, auth):
    other_admin = auth.login_as("admin")
    assert client.get("/admin/users").status_code == 200

    admin_client = app.test_client()
    Auth(admin_client).login_as("admin")
    response = staff_post(admin_client, f"/admin/users/{other_admin.id}/role", {"role": "agent"})
    assert response.status_code == 303

    assert client.get("/admin/users").status_code == 403
