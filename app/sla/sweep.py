"""The SLA sweep: warnings, breaches and escalations as time passes, in set-based SQL.

A pass picks at most ``BATCH_SIZE`` tickets whose ``sla_check_at`` (indexed) has come, earliest
first (on PostgreSQL ``FOR UPDATE SKIP LOCKED``, so concurrent sweeps take disjoint rows), so a
quiet minute over 200,000 open tickets is one index probe and a backlog is worked off in short
transactions. For the picked rows:

1. one ``INSERT INTO sla_events … SELECT … ON CONFLICT DO NOTHING`` for the four (target, kind)
   pairs under a batch token — the unique key (ticket, target, kind, cycle) makes each warning
   and breach happen once, whatever other sweep (or late reply, see
   :func:`app.sla.services.reconcile`) got there first;
2. one ``UPDATE`` sets the flags, moves ``sla_check_at`` to the next pending moment and
   recomputes ``sla_status`` (one new row version per ticket);
3. timeline entries and escalations are written only for the rows *this* batch inserted, so a
   concurrent sweep that lost the race adds nothing.

On PostgreSQL a transaction-level advisory lock also lets only one sweep run at a time; a second
one that starts meanwhile returns at once (``skipped``). The unique key is what guarantees
"once"; the lock and SKIP LOCKED only save wasted work and lock waits.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    and_,
    case,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from app.core import realtime
from app.core.time import utcnow
from app.extensions import db
from app.sla.models import SlaEvent, SlaPolicy
from app.sla.services import RUNNING_STATUSES
from app.tickets.models import PRIORITIES, Ticket, TicketEvent

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x5A1A  # pg_advisory_xact_lock key for "the SLA sweep"
BATCH_SIZE = 5000
ALERT_LIMIT = 50
_FAR_FUTURE = "9999-12-31 23:59:59.999999"

T = Ticket.__table__


@dataclass
class SweepResult:
    skipped: bool = False
    warnings: int = 0
    breaches: int = 0
    escalated: int = 0
    rescheduled: int = 0
    batch: str = ""
    full: bool = False
    alerts: list[dict[str, Any]] = field(default_factory=list)


def _rows(result: Any) -> int:
    """Rows an UPDATE changed (``CursorResult.rowcount``; typed loosely by SQLAlchemy)."""
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _insert(table: Any) -> Any:
    return (postgresql.insert if _dialect() == "postgresql" else sqlite.insert)(table)


def _json_object(*pairs: Any) -> Any:
    return (func.json_build_object if _dialect() == "postgresql" else func.json_object)(*pairs)


def _json_array(*items: Any) -> Any:
    return (func.json_build_array if _dialect() == "postgresql" else func.json_array)(*items)


def _json_true() -> Any:
    return literal(True, Boolean) if _dialect() == "postgresql" else func.json(literal("true"))


def _least(*terms: ColumnElement[Any]) -> ColumnElement[Any]:
    """LEAST ignoring NULLs on both backends (SQLite's min() returns NULL if any is NULL)."""
    if _dialect() == "postgresql":
        return func.least(*terms)
    far = literal(_FAR_FUTURE)
    return func.nullif(func.min(*[func.coalesce(term, far) for term in terms]), far)


def _targets() -> list[tuple[str, str, Any, Any, Any, ColumnElement[bool]]]:
    fr_pending = T.c.first_response_at.is_(None)
    return [
        ("first_response", "warning", T.c.first_response_warn_at, T.c.first_response_warned,
         T.c.first_response_due_at, fr_pending),
        ("first_response", "breach", T.c.first_response_due_at, T.c.first_response_breached,
         T.c.first_response_due_at, fr_pending),
        ("resolution", "warning", T.c.resolution_warn_at, T.c.resolution_warned,
         T.c.resolution_due_at, true()),
        ("resolution", "breach", T.c.resolution_due_at, T.c.resolution_breached,
         T.c.resolution_due_at, true()),
    ]


def _fresh(name: str, flags: dict[str, ColumnElement[Any]] | None) -> ColumnElement[Any]:
    return flags[name] if flags is not None else T.c[name]


def flags_after(now: datetime) -> dict[str, ColumnElement[Any]]:
    """Each warned/breached flag as it stands once this sweep has run (for one UPDATE)."""
    return {
        flag.name: or_(flag, and_(moment.is_not(None), moment <= now, extra))
        for _target, _kind, moment, flag, _due, extra in _targets()
    }


def next_check_sql(flags: dict[str, ColumnElement[Any]] | None = None) -> ColumnElement[Any]:
    """The next moment with something to do: the earliest warning/due time not yet recorded."""
    fr_pending = T.c.first_response_at.is_(None)
    return _least(
        case((and_(fr_pending, not_(_fresh("first_response_warned", flags))), T.c.first_response_warn_at)),
        case((and_(fr_pending, not_(_fresh("first_response_breached", flags))), T.c.first_response_due_at)),
        case((not_(_fresh("resolution_warned", flags)), T.c.resolution_warn_at)),
        case((not_(_fresh("resolution_breached", flags)), T.c.resolution_due_at)),
    )


def status_sql(flags: dict[str, ColumnElement[Any]] | None = None) -> ColumnElement[Any]:
    """SQL twin of :func:`app.sla.services.status_of` for running tickets."""
    return case(
        (or_(_fresh("first_response_breached", flags), _fresh("resolution_breached", flags)), literal("breached")),
        (
            or_(
                and_(T.c.first_response_at.is_(None), _fresh("first_response_warned", flags)),
                _fresh("resolution_warned", flags),
            ),
            literal("at_risk"),
        ),
        else_=literal("ok"),
    )


def _lock() -> bool:
    if _dialect() != "postgresql":
        return True
    return bool(db.session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY}).scalar())


def sweep(now: datetime | None = None, *, use_lock: bool = True, limit: int = BATCH_SIZE) -> SweepResult:
    """One pass over at most ``limit`` due tickets, earliest first (the caller commits).

    ``result.full`` says more were due: the loop sweeps again at once. Bounded passes keep each
    transaction short, so agents saving a ticket never wait long on a sweep's row locks.
    """
    now = now or utcnow()
    result = SweepResult(batch=uuid.uuid4().hex)
    if use_lock and not _lock():
        result.skipped = True
        return result
    pick = (
        select(T.c.id)
        .where(T.c.sla_check_at <= now, T.c.status.in_(RUNNING_STATUSES))
        .order_by(T.c.sla_check_at)
        .limit(limit)
    )
    if _dialect() == "postgresql":
        pick = pick.with_for_update(skip_locked=True)  # concurrent sweeps take disjoint rows
    ids = list(db.session.scalars(pick))
    result.full = len(ids) >= limit
    if not ids:
        return result
    due_now = and_(T.c.id.in_(ids), T.c.sla_check_at <= now, T.c.status.in_(RUNNING_STATUSES))
    # 1. The facts, all four kinds in one INSERT (each ticket row is read once). A warning whose
    #    deadline has already passed is not recorded (the breach says it; after an outage a
    #    supervisor gets one alert per late target, not two): its flag is still set below.
    facts = [
        select(
            T.c.id,
            T.c.sla_policy_id,
            literal(target),
            literal(kind),
            T.c.sla_cycle,
            due,
            literal(now, SlaEvent.__table__.c.at.type),
            literal(result.batch),
        ).where(
            due_now, moment <= now, flag.is_(false()), extra, *([due > now] if kind == "warning" else [])
        )
        for target, kind, moment, flag, due, extra in _targets()
    ]
    inserted = db.session.execute(
        _insert(SlaEvent.__table__)
        .from_select(
            ["ticket_id", "policy_id", "target", "kind", "cycle", "due_at", "at", "batch"],
            union_all(*facts),
        )
        .on_conflict_do_nothing(index_elements=["ticket_id", "target", "kind", "cycle"])
        .returning(SlaEvent.__table__.c.kind)
    ).scalars().all()
    result.breaches = sum(1 for kind in inserted if kind == "breach")
    result.warnings = len(inserted) - result.breaches
    # 2. Flags, the next moment to look and the status in one UPDATE (one new row version each).
    flags = flags_after(now)
    result.rescheduled = _rows(
        db.session.execute(
            update(T)
            .where(due_now)
            .values(
                **flags,
                sla_check_at=next_check_sql(flags),
                sla_status=status_sql(flags),
                updated_at=T.c.updated_at,  # bookkeeping, not a change anyone made
            )
        )
    )
    # 3. Timeline and escalation for what this batch (and no concurrent one) recorded.
    if result.breaches or result.warnings:
        _timeline(result.batch, now)
        if result.breaches:
            result.escalated = _escalate(result.batch, now)
    if result.breaches or result.warnings:
        _alert(result, now)
    return result


def _timeline(batch: str, now: datetime) -> None:
    events = SlaEvent.__table__
    db.session.execute(
        TicketEvent.__table__.insert().from_select(
            ["ticket_id", "kind", "public", "by_requester", "data", "created_at"],
            select(
                events.c.ticket_id,
                case((events.c.kind == "breach", literal("sla_breach")), else_=literal("sla_warning")),
                literal(False, Boolean),
                literal(False, Boolean),
                _json_object(literal("target"), events.c.target, literal("cycle"), events.c.cycle),
                events.c.at,
            )
            .where(events.c.batch == batch)
            .order_by(events.c.ticket_id, events.c.id),
        )
    )


def _escalate(batch: str, now: datetime) -> int:
    """Per policy: raise the priority (never lower it) and/or reassign to the policy's lead."""
    events = SlaEvent.__table__
    changed = 0
    policies = db.session.scalars(
        select(SlaPolicy).where(or_(SlaPolicy.escalate_priority.is_not(None), SlaPolicy.escalate_to_id.is_not(None)))
    ).all()
    for policy in policies:
        breached = (
            select(events.c.ticket_id)
            .where(events.c.batch == batch, events.c.kind == "breach", events.c.policy_id == policy.id)
            .distinct()
            .scalar_subquery()
        )
        if policy.escalate_priority in PRIORITIES:
            lower = list(PRIORITIES[: PRIORITIES.index(policy.escalate_priority)])
            if lower:
                condition = and_(T.c.id.in_(breached), T.c.priority.in_(lower))
                data = _json_object(
                    literal("fields"),
                    _json_object(literal("priority"), _json_array(T.c.priority, literal(policy.escalate_priority))),
                    literal("escalation"),
                    _json_true(),
                )
                _escalation_events(condition, "status", data, now)
                changed += _rows(db.session.execute(
                    update(T).where(condition).values(
                        priority=policy.escalate_priority, version=T.c.version + 1, updated_at=now
                    )
                ))
        if policy.escalate_to_id is not None:
            condition = and_(
                T.c.id.in_(breached),
                or_(T.c.assignee_id.is_(None), T.c.assignee_id != policy.escalate_to_id),
            )
            data = _json_object(
                literal("from"), T.c.assignee_id, literal("to"), literal(policy.escalate_to_id),
                literal("escalation"), _json_true(),
            )
            _escalation_events(condition, "assigned", data, now)
            changed += _rows(db.session.execute(
                update(T).where(condition).values(
                    assignee_id=policy.escalate_to_id, version=T.c.version + 1, updated_at=now
                )
            ))
    return changed


def _escalation_events(condition: ColumnElement[bool], kind: str, data: Any, now: datetime) -> None:
    db.session.execute(
        TicketEvent.__table__.insert().from_select(
            ["ticket_id", "kind", "public", "by_requester", "data", "created_at"],
            select(
                T.c.id, literal(kind), literal(False, Boolean), literal(False, Boolean), data,
                literal(now, TicketEvent.__table__.c.created_at.type),
            ).where(condition).order_by(T.c.id),
        )
    )


def _alert(result: SweepResult, now: datetime) -> None:
    """One live summary to supervisors; each assignee hears about their own tickets."""
    events = SlaEvent.__table__
    rows = db.session.execute(
        select(events.c.ticket_id, T.c.reference, T.c.assignee_id, events.c.target, events.c.kind)
        .join(T, T.c.id == events.c.ticket_id)
        .where(events.c.batch == result.batch)
        .order_by(events.c.kind, events.c.ticket_id)
        .limit(ALERT_LIMIT)
    ).all()
    result.alerts = [
        {"ticket_id": r.ticket_id, "reference": r.reference, "target": r.target, "kind": r.kind} for r in rows
    ]
    realtime.publish(
        "sla.sweep",
        {"breaches": result.breaches, "warnings": result.warnings, "escalated": result.escalated,
         "items": result.alerts, "at": now.isoformat()},
        room="supervisors",
    )
    by_assignee: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if row.assignee_id is not None:
            by_assignee.setdefault(row.assignee_id, []).append(
                {"ticket_id": row.ticket_id, "reference": row.reference, "target": row.target, "kind": row.kind}
            )
    for user_id, items in by_assignee.items():
        realtime.publish("sla.mine", {"items": items}, room=f"user:{user_id}")


def sweep_due() -> SweepResult:
    """The periodic job ``sla`` (every ``SLA_SWEEP_SECONDS``): sweep until nothing more is due,
    one committed batch at a time; returns the last batch's result."""
    try:
        result = sweep()
        db.session.commit()
        while result.full:  # a backlog: keep going
            result = sweep()
            db.session.commit()
        if result.breaches or result.warnings:
            log.info("sla sweep: %d breaches, %d warnings, %d escalated",
                     result.breaches, result.warnings, result.escalated)
        return result
    except Exception:
        db.session.rollback()
        raise
    finally:
        db.session.remove()
