"""The public JSON API (/api/v1) and its OpenAPI document.

JSON in and out, no cookies: every request that reads a case carries the verification value
(birth date or the phone on file). Validation is shared with the portal
(:mod:`app.tickets.schemas`); errors are ``{"error": {"code", "message", "fields"}}``:
malformed JSON → 400, a body that is not JSON → 415, wrong types or values → 422, a case that
cannot be found or verified → 404, too many attempts → 429. Failed lookups count against the
rate limit (per IP and per reference); successful ones do not, so the app can poll.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from werkzeug.wrappers import Response

from app.api.openapi import document
from app.api.schemas import ATTACHMENT_ID_MAX, Verified
from app.core.errors import error_response
from app.core.i18n import _
from app.core.schemas import validate
from app.extensions import db, limiter
from app.tickets import attachments, intake, schemas, services
from app.tickets.models import Ticket

bp = Blueprint("api", __name__, url_prefix="/api")


def _track_limit() -> str:
    return str(current_app.config.get("TICKETS_TRACK_RATE_LIMIT", "10 per hour"))


def _complaint_limit() -> str:
    return str(current_app.config.get("TICKETS_COMPLAINT_RATE_LIMIT", "20 per hour"))


def _reference_key() -> str:
    return "api-ref:" + str((request.view_args or {}).get("reference", "")).upper()[:32]


def _failed_lookup(response: Response) -> bool:
    return response.status_code in (404, 422)


class BadBody(Exception):
    def __init__(self, response: Any) -> None:
        self.response = response


def _body() -> dict[str, Any]:
    if not request.is_json:
        raise BadBody(error_response(415, "unsupported_media_type", _("Send the body as application/json.")))
    payload = request.get_json(silent=True)
    if payload is None:
        raise BadBody(error_response(400, "invalid_json", _("The body is not valid JSON.")))
    if not isinstance(payload, dict):
        raise BadBody(error_response(422, "validation_failed", _("The body must be a JSON object.")))
    return payload


@bp.errorhandler(BadBody)
def _bad_body(exc: BadBody):
    return exc.response


def _invalid(errors: dict[str, str]):
    return error_response(422, "validation_failed", None, errors)


def _not_found():
    return error_response(
        404, "not_found", _("We could not find a case with this reference and verification.")
    )


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _case(ticket: Ticket) -> dict[str, Any]:
    shown = services.effective(ticket)
    return {
        "reference": shown.reference,
        "status": shown.status,
        "category": shown.category,
        "created_at": _iso(shown.created_at),
        "updated_at": _iso(shown.updated_at),
        "resolved_at": _iso(shown.resolved_at),
        "merged_into": shown.reference if shown.id != ticket.id else None,
        "csat_score": shown.csat_score,
        "can_reply": shown.status != "closed",
        "can_rate": shown.status in ("resolved", "closed") and shown.csat_score is None,
        "timeline": services.public_timeline(shown),
    }


def _verified(reference: str, data: Any) -> tuple[Ticket | None, Any]:
    """The case ``data``'s verification opens (query, JSON body or form), or the error to answer."""
    result = validate(Verified, data)
    if not result.ok:
        return None, _invalid(result.errors)
    ticket = services.get_by_reference(reference)
    if ticket is None or not services.verify_requester(ticket, result.clean["verification"]):
        return None, _not_found()
    return ticket, None


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())


@bp.post("/v1/complaints")
@limiter.limit(_complaint_limit)
def create_complaint():
    payload = _body()
    data = {name: payload.get(name) for name in schemas.COMPLAINT_FIELDS}
    result = schemas.validate_complaint(data)
    if not result.ok:
        return _invalid(result.errors)
    ticket = intake.file_complaint(result.clean, channel="api")
    db.session.commit()
    response = jsonify(reference=ticket.reference, status=ticket.status)
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/complaints/{ticket.reference}"
    return response


@bp.get("/v1/complaints/<reference>")
@limiter.limit(_track_limit, deduct_when=_failed_lookup)
@limiter.limit(_track_limit, key_func=_reference_key, deduct_when=_failed_lookup)
def get_complaint(reference: str):
    ticket, problem = _verified(reference, request.args)
    if problem is not None:
        return problem
    assert ticket is not None
    response = jsonify(_case(ticket))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/v1/complaints/<reference>/attachments/<attachment_id>")
@limiter.limit(_track_limit, deduct_when=_failed_lookup)
@limiter.limit(_track_limit, key_func=_reference_key, deduct_when=_failed_lookup)
def get_attachment(reference: str, attachment_id: str):
    """A file the worker may see on their case (never an internal note's), as a download."""
    # ASCII digits within the column's range ("²" is a digit to str.isdigit, not to int()).
    if not (attachment_id.isascii() and attachment_id.isdigit()) or int(attachment_id) > ATTACHMENT_ID_MAX:
        return error_response(404, "not_found", _("This file is not available."))
    ticket, problem = _verified(reference, request.args)
    if problem is not None:
        return problem
    assert ticket is not None
    item = services.public_attachment(ticket, int(attachment_id))
    if item is None or not os.path.exists(attachments.path_of(item)):
        return error_response(404, "not_found", _("This file is not available."))
    return attachments.send(item)




@bp.post("/v1/complaints/<reference>/replies")
@limiter.limit(_track_limit, deduct_when=_failed_lookup)
@limiter.limit(_track_limit, key_func=_reference_key, deduct_when=_failed_lookup)
@limiter.limit(_complaint_limit)
def create_reply(reference: str):
    payload = _body()
    result = schemas.validate_reply(payload)
    ticket, problem = _verified(reference, payload)
    if problem is not None:
        return problem
    assert ticket is not None
    if not result.ok:
        return _invalid(result.errors)
    try:
        event = services.requester_reply(ticket, result.clean["message"])
    except services.TicketError as exc:
        db.session.rollback()
        return error_response(409, exc.code, exc.message)
    db.session.commit()
    target = db.session.get(Ticket, event.ticket_id)
    assert target is not None
    response = jsonify(reference=target.reference, status=target.status)
    response.status_code = 201
    return response


@bp.post("/v1/complaints/<reference>/rating")
@limiter.limit(_track_limit, deduct_when=_failed_lookup)
@limiter.limit(_track_limit, key_func=_reference_key, deduct_when=_failed_lookup)
def create_rating(reference: str):
    payload = _body()
    result = schemas.validate_rating(payload)
    ticket, problem = _verified(reference, payload)
    if problem is not None:
        return problem
    assert ticket is not None
    if not result.ok:
        return _invalid(result.errors)
    try:
        services.rate(ticket, result.clean["score"], result.clean.get("comment"))
    except services.TicketError as exc:
        db.session.rollback()
        return error_response(409, exc.code, exc.message)
    db.session.commit()
    response = jsonify(_case(ticket))
    response.status_code = 201
    return response


@bp.post("/v1/complaints/<reference>/attachments")
@limiter.limit(_track_limit, deduct_when=_failed_lookup)
@limiter.limit(_track_limit, key_func=_reference_key, deduct_when=_failed_lookup)
@limiter.limit(_complaint_limit)
def create_attachments(reference: str):
    """Photos/PDFs for a case (multipart: ``verification`` + ``files``), checked by magic bytes."""
    if not request.mimetype == "multipart/form-data":
        return error_response(415, "unsupported_media_type", _("Send the files as multipart/form-data."))
    ticket, problem = _verified(reference, request.form)
    if problem is not None:
        return problem
    assert ticket is not None
    files = [f for f in request.files.getlist("files") if f and f.filename]
    if not files:
        return _invalid({"files": _("Attach at least one file.")})
    if len(files) > attachments.max_files():
        return error_response(
            413,
            "too_many_files",
            _("At most %(n)d files can be attached.", n=attachments.max_files()),
            {"files": _("At most %(n)d files can be attached.", n=attachments.max_files())},
        )
    try:
        uploads = [attachments.read_upload(f.stream, f.filename or "file", "files") for f in files]
    except attachments.UploadError as exc:
        code = "file_too_large" if exc.status == 413 else "unsupported_file_type"
        return error_response(exc.status, code, exc.message, {"files": exc.message})
    target = services.effective(ticket)
    if target.status == "closed":
        return error_response(409, "ticket_closed", _("This case is closed. Please file a new complaint."))
    stored = intake.attach(target, uploads)
    db.session.commit()
    response = jsonify(reference=target.reference, stored=stored, files=[u.filename for u in uploads])
    response.status_code = 201
    return response
