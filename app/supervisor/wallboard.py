"""The wallboard snapshot, and the periodic step that pushes it to supervisors when it changes.

One snapshot answers everything the big screen shows: calls waiting per queue and since when,
the calls agents are on (which a supervisor may join: listen, whisper, barge), agents by state,
today's service level, ASA, AHT and abandonment (the definitions of ``app.supervisor.kpis``), the
IVR self-service's containment rate, callbacks pending and tickets at risk or breached. Waits are
sent as
the time the oldest call entered the queue, not as an age, so the snapshot only changes when
something happens; the page counts the seconds itself.

Delivery: :func:`wallboard_step` (a periodic job of ``flask jobs worker``) builds the
snapshot every ``SUPERVISOR_WALLBOARD_SECONDS`` and emits ``wallboard.snapshot`` to the
``supervisors`` room only when its fingerprint changed — a burst of call events becomes one
push. With several workers, the last fingerprint is kept in Redis so only one of them pushes a
given change. Pushes are at-most-once: the page fetches ``/supervisor/api/wallboard`` on every
(re)connect.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select, text

from app.agents.models import ACTIVE_ITEM_STATUSES, AGENT_STATES, CONNECTED, AgentPresence, WorkItem
from app.core.realtime import emit_now
from app.core.time import utcnow
from app.extensions import db
from app.records.models import Member
from app.staff.models import User
from app.supervisor import kpis
from app.telephony import supervision
from app.telephony.models import CallbackRequest
from app.tickets.models import OPEN_STATUS_SQL, Ticket

log = logging.getLogger(__name__)

EVENT = "wallboard.snapshot"
ROOM = "supervisors"
AT_RISK_WITHIN = timedelta(hours=1)
PENDING_CALLBACKS = ("pending", "scheduled")
_FINGERPRINT_KEY = "halopmi:wallboard:fingerprint"


def ticket_sla_counts(now: datetime | None = None) -> dict[str, int]:
    """Open tickets the SLA engine has marked at risk (a warning recorded on a target still
    running) or breached (a breach recorded in this cycle): its ``sla_status``, kept by
    ``app.sla.services.reconcile`` and the sweep, read through ``ix_tickets_sla_status_status``."""
    rows = db.session.execute(
        select(Ticket.sla_status, func.count())
        .where(Ticket.sla_status.in_(("at_risk", "breached")), text(OPEN_STATUS_SQL))
        .group_by(Ticket.sla_status)
    ).all()
    counts = {str(status): int(n) for status, n in rows}
    return {"breached": counts.get("breached", 0), "at_risk": counts.get("at_risk", 0)}


def live_queues() -> dict[str, dict[str, Any]]:
    """Calls not yet connected, per queue (language): how many, and since when the oldest."""
    rows = db.session.execute(
        select(WorkItem.language, func.count(), func.min(WorkItem.enqueued_at))
        .where(
            WorkItem.kind == "call", WorkItem.status.in_(ACTIVE_ITEM_STATUSES), WorkItem.status != CONNECTED
        )
        .group_by(WorkItem.language)
    ).all()
    return {
        language: {"waiting": int(count), "oldest_since": oldest.isoformat() if oldest else None}
        for language, count, oldest in rows
    }


def agents_by_state() -> dict[str, int]:
    counts = dict.fromkeys(AGENT_STATES, 0)
    for state, count in db.session.execute(
        select(AgentPresence.state, func.count())
        .join(User, User.id == AgentPresence.agent_id)
        .where(User.active.is_(True))
        .group_by(AgentPresence.state)
    ):
        counts[state] = int(count)
    return counts


def live_calls() -> list[dict[str, Any]]:
    """The calls agents are on now, longest first: who, in which language, on what, from where,
    since when (talk time with this agent), and the supervisors on each (to join from here).
    Codes, not labels: the page names them in its reader's language."""
    lives = supervision.live_calls()
    on = supervision.active_on(live.call.id for live in lives)
    people = {live.item.agent_id for live in lives} | {
        row.supervisor_id for rows in on.values() for row in rows if row.supervisor_id
    }
    names = (
        {uid: name for uid, name in db.session.execute(select(User.id, User.name).where(User.id.in_(people)))}
        if people
        else {}
    )
    # Where the caller is, as the agent's screen pop says it: the member's placement country,
    # else the country of the number she calls from (none for a browser call).
    members = {live.item.member_id for live in lives if live.item.member_id}
    placed = (
        {
            mid: country
            for mid, country in db.session.execute(
                select(Member.id, Member.placement_country).where(Member.id.in_(members))
            )
        }
        if members
        else {}
    )
    return [
        {
            "call_id": live.call.id,
            "work_item_id": live.item.id,
            "kind": live.item.kind,
            "agent_id": live.item.agent_id,
            "agent_name": names.get(live.item.agent_id, ""),
            "language": live.item.language,
            "topic": live.item.topic,
            "country": placed.get(live.item.member_id or 0) or live.item.country or live.call.caller_country,
            "since": live.since.isoformat(),
            "supervisors": [
                {
                    "id": row.supervisor_id,
                    "name": names.get(row.supervisor_id or 0, ""),
                    "mode": row.mode,
                    "status": row.status,
                }
                for row in on.get(live.call.id, [])
            ],
        }
        for live in lives
    ]


def _figures(figures: kpis.Figures) -> dict[str, Any]:
    return {
        "offered": figures.offered,
        "answered": figures.answered,
        "abandoned": figures.abandoned,
        "short_abandoned": figures.short_abandoned,
        "callbacks": figures.callbacks,
        "service_level": figures.service_level,
        "asa": figures.asa,
        "aht": figures.aht,
        "abandon_rate": figures.abandon_rate,
    }


def snapshot(now: datetime | None = None, settings: kpis.KpiSettings | None = None) -> dict[str, Any]:
    """Everything the wallboard shows, as JSON-ready data."""
    now = now or utcnow()
    settings = settings or kpis.KpiSettings.from_config()
    local = now.astimezone(settings.zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    today = kpis.call_report(
        midnight, now + timedelta(seconds=1), interval="day", dimension="queue", settings=settings, now=now
    )
    live = live_queues()
    queues = sorted(set(live) | set(today.totals))
    data: dict[str, Any] = {
        "queues": [
            {
                "queue": queue,
                "waiting": live.get(queue, {}).get("waiting", 0),
                "oldest_since": live.get(queue, {}).get("oldest_since"),
                "today": _figures(today.totals[queue]) if queue in today.totals else None,
            }
            for queue in queues
        ],
        "waiting": sum(item["waiting"] for item in live.values()),
        "oldest_since": min(
            (item["oldest_since"] for item in live.values() if item["oldest_since"]), default=None
        ),
        "agents": agents_by_state(),
        "today": _figures(today.overall),
        # IVR self-service today, apart from the queue: its containment rate and counts.
        "self_service": today.self_service_overall.as_dict(),
        "callbacks_pending": int(
            db.session.scalar(
                select(func.count())
                .select_from(CallbackRequest)
                .where(CallbackRequest.status.in_(PENDING_CALLBACKS))
            )
            or 0
        ),
        "tickets": ticket_sla_counts(now),
        "calls": live_calls(),
        "settings": {
            "answer_target": settings.answer_target,
            "short_abandon": settings.short_abandon,
            "target_service_level": settings.target_service_level,
            "timezone": settings.timezone,  # "today" is counted there; the page's clock shows it
        },
        "day": midnight.date().isoformat(),
    }
    data["fingerprint"] = fingerprint(data)
    data["generated_at"] = now.isoformat()
    return data


def fingerprint(data: dict[str, Any]) -> str:
    """A digest of what the screen shows (not of when it was computed)."""
    content = {key: value for key, value in data.items() if key not in ("generated_at", "fingerprint")}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Publisher:
    """Pushes a snapshot when its fingerprint differs from the last one pushed (by anyone)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.last: str | None = None
        self.redis: Any = None
        try:
            from app.core.jobs import redis_connection

            self.redis = redis_connection(app)
        except Exception:  # noqa: BLE001 - without Redis each process coalesces on its own
            self.redis = None

    def _claim(self, digest: str) -> bool:
        """True when this process should push ``digest`` (nobody pushed it last)."""
        if digest == self.last:
            return False
        self.last = digest
        if self.redis is None:
            return True
        try:
            previous = self.redis.set(_FINGERPRINT_KEY, digest, ex=3600, get=True)
        except Exception:  # noqa: BLE001 - Redis down: push anyway, clients tolerate repeats
            return True
        return (previous.decode() if isinstance(previous, bytes) else previous) != digest

    def tick(self) -> bool:
        """Build the snapshot; push it if it changed. Returns whether it pushed."""
        data = snapshot()
        if not self._claim(data["fingerprint"]):
            return False
        emit_now(EVENT, data, ROOM)
        return True


def wallboard_step(app: Flask) -> Callable[[], bool]:
    """The periodic job ``wallboard`` (every ``SUPERVISOR_WALLBOARD_SECONDS``): push the
    snapshot to supervisors when it changed."""
    return Publisher(app).tick
