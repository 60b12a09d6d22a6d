"""Erasing a requester's personal data from a ticket: on request (an admin, after resolution)
and by retention (closed tickets older than ``TICKETS_RETENTION_DAYS``).

What goes: the requester's name, phone, email, KPJ, NIK, passport and birth date (with their
search hashes), the complaint text and subject, everything the worker wrote on the timeline
(replies, rating comment), every attachment (the files are deleted from disk and their rows
removed, file names included), the notification addresses, and the link to the member and
claim records. What stays, for statistics: the skeleton — reference, channel, category,
priority, country, status, assignee, team, tags, dates (created, first response, resolved,
closed), SLA due times, the rating score — and staff-written entries of the timeline.

The timeline is otherwise append-only; erasure is the one exception, and it adds an ``erased``
entry plus an audit row saying who erased what and why. Erasing twice changes nothing.
Tickets merged into the erased one belong to the same requester's case and are erased with it.
Other packages erase what they hold about the case (the calls and call-back requests:
:mod:`app.telephony.erasure`) as receivers of :data:`requester_erased`, connected in the
application factory; what they report joins the audit entry.
Services never commit: the request (or the housekeeping job, one ticket at a time) does.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from blinker import Namespace
from sqlalchemy import Select, select

from app.core import audit
from app.core.i18n import _
from app.core.time import utcnow
from app.extensions import db
from app.tickets import attachments
from app.tickets.models import Notification, Ticket
from app.tickets.services.errors import TicketError
from app.tickets.services.locking import save
from app.tickets.services.timeline import add_event, get_ticket, timeline
from app.tickets.settings import retention_batch, retention_days

log = logging.getLogger(__name__)

signals = Namespace()
# Sent inside the erasing transaction with ``ticket_ids`` (the ticket and those merged into it);
# a receiver erases what it holds about those cases and returns counts ({name: int}) for the audit.
requester_erased = signals.signal("requester-erased")

ERASABLE_STATUSES = ("resolved", "closed")
REASONS = ("request", "retention")

# Attributes set to None (the hashes follow through the model's validators).
_REQUESTER_FIELDS = (
    "requester_name",
    "requester_name_key",
    "requester_phone",
    "requester_email",
    "requester_kpj",
    "requester_nik",
    "requester_passport",
    "requester_birth_date",
    "member_id",
    "claim_id",
    "match_confidence",
    "csat_comment",
)
# Timeline entries whose data names the member or claim records the requester was linked to.
_LINK_EVENTS = ("member_linked", "claim_linked")


class ErasureRefused(TicketError):
    code = "erasure_refused"


def _family(ticket: Ticket) -> list[Ticket]:
    """The ticket and every ticket merged into it (any depth)."""
    found = [ticket]
    frontier = [ticket.id]
    while frontier:
        children = list(db.session.scalars(select(Ticket).where(Ticket.merged_into_id.in_(frontier))))
        children = [c for c in children if all(c.id != f.id for f in found)]
        found += children
        frontier = [c.id for c in children]
    return found


def _erase_one(ticket: Ticket, now: datetime) -> dict[str, int]:
    counts = {"messages": 0, "attachments": 0, "notifications": 0}
    for name in _REQUESTER_FIELDS:
        setattr(ticket, name, None)
    ticket.description = ""
    ticket.subject = ""
    for event in ticket.events:
        if event.by_requester and event.body:
            event.body = None
            counts["messages"] += 1
        if event.kind == "attachment" and event.data.get("files"):
            event.data = {"count": len(event.data.get("files") or []), "erased": True}
        elif event.kind in _LINK_EVENTS and event.data.get("erased") is not True:
            event.data = {"erased": True}
    for item in list(ticket.attachments):
        attachments.remove(item)  # the bytes go first: a failure later leaves no file behind
        db.session.delete(item)
        counts["attachments"] += 1
    for note in db.session.scalars(select(Notification).where(Notification.ticket_id == ticket.id)):
        if note.destination is not None:
            note.destination = None
            counts["notifications"] += 1
        if note.content_variables:  # a template filled with her case's details (her name…)
            note.content_variables = None
            note.body = ""
    ticket.erased_at = now
    ticket.updated_at = now
    save(ticket)
    return counts


def erase_requester(
    ticket_id: Ticket | int, *, actor_id: int | None, reason: str = "request", now: datetime | None = None
) -> dict[str, Any] | None:
    """Erase the requester's personal data from a resolved or closed ticket (and the tickets
    merged into it). Returns what was erased, or None when it already was (idempotent).
    Raises :class:`ErasureRefused` while the case is still being handled."""
    if reason not in REASONS:
        raise ValueError(f"unknown erasure reason {reason!r}")
    ticket = get_ticket(ticket_id)
    if ticket.erased_at is not None:
        return None
    if ticket.status not in ERASABLE_STATUSES:
        raise ErasureRefused(
            _("Personal data can only be erased once the case is resolved or closed."), "not_resolved"
        )
    now = now or utcnow()
    totals = {"messages": 0, "attachments": 0, "notifications": 0}
    family = [t for t in _family(ticket) if t.erased_at is None]
    for member in family:
        for key, value in _erase_one(member, now).items():
            totals[key] += value
    for _receiver, counts in requester_erased.send(ticket, ticket_ids=[t.id for t in family], reason=reason):
        for key, value in (counts or {}).items():
            totals[key] = totals.get(key, 0) + int(value)
    summary: dict[str, Any] = {
        "reason": reason,
        "tickets": [t.reference for t in family],
        **totals,
    }
    audit.record("ticket.erase", "ticket", ticket.id, summary, actor_id=actor_id)
    add_event(ticket, "erased", summary, actor_id=actor_id)
    return summary


def retention_cutoff(now: datetime | None = None) -> datetime | None:
    """Closed before this, a ticket's requester data is erased; None when kept forever."""
    days = retention_days()
    if days <= 0:
        return None
    return (now or utcnow()) - timedelta(days=days)


def expired_ticket_ids(now: datetime | None = None, limit: int | None = None) -> list[int]:
    """Closed tickets past retention and not erased yet, oldest first, at most one batch."""
    cutoff = retention_cutoff(now)
    if cutoff is None:
        return []
    batch = limit if limit is not None else retention_batch()
    return list(db.session.scalars(expired_statement(cutoff, batch)))


def expired_statement(cutoff: datetime, batch: int) -> Select[Any]:
    """The retention query (exposed for EXPLAIN): served by ``ix_tickets_erased_closed``."""
    return (
        select(Ticket.id)
        .where(Ticket.erased_at.is_(None), Ticket.closed_at < cutoff, Ticket.status == "closed")
        .order_by(Ticket.closed_at, Ticket.id)
        .limit(max(0, batch))
    )


def erasable(ticket: Ticket) -> bool:
    """Whether the requester's data can be erased from this ticket now."""
    return ticket.erased_at is None and ticket.status in ERASABLE_STATUSES


def erasure_facts(ticket: Ticket) -> dict[str, Any]:
    """What erasing would remove, for the admin to see first: the worker's messages, the
    attachments, and the tickets merged into this one (erased with it)."""
    events = timeline(ticket)
    return {
        "messages": sum(1 for e in events if e.by_requester and e.body),
        "attachments": len(ticket.attachments),
        "merged": [e.data.get("from_reference") for e in events if e.kind == "merged" and e.data.get("from")],
    }
