"""The authenticated staff Socket.IO namespace: rooms are assigned here, never by the client.

Flask-SocketIO runs with ``manage_session=False``, so the connect handler sees the Flask
cookie session (and Flask-Login's ``current_user``) as it was when the socket connected.
A deactivated account is refused too: Flask-Login's ``is_authenticated`` follows ``is_active``.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_login import current_user
from flask_socketio import Namespace, join_room

from app.agents.policy import allowed
from app.core.realtime import STAFF_NAMESPACE
from app.extensions import socketio


def rooms_for(user: Any) -> list[str]:
    """The rooms a staff member's sockets join: their own, their role's, and supervisors'."""
    rooms = [f"user:{user.id}", f"role:{user.role}"]
    if allowed(user, "socket.supervisors"):
        rooms.append("supervisors")
    return rooms


class StaffNamespace(Namespace):
    def on_connect(self, auth: Any = None) -> bool:
        # Returning False refuses the connection (a decorator that aborts would not).
        if not allowed(current_user, "socket.staff"):
            return False
        rooms = rooms_for(current_user)
        for room in rooms:
            join_room(room)
        socketio.emit(
            "hello",
            {"user_id": current_user.id, "role": current_user.role, "rooms": rooms},
            to=request.sid,  # type: ignore[attr-defined]
            namespace=STAFF_NAMESPACE,
            # One addressee on this very server: no need for a round trip through Redis.
            ignore_queue=True,
        )
        return True


# Registered at import, before the factory's socketio.init_app(): SocketIO keeps the handler in
# namespace_handlers and registers it on every server it creates (tests build many apps).
staff_namespace = StaffNamespace(STAFF_NAMESPACE)
socketio.on_namespace(staff_namespace)
