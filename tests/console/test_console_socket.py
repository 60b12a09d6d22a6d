"""Console sockets: rooms, presence while connected, and the grace period after they leave."""

from __future__ import annotations

from datetime import timedelta

from app.agents import routing
from app.agents.events import console_sockets
from app.agents.models import AgentPresence
from app.agents.routing import presence as presence_svc
from app.core.realtime import STAFF_NAMESPACE
from app.core.time import utcnow
from app.extensions import db, socketio
from tests.realtime.conftest import in_fresh_context, queueless_socketio, staff_clients  # noqa: F401


def _console(staff_clients, user):  # type: ignore[no-untyped-def]  # noqa: F811
    client = staff_clients.http(user)
    return in_fresh_context(
        socketio.test_client,
        staff_clients.app,
        namespace=STAFF_NAMESPACE,
        flask_test_client=client,
        auth={"console": True},
    )


def test_a_console_socket_joins_its_language_queues_and_is_seen(app, auth, staff_clients):  # noqa: F811
    agent = auth.user("agent")
    presence_svc.set_skills(agent.id, languages=["id", "jv"])
    db.session.commit()

    socket = _console(staff_clients, agent)

    hello = socket.get_received(STAFF_NAMESPACE)[0]["args"][0]
    assert hello["console"] is True
    assert {"queue:id", "queue:jv"} <= set(hello["rooms"])
    assert console_sockets(app).agents() == [agent.id]
    db.session.expire_all()
    assert db.session.get(AgentPresence, agent.id).console_seen_at is not None  # type: ignore[union-attr]
    in_fresh_context(socket.disconnect, namespace=STAFF_NAMESPACE)


def test_an_ordinary_staff_socket_is_not_a_console(app, auth, staff_clients):  # noqa: F811
    agent = auth.user("agent")
    staff_clients.socket(agent)
    assert console_sockets(app).agents() == []


def test_after_the_console_leaves_the_agent_goes_offline_only_after_the_grace_period(
    app,
    auth,
    staff_clients,  # noqa: F811
):
    app.config["PRESENCE_GRACE_SECONDS"] = 30
    agent = auth.user("agent")
    agent_id = agent.id
    socket = _console(staff_clients, agent)
    presence_svc.set_state(agent_id, "available")
    db.session.commit()

    in_fresh_context(socket.disconnect, namespace=STAFF_NAMESPACE)
    assert console_sockets(app).agents() == []  # this process no longer vouches for the agent

    routing.tick(now=utcnow() + timedelta(seconds=10))  # a reload or a network blip: kept
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(AgentPresence, agent_id).state == "available"  # type: ignore[union-attr]

    routing.tick(now=utcnow() + timedelta(seconds=31))
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(AgentPresence, agent_id).state == "offline"  # type: ignore[union-attr]


def test_each_web_process_heartbeats_the_consoles_it_serves(app, auth, staff_clients):  # noqa: F811
    app.config["CONSOLE_HEARTBEAT_SECONDS"] = 0.05
    agent = auth.user("agent")
    agent_id = agent.id
    socket = _console(staff_clients, agent)
    stale = utcnow() - timedelta(minutes=5)
    db.session.query(AgentPresence).filter_by(agent_id=agent_id).update({"console_seen_at": stale})
    db.session.commit()
    try:
        deadline = utcnow() + timedelta(seconds=5)
        while utcnow() < deadline:
            db.session.expire_all()
            seen = db.session.get(AgentPresence, agent_id).console_seen_at  # type: ignore[union-attr]
            if seen is not None and seen > stale + timedelta(minutes=1):
                break
            socketio.sleep(0.05)
        assert seen is not None and seen > stale + timedelta(minutes=1)
    finally:
        in_fresh_context(socket.disconnect, namespace=STAFF_NAMESPACE)


def test_a_replaced_console_registry_stops_its_heartbeat(app, monkeypatch):
    """A registry no longer the app's (an app put back, an extension re-initialised) stops beating
    instead of writing presence from its own connection forever."""
    import threading
    import time

    from app.agents import events

    monkeypatch.setitem(app.config, "CONSOLE_HEARTBEAT_SECONDS", 0.05)
    beats: list[list[int]] = []
    monkeypatch.setattr(events, "console_seen", lambda agents: beats.append(agents))
    registry = events.console_sockets(app)
    registry.add("sid-1", 7)
    deadline = time.monotonic() + 5
    while not beats and time.monotonic() < deadline:
        time.sleep(0.02)
    assert beats, "the heartbeat runs while the registry is the app's"
    app.extensions[events.CONSOLE_SOCKETS_KEY] = events._ConsoleSockets(app)  # replaced
    deadline = time.monotonic() + 5
    while registry.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not registry.started
    assert not [t for t in threading.enumerate() if getattr(getattr(t, "_target", None), "__self__", None) is registry]
