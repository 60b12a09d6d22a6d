"""The live queue's record: what an item is worth (topic priority), the routing event log and
what each event tells (the signal's receivers, the queue's live view), and the conditional
UPDATE every state change of an item is made with."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import func, select

from app.agents.models import RoutingEvent, WorkItem
from app.agents.routing import signals
from app.agents.routing.presence import setting
from app.core.realtime import publish
from app.core.time import utcnow
from app.extensions import db
from app.tickets.models import CATEGORIES as TICKET_CATEGORIES

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

# One vocabulary for topics and ticket categories (docs/call-flow.md), owned by tickets.
CATEGORIES = TICKET_CATEGORIES
# Emergency > claims > general; overridable with ROUTING_TOPIC_PRIORITY.
DEFAULT_TOPIC_PRIORITY = {"emergency": 100, "claim_jkk": 50, "claim_jkm": 50, "claim_jht": 50}
GENERAL_PRIORITY = 10


def topic_priority(topic: str) -> int:
    table = setting("ROUTING_TOPIC_PRIORITY", None) or DEFAULT_TOPIC_PRIORITY
    return int(table.get(topic, table.get("*", GENERAL_PRIORITY)))


def rowcount(stmt: Any) -> int:
    """Run a conditional UPDATE; the number of rows it changed (0: another process was first)."""
    result = cast("CursorResult[Any]", db.session.execute(stmt.execution_options(synchronize_session=False)))
    return int(result.rowcount or 0)


def update_item(stmt: Any) -> WorkItem | None:
    """Run a conditional UPDATE of one work item; the item as the UPDATE left it, or None when no
    row matched (another process was first). Its columns come back with the UPDATE (RETURNING)
    into the session's instance, as a refresh would bring them, one round trip fewer."""
    result = db.session.execute(
        stmt.returning(WorkItem).execution_options(synchronize_session=False, populate_existing=True)
    )
    return cast("WorkItem | None", result.scalars().first())


def item_payload(item: WorkItem, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    return {
        "id": item.id,
        "kind": item.kind,
        "ref_id": item.ref_id,
        "status": item.status,
        "language": item.language,
        "topic": item.topic,
        "country": item.country,
        "priority": item.priority,
        "queue": item.queue,
        "ticket_id": item.ticket_id,
        "member_id": item.member_id,
        "agent_id": item.agent_id,
        "enqueued_at": item.enqueued_at.isoformat(),
        "wait_seconds": max(0, int((now - item.enqueued_at).total_seconds())),
        "offer_expires_at": item.offer_expires_at.isoformat() if item.offer_expires_at else None,
        "version": item.version,
    }


def log_event(
    item: WorkItem, kind: str, agent_id: int | None = None, *, when: datetime | None = None, **data: Any
) -> RoutingEvent:
    """Append a routing event (``when`` defaults to now) and tell the signal's receivers."""
    event = RoutingEvent(work_item_id=item.id, kind=kind, agent_id=agent_id, data=data, at=when or utcnow())
    db.session.add(event)
    db.session.flush()
    signals.send(item, event)
    return event


def queue_changed(item: WorkItem, event: RoutingEvent) -> None:
    """Tell the item's queue and the supervisors (once the transaction commits)."""
    payload = {"queue": item.queue, "seq": event.id, "change": event.kind, "item": item_payload(item)}
    publish("queue.updated", payload, f"queue:{item.queue}")
    publish("queue.updated", payload, "supervisors")


def current_seq() -> int:
    """The live queue's version: the newest routing event id (0 when there is none)."""
    return int(db.session.scalar(select(func.max(RoutingEvent.id))) or 0)
