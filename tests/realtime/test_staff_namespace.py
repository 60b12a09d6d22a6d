"""The /staff Socket.IO namespace: who may connect, and which rooms the server assigns."""

from __future__ import annotations

from app.core.realtime import STAFF_NAMESPACE, emit_now
from app.extensions import socketio
from tests.live import staff_user
from tests.realtime.conftest import StaffClients


def _rooms(socket_client) -> set[str]:  # type: ignore[no-untyped-def]
    manager = socketio.server.manager
    sid = manager.sid_from_eio_sid(socket_client.eio_sid, STAFF_NAMESPACE)
    assert sid is not None, "not connected to /staff"
    return set(manager.get_rooms(sid, STAFF_NAMESPACE)) - {sid}


def test_anonymous_connection_is_refused_until_signed_in(staff_clients: StaffClients):
    agent = staff_user("agent")
    client = staff_clients.http()

    assert not staff_clients.connect(client).is_connected(STAFF_NAMESPACE)

    # The same client is accepted once signed in: the refusal was about the missing login,
    # not a namespace the server does not serve.
    staff_clients.login(client, agent)
    assert staff_clients.connect(client).is_connected(STAFF_NAMESPACE)


def test_agent_joins_own_and_role_rooms_but_not_supervisors(staff_clients: StaffClients):
    agent = staff_user("agent")
    socket_client = staff_clients.connect(staff_clients.http(agent))
    assert socket_client.is_connected(STAFF_NAMESPACE)
    assert _rooms(socket_client) == {f"user:{agent.id}", "role:agent", "tickets"}


def test_supervisor_also_joins_supervisors(staff_clients: StaffClients):
    supervisor = staff_user("supervisor")
    socket_client = staff_clients.connect(staff_clients.http(supervisor))
    assert _rooms(socket_client) == {f"user:{supervisor.id}", "role:supervisor", "supervisors", "tickets"}


def test_rooms_follow_the_cookie_not_the_previous_request(staff_clients: StaffClients):
    agent, supervisor = staff_user("agent"), staff_user("supervisor")
    agent_client = staff_clients.http(agent)
    staff_clients.http(supervisor)  # someone else signs in meanwhile
    assert _rooms(staff_clients.connect(agent_client)) == {f"user:{agent.id}", "role:agent", "tickets"}


def test_connect_greets_with_the_assigned_rooms(staff_clients: StaffClients):
    agent = staff_user("agent")
    socket_client = staff_clients.connect(staff_clients.http(agent))
    received = socket_client.get_received(STAFF_NAMESPACE)
    assert [(event["name"], event["args"]) for event in received] == [
        ("hello", [{"user_id": agent.id, "role": "agent", "rooms": [f"user:{agent.id}", "role:agent", "tickets"]}])
    ]


def test_supervisor_room_events_reach_supervisors_only(staff_clients: StaffClients):
    agent_socket = staff_clients.socket(staff_user("agent"))
    supervisor_socket = staff_clients.socket(staff_user("supervisor"))

    emit_now("queue.stats", {"waiting": 3}, room="supervisors")

    assert agent_socket.get_received(STAFF_NAMESPACE) == []
    received = supervisor_socket.get_received(STAFF_NAMESPACE)
    assert [(event["name"], event["args"]) for event in received] == [("queue.stats", [{"waiting": 3}])]


def test_deactivated_account_is_refused(staff_clients: StaffClients, db):
    agent = staff_user("agent")
    client = staff_clients.http(agent)
    agent.active = False
    db.session.commit()
    assert not staff_clients.connect(client).is_connected(STAFF_NAMESPACE)


def test_signed_out_session_is_refused(staff_clients: StaffClients):
    client = staff_clients.http(staff_user("agent"))
    staff_clients.logout(client)
    assert not staff_clients.connect(client).is_connected(STAFF_NAMESPACE)
