"""Click-to-call endpoints of the public JSON API: ``/api/v1/voice-token`` and ``/api/v1/callbacks``.

A separate blueprint (``telephony_api``) so the API package's owner and telephony do not edit
one file; it keeps the SPEC's URLs. JSON in and out; errors as
``{"error": {"code", "message", "fields"}}`` with a reason code per field.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _

from app.core.errors import error_response
from app.extensions import db, limiter
from app.telephony.clicktocall import (
    CallbackRefused,
    access_token,
    create_call_request,
    request_callback,
    voice_tokens_possible,
)

bp = Blueprint("telephony_api", __name__, url_prefix="/api/v1")


def _json() -> dict[str, Any] | None:
    payload = request.get_json(silent=True)
    return payload if isinstance(payload, dict) else None


def _refused(exc: CallbackRefused):
    if exc.status == 429:
        return error_response(
            429, "rate_limited", _("Too many callback requests for this number today."), exc.fields
        )
    return error_response(422, "validation_failed", None, exc.fields)


@bp.post("/voice-token")
@limiter.limit(lambda: current_app.config["VOICE_TOKEN_RATE_LIMIT"])
def voice_token():
    """A short-lived token for one browser/app call, bound to what the worker asked for.

    The body is optional (the document says so): none at all is ``{}``; one that is not a
    JSON object is refused."""
    payload = _json() if request.content_length or request.get_data(cache=True) else {}
    if payload is None:
        return error_response(400, "invalid_json")
    if not voice_tokens_possible():
        return error_response(503, "voice_not_configured", _("Calls from the browser are not available yet."))
    try:
        call_request = create_call_request(payload, request.remote_addr)
    except CallbackRefused as exc:
        return _refused(exc)
    ttl = int(current_app.config["VOICE_TOKEN_TTL_SECONDS"])
    token = access_token(call_request.identity, ttl)
    db.session.commit()
    return jsonify(
        token=token, identity=call_request.identity, expires_at=call_request.expires_at.isoformat()
    )


@bp.post("/callbacks")
@limiter.limit(lambda: current_app.config["CALLBACK_RATE_LIMIT"])
def callbacks():
    """Ask to be called back on a phone abroad (agent-first: queued for the next agent)."""
    payload = _json()
    if payload is None:
        return error_response(400, "invalid_json")
    try:
        callback = request_callback(payload, request.remote_addr)
    except CallbackRefused as exc:
        return _refused(exc)
    db.session.commit()
    return jsonify(id=callback.id, status=callback.status), 201
