"""app.core.realtime.publish: an event reaches its room only when the transaction commits."""

from __future__ import annotations

from app.core.realtime import STAFF_NAMESPACE, pending, publish
from tests.live import staff_user
from tests.realtime.conftest import StaffClients


def _events(socket_client) -> list[tuple[str, list]]:  # type: ignore[no-untyped-def]
    return [(event["name"], event["args"]) for event in socket_client.get_received(STAFF_NAMESPACE)]


def test_event_is_delivered_only_after_commit(staff_clients: StaffClients, db):
    agent = staff_user("agent")
    socket_client = staff_clients.socket(agent)

    agent.name = "Dewi Lestari"
    publish("user.updated", {"id": agent.id, "name": "Dewi Lestari"}, room=f"user:{agent.id}")
    db.session.flush()
    assert _events(socket_client) == []

    db.session.commit()
    assert _events(socket_client) == [("user.updated", [{"id": agent.id, "name": "Dewi Lestari"}])]


def test_event_goes_to_its_room_only(staff_clients: StaffClients, db):
    agent, other = staff_user("agent"), staff_user("agent")
    agent_socket, other_socket = staff_clients.socket(agent), staff_clients.socket(other)

    publish("ticket.assigned", {"ticket_id": 7}, room=f"user:{agent.id}")
    db.session.commit()

    assert _events(agent_socket) == [("ticket.assigned", [{"ticket_id": 7}])]
    assert _events(other_socket) == []


def test_rolled_back_event_is_never_delivered(staff_clients: StaffClients, db):
    agent = staff_user("agent")
    socket_client = staff_clients.socket(agent)

    agent.name = "Never saved"
    publish("user.updated", {"id": agent.id}, room=f"user:{agent.id}")
    db.session.rollback()
    assert pending() == []

    db.session.commit()  # a later commit must not deliver the discarded event
    assert _events(socket_client) == []


def test_closed_session_drops_uncommitted_events(staff_clients: StaffClients, db):
    agent = staff_user("agent")
    socket_client = staff_clients.socket(agent)
    agent_id = agent.id

    db.session.get(type(agent), agent_id)  # a transaction is open
    publish("user.updated", {"id": agent_id}, room=f"user:{agent_id}")
    db.session.close()

    db.session.commit()
    assert _events(socket_client) == []


def test_released_savepoint_waits_for_the_outer_commit(staff_clients: StaffClients, db):
    agent = staff_user("agent")
    socket_client = staff_clients.socket(agent)

    agent.name = "Inside a savepoint"
    with db.session.begin_nested():
        publish("user.updated", {"id": agent.id}, room=f"user:{agent.id}")
    # SQLAlchemy fires after_commit when a savepoint is released; that is not a commit.
    assert _events(socket_client) == []

    db.session.commit()
    assert _events(socket_client) == [("user.updated", [{"id": agent.id}])]


def test_rolled_back_savepoint_drops_only_its_own_events(staff_clients: StaffClients, db):
    agent = staff_user("agent")
    socket_client = staff_clients.socket(agent)
    room = f"user:{agent.id}"

    agent.name = "Outer change"
    publish("outer", {}, room=room)
    savepoint = db.session.begin_nested()
    publish("inner", {}, room=room)
    savepoint.rollback()
    db.session.commit()

    assert _events(socket_client) == [("outer", [{}])]
