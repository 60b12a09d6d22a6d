"""The only place telephony calls routing (issue 4) and tickets (issue 5), per docs/call-flow.md.

Kept in one module so the contract is visible at a glance and tests can replace it.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def enqueue(kind: str, ref_id: int, **kwargs: Any) -> Any:
    from app.agents import routing

    return routing.enqueue(kind, ref_id, **kwargs)


def cancel(kind: str, ref_id: int, reason: str) -> None:
    from app.agents import routing

    routing.cancel(kind, ref_id, reason)


def complete(kind: str, ref_id: int) -> None:
    from app.agents import routing

    routing.complete(kind, ref_id)


def position(kind: str, ref_id: int) -> tuple[int, int | None]:
    from app.agents import routing

    return routing.position(kind, ref_id)  # type: ignore[no-any-return]


def work_item(work_item_id: int) -> Any:
    """The routing WorkItem (kind, ref_id, agent_id) an accept job was recorded for."""
    from app.agents.models import WorkItem
    from app.extensions import db

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
) -> int:
    from app.tickets import services as tickets

    existing = (
        tickets.find_open_ticket_for(member_id=member_id, phone=phone) if (member_id or phone) else None
    )
    if existing is not None:
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
    )
    return int(ticket.id)


def link_call(ticket_id: int, call_id: int, summary: str | None = None) -> None:
    from app.tickets import services as tickets

    tickets.link_call(ticket_id, call_id, summary=summary)


def ticket_note(ticket_id: int, kind: str, data: dict[str, Any]) -> None:
    from app.tickets import services as tickets

    tickets.add_event(ticket_id, kind, data)


def message_delivered(
    provider_id: str, status: str, *, error_code: str | None, at: Any
) -> bool | None:
    """A carrier's delivery report for a worker notification (None: no such message yet)."""
    from app.tickets import services as tickets

    return tickets.record_delivery(provider_id, status, error_code=error_code, at=at)


def ticket_reference(ticket_id: int) -> str | None:
    from app.tickets import services as tickets

    return tickets.reference_of(ticket_id)
