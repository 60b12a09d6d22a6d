"""The contract with telephony: a call or call-back enters the live queue, leaves it, ends, and
how long its caller will wait (called through ``app.telephony.integration``; see
docs/call-flow.md). Enqueueing routes at once, in the caller's transaction."""

from __future__ import annotations

from sqlalchemy import select, update

from app.agents.models import (
    ACTIVE_ITEM_STATUSES,
    AVAILABLE,
    CANCELLED,
    COMPLETED,
    CONNECTED,
    LIVE_ITEM_PREDICATE,
    OFFERED,
    OFFERED_ITEM,
    ON_CALL,
    WAITING,
    WORK_KINDS,
    WRAP_UP,
    WorkItem,
)
from app.agents.routing.board import board
from app.agents.routing.presence import transition
from app.agents.routing.queue import CATEGORIES, log_event, queue_changed, topic_priority, update_item
from app.agents.routing.router import route_safely
from app.core.once import insert_once
from app.core.realtime import publish
from app.core.time import utcnow
from app.extensions import db


def _active(kind: str, ref_id: int) -> WorkItem | None:
    return db.session.scalar(
        select(WorkItem).where(
            WorkItem.kind == kind, WorkItem.ref_id == ref_id, WorkItem.status.in_(ACTIVE_ITEM_STATUSES)
        )
    )


def current_item(kind: str, ref_id: int) -> WorkItem | None:
    """The live (waiting, offered or connected) item of a call or call-back, if any."""
    return _active(kind, ref_id)


def enqueue(
    kind: str,
    ref_id: int,
    *,
    language: str,
    topic: str,
    country: str | None = None,
    priority: int | None = None,
    ticket_id: int | None = None,
    member_id: int | None = None,
) -> WorkItem:
    """Put a call or callback in the live queue (idempotent per ``kind``/``ref_id``) and route.

    ``priority`` defaults from the topic (emergency > claims > general). An item already waiting
    or being handled for the same ``kind``/``ref_id`` is returned unchanged, so a webhook
    delivered twice enqueues once.
    """
    if kind not in WORK_KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    item = WorkItem(
        kind=kind,
        ref_id=ref_id,
        status=WAITING,
        language=(language or "id").strip() or "id",
        topic=topic if topic in CATEGORIES else "other",
        country=(country or None) and country.upper()[:2],
        priority=topic_priority(topic) if priority is None else priority,
        ticket_id=ticket_id,
        member_id=member_id,
        excluded_agents=[],
        enqueued_at=utcnow(),
        version=1,
    )
    # One statement: the partial unique index (one live item per call) decides, so a replayed or
    # concurrent enqueue finds the live item instead (no look-up first, no savepoint).
    stored = insert_once(item, unique=("kind", "ref_id"), where=LIVE_ITEM_PREDICATE)
    if stored is None:
        existing = _active(kind, ref_id)
        if existing is None:  # pragma: no cover - the conflicting item ended between the two statements
            return enqueue(
                kind, ref_id, language=language, topic=topic, country=country, priority=priority,
                ticket_id=ticket_id, member_id=member_id,
            )
        return existing
    queue_changed(item, log_event(item, "enqueued"))
    route_safely()
    return item


def cancel(kind: str, ref_id: int, reason: str) -> None:
    """The caller left (hung up, chose voicemail…): take the item out of the queue."""
    item = _active(kind, ref_id)
    if item is not None:
        _end(item, CANCELLED, reason)


def complete(kind: str, ref_id: int) -> None:
    """The call ended: the item is done and its agent goes to wrap-up."""
    item = _active(kind, ref_id)
    if item is None:
        return
    if item.status == CONNECTED:
        _end(item, COMPLETED, "completed")
    else:  # ended before an agent answered
        _end(item, CANCELLED, "ended_before_answer")


def _end(item: WorkItem, status: str, reason: str) -> None:
    previous, agent_id, now = item.status, item.agent_id, utcnow()
    changed = update_item(
        update(WorkItem)
        .where(WorkItem.id == item.id, WorkItem.status == previous)
        .values(
            status=status,
            # Who handled a call stays on it; an offer that was never answered names nobody.
            agent_id=agent_id if previous == CONNECTED else None,
            ended_at=now,
            end_reason=reason,
            offer_expires_at=None,
            version=WorkItem.version + 1,
        )
    )
    if changed is None:  # another process moved it; look again
        db.session.refresh(item)
        if item.status in ACTIVE_ITEM_STATUSES:
            _end(item, status, reason)
        return
    event = log_event(item, status, agent_id, reason=reason, previous=previous)
    if agent_id is not None and previous == OFFERED_ITEM:
        publish(
            "offer.cancelled",
            {"work_item_id": item.id, "reason": reason, "version": item.version},
            f"user:{agent_id}",
        )
        transition(
            agent_id,
            AVAILABLE,
            "offer_cancelled",
            allowed_from=(OFFERED,),
            work_item_id=item.id,
            keep_idle=True,
        )
    elif agent_id is not None and previous == CONNECTED:
        publish(
            "call.ended",
            {"work_item_id": item.id, "reason": reason, "version": item.version},
            f"user:{agent_id}",
        )
        transition(agent_id, WRAP_UP, reason, allowed_from=(ON_CALL,), work_item_id=item.id)
    queue_changed(item, event)
    if agent_id is not None and previous == OFFERED_ITEM:
        route_safely()


def position(kind: str, ref_id: int) -> tuple[int, int | None]:
    """1-based position in the order the router serves, and the estimated wait in seconds.

    The estimate is position × average handle time ÷ agents logged in (not offline), from the
    last 50 completed calls; None when there is no history or nobody is logged in. An item that
    is already offered or connected is at position 1 with no wait left. (0, None): not queued.
    Both come from the process's queue board (:mod:`app.agents.routing.board`): one look-up per
    caller, the queue itself is read at most every ``QUEUE_BOARD_SECONDS``; only an item that
    is not on the board (enqueued since it was read, or no longer live) is read itself.
    """
    current = board()
    known = current.lookup(kind, ref_id)
    if known is not None:
        return known
    item = _active(kind, ref_id)
    if item is None:
        return 0, None
    if item.status != WAITING:
        return 1, 0
    return current.position(item.id)

