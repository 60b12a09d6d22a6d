"""Daily trends for the call report: service level, abandonment and ticket SLA compliance.

One call report per day (``interval="day"``, all queues together) gives the call side; the SLA
package's compliance per creation day gives the ticket side (first-response and resolution
targets met ÷ decided, both together). Days with nothing to measure stay ``None`` (a gap in
the line), never a fake zero. Also :func:`every_bucket`, which gives a chart an x axis with
every interval of the period, calls or not, so bars sit where their time is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app.sla import reports as sla_reports
from app.supervisor import kpis

MIN_DAYS = 7  # a shorter period shows the trend of the 28 days that end with it
DEFAULT_DAYS = 28
MAX_BUCKETS = 1500


@dataclass
class Trends:
    days: list[date]
    service_level: list[float | None]
    abandon_rate: list[float | None]
    sla_compliance: list[float | None]

    @property
    def start(self) -> date:
        return self.days[0]

    @property
    def end(self) -> date:
        return self.days[-1]


def trend_days(start: date, end: date) -> list[date]:
    """The days a trend covers: the period, or the 28 days ending with a period under a week."""
    if (end - start).days + 1 < MIN_DAYS:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def daily_trends(start: date, end: date, settings: kpis.KpiSettings, now: datetime | None = None) -> Trends:
    days = trend_days(start, end)
    zone = settings.zone
    first = datetime(days[0].year, days[0].month, days[0].day, tzinfo=zone)
    after = days[-1] + timedelta(days=1)
    report = kpis.call_report(
        first, datetime(after.year, after.month, after.day, tzinfo=zone),
        interval="day", dimension="all", settings=settings, now=now,
    )  # fmt: skip
    by_day = {bucket.astimezone(zone).date(): figures for bucket, figures in report.by_bucket()}
    compliance = {
        row["key"]: row for row in sla_reports.compliance("day", sla_reports.Period(days[0], days[-1]))
    }
    sla: list[float | None] = []
    for day in days:
        row = compliance.get(day.isoformat())
        decided = (row["fr_decided"] + row["res_decided"]) if row else 0
        sla.append((row["fr_met"] + row["res_met"]) / decided if row and decided else None)
    return Trends(
        days=days,
        service_level=[by_day[d].service_level if d in by_day else None for d in days],
        abandon_rate=[by_day[d].abandon_rate if d in by_day else None for d in days],
        sla_compliance=sla,
    )


def every_bucket(
    buckets: list[tuple[datetime, Any]], start: datetime, end: datetime, interval: str, zone: Any
) -> list[tuple[datetime, Any]]:
    """``buckets`` with the empty intervals of ``[start, end)`` put in (``kpis.Figures()``)."""
    step = timedelta(minutes=kpis.INTERVALS[interval])
    if (end - start) / step > MAX_BUCKETS:
        return buckets
    have = dict(buckets)
    out = []
    cursor = start.astimezone(zone)
    while cursor < end:
        out.append((cursor, have.pop(cursor, None) or kpis.Figures()))
        if interval == "day":  # local midnights (a day is not 24 h across a DST change)
            cursor = datetime.combine(cursor.date() + timedelta(days=1), cursor.time(), zone)
        else:
            cursor = cursor + step
    # Anything the grid missed (should not happen) is kept rather than lost.
    return sorted(out + list(have.items()), key=lambda item: item[0])
