"""A ticket's record: loading it, the ticket that carries its case (after merges), and its
timeline — append-only entries, each announced as realtime ``ticket.updated`` after commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.core import realtime
from app.core.i18n import _
from app.core.time import utcnow
from app.extensions import db
from app.tickets.models import EVENT_KINDS, Ticket, TicketEvent
from app.tickets.services.errors import TicketError


def get_ticket(ticket_or_id: Ticket | int) -> Ticket:
    """The ticket itself when given one, else the one with this id (TicketError if none)."""
    if isinstance(ticket_or_id, Ticket):
        return ticket_or_id
    ticket = db.session.get(Ticket, ticket_or_id)
    if ticket is None:
        raise TicketError(_("This ticket does not exist."), "not_found")
    return ticket


def effective(ticket: Ticket) -> Ticket:
    """The ticket that carries the case now: the merge target of a merged ticket, else itself."""
    seen = {ticket.id}
    while ticket.merged_into_id and ticket.merged_into_id not in seen:
        target = db.session.get(Ticket, ticket.merged_into_id)
        if target is None:
            break
        seen.add(target.id)
        ticket = target
    return ticket


def publish_update(ticket: Ticket, change: str, *, by_requester: bool = False) -> None:
    """Tell open workspaces the ticket changed (realtime, sent after the commit); ``by_requester``:
    the worker wrote (her message shows live on the ticket page)."""
    realtime.publish(
        "ticket.updated",
        {
            "id": ticket.id,
            "reference": ticket.reference,
            "version": ticket.version,
            "change": change,
            "by_requester": by_requester,
        },
        room="tickets",
    )


def add_event(
    ticket_id: Ticket | int,
    kind: str,
    data: dict[str, Any] | None,
    *,
    actor_id: int | None = None,
    public: bool = False,
    body: str | None = None,
    by_requester: bool = False,
) -> TicketEvent:
    """Append one entry to the ticket's timeline (never updated or deleted afterwards)."""
    if kind not in EVENT_KINDS:
        raise TicketError(_("Unknown event kind."), "invalid_event_kind")
    ticket = get_ticket(ticket_id)
    event = TicketEvent(
        ticket_id=ticket.id,
        kind=kind,
        actor_id=actor_id,
        public=public,
        body=body,
        by_requester=by_requester,
        data=dict(data or {}),
        created_at=utcnow(),
    )
    db.session.add(event)
    db.session.flush()
    if kind not in ("created",):
        publish_update(ticket, kind, by_requester=by_requester)
    return event


def timeline(ticket: Ticket, *, public_only: bool = False) -> list[TicketEvent]:
    """The ticket's events plus those of tickets merged into it, oldest first."""
    ids = [ticket.id, *db.session.scalars(select(Ticket.id).where(Ticket.merged_into_id == ticket.id))]
    query = select(TicketEvent).where(TicketEvent.ticket_id.in_(ids))
    if public_only:
        query = query.where(TicketEvent.public.is_(True))
    return list(db.session.scalars(query.order_by(TicketEvent.created_at, TicketEvent.id)))
