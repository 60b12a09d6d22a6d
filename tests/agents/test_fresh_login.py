"""Administration asks for the password again after a remember-me sign-in (issue 12, item 8)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.conftest import csrf_token


def _remembered_only(app, client, auth):  # type: ignore[no-untyped-def]
    """A browser that kept only the remember-me cookie (the session ended with the browser)."""
    admin = auth.user("admin")
    data = {"email": admin.email, "password": auth.password, "csrf_token": csrf_token(client), "remember": "y"}
    assert client.post("/login", data=data).status_code == 302
    later = app.test_client()
    later.set_cookie("remember_token", client.get_cookie("remember_token").value)
    return admin, later


def test_a_fresh_sign_in_opens_the_admin_pages(client, auth):
    auth.login_as("admin")
    assert client.get("/admin/users").status_code == 200


def test_a_remembered_session_works_cases_but_must_sign_in_again_for_admin(app, client, auth):
    admin, later = _remembered_only(app, client, auth)
    assert later.get("/staff/").status_code == 200  # remembered: still signed in…
    assert later.get("/staff/").status_code == 200  # …page after page (it lasted one before)
    response = later.get("/admin/users")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert later.get("/admin/sla/").status_code == 302

    page = later.get(response.headers["Location"])
    assert page.status_code == 200  # the form, not a redirect loop to the home page
    token = csrf_token(later, response.headers["Location"])
    again = later.post(
        response.headers["Location"], data={"email": admin.email, "password": auth.password, "csrf_token": token}
    )
    assert again.status_code == 302 and urlsplit(again.headers["Location"]).path == "/admin/users"
    assert later.get("/admin/users").status_code == 200
