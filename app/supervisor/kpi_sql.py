"""The SQL behind the call KPIs: the database aggregates, Python only names the results.

Two queries answer every report, on SQLite and PostgreSQL alike:

* :func:`call_figures` — one row per (interval, queue/topic/agent) with the counts and sums of
  :class:`app.supervisor.kpis.Figures`. Inside: the call log of the period (plus a look-ahead for
  what happens to late calls) grouped per call (``per_call``), the wrap-up time per call from the
  presence log (``wrap``), each call's outcome and wait (``facts``), then the sums;
* :func:`agent_seconds` — busy / idle / away agent seconds per interval or per agent, from the
  presence log with ``LEAD()`` giving each state its end. Spans inside one interval are summed
  by the database; the few that cross an interval boundary (and each agent's state carried in
  from before the period) are cut in Python.

Intervals are a fixed grid of ``size`` seconds shifted by the report zone's UTC offset at the
start of the period (exact for WIB, WITA and WIT, which have no daylight saving).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    text,
    type_coerce,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from app.agents.models import AgentStateEvent, User, WorkItem
from app.core.types import UTCDateTime
from app.extensions import db
from app.supervisor.models import SLOT_SECONDS, AgentTimeSlot, CallFactRow, RollupDay
from app.telephony.models import Call, CallEvent

# What happens to a call queued just before the end of a period is read this far past it.
LOOKAHEAD = timedelta(hours=12)
BUSY_STATES = ("offered", "on_call", "wrap_up")
IDLE_STATES = ("available",)
AWAY_STATES = ("away",)
ALL = "*"
KEYS = ("queue", "topic", "all", "agent")
_CALL_KINDS = (
    "queued",
    "answered",
    "abandoned",
    "completed",
    "left_queue",
    "voicemail",
    "failed",
    "ring_no_answer",
    "transferred",
)


# --- portable SQL ---------------------------------------------------------------------------------


class epoch(FunctionElement[float]):  # noqa: N801 - reads as SQL
    """Seconds since 1970 of a timestamp column (UTC)."""

    type = Float()
    inherit_cache = True
    name = "epoch"


@compiles(epoch)
def _epoch_sqlite(element: epoch, compiler: Any, **kw: Any) -> str:
    # SQLite keeps UTC timestamps as text. julianday() would read it with ~50 µs of float noise;
    # whole seconds from %s plus the fraction from %f are exact to the millisecond.
    value = compiler.process(element.clauses, **kw)
    return (
        f"(CAST(strftime('%s', {value}) AS INTEGER) - CAST(strftime('%S', {value}) AS INTEGER)"
        f" + CAST(strftime('%f', {value}) AS REAL))"
    )


@compiles(epoch, "postgresql")
def _epoch_postgresql(element: epoch, compiler: Any, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS DOUBLE PRECISION)"


class grid_index(FunctionElement[int]):  # noqa: N801 - reads as SQL
    """``floor((seconds + offset) / size)``: the interval a moment falls in."""

    type = Integer()
    inherit_cache = True
    name = "grid_index"


@compiles(grid_index)
def _grid_sqlite(element: grid_index, compiler: Any, **kw: Any) -> str:
    seconds, offset, size = (compiler.process(arg, **kw) for arg in element.clauses)
    # Timestamps are after 1970, so truncation is floor.
    return f"CAST(({seconds} + {offset}) / {size} AS INTEGER)"


@compiles(grid_index, "postgresql")
def _grid_postgresql(element: grid_index, compiler: Any, **kw: Any) -> str:
    seconds, offset, size = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(FLOOR(({seconds} + {offset}) / {size}) AS BIGINT)"


@dataclass(frozen=True)
class Grid:
    """Intervals of ``size`` seconds in local time (``offset``: the zone's UTC offset)."""

    size: int
    offset: int
    zone: ZoneInfo

    @classmethod
    def for_period(cls, minutes: int, zone: ZoneInfo, start: datetime) -> Grid:
        offset = start.astimezone(zone).utcoffset() or timedelta(0)
        return cls(minutes * 60, int(offset.total_seconds()), zone)

    def sql(self, column: Any) -> Any:
        return self.sql_seconds(epoch(column))

    def sql_seconds(self, seconds: Any) -> Any:
        # Inline integers (not bound parameters): PostgreSQL matches GROUP BY expressions by text.
        return grid_index(seconds, literal_column(str(int(self.offset))), literal_column(str(int(self.size))))

    def index(self, moment: datetime) -> int:
        return math.floor((moment.timestamp() + self.offset) / self.size)

    def start(self, index: int) -> datetime:
        return datetime.fromtimestamp(index * self.size - self.offset, UTC).astimezone(self.zone)

    def split(self, start: datetime, end: datetime) -> list[tuple[int, float]]:
        """Seconds of ``[start, end)`` per interval."""
        parts, a, b = [], start.timestamp(), end.timestamp()
        while a < b:
            index = math.floor((a + self.offset) / self.size)
            stop = min(b, (index + 1) * self.size - self.offset)
            parts.append((index, stop - a))
            a = stop
        return parts


def _at(value: Any) -> Any:
    return type_coerce(value, UTCDateTime)


def no_jit() -> None:
    """Turn PostgreSQL's JIT off for the rest of this transaction.

    The report queries are cheap to run (tens of milliseconds) but look expensive to the planner
    (hundreds of thousands of rows, many expressions), which makes PostgreSQL compile them with
    LLVM first: seconds of compilation for a query that then runs in milliseconds (measured in
    bench/bench_supervision.py). ``SET LOCAL`` ends with the transaction.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL jit = off"))


# --- calls ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    answer_target: int
    short_abandon: int


def _per_call(start: datetime, end: datetime) -> Any:
    e = CallEvent
    reason = e.data["reason"].as_string()
    hangup = and_(e.kind == "abandoned", func.coalesce(reason, "hangup") != "callback")
    callback = and_(e.kind == "abandoned", reason == "callback")
    queued_at = func.min(case((e.kind == "queued", e.at)))
    answered = e.kind == "answered"
    completed = e.kind == "completed"
    return (
        select(
            e.call_id.label("call_id"),
            queued_at.label("queued_at"),
            # The queue and topic as the call was queued (the call row may change later).
            func.max(case((e.kind == "queued", e.data["language"].as_string()))).label("language"),
            func.max(case((e.kind == "queued", e.data["topic"].as_string()))).label("topic"),
            func.min(case((answered, e.at))).label("answered_at"),
            func.max(case((answered, e.wait_seconds))).label("answer_wait"),
            func.max(case((answered, e.agent_id))).label("answer_agent"),
            func.min(case((hangup, e.at))).label("abandoned_at"),
            func.max(case((hangup, e.wait_seconds))).label("abandon_wait"),
            func.min(case((callback, e.at))).label("callback_at"),
            func.max(case((callback, e.wait_seconds))).label("callback_wait"),
            # A call sent to voicemail left the queue at ``left_queue`` (logged since that fix),
            # before its ``voicemail`` (the end of the message): the earliest exit counts.
            func.min(case((e.kind.in_(("left_queue", "voicemail", "failed")), e.at))).label("other_exit_at"),
            func.max(case((e.kind == "left_queue", e.wait_seconds))).label("other_exit_wait"),
            func.min(case((completed, e.at))).label("completed_at"),
            func.max(case((completed, e.talk_seconds))).label("talk"),
            func.max(case((completed, e.agent_id))).label("completed_agent"),
            func.sum(case((e.kind == "ring_no_answer", 1), else_=0)).label("rna"),
            func.sum(case((e.kind == "transferred", 1), else_=0)).label("transfers"),
        )
        .where(e.kind.in_(_CALL_KINDS), e.at >= start, e.at < end + LOOKAHEAD)
        .group_by(e.call_id)
        .having(and_(queued_at >= start, queued_at < end))
        .cte("per_call")
    )


def _wrap(per_call: Any, cap: Any) -> Any:
    """Wrap-up seconds per call of ``per_call``: each of its agents' wrap-ups for the call's work
    item lasts until that agent's next change (or ``cap``: now, or the end of the look-ahead).

    Walks from the calls to their work items to the wrap-ups by index (a few probes per call),
    rather than reading every presence change of the period.
    """
    s, later = AgentStateEvent, aliased(AgentStateEvent)
    next_at = (
        select(func.min(later.at))
        .where(later.agent_id == s.agent_id, later.at >= s.at, later.id > s.id)
        .scalar_subquery()
    )
    return (
        select(
            WorkItem.ref_id.label("call_id"),
            func.sum(epoch(func.coalesce(next_at, cap)) - epoch(s.at)).label("wrap_up"),
        )
        .select_from(per_call)
        .join(WorkItem, and_(WorkItem.kind == "call", WorkItem.ref_id == per_call.c.call_id))
        .join(s, and_(s.work_item_id == WorkItem.id, s.to_state == "wrap_up"))
        .group_by(WorkItem.ref_id)
        .cte("wrap")
    )


def raw_facts(start: datetime, end: datetime, now: datetime) -> Any:
    """One row per call queued in ``[start, end)``, from the logs: how it left the queue, its
    wait, talk and wrap-up (the columns of :class:`app.supervisor.models.CallFactRow`)."""
    now_param = bindparam("now", now, type_=UTCDateTime)
    per_call = _per_call(start, end)
    pc = per_call.c
    wrap = _wrap(per_call, bindparam("cap", min(now, end + LOOKAHEAD), type_=UTCDateTime))
    # Only read for a call with no exit in the log (rare): a scalar subquery inside the CASE.
    ended_at = select(Call.ended_at).where(Call.id == pc.call_id).scalar_subquery()
    queued = epoch(pc.queued_at)

    def waited(at: Any, logged: Any) -> Any:
        return func.coalesce(logged, epoch(at) - queued)

    outcome = case(
        (pc.answered_at.is_not(None), "answered"),
        (pc.callback_at.is_not(None), "callback"),
        (pc.abandoned_at.is_not(None), "abandoned"),
        (pc.other_exit_at.is_not(None), "timed_out"),
        (ended_at.is_not(None), "timed_out"),
        else_="waiting",
    )
    wait = case(
        (pc.answered_at.is_not(None), waited(pc.answered_at, pc.answer_wait)),
        (pc.callback_at.is_not(None), waited(pc.callback_at, pc.callback_wait)),
        (pc.abandoned_at.is_not(None), waited(pc.abandoned_at, pc.abandon_wait)),
        (pc.other_exit_at.is_not(None), waited(pc.other_exit_at, pc.other_exit_wait)),
        (ended_at.is_not(None), epoch(ended_at) - queued),
        else_=epoch(now_param) - queued,
    )
    talk = case(
        (
            and_(pc.answered_at.is_not(None), pc.completed_at.is_not(None)),
            func.coalesce(pc.talk, epoch(pc.completed_at) - epoch(pc.answered_at)),
        )
    )
    return (
        select(
            pc.call_id.label("call_id"),
            pc.queued_at.label("queued_at"),
            func.coalesce(pc.language, "id").label("language"),
            func.coalesce(pc.topic, "other").label("topic"),
            func.coalesce(pc.answer_agent, pc.completed_agent).label("agent_id"),
            outcome.label("outcome"),
            wait.label("wait"),
            talk.label("talk"),
            func.coalesce(wrap.c.wrap_up, 0.0).label("wrap_up"),
            func.coalesce(pc.rna, 0).label("rna"),
            func.coalesce(pc.transfers, 0).label("transfers"),
        )
        .select_from(per_call)
        .outerjoin(wrap, wrap.c.call_id == pc.call_id)
    )


def _rolled_facts(start: datetime, end: datetime) -> Any:
    r = CallFactRow
    return select(
        r.call_id, r.queued_at, r.language, r.topic, r.agent_id, r.outcome, r.wait, r.talk, r.wrap_up,
        r.rna, r.transfers,
    ).where(r.queued_at >= start, r.queued_at < end)  # fmt: skip


def _sums(facts: Any, thresholds: Thresholds, grid: Grid | None, key: str) -> Any:
    """The report's counts and sums over call facts, per (interval, key)."""
    source = facts.subquery("facts")
    keys: dict[str, Any] = {
        "queue": source.c.language,
        "topic": source.c.topic,
        "all": literal(ALL, String),
        "agent": cast(source.c.agent_id, String),
    }
    keyed = select(
        (grid.sql(source.c.queued_at) if grid else literal(0, Integer)).label("bucket"),
        keys[key].label("key"),
        source.c.outcome,
        source.c.wait,
        source.c.talk,
        source.c.wrap_up,
        source.c.rna,
        source.c.transfers,
    ).cte("keyed")
    f = keyed.c
    t, tsa = thresholds.answer_target, thresholds.short_abandon
    answered, abandoned = f.outcome == "answered", f.outcome == "abandoned"
    short = and_(abandoned, f.wait < tsa)
    counted_abandon = and_(abandoned, f.wait >= tsa)
    left = f.outcome != "waiting"
    handled = and_(answered, f.talk.is_not(None))

    def count(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    def total(condition: Any, value: Any) -> Any:
        return func.sum(case((condition, value), else_=0.0))

    return select(
        f.bucket,
        f.key,
        func.count().label("offered"),
        count(answered).label("answered"),
        count(and_(answered, f.wait <= t)).label("answered_within"),
        count(counted_abandon).label("abandoned"),
        count(and_(abandoned, f.wait <= t)).label("abandoned_within"),
        count(short).label("short_abandoned"),
        count(f.outcome == "callback").label("callbacks"),
        count(f.outcome == "timed_out").label("timed_out"),
        count(f.outcome == "waiting").label("waiting"),
        count(and_(left, f.wait <= t)).label("left_within"),
        total(answered, f.wait).label("answer_wait"),
        count(handled).label("handled"),
        total(handled, f.talk).label("talk"),
        total(handled, f.wrap_up).label("wrap_up"),
        func.max(f.wait).label("max_wait"),
        total(and_(left, ~short), f.wait).label("queued_seconds"),
        func.sum(f.rna).label("ring_no_answer"),
        func.sum(f.transfers).label("transfers"),
    ).group_by(f.bucket, f.key)


def segments(start: datetime, end: datetime) -> list[tuple[datetime, datetime, bool]]:
    """``[start, end)`` cut into runs read from the roll-ups (True) or from the logs (False).

    Roll-up rows carry their own times (a call's queue time, a 15-minute slot), so any part of
    a rolled-up UTC day can be read from them: a local day (17:00–17:00 UTC in WIB) over two
    rolled-up days needs nothing from the logs.
    """
    first = start.astimezone(UTC).date()
    days = set(
        db.session.scalars(
            select(RollupDay.day).where(RollupDay.day >= first, RollupDay.day <= end.astimezone(UTC).date())
        )
    )
    parts: list[tuple[datetime, datetime, bool]] = []

    def add(a: datetime, b: datetime, rolled: bool) -> None:
        if a >= b:
            return
        if parts and parts[-1][2] == rolled and parts[-1][1] == a:
            parts[-1] = (parts[-1][0], b, rolled)
        else:
            parts.append((a, b, rolled))

    cursor = start
    day = first
    while cursor < end:
        day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        day_end = day_start + timedelta(days=1)
        add(cursor, min(day_end, end), day in days)
        cursor, day = min(day_end, end), day + timedelta(days=1)
    return parts


def _merge(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: dict[tuple[Any, Any], dict[str, Any]] = {}
    for row in rows:
        cell = merged.get((row["bucket"], row["key"]))
        if cell is None:
            merged[(row["bucket"], row["key"])] = dict(row)
            continue
        for name, value in row.items():
            if name in ("bucket", "key") or value is None:
                continue
            if name == "max_wait":
                cell[name] = max(cell[name] or 0, value)
            else:
                cell[name] = (cell[name] or 0) + value
    return list(merged.values())


def call_figures(
    start: datetime, end: datetime, now: datetime, thresholds: Thresholds, grid: Grid | None, key: str
) -> list[dict[str, Any]]:
    """Sums per (interval index or None, key) of the calls queued in ``[start, end)``: rolled-up
    days from ``call_facts``, the rest from the call log."""
    if key not in KEYS:
        raise ValueError(f"unknown key {key!r}")
    no_jit()
    rows: list[dict[str, Any]] = []
    for a, b, rolled in segments(start, end):
        facts = _rolled_facts(a, b) if rolled else raw_facts(a, b, now)
        rows += [dict(row._mapping) for row in db.session.execute(_sums(facts, thresholds, grid, key))]
    return _merge(rows)


# --- agent time -----------------------------------------------------------------------------------------


def _state_class(state: Any) -> Any:
    return case(
        (state.in_(BUSY_STATES), "busy"),
        (state.in_(IDLE_STATES), "idle"),
        (state.in_(AWAY_STATES), "away"),
        else_=None,
    )


def _classify(state: str) -> str | None:
    if state in BUSY_STATES:
        return "busy"
    if state in IDLE_STATES:
        return "idle"
    if state in AWAY_STATES:
        return "away"
    return None


Seconds = dict[tuple[int | None, int | None], dict[str, float]]


def _seconds() -> Seconds:
    return defaultdict(lambda: {"busy": 0.0, "idle": 0.0, "away": 0.0})


def agent_seconds(
    start: datetime, end: datetime, now: datetime, grid: Grid | None, by_agent: bool = False
) -> Seconds:
    """Seconds busy / idle / away per (interval index, agent id) over ``[start, min(end, now))``:
    rolled-up days from ``agent_time_slots``, the rest from the presence log.

    Without ``grid`` the interval is None; without ``by_agent`` the agent is None.
    """
    result = _seconds()
    for a, b, rolled in segments(start, min(end, now)):
        # Slots are 15 minutes: a run that does not start and end on a slot edge is read from the log.
        rolled = rolled and a.timestamp() % SLOT_SECONDS == 0 and b.timestamp() % SLOT_SECONDS == 0
        part = (
            _rolled_agent_seconds(a, b, grid, by_agent)
            if rolled
            else raw_agent_seconds(a, b, now, grid, by_agent)
        )
        for cell, seconds in part.items():
            for klass, value in seconds.items():
                result[cell][klass] += value
    return result


def _rolled_agent_seconds(start: datetime, end: datetime, grid: Grid | None, by_agent: bool) -> Seconds:
    result = _seconds()
    slot = AgentTimeSlot
    bucket = grid.sql(slot.slot_at) if grid else literal_column("NULL")
    groups = ([grid.sql(slot.slot_at)] if grid else []) + ([slot.agent_id] if by_agent else [])
    stmt = (
        select(
            bucket,
            slot.agent_id if by_agent else literal_column("NULL"),
            func.sum(slot.busy),
            func.sum(slot.idle),
            func.sum(slot.away),
        )
        .where(slot.slot_at >= start, slot.slot_at < end)
        .group_by(*groups)
    )
    for index, agent, busy, idle, away in db.session.execute(stmt):
        cell = result[(index, agent)]
        cell["busy"] += float(busy or 0)
        cell["idle"] += float(idle or 0)
        cell["away"] += float(away or 0)
    return result


def raw_agent_seconds(
    start: datetime, end: datetime, now: datetime, grid: Grid | None, by_agent: bool = False
) -> Seconds:
    """:func:`agent_seconds` from the presence log alone."""
    stop = min(end, now)
    result = _seconds()
    if stop <= start:
        return result
    no_jit()

    def add(index: int | None, agent: int | None, klass: str | None, seconds: float) -> None:
        if klass is not None and seconds > 0:
            result[(index, agent if by_agent else None)][klass] += seconds

    def add_span(agent: int, klass: str | None, a: datetime, b: datetime) -> None:
        if grid is None:
            add(None, agent, klass, (b - a).total_seconds())
        else:
            for index, seconds in grid.split(a, b):
                add(index, agent, klass, seconds)

    s = AgentStateEvent
    stop_param = bindparam("stop", stop, type_=UTCDateTime)
    until = func.coalesce(func.lead(s.at).over(partition_by=s.agent_id, order_by=(s.at, s.id)), stop_param)
    spans = (
        select(
            s.agent_id.label("agent_id"),
            _state_class(s.to_state).label("klass"),
            s.at.label("st"),
            until.label("en"),
        )
        .where(s.at >= start, s.at < stop)
        .subquery("spans")
    )
    if grid is None:
        seconds = epoch(spans.c.en) - epoch(spans.c.st)
        stmt = (
            select(spans.c.agent_id, spans.c.klass, func.sum(seconds))
            .where(spans.c.klass.is_not(None))
            .group_by(spans.c.agent_id, spans.c.klass)
        )
        for agent, klass, total in db.session.execute(stmt):
            add(None, agent, klass, float(total or 0))
    else:
        # Interval of each span's start and end (a span ending exactly on a boundary belongs
        # to the interval before it). The CTE is read twice, so both databases compute it once.
        cut = (
            select(
                spans.c.agent_id,
                spans.c.klass,
                spans.c.st,
                spans.c.en,
                grid.sql(spans.c.st).label("first"),
                grid.sql_seconds(epoch(spans.c.en) - 0.001).label("last"),
                (epoch(spans.c.en) - epoch(spans.c.st)).label("seconds"),
            )
            .where(spans.c.klass.is_not(None))
            .cte("cut")
        )
        c = cut.c
        agent_column = c.agent_id if by_agent else literal_column("NULL")
        inside = (
            select(c.first, agent_column, c.klass, func.sum(c.seconds))
            .where(c.first == c.last)
            .group_by(c.first, c.klass, *([c.agent_id] if by_agent else []))
        )
        for bucket, agent, klass, total in db.session.execute(inside):
            add(bucket, agent, klass, float(total or 0))
        crossing = select(c.agent_id, c.klass, _at(c.st), _at(c.en)).where(c.first != c.last)
        for agent, klass, st, en in db.session.execute(crossing):
            add_span(agent, klass, st, en)
    # Each agent's state carried in from before the period, until their first change in it.
    before = (
        select(s.to_state)
        .where(s.agent_id == User.id, s.at < start)
        .order_by(s.at.desc(), s.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    first_change = (
        select(func.min(s.at)).where(s.agent_id == User.id, s.at >= start, s.at < stop).scalar_subquery()
    )
    for agent, state, changed in db.session.execute(select(User.id, before, _at(first_change))):
        if state is not None:
            add_span(agent, _classify(state), start, changed or stop)
    return result
