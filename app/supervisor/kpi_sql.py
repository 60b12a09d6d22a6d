"""The SQL behind the call KPIs: the database aggregates, Python only names the results.

Two queries answer every report, on SQLite and PostgreSQL alike:

* :func:`call_figures` — one row per (interval, queue/topic/agent) with the counts and sums of
  :class:`app.supervisor.kpis.Figures`. Inside: the call log of the period (plus a look-ahead for
  what happens to late calls) grouped per call (``per_call``), the wrap-up time per call from the
  presence log (``wrap``), each call's outcome and wait (``facts``), then the sums;
* :func:`self_service_figures` — the IVR's self-service (claim status): calls that started it,
  were verified, refused, asked for an agent, or were *contained* (ended there), per queue,
  read from the call log's ``ss_*`` and ``contained`` facts (they never enter the queue, so
  they are not in the call facts above; ``ix_call_events_kind_at`` finds them);
* :func:`agent_seconds` — busy / idle / away agent seconds per interval or per agent, from the
  presence log with ``LEAD()`` giving each state its end. Spans inside one interval are summed
  by the database; the few that cross an interval boundary (and each agent's state carried in
  from before the period) are cut in Python.

Intervals are a fixed grid of ``size`` seconds shifted by the report zone's UTC offset at the
start of the period (exact for WIB, WITA and WIT, which have no daylight saving).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.orm import aliased

from app.agents.models import AgentStateEvent, WorkItem
from app.core.types import UTCDateTime
from app.extensions import db
from app.supervisor.models import CallFactRow, RollupDay
from app.supervisor.sql_time import Grid, epoch, no_jit
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


# --- IVR self-service ---------------------------------------------------------------------------

SELF_SERVICE_KINDS = ("ss_started", "ss_verified", "ss_refused", "ss_agent", "ss_sms", "contained")


def self_service_figures(start: datetime, end: datetime, key: str) -> list[dict[str, Any]]:
    """Per queue (``key`` ``queue``: her language) or overall (any other key, under ``ALL``):
    the calls that started self-service in ``[start, end)`` and what became of them. A call
    belongs to the period in which she chose self-service, whenever it ended."""
    e = CallEvent
    started_at = func.min(case((e.kind == "ss_started", e.at)))

    def seen(kind: str) -> Any:
        return func.max(case((e.kind == kind, 1), else_=0))

    per_call = (
        select(
            e.call_id.label("call_id"),
            func.max(case((e.kind == "ss_started", e.data["language"].as_string()))).label("language"),
            seen("ss_verified").label("verified"),
            seen("ss_refused").label("refused"),
            seen("ss_agent").label("to_agent"),
            seen("ss_sms").label("sms"),
            seen("contained").label("contained"),
        )
        .where(e.kind.in_(SELF_SERVICE_KINDS), e.at >= start, e.at < end + LOOKAHEAD)
        .group_by(e.call_id)
        .having(and_(started_at >= start, started_at < end))
        .subquery("per_call")
    )
    c = per_call.c
    sums = (
        func.count().label("started"),
        func.sum(c.verified).label("verified"),
        func.sum(c.refused).label("refused"),
        func.sum(c.to_agent).label("to_agent"),
        func.sum(c.sms).label("sms"),
        func.sum(c.contained).label("contained"),
    )
    if key == "queue":
        language = func.coalesce(c.language, "id")
        statement = select(language.label("key"), *sums).group_by(language)
        return [dict(row._mapping) for row in db.session.execute(statement)]
    row = db.session.execute(select(*sums)).one()
    return [{"key": ALL, **row._mapping}] if row.started else []
