"""The live queue (ACD): work items, offers to agents, and the router. See docs/call-flow.md.

Public service functions (the contract with telephony and tickets):

* :func:`enqueue`, :func:`cancel`, :func:`complete`, :func:`position` — called by telephony;
* :func:`accept`, :func:`decline`, :func:`transfer`, :func:`finish_wrap_up` — the console;
* :func:`route` and :func:`tick` — the router.

None of them commits: the caller's transaction (a webhook, a console request, a job) does, and
the Socket.IO events they publish are emitted only after that commit (``app.core.realtime``).

When the router runs: inside :func:`enqueue` and after every availability change (an agent
becomes available, declines, finishes wrap-up), in the same transaction, so a free agent rings
as soon as the caller's webhook commits; and periodically from :func:`tick` (offer time-outs,
wrap-up ends, consoles lost past the grace period, skill relaxation as items wait longer). The
tick is the rq cron job ``app.agents.tasks.tick`` (``rq cron app.agents.cron``-style config in
``app/agents/tasks.py``) or the ``run_router_loop`` thread; either may run in several processes.

Concurrency: the database holds the invariants (see ``app/agents/models.py``). An offer is made
by locking the item and the agent with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (so concurrent
routers never wait on each other and cannot deadlock) and then two conditional UPDATEs
(``status='waiting'`` → ``offered``; ``state='available'`` → ``offered``) inside a savepoint;
the partial unique index ``uq_work_items_agent_active`` rejects a second held item per agent.
A router that dies mid-offer leaves either nothing (its transaction is rolled back) or a
committed offer that times out after ``ROUTING_OFFER_TIMEOUT`` seconds and is offered again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.sql.elements import ColumnElement

from app.agents.models import (
    ACTIVE_ITEM_STATUSES,
    AVAILABLE,
    AWAY,
    CANCELLED,
    COMPLETED,
    CONNECTED,
    OFFERED,
    OFFERED_ITEM,
    ON_CALL,
    WAITING,
    WORK_KINDS,
    WRAP_UP,
    AgentPresence,
    AgentSkill,
    RoutingEvent,
    WorkItem,
)
from app.agents.presence import end_wrap_ups, expire_lost_consoles, setting, transition
from app.core.jobs import record_intent
from app.core.realtime import publish
from app.core.time import utcnow
from app.extensions import db
from app.tickets.models import CATEGORIES as TICKET_CATEGORIES

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

log = logging.getLogger(__name__)

# One vocabulary for topics and ticket categories (docs/call-flow.md), owned by tickets.
CATEGORIES = TICKET_CATEGORIES
# Emergency > claims > general; overridable with ROUTING_TOPIC_PRIORITY.
DEFAULT_TOPIC_PRIORITY = {"emergency": 100, "claim_jkk": 50, "claim_jkm": 50, "claim_jht": 50}
GENERAL_PRIORITY = 10

CONNECT_JOB = {
    "call": "app.telephony.tasks.connect_agent",
    "callback": "app.telephony.tasks.place_callback",
}


class RoutingError(Exception):
    """A console action that the work item's current state does not allow."""


class OfferGone(RoutingError):
    """The offer was withdrawn (timed out, cancelled by the caller) before the agent answered."""


def _rowcount(stmt: Any) -> int:
    result = cast("CursorResult[Any]", db.session.execute(stmt.execution_options(synchronize_session=False)))
    return int(result.rowcount or 0)


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def topic_priority(topic: str) -> int:
    table = setting("ROUTING_TOPIC_PRIORITY", None) or DEFAULT_TOPIC_PRIORITY
    return int(table.get(topic, table.get("*", GENERAL_PRIORITY)))


# --- Events ----------------------------------------------------------------------------------


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


# Who else hears of routing events, in the same transaction. Telephony's call log subscribes
# here (offers, unanswered rings, transfers) so that routing never imports telephony
# (docs/call-flow.md); the application factory registers listeners.
Listener = Callable[[WorkItem, RoutingEvent], None]


@dataclass(frozen=True)
class _Subscription:
    listener: Listener
    kinds: frozenset[str]
    isolated: bool


LISTENERS: dict[str, _Subscription] = {}


def listen(
    name: str, listener: Listener, *, kinds: Iterable[str] | None = None, isolated: bool = True
) -> None:
    """Tell ``listener(item, event)`` about routing events (registered once per name).

    ``kinds``: only these event kinds (None: all). ``isolated``: run the listener in a
    savepoint, so whatever it wrote before failing is undone; a listener whose only writes are
    already in their own savepoints may pass False and save the round trips (routing decisions
    are the hot path). Either way a failing listener is logged and the routing decision stands.
    """
    LISTENERS[name] = _Subscription(listener, frozenset(kinds or ()), isolated)


def _notify(item: WorkItem, event: RoutingEvent) -> None:
    for name, subscription in list(LISTENERS.items()):
        if subscription.kinds and event.kind not in subscription.kinds:
            continue
        try:
            if subscription.isolated:
                with db.session.begin_nested():
                    subscription.listener(item, event)
            else:
                subscription.listener(item, event)
        except Exception:  # noqa: BLE001 - a listener must not undo the routing decision
            log.exception("routing listener %s failed on %s of item %s", name, event.kind, item.id)


def log_event(
    item: WorkItem, kind: str, agent_id: int | None = None, *, when: datetime | None = None, **data: Any
) -> RoutingEvent:
    """Append a routing event (``when`` defaults to now) and tell the listeners."""
    event = RoutingEvent(work_item_id=item.id, kind=kind, agent_id=agent_id, data=data, at=when or utcnow())
    db.session.add(event)
    db.session.flush()
    if LISTENERS:
        _notify(item, event)
    return event


def _queue_changed(item: WorkItem, event: RoutingEvent) -> None:
    payload = {"queue": item.queue, "seq": event.id, "change": event.kind, "item": item_payload(item)}
    publish("queue.updated", payload, f"queue:{item.queue}")
    publish("queue.updated", payload, "supervisors")


def current_seq() -> int:
    """The live queue's version: the newest routing event id (0 when there is none)."""
    return int(db.session.scalar(select(func.max(RoutingEvent.id))) or 0)


# --- Contract: telephony → routing -----------------------------------------------------------


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
    existing = _active(kind, ref_id)
    if existing is not None:
        return existing
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
    try:
        with db.session.begin_nested():
            db.session.add(item)
    except IntegrityError:  # the same call enqueued concurrently
        existing = _active(kind, ref_id)
        if existing is None:
            raise
        return existing
    _queue_changed(item, log_event(item, "enqueued"))
    _route_safely()
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
    changed = _rowcount(
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
    if not changed:  # another process moved it; look again
        db.session.refresh(item)
        if item.status in ACTIVE_ITEM_STATUSES:
            _end(item, status, reason)
        return
    db.session.refresh(item)
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
    _queue_changed(item, event)
    if agent_id is not None and previous == OFFERED_ITEM:
        _route_safely()


def position(kind: str, ref_id: int) -> tuple[int, int | None]:
    """1-based position in the order the router serves, and the estimated wait in seconds.

    The estimate is position × average handle time ÷ agents logged in (not offline), from the
    last 50 completed calls; None when there is no history or nobody is logged in. An item that
    is already offered or connected is at position 1 with no wait left. (0, None): not queued.
    """
    item = _active(kind, ref_id)
    if item is None:
        return 0, None
    if item.status != WAITING:
        return 1, 0
    ahead = db.session.scalar(
        select(func.count(WorkItem.id)).where(
            WorkItem.status == WAITING,
            or_(
                WorkItem.priority > item.priority,
                and_(WorkItem.priority == item.priority, WorkItem.enqueued_at < item.enqueued_at),
                and_(
                    WorkItem.priority == item.priority,
                    WorkItem.enqueued_at == item.enqueued_at,
                    WorkItem.id < item.id,
                ),
            ),
        )
    )
    pos = int(ahead or 0) + 1
    handled = db.session.execute(
        select(WorkItem.connected_at, WorkItem.ended_at)
        .where(WorkItem.status == COMPLETED, WorkItem.connected_at.is_not(None))
        .order_by(WorkItem.ended_at.desc())
        .limit(50)
    ).all()
    staffed = db.session.scalar(
        select(func.count()).select_from(AgentPresence).where(AgentPresence.state != "offline")
    )
    if not handled or not staffed:
        return pos, None
    durations = [(ended - connected).total_seconds() for connected, ended in handled if connected and ended]
    if not durations:
        return pos, None
    aht = sum(durations) / len(durations)
    return pos, int(round(pos * aht / int(staffed)))


# --- Console actions -------------------------------------------------------------------------


def accept(agent_id: int, work_item_id: int) -> WorkItem:
    """The agent answers the offer: connect them (telephony job through the outbox)."""
    now = utcnow()
    changed = _rowcount(
        update(WorkItem)
        .where(
            WorkItem.id == work_item_id,
            WorkItem.status == OFFERED_ITEM,
            WorkItem.agent_id == agent_id,
        )
        .values(status=CONNECTED, connected_at=now, offer_expires_at=None, version=WorkItem.version + 1)
    )
    if not changed:
        raise OfferGone(work_item_id)
    item = db.session.get(WorkItem, work_item_id)
    assert item is not None
    db.session.refresh(item)
    transition(agent_id, ON_CALL, item.kind, allowed_from=(OFFERED,), work_item_id=item.id, now=now)
    record_intent(
        CONNECT_JOB[item.kind],
        item.id,
        queue="telephony",
        key=f"routing:{item.kind}:{item.id}:connect:{item.offers}",
    )
    _queue_changed(item, log_event(item, "accepted", agent_id))
    return item


def held_item(agent_id: int, work_item_id: int | None = None) -> WorkItem | None:
    """The contact ``agent_id`` is connected to (``work_item_id``: only that one): accepted,
    not ended and not handed on. An agent's softphone may act only on this."""
    query = select(WorkItem).where(WorkItem.agent_id == agent_id, WorkItem.status == CONNECTED)
    if work_item_id is not None:
        query = query.where(WorkItem.id == work_item_id)
    return db.session.scalar(query.order_by(WorkItem.id.desc()).limit(1))


def decline(agent_id: int, work_item_id: int, reason: str = "declined") -> None:
    """The agent turns the offer down: the item goes to someone else; the agent stays free."""
    item = db.session.get(WorkItem, work_item_id)
    if item is None or not _requeue_offer(item, agent_id, reason):
        raise OfferGone(work_item_id)
    transition(agent_id, AVAILABLE, reason, allowed_from=(OFFERED,), work_item_id=item.id, keep_idle=True)
    _route_safely()


def _requeue_offer(item: WorkItem, agent_id: int, reason: str, now: datetime | None = None) -> bool:
    """Offered → waiting, never offered to ``agent_id`` again."""
    excluded = sorted({*(item.excluded_agents or []), agent_id})
    changed = _rowcount(
        update(WorkItem)
        .where(WorkItem.id == item.id, WorkItem.status == OFFERED_ITEM, WorkItem.agent_id == agent_id)
        .values(
            status=WAITING,
            agent_id=None,
            offer_expires_at=None,
            excluded_agents=excluded,
            version=WorkItem.version + 1,
        )
    )
    if not changed:
        return False
    db.session.refresh(item)
    publish(
        "offer.cancelled",
        {"work_item_id": item.id, "reason": reason, "version": item.version},
        f"user:{agent_id}",
    )
    _queue_changed(item, log_event(item, reason, agent_id, when=now))
    return True


def withdraw_offer(agent_id: int, reason: str, now: datetime | None = None) -> None:
    """Take back whatever the agent is being offered (logout, console lost)."""
    item = db.session.scalar(
        select(WorkItem).where(WorkItem.agent_id == agent_id, WorkItem.status == OFFERED_ITEM)
    )
    if item is not None:
        _requeue_offer(item, agent_id, reason, now)
        transition(
            agent_id,
            AVAILABLE,
            reason,
            allowed_from=(OFFERED,),
            work_item_id=item.id,
            keep_idle=True,
            now=now,
        )


def expire_offers(now: datetime | None = None) -> list[int]:
    """Offers not answered in time go back to the queue; the silent agent is set away."""
    now = now or utcnow()
    items = db.session.scalars(
        select(WorkItem).where(WorkItem.status == OFFERED_ITEM, WorkItem.offer_expires_at < now)
    ).all()
    expired = []
    for item in items:
        agent_id = item.agent_id
        if agent_id is None or not _requeue_offer(item, agent_id, "no_answer", now):
            continue
        transition(agent_id, AWAY, "no_answer", allowed_from=(OFFERED,), work_item_id=item.id, now=now)
        expired.append(item.id)
    return expired


def finish_wrap_up(
    agent_id: int, work_item_id: int | None = None, disposition: str | None = None, *, note: str | None = None
) -> None:
    """The agent saves the disposition (and a note) and is ready for the next contact."""
    if work_item_id is not None and disposition:
        _rowcount(
            update(WorkItem)
            .where(WorkItem.id == work_item_id, WorkItem.status.in_((COMPLETED, CANCELLED, CONNECTED)))
            .values(disposition=disposition[:32])
        )
        item = db.session.get(WorkItem, work_item_id)
        if item is not None:
            log_event(item, "disposition", agent_id, disposition=disposition[:32], note=note)
    if transition(agent_id, AVAILABLE, "wrap_up_done", allowed_from=(WRAP_UP,), work_item_id=work_item_id):
        _route_safely()


def transfer(
    agent_id: int,
    work_item_id: int,
    *,
    to_agent_id: int | None = None,
    language: str | None = None,
    topic: str | None = None,
) -> WorkItem:
    """Hand a connected item to another agent or queue: it waits again (keeping its place by
    its original enqueue time) and the transferring agent goes to wrap-up."""
    item = db.session.get(WorkItem, work_item_id)
    if item is None:
        raise RoutingError(work_item_id)
    values: dict[str, Any] = {
        "status": WAITING,
        "agent_id": None,
        "target_agent_id": to_agent_id,
        "excluded_agents": sorted({*(item.excluded_agents or []), agent_id}),
        "version": WorkItem.version + 1,
    }
    if language:
        values["language"] = language
    if topic in CATEGORIES:
        values["topic"] = topic
        values["priority"] = topic_priority(topic)
    changed = _rowcount(
        update(WorkItem)
        .where(WorkItem.id == work_item_id, WorkItem.status == CONNECTED, WorkItem.agent_id == agent_id)
        .values(**values)
    )
    if not changed:
        raise RoutingError(work_item_id)
    db.session.refresh(item)
    transition(agent_id, WRAP_UP, "transferred", allowed_from=(ON_CALL,), work_item_id=item.id)
    _queue_changed(
        item,
        log_event(
            item, "transferred", agent_id, to_agent_id=to_agent_id, language=item.language, topic=item.topic
        ),
    )
    _route_safely()
    return item


# --- The router ------------------------------------------------------------------------------


@dataclass
class Candidate:
    agent_id: int
    idle_since: datetime
    languages: set[str] = field(default_factory=set)
    topics: set[str] = field(default_factory=set)

    def speaks(self, language: str) -> bool:
        return language in (self.languages or {"id"})

    def handles(self, topic: str) -> bool:
        return not self.topics or topic in self.topics


def relaxation_stage(waited: float) -> int:
    """0: language and topic must match; 1: the language (or Indonesian) is enough; 2: anyone."""
    if waited >= setting("ROUTING_RELAX_ANY_AFTER", 180):
        return 2
    if waited >= setting("ROUTING_RELAX_LANGUAGE_AFTER", 60):
        return 1
    return 0


def eligible(agent: Candidate, item: WorkItem | Waiting, stage: int) -> bool:
    if agent.agent_id in (item.excluded_agents or ()):
        return False
    if item.target_agent_id is not None:
        return agent.agent_id == item.target_agent_id
    if stage >= 2:
        return True
    if stage == 1:
        return agent.speaks(item.language) or agent.speaks("id")
    return agent.speaks(item.language) and agent.handles(item.topic)


def available_agents() -> list[Candidate]:
    """Available agents, longest idle first, with their skills."""
    rows = db.session.execute(
        select(AgentPresence.agent_id, AgentPresence.last_idle_since, AgentPresence.state_since)
        .where(AgentPresence.state == AVAILABLE)
        .order_by(AgentPresence.last_idle_since.asc().nulls_first(), AgentPresence.agent_id)
    ).all()
    agents = {r.agent_id: Candidate(r.agent_id, r.last_idle_since or r.state_since) for r in rows}
    if not agents:
        return []
    for agent_id, kind, value in db.session.execute(
        select(AgentSkill.agent_id, AgentSkill.kind, AgentSkill.value).where(
            AgentSkill.agent_id.in_(list(agents))
        )
    ):
        target = agents[agent_id].languages if kind == "language" else agents[agent_id].topics
        target.add(value)
    return list(agents.values())


@dataclass
class Waiting:
    """The columns of a waiting item the router decides on (rows, not ORM objects: cheap)."""

    id: int
    language: str
    topic: str
    enqueued_at: datetime
    excluded_agents: list[int]
    target_agent_id: int | None


def spoken_by(agents: list[Candidate]) -> set[str]:
    return set().union(*((a.languages or {"id"}) for a in agents)) if agents else set()


def waiting_items(spoken: set[str], now: datetime, limit: int, offset: int = 0) -> list[Waiting]:
    """Waiting items in service order (highest priority, then longest waiting), leaving out
    items that no agent speaking ``spoken`` could take yet (a language nobody free speaks,
    before the wait relaxes it), so a free agent's match is found even deep in a long queue."""
    reachable: list[ColumnElement[bool]] = [
        WorkItem.language.in_(sorted(spoken)),
        WorkItem.target_agent_id.is_not(None),
    ]
    if "id" in spoken:
        relax_language = now - timedelta(seconds=setting("ROUTING_RELAX_LANGUAGE_AFTER", 60))
        reachable.append(WorkItem.enqueued_at <= relax_language)
    reachable.append(WorkItem.enqueued_at <= now - timedelta(seconds=setting("ROUTING_RELAX_ANY_AFTER", 180)))
    rows = db.session.execute(
        select(
            WorkItem.id,
            WorkItem.language,
            WorkItem.topic,
            WorkItem.enqueued_at,
            WorkItem.excluded_agents,
            WorkItem.target_agent_id,
        )
        .where(WorkItem.status == WAITING, or_(*reachable))
        .order_by(WorkItem.priority.desc(), WorkItem.enqueued_at, WorkItem.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return [
        Waiting(r.id, r.language, r.topic, r.enqueued_at, list(r.excluded_agents or ()), r.target_agent_id)
        for r in rows
    ]


def offer(item_id: int, agent_id: int, now: datetime | None = None) -> bool:
    """Offer one waiting item to one available agent; False if either was taken meanwhile.

    Runs in a savepoint: either both conditional UPDATEs happen or neither does. On PostgreSQL
    the rows are locked with SKIP LOCKED first, so a row another router is working on is
    skipped instead of waited for.
    """
    now = now or utcnow()
    expires = now + timedelta(seconds=setting("ROUTING_OFFER_TIMEOUT", 20))
    try:
        with db.session.begin_nested():
            claim = update(WorkItem).where(WorkItem.id == item_id, WorkItem.status == WAITING)
            if _is_postgres():
                claim = claim.where(
                    WorkItem.id.in_(
                        select(WorkItem.id).where(WorkItem.id == item_id).with_for_update(skip_locked=True)
                    )
                )
            version = db.session.scalar(
                claim.values(
                    status=OFFERED_ITEM,
                    agent_id=agent_id,
                    offered_at=now,
                    offer_expires_at=expires,
                    offers=WorkItem.offers + 1,
                    target_agent_id=None,
                    version=WorkItem.version + 1,
                )
                .returning(WorkItem.version)
                .execution_options(synchronize_session=False)
            )
            if version is None:
                raise _Skip
            if not transition(
                agent_id,
                OFFERED,
                "offer",
                allowed_from=(AVAILABLE,),
                work_item_id=item_id,
                skip_locked=True,
                now=now,
            ):
                raise _Skip
            db.session.flush()  # the partial unique index speaks here, inside the savepoint
    except (_Skip, IntegrityError):
        return False
    item = db.session.get(WorkItem, item_id, populate_existing=True)
    assert item is not None
    event = log_event(item, "offered", agent_id, when=now)
    publish(
        "offer",
        {
            "work_item": item_payload(item, now),
            "expires_at": expires.isoformat(),
            "timeout": setting("ROUTING_OFFER_TIMEOUT", 20),
            "version": item.version,
        },
        f"user:{agent_id}",
    )
    _queue_changed(item, event)
    return True


class _Skip(Exception):
    pass


def route(
    now: datetime | None = None, limit: int | None = None, *, commit: bool = False
) -> list[tuple[int, int]]:
    """Offer waiting items to available agents; returns the (item id, agent id) offers made.

    Item by item in service order, each to the longest-idle agent eligible for it now.
    ``commit`` (the periodic tick, which owns its transaction): commit after every offer, so
    each agent rings at once and holds no locks while a long pass (a shift starting) runs.
    """
    now = now or utcnow()
    agents = available_agents()
    if not agents:
        return []
    made: list[tuple[int, int]] = []
    scan = limit or setting("ROUTING_SCAN_LIMIT", 2000)
    # Pages that grow: one free agent usually matches near the head of the queue.
    # The filter stays fixed for the whole pass, so that offsets stay meaningful.
    spoken = spoken_by(agents)
    offset, page = 0, max(32, 2 * len(agents))
    while agents and offset < scan:
        size = min(page, scan - offset)
        batch = waiting_items(spoken, now, size, offset)
        before = len(made)
        for item in batch:
            if not agents:
                break
            if _try_item(item, agents, now, made) and commit:
                db.session.commit()
        if len(batch) < size:
            break
        # Items offered from this page are no longer waiting: the next page starts earlier.
        offset += len(batch) - (len(made) - before)
        page *= 4
    return made


def _try_item(item: Waiting, agents: list[Candidate], now: datetime, made: list[tuple[int, int]]) -> bool:
    stage = relaxation_stage((now - item.enqueued_at).total_seconds())
    for agent in [a for a in agents if eligible(a, item, stage)]:
        if offer(item.id, agent.agent_id, now):
            made.append((item.id, agent.agent_id))
            agents.remove(agent)
            return True
        # Either the agent or the item was taken by another router.
        if _agent_gone(agent.agent_id):
            agents.remove(agent)
            continue
        return False
    return False


def _agent_gone(agent_id: int) -> bool:
    state = db.session.scalar(select(AgentPresence.state).where(AgentPresence.agent_id == agent_id))
    return state != AVAILABLE


def _route_safely() -> None:
    """Route inside the caller's transaction; a routing failure must not fail the caller
    (the periodic tick will route what is left)."""
    try:
        with db.session.begin_nested():
            route()
    except (OperationalError, IntegrityError):
        log.exception("routing deferred to the next tick")


def tick(now: datetime | None = None, *, commit: bool = False) -> dict[str, Iterable[Any]]:
    """The periodic pass: time-outs, wrap-up ends, lost consoles, then routing.

    With ``commit`` (the job), each step commits, and routing commits per offer.
    """
    now = now or utcnow()
    result: dict[str, Iterable[Any]] = {}
    for name, step in (
        ("expired_offers", expire_offers),
        ("wrap_up_over", end_wrap_ups),
        ("offline", expire_lost_consoles),
    ):
        result[name] = step(now)
        if commit:
            db.session.commit()
    result["offers"] = route(now, commit=commit)
    return result
