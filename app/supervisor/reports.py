"""Report services for the supervisor pages: period parsing, report tables and their CSV.

Routes parse the request into a :class:`Period` (or get a 400), call one function here, and
render or stream what it returns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select

from app.core.time import utcnow
from app.extensions import db
from app.staff.models import User
from app.supervisor import kpis
from app.supervisor.agent_time import agent_seconds
from app.supervisor.exports import csv_rows, number
from app.supervisor.kpi_sql import Thresholds, call_figures
from app.telephony.models import CallEvent
from app.tickets.models import Ticket

MAX_PERIOD_DAYS = 366


class BadPeriod(ValueError):
    """The period or interval asked for cannot be reported (shown to the user as a 400)."""


@dataclass(frozen=True)
class Period:
    """A report period in local dates (``start`` .. ``end`` inclusive), with its UTC bounds."""

    start: date
    end: date
    interval: str
    dimension: str
    settings: kpis.KpiSettings

    @property
    def start_at(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=self.settings.zone)

    @property
    def end_at(self) -> datetime:
        after = self.end + timedelta(days=1)
        return datetime(after.year, after.month, after.day, tzinfo=self.settings.zone)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def query(self, **changes: Any) -> dict[str, str]:
        """The query string that asks for this period again (links, CSV downloads)."""
        values = {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "interval": self.interval,
            "by": self.dimension,
            "t": str(self.settings.answer_target),
            "tsa": str(self.settings.short_abandon),
        }
        values.update({key: str(value) for key, value in changes.items()})
        return values


def int_arg(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise BadPeriod(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise BadPeriod(f"{name} must be between {low} and {high}")
    return value


def parse_period(
    args: Mapping[str, str], *, default_interval: str = "60", now: datetime | None = None
) -> Period:
    """Read ``start``, ``end`` (local dates), ``interval``, ``by``, ``t`` and ``tsa``.

    The default is today; a period is at most a year and never ends before it starts.
    """
    settings = kpis.KpiSettings.from_config()
    today = (now or utcnow()).astimezone(settings.zone).date()
    try:
        start = date.fromisoformat(args.get("start") or today.isoformat())
        end = date.fromisoformat(args.get("end") or start.isoformat())
    except ValueError:
        raise BadPeriod("dates must be YYYY-MM-DD") from None
    if end < start:
        raise BadPeriod("the period ends before it starts")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise BadPeriod(f"a period is at most {MAX_PERIOD_DAYS} days")
    interval = args.get("interval") or default_interval
    if interval not in kpis.INTERVALS:
        raise BadPeriod("interval must be one of " + ", ".join(kpis.INTERVALS))
    dimension = args.get("by") or "queue"
    if dimension not in kpis.DIMENSIONS:
        raise BadPeriod("by must be one of " + ", ".join(kpis.DIMENSIONS))
    settings = kpis.KpiSettings.from_config(
        answer_target=int_arg(args, "t", settings.answer_target, 1, 3600),
        short_abandon=int_arg(args, "tsa", settings.short_abandon, 0, 600),
    )
    return Period(start, end, interval, dimension, settings)


def call_kpis(period: Period, now: datetime | None = None) -> kpis.CallReport:
    return kpis.call_report(
        period.start_at,
        period.end_at,
        interval=period.interval,
        dimension=period.dimension,
        settings=period.settings,
        now=now,
    )


# --- CSV ---------------------------------------------------------------------------------------

CALL_COLUMNS = (
    "offered",
    "answered",
    "answered_within",
    "abandoned",
    "short_abandoned",
    "callbacks",
    "timed_out",
    "waiting",
    "service_level",
    "service_level_connect",
    "service_level_answered",
    "service_level_sl2",
    "asa",
    "aht",
    "abandon_rate",
    "occupancy",
    "max_wait",
    "ring_no_answer",
    "transfers",
)


def call_kpis_csv(report: kpis.CallReport) -> Iterator[str]:
    """One row per interval and queue/topic, then one total row per queue/topic and overall.

    Every row carries the thresholds it was computed with, so the file explains itself.
    """
    settings = report.settings
    header = (
        "interval_start",
        "interval",
        report.dimension,
        *CALL_COLUMNS,
        "answer_target_seconds",
        "short_abandon_seconds",
    )

    def row(start: str, key: str, figures: kpis.Figures, occupancy: float | None) -> list[Any]:
        values = figures.as_dict()
        values["occupancy"] = occupancy
        return [
            start,
            report.interval,
            key,
            *(number(values[name]) for name in CALL_COLUMNS),
            settings.answer_target,
            settings.short_abandon,
        ]

    def rows() -> Iterator[list[Any]]:
        for item in report.rows:
            yield row(item.bucket.isoformat(), item.key, item.figures, report.occupancy_at(item.bucket))
        for key in report.keys:
            yield row("total", key, report.totals[key], report.overall.occupancy if key == kpis.ALL else None)
        if report.dimension != "all":
            yield row("total", kpis.ALL, report.overall, report.overall.occupancy)

    return csv_rows(header, rows())


# --- agent performance ------------------------------------------------------------------------------


@dataclass
class AgentRow:
    agent_id: int
    name: str
    answered: int = 0
    answered_within: int = 0
    handled: int = 0
    talk: float = 0.0
    wrap_up: float = 0.0
    ring_no_answer: int = 0
    transfers: int = 0
    busy: float = 0.0
    idle: float = 0.0
    away: float = 0.0
    rated: int = 0
    csat_total: int = 0
    csat_top: int = 0  # ratings of 4 or 5

    @property
    def aht(self) -> float | None:
        return (self.talk + self.wrap_up) / self.handled if self.handled else None

    @property
    def occupancy(self) -> float | None:
        return self.busy / (self.busy + self.idle) if self.busy + self.idle else None

    @property
    def logged_in(self) -> float:
        return self.busy + self.idle + self.away

    @property
    def csat_average(self) -> float | None:
        return self.csat_total / self.rated if self.rated else None

    @property
    def csat(self) -> float | None:
        return self.csat_top / self.rated if self.rated else None


def agent_performance(period: Period, now: datetime | None = None) -> list[AgentRow]:
    """Per agent over the period: calls answered and handled, AHT, rings not answered,
    transfers, occupancy and time logged in, and the CSAT of tickets they were assignee of."""
    now = now or utcnow()
    start, end = period.start_at, period.end_at
    rows: dict[int, AgentRow] = {}

    def row(agent_id: int) -> AgentRow:
        if agent_id not in rows:
            rows[agent_id] = AgentRow(agent_id, "")
        return rows[agent_id]

    thresholds = Thresholds(period.settings.answer_target, period.settings.short_abandon)
    for figures in call_figures(start, end, now, thresholds, None, "agent"):
        if figures["key"] is None or not figures["answered"]:
            continue
        item = row(int(figures["key"]))
        item.answered += int(figures["answered"])
        item.answered_within += int(figures["answered_within"])
        item.handled += int(figures["handled"] or 0)
        item.talk += float(figures["talk"] or 0)
        item.wrap_up += float(figures["wrap_up"] or 0)
    for kind, agent_id, count in db.session.execute(
        select(CallEvent.kind, CallEvent.agent_id, func.count())
        .where(
            CallEvent.kind.in_(("ring_no_answer", "transferred")),
            CallEvent.at >= start,
            CallEvent.at < end,
            CallEvent.agent_id.is_not(None),
        )
        .group_by(CallEvent.kind, CallEvent.agent_id)
    ):
        if kind == "ring_no_answer":
            row(cast(int, agent_id)).ring_no_answer += int(count)
        else:
            row(cast(int, agent_id)).transfers += int(count)
    for (_bucket, agent_id), seconds in agent_seconds(start, end, now, None, by_agent=True).items():
        if agent_id is not None:
            item = row(agent_id)
            item.busy += seconds["busy"]
            item.idle += seconds["idle"]
            item.away += seconds["away"]
    for agent_id, rated, total, top in db.session.execute(
        select(
            Ticket.assignee_id,
            func.count(),
            func.sum(Ticket.csat_score),
            func.count().filter(Ticket.csat_score >= 4),
        )
        .where(
            Ticket.resolved_at >= start,
            Ticket.resolved_at < end,
            Ticket.csat_score.is_not(None),
            Ticket.assignee_id.is_not(None),
        )
        .group_by(Ticket.assignee_id)
    ):
        item = row(cast(int, agent_id))
        item.rated, item.csat_total, item.csat_top = int(rated), int(total or 0), int(top or 0)
    if rows:
        for agent_id, name in db.session.execute(select(User.id, User.name).where(User.id.in_(list(rows)))):
            rows[agent_id].name = name
    return sorted(rows.values(), key=lambda r: (r.name.lower(), r.agent_id))


AGENT_COLUMNS = (
    "agent_id",
    "name",
    "answered",
    "answered_within",
    "handled",
    "aht",
    "talk",
    "wrap_up",
    "ring_no_answer",
    "transfers",
    "occupancy",
    "logged_in",
    "rated",
    "csat_average",
    "csat",
)


def agent_performance_csv(rows: list[AgentRow], period: Period) -> Iterator[str]:
    header = (*AGENT_COLUMNS, "period_start", "period_end", "answer_target_seconds")
    return csv_rows(
        header,
        (
            [
                *(number(getattr(item, name)) for name in AGENT_COLUMNS),
                period.start.isoformat(),
                period.end.isoformat(),
                period.settings.answer_target,
            ]
            for item in rows
        ),
    )


# --- satisfaction ------------------------------------------------------------------------------------

SCORES = (1, 2, 3, 4, 5)


@dataclass
class Satisfaction:
    """CSAT of tickets resolved in the period: counts of each score, overall and per category."""

    resolved: int
    distribution: dict[int, int]
    by_category: dict[str, dict[int, int]]

    @property
    def rated(self) -> int:
        return sum(self.distribution.values())

    @property
    def average(self) -> float | None:
        return sum(score * n for score, n in self.distribution.items()) / self.rated if self.rated else None

    @property
    def csat(self) -> float | None:
        """Share of ratings in the top two boxes (4 and 5)."""
        return (self.distribution[4] + self.distribution[5]) / self.rated if self.rated else None

    @property
    def response_rate(self) -> float | None:
        return self.rated / self.resolved if self.resolved else None


def satisfaction(period: Period) -> Satisfaction:
    in_period = (Ticket.resolved_at >= period.start_at, Ticket.resolved_at < period.end_at)
    resolved = int(db.session.scalar(select(func.count()).select_from(Ticket).where(*in_period)) or 0)
    distribution = dict.fromkeys(SCORES, 0)
    by_category: dict[str, dict[int, int]] = {}
    for category, score, count in db.session.execute(
        select(Ticket.category, Ticket.csat_score, func.count())
        .where(*in_period, Ticket.csat_score.is_not(None))
        .group_by(Ticket.category, Ticket.csat_score)
    ):
        if score not in distribution:
            continue
        distribution[score] += int(count)
        by_category.setdefault(category, dict.fromkeys(SCORES, 0))[score] += int(count)
    return Satisfaction(resolved, distribution, dict(sorted(by_category.items())))


def satisfaction_csv(result: Satisfaction, period: Period) -> Iterator[str]:
    header = (
        "category",
        *(f"score_{s}" for s in SCORES),
        "rated",
        "average",
        "csat_top2",
        "period_start",
        "period_end",
    )

    def line(name: str, counts: dict[int, int]) -> list[Any]:
        rated = sum(counts.values())
        average = sum(s * n for s, n in counts.items()) / rated if rated else None
        top = (counts[4] + counts[5]) / rated if rated else None
        return [
            name,
            *(counts[s] for s in SCORES),
            rated,
            number(average),
            number(top),
            period.start.isoformat(),
            period.end.isoformat(),
        ]

    rows = [line(category, counts) for category, counts in result.by_category.items()]
    rows.append(line(kpis.ALL, result.distribution))
    return csv_rows(header, rows)
