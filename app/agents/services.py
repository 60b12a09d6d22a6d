"""Staff account rules: creating users, authenticating them."""

from __future__ import annotations

from sqlalchemy import func, select

from app.agents.models import ROLES, User
from app.core import audit
from app.core.time import utcnow
from app.extensions import db

MIN_PASSWORD_LENGTH = 10


class UserError(ValueError):
    pass


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(email: str, name: str, password: str, role: str, language: str = "id") -> User:
    email = normalise_email(email)
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if "@" not in email:
        raise UserError("email is not valid")
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise UserError(f"a user with email {email} already exists")
    user = User(email=email, name=name.strip() or email, role=role, language=language)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", "user", user.id, {"role": role})
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None. Records the attempt either way."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))
    if user is None or not user.active or not user.check_password(password):
        audit.record(
            "user.login_failed", "user", user.id if user else None, actor_id=user.id if user else None
        )
        return None
    user.last_login_at = utcnow()
    audit.record("user.login", "user", user.id, actor_id=user.id)
    return user
