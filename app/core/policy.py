"""The one place that says which role may do what: used by routes and Socket.IO handlers.

Permissions are named capabilities; each lists the roles that hold it. Routes declare what
they need with :func:`require`; socket handlers call :func:`allowed`. A test walks the whole
matrix, so adding a route without a permission is visible in review.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, request
from flask_login import current_user, login_fresh

from app.extensions import login_manager

F = TypeVar("F", bound=Callable[..., Any])

# Staff roles, least to most administrative (stored on users.role; app.agents.models uses them).
ROLES = ("agent", "supervisor", "admin")

AGENT, SUPERVISOR, ADMIN = ROLES

PERMISSIONS: dict[str, frozenset[str]] = {
    # Every staff account: the staff home page.
    "staff.home": frozenset({AGENT, SUPERVISOR, ADMIN}),
    # Working contacts: the console, tickets, the member records behind them.
    "console.use": frozenset({AGENT, SUPERVISOR}),
    "tickets.work": frozenset({AGENT, SUPERVISOR}),
    "tickets.canned": frozenset({SUPERVISOR}),  # manage canned replies (page needs tickets.work)
    "tickets.tag": frozenset({AGENT, SUPERVISOR}),  # add/remove tags on a ticket
    "tickets.erase": frozenset({ADMIN}),  # erase a requester's personal data from a ticket
    "records.view": frozenset({AGENT, SUPERVISOR, ADMIN}),
    "pii.reveal": frozenset({AGENT, SUPERVISOR}),
    # Recordings: asking to play one (each recording is then checked by may_play_recording).
    "recordings.play": frozenset({AGENT, SUPERVISOR, ADMIN}),
    "recordings.play_any": frozenset({SUPERVISOR, ADMIN}),  # every recorded call and voicemail
    # Supervision.
    "supervisor.view": frozenset({SUPERVISOR, ADMIN}),
    "reports.export": frozenset({SUPERVISOR, ADMIN}),
    "routing.manage": frozenset({SUPERVISOR, ADMIN}),  # agents' language and topic skills
    # Join an agent's live call: listen, whisper to the agent, barge in (each audited).
    "calls.supervise": frozenset({SUPERVISOR, ADMIN}),
    # Administration.
    "admin.view": frozenset({ADMIN}),
    "users.manage": frozenset({ADMIN}),
    "records.import": frozenset({ADMIN}),
    "settings.manage": frozenset({ADMIN}),
    "sla.manage": frozenset({ADMIN}),  # SLA policies and business calendars
    # Realtime rooms.
    "socket.staff": frozenset({AGENT, SUPERVISOR, ADMIN}),
    "socket.supervisors": frozenset({SUPERVISOR, ADMIN}),
}


# Administration asks for a fresh sign-in: a session restored from a remember-me cookie (a
# borrowed or forgotten browser) may read and work cases, but not change accounts, settings
# or erase data until the password is given again.
FRESH_LOGIN: frozenset[str] = frozenset(
    {"admin.view", "users.manage", "records.import", "settings.manage", "sla.manage", "tickets.erase"}
)


class UnknownPermission(KeyError):
    pass


def allowed(user: Any, permission: str) -> bool:
    """Whether ``user`` (a User or Flask-Login's anonymous user) holds ``permission``."""
    try:
        roles = PERMISSIONS[permission]
    except KeyError:
        raise UnknownPermission(permission) from None
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return getattr(user, "role", None) in roles


def may_play_recording(user: Any, *, kind: str, handled_by: Iterable[int]) -> bool:
    """Whether ``user`` may listen to a recording: supervisors and admins any; a recorded call
    also the agent(s) who handled it; a voicemail (a message left for the centre, which the
    agent calling back needs to hear) also whoever works tickets."""
    if not allowed(user, "recordings.play"):
        return False
    if allowed(user, "recordings.play_any"):
        return True
    if kind == "voicemail" and allowed(user, "tickets.work"):
        return True
    return getattr(user, "id", None) in set(handled_by)


def wants_json() -> bool:
    """API paths and clients that ask for JSON get a 401, not a redirect to the login page."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def require(permission: str) -> Callable[[F], F]:
    """Route decorator: 401 (or a redirect to login for pages) when anonymous, 403 without the role."""
    if permission not in PERMISSIONS:
        raise UnknownPermission(permission)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                if wants_json():
                    abort(401)
                return login_manager.unauthorized()
            if not allowed(current_user, permission):
                abort(403)
            if permission in FRESH_LOGIN and not login_fresh():
                if wants_json():
                    abort(401)
                return login_manager.needs_refresh()
            return view(*args, **kwargs)

        wrapper.required_permission = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
