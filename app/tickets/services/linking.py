"""Linking a ticket to what it is about: the member (matched from the requester's identifiers
when the ticket opens, confirmed or changed by an agent), one of their claims, and the calls."""

from __future__ import annotations

from sqlalchemy import select

from app.core.i18n import _
from app.core.time import utcnow
from app.extensions import db
from app.records.models import Claim, Member
from app.records.services import Match, find_members
from app.tickets.models import Ticket, TicketEvent
from app.tickets.services.errors import TicketError
from app.tickets.services.locking import check_version, save
from app.tickets.services.timeline import add_event, get_ticket


def member_candidates(ticket: Ticket) -> list[Match]:
    """Members the requester's identifiers fit (KPJ/NIK/passport → exact, phone → probable),
    best first; none when the ticket names no identifier."""
    if not (
        ticket.requester_kpj or ticket.requester_nik or ticket.requester_passport or ticket.requester_phone
    ):
        return []
    return find_members(
        kpj=ticket.requester_kpj,
        nik=ticket.requester_nik,
        passport=ticket.requester_passport,
        phone=ticket.requester_phone,
        lenient=True,
        limit=5,
    )


def auto_match(ticket: Ticket, at_most_probable: bool = False) -> None:
    """Link the single best candidate member of a new ticket, keeping the confidence for the
    agent to confirm; leave it unlinked when two members fit equally well."""
    matches = member_candidates(ticket)
    if not matches:
        return
    best = matches[0]
    if best.confidence == "exact":
        others_exact = [m for m in matches[1:] if m.confidence == "exact"]
        if others_exact:
            return  # two members fit the same strong identifiers: let the agent choose
        ticket.member_id = best.member.id
        ticket.match_confidence = "probable" if at_most_probable else "exact"
        return
    # Probable (a phone shared by a family or an employer): link only an unambiguous candidate.
    if len(matches) == 1 and "conflict" not in best.reasons:
        ticket.member_id = best.member.id
        ticket.match_confidence = "probable"


def member_id_by_kpj(kpj: str) -> int | None:
    """The member with this KPJ (as typed: trimmed, upper case), None if there is none."""
    return db.session.scalar(select(Member.id).where(Member.kpj == kpj.strip().upper()))


def link_member(
    ticket_id: Ticket | int,
    member_id: int | None,
    *,
    actor_id: int | None,
    expected_version: int | None = None,
    seen_event_id: int | None = None,
) -> Ticket:
    """The agent confirms, changes or removes (None) the member link."""
    ticket = get_ticket(ticket_id)
    check_version(ticket, expected_version, seen_event_id)
    if member_id is not None and db.session.get(Member, member_id) is None:
        raise TicketError(_("This member does not exist."), "invalid_member")
    old = ticket.member_id
    ticket.member_id = member_id
    ticket.match_confidence = "confirmed" if member_id else None
    if member_id != old and ticket.claim_id is not None:
        ticket.claim_id = None  # a claim of the previous member no longer fits
    ticket.updated_at = utcnow()
    save(ticket)
    add_event(
        ticket,
        "member_linked",
        {"from": old, "member_id": member_id, "confidence": ticket.match_confidence},
        actor_id=actor_id,
    )
    return ticket


def link_claim(
    ticket_id: Ticket | int,
    claim_id: int | None,
    *,
    actor_id: int | None,
    expected_version: int | None = None,
    seen_event_id: int | None = None,
) -> Ticket:
    """Link one of the linked member's claims (None removes the link)."""
    ticket = get_ticket(ticket_id)
    check_version(ticket, expected_version, seen_event_id)
    if claim_id is not None:
        claim = db.session.get(Claim, claim_id)
        if claim is None:
            raise TicketError(_("This claim does not exist."), "invalid_claim")
        if ticket.member_id is None:
            link_member(ticket, claim.member_id, actor_id=actor_id)
        elif claim.member_id != ticket.member_id:
            raise TicketError(_("This claim belongs to another member."), "claim_other_member")
    old = ticket.claim_id
    ticket.claim_id = claim_id
    ticket.updated_at = utcnow()
    save(ticket)
    add_event(ticket, "claim_linked", {"from": old, "claim_id": claim_id}, actor_id=actor_id)
    return ticket


def link_call(ticket_id: Ticket | int, call_id: int, *, summary: str | None = None) -> None:
    """Record that call ``call_id`` belongs to the ticket (once per call: webhooks repeat)."""
    ticket = get_ticket(ticket_id)
    for event in db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "call_linked")
    ):
        if event.data.get("call_id") == call_id:
            if summary and not event.data.get("summary"):
                add_event(ticket, "call_linked", {"call_id": call_id, "summary": summary})
            return
    add_event(ticket, "call_linked", {"call_id": call_id, "summary": summary})
