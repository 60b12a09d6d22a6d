"""The workspace lists: tickets for a view (mine, unassigned, breaching soon, open, all) and/or
a search-box entry (reference, KPJ, NIK, passport, phone, name), and the open-ticket counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import selectinload

from app.core.crypto import blind_index
from app.core.time import utcnow
from app.extensions import db
from app.records.identifiers import IdentifierError, classify_query
from app.records.models import Member
from app.tickets.models import OPEN_STATUSES, Tag, Ticket, ticket_tags
from app.tickets.phone_search import phone_condition, phone_matches
from app.tickets.services.public import REFERENCE_RE

VIEWS = ("mine", "unassigned", "breaching", "open", "all")


@dataclass
class SearchQuery:
    text: str = ""
    view: str = "open"
    status: str | None = None
    category: str | None = None
    country: str | None = None
    priority: str | None = None
    channel: str | None = None
    tag: str | None = None
    phone_country: str | None = None  # where a local phone number in ``text`` was dialled
    user_id: int | None = None
    breaching_hours: int = 4
    limit: int = 50
    offset: int = 0


def _member_ids(condition: Any) -> list[int]:
    # Resolved first, as a literal list: "member_id IN (subquery)" inside an OR becomes a
    # hashed filter on PostgreSQL and scans tickets; "member_id IN (1, 2)" is a bitmap OR.
    return list(db.session.scalars(select(Member.id).where(condition).limit(20)))


def _identifier_condition(text: str, phone_country: str | None = None) -> Any:
    """A WHERE clause for one search-box entry (reference, KPJ, NIK, passport, phone, name).

    Phones in any form people type them (see :mod:`app.tickets.phone_search`); ``phone_country``
    is the country a local number was dialled in, when the agent chose one.
    """
    upper = text.strip().upper()
    if REFERENCE_RE.match(upper):
        return Ticket.reference == upper
    by_phone = phone_condition(phone_matches(text, phone_country))
    try:
        readings = classify_query(text)  # IdentifierError on nonsense
    except IdentifierError:
        if by_phone is None:
            raise
        readings = []  # a number only the phone rules read (966551233048, a local number abroad)
    conditions = [] if by_phone is None else [by_phone]
    member_ids: list[int] = []
    for reading in readings:
        value = reading.value
        if reading.kind == "kpj":
            conditions.append(Ticket.requester_kpj == value)
            member_ids += _member_ids(Member.kpj == value)
        elif reading.kind == "nik":
            digest = blind_index("nik", value)
            conditions.append(Ticket.requester_nik_hash == digest)
            member_ids += _member_ids(Member.nik_hash == digest)
        elif reading.kind == "passport":
            digest = blind_index("passport", value)
            conditions.append(Ticket.requester_passport_hash == digest)
            member_ids += _member_ids(Member.passport_hash == digest)
        elif reading.kind == "phone" and by_phone is None:
            conditions.append(Ticket.requester_phone_hash == blind_index("phone", value))
        elif reading.kind == "name":
            conditions.append(Ticket.requester_name_key.startswith(value, autoescape=True))
    if member_ids:
        conditions.append(Ticket.member_id.in_(sorted(set(member_ids))))
    return or_(*conditions)


def search_statement(query: SearchQuery, now: datetime | None = None) -> Select[Any]:
    """The SELECT behind the workspace lists (exposed for EXPLAIN in tests and the bench)."""
    now = now or utcnow()
    stmt = select(Ticket).where(Ticket.merged_into_id.is_(None))
    if query.text.strip():
        stmt = stmt.where(_identifier_condition(query.text, query.phone_country))
    if query.view == "mine":
        stmt = stmt.where(Ticket.assignee_id == query.user_id, Ticket.status.in_(OPEN_STATUSES))
    elif query.view == "unassigned":
        stmt = stmt.where(Ticket.assignee_id.is_(None), Ticket.status.in_(OPEN_STATUSES))
    elif query.view == "breaching":
        horizon = now + timedelta(hours=query.breaching_hours)
        due = func.coalesce(Ticket.first_response_due_at, Ticket.resolution_due_at)
        stmt = stmt.where(
            Ticket.status.in_(OPEN_STATUSES),
            or_(
                and_(Ticket.first_response_at.is_(None), Ticket.first_response_due_at <= horizon),
                Ticket.resolution_due_at <= horizon,
            ),
        )
    elif query.view == "open" and not query.status and not query.text.strip():
        stmt = stmt.where(Ticket.status.in_(OPEN_STATUSES))
    if query.status:
        stmt = stmt.where(Ticket.status == query.status)
    if query.category:
        stmt = stmt.where(Ticket.category == query.category)
    if query.country:
        stmt = stmt.where(Ticket.country == query.country.upper())
    if query.priority:
        stmt = stmt.where(Ticket.priority == query.priority)
    if query.channel:
        stmt = stmt.where(Ticket.channel == query.channel)
    if query.tag:
        tag_id = db.session.scalar(select(Tag.id).where(Tag.name == query.tag))
        # An unknown tag matches nothing (tag id -1 is never used).
        tagged = select(ticket_tags.c.ticket_id).where(ticket_tags.c.tag_id == (tag_id or -1))
        stmt = stmt.where(Ticket.id.in_(tagged))
    if query.view == "breaching":
        stmt = stmt.order_by(due.asc().nulls_last(), Ticket.id)
    else:
        stmt = stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc())
    return stmt.limit(query.limit).offset(query.offset)


def search_tickets(query: SearchQuery, now: datetime | None = None) -> Sequence[Ticket]:
    """Tickets for a workspace view and/or a search-box entry. Raises IdentifierError on nonsense."""
    # Tags shown in the list come in one extra query, not one per row.
    return db.session.scalars(search_statement(query, now).options(selectinload(Ticket.tags))).all()


def open_counts() -> list[tuple[str, str | None, int]]:
    """Open tickets per (category, country), largest first: the "by category and country" view."""
    rows = db.session.execute(
        select(Ticket.category, Ticket.country, func.count())
        .where(Ticket.status.in_(OPEN_STATUSES), Ticket.merged_into_id.is_(None))
        .group_by(Ticket.category, Ticket.country)
        .order_by(func.count().desc(), Ticket.category, Ticket.country)
        .limit(30)
    ).all()
    return [(str(category), country, int(count)) for category, country, count in rows]
