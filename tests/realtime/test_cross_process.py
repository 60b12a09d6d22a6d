"""Real cross-process delivery: two web processes and a worker-style emitter share one Redis.

Each web process is a separate OS process running the real app (``python -m tests.live``) on
the test database and the session's Redis, with one Socket.IO channel. Clients are python-socketio
clients that signed in over HTTP (CSRF included) and connect with the session cookie.
"""

from __future__ import annotations

import pytest
from flask_socketio import SocketIO

from app.core.realtime import STAFF_NAMESPACE, publish, use_write_only_emitter
from tests.live import PASSWORD, WebProcesses, login_session, staff_user, wait_for_subscribers

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("app")]  # app: users go into the test DB


def _signed_in(base_url: str, role: str = "agent"):  # type: ignore[no-untyped-def]
    user = staff_user(role)
    return user.id, login_session(base_url, user.email, PASSWORD)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_worker_emitter_reaches_the_user_on_a_web_process(
    two_web_processes: WebProcesses, staff_sockets, redis_url, transport
):
    web = two_web_processes
    agent_id, agent_session = _signed_in(web.a.url)
    _, other_session = _signed_in(web.a.url)
    agent_socket = staff_sockets(web.a.url, agent_session, transport)
    other_socket = staff_sockets(web.a.url, other_session, transport)
    assert agent_socket.wait_for("hello")["user_id"] == agent_id

    # What an rq worker does: a SocketIO with a message queue and no app is write-only.
    emitter = SocketIO(message_queue=redis_url, channel=web.channel)
    emitter.emit("ticket.assigned", {"ticket_id": 42}, to=f"user:{agent_id}", namespace=STAFF_NAMESPACE)

    assert agent_socket.wait_for("ticket.assigned") == {"ticket_id": 42}
    assert other_socket.received("ticket.assigned", within=0.5) == []
    # Write-only: the emitter did not subscribe; only the two web processes listen.
    assert wait_for_subscribers(redis_url, web.channel, 2) == 2


def test_job_publish_reaches_the_user_after_its_commit(
    app, db, two_web_processes: WebProcesses, staff_sockets
):
    web = two_web_processes
    agent = staff_user("agent")
    agent_socket = staff_sockets(web.b.url, login_session(web.b.url, agent.email, PASSWORD))
    agent_socket.wait_for("hello")
    # The worker's app: publish() inside the job's transaction, delivered by the
    # write-only emitter on the shared channel once the job commits.
    app.config["SOCKETIO_CHANNEL"] = web.channel
    use_write_only_emitter(app)

    agent.name = "Dewi Lestari"
    publish("user.updated", {"id": agent.id, "name": "Dewi Lestari"}, room=f"user:{agent.id}")
    assert agent_socket.received("user.updated", within=0.5) == []

    db.session.commit()
    assert agent_socket.wait_for("user.updated") == {"id": agent.id, "name": "Dewi Lestari"}


def test_emit_on_web_process_b_reaches_the_user_on_web_process_a(
    two_web_processes: WebProcesses, staff_sockets
):
    web = two_web_processes
    agent_id, session = _signed_in(web.a.url)
    on_a = staff_sockets(web.a.url, session)
    on_a.wait_for("hello")

    web.b.publish("ticket.assigned", {"ticket_id": 7, "from": "b"}, room=f"user:{agent_id}")

    assert on_a.wait_for("ticket.assigned") == {"ticket_id": 7, "from": "b"}


def test_emit_on_web_process_a_reaches_supervisors_on_web_process_b(
    two_web_processes: WebProcesses, staff_sockets
):
    web = two_web_processes
    _, supervisor_session = _signed_in(web.b.url, "supervisor")
    _, agent_session = _signed_in(web.b.url, "agent")
    supervisor_on_b = staff_sockets(web.b.url, supervisor_session)
    agent_on_b = staff_sockets(web.b.url, agent_session)
    supervisor_on_b.wait_for("hello")
    agent_on_b.wait_for("hello")

    web.a.publish("queue.stats", {"waiting": 4}, room="supervisors")

    assert supervisor_on_b.wait_for("queue.stats") == {"waiting": 4}
    assert agent_on_b.received("queue.stats", within=0.5) == []
