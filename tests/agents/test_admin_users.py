"""The administrator's staff-account page: access, create, change role, (de)activate, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.staff.models import User
from tests.agents.helpers import audit_events, post_login, staff_post
from tests.conftest import Auth

NEW_USER = {
    "email": "Dewi.Lestari@halopmi.local",
    "name": "Dewi Lestari",
    "role": "supervisor",
    "language": "en",
    "password": "a long enough secret",
}


def fetch(user_id: int) -> User:
    db.session.expire_all()
    user = db.session.get(User, user_id)
    assert user is not None
    return user


def users_named(email: str) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(User.id)).where(func.lower(User.email) == email.lower())) or 0


# --- who may see the page -------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [("agent", 403), ("supervisor", 403), ("admin", 200)])
def test_users_page_is_for_admins_only(client, auth, role, status):
    auth.login_as(role)
    assert client.get("/admin/users").status_code == status


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_page_lists_every_staff_account(client, auth):
    admin = auth.login_as("admin")
    agent = auth.user("agent")
    retired = auth.user("supervisor", active=False)
    page = client.get("/admin/users", headers={"Accept-Language": "en"}).get_data(as_text=True)
    for user in (admin, agent, retired):
        assert user.email in page
    assert "Deactivated" in page


def test_staff_home_links_to_the_users_page_for_admins_only(app, client, auth):
    auth.login_as("admin")
    assert 'href="/admin/users"' in client.get("/staff/").get_data(as_text=True)

    agent_client = app.test_client()
    Auth(agent_client).login_as("agent")
    assert 'href="/admin/users"' not in agent_client.get("/staff/").get_data(as_text=True)


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_non_admins_cannot_change_accounts_even_with_a_valid_token(client, auth, role):
    auth.login_as(role)
    target = auth.user("agent")
    for path, data in [
        ("/admin/users", NEW_USER),
        (f"/admin/users/{target.id}/role", {"role": "admin"}),
        (f"/admin/users/{target.id}/deactivate", {}),
    ]:
        assert staff_post(client, path, data).status_code == 403, path
    assert fetch(target.id).role == "agent"
    assert fetch(target.id).active is True
    assert users_named(NEW_USER["email"]) == 0


# --- creating accounts ----------------------------------------------------------------------


def test_admin_creates_an_account_that_can_sign_in(app, client, auth):
    admin = auth.login_as("admin")
    response = staff_post(client, "/admin/users", NEW_USER, token_from="/admin/users")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/users"

    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.email == "dewi.lestari@halopmi.local"))
    assert user is not None
    assert (user.name, user.role, user.language, user.active) == ("Dewi Lestari", "supervisor", "en", True)
    assert user.password_hash != NEW_USER["password"]
    [event] = audit_events("user.create")
    assert (event.actor_id, event.entity_id) == (admin.id, str(user.id))
    assert event.detail == {"role": "supervisor", "language": "en"}

    fresh = app.test_client()
    assert post_login(fresh, NEW_USER["email"], NEW_USER["password"]).status_code == 302


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"password": "too short"}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "someone@nodot"}, "email"),
        ({"role": "superuser"}, "role"),
        ({"language": "fr"}, "language"),
        ({"email": ""}, "email"),
    ],
)
def test_invalid_account_is_refused_with_422(client, auth, change, field):
    auth.login_as("admin")
    data = {**NEW_USER, **change}
    response = staff_post(client, "/admin/users", data, token_from="/admin/users")
    assert response.status_code == 422
    assert 'class="field has-error"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(func.count(User.id))) == 1  # only the admin
    assert audit_events("user.create") == []


def test_duplicate_email_is_refused_whatever_its_case(client, auth):
    auth.login_as("admin")
    existing = auth.user("agent", email="dewi.lestari@halopmi.local")
    response = staff_post(client, "/admin/users", NEW_USER, token_from="/admin/users")
    assert response.status_code == 422
    assert "An account with this email already exists." in response.get_data(as_text=True)
    assert users_named(existing.email) == 1
    assert audit_events("user.create") == []


def test_create_without_csrf_token_is_400(client, auth):
    auth.login_as("admin")
    assert client.post("/admin/users", data=NEW_USER).status_code == 400
    assert users_named(NEW_USER["email"]) == 0


# --- roles ----------------------------------------------------------------------------------


def test_admin_changes_a_role_and_it_is_audited(client, auth):
    admin = auth.login_as("admin")
    agent = auth.user("agent")
    response = staff_post(client, f"/admin/users/{agent.id}/role", {"role": "supervisor"})
    assert response.status_code == 303
    assert fetch(agent.id).role == "supervisor"
    [event] = audit_events("user.role_change")
    assert (event.actor_id, event.entity_id) == (admin.id, str(agent.id))
    assert event.detail == {"from": "agent", "to": "supervisor"}


def test_setting_the_same_role_changes_nothing(client, auth):
    auth.login_as("admin")
    agent = auth.user("agent")
    assert staff_post(client, f"/admin/users/{agent.id}/role", {"role": "agent"}).status_code == 303
    assert audit_events("user.role_change") == []


def test_unknown_role_is_refused(client, auth):
    auth.login_as("admin")
    agent = auth.user("agent")
    assert staff_post(client, f"/admin/users/{agent.id}/role", {"role": "root"}).status_code == 422
    assert fetch(agent.id).role == "agent"


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_admin_cannot_demote_themselves(client, auth, role):
    admin = auth.login_as("admin")
    response = staff_post(client, f"/admin/users/{admin.id}/role", {"role": role})
    assert response.status_code == 422
    assert fetch(admin.id).role == "admin"
    assert audit_events("user.role_change") == []
    assert client.get("/admin/users").status_code == 200


def test_unknown_user_is_404(client, auth):
    auth.login_as("admin")
    assert staff_post(client, "/admin/users/999999/role", {"role": "agent"}).status_code == 404
    assert staff_post(client, "/admin/users/999999/deactivate").status_code == 404


# --- deactivation ---------------------------------------------------------------------------


def test_admin_deactivates_and_reactivates_an_account(app, client, auth):
    admin = auth.login_as("admin")
    agent = auth.user("agent")

    assert staff_post(client, f"/admin/users/{agent.id}/deactivate").status_code == 303
    assert fetch(agent.id).active is False
    [event] = audit_events("user.deactivate")
    assert (event.actor_id, event.entity_id) == (admin.id, str(agent.id))
    assert post_login(app.test_client(), agent.email, Auth.password).status_code == 401

    assert staff_post(client, f"/admin/users/{agent.id}/reactivate").status_code == 303
    assert fetch(agent.id).active is True
    [event] = audit_events("user.reactivate")
    assert event.actor_id == admin.id
    assert post_login(app.test_client(), agent.email, Auth.password).status_code == 302


def test_admin_cannot_deactivate_themselves(client, auth):
    admin = auth.login_as("admin")
    response = staff_post(client, f"/admin/users/{admin.id}/deactivate")
    assert response.status_code == 422
    assert fetch(admin.id).active is True
    assert audit_events("user.deactivate") == []
    assert client.get("/admin/users").status_code == 200


def test_deactivate_without_csrf_token_is_400(client, auth):
    auth.login_as("admin")
    agent = auth.user("agent")
    assert client.post(f"/admin/users/{agent.id}/deactivate").status_code == 400
    assert fetch(agent.id).active is True
