"""The role policy: every route declares a permission, and each role holds exactly its own.

Adding a route without ``@require(...)`` fails ``test_every_route_declares_a_permission``;
adding a permission or changing who holds one fails the matrix until ``EXPECTED`` says so.
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask_login import AnonymousUserMixin
from werkzeug.routing import IntegerConverter

from app.core.policy import PERMISSIONS, ROLES, UnknownPermission, allowed, require
from app.staff.models import User

# Endpoints anyone may reach (each still has its own protection where it changes state).
PUBLIC_ENDPOINTS = {
    "staff.login",
    "staff.logout",
    "core.healthz",
    "core.readyz",
    "core.set_language",
    "static",
    # Twilio webhooks: public, each checks X-Twilio-Signature (tests/telephony/test_signature.py).
    "telephony.voice_inbound",
    "telephony.voice_language",
    "telephony.voice_kpj",
    "telephony.voice_topic",
    "telephony.voice_consent",
    "telephony.voice_conference",
    "telephony.voice_after_conference",
    "telephony.voice_wait",
    "telephony.voice_wait_key",
    "telephony.voice_queue_exit",
    "telephony.voice_voicemail_done",
    "telephony.voice_recording",
    "telephony.voice_status",
    "telephony.voice_fallback",
    "telephony.voice_fallback_done",
    "telephony.voice_client",
    "telephony.voice_callback_answer",
    "telephony.voice_self_service_birth_date",
    "telephony.voice_self_service_menu",
    "telephony.messaging_status",
    "telephony.messaging_inbound",
    # What those webhooks are, described for whoever connects Twilio (no data behind it).
    "telephony.openapi_document",
    # Public click-to-call API (rate-limited per IP).
    "telephony_api.voice_token",
    "telephony_api.callbacks",
}
PUBLIC_BLUEPRINTS = {"portal", "api"}  # api: the public complaints API (verification + rate limits)

# Blueprints exempt from CSRF because another check replaces it (Twilio's request signature).
CSRF_EXEMPT_BLUEPRINTS = {"telephony", "telephony_api", "api"}

A, S, D = "agent", "supervisor", "admin"
EXPECTED: dict[str, set[str]] = {
    "staff.home": {A, S, D},
    "console.use": {A, S},
    "tickets.work": {A, S},
    "tickets.canned": {S},
    "tickets.tag": {A, S},
    "tickets.erase": {D},
    "records.view": {A, S, D},
    "pii.reveal": {A, S},
    "recordings.play": {A, S, D},
    "recordings.play_any": {S, D},
    "supervisor.view": {S, D},
    "reports.export": {S, D},
    "routing.manage": {S, D},
    "calls.supervise": {S, D},
    "admin.view": {D},
    "users.manage": {D},
    "records.import": {D},
    "settings.manage": {D},
    "sla.manage": {D},
    "socket.staff": {A, S, D},
    "socket.supervisors": {S, D},
}


def unprotected_endpoints(app: Flask) -> list[str]:
    """Endpoints that are neither public nor declare a known permission."""
    offenders = []
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        if endpoint in PUBLIC_ENDPOINTS or endpoint.partition(".")[0] in PUBLIC_BLUEPRINTS:
            continue
        permission = getattr(app.view_functions[endpoint], "required_permission", None)
        if permission not in PERMISSIONS:
            offenders.append(f"{endpoint} ({rule.rule})")
    return sorted(offenders)


def test_every_route_declares_a_permission(app):
    offenders = unprotected_endpoints(app)
    assert not offenders, (
        "routes without @require(permission) and not in the public allow-list:\n  " + "\n  ".join(offenders)
    )


def test_the_route_check_sees_the_real_routes(app):
    # Guards against a walk that checks nothing (say, an empty url_map or a wrong attribute).
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert {"admin.users", "admin.create_user", "staff.home", "staff.login"} <= endpoints
    assert app.view_functions["admin.users"].required_permission == "users.manage"
    assert app.view_functions["staff.home"].required_permission == "staff.home"


@pytest.mark.committed  # another connection writes / a route is added: its own app
def test_the_route_check_catches_a_route_without_a_permission(app):
    before = set(unprotected_endpoints(app))

    def guarded() -> str:
        return "admins only"

    app.add_url_rule("/forgotten", "forgotten", lambda: "open to all")
    app.add_url_rule("/guarded", "guarded", require("users.manage")(guarded))
    assert set(unprotected_endpoints(app)) - before == {"forgotten (/forgotten)"}


def test_public_allow_list_names_real_endpoints(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert PUBLIC_ENDPOINTS <= endpoints


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("permission", sorted(EXPECTED))
def test_role_permission_matrix(role, permission):
    assert allowed(User(role=role, active=True), permission) is (role in EXPECTED[permission])


def test_matrix_covers_every_permission():
    assert set(PERMISSIONS) == set(EXPECTED)


@pytest.mark.parametrize("permission", sorted(EXPECTED))
def test_anonymous_and_deactivated_users_hold_no_permission(permission):
    assert allowed(AnonymousUserMixin(), permission) is False
    assert allowed(None, permission) is False
    assert allowed(User(role="admin", active=False), permission) is False


def test_unknown_permission_is_an_error_not_a_denial():
    with pytest.raises(UnknownPermission):
        allowed(User(role="admin", active=True), "users.manag")
    with pytest.raises(UnknownPermission):
        require("users.manag")


def _example_url(app: Flask, rule) -> str:  # type: ignore[no-untyped-def]
    values = {
        name: 1 if isinstance(converter, IntegerConverter) else "x"
        for name, converter in rule._converters.items()
    }
    return app.url_map.bind("localhost").build(rule.endpoint, values)


def test_every_state_changing_route_requires_a_csrf_token(app, client, auth):
    auth.login_as("admin")
    checked, failures = [], []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.partition(".")[0] in CSRF_EXEMPT_BLUEPRINTS:
            continue
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            url = _example_url(app, rule)
            response = client.open(url, method=method, headers={"Accept": "application/json"})
            body = response.get_json(silent=True) or {}
            if response.status_code != 400 or body.get("error", {}).get("code") != "csrf_failed":
                failures.append(f"{method} {url} -> {response.status_code}")
            checked.append(f"{method} {rule.rule}")
    assert not failures, "accepted without a CSRF token:\n  " + "\n  ".join(failures)
    assert {"POST /login", "POST /logout", "POST /admin/users"} <= set(checked)
