"""The authenticated staff Socket.IO namespace: rooms are assigned here, never by the client."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_login import current_user
from flask_socketio import join_room

from app.agents.policy import allowed
from app.core.realtime import STAFF_NAMESPACE
from app.extensions import socketio


def rooms_for(user: Any) -> list[str]:
    rooms = [f"user:{user.id}", f"role:{user.role}"]
    if allowed(user, "socket.supervisors"):
        rooms.append("supervisors")
    return rooms


@socketio.on("connect", namespace=STAFF_NAMESPACE)
def on_connect(auth: Any = None) -> bool:
    # Returning False refuses the connection (a decorator that aborts would not).
    if not allowed(current_user, "socket.staff"):
        return False
    for room in rooms_for(current_user):
        join_room(room)
    socketio.emit(
        "hello",
        {"user_id": current_user.id, "role": current_user.role, "rooms": rooms_for(current_user)},
        to=request.sid,  # type: ignore[attr-defined]
        namespace=STAFF_NAMESPACE,
    )
    return True
