"""Staff account rules: creating users, authenticating them, changing roles and access.

Every rule lives here and is reported with a domain exception (a :class:`UserError` subclass
naming the form field it concerns); routes and the CLI only translate those into messages.
Each change writes an audit event in the same transaction; the caller commits.
"""

from __future__ import annotations

import re

from blinker import Namespace
from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.core import audit
from app.core.policy import ROLES
from app.core.time import utcnow
from app.extensions import db
from app.staff.models import User

signals = Namespace()

# What follows from an account change is other packages' business (the factory connects them:
# routing takes a deactivated agent offline, the realtime layer closes the user's sockets). Sent
# inside the caller's transaction; receivers write in it too.
role_changed = signals.signal(
    "staff-role-changed", doc="A user was given another role. Sender: the user id."
)
deactivated = signals.signal("staff-deactivated", doc="A user was deactivated. Sender: the user id.")

# One @, something before it, a dotted domain after it, no spaces. Deliberately not stricter:
# staff addresses may use internal domains (``.local``) that email_validator refuses.
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200

# Checked against when the email is unknown, so that a wrong email and a wrong password take
# the same time (no account enumeration by timing). Built on first use: hashing is slow.
_dummy_hash: str | None = None


class UserError(ValueError):
    """A staff-account rule was broken. ``field`` names the form field concerned, if any."""

    field: str | None = None


class InvalidEmail(UserError):
    field = "email"


class DuplicateEmail(UserError):
    field = "email"


class PasswordTooShort(UserError):
    field = "password"


class InvalidRole(UserError):
    field = "role"


class InvalidLanguage(UserError):
    field = "language"


class UserNotFound(UserError):
    pass


class SelfLockout(UserError):
    """An administrator tried to deactivate or demote their own account."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def languages() -> tuple[str, ...]:
    return tuple(current_app.config.get("LANGUAGES", ("id", "en")))


def list_users() -> list[User]:
    """All staff accounts, active ones first, then by name."""
    return list(db.session.scalars(select(User).order_by(User.active.desc(), User.name, User.id)))


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise UserNotFound(f"no user with id {user_id}")
    return user


def create_user(
    email: str,
    name: str,
    password: str,
    role: str,
    language: str = "id",
    *,
    actor_id: int | None = None,
) -> User:
    """Create an active staff account (the caller commits)."""
    email = normalise_email(email)
    if role not in ROLES:
        raise InvalidRole(f"role must be one of {', '.join(ROLES)}")
    if language not in languages():
        raise InvalidLanguage(f"language must be one of {', '.join(languages())}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordTooShort(f"password must have at most {MAX_PASSWORD_LENGTH} characters")
    if len(email) > 254 or not EMAIL_RE.fullmatch(email):
        raise InvalidEmail("email is not valid")
    if db.session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise DuplicateEmail(f"a user with email {email} already exists")
    user = User(email=email, name=name.strip() or email, role=role, language=language, active=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", "user", user.id, {"role": role, "language": language}, actor_id=actor_id)
    return user


def change_role(user_id: int, role: str, *, actor_id: int | None) -> User:
    """Give a user another role. Administrators cannot demote themselves."""
    if role not in ROLES:
        raise InvalidRole(f"role must be one of {', '.join(ROLES)}")
    user = get_user(user_id)
    if user.role == role:
        return user
    if actor_id is not None and user.id == actor_id:
        raise SelfLockout("you cannot change your own role")
    previous = user.role
    user.role = role
    audit.record("user.role_change", "user", user.id, {"from": previous, "to": role}, actor_id=actor_id)
    role_changed.send(user.id)  # open sockets keep the old role's rooms until they reconnect
    return user


def sign_out_everywhere(user_id: int) -> None:
    """End every session and remember-me token of this user (on sign-out; the caller commits)."""
    get_user(user_id).revoke_sessions()
    audit.record("user.sign_out", "user", user_id, actor_id=user_id)


def set_active(user_id: int, active: bool, *, actor_id: int | None) -> User:
    """Deactivate or reactivate an account. Administrators cannot deactivate themselves.

    A deactivated user's open sessions stop working on their next request: Flask-Login treats
    an inactive account as not authenticated. Their open Socket.IO connections are closed in
    every web process once this commits, and an agent is taken offline (no more offers).
    """
    user = get_user(user_id)
    if user.active == active:
        return user
    if not active and actor_id is not None and user.id == actor_id:
        raise SelfLockout("you cannot deactivate your own account")
    user.active = active
    audit.record("user.reactivate" if active else "user.deactivate", "user", user.id, actor_id=actor_id)
    if not active:
        user.revoke_sessions()  # remember-me cookies too: reactivation does not revive them
        deactivated.send(user.id)
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None. Records the attempt either way."""
    global _dummy_hash
    user = db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))
    if user is None:
        if _dummy_hash is None:
            _dummy_hash = generate_password_hash("not a real password")
        check_password_hash(_dummy_hash, password)
        audit.record("user.login_failed", "user", None, {"reason": "unknown_email"})
        return None
    password_ok = user.check_password(password)
    if not password_ok or not user.active:
        reason = "wrong_password" if not password_ok else "inactive"
        audit.record("user.login_failed", "user", user.id, {"reason": reason}, actor_id=user.id)
        return None
    user.last_login_at = utcnow()
    audit.record("user.login", "user", user.id, actor_id=user.id)
    return user
