"""Staff accounts: the people who sign in (agents, supervisors, administrators)."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from app.core.time import utcnow
from app.core.types import UTCDateTime
from app.extensions import db


class User(UserMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('agent', 'supervisor', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(8), default="id")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of the id a session and a remember-me cookie carry (see get_id): bumping it ends every
    # session and remember token of this user at once, on every web process.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def set_password(self, password: str) -> None:
        # Werkzeug ≥3 defaults to scrypt, which meets OWASP's guidance.
        self.password_hash = generate_password_hash(password)
        self.revoke_sessions()

    def revoke_sessions(self) -> None:
        """Sign this user out everywhere: sessions and remember tokens stop matching get_id()."""
        self.session_generation = (self.session_generation or 0) + 1

    def get_id(self) -> str:
        return f"{self.id}:{self.session_generation or 0}"

    def matches_session(self, generation: str) -> bool:
        return generation == str(self.session_generation or 0)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"
