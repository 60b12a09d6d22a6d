"""Over a real server and real websockets: the wallboard snapshot reaches supervisors only."""

from __future__ import annotations

import pytest

from app.agents.models import WorkItem
from app.core.time import utcnow
from app.extensions import db
from app.supervisor import wallboard
from tests.live import PASSWORD, live_server, login_session, staff_sockets, staff_user  # noqa: F401

pytestmark = pytest.mark.slow


def test_agents_never_receive_wallboard_snapshots(app, live_server, staff_sockets, redis_conn):  # noqa: F811
    supervisor, agent = staff_user("supervisor"), staff_user("agent")
    supervisor_socket = staff_sockets(
        live_server.url, login_session(live_server.url, supervisor.email, PASSWORD)
    )
    agent_socket = staff_sockets(live_server.url, login_session(live_server.url, agent.email, PASSWORD))
    supervisor_socket.wait_for("hello")
    agent_socket.wait_for("hello")

    db.session.add(
        WorkItem(kind="call", ref_id=1, status="waiting", language="id", topic="other",
                 excluded_agents=[], enqueued_at=utcnow(), version=1)
    )  # fmt: skip
    db.session.commit()
    assert wallboard.Publisher(app).tick()

    snapshot = supervisor_socket.wait_for(wallboard.EVENT)
    assert snapshot["waiting"] == 1
    assert agent_socket.received(wallboard.EVENT, within=1.0) == []
    # The agent's socket works: it is the room, not the connection, that keeps the snapshot away.
    from app.core.realtime import emit_now

    emit_now("probe", {"ok": True}, f"user:{agent.id}")
    assert agent_socket.wait_for("probe") == {"ok": True}
