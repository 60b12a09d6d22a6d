"""The agent workspace's pages, assembled: the ticket list, the ticket page (with who else has
it open), and the words for what an agent's action did. Routes render what these return."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.core import audit, realtime
from app.core.i18n import _
from app.core.masking import mask
from app.core.time import utcnow
from app.extensions import db
from app.records.identifiers import IdentifierError
from app.records.models import Member
from app.records.services import Match, MemberSummary, member_summary
from app.staff.models import User
from app.tickets import attachments
from app.tickets.models import (
    STATUSES,
    Attachment,
    CannedReply,
    Notification,
    Ticket,
    TicketEvent,
    TicketView,
)
from app.tickets.services.canned import canned_replies
from app.tickets.services.contacts import ReplyRoute, reply_route
from app.tickets.services.errors import Conflict
from app.tickets.services.lifecycle import TRANSITIONS
from app.tickets.services.linking import member_candidates
from app.tickets.services.search import SearchQuery, open_counts, search_tickets
from app.tickets.services.tags import tag_names
from app.tickets.services.templates import fill_template, template_variables
from app.tickets.services.timeline import add_event, timeline

# Someone who opened the ticket this recently may still be working on it.
COLLISION_WINDOW = timedelta(minutes=5)
# Personal data shown masked on the ticket page, each with its masking kind; revealed on demand.
REVEALABLE = {
    "requester_phone": "phone",
    "requester_email": "email",
    "requester_nik": "nik",
    "requester_passport": "passport",
}


def find_ticket(ticket_id: int) -> Ticket | None:
    return db.session.get(Ticket, ticket_id)


def ticket_attachment(ticket_id: int, attachment_id: int) -> Attachment | None:
    """An attachment of this ticket (staff see internal ones too), None if not this ticket's."""
    item = db.session.get(Attachment, attachment_id)
    if item is None or item.ticket_id != ticket_id:
        return None
    return item


def agents() -> list[User]:
    """Who a ticket can be assigned to: active agents and supervisors, by name."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.active.is_(True), User.role.in_(("agent", "supervisor")))
            .order_by(User.name)
        )
    )


def search_or_error(query: SearchQuery) -> tuple[Sequence[Ticket], str | None]:
    """The tickets for a workspace list, or none and why when the search entry is nonsense."""
    try:
        return search_tickets(query), None
    except IdentifierError as exc:
        return [], exc.message


@dataclass(frozen=True)
class TicketList:
    """What the workspace list shows."""

    tickets: Sequence[Ticket]
    error: str | None
    assignees: dict[int, User]
    counts: list[tuple[str, str | None, int]]
    tag_names: list[str]


def ticket_list(query: SearchQuery) -> TicketList:
    tickets, error = search_or_error(query)
    return TicketList(
        tickets=tickets,
        error=error,
        assignees={u.id: u for u in agents()},
        counts=open_counts() if query.view == "open" and not query.text else [],
        tag_names=tag_names(),
    )


def others_viewing(ticket: Ticket, viewer_id: int) -> list[User]:
    """Other staff who opened the ticket within :data:`COLLISION_WINDOW`."""
    since = utcnow() - COLLISION_WINDOW
    return list(
        db.session.scalars(
            select(User)
            .join(TicketView, TicketView.user_id == User.id)
            .where(
                TicketView.ticket_id == ticket.id,
                TicketView.user_id != viewer_id,
                TicketView.seen_at >= since,
            )
        )
    )


def mark_viewing(ticket: Ticket, viewer: User) -> None:
    """Note that ``viewer`` has the ticket open, and tell the others who have it open too."""
    view = db.session.get(TicketView, (ticket.id, viewer.id))
    if view is None:
        db.session.add(TicketView(ticket_id=ticket.id, user_id=viewer.id, seen_at=utcnow()))
    else:
        view.seen_at = utcnow()
    realtime.publish(
        "ticket.viewing",
        {"id": ticket.id, "user_id": viewer.id, "name": viewer.name},
        room="tickets",
    )


def allowed_statuses(ticket: Ticket) -> list[str]:
    """The status selector's choices: the current status among the ones it may move to (none
    for a final status)."""
    if not TRANSITIONS[ticket.status]:
        return []
    return sorted(TRANSITIONS[ticket.status] | {ticket.status}, key=STATUSES.index)


@dataclass(frozen=True)
class TicketPage:
    """What the ticket page shows (see :func:`ticket_page`)."""

    ticket: Ticket
    # One timeline for staff: ("event", TicketEvent) and ("notification", Notification) by time.
    entries: list[tuple[str, TicketEvent | Notification]]
    seen_event: int
    summary: MemberSummary | None
    candidates: list[Match]
    users: dict[int, User]  # the staff named on the page (timeline and conflict), by id
    agents: list[User]
    canned: list[CannedReply]
    others: list[User]
    merged_into: Ticket | None
    allowed_statuses: list[str]
    masked: dict[str, str | None]
    tag_names: list[str]
    max_mb: int
    max_files: int
    conflict: Conflict | None = None
    # A WhatsApp/SMS case: how a public reply will reach her, and a template's text for her.
    reply_route: ReplyRoute | None = None
    template_preview: str | None = None

    def context(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def ticket_page(ticket: Ticket, viewer_id: int, *, conflict: Conflict | None = None) -> TicketPage:
    """The ticket page for staff member ``viewer_id``; ``conflict``: their save was refused."""
    events = timeline(ticket)
    notifications = list(
        db.session.scalars(
            select(Notification).where(Notification.ticket_id == ticket.id).order_by(Notification.id)
        )
    )
    # The ticket's events with the messages sent to the worker (and what the carrier reported
    # about them) in between, by time.
    dated: list[tuple[str, datetime, TicketEvent | Notification]] = [
        ("event", e.created_at, e) for e in events
    ] + [("notification", n.created_at, n) for n in notifications]
    dated.sort(key=lambda entry: entry[1])
    member = db.session.get(Member, ticket.member_id) if ticket.member_id else None
    route = reply_route(ticket)
    actor_ids = {e.actor_id for e in events} | {
        c.get("actor_id") for c in (conflict.changes if conflict else [])
    }
    return TicketPage(
        ticket=ticket,
        entries=[(kind, item) for kind, _at, item in dated],
        seen_event=events[-1].id if events else 0,
        summary=member_summary(member) if member is not None else None,
        candidates=member_candidates(ticket) if ticket.match_confidence != "confirmed" else [],
        users=_users({i for i in actor_ids if isinstance(i, int)}),
        agents=agents(),
        canned=canned_replies(active_only=True),
        others=others_viewing(ticket, viewer_id),
        merged_into=db.session.get(Ticket, ticket.merged_into_id) if ticket.merged_into_id else None,
        allowed_statuses=allowed_statuses(ticket),
        masked={
            field: mask(getattr(ticket, field), kind) if getattr(ticket, field) else None
            for field, kind in REVEALABLE.items()
        },
        tag_names=tag_names(),
        max_mb=attachments.max_bytes() // (1024 * 1024),
        max_files=attachments.max_files(),
        conflict=conflict,
        reply_route=route,
        template_preview=(
            fill_template(route.template.body, template_variables(route.template, ticket))
            if route is not None and route.template is not None
            else None
        ),
    )


def _users(ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(sorted(ids))))}


def reveal_text(ticket: Ticket, target: str, *, actor_id: int) -> str | None:
    """The unmasked free text ``target`` names — ``description``, or ``event:<id>`` for a
    message on this ticket's timeline (merged tickets' included) — recorded in the audit log and
    on the timeline like a structured identifier. None when there is no such text here."""
    if target == "description":
        text: str | None = ticket.description
        detail: dict[str, object] = {"field": "description"}
    else:
        kind, _sep, raw = target.partition(":")
        if kind != "event" or not raw.isdigit() or len(raw) > 12:
            return None
        event = db.session.get(TicketEvent, int(raw))
        merged = db.session.get(Ticket, event.ticket_id) if event is not None else None
        ours = merged is not None and (merged.id == ticket.id or merged.merged_into_id == ticket.id)
        if event is None or not ours or not event.body:
            return None
        text, detail = event.body, {"field": "message", "event_id": event.id}
    audit.record("pii.view", "ticket", ticket.id, detail, actor_id=actor_id)
    add_event(ticket, "viewed_pii", detail, actor_id=actor_id)
    return text


def reveal(ticket: Ticket, field: str, *, actor_id: int) -> str | None:
    """The unmasked value of one of :data:`REVEALABLE`, recorded in the audit log and on the
    timeline (who looked at which personal data)."""
    audit.record("pii.view", "ticket", ticket.id, {"field": field}, actor_id=actor_id)
    add_event(ticket, "viewed_pii", {"field": field}, actor_id=actor_id)
    value: str | None = getattr(ticket, field)
    return value


def assignment_message(ticket: Ticket, before: tuple[int | None, str | None], viewer_id: int) -> str:
    """What an assignment did, in words: to whom, back to the pool, the team, or nothing."""
    if (ticket.assignee_id, ticket.team) == before:
        return _("Nothing changed: the assignment is the same.")
    if ticket.assignee_id is None:
        message = _("%(ref)s is back in the pool (nobody assigned).", ref=ticket.reference)
    elif ticket.assignee_id == viewer_id:
        message = _("%(ref)s is assigned to you.", ref=ticket.reference)
    else:
        user = db.session.get(User, ticket.assignee_id)
        message = _("%(ref)s is assigned to %(name)s.", ref=ticket.reference, name=user.name if user else "–")
    if ticket.team != before[1]:
        message += " " + (_("Team: %(team)s.", team=ticket.team) if ticket.team else _("No team."))
    return message
