"""SLA policies, business calendars and the SLA event log.

A policy is data an administrator edits: which tickets it covers (categories, priorities,
channels; empty = any), its first-response and resolution targets in minutes of the policy's
calendar (or of the clock, for 24/7), when to warn (share of the target elapsed) and how to
escalate a breach. Policies are tried in ``position`` order; the first that matches applies.

``SlaEvent`` is the record of warnings and breaches: ``uq_sla_events_once`` makes each (ticket,
target, kind, cycle) happen once, however many sweeps run at the same time. A ticket's ``cycle``
grows when it is reopened, so a reopened ticket has a fresh resolution promise.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.time import utcnow
from app.core.types import UTCDateTime
from app.extensions import db

TARGETS = ("first_response", "resolution")
EVENT_KINDS = ("warning", "breach")


class BusinessCalendar(db.Model):  # type: ignore[name-defined]
    __tablename__ = "sla_calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Jakarta")
    always_open: Mapped[bool] = mapped_column(Boolean, default=False)
    # {"0": [["08:00", "12:00"], ["13:00", "16:30"]], …}: weekday (0 = Monday) → windows.
    weekly: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Public holidays of this country from the `holidays` package ("ID"), or none.
    holiday_country: Mapped[str | None] = mapped_column(String(2), default="ID")
    # Indonesia's joint leave days (cuti bersama) closed too; public-facing desks often stay open.
    closed_on_cuti_bersama: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    overrides: Mapped[list[CalendarOverride]] = relationship(
        back_populates="calendar", order_by="CalendarOverride.day", cascade="all, delete-orphan"
    )


class CalendarOverride(db.Model):  # type: ignore[name-defined]
    """One date that differs from the rule: closed (no windows) or open with its own windows."""

    __tablename__ = "sla_calendar_overrides"
    __table_args__ = (UniqueConstraint("calendar_id", "day", name="uq_sla_calendar_overrides_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("sla_calendars.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    windows: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [] = closed
    note: Mapped[str | None] = mapped_column(String(200))

    calendar: Mapped[BusinessCalendar] = relationship(back_populates="overrides")


class SlaPolicy(db.Model):  # type: ignore[name-defined]
    __tablename__ = "sla_policies"
    __table_args__ = (
        CheckConstraint("first_response_minutes > 0 AND resolution_minutes > 0", name="targets"),
        CheckConstraint("warn_percent > 0 AND warn_percent < 100", name="warn_percent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=100)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    priorities: Mapped[list[str]] = mapped_column(JSON, default=list)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("sla_calendars.id", ondelete="RESTRICT"))
    warn_percent: Mapped[int] = mapped_column(Integer, default=80)
    # On a breach: raise the priority to this level (never lowers it) and/or hand the ticket to
    # this user (a team lead).
    escalate_priority: Mapped[str | None] = mapped_column(String(8))
    escalate_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    calendar: Mapped[BusinessCalendar | None] = relationship()

    def matches(self, *, category: str, priority: str, channel: str) -> bool:
        return (
            self.active
            and (not self.categories or category in self.categories)
            and (not self.priorities or priority in self.priorities)
            and (not self.channels or channel in self.channels)
        )


class SlaEvent(db.Model):  # type: ignore[name-defined]
    __tablename__ = "sla_events"
    __table_args__ = (
        UniqueConstraint("ticket_id", "target", "kind", "cycle", name="uq_sla_events_once"),
        Index("ix_sla_events_at", "at"),
        Index("ix_sla_events_batch", "batch"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id", ondelete="SET NULL"))
    target: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8))
    cycle: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The sweep that recorded it (follow-up work selects its own rows by this).
    batch: Mapped[str | None] = mapped_column(String(32))
