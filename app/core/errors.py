"""Errors: JSON ``{"error": {"code", "message", "fields"}}`` for the API, pages for people.

Bad input is always a 4xx with a reason; an unexpected failure is a 500 with a request id and
no stack trace (the trace goes to the log, masked).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)


def database_failure(exc: OperationalError) -> str:
    """What the database said, for the log: the error's class and the first line of its message
    ("OperationalError: … FATAL:  sorry, too many clients already"), so that an operator can tell
    a server that is down from one out of connections or a deadlock. The first line only: the
    detail lines may quote rows."""
    message = (str(exc.orig).strip().splitlines() or [""])[0]
    return f"{type(exc.orig).__name__}: {message[:300]}" if message else type(exc.orig).__name__


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood."),
        401: _("Please sign in first."),
        403: _("You do not have access to this page."),
        404: _("This page does not exist."),
        405: _("This action is not allowed here."),
        409: _("Someone else changed this in the meantime."),
        413: _("The upload is too large."),
        415: _("This file type is not accepted."),
        422: _("Some fields need your attention."),
        429: _("Too many attempts. Please wait a moment and try again."),
        500: _("Something went wrong on our side. Please try again."),
        503: _("The service is temporarily unavailable."),
    }


def wants_json() -> bool:
    return request.path.startswith("/api/") or (request.accept_mimetypes.best == "application/json")


def error_response(status: int, code: str, message: str | None = None, fields: dict[str, Any] | None = None):
    message = message or _messages().get(status, _("Error"))
    if wants_json():
        return jsonify(error={"code": code, "message": message, "fields": fields or {}}), status
    try:
        return render_template("errors/error.html", status=status, message=message, code=code), status
    except Exception:  # the page itself failed (say, the database is down): plain text will do
        log.exception("error page could not be rendered")
        return Response(f"{status} {message}\n", mimetype="text/plain"), status


def _with_headers(response: Any, exc: HTTPException) -> Any:
    """Keep the headers the exception carries (Allow on a 405, WWW-Authenticate on a 401…)."""
    body, status = response
    wrapped = make_response(body, status)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            wrapped.headers[name] = value
    return wrapped


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return error_response(
            400, "csrf_failed", _("The form expired or was not sent from this site. Please try again.")
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        code = getattr(exc, "reason", None) or (exc.name or "error").lower().replace(" ", "_").replace("'", "")
        message = getattr(exc, "message", None)
        return _with_headers(error_response(status, code, str(message) if message else None), exc)

    @app.errorhandler(OperationalError)
    def database_unavailable(exc: OperationalError):
        """The database cannot be reached (or gave up on this transaction: a deadlock, a
        failover): nothing was saved, so the person is asked to try again — a 503 with
        Retry-After, never a 500 and never a trace. Twilio webhooks answer on their own
        blueprint (the voice fallback, see app.telephony.routes)."""
        log.error("database unavailable on %s %s: %s", request.method, request.path, database_failure(exc))
        _rollback_quietly()
        body, status = error_response(
            503,
            "database_unavailable",
            _("We cannot save or show this right now. Nothing was lost on your side: please try again in a few minutes."),
        )
        response = make_response(body, status)
        response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(InternalServerError)
    def internal_error(exc: InternalServerError):
        original = getattr(exc, "original_exception", None)
        if original is not None:
            log.error("unhandled error", exc_info=original)
        _rollback_quietly()
        return error_response(500, "internal_error")


def _rollback_quietly() -> None:
    from app.extensions import db

    try:
        db.session.rollback()
    except Exception:  # the database may be why we are here
        log.exception("rollback after a failed request failed")
