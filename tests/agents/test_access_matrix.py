"""The access matrix, exercised: every route of the URL map and every Socket.IO handler, requested
by each kind of person — anonymous, a worker signed in to her own case, agent, supervisor, admin —
must answer as the declared policy says (issue 12).

``tests/agents/test_policy.py`` checks that every route *declares* a permission; this walks the
real responses, so a route whose check is missing, misplaced after a lookup, or answers 500 to a
person it should simply refuse, fails here. A new route is covered the moment it is registered: the
walk comes from ``app.url_map``; a new Socket.IO event fails until ``SOCKET_EVENTS`` names it.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import IntegerConverter, Rule

from app.agents.events import STAFF_NAMESPACE
from app.core.policy import ROLES, allowed
from app.extensions import db, socketio
from app.tickets import intake, schemas
from tests.agents.test_policy import PUBLIC_BLUEPRINTS, PUBLIC_ENDPOINTS
from tests.conftest import Auth, RequestScopedClient, csrf_token
from tests.realtime.conftest import in_fresh_context, queueless_socketio  # noqa: F401 - fixture

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Socket.IO: every handled event of every namespace and the permission it needs. Class-based
# namespaces are walked for their on_* methods; a handler missing here fails the walk.
SOCKET_EVENTS: dict[str, dict[str, str]] = {
    STAFF_NAMESPACE: {"connect": "socket.staff", "disconnect": "socket.staff"},
}
PHONE_A, PHONE_B = "+85291234567", "+886912345678"


def _example_url(app: Flask, rule: Rule) -> str:
    values = {
        name: 1 if isinstance(converter, IntegerConverter) else "x"
        for name, converter in rule._converters.items()  # noqa: SLF001 - werkzeug has no public list
    }
    return app.url_map.bind("localhost").build(rule.endpoint, values)


def _staff_rules(app: Flask) -> list[Rule]:
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS or rule.endpoint.partition(".")[0] in PUBLIC_BLUEPRINTS:
            continue
        rules.append(rule)
    return sorted(rules, key=lambda r: r.rule)


def _permission(app: Flask, rule: Rule) -> str:
    return str(app.view_functions[rule.endpoint].required_permission)


def _client(app: Flask) -> FlaskClient:
    app.test_client_class = RequestScopedClient
    return app.test_client()


def _request(client: FlaskClient, method: str, url: str, token: str) -> Any:
    if method in STATE_CHANGING:
        return client.open(url, method=method, data={"csrf_token": token}, headers={"X-CSRFToken": token})
    return client.open(url, method=method)


def _refused(response: Any, anonymous: bool) -> bool:
    if anonymous:
        # A page sends the anonymous visitor to sign in; a JSON endpoint says 401.
        return response.status_code == 401 or (
            response.status_code in (302, 303) and "/login" in response.headers.get("Location", "")
        )
    return response.status_code == 403


def walk(app: Flask, who: str) -> tuple[int, list[str]]:
    """Request every staff route as ``who``; returns how many answers were checked and the wrong ones."""
    client = _client(app)
    user = None
    if who != "anonymous":
        auth = Auth(client)
        user = auth.user(who, name=f"Matrix {who}")
        auth.login(user)
        token = csrf_token(client, "/staff/")
    else:
        token = csrf_token(client)
    checked, wrong = 0, []
    for rule in _staff_rules(app):
        url = _example_url(app, rule)
        may = user is not None and allowed(user, _permission(app, rule))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if may and method in STATE_CHANGING:
                continue  # doing it is the feature's own tests' business; refusing is this one's
            response = _request(client, method, url, token)
            response.get_data()  # a streamed export runs to its end inside its own context
            response.close()
            checked += 1
            status = response.status_code
            if status >= 500:
                wrong.append(f"{method} {url} ({rule.endpoint}): {status}")
            elif may and status in (401, 403):
                wrong.append(f"{method} {url} ({rule.endpoint}): refused with {status}, policy allows {who}")
            elif may and status in (302, 303) and "/login" in response.headers.get("Location", ""):
                wrong.append(f"{method} {url} ({rule.endpoint}): sent to sign in, policy allows {who}")
            elif not may and not _refused(response, user is None):
                wrong.append(f"{method} {url} ({rule.endpoint}): {status}, policy refuses {who}")
    return checked, wrong


@pytest.mark.parametrize("who", ["anonymous", *ROLES])
def test_every_staff_route_answers_each_role_as_the_policy_says(app: Flask, who: str) -> None:
    checked, wrong = walk(app, who)
    assert checked > 40, f"the walk checked only {checked} requests"  # the map was really walked
    assert not wrong, f"{len(wrong)} of {checked} answers disagree with the policy for {who}:\n" + "\n".join(wrong)


@pytest.mark.own_app  # it adds a route: a fresh app, not the session's
def test_the_walk_catches_a_route_that_declares_a_permission_but_does_not_check_it(app: Flask) -> None:
    def leaky() -> str:
        return "every account, admin or not"

    leaky.required_permission = "users.manage"  # type: ignore[attr-defined] - declared, never enforced
    app.add_url_rule("/admin/leaky", "admin.leaky", leaky)
    _checked, wrong = walk(app, "agent")
    assert wrong == ["GET /admin/leaky (admin.leaky): 200, policy refuses agent"]


def _case(name: str, phone: str) -> str:
    result = schemas.validate_complaint(
        {
            "name": name,
            "phone": phone,
            "country": "HK",
            "category": "claim_jkk",
            "description": f"{name}: majikan menahan paspor saya sejak bulan lalu.",
            "language": "id",
        }
    )
    assert result.ok, result.errors
    ticket = intake.file_complaint(result.clean, channel="portal")
    db.session.commit()
    return str(ticket.reference)


def test_a_worker_signed_in_to_her_case_reaches_hers_and_no_other(app: Flask) -> None:
    mine, theirs = _case("Siti Rahayu", PHONE_A), _case("Ani Lestari", PHONE_B)
    client = _client(app)
    token = csrf_token(client, "/complaints/track")
    response = client.post(
        "/complaints/track", data={"reference": mine, "verification": PHONE_A, "csrf_token": token}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/complaints/{mine}")
    assert client.get(f"/complaints/{mine}").status_code == 200

    page = client.get(f"/complaints/{theirs}")
    assert page.status_code != 200 and b"Ani Lestari" not in page.data
    token = csrf_token(client, f"/complaints/{mine}")
    for path in (f"/complaints/{theirs}/reply", f"/complaints/{theirs}/rating"):
        response = client.post(path, data={"body": "x", "score": "5", "csrf_token": token})
        assert response.status_code in (302, 303, 403, 404), (path, response.status_code)
        assert not response.headers.get("Location", "").endswith(f"/complaints/{theirs}"), path
    assert client.get(f"/complaints/{theirs}/files/1").status_code in (302, 403, 404)
    # The public API asks for the verification every time; hers does not open someone else's case.
    api = client.get(f"/api/v1/complaints/{theirs}", query_string={"verification": PHONE_A})
    assert api.status_code == 404
    # A worker is not staff: every staff page refuses her as it refuses anyone signed out.
    for path in ("/staff/", "/tickets/", "/console/", "/supervisor/", "/admin/users"):
        response = client.get(path)
        assert response.status_code in (302, 401) and "/login" in response.headers.get("Location", "/login"), path


def _socket_events() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for handler in socketio.namespace_handlers:
        events = {name[3:] for name in dir(handler) if name.startswith("on_") and callable(getattr(handler, name))}
        events.discard("event")  # Namespace.on_event is the dispatcher, not an event
        found.setdefault(handler.namespace, set()).update(events)
    for _message, _handler, namespace in socketio.handlers:
        found.setdefault(namespace or "/", set()).add(_message)
    return found


def test_every_socket_event_has_a_rule() -> None:
    found = _socket_events()
    assert STAFF_NAMESPACE in found and "connect" in found[STAFF_NAMESPACE]  # the walk saw the real handlers
    missing = {ns: sorted(events - set(SOCKET_EVENTS.get(ns, {}))) for ns, events in found.items()}
    missing = {ns: events for ns, events in missing.items() if events}
    assert not missing, f"Socket.IO events without a rule in SOCKET_EVENTS: {missing}"


@pytest.mark.parametrize("who", ["anonymous", "worker", *ROLES])
@pytest.mark.usefixtures("queueless_socketio")
def test_each_socket_namespace_admits_exactly_the_roles_the_policy_says(app: Flask, who: str) -> None:
    client = _client(app)
    user = None
    if who == "worker":  # a worker signed in to her case is not staff
        reference = _case("Siti Rahayu", PHONE_A)
        token = csrf_token(client, "/complaints/track")
        client.post("/complaints/track", data={"reference": reference, "verification": PHONE_A, "csrf_token": token})
    elif who != "anonymous":
        auth = Auth(client)
        user = auth.user(who, name=f"Socket {who}")
        auth.login(user)
    for namespace, events in SOCKET_EVENTS.items():
        may = user is not None and allowed(user, events["connect"])
        socket = in_fresh_context(socketio.test_client, app, namespace=namespace, flask_test_client=client)
        try:
            assert socket.is_connected(namespace) is may, (namespace, who)
        finally:
            if socket.is_connected(namespace):
                socket.disconnect(namespace=namespace)


def test_joining_a_live_call_is_for_supervisors_and_admins_only(app: Flask) -> None:
    """Listen, whisper, barge in (issue 15): every route of it declares ``calls.supervise``, held by
    supervisors and admins only, so the walk above refuses agents (403) and anonymous visitors
    (401) on each; the TwiML App refuses a softphone of any other account
    (tests/telephony/test_supervision.py)."""
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("live_calls.")}
    assert {"live_calls.supervise", "live_calls.change_mode", "live_calls.leave", "live_calls.voice_token"} <= endpoints
    assert {_permission(app, rule) for rule in app.url_map.iter_rules() if rule.endpoint in endpoints} == {
        "calls.supervise"
    }
    holders = {role for role in ROLES if allowed(type("U", (), {"is_authenticated": True, "role": role})(), "calls.supervise")}
    assert holders == {"supervisor", "admin"}
