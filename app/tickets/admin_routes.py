"""The tickets workspace's administration: erasing a requester's personal data from a case
(``tickets.erase``), the canned replies (``tickets.canned`` to change them) and the approved
WhatsApp templates (``settings.manage``). Thin, as in :mod:`app.tickets.routes`."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.core import vocabulary
from app.core.i18n import _
from app.core.policy import require
from app.extensions import db
from app.tickets import erasure as erasure_rules
from app.tickets import services, settings
from app.tickets.blueprint import STATUS_LABELS, bp
from app.tickets.labels import category_choices
from app.tickets.models import Ticket
from app.tickets.services import templates as template_rules


@bp.get("/erasure")
@require("tickets.erase")
def erasure():
    """Admin: find a case by reference to erase the requester's personal data from it."""
    reference = (request.args.get("reference") or "").strip()
    ticket = services.get_by_reference(reference) if reference else None
    return _erasure_page(reference, ticket, 404 if reference and ticket is None else 200)


def _erasure_page(reference: str, ticket: Ticket | None, status: int = 200, error: str | None = None):
    return render_template(
        "tickets/erasure.html",
        reference=reference,
        ticket=ticket,
        facts=erasure_rules.erasure_facts(ticket) if ticket is not None else None,
        statuses=STATUS_LABELS,
        erasable=ticket is not None and erasure_rules.erasable(ticket),
        error=error,
        retention_days=settings.retention_days(),
    ), status


@bp.post("/<int:ticket_id>/erase")
@require("tickets.erase")
def erase(ticket_id: int):
    """Erase the requester's data; the admin confirms by typing the reference again."""
    ticket = services.find_ticket(ticket_id)
    if ticket is None:
        abort(404)
    reference = ticket.reference or ""
    if (request.form.get("confirm") or "").strip().upper() != reference:
        return _erasure_page(
            reference, ticket, 422, _("Type the reference %(ref)s to confirm.", ref=reference)
        )
    try:
        summary = erasure_rules.erase_requester(ticket, actor_id=current_user.id, reason="request")
    except services.TicketError as exc:
        db.session.rollback()
        return _erasure_page(reference, ticket, 409, exc.message)
    db.session.commit()
    if summary is None:
        flash(_("This case's personal data was already erased."), "info")
    else:
        flash(_("Personal data of %(ref)s erased.", ref=reference), "info")
    return redirect(url_for("tickets.erasure", reference=reference))


@bp.get("/canned")
@require("tickets.work")
def canned():
    return render_template(
        "tickets/canned.html",
        replies=services.canned_replies(active_first=True),
        categories=category_choices(),
        errors={},
        values={},
    )


@bp.post("/canned")
@require("tickets.canned")
def canned_create():
    values = {name: (request.form.get(name) or "").strip() for name in services.CANNED_FIELDS}
    errors = services.canned_reply_errors(values)
    if errors:
        return render_template(
            "tickets/canned.html",
            replies=services.canned_replies(),
            categories=category_choices(),
            errors=errors,
            values=values,
        ), 422
    services.add_canned_reply(values)
    return _saved(_("Canned reply saved."), "tickets.canned")


@bp.post("/canned/<int:reply_id>/toggle")
@require("tickets.canned")
def canned_toggle(reply_id: int):
    return _toggled(services.toggle_canned_reply(reply_id), "tickets.canned")


@bp.get("/templates")
@require("settings.manage")
def templates():
    """Admin: the approved WhatsApp templates (what may be sent outside the 24-hour window)."""
    return _templates_page({}, {})


def _templates_page(errors: dict[str, str], values: dict[str, str], status: int = 200):
    return render_template(
        "tickets/templates.html",
        templates=template_rules.message_templates(),
        purposes=vocabulary.choices("template_purpose"),
        fields=vocabulary.choices("template_field"),
        max_variables=template_rules.MAX_VARIABLES,
        errors=errors,
        values=values,
    ), status


@bp.post("/templates")
@require("settings.manage")
def templates_save():
    values = {name: (request.form.get(name) or "").strip() for name in template_rules.TEMPLATE_FORM}
    chosen = [(request.form.get(f"variable_{n}") or "").strip() for n in range(1, template_rules.MAX_VARIABLES + 1)]
    values["variables"] = ",".join(chosen).rstrip(",")
    errors = template_rules.template_errors(values)
    if errors:
        return _templates_page(errors, values, 422)
    template_rules.save_template(values)
    return _saved(_("Template saved."), "tickets.templates")


@bp.post("/templates/<int:template_id>/toggle")
@require("settings.manage")
def templates_toggle(template_id: int):
    return _toggled(template_rules.toggle_template(template_id), "tickets.templates")


def _saved(message: str, endpoint: str) -> Response:
    """A settings form saved: commit, say so, back to its list."""
    db.session.commit()
    flash(message, "info")
    return redirect(url_for(endpoint))


def _toggled(found: object | None, endpoint: str) -> Response:
    """An entry switched on or off (None: there is no such entry): commit, back to its list."""
    if found is None:
        abort(404)
    db.session.commit()
    return redirect(url_for(endpoint))
