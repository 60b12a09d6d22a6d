"""The periodic pass: offers not answered in time, wrap-ups that are over, consoles lost past
the grace period, then routing (which also relaxes skills as items wait longer).

It runs as the job ``app.agents.tasks.tick`` or the ``run_router_loop`` thread, possibly in
several processes at once: every change is a conditional UPDATE.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from app.agents.models import AWAY, OFFERED, OFFERED_ITEM, OFFLINE, ON_CALL, AgentPresence, WorkItem
from app.agents.routing.operations import requeue_offer, withdraw_offer
from app.agents.routing.presence import end_wrap_ups, setting, transition
from app.agents.routing.router import route
from app.core.time import utcnow
from app.extensions import db


def expire_offers(now: datetime | None = None) -> list[int]:
    """Offers not answered in time go back to the queue; the silent agent is set away."""
    now = now or utcnow()
    items = db.session.scalars(
        select(WorkItem).where(WorkItem.status == OFFERED_ITEM, WorkItem.offer_expires_at < now)
    ).all()
    expired = []
    for item in items:
        agent_id = item.agent_id
        if agent_id is None or not requeue_offer(item, agent_id, "no_answer", now):
            continue
        transition(agent_id, AWAY, "no_answer", allowed_from=(OFFERED,), work_item_id=item.id, now=now)
        expired.append(item.id)
    return expired


def expire_lost_consoles(now: datetime | None = None) -> list[int]:
    """Agents whose consoles have all been gone longer than the grace period go offline."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=setting("PRESENCE_GRACE_SECONDS", 30))
    rows = db.session.scalars(
        select(AgentPresence.agent_id).where(
            AgentPresence.state.not_in((OFFLINE, ON_CALL)),
            or_(AgentPresence.console_seen_at.is_(None), AgentPresence.console_seen_at < cutoff),
        )
    ).all()
    gone = []
    for agent_id in rows:
        withdraw_offer(agent_id, reason="console_lost", now=now)
        if transition(agent_id, OFFLINE, "console_lost", now=now):
            gone.append(agent_id)
    return gone


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
