"""Rolling the call and presence logs up into ``call_facts`` and ``agent_time_slots``, by UTC day.

A day is rolled up :data:`EARLY` after it ends (so reports over past days read almost nothing
from the logs), and once more when it has been over for :data:`SETTLE` (longer than the
reports' look-ahead: a call queued just before midnight is answered, talked and wrapped up after
it, and a delayed webhook may still arrive); that second roll-up is final. Rolling a day up rewrites that day's rows from the logs with the same SQL the reports use on
the logs (``kpi_sql.raw_facts`` / ``agent_time.raw_agent_seconds``), in one transaction per day, so a
crash leaves a day either as it was or complete. Two workers rolling the same day at once: the
second one's insert collides on the primary keys and is rolled back; nothing is counted twice.

``flask supervision rollup`` runs it by hand (``--rebuild-from`` to redo days after a late
import); ``flask jobs worker`` runs :func:`roll_up_pass` (every ten minutes, a month of days
per pass at most, so the first pass over a long history does not hold a worker for long).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import click
from flask import Blueprint
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from app.agents.models import AgentStateEvent
from app.core.time import utcnow
from app.extensions import db
from app.supervisor.agent_time import raw_agent_seconds
from app.supervisor.kpi_sql import LOOKAHEAD, raw_facts
from app.supervisor.models import SLOT_SECONDS, AgentTimeSlot, CallFactRow, RollupDay
from app.supervisor.sql_time import Grid
from app.telephony.models import CallEvent

log = logging.getLogger(__name__)

EARLY = timedelta(hours=2)
SETTLE = LOOKAHEAD + timedelta(hours=12)
DAYS_PER_PASS = 31
UTC_SLOTS = Grid(SLOT_SECONDS, 0, ZoneInfo("UTC"))

cli = Blueprint("supervision", __name__, cli_group="supervision")
cli.cli.help = "Supervision reports: roll the call log up.\n\nFinished days of the call log become call_facts rows for the long reports."


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def roll_up_day(day: date, now: datetime | None = None) -> int:
    """Rewrite one UTC day's roll-up rows from the logs (the caller commits); returns its calls."""
    now = now or utcnow()
    start, end = _bounds(day)
    db.session.execute(delete(CallFactRow).where(CallFactRow.queued_at >= start, CallFactRow.queued_at < end))
    db.session.execute(
        delete(AgentTimeSlot).where(AgentTimeSlot.slot_at >= start, AgentTimeSlot.slot_at < end)
    )
    db.session.execute(delete(RollupDay).where(RollupDay.day == day))
    facts = raw_facts(start, end, now)
    columns = [column.name for column in facts.selected_columns]
    db.session.execute(insert(CallFactRow).from_select(columns, facts))
    slots = [
        {
            "slot_at": UTC_SLOTS.start(index),
            "agent_id": agent_id,
            "busy": seconds["busy"],
            "idle": seconds["idle"],
            "away": seconds["away"],
        }
        for (index, agent_id), seconds in raw_agent_seconds(start, end, now, UTC_SLOTS, by_agent=True).items()
        if index is not None and agent_id is not None
    ]
    if slots:
        db.session.execute(insert(AgentTimeSlot), slots)
    calls = int(
        db.session.scalar(
            select(func.count())
            .select_from(CallFactRow)
            .where(CallFactRow.queued_at >= start, CallFactRow.queued_at < end)
        )
        or 0
    )
    db.session.add(RollupDay(day=day, calls=calls, final=end + SETTLE <= now, rolled_at=now))
    db.session.flush()
    return calls


def settled_until(now: datetime) -> date:
    """The first UTC day that is not settled yet (days before it are rolled up for good)."""
    return (now - SETTLE).astimezone(UTC).date()


def pending_days(now: datetime, limit: int = DAYS_PER_PASS) -> list[date]:
    """Days to roll up, oldest first: ended at least :data:`EARLY` ago and either never rolled
    up, or rolled up before they had settled and settled since."""
    firsts = [
        db.session.scalar(select(func.min(CallEvent.at)).where(CallEvent.kind == "queued")),
        db.session.scalar(select(func.min(AgentStateEvent.at))),
    ]
    known = [moment for moment in firsts if moment is not None]
    if not known:
        return []
    day, stop, settled = (
        min(known).astimezone(UTC).date(),
        (now - EARLY).astimezone(UTC).date(),
        settled_until(now),
    )
    if day >= stop:
        return []
    rolled = {
        rolled_day: final
        for rolled_day, final in db.session.execute(
            select(RollupDay.day, RollupDay.final).where(RollupDay.day >= day, RollupDay.day < stop)
        )
    }
    days: list[date] = []
    while day < stop and len(days) < limit:
        if day not in rolled or (not rolled[day] and day < settled):
            days.append(day)
        day += timedelta(days=1)
    return days


def roll_up(now: datetime | None = None, limit: int = DAYS_PER_PASS) -> list[date]:
    """Roll up every pending day (at most ``limit``), each in its own transaction."""
    now = now or utcnow()
    rolled = []
    for day in pending_days(now, limit):
        try:
            roll_up_day(day, now)
            db.session.commit()
            rolled.append(day)
        except IntegrityError:  # another worker rolled this day up meanwhile
            db.session.rollback()
    return rolled


def rebuild(since: date, now: datetime | None = None) -> int:
    """Roll up again every settled day from ``since`` (after a late import or a fix)."""
    now = now or utcnow()
    day, stop, count = since, settled_until(now), 0
    while day < stop:
        roll_up_day(day, now)
        db.session.commit()
        day, count = day + timedelta(days=1), count + 1
    return count


def roll_up_pass() -> list[date]:
    """The periodic job ``supervision-rollup`` (every ``SUPERVISOR_ROLLUP_SECONDS``)."""
    days = roll_up()
    if days:
        log.info("rolled up %d day(s) up to %s", len(days), days[-1])
    return days


@cli.cli.command("rollup")
@click.option("--rebuild-from", "since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
def rollup_command(since: datetime | None) -> None:
    """Roll up finished days of the call log (all pending ones, or again from a date)."""
    if since is not None:
        click.echo(f"rolled up {rebuild(since.date())} day(s) again")
        return
    total = 0
    while days := roll_up():
        total += len(days)
    click.echo(f"rolled up {total} day(s)")
