"""Optimistic locking: callers pass the version they saw (``expected_version``); a stale one
raises :class:`~app.tickets.services.errors.Conflict` listing what changed since. A concurrent
UPDATE that slips between the check and the flush is caught by SQLAlchemy's ``version_id_col``
(``StaleDataError``) in :func:`save`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from app.extensions import db
from app.tickets.models import Ticket, TicketEvent
from app.tickets.services.errors import Conflict


def check_version(ticket: Ticket, expected_version: int | None, seen_event_id: int | None = None) -> None:
    """Raise :class:`Conflict` when the caller's copy (``expected_version``) is stale."""
    if expected_version is None or int(expected_version) == ticket.version:
        return
    raise Conflict(ticket.id, int(expected_version), ticket.version, changes_since(ticket, seen_event_id))


def changes_since(ticket: Ticket, seen_event_id: int | None) -> list[dict[str, Any]]:
    """The timeline entries after ``seen_event_id``: what the other agent changed."""
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    if seen_event_id:
        query = query.where(TicketEvent.id > seen_event_id)
    events = db.session.scalars(query.order_by(TicketEvent.id.desc()).limit(20))
    return [
        {"id": e.id, "kind": e.kind, "actor_id": e.actor_id, "data": e.data, "at": e.created_at.isoformat()}
        for e in events
    ]


def save(ticket: Ticket) -> None:
    """Flush, turning a lost race on the version column into :class:`Conflict`."""
    try:
        db.session.flush()
    except StaleDataError as exc:
        db.session.rollback()
        current = db.session.get(Ticket, ticket.id)
        raise Conflict(ticket.id, None, current.version if current else None, []) from exc
