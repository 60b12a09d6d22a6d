"""Realtime delivery: events published by services reach Socket.IO rooms after commit.

Services call :func:`publish` inside their transaction; the event is emitted only if the
transaction commits (and dropped on rollback), so no client ever sees a change that did not
happen. The web process emits through its own server; rq workers and CLI commands get a
write-only emitter on the Redis message queue (it starts no listener thread).
Delivery is at-most-once: clients re-fetch state over HTTP on (re)connect, and payloads carry
entity versions so stale events can be ignored.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app
from flask_socketio import SocketIO
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import socketio

log = logging.getLogger(__name__)

STAFF_NAMESPACE = "/staff"
_PENDING_KEY = "halopmi_realtime_pending"


def publish(event_name: str, data: dict[str, Any], room: str, session: Session | None = None) -> None:
    """Emit ``event_name`` to ``room`` once the current transaction commits."""
    from app.extensions import db

    target = session or db.session()
    target.info.setdefault(_PENDING_KEY, []).append((event_name, data, room))


def emit_now(event_name: str, data: dict[str, Any], room: str) -> None:
    """Emit immediately (outside any transaction)."""
    emitter = current_app.extensions.get("halopmi_emitter")
    try:
        if emitter is not None:
            emitter.emit(event_name, data, to=room, namespace=STAFF_NAMESPACE)
        else:
            socketio.emit(event_name, data, to=room, namespace=STAFF_NAMESPACE)
    except Exception:  # noqa: BLE001 - a lost event is tolerated; clients resync over HTTP
        log.exception("realtime emit of %s failed", event_name)


def use_write_only_emitter(app: Flask) -> None:
    """For processes that are not web servers (rq workers, CLI): emit via Redis only."""
    url = app.config.get("REDIS_URL")
    if url:
        app.extensions["halopmi_emitter"] = SocketIO(
            message_queue=url, channel=app.config["SOCKETIO_CHANNEL"]
        )


@event.listens_for(Session, "after_commit")
def _flush_events(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    for event_name, data, room in pending or ():
        emit_now(event_name, data, room)


@event.listens_for(Session, "after_soft_rollback")
def _drop_events(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # outermost transaction rolled back
        session.info.pop(_PENDING_KEY, None)
