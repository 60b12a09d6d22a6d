"""The wallboard push: supervisors get snapshots over /staff when something changed; agents never.

Socket level, with Flask-SocketIO's test client (tests/realtime/conftest.py) and the real Redis
that the publishers share to coalesce pushes across worker processes.
"""

from __future__ import annotations

import threading

from app.agents.models import WorkItem
from app.core.realtime import STAFF_NAMESPACE
from app.core.scheduler import Scheduler, periodic_jobs
from app.core.time import utcnow
from app.supervisor import wallboard
from tests.live import staff_user
from tests.realtime.conftest import StaffClients, queueless_socketio, staff_clients  # noqa: F401


def _snapshots(socket_client):
    return [e["args"][0] for e in socket_client.get_received(STAFF_NAMESPACE) if e["name"] == wallboard.EVENT]


def _enqueue(db, ref_id):
    db.session.add(
        WorkItem(
            kind="call",
            ref_id=ref_id,
            status="waiting",
            language="id",
            topic="other",
            excluded_agents=[],
            enqueued_at=utcnow(),
            version=1,
        )
    )
    db.session.commit()


def test_supervisors_get_the_snapshot_and_agents_do_not(app, db, redis_conn, staff_clients: StaffClients):  # noqa: F811
    agent_socket = staff_clients.socket(staff_user("agent"))
    supervisor_socket = staff_clients.socket(staff_user("supervisor"))
    admin_socket = staff_clients.socket(staff_user("admin"))
    _enqueue(db, 1)

    assert wallboard.Publisher(app).tick() is True

    [snapshot] = _snapshots(supervisor_socket)
    assert snapshot["waiting"] == 1
    assert len(_snapshots(admin_socket)) == 1
    assert agent_socket.get_received(STAFF_NAMESPACE) == []


def test_nothing_changed_nothing_pushed_then_a_change_is_pushed(app, db, redis_conn, staff_clients):  # noqa: F811
    supervisor_socket = staff_clients.socket(staff_user("supervisor"))
    publisher = wallboard.Publisher(app)
    assert publisher.tick() is True
    assert publisher.tick() is False
    assert [s["waiting"] for s in _snapshots(supervisor_socket)] == [0]
    _enqueue(db, 1)
    _enqueue(db, 2)  # a burst of changes between two ticks: one push
    assert publisher.tick() is True
    assert [s["waiting"] for s in _snapshots(supervisor_socket)] == [2]


def test_several_workers_push_a_change_once(app, db, redis_conn, staff_clients):  # noqa: F811
    supervisor_socket = staff_clients.socket(staff_user("supervisor"))
    first, second = wallboard.Publisher(app), wallboard.Publisher(app)
    _enqueue(db, 1)
    assert [first.tick(), second.tick()] == [True, False]
    _enqueue(db, 2)
    assert [second.tick(), first.tick()] == [True, False]
    assert [s["waiting"] for s in _snapshots(supervisor_socket)] == [1, 2]


def test_the_loop_pushes_until_stopped(app, db, redis_conn, staff_clients):  # noqa: F811
    supervisor_socket = staff_clients.socket(staff_user("supervisor"))
    stop = threading.Event()
    app.config["SUPERVISOR_WALLBOARD_SECONDS"] = 0.05
    scheduler = Scheduler(app, [periodic_jobs(app)["wallboard"]], stop=stop)
    scheduler.start()
    try:
        deadline = 50
        while not _has_snapshot(supervisor_socket) and deadline:
            stop.wait(0.1)
            deadline -= 1
        assert deadline, "no snapshot pushed by the loop"
    finally:
        scheduler.stop()
    assert not any(thread.is_alive() for thread in scheduler.threads.values())


def _has_snapshot(socket_client) -> bool:
    return bool(_snapshots(socket_client))
