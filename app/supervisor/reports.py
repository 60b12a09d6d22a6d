"""Report services for the supervisor pages: period parsing, report tables and their CSV.

Routes parse the request into a :class:`Period` (or get a 400), call one function here, and
render or stream what it returns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app.core.time import utcnow
from app.supervisor import kpis
from app.supervisor.exports import csv_rows

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


def _int_arg(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
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
        answer_target=_int_arg(args, "t", settings.answer_target, 1, 3600),
        short_abandon=_int_arg(args, "tsa", settings.short_abandon, 0, 600),
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


def number(value: Any, places: int = 4) -> Any:
    """A figure for CSV: empty when undefined, floats rounded."""
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, places)
    return value


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
