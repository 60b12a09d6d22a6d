"""Finding tickets by a phone number typed the way people type it.

Phones are stored encrypted with a keyed hash beside them (``app.core.crypto.blind_index``), so
a search is an exact match on the hash of one E.164 number. This module turns what an agent
typed (``966551233048``, ``+966 55 123 3048``, ``0812-3456-7890``, with or without a chosen
country) into those numbers, and each number into the tickets it concerns: the tickets whose
requester gave it, and the tickets of members who have it on file (Indonesian or abroad).

A local number (``0912 345 678``) means nothing without a country. With a country chosen it is
read in that country; without one it is read in Indonesia, and in each placement country for
the tickets and members placed there only (a worker in Taiwan writes her Taiwanese number the
local way; the same digits in Hong Kong are somebody else).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import and_, or_, select

from app.core.crypto import blind_index
from app.core.phone import DEFAULT_REGION, PhoneError, normalize_phone, phone_readings
from app.extensions import db
from app.records.models import Member
from app.tickets.models import Ticket

MEMBER_LIMIT = 20


@dataclass(frozen=True)
class PhoneMatch:
    """An E.164 number to look for, and the country the ticket or member must be in (or None)."""

    e164: str
    country: str | None = None


def normal_phone(phone: str | None) -> str | None:
    """``phone`` in E.164 as tickets store it, or None when empty or unreadable (machine input
    such as a caller ID: an unusable value simply matches nothing)."""
    if not phone:
        return None
    try:
        return normalize_phone(phone)
    except PhoneError:
        return None


def placement_countries() -> tuple[str, ...]:
    if not has_app_context():
        return ()
    return tuple(str(c).upper() for c in current_app.config.get("PLACEMENT_COUNTRIES") or ())


def phone_matches(text: str, country: str | None = None) -> list[PhoneMatch]:
    """The numbers ``text`` may mean; ``country`` (ISO alpha-2) is where a local form was dialled."""
    if country:
        return [PhoneMatch(r.e164) for r in phone_readings(text, [country.upper()])]
    found = {r.e164: PhoneMatch(r.e164) for r in phone_readings(text, [DEFAULT_REGION])}
    abroad = [c for c in placement_countries() if c != DEFAULT_REGION]
    for reading in phone_readings(text, abroad):
        if reading.region is not None and reading.e164 not in found:
            found[reading.e164] = PhoneMatch(reading.e164, reading.region)
    return list(found.values())


def phone_condition(matches: list[PhoneMatch]) -> Any | None:
    """A WHERE clause on tickets for these numbers, or None when there are none."""
    if not matches:
        return None
    conditions = []
    for match in matches:
        digest = blind_index("phone", match.e164)
        on_ticket: Any = Ticket.requester_phone_hash == digest
        on_member: Any = or_(Member.phone_id_hash == digest, Member.phone_abroad_hash == digest)
        if match.country:
            on_ticket = and_(on_ticket, Ticket.country == match.country)
            on_member = and_(on_member, Member.placement_country == match.country)
        conditions.append(on_ticket)
        # Resolved to a literal id list first, as for the other identifiers (see services).
        member_ids = list(db.session.scalars(select(Member.id).where(on_member).limit(MEMBER_LIMIT)))
        if member_ids:
            conditions.append(Ticket.member_id.in_(sorted(member_ids)))
    return or_(*conditions)
