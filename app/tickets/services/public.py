"""What the worker sees of her case (portal and public API): the public timeline without staff
identities, the attachments she may download, and the checks that let her follow a case by its
reference."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import select

from app.core.crypto import blind_index
from app.extensions import db
from app.records.models import Member
from app.tickets.models import Attachment, Ticket
from app.tickets.phone_search import normal_phone
from app.tickets.services.timeline import effective, timeline

REFERENCE_RE = re.compile(r"^PMI-(\d{4})-(\d{6,})$")


def public_timeline(ticket: Ticket) -> list[dict[str, Any]]:
    """What the worker sees: public entries only, without staff identities."""
    entries = []
    for event in timeline(ticket, public_only=True):
        entry: dict[str, Any] = {
            "kind": event.kind,
            "at": event.created_at.isoformat(),
            "from": "you" if event.by_requester else "agent",
        }
        if event.body:
            entry["message"] = event.body
        if event.kind == "status":
            entry["status"] = event.data.get("to")
        if event.kind == "merged" and event.data.get("into_reference"):
            entry["merged_into"] = event.data["into_reference"]
        if event.kind == "attachment":
            ids = list(event.data.get("attachment_ids") or [])
            names = list(event.data.get("files") or [])
        else:
            shown = [a for a in event.attachments if a.public]
            ids, names = [a.id for a in shown], [a.original_filename for a in shown]
        entry["attachments"] = names
        entry["attachment_ids"] = ids  # for downloads (public_attachment): same order as the names
        entries.append(entry)
    return entries


def public_attachment(ticket: Ticket, attachment_id: int) -> Attachment | None:
    """An attachment the worker following ``ticket`` may download: public (never an internal
    note's file), on the case they see (the merge target or a ticket merged into it), and its
    file not erased. None otherwise."""
    shown = effective(ticket)
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or not attachment.public:
        return None
    if attachment.event is not None and not attachment.event.public:
        return None
    owner = db.session.get(Ticket, attachment.ticket_id)
    if owner is None or (owner.id != shown.id and effective(owner).id != shown.id):
        return None
    return attachment


def reference_of(ticket_id: int) -> str | None:
    """The public reference of a ticket (what the worker quotes), or None if it is gone."""
    ticket = db.session.get(Ticket, ticket_id)
    return ticket.reference if ticket else None


def get_by_reference(reference: str) -> Ticket | None:
    """The ticket with this reference (``PMI-YYYY-NNNNNN``, any case and spacing), or None."""
    text = (reference or "").strip().upper()
    if not REFERENCE_RE.match(text):
        return None
    return db.session.scalar(select(Ticket).where(Ticket.reference == text))


def verify_requester(ticket: Ticket, verification: str | None) -> bool:
    """Whether ``verification`` (a birth date ``YYYY-MM-DD`` or the phone on file) fits the ticket."""
    value = (verification or "").strip()
    if not value:
        return False
    try:
        born = date.fromisoformat(value)
    except ValueError:
        born = None
    if born is not None:
        if ticket.requester_birth_date == born:
            return True
        member = db.session.get(Member, ticket.member_id) if ticket.member_id else None
        # Only a link we trust may vouch: a probable (phone) match could be a relative's record.
        return bool(
            member is not None
            and member.birth_date == born
            and ticket.match_confidence in ("exact", "confirmed")
        )
    phone = normal_phone(value)
    return bool(
        phone and ticket.requester_phone_hash and ticket.requester_phone_hash == blind_index("phone", phone)
    )
