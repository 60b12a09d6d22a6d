"""Presence, skills and the live queue: agents' states, work items and routing events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.time import utcnow
from app.core.types import UTCDateTime
from app.extensions import db

# The invariants of the live queue live in the database, not in the router's memory:
#
# * a work item moves ``waiting`` → ``offered`` only through a conditional UPDATE
#   (``… WHERE status = 'waiting'``), so two routers can never both offer it;
# * ``uq_work_items_agent_active`` is a partial unique index on ``agent_id`` over the items that
#   are ``offered`` or ``connected``: an agent can hold at most one offer or call, whatever a
#   buggy or crashed router does (PostgreSQL and SQLite both enforce partial unique indexes);
# * ``uq_work_items_active_ref`` makes enqueueing idempotent: one live item per call/callback.

AGENT_STATES = ("offline", "available", "offered", "on_call", "wrap_up", "away")
OFFLINE, AVAILABLE, OFFERED, ON_CALL, WRAP_UP, AWAY = AGENT_STATES

WORK_KINDS = ("call", "callback")
WORK_STATUSES = ("waiting", "offered", "connected", "completed", "cancelled")
WAITING, OFFERED_ITEM, CONNECTED, COMPLETED, CANCELLED = WORK_STATUSES
ACTIVE_ITEM_STATUSES = (WAITING, OFFERED_ITEM, CONNECTED)
# The partial unique index's predicate (one live item per call or call-back), as SQL; also the
# conflict target of the enqueue's INSERT ... ON CONFLICT DO NOTHING.
LIVE_ITEM_PREDICATE = "status IN ('waiting', 'offered', 'connected')"
HELD_ITEM_STATUSES = (OFFERED_ITEM, CONNECTED)

SKILL_KINDS = ("language", "topic")
# The languages agents speak with callers (the values of ``language`` skills, and the live
# queues' names): the UI languages, regional languages of Indonesia and host-country languages.
# Named in their own language, as in the language switch.
SKILL_LANGUAGES = {
    "id": "Bahasa Indonesia", "en": "English", "jv": "Basa Jawa", "su": "Basa Sunda",
    "sas": "Sasak", "mad": "Madura", "zh-TW": "中文 (臺灣)", "yue": "粵語", "ko": "한국어",
    "ar": "العربية", "ms": "Bahasa Melayu", "ja": "日本語",
}  # fmt: skip


class AgentPresence(db.Model):  # type: ignore[name-defined]
    """One row per agent: the current state. Every change also writes an AgentStateEvent."""

    __tablename__ = "agent_presence"
    __table_args__ = (
        CheckConstraint(
            "state IN ('offline', 'available', 'offered', 'on_call', 'wrap_up', 'away')",
            name="state",
        ),
        Index("ix_agent_presence_state_idle", "state", "last_idle_since"),
    )

    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default=OFFLINE)
    reason: Mapped[str | None] = mapped_column(String(64))
    state_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the agent last became free for work: the longest-idle agent is offered first.
    last_idle_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Wrap-up ends at this time (then the agent is available again).
    wrap_up_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Refreshed while a console socket of this agent is connected to some web process (each
    # process heartbeats its own sockets); stale past the grace period means the console is gone.
    console_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)


class AgentStateEvent(db.Model):  # type: ignore[name-defined]
    """Append-only log of presence changes (the source of occupancy and state reports)."""

    __tablename__ = "agent_state_events"
    __table_args__ = (
        Index("ix_agent_state_events_agent_at", "agent_id", "at"),
        # Supervision: occupancy over a period reads every agent's changes by time; a call's
        # wrap-up is found from its work item.
        Index("ix_agent_state_events_at", "at"),
        Index("ix_agent_state_events_work_item", "work_item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    work_item_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgentSkill(db.Model):  # type: ignore[name-defined]
    """A language (``id``, ``en``, ``jv``…) or topic (a ticket category) an agent handles."""

    __tablename__ = "agent_skills"
    __table_args__ = (
        UniqueConstraint("agent_id", "kind", "value", name="uq_agent_skills_agent_kind_value"),
        CheckConstraint("kind IN ('language', 'topic')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(32))


class WorkItem(db.Model):  # type: ignore[name-defined]
    """A call or callback waiting for (or being handled by) an agent."""

    __tablename__ = "work_items"
    __table_args__ = (
        CheckConstraint("kind IN ('call', 'callback')", name="kind"),
        CheckConstraint(
            "status IN ('waiting', 'offered', 'connected', 'completed', 'cancelled')", name="status"
        ),
        # Held items name their agent, waiting ones none; finished ones keep who handled them.
        CheckConstraint(
            "(status IN ('offered', 'connected') AND agent_id IS NOT NULL)"
            " OR (status = 'waiting' AND agent_id IS NULL)"
            " OR status IN ('completed', 'cancelled')",
            name="agent_when_held",
        ),
        Index(
            "uq_work_items_agent_active",
            "agent_id",
            unique=True,
            postgresql_where=text("status IN ('offered', 'connected')"),
            sqlite_where=text("status IN ('offered', 'connected')"),
        ),
        Index(
            "uq_work_items_active_ref",
            "kind",
            "ref_id",
            unique=True,
            postgresql_where=text(LIVE_ITEM_PREDICATE),
            sqlite_where=text(LIVE_ITEM_PREDICATE),
        ),
        Index("ix_work_items_status_priority", "status", "priority", "enqueued_at"),
        Index("ix_work_items_kind_ref", "kind", "ref_id"),  # a call's work items (reports)
        Index("ix_work_items_status_expires", "status", "offer_expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    ref_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=WAITING)
    language: Mapped[str] = mapped_column(String(16), default="id")
    topic: Mapped[str] = mapped_column(String(32), default="other")
    country: Mapped[str | None] = mapped_column(String(2))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    ticket_id: Mapped[int | None] = mapped_column(Integer)
    member_id: Mapped[int | None] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Agents who declined or let the offer ring out: not offered this item again.
    excluded_agents: Mapped[list[int]] = mapped_column(JSON, default=list)
    # A transfer to a named agent: only that agent is offered the item.
    target_agent_id: Mapped[int | None] = mapped_column(Integer)
    offers: Mapped[int] = mapped_column(Integer, default=0)
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(64))
    disposition: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)

    @property
    def queue(self) -> str:
        return self.language


class RoutingEvent(db.Model):  # type: ignore[name-defined]
    """Append-only log of what happened to work items; its id is the live queue's version."""

    __tablename__ = "routing_events"
    __table_args__ = (Index("ix_routing_events_item", "work_item_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    agent_id: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
