"""Ticket lifecycle: the contract other packages call, and every rule about a ticket's life.

Contract (docs/call-flow.md): :func:`open_ticket`, :func:`link_call`, :func:`add_event`,
:func:`find_open_ticket_for`, and the :data:`~app.tickets.models.CATEGORIES` vocabulary.

Rules live here and only here:

* Status transitions: :data:`TRANSITIONS` is the one table of allowed moves; every status change
  goes through :func:`change_status`.
* Reopening: a worker's reply within ``TICKETS_REOPEN_DAYS`` (default 7) after resolution
  reopens the ticket; later, the case stays resolved and the reply is refused.
* Optimistic locking: callers pass the version they saw (``expected_version``); a stale one
  raises :class:`Conflict` listing what changed since. A concurrent UPDATE that slips between
  the check and the flush is caught by SQLAlchemy's ``version_id_col`` (``StaleDataError``).
* Notifications to the worker are outbox intents (``app.tickets.tasks.notify_worker``) with a
  unique key, so a reply is never announced twice; realtime ``ticket.updated`` is published
  after commit.

Services never commit (the request or job does), except where the docstring says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from app.core import realtime
from app.core.crypto import blind_index
from app.core.jobs import record_intent
from app.core.phone import PhoneError, normalize_phone
from app.core.time import utcnow
from app.extensions import db
from app.records.identifiers import IdentifierError, classify_query, name_key
from app.records.models import Claim, Member
from app.records.services import find_members
from app.sla import services as sla
from app.tickets.models import (
    CARRIER_STATUS_RANK,
    CATEGORIES,
    CHANNELS,
    EVENT_KINDS,
    OPEN_STATUSES,
    PRIORITIES,
    STATUSES,
    Attachment,
    Notification,
    Tag,
    Ticket,
    TicketEvent,
    ticket_tags,
)

__all__ = [
    "CATEGORIES",
    "TRANSITIONS",
    "Conflict",
    "InvalidTransition",
    "TicketError",
    "add_event",
    "assign",
    "bulk_assign",
    "change_status",
    "find_open_ticket_for",
    "link_call",
    "link_claim",
    "link_member",
    "merge",
    "open_ticket",
    "public_attachment",
    "public_timeline",
    "rate",
    "reply",
    "requester_reply",
    "search_tickets",
    "timeline",
]

REFERENCE_RE = re.compile(r"^PMI-(\d{4})-(\d{6,})$")
DEFAULT_REOPEN_DAYS = 7
DEFAULT_REUSE_DAYS = 7

# The one table of allowed status moves. "resolved → open" is a reopen; "closed" is final
# (a merged ticket is closed too).
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"open", "pending_worker", "pending_third_party", "resolved", "closed"}),
    "open": frozenset({"pending_worker", "pending_third_party", "resolved", "closed"}),
    "pending_worker": frozenset({"open", "pending_third_party", "resolved", "closed"}),
    "pending_third_party": frozenset({"open", "pending_worker", "resolved", "closed"}),
    "resolved": frozenset({"open", "closed"}),
    "closed": frozenset(),
}


class TicketError(ValueError):
    """A request the ticket rules refuse; ``code`` is stable, ``message`` is for people."""

    code = "ticket_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidTransition(TicketError):
    code = "invalid_transition"


class ReplyRefused(TicketError):
    code = "reply_refused"


@dataclass
class Conflict(Exception):
    """Someone saved the ticket after the caller loaded it (optimistic locking → HTTP 409)."""

    ticket_id: int
    expected_version: int | None
    current_version: int | None
    changes: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"ticket {self.ticket_id}: version {self.expected_version} is stale (now {self.current_version})"
        )


def _(message: str, **variables: Any) -> str:
    from app.records.identifiers import _ as translate

    return translate(message, **variables)


def _config(name: str, default: int) -> int:
    if has_app_context():
        return int(current_app.config.get(name, default))
    return default


def _get(ticket_or_id: Ticket | int) -> Ticket:
    if isinstance(ticket_or_id, Ticket):
        return ticket_or_id
    ticket = db.session.get(Ticket, ticket_or_id)
    if ticket is None:
        raise TicketError(_("This ticket does not exist."), "not_found")
    return ticket


def _publish(ticket: Ticket, change: str) -> None:
    realtime.publish(
        "ticket.updated",
        {"id": ticket.id, "reference": ticket.reference, "version": ticket.version, "change": change},
        room="tickets",
    )


def _normal_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    try:
        return normalize_phone(phone)
    except PhoneError:
        return None


# ---------------------------------------------------------------------------------------------
# The contract


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
    phone = _normal_phone(requester_phone)
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
        _auto_match(ticket, at_most_probable=identifiers_unproven)
    db.session.add(ticket)
    db.session.flush()
    # Ids are unique under any concurrency, so the reference derived from one is too.
    ticket.reference = f"PMI-{ticket.created_at.year}-{ticket.id:06d}"
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
    sla.reconcile(ticket)
    db.session.flush()
    _publish(ticket, "created")
    return ticket


def _auto_match(ticket: Ticket, at_most_probable: bool = False) -> None:
    matches = find_members(
        kpj=ticket.requester_kpj,
        nik=ticket.requester_nik,
        passport=ticket.requester_passport,
        phone=ticket.requester_phone,
        lenient=True,
        limit=5,
    )
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
    ticket = _get(ticket_id)
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
        _publish(ticket, kind)
    return event


def record_conversation(ticket_id: int, *, at: datetime, actor_id: int | None = None) -> None:
    """An agent is talking with the worker (a call or call-back answered). That answers her as
    a public reply does: the first response is met (else the SLA clock would count an answered
    call as unanswered and breach it) and a new ticket is being worked (open)."""
    ticket = _get(ticket_id)
    if ticket.first_response_at is None:
        ticket.first_response_at = at
        sla.reconcile(ticket, now=at)
    if ticket.status == "new":
        change_status(ticket, "open", actor_id=actor_id)


def link_call(ticket_id: int, call_id: int, *, summary: str | None = None) -> None:
    """Record that call ``call_id`` belongs to the ticket (once per call: webhooks repeat)."""
    ticket = _get(ticket_id)
    for event in db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "call_linked")
    ):
        if event.data.get("call_id") == call_id:
            if summary and not event.data.get("summary"):
                add_event(ticket, "call_linked", {"call_id": call_id, "summary": summary})
            return
    add_event(ticket, "call_linked", {"call_id": call_id, "summary": summary})


def find_open_ticket_for(member_id: int | None = None, phone: str | None = None) -> Ticket | None:
    """The most recently active open ticket of this member or phone, within the reuse window."""
    conditions = []
    if member_id:
        conditions.append(Ticket.member_id == member_id)
    normal = _normal_phone(phone)
    if normal:
        conditions.append(Ticket.requester_phone_hash == blind_index("phone", normal))
    if not conditions:
        return None
    since = utcnow() - timedelta(days=_config("TICKETS_REUSE_DAYS", DEFAULT_REUSE_DAYS))
    return db.session.scalars(
        select(Ticket)
        .where(or_(*conditions), Ticket.status.in_(OPEN_STATUSES), Ticket.updated_at >= since)
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
        .limit(1)
    ).first()


# ---------------------------------------------------------------------------------------------
# Optimistic locking


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


# ---------------------------------------------------------------------------------------------
# Lifecycle


def change_status(
    ticket_id: Ticket | int,
    status: str,
    *,
    actor_id: int | None = None,
    expected_version: int | None = None,
    reason: str | None = None,
    by_requester: bool = False,
) -> Ticket:
    """Move the ticket to ``status`` if :data:`TRANSITIONS` allows it, with a ``status`` event."""
    ticket = _get(ticket_id)
    check_version(ticket, expected_version)
    if status not in STATUSES:
        raise InvalidTransition(_("Unknown status."))
    if status == ticket.status:
        return ticket
    if status not in TRANSITIONS[ticket.status]:
        from app.vocabulary import label  # the reader sees "Closed", not "closed"

        raise InvalidTransition(
            _(
                "A ticket cannot go from %(old)s to %(new)s.",
                old=label(ticket.status, "ticket_status"),
                new=label(status, "ticket_status"),
            )
        )
    old = ticket.status
    now = utcnow()
    ticket.status = status
    if status == "resolved":
        ticket.resolved_at = now
    elif status == "closed":
        ticket.closed_at = now
    elif old == "resolved":
        ticket.resolved_at = None  # reopened
    ticket.updated_at = now
    save(ticket)
    sla.reconcile(ticket, now=now)
    data: dict[str, Any] = {"from": old, "to": status}
    if reason:
        data["reason"] = reason
    if old == "resolved" and status == "open":
        data["reopened"] = True
    add_event(ticket, "status", data, actor_id=actor_id, public=True, by_requester=by_requester)
    if status == "resolved":
        _notify(ticket, "resolved", key_suffix=f"v{ticket.version}")
    return ticket


def assign(
    ticket_id: Ticket | int,
    assignee_id: int | None,
    *,
    actor_id: int | None = None,
    expected_version: int | None = None,
    team: str | None = None,
) -> Ticket:
    """Give the ticket to an agent (None: back to the pool); a new ticket becomes open."""
    ticket = _get(ticket_id)
    check_version(ticket, expected_version)
    if assignee_id is not None:
        from app.agents.models import User

        user = db.session.get(User, assignee_id)
        if user is None or not user.active:
            raise TicketError(_("This agent does not exist."), "invalid_assignee")
    if ticket.status == "closed":
        raise InvalidTransition(_("A closed ticket cannot be reassigned."))
    old = ticket.assignee_id
    # ``team=None`` keeps the team; an empty field clears it (so "" and None are the same team).
    new_team = ticket.team if team is None else (team.strip() or None)
    if old == assignee_id and new_team == ticket.team:
        return ticket
    ticket.assignee_id = assignee_id
    ticket.team = new_team
    ticket.updated_at = utcnow()
    save(ticket)
    add_event(ticket, "assigned", {"from": old, "to": assignee_id, "team": ticket.team}, actor_id=actor_id)
    if ticket.status == "new" and assignee_id is not None:
        change_status(ticket, "open", actor_id=actor_id)
    return ticket


def bulk_assign(ticket_ids: Iterable[int], assignee_id: int | None, *, actor_id: int | None = None) -> int:
    """Assign many tickets; closed ones are skipped. Returns how many changed."""
    changed = 0
    for ticket in db.session.scalars(
        select(Ticket).where(Ticket.id.in_(list(ticket_ids))).order_by(Ticket.id)
    ):
        if ticket.status == "closed" or ticket.assignee_id == assignee_id:
            continue
        assign(ticket, assignee_id, actor_id=actor_id)
        changed += 1
    return changed


def update_fields(
    ticket_id: Ticket | int,
    *,
    actor_id: int | None,
    expected_version: int | None,
    seen_event_id: int | None = None,
    priority: str | None = None,
    category: str | None = None,
) -> Ticket:
    """Change priority/category (each change recorded as a ``status`` event with the field)."""
    ticket = _get(ticket_id)
    check_version(ticket, expected_version, seen_event_id)
    changes: dict[str, Any] = {}
    if priority and priority != ticket.priority:
        if priority not in PRIORITIES:
            raise TicketError(_("Unknown priority."), "invalid_priority")
        changes["priority"] = [ticket.priority, priority]
        ticket.priority = priority
    if category and category != ticket.category:
        if category not in CATEGORIES:
            raise TicketError(_("Unknown category."), "invalid_category")
        changes["category"] = [ticket.category, category]
        ticket.category = category
    if changes:
        ticket.updated_at = utcnow()
        save(ticket)
        sla.reconcile(ticket, rematch=True)
        add_event(ticket, "status", {"fields": changes}, actor_id=actor_id)
    return ticket


def reply(
    ticket_id: Ticket | int,
    body: str,
    *,
    actor_id: int,
    public: bool = True,
    expected_version: int | None = None,
    seen_event_id: int | None = None,
    set_status: str | None = None,
) -> TicketEvent:
    """An agent's public reply (the worker is notified) or internal note (staff only)."""
    ticket = _get(ticket_id)
    check_version(ticket, expected_version, seen_event_id)
    text = (body or "").strip()
    if not text:
        raise TicketError(_("Write a message first."), "empty_body")
    if ticket.status == "closed":
        raise ReplyRefused(_("This ticket is closed."))
    kind = "public_reply" if public else "internal_note"
    event = add_event(ticket, kind, {}, actor_id=actor_id, public=public, body=text)
    if public:
        if ticket.first_response_at is None:
            ticket.first_response_at = utcnow()
            sla.reconcile(ticket, now=ticket.first_response_at)
        if ticket.status == "new":
            change_status(ticket, "open", actor_id=actor_id)
        _notify(ticket, "reply", key_suffix=f"e{event.id}")
    if set_status and set_status != ticket.status:
        change_status(ticket, set_status, actor_id=actor_id)
    return event


def requester_reply(ticket_id: Ticket | int, body: str, *, now: datetime | None = None) -> TicketEvent:
    """The worker answers (portal/API): pending → open; a recent resolution reopens the ticket."""
    ticket = effective(_get(ticket_id))
    text = (body or "").strip()
    if not text:
        raise TicketError(_("Write a message first."), "empty_body")
    now = now or utcnow()
    if ticket.status == "closed":
        raise ReplyRefused(_("This case is closed. Please file a new complaint."), "ticket_closed")
    if ticket.status == "resolved":
        period = timedelta(days=_config("TICKETS_REOPEN_DAYS", DEFAULT_REOPEN_DAYS))
        if ticket.resolved_at is None or now - ticket.resolved_at > period:
            raise ReplyRefused(
                _(
                    "This case was resolved more than %(days)d days ago. Please file a new complaint.",
                    days=period.days,
                ),
                "reopen_expired",
            )
    event = add_event(ticket, "public_reply", {}, public=True, body=text, by_requester=True)
    if ticket.status in ("resolved", "pending_worker"):
        change_status(ticket, "open", by_requester=True, reason="worker_replied")
    else:
        ticket.updated_at = now
        save(ticket)
    return event


def rate(ticket_id: Ticket | int, score: int, comment: str | None = None) -> Ticket:
    """The worker's satisfaction rating (1–5), once, after resolution (of the merge target)."""
    ticket = effective(_get(ticket_id))
    if ticket.status not in ("resolved", "closed"):
        raise TicketError(_("You can rate the service once your case is resolved."), "not_resolved")
    if ticket.csat_score is not None:
        raise TicketError(_("You have already rated this case. Thank you!"), "already_rated")
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise TicketError(_("Choose a rating from 1 to 5."), "invalid_score")
    ticket.csat_score = score
    ticket.csat_comment = (comment or "").strip()[:2000] or None
    save(ticket)
    add_event(ticket, "csat", {"score": score}, public=True, by_requester=True, body=ticket.csat_comment)
    return ticket


def merge(source_id: Ticket | int, target_id: Ticket | int, *, actor_id: int | None = None) -> Ticket:
    """Merge ``source`` into ``target``: the source closes as merged, its timeline shows on the target.

    Events stay where they were written (the timeline is append-only); :func:`timeline` of the
    target includes the events of tickets merged into it. Attachments move to the target; the
    member link is carried over when the target has none.
    """
    source, target = _get(source_id), _get(target_id)
    if source.id == target.id:
        raise TicketError(_("A ticket cannot be merged into itself."), "merge_self")
    if source.merged_into_id or source.status == "closed":
        raise TicketError(_("Only an open or resolved ticket can be merged."), "merge_closed")
    if target.status == "closed" or target.merged_into_id:
        raise TicketError(_("The target ticket is closed."), "merge_target_closed")
    for attachment in source.attachments:
        attachment.ticket_id = target.id
    if target.member_id is None and source.member_id is not None:
        target.member_id = source.member_id
        target.match_confidence = source.match_confidence
    source.merged_into_id = target.id
    # Tickets already merged into the source now belong to the target.
    for child in db.session.scalars(select(Ticket).where(Ticket.merged_into_id == source.id)):
        child.merged_into_id = target.id
    target.updated_at = utcnow()
    save(source)
    change_status(source, "closed", actor_id=actor_id, reason="merged")
    add_event(
        source,
        "merged",
        {"into": target.id, "into_reference": target.reference},
        actor_id=actor_id,
        public=True,
    )
    add_event(target, "merged", {"from": source.id, "from_reference": source.reference}, actor_id=actor_id)
    return target


def close_stale_resolved(now: datetime | None = None) -> int:
    """Close resolved tickets whose reopen period has passed (for a periodic job)."""
    now = now or utcnow()
    cutoff = now - timedelta(days=_config("TICKETS_REOPEN_DAYS", DEFAULT_REOPEN_DAYS))
    count = 0
    for ticket in db.session.scalars(
        select(Ticket).where(Ticket.status == "resolved", Ticket.resolved_at < cutoff)
    ):
        change_status(ticket, "closed", reason="reopen_period_over")
        count += 1
    return count


# ---------------------------------------------------------------------------------------------
# Tags

TAG_MAX = 40
_TAG_RE = re.compile(r"^[\w][\w-]*$")


def normalize_tag(name: str | None) -> str:
    """A tag as stored: trimmed, lower case, inner spaces as hyphens; TicketError if unusable
    (empty, longer than :data:`TAG_MAX`, or other than letters, digits, ``-`` and ``_``)."""
    text = re.sub(r"\s+", "-", (name or "").strip().lower())
    if not text:
        raise TicketError(_("Enter a tag."), "invalid_tag")
    if len(text) > TAG_MAX or not _TAG_RE.match(text):
        raise TicketError(
            _("A tag is one word of letters, digits, - or _ (at most %(n)d characters).", n=TAG_MAX),
            "invalid_tag",
        )
    return text


def _tag_named(name: str) -> Tag:
    """The tag with this (normalised) name, created if new; two agents creating the same new
    tag at once end up with one row (the loser of the unique constraint reads the winner's)."""
    tag = db.session.scalar(select(Tag).where(Tag.name == name))
    if tag is not None:
        return tag
    try:
        with db.session.begin_nested():
            tag = Tag(name=name)
            db.session.add(tag)
    except IntegrityError:
        tag = db.session.scalar(select(Tag).where(Tag.name == name))
        if tag is None:  # pragma: no cover - the row that collided is committed
            raise
    return tag


def tag(
    ticket_id: Ticket | int,
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    actor_id: int | None,
    expected_version: int | None = None,
    seen_event_id: int | None = None,
) -> Ticket:
    """Add and/or remove tags (one ``tagged`` event listing what changed; nothing when nothing
    did). A change saves the ticket, so it takes part in optimistic locking like any other."""
    ticket = _get(ticket_id)
    check_version(ticket, expected_version, seen_event_id)
    wanted = [normalize_tag(name) for name in add]
    dropped = {normalize_tag(name) for name in remove}
    current = {t.name for t in ticket.tags}
    added = [name for name in dict.fromkeys(wanted) if name not in current and name not in dropped]
    removed = sorted(name for name in dropped if name in current)
    if not added and not removed:
        return ticket
    for name in added:
        ticket.tags.append(_tag_named(name))
    if removed:
        ticket.tags[:] = [t for t in ticket.tags if t.name not in removed]
    ticket.updated_at = utcnow()
    save(ticket)
    data: dict[str, Any] = {}
    if added:
        data["added"] = added
    if removed:
        data["removed"] = removed
    add_event(ticket, "tagged", data, actor_id=actor_id)
    return ticket


def tag_names(limit: int = 200) -> list[str]:
    """Existing tags, most used first (suggestions while typing)."""
    rows = db.session.execute(
        select(Tag.name, func.count(ticket_tags.c.ticket_id))
        .outerjoin(ticket_tags, ticket_tags.c.tag_id == Tag.id)
        .group_by(Tag.id, Tag.name)
        .order_by(func.count(ticket_tags.c.ticket_id).desc(), Tag.name)
        .limit(limit)
    ).all()
    return [str(name) for name, _count in rows]


# ---------------------------------------------------------------------------------------------
# Records


def link_member(
    ticket_id: Ticket | int,
    member_id: int | None,
    *,
    actor_id: int | None,
    expected_version: int | None = None,
) -> Ticket:
    """The agent confirms, changes or removes (None) the member link."""
    ticket = _get(ticket_id)
    check_version(ticket, expected_version)
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
) -> Ticket:
    """Link one of the linked member's claims (None removes the link)."""
    ticket = _get(ticket_id)
    check_version(ticket, expected_version)
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


# ---------------------------------------------------------------------------------------------
# Notifications


def _notify(ticket: Ticket, kind: str, key_suffix: str) -> None:
    """Promise a message to the worker, one intent per channel: each job then has a single
    effect at a provider, so a failing email can be retried without sending the SMS again.
    The keys make it once-only even if recorded again."""
    from app.core.jobs import OutboxIntent

    for channel, destination in (("sms", ticket.requester_phone), ("email", ticket.requester_email)):
        if not destination:
            continue
        key = f"ticket-notify:{ticket.id}:{kind}:{key_suffix}:{channel}"
        # Autoflush makes intents recorded earlier in this transaction visible to the query too.
        if db.session.scalar(select(OutboxIntent.id).where(OutboxIntent.key == key)) is not None:
            continue
        record_intent(
            "app.tickets.tasks.notify_worker",
            ticket.id,
            kind,
            key_suffix,
            channel,
            queue="notifications",
            key=key,
        )


def notify_created(ticket: Ticket) -> None:
    """Tell the worker their reference number (SMS/email), as an outbox intent."""
    _notify(ticket, "created", key_suffix="0")


def notify_callback_requested(ticket_id: int, callback_id: int) -> None:
    """Confirm a call-back request to the worker (SMS/email), once per request."""
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is not None:
        _notify(ticket, "callback", key_suffix=str(callback_id))


def record_delivery(
    provider_id: str, status: str, *, error_code: str | None = None, at: datetime | None = None
) -> bool | None:
    """What the carrier reported about a message we sent (an SMS status callback).

    Order-tolerant and idempotent: the status only moves forward along
    :data:`~app.tickets.models.CARRIER_STATUS_RANK` (a late "sent" never undoes "delivered";
    the first final outcome stays). Returns None when no notification carries this provider id
    (yet: the callback can overtake the commit of the job that sent the message; the telephony
    edge replays its stored reports afterwards), else whether anything changed.
    """
    if not provider_id or status not in CARRIER_STATUS_RANK:
        return False
    note = db.session.scalar(select(Notification).where(Notification.provider_id == provider_id))
    if note is None:
        return None
    code = (error_code or "").strip()[:16] or None
    current = note.carrier_status
    if current is not None:
        old_rank, new_rank = CARRIER_STATUS_RANK.get(current, -1), CARRIER_STATUS_RANK[status]
        if new_rank < old_rank or (new_rank == old_rank and status != current):
            return False
        if status == current:
            if code and not note.carrier_error_code:
                note.carrier_error_code = code  # a replay that carries the code the first lacked
                return True
            return False
    note.carrier_status = status
    note.carrier_status_at = at or utcnow()
    if code:
        note.carrier_error_code = code
    return True


# ---------------------------------------------------------------------------------------------
# Reading


def timeline(ticket: Ticket, *, public_only: bool = False) -> list[TicketEvent]:
    """The ticket's events plus those of tickets merged into it, oldest first."""
    ids = [ticket.id, *db.session.scalars(select(Ticket.id).where(Ticket.merged_into_id == ticket.id))]
    query = select(TicketEvent).where(TicketEvent.ticket_id.in_(ids))
    if public_only:
        query = query.where(TicketEvent.public.is_(True))
    return list(db.session.scalars(query.order_by(TicketEvent.created_at, TicketEvent.id)))


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


def reference_of(ticket_id: int) -> str | None:
    """The public reference of a ticket (what the worker quotes), or None if it is gone."""
    ticket = db.session.get(Ticket, ticket_id)
    return ticket.reference if ticket else None


def get_by_reference(reference: str) -> Ticket | None:
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
    phone = _normal_phone(value)
    return bool(
        phone and ticket.requester_phone_hash and ticket.requester_phone_hash == blind_index("phone", phone)
    )


VIEWS = ("mine", "unassigned", "breaching", "open", "all")


@dataclass
class SearchQuery:
    text: str = ""
    view: str = "open"
    status: str | None = None
    category: str | None = None
    country: str | None = None
    priority: str | None = None
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
    from app.tickets.phone_search import phone_condition, phone_matches

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


__all__ += [
    "effective",
    "IdentifierError",
    "SearchQuery",
    "VIEWS",
    "check_version",
    "get_by_reference",
    "notify_created",
    "update_fields",
    "verify_requester",
    "close_stale_resolved",
    "normalize_tag",
    "record_delivery",
    "tag",
    "tag_names",
    "ReplyRefused",
]


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
