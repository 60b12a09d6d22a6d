"""The wrap-up side of the reports: dispositions (overall and by agent) and the call log CSV,
from the calls answered or started in a :class:`~app.supervisor.reports.Period`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from app.extensions import db
from app.staff.models import User
from app.supervisor.exports import csv_rows
from app.supervisor.reports import Period
from app.telephony.models import Call


# --- wrap-up dispositions and the per-call log ------------------------------------------------
def _answered_in(period: Period) -> Any:
    return (Call.answered_at >= period.start_at, Call.answered_at < period.end_at)


def dispositions(period: Period) -> list[tuple[str, int]]:
    """Calls answered in the period, counted by the agent's wrap-up disposition, most first
    (``""``: not wrapped up yet)."""
    rows = db.session.execute(
        select(Call.disposition, func.count(Call.id)).where(*_answered_in(period)).group_by(Call.disposition)
    ).all()
    counts = [(code or "", int(count)) for code, count in rows]
    return sorted(counts, key=lambda row: (-row[1], row[0]))


def dispositions_by_agent(period: Period) -> tuple[list[str], list[tuple[str, dict[str, int]]]]:
    """Calls answered in the period, counted by agent and wrap-up disposition: the dispositions
    that occur (most used first) and one row per agent (by name) with their counts."""
    rows = db.session.execute(
        select(User.name, Call.agent_id, Call.disposition, func.count(Call.id))
        .join(User, User.id == Call.agent_id)
        .where(*_answered_in(period), Call.disposition.is_not(None))
        .group_by(User.name, Call.agent_id, Call.disposition)
    ).all()
    totals: dict[str, int] = {}
    agents: dict[tuple[str, int], dict[str, int]] = {}
    for name, agent_id, code, count in rows:
        code = str(code)  # not None: filtered above
        totals[code] = totals.get(code, 0) + int(count)
        agents.setdefault((name, int(agent_id or 0)), {})[code] = int(count)
    codes = sorted(totals, key=lambda code: (-totals[code], code))
    return codes, [(name, counts) for (name, _id), counts in sorted(agents.items())]


CALL_LOG_HEADER = (
    "call_id",
    "direction",
    "language",
    "topic",
    "caller_country",
    "status",
    "enqueued_at",
    "answered_at",
    "ended_at",
    "agent_id",
    "agent",
    "disposition",
    "disposition_label",
    "ticket_id",
    "self_service",
)


def call_log_csv(period: Period, label: Any) -> Iterator[str]:
    """One row per call that started in the period (no phone numbers: they are personal data),
    with the agent's wrap-up disposition as code and label (``label(code)``) and how far the
    call went in the IVR's self-service (``verified``: contained if it ended there; ``agent``,
    ``refused``, ``verifying``; empty: not chosen)."""
    names: dict[int, str] = {row.id: row.name for row in db.session.execute(select(User.id, User.name))}
    calls = db.session.scalars(
        select(Call)
        .where(Call.created_at >= period.start_at, Call.created_at < period.end_at)
        .order_by(Call.created_at, Call.id)
        .execution_options(yield_per=500)
    )

    def when(value: datetime | None) -> str:
        return value.isoformat() if value is not None else ""

    def rows() -> Iterator[list[Any]]:
        for call in calls:
            yield [
                call.id,
                call.direction,
                call.language,
                call.topic or "",
                call.caller_country or "",
                call.status,
                when(call.enqueued_at),
                when(call.answered_at),
                when(call.ended_at),
                call.agent_id or "",
                names.get(call.agent_id, "") if call.agent_id else "",
                call.disposition or "",
                label(call.disposition) if call.disposition else "",
                call.ticket_id or "",
                call.self_service or "",
            ]

    return csv_rows(CALL_LOG_HEADER, rows())
