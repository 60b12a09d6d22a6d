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

Control messages (:func:`publish_control`) are for the web processes themselves, not for
clients: "disconnect this user's sockets". Each web process that serves sockets listens on
``<SOCKETIO_CHANNEL>:control`` (:func:`listen_for_control`, started with its first socket) and
runs the app's handler for the message on the sockets it holds. Handlers belong to the app
(``app.extensions``): the factory gives them with :func:`on_control`.
Like events, a control message leaves only when the transaction that caused it commits.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

from flask import Flask, current_app
from flask_socketio import SocketIO
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.extensions import socketio

log = logging.getLogger(__name__)

STAFF_NAMESPACE = "/staff"
_PENDING_KEY = "halopmi_realtime_pending"
_EMITTER_KEY = "halopmi_emitter"
_CONTROL_ROOM = "\x00control"  # a pending "event" for the web processes, not for a room
_CONTROL_LISTENER_KEY = "halopmi_control_listener"
_CONTROL_HANDLERS_KEY = "halopmi.control_handlers"  # op → handler(app, data), per app


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


def discard_pending(session: Session | None = None) -> int:
    """Forget the events waiting for this session's commit (history replayed into the past,
    like the demo's, is nobody's live news). Returns how many."""
    from app.extensions import db

    target = session or db.session()
    return len(target.info.pop(_PENDING_KEY, None) or ())


def emit_now(event_name: str, data: dict[str, Any], room: str) -> None:
    """Emit immediately (outside any transaction)."""
    if room == _CONTROL_ROOM:
        send_control(event_name, data)
        return
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
        # Threading, said explicitly: left to choose, python-engineio would take gevent (installed
        # for the realtime processes) in a worker whose standard library is not patched for it.
        app.extensions[_EMITTER_KEY] = SocketIO(
            message_queue=url, channel=app.config["SOCKETIO_CHANNEL"], async_mode="threading"
        )


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


# --- control messages for every web process ----------------------------------------------


def on_control(app: Flask, op: str, handler: Callable[[Flask, dict[str, Any]], None]) -> None:
    """Run ``handler(app, data)`` in every web process of ``app`` that receives control message
    ``op`` (given by the application factory; one handler per message)."""
    handlers = app.extensions.setdefault(_CONTROL_HANDLERS_KEY, {})
    if op in handlers and handlers[op] is not handler:
        raise ValueError(f"control message {op!r} already has a handler")
    handlers[op] = handler


def publish_control(op: str, data: dict[str, Any], session: Session | None = None) -> None:
    """Send control message ``op`` to every web process once the current transaction commits."""
    publish(op, data, _CONTROL_ROOM, session)


def control_channel(app: Flask) -> str:
    return f"{app.config['SOCKETIO_CHANNEL']}:control"


def send_control(op: str, data: dict[str, Any]) -> None:
    """Publish a control message now; without Redis (a single process) handle it here."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    url = app.config.get("REDIS_URL")
    if not url:
        _dispatch(app, op, data)
        return
    from redis import Redis

    try:
        connection = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        try:
            connection.publish(control_channel(app), json.dumps({"op": op, "data": data}))
        finally:
            connection.close()
    except Exception:  # noqa: BLE001 - like events: logged; the caller's change stands
        log.exception("control message %s could not be published", op)


def _dispatch(app: Flask, op: str, data: dict[str, Any]) -> None:
    handler = app.extensions.get(_CONTROL_HANDLERS_KEY, {}).get(op)
    if handler is None:
        return
    try:
        handler(app, data)
    except Exception:  # noqa: BLE001 - one bad message must not stop the listener
        log.exception("control message %s failed", op)


def listen_for_control(app: Flask) -> None:
    """Subscribe this process to control messages (once; returns when subscribed).

    Called by the web process when its first socket connects: only processes holding sockets
    have anything to do. The subscription is confirmed before this returns, so a message
    published after the socket's connect handler finished reaches this process.
    """
    if app.extensions.get(_CONTROL_LISTENER_KEY) or not app.config.get("REDIS_URL"):
        return
    lock = app.extensions.setdefault(_CONTROL_LISTENER_KEY + "_lock", threading.Lock())
    with lock:
        if app.extensions.get(_CONTROL_LISTENER_KEY):
            return
        from redis import Redis

        pubsub = Redis.from_url(app.config["REDIS_URL"]).pubsub(ignore_subscribe_messages=False)
        pubsub.subscribe(control_channel(app))
        confirmed = pubsub.get_message(timeout=5)
        if not confirmed or confirmed.get("type") != "subscribe":
            log.warning("control channel subscription not confirmed: %r", confirmed)
        thread = threading.Thread(
            target=_listen,
            args=(weakref.ref(app), pubsub, control_channel(app)),
            name="realtime-control",
            daemon=True,
        )
        thread.start()
        app.extensions[_CONTROL_LISTENER_KEY] = thread


def _listen(app_ref: Callable[[], Flask | None], pubsub: Any, channel: str) -> None:
    """Dispatch control messages until the app is gone (tests build many apps; a server has
    one for its life). Redis outages are logged once each; redis-py reconnects and resubscribes."""
    failing = False
    while True:
        app = app_ref()
        if app is None:
            pubsub.close()
            return
        try:
            message = pubsub.get_message(timeout=1.0)
        except Exception as exc:  # noqa: BLE001 - Redis went away: wait, resubscribe, go on
            if not failing:  # an outage is one line; anything else keeps its traceback
                log.warning(
                    "control listener lost Redis (%s); retrying",
                    exc,
                    exc_info=not isinstance(exc, RedisError),
                )
            failing = True
            del app
            time.sleep(1)
            try:
                pubsub.subscribe(channel)
            except Exception:  # noqa: BLE001, S110 - the next round tries again
                pass
            continue
        failing = False
        if message and message.get("type") == "message":
            try:
                body = json.loads(message["data"])
            except (TypeError, ValueError):
                body = None
            if isinstance(body, dict):
                with app.app_context():
                    _dispatch(app, str(body.get("op")), dict(body.get("data") or {}))
        del app
