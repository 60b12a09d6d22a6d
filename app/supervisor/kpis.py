"""Call-centre KPIs from the call log, per queue (or topic) and per interval.

Sources: the call log (``CallEvent``: ``queued``, ``answered``, ``abandoned`` with
``data.reason`` ``hangup``/``callback``, ``completed``, ``voicemail``, ``failed``, and when
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

:func:`call_facts` reads one row per queued call (one grouped query); :func:`compute` turns the
facts and the presence spans into figures (pure, no database).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, literal_column, select, type_coerce
from sqlalchemy.orm import aliased

from app.agents.models import AgentStateEvent, User, WorkItem
from app.core.time import utcnow
from app.core.types import UTCDateTime
from app.extensions import db
from app.telephony.models import Call, CallEvent

INTERVALS: dict[str, int] = {"15": 15, "30": 30, "60": 60, "day": 1440}
DIMENSIONS = ("queue", "topic", "all")
OUTCOMES = ("answered", "abandoned", "short_abandoned", "callback", "timed_out", "waiting")
BUSY_STATES = frozenset({"offered", "on_call", "wrap_up"})
IDLE_STATES = frozenset({"available"})
# Wrap-up of a call queued near the end of a period happens after it: look that far ahead.
WRAP_UP_LOOKAHEAD = timedelta(hours=12)
ALL = "*"


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


# --- facts ----------------------------------------------------------------------------------------


@dataclass
class CallFact:
    """One queued call, reduced to what the KPIs need."""

    call_id: int
    queue: str
    topic: str
    queued_at: datetime
    outcome: str  # answered, abandoned, callback, timed_out, waiting (short abandons: abandoned)
    wait: float  # seconds in queue (until now for a call still waiting)
    answered_at: datetime | None = None
    agent_id: int | None = None
    talk: float | None = None  # set once the answered call has ended
    wrap_up: float = 0.0
    ring_no_answer: int = 0
    transfers: int = 0


@dataclass
class StateSpan:
    agent_id: int
    state: str
    start: datetime
    end: datetime


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def call_facts(start: datetime, end: datetime, now: datetime | None = None) -> list[CallFact]:
    """The calls that entered the queue in ``[start, end)``, with their outcome (one query),
    and the wrap-up time the agents spent on them (a second)."""
    now = now or utcnow()
    queued, event = aliased(CallEvent), aliased(CallEvent)
    kinds = ("answered", "abandoned", "completed", "voicemail", "failed", "ring_no_answer", "transferred")

    def first_at(condition: Any) -> Any:
        return type_coerce(func.min(case((condition, event.at))), UTCDateTime)

    reason = event.data["reason"].as_string()
    is_callback = and_(event.kind == "abandoned", reason == "callback")
    is_hangup = and_(event.kind == "abandoned", func.coalesce(reason, "hangup") != "callback")
    stmt = (
        select(
            queued.call_id,
            type_coerce(queued.at, UTCDateTime).label("queued_at"),
            Call.language,
            Call.topic,
            Call.ended_at,
            first_at(event.kind == "answered").label("answered_at"),
            func.max(case((event.kind == "answered", event.wait_seconds))).label("answer_wait"),
            func.max(case((event.kind == "answered", event.agent_id))).label("answer_agent"),
            first_at(is_hangup).label("abandoned_at"),
            func.max(case((is_hangup, event.wait_seconds))).label("abandon_wait"),
            first_at(is_callback).label("callback_at"),
            func.max(case((is_callback, event.wait_seconds))).label("callback_wait"),
            first_at(event.kind.in_(("voicemail", "failed"))).label("other_exit_at"),
            first_at(event.kind == "completed").label("completed_at"),
            func.max(case((event.kind == "completed", event.talk_seconds))).label("talk"),
            func.max(case((event.kind == "completed", event.agent_id))).label("completed_agent"),
            func.count(case((event.kind == "ring_no_answer", literal_column("1")))).label("rna"),
            func.count(case((event.kind == "transferred", literal_column("1")))).label("transfers"),
        )
        .select_from(queued)
        .join(Call, Call.id == queued.call_id)
        .outerjoin(event, and_(event.call_id == queued.call_id, event.kind.in_(kinds)))
        .where(queued.kind == "queued", queued.at >= start, queued.at < end)
        .group_by(queued.call_id, queued.at, Call.language, Call.topic, Call.ended_at)
    )
    facts: dict[int, CallFact] = {}
    for row in db.session.execute(stmt):
        fact = _fact(row, now)
        facts[fact.call_id] = fact
    if facts:
        for call_id, seconds in _wrap_up_by_call(start, end + WRAP_UP_LOOKAHEAD, now).items():
            if call_id in facts:
                facts[call_id].wrap_up += seconds
    return list(facts.values())


def _fact(row: Any, now: datetime) -> CallFact:
    queued_at: datetime = row.queued_at
    fact = CallFact(
        call_id=row.call_id,
        queue=row.language or "id",
        topic=row.topic or "other",
        queued_at=queued_at,
        outcome="waiting",
        wait=_seconds(queued_at, now) or 0.0,
        ring_no_answer=int(row.rna or 0),
        transfers=int(row.transfers or 0),
    )
    if row.answered_at is not None:
        fact.outcome, fact.answered_at = "answered", row.answered_at
        fact.wait = (
            float(row.answer_wait)
            if row.answer_wait is not None
            else _seconds(queued_at, row.answered_at) or 0.0
        )
        fact.agent_id = row.answer_agent or row.completed_agent
        if row.completed_at is not None:
            fact.talk = (
                float(row.talk) if row.talk is not None else _seconds(row.answered_at, row.completed_at)
            )
    elif row.callback_at is not None:
        fact.outcome = "callback"
        fact.wait = (
            float(row.callback_wait)
            if row.callback_wait is not None
            else _seconds(queued_at, row.callback_at) or 0.0
        )
    elif row.abandoned_at is not None:
        fact.outcome = "abandoned"
        fact.wait = (
            float(row.abandon_wait)
            if row.abandon_wait is not None
            else _seconds(queued_at, row.abandoned_at) or 0.0
        )
    elif row.other_exit_at is not None or row.ended_at is not None:
        fact.outcome = "timed_out"
        fact.wait = _seconds(queued_at, row.other_exit_at or row.ended_at) or 0.0
    return fact


def _next_state_at() -> Any:
    """Correlated: when the agent's next presence change after this one happened."""
    later = aliased(AgentStateEvent)
    return (
        select(func.min(later.at))
        .where(
            later.agent_id == AgentStateEvent.agent_id,
            later.at >= AgentStateEvent.at,
            later.id > AgentStateEvent.id,
        )
        .scalar_subquery()
    )


def _wrap_up_by_call(start: datetime, end: datetime, now: datetime) -> dict[int, float]:
    """Seconds of wrap-up per call id: each wrap-up lasts until the agent's next change."""
    stmt = (
        select(
            WorkItem.ref_id,
            type_coerce(AgentStateEvent.at, UTCDateTime).label("at"),
            type_coerce(_next_state_at(), UTCDateTime).label("until"),
        )
        .join(WorkItem, WorkItem.id == AgentStateEvent.work_item_id)
        .where(
            AgentStateEvent.at >= start,
            AgentStateEvent.at < end,
            AgentStateEvent.to_state == "wrap_up",
            WorkItem.kind == "call",
        )
    )
    totals: dict[int, float] = defaultdict(float)
    for call_id, at, until in db.session.execute(stmt):
        totals[call_id] += _seconds(at, min(until or now, now)) or 0.0
    return totals


def state_spans(start: datetime, end: datetime, now: datetime | None = None) -> list[StateSpan]:
    """Every agent's presence over ``[start, min(end, now))`` as spans of one state."""
    now = now or utcnow()
    stop = min(end, now)
    if stop <= start:
        return []
    before = (
        select(AgentStateEvent.to_state)
        .where(AgentStateEvent.agent_id == User.id, AgentStateEvent.at < start)
        .order_by(AgentStateEvent.at.desc(), AgentStateEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    current: dict[int, tuple[str, datetime]] = {
        agent_id: (state, start)
        for agent_id, state in db.session.execute(select(User.id, before))
        if state is not None
    }
    rows = db.session.execute(
        select(
            AgentStateEvent.agent_id, AgentStateEvent.to_state, type_coerce(AgentStateEvent.at, UTCDateTime)
        )
        .where(AgentStateEvent.at >= start, AgentStateEvent.at < stop)
        .order_by(AgentStateEvent.at, AgentStateEvent.id)
    )
    spans: list[StateSpan] = []
    for agent_id, state, at in rows:
        if agent_id in current:
            previous, since = current[agent_id]
            if at > since:
                spans.append(StateSpan(agent_id, previous, since, at))
        current[agent_id] = (state, at)
    for agent_id, (state, since) in current.items():
        if stop > since:
            spans.append(StateSpan(agent_id, state, since, stop))
    return spans


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
    busy: float = 0.0  # agent seconds
    idle: float = 0.0
    ring_no_answer: int = 0
    transfers: int = 0

    def add_call(self, fact: CallFact, settings: KpiSettings) -> None:
        self.offered += 1
        self.max_wait = max(self.max_wait, fact.wait)
        self.ring_no_answer += fact.ring_no_answer
        self.transfers += fact.transfers
        within = fact.wait <= settings.answer_target
        if fact.outcome == "waiting":
            self.waiting += 1
            return
        self.left_within += within
        if fact.outcome == "answered":
            self.answered += 1
            self.answered_within += within
            self.answer_wait += fact.wait
            if fact.talk is not None:
                self.handled += 1
                self.talk += fact.talk
                self.wrap_up += fact.wrap_up
        elif fact.outcome == "abandoned":
            if fact.wait < settings.short_abandon:
                self.short_abandoned += 1
            else:
                self.abandoned += 1
            self.abandoned_within += within
        elif fact.outcome == "callback":
            self.callbacks += 1
        else:
            self.timed_out += 1

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


# --- intervals ----------------------------------------------------------------------------------------


def bucket_of(at: datetime, minutes: int, zone: ZoneInfo) -> datetime:
    """The start (local time) of the interval holding ``at``."""
    local = at.astimezone(zone)
    if minutes >= 1440:
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
    minute_of_day = local.hour * 60 + local.minute
    start = minute_of_day - minute_of_day % minutes
    return local.replace(hour=start // 60, minute=start % 60, second=0, microsecond=0)


def next_bucket(bucket: datetime, minutes: int, zone: ZoneInfo) -> datetime:
    if minutes >= 1440:
        day = bucket.date() + timedelta(days=1)
        return datetime(day.year, day.month, day.day, tzinfo=zone)
    return bucket_of(bucket + timedelta(minutes=minutes), minutes, zone)


def split_span(span: StateSpan, minutes: int, zone: ZoneInfo) -> Iterable[tuple[datetime, float]]:
    """The span's seconds in each interval it touches."""
    start = span.start
    while start < span.end:
        bucket = bucket_of(start, minutes, zone)
        stop = min(span.end, next_bucket(bucket, minutes, zone))
        yield bucket, (stop - start).total_seconds()
        start = stop


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

    def occupancy_at(self, bucket: datetime) -> float | None:
        """Centre-wide occupancy in an interval (whatever the rows are split by)."""
        if self.dimension == "all":
            cell = next((row.figures for row in self.rows if row.bucket == bucket), None)
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


def compute(
    facts: Iterable[CallFact],
    spans: Iterable[StateSpan],
    settings: KpiSettings,
    *,
    start: datetime,
    end: datetime,
    interval: str = "30",
    dimension: str = "queue",
) -> CallReport:
    """Figures per (interval, queue/topic), totals per queue/topic, and overall."""
    if interval not in INTERVALS:
        raise ValueError(f"unknown interval {interval!r}")
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    minutes, zone = INTERVALS[interval], settings.zone
    cells: dict[tuple[datetime, str], Figures] = defaultdict(Figures)
    report = CallReport(settings, start, end, interval, dimension)
    for fact in facts:
        key = fact.queue if dimension == "queue" else fact.topic if dimension == "topic" else ALL
        cells[(bucket_of(fact.queued_at, minutes, zone), key)].add_call(fact, settings)
    # Agent time is not split by queue: it goes to the all-queues cells and the overall figure.
    for span in spans:
        busy, idle = span.state in BUSY_STATES, span.state in IDLE_STATES
        if not (busy or idle):
            continue
        for bucket, seconds in split_span(span, minutes, zone):
            target = cells[(bucket, ALL)] if dimension == "all" else report.agent_time[bucket]
            if busy:
                target.busy += seconds
            else:
                target.idle += seconds
    for figures in report.agent_time.values():
        report.overall.add(figures)
    for (bucket, key), figures in sorted(cells.items()):
        report.rows.append(Row(bucket, key, figures))
        report.totals.setdefault(key, Figures()).add(figures)
        report.overall.add(figures)
    return report


def call_report(
    start: datetime,
    end: datetime,
    *,
    interval: str = "30",
    dimension: str = "queue",
    settings: KpiSettings | None = None,
    now: datetime | None = None,
) -> CallReport:
    """Call KPIs over ``[start, end)`` from the database."""
    now = now or utcnow()
    settings = settings or KpiSettings.from_config()
    return compute(
        call_facts(start, end, now),
        state_spans(start, end, now),
        settings,
        start=start,
        end=end,
        interval=interval,
        dimension=dimension,
    )
