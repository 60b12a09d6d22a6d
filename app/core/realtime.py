"""Realtime delivery: events published by services reach Socket.IO rooms after commit.

Services call :func:`publish` inside their transaction; the event is emitted only when the
outermost transaction commits. It is dropped when that transaction rolls back or is closed
without a commit, and also when a savepoint (``begin_nested``) that was open at publish time
rolls back, so no client ever sees a change that did not happen. Releasing a savepoint is not
a commit: SQLAlchemy fires ``after_commit`` for it too, so that case is ignored here.

The web process emits through its own server; rq workers and CLI commands get a write-only
emitter on the Redis message queue (it starts no listener thread).
Delivery is at-most-once: clients re-fetch state over HTTP on (re)connect, and payloads carry
entity versions so stale events can be ignored.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from flask import Flask, current_app
from flask_socketio import SocketIO
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.extensions import socketio

log = logging.getLogger(__name__)

STAFF_NAMESPACE = "/staff"
_PENDING_KEY = "halopmi_realtime_pending"
_EMITTER_KEY = "halopmi_emitter"


class _Pending(NamedTuple):
    event_name: str
    data: dict[str, Any]
    room: str
    # The innermost transaction open at publish time (None: none had begun yet).
    transaction: SessionTransaction | None


def publish(event_name: str, data: dict[str, Any], room: str, session: Session | None = None) -> None:
    """Emit ``event_name`` to ``room`` once the current transaction commits."""
    from app.extensions import db

    target = session or db.session()
    transaction = target.get_nested_transaction() or target.get_transaction()
    target.info.setdefault(_PENDING_KEY, []).append(_Pending(event_name, data, room, transaction))


def pending(session: Session | None = None) -> list[tuple[str, dict[str, Any], str]]:
    """Events waiting for the commit of ``session`` (for tests and debugging)."""
    from app.extensions import db

    target = session or db.session()
    return [(p.event_name, p.data, p.room) for p in target.info.get(_PENDING_KEY, ())]


def emit_now(event_name: str, data: dict[str, Any], room: str) -> None:
    """Emit immediately (outside any transaction)."""
    emitter = current_app.extensions.get(_EMITTER_KEY)
    try:
        if emitter is not None:
            emitter.emit(event_name, data, to=room, namespace=STAFF_NAMESPACE)
        else:
            socketio.emit(event_name, data, to=room, namespace=STAFF_NAMESPACE)
    except Exception:  # noqa: BLE001 - a lost event is tolerated; clients resync over HTTP
        log.exception("realtime emit of %s failed", event_name)


def use_write_only_emitter(app: Flask) -> None:
    """For processes that are not web servers (rq workers, CLI): emit via Redis only.

    The emitter is a separate ``SocketIO`` given no app, so it starts no listener; calling
    ``socketio.init_app`` in a worker instead would make it a (useless) listener.
    """
    url = app.config.get("REDIS_URL")
    if url:
        app.extensions[_EMITTER_KEY] = SocketIO(message_queue=url, channel=app.config["SOCKETIO_CHANNEL"])


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_commit")
def _flush_events(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint was released; the outer one may still fail
        return
    pending_events = session.info.pop(_PENDING_KEY, None)
    for item in pending_events or ():
        emit_now(item.event_name, item.data, item.room)


@event.listens_for(Session, "after_soft_rollback")
def _drop_events(session: Session, previous_transaction: SessionTransaction) -> None:
    pending_events = session.info.get(_PENDING_KEY)
    if not pending_events:
        return
    if previous_transaction.parent is None:  # outermost transaction rolled back
        session.info.pop(_PENDING_KEY, None)
        return
    kept = [item for item in pending_events if not _within(item.transaction, previous_transaction)]
    session.info[_PENDING_KEY] = kept


@event.listens_for(Session, "after_transaction_end")
def _forget_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    # Runs after after_commit on a commit; anything still pending here was never committed
    # (Session.close() ends the transaction without a rollback event).
    if transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)
