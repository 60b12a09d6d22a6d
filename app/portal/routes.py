"""Worker-facing pages: the landing page, the complaint form and "follow your case".

Pages are public: CSRF protects every form, Flask-Limiter slows down guessing. A case is shown
only after the reference *and* a verification (the birth date or the phone on file) fit; the
verified ticket ids are kept in the signed session for an hour of follow-up.
"""

from __future__ import annotations

import time
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from werkzeug.wrappers import Response

from app.core import dates, vocabulary
from app.core.i18n import _
from app.extensions import db, limiter
from app.portal import services as portal_services
from app.portal.blueprint import bp
from app.records.routes import country_name
from app.tickets import attachments, intake, schemas, services
from app.tickets.labels import category_choices, category_label
from app.tickets.models import Ticket

ZONE_COOKIE = "tz"  # the worker's browser zone (IANA name), set by the case page's script

SESSION_KEY = "tracked_cases"
SESSION_TTL = 3600

STATUS_LABELS = vocabulary.TICKET_STATUS_PUBLIC  # kept for imports; the table is in app/core/vocabulary.py


def _track_limit() -> str:
    return str(current_app.config.get("TICKETS_TRACK_RATE_LIMIT", "10 per hour"))


def _complaint_limit() -> str:
    return str(current_app.config.get("TICKETS_COMPLAINT_RATE_LIMIT", "20 per hour"))


def _reference_key() -> str:
    return "ref:" + (request.form.get("reference") or "").strip().upper()[:32]


def _failed(response: Response) -> bool:
    # Only failed attempts count: a worker checking their case often is not guessing.
    return response.status_code != 302


@bp.after_request
def _no_store(response: Response) -> Response:
    if request.endpoint in ("portal.case", "portal.track", "portal.complaint_done", "portal.case_file"):
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
def index():
    return render_template("portal/index.html")


def _form_context(values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    return {
        "values": values,
        "errors": errors,
        "categories": category_choices("public"),
        "countries": [(code, country_name(code)) for code in schemas.countries()],
        "max_mb": attachments.max_bytes() // (1024 * 1024),
        "max_files": attachments.max_files(),
    }


def _uploads(field: str = "attachments") -> list[attachments.Upload]:
    return attachments.read_uploads(request.files.getlist(field), field)


@bp.route("/complaints/new", methods=["GET", "POST"])
@limiter.limit(_complaint_limit, methods=["POST"])
def complaint_new():
    if request.method == "GET":
        # The language the worker is reading the form in (chosen, or from the browser).
        values = {"language": str(get_locale() or "id"), "category": request.args.get("category", "")}
        return render_template("portal/complaint_new.html", **_form_context(values, {}))
    values = {name: request.form.get(name, "") for name in schemas.COMPLAINT_FIELDS}
    result = schemas.validate_complaint(values)
    try:
        uploads = _uploads()
    except attachments.UploadError as exc:
        errors = dict(result.errors, attachments=exc.message)
        return render_template("portal/complaint_new.html", **_form_context(values, errors)), exc.status
    if not result.ok:
        return render_template("portal/complaint_new.html", **_form_context(values, result.errors)), 422
    ticket = intake.file_complaint(result.clean, channel="portal")
    db.session.commit()  # the complaint is safe before any file is written
    if uploads:
        intake.attach(ticket, uploads)
        db.session.commit()
    _remember(ticket)
    session["last_complaint"] = ticket.reference
    return redirect(url_for("portal.complaint_done"))


@bp.get("/complaints/done")
def complaint_done():
    reference = session.get("last_complaint")
    if not reference:
        return redirect(url_for("portal.complaint_new"))
    return render_template("portal/complaint_done.html", reference=reference)


def _remember(ticket: Ticket) -> None:
    now = int(time.time())
    tracked = {k: v for k, v in (session.get(SESSION_KEY) or {}).items() if now - int(v) < SESSION_TTL}
    tracked[str(ticket.id)] = now
    session[SESSION_KEY] = dict(list(tracked.items())[-10:])


def _verified(ticket: Ticket) -> bool:
    seen = (session.get(SESSION_KEY) or {}).get(str(ticket.id))
    return seen is not None and int(time.time()) - int(seen) < SESSION_TTL


@bp.route("/complaints/track", methods=["GET", "POST"])
@limiter.limit(_track_limit, methods=["POST"], deduct_when=_failed)
@limiter.limit(_track_limit, methods=["POST"], key_func=_reference_key, deduct_when=_failed)
def track():
    if request.method == "GET":
        return render_template(
            "portal/track.html", values={"reference": request.args.get("reference", "")}, errors={}
        )
    values = {
        "reference": request.form.get("reference", ""),
        "verification": request.form.get("verification", ""),
    }
    errors: dict[str, str] = {}
    if not values["reference"].strip():
        errors["reference"] = _("Enter the reference number, e.g. PMI-2026-000123.")
    if not values["verification"].strip():
        errors["verification"] = _("Enter your birth date (YYYY-MM-DD) or the phone number you gave us.")
    if errors:
        return render_template("portal/track.html", values=values, errors=errors), 422
    ticket = services.get_by_reference(values["reference"])
    # One answer for "no such case" and "wrong verification": no hint for guessers.
    if ticket is None or not services.verify_requester(ticket, values["verification"]):
        errors["verification"] = _("We could not find a case with this reference and verification.")
        return render_template("portal/track.html", values=values, errors=errors), 404
    _remember(ticket)
    return redirect(url_for("portal.case", reference=ticket.reference))


def _case_or_redirect(reference: str) -> Ticket | Response:
    ticket = services.get_by_reference(reference)
    if ticket is None or not _verified(ticket):
        return redirect(url_for("portal.track", reference=reference))
    return ticket


def _render_case(ticket: Ticket, errors: dict[str, str] | None = None, status: int = 200):
    shown = services.effective(ticket)
    # Her times in her zone: the browser's (a cookie the page sets), else her placement's.
    dates.use_zone(portal_services.worker_zone(ticket, request.cookies.get(ZONE_COOKIE)))
    return render_template(
        "portal/case.html",
        ticket=shown,
        original=ticket,
        timeline=services.public_timeline(shown),
        status_label=STATUS_LABELS.get(shown.status, shown.status),
        category_label=category_label(shown.category, "public"),
        status_labels=STATUS_LABELS,
        errors=errors or {},
        max_mb=attachments.max_bytes() // (1024 * 1024),
    ), status


@bp.get("/complaints/<reference>")
def case(reference: str):
    found = _case_or_redirect(reference)
    if not isinstance(found, Ticket):
        return found
    return _render_case(found)


@bp.get("/complaints/<reference>/files/<int:attachment_id>")
def case_file(reference: str, attachment_id: int):
    """A file shown on the case (the worker's own, or one an agent sent with a reply); never
    an internal note's. Sent as a download, never rendered inline."""
    found = _case_or_redirect(reference)
    if not isinstance(found, Ticket):
        return found
    item = services.public_attachment(found, attachment_id)
    if item is None:
        abort(404)
    return attachments.send(item)


@bp.post("/complaints/<reference>/reply")
@limiter.limit(_complaint_limit)
def case_reply(reference: str):
    found = _case_or_redirect(reference)
    if not isinstance(found, Ticket):
        return found
    result = schemas.validate_reply({"message": request.form.get("message", "")})
    try:
        uploads = _uploads()
    except attachments.UploadError as exc:
        return _render_case(found, {"attachments": exc.message}, exc.status)
    if not result.ok:
        return _render_case(found, result.errors, 422)
    try:
        event = services.requester_reply(found, result.clean["message"])
    except services.TicketError as exc:
        db.session.rollback()
        return _render_case(found, {"message": exc.message}, 409)
    db.session.commit()
    if uploads:
        target = db.session.get(Ticket, event.ticket_id)
        assert target is not None
        intake.attach(target, uploads, event)
        db.session.commit()
    flash(_("Thank you. Your reply was sent; we answer you here."), "success")
    return redirect(url_for("portal.case", reference=found.reference, _anchor="history"))


@bp.post("/complaints/<reference>/rating")
def case_rating(reference: str):
    found = _case_or_redirect(reference)
    if not isinstance(found, Ticket):
        return found
    result = schemas.validate_rating(
        {"score": request.form.get("score", ""), "comment": request.form.get("comment", "")}
    )
    if not result.ok:
        return _render_case(found, result.errors, 422)
    try:
        services.rate(found, result.clean["score"], result.clean.get("comment"))
    except services.TicketError as exc:
        db.session.rollback()
        return _render_case(found, {"score": exc.message}, 409)
    db.session.commit()
    return redirect(url_for("portal.case", reference=found.reference))

