"""The console's blueprint and its JSON error shape: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from app.extensions import db

bp = Blueprint("console", __name__, url_prefix="/console")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    db.session.rollback()
    return jsonify(error={"code": exc.code, "message": exc.message}), exc.status


def json_body() -> dict[str, Any]:
    """The request's JSON object ({} when there is none)."""
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def int_field(value: Any, name: str) -> int | None:
    """An optional number from the body; 400 when it is not one."""
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, "invalid", _("%(name)s must be a number.", name=name)) from None
