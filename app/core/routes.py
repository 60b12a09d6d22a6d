"""Operations endpoints and the language switch."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, request, session, url_for
from flask_login import current_user
from sqlalchemy import text

from app.core.urls import safe_redirect_target
from app.extensions import db

bp = Blueprint("core", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up (no dependencies checked)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The database and Redis answer; 503 names what does not."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report, don't raise
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        from app.core.jobs import redis_connection

        redis_connection().ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503


@bp.post("/lang/<code>")
def set_language(code: str):
    """Switch the interface language (id/en); staff keep it on their account."""
    if code not in current_app.config["LANGUAGES"]:
        return jsonify(error={"code": "unknown_language", "message": code, "fields": {}}), 400
    session["lang"] = code
    if current_user.is_authenticated:
        current_user.language = code
        db.session.commit()
    return redirect(safe_redirect_target(request.form.get("next")) or url_for("portal.index"))
