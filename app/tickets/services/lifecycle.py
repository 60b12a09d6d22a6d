"""A ticket's life after it opens: status moves, assignment, priority and category, replies
(the agent's and the worker's), the rating, merging, and closing what stayed resolved.

* Status transitions: :data:`TRANSITIONS` is the one table of allowed moves; every status change
  goes through :func:`change_status`.
* Reopening: a worker's reply within ``TICKETS_REOPEN_DAYS`` (default 7) after resolution
  reopens the ticket; later, the case stays resolved and the reply is refused.
* Every change takes part in optimistic locking (:mod:`app.tickets.services.locking`) and is
  written on the timeline; the worker hears of replies and resolutions through
  :mod:`app.tickets.services.notify`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.core.i18n import _
from app.core.time import utcnow
from app.core.vocabulary import label
from app.extensions import db
from app.staff.models import User
from app.tickets.models import CATEGORIES, PRIORITIES, STATUSES, Ticket, TicketEvent
from app.tickets.services.contacts import conversation_channel
from app.tickets.services.errors import InvalidTransition, ReplyRefused, TicketError
from app.tickets.services.locking import check_version, save
from app.tickets.services.notify import notify
from app.tickets.services.timeline import add_event, effective, get_ticket
from app.tickets.settings import reopen_days
from app.tickets.signals import promise_changed

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


def change_status(
    ticket_id: Ticket | int,
    status: str,
    *,
    actor_id: int | None = None,
    expected_version: int | None = None,
    reason: str | None = None,
    by_requester: bool = False,
    seen_event_id: int | None = None,
) -> Ticket:
    """Move the ticket to ``status`` if :data:`TRANSITIONS` allows it, with a ``status`` event."""
    ticket = get_ticket(ticket_id)
    check_version(ticket, expected_version, seen_event_id)
    if status not in STATUSES:
        raise InvalidTransition(_("Unknown status."))
    if status == ticket.status:
        return ticket
    if status not in TRANSITIONS[ticket.status]:
        raise InvalidTransition(
            _(
                "A ticket cannot go from %(old)s to %(new)s.",
                # The reader sees "Closed", not "closed".
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
    promise_changed.send(ticket, now=now)
    data: dict[str, Any] = {"from": old, "to": status}
    if reason:
        data["reason"] = reason
    if old == "resolved" and status == "open":
        data["reopened"] = True
    add_event(ticket, "status", data, actor_id=actor_id, public=True, by_requester=by_requester)
    if status == "resolved":
        notify(ticket, "resolved", key_suffix=f"v{ticket.version}")
    return ticket


def record_conversation(ticket_id: int, *, at: datetime, actor_id: int | None = None) -> None:
    """An agent is talking with the worker (a call or call-back answered). That answers her as
    a public reply does: the first response is met (else the SLA clock would count an answered
    call as unanswered and breach it) and a new ticket is being worked (open)."""
    ticket = get_ticket(ticket_id)
    if ticket.first_response_at is None:
        ticket.first_response_at = at
        promise_changed.send(ticket, now=at)
    if ticket.status == "new":
        change_status(ticket, "open", actor_id=actor_id)


def assign(
    ticket_id: Ticket | int,
    assignee_id: int | None,
    *,
    actor_id: int | None = None,
    expected_version: int | None = None,
    team: str | None = None,
    seen_event_id: int | None = None,
) -> Ticket:
    """Give the ticket to an agent (None: back to the pool); a new ticket becomes open."""
    ticket = get_ticket(ticket_id)
    check_version(ticket, expected_version, seen_event_id)
    if assignee_id is not None:
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
    ticket = get_ticket(ticket_id)
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
        promise_changed.send(ticket, rematch=True)
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
    ticket = get_ticket(ticket_id)
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
            promise_changed.send(ticket, now=ticket.first_response_at)
        if ticket.status == "new":
            change_status(ticket, "open", actor_id=actor_id)
        conversation = conversation_channel(ticket)
        if conversation is not None:
            # A WhatsApp/SMS conversation: the answer itself goes back on her channel.
            notify(ticket, "message", key_suffix=f"e{event.id}", channel=conversation)
        else:
            notify(ticket, "reply", key_suffix=f"e{event.id}")
    if set_status and set_status != ticket.status:
        change_status(ticket, set_status, actor_id=actor_id)
    return event


def requester_reply(
    ticket_id: Ticket | int,
    body: str,
    *,
    now: datetime | None = None,
    data: dict[str, Any] | None = None,
    allow_empty: bool = False,
) -> TicketEvent:
    """The worker answers (portal/API, or a WhatsApp/SMS message: ``data`` names its channel
    and message, and a message that is only a photo has no text, ``allow_empty``):
    pending → open; a recent resolution reopens the ticket."""
    ticket = effective(get_ticket(ticket_id))
    text = (body or "").strip()
    if not text and not allow_empty:
        raise TicketError(_("Write a message first."), "empty_body")
    now = now or utcnow()
    if ticket.status == "closed":
        raise ReplyRefused(_("This case is closed. Please file a new complaint."), "ticket_closed")
    if ticket.status == "resolved":
        period = timedelta(days=reopen_days())
        if ticket.resolved_at is None or now - ticket.resolved_at > period:
            raise ReplyRefused(
                _(
                    "This case was resolved more than %(days)d days ago. Please file a new complaint.",
                    days=period.days,
                ),
                "reopen_expired",
            )
    event = add_event(ticket, "public_reply", data or {}, public=True, body=text or None, by_requester=True)
    if ticket.status in ("resolved", "pending_worker"):
        change_status(ticket, "open", by_requester=True, reason="worker_replied")
    else:
        ticket.updated_at = now
        save(ticket)
    return event


def rate(ticket_id: Ticket | int, score: int, comment: str | None = None) -> Ticket:
    """The worker's satisfaction rating (1–5), once, after resolution (of the merge target)."""
    ticket = effective(get_ticket(ticket_id))
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


def merge(
    source_id: Ticket | int,
    target_id: Ticket | int,
    *,
    actor_id: int | None = None,
    expected_version: int | None = None,
    seen_event_id: int | None = None,
) -> Ticket:
    """Merge ``source`` into ``target``: the source closes as merged, its timeline shows on the target.

    Events stay where they were written (the timeline is append-only);
    :func:`~app.tickets.services.timeline.timeline` of the target includes the events of tickets
    merged into it. Attachments move to the target; the member link is carried over when the
    target has none. ``expected_version`` is the caller's copy of the source.
    """
    source, target = get_ticket(source_id), get_ticket(target_id)
    check_version(source, expected_version, seen_event_id)
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
    cutoff = now - timedelta(days=reopen_days())
    count = 0
    for ticket in db.session.scalars(
        select(Ticket).where(Ticket.status == "resolved", Ticket.resolved_at < cutoff)
    ):
        change_status(ticket, "closed", reason="reopen_period_over")
        count += 1
    return count
