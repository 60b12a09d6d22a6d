"""The only place telephony calls routing (issue 4) and tickets (issue 5), per docs/call-flow.md.

Kept in one module so the contract is visible at a glance and tests can replace it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.agents import routing
from app.agents.models import CONNECTED, WorkItem
from app.agents.routing import has_own_savepoints, routing_event
from app.extensions import db
from app.staff.models import User
from app.telephony.calllog import log_event
from app.telephony.models import Call
from app.tickets import attachments
from app.tickets import services as tickets
from app.tickets.services import conversation
from app.tickets.services.notify import notify
from app.tickets.titles import call_title

log = logging.getLogger(__name__)


def enqueue(kind: str, ref_id: int, **kwargs: Any) -> Any:
    return routing.enqueue(kind, ref_id, **kwargs)


def cancel(kind: str, ref_id: int, reason: str) -> None:
    routing.cancel(kind, ref_id, reason)


def complete(kind: str, ref_id: int) -> None:
    routing.complete(kind, ref_id)


def position(kind: str, ref_id: int) -> tuple[int, int | None]:
    return routing.position(kind, ref_id)


# Routing's names for an offer that ended unanswered → the call log's ``ring_no_answer`` reason.
RING_ENDS = {"declined": "declined", "no_answer": "timeout"}


def subscribe_to_routing() -> None:
    """Connect the call log to routing's signal: offers, unanswered rings, transfers and
    wrap-ups (called by the application factory; routing itself never imports telephony)."""
    # No savepoint around it: its one write (calllog.log_event) already runs in its own, and
    # offers are routing's hot path (see bench/README.md).
    for kind in ("offered", "transferred", *RING_ENDS):
        routing_event.connect(has_own_savepoints(routing_outcome), sender=kind)
    routing_event.connect(wrap_up_outcome, sender="disposition")


def wrap_up_outcome(kind: str, *, item: Any, event: Any) -> None:
    """The agent's wrap-up of a call or call-back: its disposition on the call and the call
    log (``wrap_up``, once per routing event), with the agent's note."""
    if item.kind == "call":
        call = db.session.get(Call, item.ref_id)
    else:
        call = db.session.scalar(
            select(Call).where(Call.callback_id == item.ref_id).order_by(Call.id.desc()).limit(1)
        )
    disposition = event.data.get("disposition")
    if call is None or not disposition:
        return
    call.disposition = disposition
    log_event(
        call,
        "wrap_up",
        suffix=str(event.id),
        at=event.at,
        agent_id=event.agent_id,
        data={"work_item_id": item.id, "disposition": disposition, "note": event.data.get("note")},
    )


def routing_outcome(kind: str, *, item: Any, event: Any) -> None:
    """One routing event, in routing's transaction: the matching call-log fact, if any.

    Each fact has a unique key (see ``calllog.log_event``): an offer is ``offered:<item>.<n>``
    (the item's n-th offer) and its unanswered end ``ring_no_answer:<item>.<n>``, a transfer
    ``transferred:<item>.<version>``. Call-backs are routed before their call exists, so only
    calls (``kind == "call"``) are logged here.
    """
    if item.kind != "call" or event.kind not in ("offered", "transferred", *RING_ENDS):
        return
    call = db.session.get(Call, item.ref_id)
    if call is None:
        return
    offer = f"{item.id}.{item.offers}"
    if event.kind == "offered":
        log_event(
            call,
            "offered",
            suffix=offer,
            at=event.at,
            agent_id=event.agent_id,
            data={"work_item_id": item.id, "offer": item.offers},
        )
    elif event.kind in RING_ENDS:
        ring_ms = (
            max(0, int((event.at - item.offered_at).total_seconds() * 1000)) if item.offered_at else None
        )
        log_event(
            call,
            "ring_no_answer",
            suffix=offer,
            at=event.at,
            agent_id=event.agent_id,
            data={"work_item_id": item.id, "reason": RING_ENDS[event.kind], "ring_ms": ring_ms},
        )
    else:
        log_event(
            call,
            "transferred",
            suffix=f"{item.id}.{item.version}",
            at=event.at,
            agent_id=event.agent_id,
            data={
                "work_item_id": item.id,
                "to_agent_id": event.data.get("to_agent_id"),
                "language": event.data.get("language"),
                "topic": event.data.get("topic"),
            },
        )


def current_item(kind: str, ref_id: int) -> Any:
    """The live routing item of a call or call-back (waiting, offered or connected), or None."""
    return routing.current_item(kind, ref_id)


def connected_items(limit: int = 500) -> list[Any]:
    """Contacts an agent is on now (accepted, not ended): the live calls supervisors may join."""
    return list(
        db.session.scalars(
            select(WorkItem).where(WorkItem.status == CONNECTED).order_by(WorkItem.connected_at, WorkItem.id).limit(limit)
        )
    )


def staff(user_id: int | None) -> Any:
    """A staff account (User) by id, or None."""
    return db.session.get(User, user_id) if user_id else None


def staff_names(user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return {uid: name for uid, name in db.session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))}


def work_item(work_item_id: int) -> Any:
    """The routing WorkItem (kind, ref_id, agent_id) an accept job was recorded for."""
    return db.session.get(WorkItem, work_item_id)


def open_or_reuse_ticket(
    *,
    channel: str,
    category: str,
    language: str,
    country: str | None,
    member_id: int | None,
    phone: str | None,
    subject: str,
    kpj: str | None = None,
    identity_proven: bool = True,
    call_id: int | None = None,
) -> int:
    """The caller's open ticket (by member or phone), or a new one; with ``call_id``, the call
    linked to it (while the ticket is still in hand: a second look-up by id would read it again).

    Without proof of identity (``identity_proven=False``: an anonymous call-back naming a KPJ or
    NIK) the member is a claim: the call never joins that member's open case, only one from the
    same phone, and a new ticket links the member as "probable" for an agent to confirm.
    """
    if not identity_proven:
        member_id = None
    existing = (
        tickets.find_open_ticket_for(member_id=member_id, phone=phone) if (member_id or phone) else None
    )
    if existing is not None:
        if call_id is not None:
            tickets.link_call(existing, call_id)
        return int(existing.id)
    ticket = tickets.open_ticket(
        channel=channel,
        category=category,
        subject=subject,
        language=language,
        country=country,
        member_id=member_id,
        requester_phone=phone,
        requester_kpj=kpj,
        identifiers_unproven=not identity_proven,
    )
    if call_id is not None:
        tickets.link_call(ticket, call_id)
    return int(ticket.id)


def ticket_title(channel: str, topic: str | None, country: str | None) -> str:
    """The human title of the ticket a call, call-back or voicemail opens."""
    return call_title(channel, topic, country)


def link_call(ticket_id: int, call_id: int, summary: str | None = None) -> None:
    tickets.link_call(ticket_id, call_id, summary=summary)


def conversation_started(ticket_id: int | None, at: datetime, agent_id: int | None) -> None:
    """An agent and the worker are talking: the ticket's first response (tickets decide)."""
    if ticket_id is None:
        return
    tickets.record_conversation(ticket_id, at=at, actor_id=agent_id)


def ticket_note(ticket_id: int, kind: str, data: dict[str, Any]) -> None:
    tickets.add_event(ticket_id, kind, data)


def message_delivered(
    provider_id: str, status: str, *, error_code: str | None, at: Any
) -> bool | None:
    """A carrier's delivery report for a worker notification (None: no such message yet)."""
    return tickets.record_delivery(provider_id, status, error_code=error_code, at=at)


def ticket_reference(ticket_id: int) -> str | None:
    return tickets.reference_of(ticket_id)


# --- WhatsApp and SMS from workers (app.telephony.inbound_messages) ---------------------------


def message_received(**values: Any) -> Any:
    """A stored message from a worker's phone, put on her case (tickets decide where)."""
    return conversation.receive_message(conversation.IncomingMessage(**values))


def answer_message(ticket_id: int, kind: str, key_suffix: str, channel: str) -> None:
    """An automatic answer (``kind``) to her on ``channel``, about her case, once per key."""
    ticket = tickets.get_ticket(ticket_id)
    notify(ticket, kind, key_suffix, channel=channel)


def ticket_category(ticket_id: int) -> str:
    return str(tickets.get_ticket(ticket_id).category)


def media_max_bytes() -> int:
    """The largest file a worker's message may bring (the attachments' limit)."""
    return attachments.max_bytes()


def media_type_accepted(content_type: str) -> bool:
    """Whether a file announced as ``content_type`` is worth downloading."""
    return attachments.message_type_accepted(content_type)


def message_media(**values: Any) -> dict[str, int]:
    """The files of her message (downloaded) and those refused, onto her case."""
    return conversation.store_message_media(**values)
