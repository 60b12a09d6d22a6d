"""Agent workspace routes for tickets (``@require("tickets.work")``).

Thin: parse the form, call one service, commit, redirect. Every form that changes a ticket
carries the ``version`` the agent saw and the last timeline entry they saw (``seen_event``);
a stale save answers 409 with the entries added since (what the other agent changed).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypedDict

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.core import vocabulary
from app.core.i18n import _
from app.core.masking import mask
from app.core.policy import require, wants_json
from app.core.time import utcnow
from app.extensions import db
from app.tickets import admin_routes, attachments, intake, services
from app.tickets.blueprint import (
    PRIORITY_LABELS,
    STATUS_LABELS,
    TICKET_PAGE_LABELS,
    VIEW_LABELS,
    bp,
)
from app.tickets.labels import category_choices, category_label
from app.tickets.models import CATEGORIES, CHANNELS, PRIORITIES, STATUSES, Ticket
from app.tickets.phone_search import placement_countries

# The blueprint every tickets view is on (the administration views come with admin_routes);
# STATUS_LABELS stays importable from here for the console.
__all__ = ["STATUS_LABELS", "admin_routes", "bp"]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@bp.get("/")
@require("tickets.work")
def index():
    args = request.args
    view = args.get("view") or "mine"
    if view not in services.VIEWS:
        view = "mine"
    query = services.SearchQuery(
        text=args.get("q", ""),
        view=view,
        status=args.get("status") if args.get("status") in STATUSES else None,
        category=args.get("category") if args.get("category") in CATEGORIES else None,
        country=(args.get("country") or "").upper()[:2] or None,
        priority=args.get("priority") if args.get("priority") in PRIORITIES else None,
        channel=args.get("channel") if args.get("channel") in CHANNELS else None,
        tag=_tag_filter(args.get("tag")),
        phone_country=_phone_country(args.get("phone_country")),
        user_id=current_user.id,
        offset=max(0, _int(args.get("offset")) or 0),
    )
    if wants_json():
        tickets, error = services.search_or_error(query)
        return jsonify(tickets=[_row(t) for t in tickets], error=error)
    page = services.ticket_list(query)
    return render_template(
        "tickets/index.html",
        tickets=page.tickets,
        query=query,
        error=page.error,
        views=VIEW_LABELS,
        statuses=STATUS_LABELS,
        priorities=PRIORITY_LABELS,
        categories=category_choices(),
        assignees=page.assignees,
        now=utcnow(),
        counts=page.counts,
        tag_names=page.tag_names,
        phone_countries=[(code, vocabulary.country_name(code)) for code in placement_countries()],
        channels=vocabulary.choices("channel", CHANNELS),
    )


def _phone_country(raw: str | None) -> str | None:
    code = (raw or "").strip().upper()
    return code if code in placement_countries() else None


def _tag_filter(raw: str | None) -> str | None:
    if not raw or not raw.strip():
        return None
    try:
        return services.normalize_tag(raw)
    except services.TicketError:
        return "-"  # never a valid tag: an impossible filter shows nothing rather than everything


def _row(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "reference": ticket.reference,
        "status": ticket.status,
        "category": ticket.category,
        "category_label": category_label(ticket.category),
        "priority": ticket.priority,
        "channel": ticket.channel,
        "channel_label": vocabulary.label(ticket.channel, "channel"),
        "country": ticket.country,
        "assignee_id": ticket.assignee_id,
        "subject": ticket.subject,
        "tags": sorted(t.name for t in ticket.tags),
        "version": ticket.version,
    }


@bp.post("/bulk-assign")
@require("tickets.work")
def bulk_assign():
    ids = [i for i in (_int(v) for v in request.form.getlist("ticket_ids")) if i]
    raw = request.form.get("assignee_id", "")
    assignee_id = current_user.id if raw == "me" else _int(raw)
    if not ids:
        flash(_("Select at least one ticket."), "error")
        return redirect(request.referrer or url_for("tickets.index"))
    try:
        changed = services.bulk_assign(ids, assignee_id, actor_id=current_user.id)
    except services.TicketError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("tickets.index"))
    db.session.commit()
    flash(_("%(n)d tickets assigned.", n=changed), "info")
    return redirect(url_for("tickets.index", view=request.form.get("view") or "mine"))


def _ticket_or_404(ticket_id: int) -> Ticket:
    ticket = services.find_ticket(ticket_id)
    if ticket is None:
        abort(404)
    return ticket


def _page(
    ticket: Ticket,
    status: int = 200,
    conflict: services.Conflict | None = None,
    revealed: dict[str, str] | None = None,
    draft: str = "",
):
    page = services.ticket_page(ticket, current_user.id, conflict=conflict)
    return render_template(
        "tickets/ticket.html",
        **page.context(),
        **TICKET_PAGE_LABELS,
        categories=category_choices(),
        mask=mask,
        revealed=revealed or {},
        draft=draft,
    ), status


@bp.get("/<int:ticket_id>")
@require("tickets.work")
def show(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    page = _page(ticket)
    services.mark_viewing(ticket, current_user)
    db.session.commit()
    return page


def _conflict(ticket_id: int, exc: services.Conflict):
    db.session.rollback()
    if wants_json():
        return jsonify(
            error={
                "code": "conflict",
                "message": _("Someone else changed this ticket in the meantime."),
                "fields": {},
            },
            current_version=exc.current_version,
            changes=exc.changes,
        ), 409
    ticket = _ticket_or_404(ticket_id)
    return _page(ticket, 409, conflict=exc)


class _Versions(TypedDict):
    expected_version: int | None
    seen_event_id: int | None


def _versions() -> _Versions:
    """The ticket version and the last timeline entry the agent saw (for optimistic locking)."""
    return {
        "expected_version": _int(request.form.get("version")),
        "seen_event_id": _int(request.form.get("seen_event")),
    }


def _done(ticket_id: int, message: str | None = None) -> Response:
    db.session.commit()
    if message:
        flash(message, "info")
    return redirect(url_for("tickets.show", ticket_id=ticket_id))


def _refused(ticket_id: int, exc: services.TicketError) -> Response:
    db.session.rollback()
    flash(exc.message, "error")
    return redirect(url_for("tickets.show", ticket_id=ticket_id))


def _refusals_answered(view: Callable[..., Any]) -> Callable[..., Any]:
    """A ticket action's refusals, answered alike: a stale version is a 409 showing what changed,
    a rule the service refuses is a message back on the ticket page (both roll back)."""

    @wraps(view)
    def wrapper(ticket_id: int, **kwargs: Any) -> Any:
        try:
            return view(ticket_id, **kwargs)
        except services.Conflict as exc:
            return _conflict(ticket_id, exc)
        except services.TicketError as exc:
            return _refused(ticket_id, exc)

    return wrapper


@bp.post("/<int:ticket_id>/reply")
@require("tickets.work")
@_refusals_answered
def reply(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    public = request.form.get("kind", "public_reply") == "public_reply"
    set_status = request.form.get("set_status") or None
    if set_status is not None and set_status not in STATUSES:
        set_status = None
    try:
        uploads = attachments.read_uploads(request.files.getlist("attachments"))
    except attachments.UploadError as exc:  # checked before anything is saved
        flash(exc.message, "error")
        return _page(ticket, exc.status, draft=request.form.get("body", ""))
    event = services.reply(
        ticket,
        request.form.get("body", ""),
        actor_id=current_user.id,
        public=public,
        set_status=set_status,
        **_versions(),
    )
    db.session.commit()  # the message is safe before any file is written
    if uploads:
        # An internal note's files stay internal: never listed or served to the worker.
        intake.attach(ticket, uploads, event, public=public, actor_id=current_user.id)
    return _done(ticket_id, _("Reply sent.") if public else _("Note added."))


@bp.post("/<int:ticket_id>/status")
@require("tickets.work")
@_refusals_answered
def status(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    old = ticket.status
    services.change_status(
        ticket,
        request.form.get("status", ""),
        actor_id=current_user.id,
        reason=request.form.get("reason") or None,
        **_versions(),
    )
    if ticket.status == old:
        return _done(ticket_id, _("The status stays %(status)s.", status=STATUS_LABELS[old]))
    return _done(
        ticket_id,
        _("Status changed: %(old)s → %(new)s.", old=STATUS_LABELS[old], new=STATUS_LABELS[ticket.status]),
    )


@bp.post("/<int:ticket_id>/assign")
@require("tickets.work")
@_refusals_answered
def assign(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    raw = request.form.get("assignee_id", "")
    assignee_id = current_user.id if raw == "me" else _int(raw)
    before = (ticket.assignee_id, ticket.team)
    services.assign(ticket, assignee_id, actor_id=current_user.id, team=request.form.get("team"), **_versions())
    return _done(ticket_id, services.assignment_message(ticket, before, current_user.id))


@bp.post("/<int:ticket_id>/fields")
@require("tickets.work")
@_refusals_answered
def fields(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    services.update_fields(
        ticket,
        actor_id=current_user.id,
        priority=request.form.get("priority") or None,
        category=request.form.get("category") or None,
        **_versions(),
    )
    return _done(ticket_id)


@bp.post("/<int:ticket_id>/tags")
@require("tickets.tag")
@_refusals_answered
def tags(ticket_id: int):
    """Add the tags typed (comma-separated) and/or remove the one named by ``remove``."""
    ticket = _ticket_or_404(ticket_id)
    typed = [part for part in (request.form.get("add") or "").split(",") if part.strip()]
    removed = [request.form["remove"]] if request.form.get("remove") else []
    if not typed and not removed:
        return _refused(ticket_id, services.TicketError(_("Enter a tag.")))
    services.tag(ticket, add=typed, remove=removed, actor_id=current_user.id, **_versions())
    return _done(ticket_id)


@bp.post("/<int:ticket_id>/member")
@require("tickets.work")
@_refusals_answered
def link_member(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    member_id: int | None = None
    if request.form.get("action") != "unlink":
        kpj = (request.form.get("kpj") or "").strip().upper()
        if kpj:
            member_id = services.member_id_by_kpj(kpj)
            if member_id is None:
                return _refused(ticket_id, services.TicketError(_("No member with this KPJ.")))
        else:
            member_id = _int(request.form.get("member_id"))
            if member_id is None:
                return _refused(ticket_id, services.TicketError(_("Choose a member.")))
    services.link_member(ticket, member_id, actor_id=current_user.id, **_versions())
    return _done(ticket_id)


@bp.post("/<int:ticket_id>/claim")
@require("tickets.work")
@_refusals_answered
def link_claim(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    services.link_claim(ticket, _int(request.form.get("claim_id")), actor_id=current_user.id, **_versions())
    return _done(ticket_id)


@bp.post("/<int:ticket_id>/merge")
@require("tickets.work")
@_refusals_answered
def merge(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    target = services.get_by_reference(request.form.get("target", ""))
    if target is None:
        return _refused(ticket_id, services.TicketError(_("No ticket with this reference.")))
    services.merge(ticket, target, actor_id=current_user.id, **_versions())
    db.session.commit()
    flash(_("Merged into %(ref)s.", ref=target.reference), "info")
    return redirect(url_for("tickets.show", ticket_id=target.id))


@bp.post("/<int:ticket_id>/reveal")
@require("pii.reveal")
def reveal(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    field = request.form.get("field", "")
    if field in services.REVEALABLE:
        value = services.reveal(ticket, field, actor_id=current_user.id)
    else:  # free text: the description or one message of the timeline
        value = services.reveal_text(ticket, field, actor_id=current_user.id)
        if value is None:
            abort(400)
    page = _page(ticket, revealed={field: value} if value else {})
    db.session.commit()
    return page


@bp.get("/<int:ticket_id>/attachments/<int:attachment_id>")
@require("tickets.work")
def attachment(ticket_id: int, attachment_id: int):
    item = services.ticket_attachment(ticket_id, attachment_id)
    if item is None:
        abort(404)
    return attachments.send(item)
