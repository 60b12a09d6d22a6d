"""The router: which waiting item is offered to which available agent, and the offer itself.

Item by item in service order (highest priority, then longest waiting), each to the available
agent idle the longest who is eligible for it now; skill requirements relax as the item waits
(``ROUTING_RELAX_LANGUAGE_AFTER``, ``ROUTING_RELAX_ANY_AFTER``). Concurrency: see the package
docstring (``app.agents.routing``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.sql.elements import ColumnElement

from app.agents.models import AVAILABLE, OFFERED, OFFERED_ITEM, WAITING, AgentPresence, AgentSkill, WorkItem
from app.agents.routing.presence import setting, transition
from app.agents.routing.queue import item_payload, log_event, queue_changed
from app.core.realtime import publish
from app.core.time import utcnow
from app.extensions import db

log = logging.getLogger(__name__)


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


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
    claimed: WorkItem | None = None
    try:
        with db.session.begin_nested():
            claim = update(WorkItem).where(WorkItem.id == item_id, WorkItem.status == WAITING)
            if _is_postgres():
                claim = claim.where(
                    WorkItem.id.in_(
                        select(WorkItem.id).where(WorkItem.id == item_id).with_for_update(skip_locked=True)
                    )
                )
            claimed = db.session.scalar(
                claim.values(
                    status=OFFERED_ITEM,
                    agent_id=agent_id,
                    offered_at=now,
                    offer_expires_at=expires,
                    offers=WorkItem.offers + 1,
                    target_agent_id=None,
                    version=WorkItem.version + 1,
                )
                .returning(WorkItem)  # the item as offered, into the session: no read after
                .execution_options(synchronize_session=False, populate_existing=True)
            )
            if claimed is None:
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
        if claimed is not None:  # rolled back with the savepoint: what RETURNING put there is void
            db.session.expire(claimed)
        return False
    assert claimed is not None
    item = claimed
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
    queue_changed(item, event)
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


def route_safely() -> None:
    """Route inside the caller's transaction; a routing failure must not fail the caller
    (the periodic tick will route what is left)."""
    try:
        with db.session.begin_nested():
            route()
    except (OperationalError, IntegrityError):
        log.exception("routing deferred to the next tick")


