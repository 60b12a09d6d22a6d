"""Staffing forecast: agents needed per 30-minute interval, from what the call log observed.

For a day to plan, the same weekday over the last ``weeks`` weeks is read from the call log
(:func:`app.supervisor.kpis.call_facts`). Per local 30-minute slot:

* **arrivals** — calls offered in the slot, short abandons left out (misdials load nobody),
  averaged over the observed days (a day with no call at all is not observed: the centre was
  closed or the log did not exist yet);
* **AHT** — (talk + wrap-up) ÷ handled calls in the slot over all observed days; a slot with
  arrivals but no handled call takes the day's AHT;
* **patience** (for Erlang A) — the maximum-likelihood estimate for exponential patience with
  censoring: the time all callers spent queued ÷ the number who hung up (answered callers'
  waits are censored observations of their patience). Pooled over the whole observed days, as
  one slot has too few abandons to estimate it. No abandons: callers look infinitely patient and
  Erlang A is Erlang C.

Then Erlang C gives the agents for the target service level within the answer target, at most
the maximum occupancy, and the seats to roster after shrinkage; Erlang A gives the same with
abandonment modelled and capped. ``agents_observed`` is how many agents were logged in (busy or
idle) on average in the slot, to compare with.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import current_app

from app.core.time import utcnow
from app.supervisor import erlang, kpis
from app.supervisor.exports import csv_rows, number

SLOT_MINUTES = 30
SLOT_SECONDS = SLOT_MINUTES * 60


@dataclass(frozen=True)
class StaffingParameters:
    target_service_level: float = 0.8
    answer_target: int = 20
    max_occupancy: float = 0.85
    shrinkage: float = 0.3
    max_abandon: float = 0.05

    @classmethod
    def from_config(
        cls, settings: kpis.KpiSettings, config: Mapping[str, Any] | None = None
    ) -> StaffingParameters:
        config = config if config is not None else current_app.config
        return cls(
            target_service_level=settings.target_service_level,
            answer_target=settings.answer_target,
            max_occupancy=float(config.get("STAFFING_MAX_OCCUPANCY", 0.85)),
            shrinkage=float(config.get("STAFFING_SHRINKAGE", 0.3)),
            max_abandon=float(config.get("STAFFING_MAX_ABANDON", 0.05)),
        )


@dataclass
class SlotObservation:
    """What one local 30-minute slot saw over the observed days (sums)."""

    arrivals: int = 0
    handled: int = 0
    handle_seconds: float = 0.0
    agent_seconds: float = 0.0


@dataclass
class Observations:
    days: list[date]  # the days read
    observed: list[date]  # … of them, the days with at least one call
    slots: dict[time, SlotObservation] = field(default_factory=lambda: defaultdict(SlotObservation))
    queued_seconds: float = 0.0  # all callers' time in queue (patience exposure)
    abandons: int = 0
    handled: int = 0
    handle_seconds: float = 0.0

    @property
    def patience(self) -> float | None:
        return self.queued_seconds / self.abandons if self.abandons else None

    @property
    def aht(self) -> float | None:
        return self.handle_seconds / self.handled if self.handled else None


@dataclass
class StaffingRow:
    slot: time
    arrivals: float  # mean calls per slot
    aht: float | None
    traffic: float  # Erlangs
    erlang_c: erlang.Staffing | None
    erlang_a: erlang.Staffing | None
    agents_observed: float


@dataclass
class StaffingPlan:
    day: date
    weeks: int
    queue: str | None
    parameters: StaffingParameters
    observations: Observations
    rows: list[StaffingRow]

    @property
    def peak_rostered(self) -> int:
        return max((row.erlang_c.rostered for row in self.rows if row.erlang_c), default=0)


def same_weekdays(day: date, weeks: int) -> list[date]:
    """The same weekday in each of the ``weeks`` weeks before ``day``, oldest first."""
    return [day - timedelta(weeks=n) for n in range(weeks, 0, -1)]


def _slot(bucket: datetime) -> time:
    """The local clock time a report interval (already local) starts at."""
    return time(bucket.hour, bucket.minute)


def observe(
    days: list[date], settings: kpis.KpiSettings, queue: str | None = None, now: datetime | None = None
) -> Observations:
    """Read the call log of ``days`` (local dates) into per-slot sums (one report per day)."""
    now = now or utcnow()
    zone = settings.zone
    result = Observations(days=days, observed=[])
    for day in days:
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        report = kpis.call_report(
            start, start + timedelta(days=1), interval="30", dimension="queue", settings=settings, now=now
        )
        rows = [row for row in report.rows if queue is None or row.key == queue]
        if not any(row.figures.offered for row in rows):
            continue
        result.observed.append(day)
        for row in rows:
            seen, slot = row.figures, result.slots[_slot(row.bucket)]
            slot.arrivals += seen.offered - seen.short_abandoned - seen.waiting
            slot.handled += seen.handled
            slot.handle_seconds += seen.talk + seen.wrap_up
            result.queued_seconds += seen.queued_seconds
            result.abandons += seen.abandoned
            result.handled += seen.handled
            result.handle_seconds += seen.talk + seen.wrap_up
        for bucket, agent_time in report.agent_time.items():
            result.slots[_slot(bucket)].agent_seconds += agent_time.busy + agent_time.idle
    return result


def plan_rows(observations: Observations, parameters: StaffingParameters) -> list[StaffingRow]:
    """Erlang C and Erlang A staffing for every slot that saw calls or agents (pure)."""
    days = len(observations.observed)
    rows = []
    patience = observations.patience
    for slot in sorted(observations.slots):
        seen = observations.slots[slot]
        arrivals = seen.arrivals / days if days else 0.0
        aht = seen.handle_seconds / seen.handled if seen.handled else observations.aht
        agents_observed = seen.agent_seconds / SLOT_SECONDS / days if days else 0.0
        if not arrivals or not aht:
            rows.append(StaffingRow(slot, arrivals, aht, 0.0, None, None, agents_observed))
            continue
        traffic = erlang.traffic_intensity(arrivals, SLOT_SECONDS, aht)
        by_c = erlang.erlang_c_staffing(
            traffic,
            aht,
            parameters.answer_target,
            parameters.target_service_level,
            max_occupancy=parameters.max_occupancy,
            shrinkage=parameters.shrinkage,
        )
        if patience is None:
            by_a = by_c  # nobody hung up: Erlang A with infinite patience is Erlang C
        else:
            by_a = erlang.erlang_a_staffing(
                arrivals / SLOT_SECONDS,
                aht,
                patience,
                parameters.answer_target,
                parameters.target_service_level,
                max_abandon=parameters.max_abandon,
                max_occupancy=parameters.max_occupancy,
                shrinkage=parameters.shrinkage,
            )
        rows.append(StaffingRow(slot, arrivals, aht, traffic, by_c, by_a, agents_observed))
    return rows


def staffing_plan(
    day: date,
    *,
    weeks: int | None = None,
    queue: str | None = None,
    settings: kpis.KpiSettings | None = None,
    parameters: StaffingParameters | None = None,
    now: datetime | None = None,
) -> StaffingPlan:
    """The agents needed on ``day``, per 30-minute slot, from the same weekday's history."""
    settings = settings or kpis.KpiSettings.from_config()
    parameters = parameters or StaffingParameters.from_config(settings)
    weeks = weeks or int(current_app.config.get("STAFFING_WEEKS", 4))
    observations = observe(same_weekdays(day, weeks), settings, queue, now)
    return StaffingPlan(day, weeks, queue, parameters, observations, plan_rows(observations, parameters))


# --- the plan as CSV ------------------------------------------------------------------------------------------


def staffing_csv(plan: Any) -> Iterator[str]:
    header = (
        "slot",
        "arrivals",
        "aht",
        "traffic_erlangs",
        "erlang_c_agents",
        "erlang_c_rostered",
        "erlang_c_service_level",
        "erlang_c_asa",
        "erlang_c_occupancy",
        "erlang_a_agents",
        "erlang_a_rostered",
        "erlang_a_service_level",
        "erlang_a_abandon",
        "agents_observed",
        "day",
        "weeks",
        "patience_seconds",
    )

    def rows() -> Iterator[list[Any]]:
        patience = plan.observations.patience
        for item in plan.rows:
            c, a = item.erlang_c, item.erlang_a
            yield [
                item.slot.strftime("%H:%M"),
                number(item.arrivals, 2),
                number(item.aht, 1),
                number(item.traffic, 3),
                c.raw_agents if c else "",
                c.rostered if c else "",
                number(c.service_level) if c else "",
                number(c.asa, 1) if c else "",
                number(c.occupancy) if c else "",
                a.raw_agents if a else "",
                a.rostered if a else "",
                number(a.service_level) if a else "",
                number(a.abandon_probability) if a else "",
                number(item.agents_observed, 2),
                plan.day.isoformat(),
                plan.weeks,
                number(patience, 1),
            ]

    return csv_rows(header, rows())
