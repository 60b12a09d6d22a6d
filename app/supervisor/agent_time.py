"""Agent time for the reports and roll-ups: busy, idle and away seconds per interval or per agent,
from the presence log (``agent_state_events``) or the rolled-up slots, in SQL on SQLite and
PostgreSQL. Call figures are in :mod:`app.supervisor.kpi_sql`, whose state classes and day
segments this module shares."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import (
    bindparam,
    case,
    func,
    literal_column,
    select,
)

from app.agents.models import AgentStateEvent
from app.core.types import UTCDateTime
from app.extensions import db
from app.staff.models import User
from app.supervisor.kpi_sql import AWAY_STATES, BUSY_STATES, IDLE_STATES, segments
from app.supervisor.models import SLOT_SECONDS, AgentTimeSlot
from app.supervisor.sql_time import Grid, at_utc, epoch, no_jit


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
        crossing = select(c.agent_id, c.klass, at_utc(c.st), at_utc(c.en)).where(c.first != c.last)
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
    for agent, state, changed in db.session.execute(select(User.id, before, at_utc(first_change))):
        if state is not None:
            add_span(agent, _classify(state), start, changed or stop)
    return result
