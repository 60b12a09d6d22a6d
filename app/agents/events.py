"""The authenticated staff Socket.IO namespace: rooms are assigned here, never by the client.

Flask-SocketIO runs with ``manage_session=False``, so the connect handler sees the Flask
cookie session (and Flask-Login's ``current_user``) as it was when the socket connected.
A deactivated account is refused too: Flask-Login's ``is_authenticated`` follows ``is_active``.

Console liveness: a socket that connects with ``auth={"console": true}`` from an account that
may use the console marks that agent's console as present and also joins ``queue:<language>``
for each language the agent takes calls in (``console/socket.js`` connects that way). Each web process keeps the console
sockets it serves and refreshes ``AgentPresence.console_seen_at`` for them every
``CONSOLE_HEARTBEAT_SECONDS``; when every console of an agent is gone (tab closed, network lost,
web process crashed) the heartbeats stop and the router tick sets the agent offline after the
grace period (``PRESENCE_GRACE_SECONDS``), so a page reload or a short network blip keeps the
agent's state. Logging out sets the agent offline at once (``user_logged_out`` below).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask, current_app, request
from flask_login import current_user, user_logged_out
from flask_socketio import Namespace, join_room

from app.agents.routing import logged_out
from app.agents.routing.presence import agent_languages, console_seen, get_presence
from app.core.policy import allowed
from app.core.realtime import STAFF_NAMESPACE, listen_for_control, on_control, publish_control
from app.extensions import db, socketio

log = logging.getLogger(__name__)

CONSOLE_HEARTBEAT_SECONDS = 10
CONSOLE_SOCKETS_KEY = "halopmi_console_sockets"


def rooms_for(user: Any) -> list[str]:
    """The rooms a staff member's sockets join: their own, their role's, and supervisors'."""
    rooms = [f"user:{user.id}", f"role:{user.role}"]
    if allowed(user, "socket.supervisors"):
        rooms.append("supervisors")
    if allowed(user, "tickets.work"):
        rooms.append("tickets")  # ticket.updated / ticket.viewing for the workspace
    return rooms


def console_rooms_for(user: Any) -> list[str]:
    """What a console socket joins besides: the queue of each language the agent takes."""
    return [f"queue:{language}" for language in agent_languages(user.id)]


class _ConsoleSockets:
    """The console sockets this web process serves (sid → agent id), and their heartbeat."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.sids: dict[str, int] = {}
        self.lock = threading.Lock()
        self.started = False

    def add(self, sid: str, agent_id: int) -> None:
        with self.lock:
            self.sids[sid] = agent_id
            start, self.started = not self.started, True
        if start:
            socketio.start_background_task(self._heartbeat)

    def remove(self, sid: str) -> None:
        with self.lock:
            self.sids.pop(sid, None)

    def agents(self) -> list[int]:
        with self.lock:
            return sorted(set(self.sids.values()))

    def _heartbeat(self) -> None:
        interval = self.app.config.get("CONSOLE_HEARTBEAT_SECONDS", CONSOLE_HEARTBEAT_SECONDS)
        while True:
            socketio.sleep(interval)
            with self.lock:
                # No console left here, or this registry was replaced on the app (a test's app
                # put back, a re-initialised extension): stop; the next connect restarts one.
                # A stale heartbeat would otherwise write presence forever from its own
                # connection (on SQLite, a second writer holding locks under other work).
                if not self.sids or self.app.extensions.get(CONSOLE_SOCKETS_KEY) is not self:
                    self.started = False
                    return
            with self.app.app_context():
                try:
                    console_seen(self.agents())
                    db.session.commit()
                except Exception:  # noqa: BLE001 - the next beat retries; the grace period covers it
                    log.exception("console heartbeat failed")
                    db.session.rollback()
                finally:
                    db.session.remove()


def console_sockets(app: Flask) -> _ConsoleSockets:
    registry = app.extensions.get(CONSOLE_SOCKETS_KEY)
    if registry is None:
        registry = app.extensions.setdefault(CONSOLE_SOCKETS_KEY, _ConsoleSockets(app))
    return registry


def disconnect_user(user_id: int) -> None:
    """Close every open socket of ``user_id`` in every web process, once the caller commits
    (an account deactivated or given another role: its rooms must not outlive the change; a
    reconnect is then refused, or gets the rooms of the new role)."""
    publish_control("disconnect_user", {"user_id": int(user_id)})


def _disconnect_user_here(app: Flask, data: dict[str, Any]) -> None:
    """Control handler: this process's sockets in room ``user:<id>`` are disconnected."""
    server = socketio.server
    if server is None:
        return
    room = f"user:{int(data['user_id'])}"
    for sid, _eio_sid in list(server.manager.get_participants(STAFF_NAMESPACE, room)):
        server.disconnect(sid, namespace=STAFF_NAMESPACE, ignore_queue=True)


def init_app(app: Flask) -> None:
    """What the web processes of ``app`` do on control messages (called by the factory)."""
    on_control(app, "disconnect_user", _disconnect_user_here)


class StaffNamespace(Namespace):
    def on_connect(self, auth: Any = None) -> bool:
        # Returning False refuses the connection (a decorator that aborts would not).
        if not allowed(current_user, "socket.staff"):
            return False
        # This process now holds a staff socket: it must hear "disconnect this user" orders.
        listen_for_control(current_app._get_current_object())  # type: ignore[attr-defined]
        rooms = rooms_for(current_user)
        console = (
            isinstance(auth, dict) and bool(auth.get("console")) and allowed(current_user, "console.use")
        )
        if console:
            rooms += console_rooms_for(current_user)
        for room in rooms:
            join_room(room)
        hello: dict[str, Any] = {"user_id": current_user.id, "role": current_user.role, "rooms": rooms}
        if console:
            get_presence(current_user.id)
            console_seen([current_user.id])
            db.session.commit()
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            console_sockets(app).add(request.sid, current_user.id)  # type: ignore[attr-defined]
            hello["console"] = True
        socketio.emit(
            "hello",
            hello,
            to=request.sid,  # type: ignore[attr-defined]
            namespace=STAFF_NAMESPACE,
            # One addressee on this very server: no need for a round trip through Redis.
            ignore_queue=True,
        )
        return True

    def on_disconnect(self, reason: Any = None) -> None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        console_sockets(app).remove(request.sid)  # type: ignore[attr-defined]


def _on_logout(sender: Flask, user: Any) -> None:
    """Signing out ends availability at once: no offers to an agent who has left."""
    if user is None or not getattr(user, "id", None) or not allowed(user, "console.use"):
        return
    try:
        logged_out(user.id)
        db.session.commit()
    except Exception:  # noqa: BLE001 - logout must work even if presence cannot be written
        log.exception("could not set agent %s offline at logout", user.id)
        db.session.rollback()


user_logged_out.connect(_on_logout)

# Registered at import, before the factory's socketio.init_app(): SocketIO keeps the handler in
# namespace_handlers and registers it on every server it creates (tests build many apps).
staff_namespace = StaffNamespace(STAFF_NAMESPACE)
socketio.on_namespace(staff_namespace)
