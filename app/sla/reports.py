"""SLA reports: compliance by a dimension and period, the breach list, per-ticket SLA export.

Definitions (shown beside the figures on the page, see :data:`DEFINITIONS`):

* A target is **decided** once it was met or missed: the first response was given (its
  business time is stored) or a breach was recorded while it was pending. Tickets whose target
  is still running are not counted (they are in "open at risk / breached").
* **Compliance** = decided within target / decided. A late first response counts as missed even
  if the sweep had not recorded the breach yet (the margin is negative).
* Times are **business time** on the policy's calendar (the clock stops while a ticket waits on
  the worker), so "average first response 3 h" means three opening hours.
* The period filters on when the ticket was **created** (its promise was made then).

All aggregation happens in one GROUP BY over ``tickets`` (indexed on ``created_at``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select

from app.extensions import db
from app.sla.models import SlaEvent, SlaPolicy
from app.staff.models import User
from app.tickets.models import OPEN_STATUSES, Ticket

REPORT_ZONE = ZoneInfo("Asia/Jakarta")  # periods are WIB days, as the agency counts them
DIMENSIONS = ("category", "priority", "agent", "country", "channel", "day", "week", "month")
MAX_PERIOD_DAYS = 400

DEFINITIONS = {
    "decided": _l("A target is decided once it was met or missed; targets still running are not counted."),
    "compliance": _l("Compliance: targets met ÷ targets decided."),
    "business": _l("Times are business hours on the policy's calendar; the clock stops while a case waits for the worker."),
    "period": _l("The period selects tickets by the day they were created (WIB)."),
}


@dataclass
class Period:
    start: date
    end: date  # inclusive

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return (
            datetime.combine(self.start, time(), REPORT_ZONE),
            datetime.combine(self.end + timedelta(days=1), time(), REPORT_ZONE),
        )


class ReportError(ValueError):
    pass


def parse_period(start: str | None, end: str | None, today: date | None = None) -> Period:
    """From/to dates (YYYY-MM-DD); default the last 30 days. Raises ReportError on nonsense."""
    today = today or datetime.now(REPORT_ZONE).date()
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=29)
    except ValueError as exc:
        raise ReportError(str(_l("Enter dates as YYYY-MM-DD."))) from exc
    if first > last:
        raise ReportError(str(_l("The period must start before it ends.")))
    if (last - first).days > MAX_PERIOD_DAYS:
        raise ReportError(str(_l("Choose a period of at most %(days)d days.", days=MAX_PERIOD_DAYS)))
    return Period(first, last)


def _bucket(dimension: str) -> Any:
    """The GROUP BY expression; periods are cut in WIB."""
    if dimension in ("category", "priority", "country", "channel"):
        return getattr(Ticket, dimension)
    if dimension == "agent":
        return Ticket.assignee_id
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        local = func.timezone("Asia/Jakarta", Ticket.created_at)
        # Grouped on the truncated timestamp (formatted in Python): to_char on every row costs
        # more than the aggregation itself.
        return func.date_trunc(dimension, local)
    local = func.datetime(Ticket.created_at, "+7 hours")
    if dimension == "day":
        return func.strftime("%Y-%m-%d", local)
    if dimension == "week":  # Monday of the week
        return func.date(local, "-6 days", "weekday 1")
    return func.strftime("%Y-%m-01", local)


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def compliance(dimension: str, period: Period) -> list[dict[str, Any]]:
    """One row per group: tickets, decided/met per target, averages, open at risk/breached."""
    if dimension not in DIMENSIONS:
        raise ReportError(str(_l("Unknown dimension.")))
    start, end = period.bounds
    key = _bucket(dimension).label("key")
    fr_decided = or_(Ticket.first_response_seconds.is_not(None), Ticket.first_response_breached)
    fr_met = and_(
        Ticket.first_response_seconds.is_not(None),
        Ticket.first_response_margin_seconds >= 0,
        Ticket.first_response_breached.is_(False),
    )
    res_decided = or_(Ticket.resolution_seconds.is_not(None), Ticket.resolution_breached)
    res_met = and_(
        Ticket.resolution_seconds.is_not(None),
        Ticket.resolution_margin_seconds >= 0,
        Ticket.resolution_breached.is_(False),
    )
    is_open = Ticket.status.in_(OPEN_STATUSES)
    rows = db.session.execute(
        select(
            key,
            func.count().label("tickets"),
            _count(fr_decided).label("fr_decided"),
            _count(fr_met).label("fr_met"),
            _count(res_decided).label("res_decided"),
            _count(res_met).label("res_met"),
            func.avg(Ticket.first_response_seconds).label("fr_avg"),
            func.avg(Ticket.resolution_seconds).label("res_avg"),
            _count(and_(is_open, Ticket.sla_status == "at_risk")).label("open_at_risk"),
            _count(and_(is_open, Ticket.sla_status == "breached")).label("open_breached"),
        )
        .where(
            Ticket.created_at >= start,
            Ticket.created_at < end,
            Ticket.sla_policy_id.is_not(None),
            Ticket.merged_into_id.is_(None),
        )
        .group_by(key)
        .order_by(key)
    ).all()
    names = _agent_names([r.key for r in rows]) if dimension == "agent" else {}
    result = []
    for r in rows:
        label = r.key
        if isinstance(label, datetime):
            label = label.date().isoformat()
        if dimension == "agent":
            label = names.get(r.key, str(_l("Unassigned"))) if r.key is not None else str(_l("Unassigned"))
        result.append(
            {
                "key": label if isinstance(r.key, datetime) else r.key,
                "label": label if label is not None else "—",
                "tickets": int(r.tickets or 0),
                "fr_decided": int(r.fr_decided or 0),
                "fr_met": int(r.fr_met or 0),
                "fr_rate": _rate(r.fr_met, r.fr_decided),
                "res_decided": int(r.res_decided or 0),
                "res_met": int(r.res_met or 0),
                "res_rate": _rate(r.res_met, r.res_decided),
                "fr_avg_seconds": int(r.fr_avg) if r.fr_avg is not None else None,
                "res_avg_seconds": int(r.res_avg) if r.res_avg is not None else None,
                "open_at_risk": int(r.open_at_risk or 0),
                "open_breached": int(r.open_breached or 0),
            }
        )
    return result


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("tickets", "fr_decided", "fr_met", "res_decided", "res_met", "open_at_risk", "open_breached")
    total = {k: sum(r[k] for r in rows) for k in keys}
    total["fr_rate"] = _rate(total["fr_met"], total["fr_decided"])
    total["res_rate"] = _rate(total["res_met"], total["res_decided"])
    return total


def _rate(part: Any, whole: Any) -> float | None:
    return round(100.0 * float(part or 0) / float(whole), 1) if whole else None


def _agent_names(ids: list[Any]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(wanted))).all())


def breaches(period: Period, *, target: str | None = None, category: str | None = None,
             limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
    """Breaches recorded in the period (newest first) with the ticket to drill into."""
    start, end = period.bounds
    query = (
        select(
            SlaEvent.at, SlaEvent.target, SlaEvent.cycle, SlaEvent.due_at,
            Ticket.id, Ticket.reference, Ticket.category, Ticket.priority, Ticket.country,
            Ticket.status, Ticket.assignee_id, SlaPolicy.name.label("policy"),
        )
        .join(Ticket, Ticket.id == SlaEvent.ticket_id)
        .outerjoin(SlaPolicy, SlaPolicy.id == SlaEvent.policy_id)
        .where(SlaEvent.kind == "breach", SlaEvent.at >= start, SlaEvent.at < end)
        .order_by(SlaEvent.at.desc(), SlaEvent.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if target:
        query = query.where(SlaEvent.target == target)
    if category:
        query = query.where(Ticket.category == category)
    rows = db.session.execute(query).all()
    names = _agent_names([r.assignee_id for r in rows])
    return [
        {**r._asdict(), "assignee": names.get(r.assignee_id) if r.assignee_id else None}
        for r in rows
    ]


EXPORT_COLUMNS = (
    "reference", "created_at", "channel", "category", "priority", "country", "status", "assignee_id",
    "policy", "cycle", "first_response_target_seconds", "first_response_seconds",
    "first_response_margin_seconds", "first_response_breached", "first_response_due_at",
    "resolution_target_seconds", "resolution_seconds", "resolution_margin_seconds",
    "resolution_breached", "resolution_due_at", "sla_status",
)


def export_tickets(period: Period) -> Iterator[str]:
    """Per-ticket SLA data as CSV lines (streamed; no requester data in it)."""
    start, end = period.bounds
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    yield _drain(buffer)
    policies = dict(db.session.execute(select(SlaPolicy.id, SlaPolicy.name)).all())
    result = db.session.execute(
        select(
            Ticket.reference, Ticket.created_at, Ticket.channel, Ticket.category, Ticket.priority,
            Ticket.country, Ticket.status, Ticket.assignee_id, Ticket.sla_policy_id, Ticket.sla_cycle,
            Ticket.first_response_target_seconds, Ticket.first_response_seconds,
            Ticket.first_response_margin_seconds, Ticket.first_response_breached, Ticket.first_response_due_at,
            Ticket.resolution_target_seconds, Ticket.resolution_seconds, Ticket.resolution_margin_seconds,
            Ticket.resolution_breached, Ticket.resolution_due_at, Ticket.sla_status,
        )
        .where(Ticket.created_at >= start, Ticket.created_at < end)
        .order_by(Ticket.created_at, Ticket.id)
        .execution_options(yield_per=2000)
    )
    for n, row in enumerate(result, start=1):
        values = list(row)
        values[8] = policies.get(values[8], "") if values[8] else ""
        writer.writerow(["" if v is None else (v.isoformat() if isinstance(v, datetime) else v) for v in values])
        if n % 500 == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def rows_csv(dimension: str, rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = ["tickets", "fr_decided", "fr_met", "fr_rate", "fr_avg_seconds", "res_decided", "res_met",
               "res_rate", "res_avg_seconds", "open_at_risk", "open_breached"]
    writer.writerow([dimension, *columns])
    for row in rows:
        writer.writerow([row["label"], *("" if row[c] is None else row[c] for c in columns)])
    return buffer.getvalue()


def _drain(buffer: io.StringIO) -> str:
    value = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return value


