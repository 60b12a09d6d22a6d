"""Opening a ticket (every channel: calls, call-backs, the portal, the API), and finding the
open ticket a new contact from the same member or phone belongs to."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import or_, select

from app.core.crypto import blind_index
from app.core.fresh import mark_inserted
from app.core.i18n import _
from app.core.time import utcnow
from app.extensions import db
from app.records.identifiers import name_key
from app.tickets.models import CATEGORIES, CHANNELS, OPEN_STATUSES, PRIORITIES, Ticket
from app.tickets.phone_search import normal_phone
from app.tickets.services.errors import TicketError
from app.tickets.services.linking import auto_match
from app.tickets.services.timeline import add_event, publish_update
from app.tickets.settings import reuse_days
from app.tickets.signals import promise_changed


def open_ticket(
    *,
    channel: str,
    category: str,
    subject: str,
    description: str = "",
    language: str = "id",
    country: str | None = None,
    priority: str | None = None,
    member_id: int | None = None,
    requester_name: str | None = None,
    requester_phone: str | None = None,
    requester_email: str | None = None,
    actor_id: int | None = None,
    requester_kpj: str | None = None,
    requester_nik: str | None = None,
    requester_passport: str | None = None,
    requester_birth_date: date | None = None,
    identifiers_unproven: bool = False,
) -> Ticket:
    """Create a ticket (flushed: it has its id and reference) with its ``created`` event.

    Without ``member_id`` the requester's identifiers are matched against the member records
    (KPJ/NIK/passport → exact, phone → probable); only a single best candidate is linked and the
    confidence is kept for the agent to confirm. ``identifiers_unproven``: whoever gave them
    proved nothing (an anonymous call-back naming a KPJ), so a match is at most probable.
    The caller commits; do so before any other work that could fail (notifications are outbox
    intents, so they cannot).
    """
    if channel not in CHANNELS:
        raise TicketError(_("Unknown channel."), "invalid_channel")
    if category not in CATEGORIES:
        raise TicketError(_("Unknown category."), "invalid_category")
    if priority is None:
        priority = "urgent" if category == "emergency" else "normal"
    if priority not in PRIORITIES:
        raise TicketError(_("Unknown priority."), "invalid_priority")
    phone = normal_phone(requester_phone)
    ticket = Ticket(
        channel=channel,
        category=category,
        priority=priority,
        subject=(subject or "").strip()[:200] or category,
        description=description or "",
        language=language or "id",
        country=(country or None) and country.upper(),
        status="new",
        member_id=member_id,
        match_confidence="confirmed" if member_id else None,
        requester_name=requester_name,
        requester_name_key=name_key(requester_name) if requester_name else None,
        requester_phone=phone or (requester_phone or None),
        requester_email=requester_email or None,
        requester_kpj=requester_kpj or None,
        requester_nik=requester_nik or None,
        requester_passport=requester_passport or None,
        requester_birth_date=requester_birth_date,
    )
    if member_id is None:
        auto_match(ticket, at_most_probable=identifiers_unproven)
    db.session.add(ticket)
    db.session.flush()
    mark_inserted(ticket)
    # Ids are unique under any concurrency, so the reference derived from one is too.
    ticket.reference = f"PMI-{ticket.created_at.year}-{ticket.id:06d}"
    # Its SLA promise before the first event's flush: the reference, the policy and the due
    # times then reach the database as one UPDATE, not three.
    promise_changed.send(ticket)
    add_event(
        ticket,
        "created",
        {"channel": channel, "category": category, "priority": priority},
        actor_id=actor_id,
        public=True,
        by_requester=channel in ("portal", "api") and actor_id is None,
    )
    if ticket.member_id:
        add_event(
            ticket,
            "member_linked",
            {
                "member_id": ticket.member_id,
                "confidence": ticket.match_confidence,
                "automatic": member_id is None,
            },
            actor_id=actor_id,
        )
    db.session.flush()
    publish_update(ticket, "created")
    return ticket


def find_open_ticket_for(member_id: int | None = None, phone: str | None = None) -> Ticket | None:
    """The most recently active open ticket of this member or phone, within the reuse window."""
    conditions = []
    if member_id:
        conditions.append(Ticket.member_id == member_id)
    normal = normal_phone(phone)
    if normal:
        conditions.append(Ticket.requester_phone_hash == blind_index("phone", normal))
    if not conditions:
        return None
    since = utcnow() - timedelta(days=reuse_days())
    return db.session.scalars(
        select(Ticket)
        .where(or_(*conditions), Ticket.status.in_(OPEN_STATUSES), Ticket.updated_at >= since)
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
        .limit(1)
    ).first()
