"""Signing out ends the session on the server: a copied session or remember-me cookie is dead.

Flask's sessions are signed cookies, so "logout" alone only asks the browser to forget one.
Each user has a session generation that is part of the id every session and remember token
carries; sign-out, a password change and deactivation move it on.
"""

from __future__ import annotations

from app.extensions import db
from app.staff import services
from app.staff.models import User
from tests.agents.helpers import post_login
from tests.conftest import csrf_token


def _cookies(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {name: client.get_cookie(name).value for name in ("session", "remember_token") if client.get_cookie(name)}


def _replay(app, cookies: dict[str, str]):  # type: ignore[no-untyped-def]
    """A second browser holding only the copied cookies."""
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value)
    return other


def _sign_in(client, auth, remember: bool = False) -> User:  # type: ignore[no-untyped-def]
    user = auth.user("agent")
    data = {"email": user.email, "password": auth.password, "csrf_token": csrf_token(client)}
    if remember:
        data["remember"] = "y"
    assert client.post("/login", data=data).status_code == 302
    return user


def test_a_session_cookie_copied_before_sign_out_no_longer_opens_staff_pages(app, client, auth):
    _sign_in(client, auth)
    copied = _cookies(client)
    assert _replay(app, copied).get("/staff/").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    stolen = _replay(app, copied)
    assert stolen.get("/staff/").status_code == 302
    assert stolen.get("/tickets/").status_code == 302


def test_a_remember_token_copied_before_sign_out_no_longer_signs_in(app, client, auth):
    _sign_in(client, auth, remember=True)
    remember = {"remember_token": client.get_cookie("remember_token").value}
    assert _replay(app, remember).get("/staff/").status_code == 200  # it did work before
    client.post("/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    assert _replay(app, remember).get("/staff/").status_code == 302


def test_signing_in_again_after_sign_out_works(client, auth):
    user = _sign_in(client, auth)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    assert post_login(client, user.email, auth.password).status_code == 302
    assert client.get("/staff/").status_code == 200


def test_a_password_change_ends_other_sessions(app, client, auth):
    user = _sign_in(client, auth, remember=True)
    copied = _cookies(client)
    db.session.get(User, user.id).set_password("a new long passphrase")
    db.session.commit()
    assert _replay(app, copied).get("/staff/").status_code == 302


def test_deactivation_ends_remember_tokens_even_after_reactivation(app, client, auth):
    user = _sign_in(client, auth, remember=True)
    remember = {"remember_token": client.get_cookie("remember_token").value}
    admin = auth.user("admin")
    services.set_active(user.id, False, actor_id=admin.id)
    db.session.commit()
    services.set_active(user.id, True, actor_id=admin.id)
    db.session.commit()
    assert _replay(app, remember).get("/staff/").status_code == 302


def test_a_forged_or_old_style_session_id_is_not_a_user(app, client, auth):
    user = auth.user("agent")
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)  # the id alone, as sessions carried it before
        session["_fresh"] = True
    assert client.get("/staff/").status_code == 302
