"""Small helpers shared by the staff tests."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from app.core.audit import AuditEvent
from app.extensions import db
from tests.conftest import csrf_token


def audit_events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
    )


def post_login(client: FlaskClient, email: str, password: str, *, with_token: bool = True, **kwargs):  # type: ignore[no-untyped-def]
    data = {"email": email, "password": password}
    if with_token:
        data["csrf_token"] = csrf_token(client)
    return client.post("/login", data=data, **kwargs)


def staff_post(
    client: FlaskClient, path: str, data: dict[str, str] | None = None, *, token_from: str = "/staff/"
):  # type: ignore[no-untyped-def]
    """POST as a signed-in browser would: with the CSRF token from a page it can see."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, token_from)})
