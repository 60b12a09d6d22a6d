"""Agent workspace routes for tickets (``@require("tickets.work")``).

Thin: parse the form, call one service, commit, redirect. Every form that changes a ticket
carries the ``version`` the agent saw and the last timeline entry they saw (``seen_event``);
a stale save answers 409 with the entries added since (what the other agent changed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from app import vocabulary
from app.agents.models import User
from app.agents.policy import require, wants_json
from app.core import audit
from app.core.masking import mask
from app.core.time import utcnow
from app.extensions import db
from app.records.identifiers import IdentifierError, _
from app.records.models import Member
from app.records.services import find_members, member_summary
from app.sla.services import summary as sla_summary
from app.tickets import attachments, intake, services, settings
from app.tickets import erasure as erasure_rules
from app.tickets.labels import category_choices, category_label
from app.tickets.models import (
    CATEGORIES,
    OPEN_STATUSES,
    PRIORITIES,
    STATUSES,
    Attachment,
    CannedReply,
    Notification,
    Ticket,
    TicketView,
)
from app.tickets.phone_search import placement_countries
from app.tickets.sentences import event_sentence
from app.tickets.titles import display_title

bp = Blueprint("tickets", __name__, url_prefix="/tickets")
# Templates name categories by their label, never by code (one table: app/tickets/labels.py).
bp.add_app_template_global(category_label, "category_label")
bp.add_app_template_global(event_sentence, "event_sentence")
bp.add_app_template_global(display_title, "ticket_title")

COLLISION_WINDOW = timedelta(minutes=5)
VIEW_LABELS = {
    "mine": _l("Mine"),
    "unassigned": _l("Unassigned"),
    "breaching": _l("Breaching soon"),
    "open": _l("All open"),
    "all": _l("All"),
}
# The tables live in the one vocabulary (app/vocabulary.py); these names stay for imports.
STATUS_LABELS = vocabulary.TICKET_STATUS
PRIORITY_LABELS = vocabulary.PRIORITY
EVENT_LABELS = vocabulary.EVENT
NOTIFICATION_KIND_LABELS = vocabulary.NOTIFICATION
# Our side of sending (Notification.status) and what the carrier reported (carrier_status).
SEND_LABELS = vocabulary.SEND_STATUS
CARRIER_LABELS = vocabulary.CARRIER_STATUS
REVEALABLE = {
    "requester_phone": "phone",
    "requester_email": "email",
    "requester_nik": "nik",
    "requester_passport": "passport",
}


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # tickets hold personal data
    return response


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _agents() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.active.is_(True), User.role.in_(("agent", "supervisor")))
            .order_by(User.name)
        )
    )


@bp.get("/")
@require("tickets.work")
def index():  # type: ignore[no-untyped-def]
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
        tag=_tag_filter(args.get("tag")),
        phone_country=_phone_country(args.get("phone_country")),
        user_id=current_user.id,
        offset=max(0, _int(args.get("offset")) or 0),
    )
    error = None
    try:
        tickets = services.search_tickets(query)
    except IdentifierError as exc:
        tickets, error = [], exc.message
    assignees = {u.id: u for u in _agents()}
    if wants_json():
        return jsonify(tickets=[_row(t) for t in tickets], error=error)
    return render_template(
        "tickets/index.html",
        tickets=tickets,
        query=query,
        error=error,
        views=VIEW_LABELS,
        statuses=STATUS_LABELS,
        priorities=PRIORITY_LABELS,
        categories=category_choices(),
        assignees=assignees,
        now=utcnow(),
        counts=services.open_counts() if query.view == "open" and not query.text else [],
        tag_names=services.tag_names(),
        phone_countries=[(code, vocabulary.country_name(code)) for code in placement_countries()],
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
        "country": ticket.country,
        "assignee_id": ticket.assignee_id,
        "subject": ticket.subject,
        "tags": sorted(t.name for t in ticket.tags),
        "version": ticket.version,
    }


@bp.post("/bulk-assign")
@require("tickets.work")
def bulk_assign():  # type: ignore[no-untyped-def]
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
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None:
        abort(404)
    return ticket


def _others_viewing(ticket: Ticket) -> list[User]:
    since = utcnow() - COLLISION_WINDOW
    return list(
        db.session.scalars(
            select(User)
            .join(TicketView, TicketView.user_id == User.id)
            .where(
                TicketView.ticket_id == ticket.id,
                TicketView.user_id != current_user.id,
                TicketView.seen_at >= since,
            )
        )
    )


def _mark_viewing(ticket: Ticket) -> None:
    view = db.session.get(TicketView, (ticket.id, current_user.id))
    if view is None:
        db.session.add(TicketView(ticket_id=ticket.id, user_id=current_user.id, seen_at=utcnow()))
    else:
        view.seen_at = utcnow()
    from app.core import realtime

    realtime.publish(
        "ticket.viewing",
        {"id": ticket.id, "user_id": current_user.id, "name": current_user.name},
        room="tickets",
    )


def _page(
    ticket: Ticket,
    status: int = 200,
    conflict: services.Conflict | None = None,
    revealed: dict[str, str] | None = None,
    draft: str = "",
):  # type: ignore[no-untyped-def]
    events = services.timeline(ticket)
    notifications = list(
        db.session.scalars(
            select(Notification).where(Notification.ticket_id == ticket.id).order_by(Notification.id)
        )
    )
    # One timeline for staff: the ticket's events with the messages sent to the worker (and
    # what the carrier reported about them) in between, by time.
    entries = sorted(
        [("event", e.created_at, e) for e in events] + [("notification", n.created_at, n) for n in notifications],
        key=lambda entry: entry[1],
    )
    summary = None
    member = db.session.get(Member, ticket.member_id) if ticket.member_id else None
    if member is not None:
        summary = member_summary(member)
    candidates = []
    if ticket.match_confidence != "confirmed":
        candidates = (
            find_members(
                kpj=ticket.requester_kpj,
                nik=ticket.requester_nik,
                passport=ticket.requester_passport,
                phone=ticket.requester_phone,
                lenient=True,
                limit=5,
            )
            if (
                ticket.requester_kpj
                or ticket.requester_nik
                or ticket.requester_passport
                or ticket.requester_phone
            )
            else []
        )
    users = {u.id: u for u in db.session.scalars(select(User))}
    canned = list(
        db.session.scalars(
            select(CannedReply).where(CannedReply.active.is_(True)).order_by(CannedReply.title)
        )
    )
    merged_into = db.session.get(Ticket, ticket.merged_into_id) if ticket.merged_into_id else None
    masked = {
        field: mask(getattr(ticket, field), kind) if getattr(ticket, field) else None
        for field, kind in REVEALABLE.items()
    }
    return render_template(
        "tickets/ticket.html",
        ticket=ticket,
        events=events,
        sla=sla_summary(ticket),
        entries=[(kind, item) for kind, _at, item in entries],
        seen_event=events[-1].id if events else 0,
        summary=summary,
        member=member,
        candidates=candidates,
        users=users,
        agents=_agents(),
        canned=canned,
        others=_others_viewing(ticket),
        conflict=conflict,
        merged_into=merged_into,
        statuses=STATUS_LABELS,
        # The selector starts at the current status, among the ones it may move to.
        allowed_statuses=sorted(services.TRANSITIONS[ticket.status] | {ticket.status}, key=STATUSES.index)
        if services.TRANSITIONS[ticket.status]
        else [],
        priorities=PRIORITY_LABELS,
        categories=category_choices(),
        event_labels=EVENT_LABELS,
        notification_labels=NOTIFICATION_KIND_LABELS,
        send_labels=SEND_LABELS,
        carrier_labels=CARRIER_LABELS,
        mask=mask,
        masked=masked,
        revealed=revealed or {},
        draft=draft,
        max_mb=attachments.max_bytes() // (1024 * 1024),
        max_files=attachments.max_files(),
        open_statuses=OPEN_STATUSES,
        tag_names=services.tag_names(),
    ), status


@bp.get("/<int:ticket_id>")
@require("tickets.work")
def show(ticket_id: int):  # type: ignore[no-untyped-def]
    ticket = _ticket_or_404(ticket_id)
    page = _page(ticket)
    _mark_viewing(ticket)
    db.session.commit()
    return page


def _conflict(ticket_id: int, exc: services.Conflict):  # type: ignore[no-untyped-def]
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


def _versions() -> dict[str, int | None]:
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
def reply(ticket_id: int):  # type: ignore[no-untyped-def]
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
def status(ticket_id: int):  # type: ignore[no-untyped-def]
    ticket = _ticket_or_404(ticket_id)
    versions = _versions()
    services.check_version(ticket, versions["expected_version"], versions["seen_event_id"])
    old = ticket.status
    services.change_status(
        ticket,
        request.form.get("status", ""),
        actor_id=current_user.id,
        reason=request.form.get("reason") or None,
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
def assign(ticket_id: int):  # type: ignore[no-untyped-def]
    ticket = _ticket_or_404(ticket_id)
    raw = request.form.get("assignee_id", "")
    assignee_id = current_user.id if raw == "me" else _int(raw)
    versions = _versions()
    services.check_version(ticket, versions["expected_version"], versions["seen_event_id"])
    before = (ticket.assignee_id, ticket.team)
    services.assign(ticket, assignee_id, actor_id=current_user.id, team=request.form.get("team"))
    return _done(ticket_id, _assignment_message(ticket, before))


def _assignment_message(ticket: Ticket, before: tuple[int | None, str | None]) -> str:
    """What an assignment did, in words: to whom, back to the pool, the team, or nothing."""
    if (ticket.assignee_id, ticket.team) == before:
        return _("Nothing changed: the assignment is the same.")
    if ticket.assignee_id is None:
        message = _("%(ref)s is back in the pool (nobody assigned).", ref=ticket.reference)
    elif ticket.assignee_id == current_user.id:
        message = _("%(ref)s is assigned to you.", ref=ticket.reference)
    else:
        user = db.session.get(User, ticket.assignee_id)
        message = _("%(ref)s is assigned to %(name)s.", ref=ticket.reference, name=user.name if user else "–")
    if ticket.team != before[1]:
        message += " " + (_("Team: %(team)s.", team=ticket.team) if ticket.team else _("No team."))
    return message


@bp.post("/<int:ticket_id>/fields")
@require("tickets.work")
@_refusals_answered
def fields(ticket_id: int):  # type: ignore[no-untyped-def]
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
def tags(ticket_id: int):  # type: ignore[no-untyped-def]
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
def link_member(ticket_id: int):  # type: ignore[no-untyped-def]
    ticket = _ticket_or_404(ticket_id)
    member_id: int | None = None
    if request.form.get("action") != "unlink":
        kpj = (request.form.get("kpj") or "").strip().upper()
        if kpj:
            member_id = db.session.scalar(select(Member.id).where(Member.kpj == kpj))
            if member_id is None:
                return _refused(ticket_id, services.TicketError(_("No member with this KPJ.")))
        else:
            member_id = _int(request.form.get("member_id"))
            if member_id is None:
                return _refused(ticket_id, services.TicketError(_("Choose a member.")))
    versions = _versions()
    services.check_version(ticket, versions["expected_version"], versions["seen_event_id"])
    services.link_member(ticket, member_id, actor_id=current_user.id)
    return _done(ticket_id)


@bp.post("/<int:ticket_id>/claim")
@require("tickets.work")
@_refusals_answered
def link_claim(ticket_id: int):  # type: ignore[no-untyped-def]
    ticket = _ticket_or_404(ticket_id)
    versions = _versions()
    services.check_version(ticket, versions["expected_version"], versions["seen_event_id"])
    services.link_claim(ticket, _int(request.form.get("claim_id")), actor_id=current_user.id)
    return _done(ticket_id)


@bp.post("/<int:ticket_id>/merge")
@require("tickets.work")
@_refusals_answered
def merge(ticket_id: int):  # type: ignore[no-untyped-def]
    ticket = _ticket_or_404(ticket_id)
    target = services.get_by_reference(request.form.get("target", ""))
    if target is None:
        return _refused(ticket_id, services.TicketError(_("No ticket with this reference.")))
    versions = _versions()
    services.check_version(ticket, versions["expected_version"], versions["seen_event_id"])
    services.merge(ticket, target, actor_id=current_user.id)
    db.session.commit()
    flash(_("Merged into %(ref)s.", ref=target.reference), "info")
    return redirect(url_for("tickets.show", ticket_id=target.id))


@bp.post("/<int:ticket_id>/reveal")
@require("pii.reveal")
def reveal(ticket_id: int):  # type: ignore[no-untyped-def]
    ticket = _ticket_or_404(ticket_id)
    field = request.form.get("field", "")
    if field not in REVEALABLE:
        abort(400)
    value = getattr(ticket, field)
    audit.record("pii.view", "ticket", ticket.id, {"field": field})
    services.add_event(ticket, "viewed_pii", {"field": field}, actor_id=current_user.id)
    page = _page(ticket, revealed={field: value} if value else {})
    db.session.commit()
    return page


@bp.get("/<int:ticket_id>/attachments/<int:attachment_id>")
@require("tickets.work")
def attachment(ticket_id: int, attachment_id: int):  # type: ignore[no-untyped-def]
    item = db.session.get(Attachment, attachment_id)
    if item is None or item.ticket_id != ticket_id:
        abort(404)
    return attachments.send(item)


@bp.get("/erasure")
@require("tickets.erase")
def erasure():  # type: ignore[no-untyped-def]
    """Admin: find a case by reference to erase the requester's personal data from it."""
    reference = (request.args.get("reference") or "").strip()
    ticket = services.get_by_reference(reference) if reference else None
    return _erasure_page(reference, ticket, 404 if reference and ticket is None else 200)


def _erasure_page(reference: str, ticket: Ticket | None, status: int = 200, error: str | None = None):  # type: ignore[no-untyped-def]
    facts = None
    if ticket is not None:
        events = services.timeline(ticket)
        facts = {
            "messages": sum(1 for e in events if e.by_requester and e.body),
            "attachments": len(ticket.attachments),
            "merged": [e.data.get("from_reference") for e in events if e.kind == "merged" and e.data.get("from")],
        }
    return render_template(
        "tickets/erasure.html",
        reference=reference,
        ticket=ticket,
        facts=facts,
        statuses=STATUS_LABELS,
        erasable=ticket is not None and ticket.erased_at is None and ticket.status in erasure_rules.ERASABLE_STATUSES,
        error=error,
        retention_days=settings.retention_days(),
    ), status


@bp.post("/<int:ticket_id>/erase")
@require("tickets.erase")
def erase(ticket_id: int):  # type: ignore[no-untyped-def]
    """Erase the requester's data; the admin confirms by typing the reference again."""
    ticket = _ticket_or_404(ticket_id)
    reference = ticket.reference or ""
    if (request.form.get("confirm") or "").strip().upper() != reference:
        return _erasure_page(reference, ticket, 422, _("Type the reference %(ref)s to confirm.", ref=reference))
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
def canned():  # type: ignore[no-untyped-def]
    replies = list(
        db.session.scalars(select(CannedReply).order_by(CannedReply.active.desc(), CannedReply.title))
    )
    return render_template(
        "tickets/canned.html", replies=replies, categories=category_choices(), errors={}, values={}
    )


@bp.post("/canned")
@require("tickets.canned")
def canned_create():  # type: ignore[no-untyped-def]
    values = {
        name: (request.form.get(name) or "").strip() for name in ("title", "body", "language", "category")
    }
    errors: dict[str, str] = {}
    if not values["title"] or len(values["title"]) > 120:
        errors["title"] = _("Enter a title (at most 120 characters).")
    if not values["body"]:
        errors["body"] = _("Write the reply text.")
    if values["language"] not in ("id", "en"):
        errors["language"] = _("Choose id or en.")
    if values["category"] and values["category"] not in CATEGORIES:
        errors["category"] = _("Please choose a category from the list.")
    if errors:
        replies = list(db.session.scalars(select(CannedReply).order_by(CannedReply.title)))
        return render_template(
            "tickets/canned.html", replies=replies, categories=category_choices(), errors=errors, values=values
        ), 422
    db.session.add(
        CannedReply(
            title=values["title"],
            body=values["body"],
            language=values["language"],
            category=values["category"] or None,
        )
    )
    db.session.commit()
    flash(_("Canned reply saved."), "info")
    return redirect(url_for("tickets.canned"))


@bp.post("/canned/<int:reply_id>/toggle")
@require("tickets.canned")
def canned_toggle(reply_id: int):  # type: ignore[no-untyped-def]
    item = db.session.get(CannedReply, reply_id)
    if item is None:
        abort(404)
    item.active = not item.active
    db.session.commit()
    return redirect(url_for("tickets.canned"))
