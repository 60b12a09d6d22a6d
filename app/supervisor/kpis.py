"""Call-centre KPIs from the call log, per queue (or topic) and per interval.

Sources: the call log (``CallEvent``: ``queued``, ``answered``, ``abandoned`` with
``data.reason`` ``hangup``/``callback``, ``completed``, ``left_queue`` (to voicemail: the
wait ends there, not at the end of the message), ``voicemail``, ``failed``, and when
present ``offered``, ``ring_no_answer``, ``transferred``), the calls' language and topic
(``Call``), and the agents' presence log (``AgentStateEvent``) for wrap-up time and occupancy.

The rules, written once here and shown beside every figure (:func:`definitions`):

* A call belongs to the interval (and queue) in which it **entered the queue**; everything that
  happens to it later (answer, abandon, talk, wrap-up) is reported there, even across an
  interval boundary. Occupancy is the exception: it is agent time, cut at the boundaries.
* The queue is the call's language (how routing queues calls); the topic is the other dimension.
* A call leaves the queue one way: **answered**; **abandoned** (the caller hung up; under the
  short-abandon threshold it is a *short abandon*, counted apart and left out of the rates);
  **callback** (the caller asked to be called back: not an abandon); or **timed out** (sent to
  voicemail after the maximum wait, a queue error, or the call ended without an answer logged).
  A call still waiting counts as offered only, until it leaves.
* "Within T" means a wait of at most T seconds (a call answered exactly at T is in time).

The IVR's self-service (claim status) is counted apart (:class:`SelfService`): a contained
call never enters the queue, so it is in none of the figures above; its containment rate is
contained ÷ calls that started self-service, per queue, by the day she chose it.

The database does the counting (``app.supervisor.kpi_sql``: two queries per report, on SQLite
and PostgreSQL); :func:`call_report` arranges the sums into intervals, queues and totals, and
:class:`Figures` turns sums into KPIs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.core.time import utcnow
from app.supervisor.agent_time import agent_seconds
from app.supervisor.kpi_sql import (
    ALL,
    BUSY_STATES,
    IDLE_STATES,
    Thresholds,
    call_figures,
    self_service_figures,
)
from app.supervisor.sql_time import Grid

INTERVALS: dict[str, int] = {"15": 15, "30": 30, "60": 60, "day": 1440}
DIMENSIONS = ("queue", "topic", "all")
OUTCOMES = ("answered", "abandoned", "short_abandoned", "callback", "timed_out", "waiting")
__all__ = ["ALL", "BUSY_STATES", "IDLE_STATES"]


@dataclass(frozen=True)
class KpiSettings:
    """The knobs of the definitions, stored with every report."""

    answer_target: int = 20  # T, seconds
    short_abandon: int = 5  # T_sa, seconds
    target_service_level: float = 0.8
    timezone: str = "Asia/Jakarta"

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None = None, **overrides: Any) -> KpiSettings:
        config = config if config is not None else current_app.config
        values: dict[str, Any] = {
            "answer_target": int(config.get("SUPERVISOR_ANSWER_TARGET_SECONDS", 20)),
            "short_abandon": int(config.get("SUPERVISOR_SHORT_ABANDON_SECONDS", 5)),
            "target_service_level": float(config.get("SUPERVISOR_TARGET_SERVICE_LEVEL", 0.8)),
            "timezone": str(
                config.get("SUPERVISOR_TIMEZONE") or config.get("TELEPHONY_TIMEZONE", "Asia/Jakarta")
            ),
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# --- definitions (data, shown beside the figures) ------------------------------------------------


@dataclass(frozen=True)
class Definition:
    key: str
    name: Any  # lazy strings: rendered in the reader's language
    formula: Any


def definitions(settings: KpiSettings) -> list[dict[str, str]]:
    """Every KPI with its formula, the thresholds filled in, in the current language."""
    values = {"t": settings.answer_target, "tsa": settings.short_abandon}
    items = [
        Definition(
            "service_level",
            _l("Service level"),
            _l(
                "Calls answered within %(t)s s ÷ (answered + abandoned + timed out). Short abandons "
                "(under %(tsa)s s) and callback requests are left out; calls still waiting are not "
                "counted until they leave the queue."
            ),
        ),
        Definition(
            "service_level_connect",
            _l("Service level (Amazon Connect style)"),
            _l(
                "Calls that left the queue within %(t)s s for any reason (answered, abandoned, callback, "
                "timed out) ÷ calls that left the queue."
            ),
        ),
        Definition(
            "service_level_answered",
            _l("Service level (answered only, Asterisk SL)"),
            _l("Calls answered within %(t)s s ÷ calls answered."),
        ),
        Definition(
            "service_level_sl2",
            _l("Service level (Asterisk SL2)"),
            _l(
                "(Answered within %(t)s s + abandoned within %(t)s s) ÷ (answered + abandoned), "
                "short abandons included."
            ),
        ),
        Definition(
            "asa",
            _l("Average speed of answer (ASA)"),
            _l("Mean time in queue of the answered calls, from entering the queue to the agent answering."),
        ),
        Definition(
            "aht",
            _l("Average handle time (AHT)"),
            _l(
                "Mean of talk + hold + wrap-up over the calls that ended after an answer. Hold is inside "
                "talk time (the call log has no separate hold); wrap-up is the agents' after-call work "
                "from the presence log."
            ),
        ),
        Definition(
            "abandon_rate",
            _l("Abandonment rate"),
            _l(
                "Callers who hung up while queued ÷ (offered − short abandons). Short abandons (under "
                "%(tsa)s s) are counted apart; a callback request is not an abandon."
            ),
        ),
        Definition(
            "occupancy",
            _l("Occupancy"),
            _l(
                "Agent time ringing, on calls or in wrap-up ÷ that time + time available and idle. "
                "Away and offline time are left out. Agent time, so not split by queue."
            ),
        ),
        Definition(
            "longest_wait",
            _l("Longest wait"),
            _l(
                "Now: the oldest call waiting. For an interval: the longest time in queue of its calls, "
                "abandoned ones included."
            ),
        ),
        Definition(
            "containment_rate",
            _l("Containment rate (IVR self-service)"),
            _l(
                "Calls contained ÷ calls that started self-service. Self-service: a caller whose KPJ was "
                "found chose to hear her claim status by keypad. Contained: she confirmed her birth date, "
                "heard her claims and the call ended there without asking for an agent. Contained calls "
                "never enter the queue, so they are not in offered, answered or abandoned."
            ),
        ),
        Definition(
            "offered",
            _l("Offered, answered, abandoned"),
            _l(
                "Offered: calls that entered the queue in the interval; each is reported in that interval "
                "whenever it is answered or abandoned."
            ),
        ),
    ]
    return [
        {"key": item.key, "name": str(item.name), "formula": str(item.formula) % values} for item in items
    ]


# --- figures ----------------------------------------------------------------------------------------


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


@dataclass
class Figures:
    """Counts and sums for one cell (interval × queue); the KPIs are properties of them."""

    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0  # hung up, at or over the short-abandon threshold
    abandoned_within: int = 0  # … of them within T (for SL2)
    short_abandoned: int = 0
    callbacks: int = 0
    timed_out: int = 0
    waiting: int = 0
    left_within: int = 0  # left the queue within T, any way (Amazon Connect)
    answer_wait: float = 0.0  # sum of answered calls' waits
    handled: int = 0  # answered calls that ended
    talk: float = 0.0
    wrap_up: float = 0.0
    max_wait: float = 0.0
    queued_seconds: float = 0.0  # time in queue of every call that left it (short abandons aside)
    busy: float = 0.0  # agent seconds
    idle: float = 0.0
    ring_no_answer: int = 0
    transfers: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Figures:
        """Figures from a row of :func:`app.supervisor.kpi_sql.call_figures` (NULL sums are 0)."""
        names = {item.name for item in fields(cls)}
        return cls(**{name: (value or 0) for name, value in row.items() if name in names})

    def add(self, other: Figures) -> None:
        for item in fields(self):
            name = item.name
            if name == "max_wait":
                self.max_wait = max(self.max_wait, other.max_wait)
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def left_queue(self) -> int:
        return self.offered - self.waiting

    @property
    def service_level(self) -> float | None:
        return _ratio(self.answered_within, self.answered + self.abandoned + self.timed_out)

    @property
    def service_level_connect(self) -> float | None:
        return _ratio(self.left_within, self.left_queue)

    @property
    def service_level_answered(self) -> float | None:
        return _ratio(self.answered_within, self.answered)

    @property
    def service_level_sl2(self) -> float | None:
        return _ratio(
            self.answered_within + self.abandoned_within,
            self.answered + self.abandoned + self.short_abandoned,
        )

    @property
    def asa(self) -> float | None:
        return _ratio(self.answer_wait, self.answered)

    @property
    def aht(self) -> float | None:
        return _ratio(self.talk + self.wrap_up, self.handled)

    @property
    def abandon_rate(self) -> float | None:
        return _ratio(self.abandoned, self.offered - self.short_abandoned)

    @property
    def occupancy(self) -> float | None:
        return _ratio(self.busy, self.busy + self.idle)

    KPIS = (
        "service_level",
        "service_level_connect",
        "service_level_answered",
        "service_level_sl2",
        "asa",
        "aht",
        "abandon_rate",
        "occupancy",
    )

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {item.name: getattr(self, item.name) for item in fields(self)}
        data.update({name: getattr(self, name) for name in self.KPIS})
        return data


@dataclass
class SelfService:
    """The IVR's self-service in a period (per queue or overall), counted apart from the queue."""

    started: int = 0
    verified: int = 0  # confirmed her birth date
    refused: int = 0  # three wrong birth dates (or locked, or no birth date on file)
    to_agent: int = 0  # asked for an agent (or gave no birth date)
    sms: int = 0  # asked for her status by SMS
    contained: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SelfService:
        names = {item.name for item in fields(cls)}
        return cls(**{name: int(value or 0) for name, value in row.items() if name in names})

    def add(self, other: SelfService) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    @property
    def containment_rate(self) -> float | None:
        return _ratio(self.contained, self.started)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {item.name: getattr(self, item.name) for item in fields(self)}
        data["containment_rate"] = self.containment_rate
        return data


# --- the report ---------------------------------------------------------------------------------------


@dataclass
class Row:
    bucket: datetime
    key: str  # the queue, the topic, or ALL
    figures: Figures


@dataclass
class CallReport:
    settings: KpiSettings
    start: datetime
    end: datetime
    interval: str
    dimension: str
    rows: list[Row] = field(default_factory=list)
    totals: dict[str, Figures] = field(default_factory=dict)
    overall: Figures = field(default_factory=Figures)
    # Busy and idle agent seconds per interval when the rows are split by queue or topic.
    agent_time: dict[datetime, Figures] = field(default_factory=lambda: defaultdict(Figures))
    # IVR self-service, apart from the queue: per queue (split by queue) or under ALL.
    self_service: dict[str, SelfService] = field(default_factory=dict)
    self_service_overall: SelfService = field(default_factory=SelfService)

    def occupancy_at(self, bucket: datetime) -> float | None:
        """Centre-wide occupancy in an interval (whatever the rows are split by)."""
        if self.dimension == "all":
            cell = next((row.figures for row in self.rows if row.bucket == bucket and row.key == ALL), None)
            return cell.occupancy if cell else None
        cell = self.agent_time.get(bucket)
        return cell.occupancy if cell else None

    @property
    def keys(self) -> list[str]:
        return sorted(self.totals)

    def by_bucket(self) -> list[tuple[datetime, Figures]]:
        """Every interval of the report with its figures summed over queues/topics."""
        merged: dict[datetime, Figures] = defaultdict(Figures)
        for row in self.rows:
            merged[row.bucket].add(row.figures)
        if self.dimension != "all":
            for bucket, agent_time in self.agent_time.items():
                merged[bucket].add(agent_time)
        return sorted(merged.items())


def call_report(
    start: datetime,
    end: datetime,
    *,
    interval: str = "30",
    dimension: str = "queue",
    settings: KpiSettings | None = None,
    now: datetime | None = None,
) -> CallReport:
    """Call KPIs over ``[start, end)``: per (interval, queue/topic), per queue/topic, overall."""
    if interval not in INTERVALS:
        raise ValueError(f"unknown interval {interval!r}")
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    now = now or utcnow()
    settings = settings or KpiSettings.from_config()
    grid = Grid.for_period(INTERVALS[interval], settings.zone, start)
    thresholds = Thresholds(settings.answer_target, settings.short_abandon)
    report = CallReport(settings, start, end, interval, dimension)
    cells: dict[tuple[datetime, str], Figures] = defaultdict(Figures)
    for row in call_figures(start, end, now, thresholds, grid, dimension):
        cells[(grid.start(row["bucket"]), row["key"])].add(Figures.from_row(row))
    # Agent time is not split by queue: it goes to the all-queues cells and the overall figure.
    for (index, _agent), seconds in agent_seconds(start, end, now, grid).items():
        assert index is not None
        bucket = grid.start(index)
        target = cells[(bucket, ALL)] if dimension == "all" else report.agent_time[bucket]
        target.busy += seconds["busy"]
        target.idle += seconds["idle"]
    for figures in report.agent_time.values():
        report.overall.add(figures)
    for (bucket, key), figures in sorted(cells.items()):
        report.rows.append(Row(bucket, key, figures))
        report.totals.setdefault(key, Figures()).add(figures)
        report.overall.add(figures)
    for row in self_service_figures(start, end, "queue" if dimension == "queue" else "all"):
        served = SelfService.from_row(row)
        report.self_service[str(row["key"])] = served
        report.self_service_overall.add(served)
    return report
