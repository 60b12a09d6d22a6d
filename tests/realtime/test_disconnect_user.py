"""A deactivated (or re-roled) account's open sockets are closed at once, in every web process.

Two real web processes share Redis. The agent has a /staff socket on each; an administrator,
signed in on the second process, deactivates the agent through the admin page. Both of the
agent's sockets are disconnected by the server (a control message every web process handles),
a colleague's socket is left alone, and the agent cannot connect again.
"""

from __future__ import annotations

import re

import pytest
import requests
import socketio as socketio_client

from tests.live import PASSWORD, USER_AGENT, WebProcesses, login_session, staff_user

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("app")]  # app: users go into the test DB

_CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _watch_disconnect(socket):  # type: ignore[no-untyped-def]
    """Record the server closing the /staff namespace as a ``disconnect`` event."""
    socket.sio.on("disconnect", lambda *args: socket.events.put(("disconnect", args)), namespace="/staff")
    return socket


def _admin_post(session: requests.Session, base_url: str, path: str) -> requests.Response:
    page = session.get(base_url + "/admin/users", timeout=10)
    token = _CSRF_INPUT.search(page.text)
    assert token, f"no CSRF token on /admin/users ({page.status_code})"
    return session.post(
        base_url + path, data={"csrf_token": token.group(1)}, allow_redirects=False, timeout=10
    )


def test_deactivating_an_agent_closes_their_sockets_on_every_web_process(
    two_web_processes: WebProcesses, staff_sockets
):
    web = two_web_processes
    agent = staff_user("agent")
    colleague = staff_user("agent")
    admin = staff_user("admin")
    agent_session = login_session(web.a.url, agent.email, PASSWORD)
    on_a = _watch_disconnect(staff_sockets(web.a.url, agent_session))
    on_b = _watch_disconnect(staff_sockets(web.b.url, agent_session))  # same cookie, other process
    bystander = _watch_disconnect(staff_sockets(web.a.url, login_session(web.a.url, colleague.email, PASSWORD)))
    for socket in (on_a, on_b, bystander):
        socket.wait_for("hello")

    admin_session = login_session(web.b.url, admin.email, PASSWORD)
    response = _admin_post(admin_session, web.b.url, f"/admin/users/{agent.id}/deactivate")
    assert response.status_code == 303

    on_a.wait_for("disconnect", timeout=5)
    on_b.wait_for("disconnect", timeout=5)
    assert not on_a.sio.connected and not on_b.sio.connected
    assert bystander.received("disconnect", within=0.5) == []
    assert bystander.sio.connected

    # And the old session cannot open a new socket.
    again = socketio_client.Client(reconnection=False)
    cookie = "; ".join(f"{c.name}={c.value}" for c in agent_session.cookies)
    with pytest.raises(socketio_client.exceptions.ConnectionError):
        again.connect(
            web.a.url,
            namespaces=["/staff"],
            headers={"User-Agent": USER_AGENT, "Cookie": cookie},
            transports=["websocket"],
            wait_timeout=5,
        )
    again.shutdown()


def test_a_role_change_closes_the_sockets_so_they_rejoin_with_the_new_rooms(
    two_web_processes: WebProcesses, staff_sockets
):
    web = two_web_processes
    supervisor = staff_user("supervisor")
    admin = staff_user("admin")
    session = login_session(web.a.url, supervisor.email, PASSWORD)
    socket = _watch_disconnect(staff_sockets(web.a.url, session))
    assert "supervisors" in socket.wait_for("hello")["rooms"]

    admin_session = login_session(web.b.url, admin.email, PASSWORD)
    page = admin_session.get(web.b.url + "/admin/users", timeout=10)
    token = _CSRF_INPUT.search(page.text).group(1)
    response = admin_session.post(
        f"{web.b.url}/admin/users/{supervisor.id}/role",
        data={"csrf_token": token, "role": "agent"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 303
    socket.wait_for("disconnect", timeout=5)

    rejoined = staff_sockets(web.a.url, session)
    assert "supervisors" not in rejoined.wait_for("hello")["rooms"]
