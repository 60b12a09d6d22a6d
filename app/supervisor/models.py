"""Roll-ups of the call and presence logs, for reports over weeks and months.

The logs stay the source of truth; these tables hold the same facts in the shape the reports
sum, for whole UTC days that are over (``app.supervisor.rollup`` writes them, a day at a time:
first soon after the day ends, then once more when nothing more can happen to its calls). Reports read rolled-up days from here and
everything else (today, the edges of a period) from the logs, with the same definitions, so a
figure does not depend on which side it came from (tests/supervisor/test_rollup.py).

* :class:`CallFactRow` — one row per call that entered the queue: how it left the queue, its
  wait, talk and wrap-up. Any answer target or short-abandon threshold can be applied to it.
* :class:`AgentTimeSlot` — seconds busy / idle / away per agent and 15-minute slot (UTC), which
  every report interval (15, 30, 60 minutes, a day) is made of.
* :class:`RollupDay` — which UTC days are rolled up, and whether for good.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.time import utcnow
from app.core.types import UTCDateTime
from app.extensions import db

SLOT_SECONDS = 900


class CallFactRow(db.Model):  # type: ignore[name-defined]
    __tablename__ = "call_facts"
    __table_args__ = (Index("ix_call_facts_queued_at", "queued_at"),)

    call_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    language: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(32))
    agent_id: Mapped[int | None] = mapped_column(Integer)  # who answered
    outcome: Mapped[str] = mapped_column(String(16))  # answered, abandoned, callback, timed_out, waiting
    wait: Mapped[float] = mapped_column(Float)
    talk: Mapped[float | None] = mapped_column(Float)  # answered calls that ended
    wrap_up: Mapped[float] = mapped_column(Float, default=0.0)
    rna: Mapped[int] = mapped_column(Integer, default=0)
    transfers: Mapped[int] = mapped_column(Integer, default=0)


class AgentTimeSlot(db.Model):  # type: ignore[name-defined]
    __tablename__ = "agent_time_slots"

    slot_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    busy: Mapped[float] = mapped_column(Float, default=0.0)
    idle: Mapped[float] = mapped_column(Float, default=0.0)
    away: Mapped[float] = mapped_column(Float, default=0.0)


class RollupDay(db.Model):  # type: ignore[name-defined]
    __tablename__ = "supervision_rollup_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)  # a UTC day
    calls: Mapped[int] = mapped_column(Integer, default=0)
    # Rolled up after the day had settled (no late event expected): not rolled up again.
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    rolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
