"""SLA rules: which policy covers a ticket, its clock, due times, achievements and breaches.

The tickets package calls :func:`reconcile` after every change that can move a promise (created,
status, first public reply, priority/category edit); the sweep (:mod:`app.sla.sweep`) records
warnings and breaches as time passes. Both write the same per-ticket columns, so their rules are
stated once here:

* **Clock.** It runs while the ticket is the agency's to move (``new``, ``open``,
  ``pending_third_party``) and pauses while it waits on the worker (``pending_worker``); it stops
  at ``resolved``/``closed``. ``sla_clock_seconds`` is the business time used before the running
  segment, which began at ``sla_clock_started_at``.
* **Due times** are the instants when the remaining business time runs out, counted on the
  policy's calendar from the segment start; they are empty while paused.
* **Warnings** fire once per target and cycle when ``warn_percent`` of the target has elapsed
  (not when the deadline itself has already passed by the time the sweep looks: then only the
  breach is recorded);
  **breaches** once when the due time passes (or, if the sweep had not run yet, when the late
  response or resolution happens). ``uq_sla_events_once`` enforces "once" in the database.
* **Reopening** starts a new cycle: a fresh resolution promise from the reopening.
* The policy is chosen when the ticket is created and again when staff change its category,
  priority or channel; the sweep's own escalation (a priority raise) does not re-choose it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import holidays as holidays_lib
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core import realtime
from app.core.fresh import inserted_in_this_transaction
from app.core.time import utcnow
from app.extensions import db
from app.sla.calendar import TWENTY_FOUR_SEVEN, Calendar, CalendarError, parse_windows
from app.sla.models import BusinessCalendar, SlaEvent, SlaPolicy
from app.sla.targets import describe
from app.tickets.models import Ticket, TicketEvent

RUNNING_STATUSES = ("new", "open", "pending_third_party")
PAUSED_STATUSES = ("pending_worker",)
STOPPED_STATUSES = ("resolved", "closed")
# Holiday years loaded around "now" (due times further out than this are not business-exact).
YEARS_BACK, YEARS_AHEAD = 1, 3


# --- calendars --------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _holiday_dates(country: str, year: int, with_cuti_bersama: bool) -> frozenset[date]:
    categories = ("public", "government") if with_cuti_bersama and country == "ID" else ("public",)
    try:
        table = holidays_lib.country_holidays(country, years=[year], categories=categories)
    except NotImplementedError as exc:
        raise CalendarError(f"no holiday data for country {country!r}") from exc
    return frozenset(table.keys())


def holiday_names(country: str, year: int, with_cuti_bersama: bool, language: str = "id") -> list[tuple[date, str]]:
    """The closed dates of a year with their names (for the calendar screen)."""
    categories = ("public", "government") if with_cuti_bersama and country == "ID" else ("public",)
    try:
        table = holidays_lib.country_holidays(country, years=[year], categories=categories, language=language)
    except (NotImplementedError, ValueError):
        table = holidays_lib.country_holidays(country, years=[year], categories=categories)
    return sorted(table.items())


def build_calendar(row: BusinessCalendar, around: datetime | None = None) -> Calendar:
    """The engine's calendar for a stored one (holidays loaded for the years around ``around``)."""
    if row.always_open:
        return Calendar(timezone=row.timezone, always_open=True)
    year = (around or utcnow()).year
    closed: set[date] = set()
    if row.holiday_country:
        for y in range(year - YEARS_BACK, year + YEARS_AHEAD + 1):
            closed |= _holiday_dates(row.holiday_country, y, bool(row.closed_on_cuti_bersama))
    weekly = {int(day): parse_windows(pairs) for day, pairs in (row.weekly or {}).items() if pairs}
    overrides = {o.day: parse_windows(o.windows or []) for o in row.overrides}
    return Calendar(
        timezone=row.timezone, weekly=weekly, closed_dates=frozenset(closed), overrides=overrides
    )


_calendar_cache: dict[tuple[int, str, int], Calendar] = {}


def engine_calendar(row: BusinessCalendar, around: datetime | None = None) -> Calendar:
    """The engine's calendar for a stored one, cached until the row changes (``updated_at``)."""
    year = (around or utcnow()).year
    key = (row.id, row.updated_at.isoformat() if row.updated_at else "", year)
    cached = _calendar_cache.get(key)
    if cached is None:
        if len(_calendar_cache) > 256:
            _calendar_cache.clear()
        cached = _calendar_cache[key] = build_calendar(row, around)
    return cached


def calendar_of(policy: SlaPolicy | None, around: datetime | None = None) -> Calendar:
    """The calendar a policy counts on (24/7 without one)."""
    if policy is None or policy.calendar_id is None:
        return TWENTY_FOUR_SEVEN
    row = policy.calendar or db.session.get(BusinessCalendar, policy.calendar_id)
    return TWENTY_FOUR_SEVEN if row is None else engine_calendar(row, around)


def calendar_named(name: str, around: datetime | None = None) -> Calendar | None:
    """The engine calendar of the stored calendar with this name (None if there is none)."""
    row = db.session.scalar(select(BusinessCalendar).where(BusinessCalendar.name == name))
    return None if row is None else engine_calendar(row, around)


# --- policies ---------------------------------------------------------------------------------


def active_policies() -> list[SlaPolicy]:
    return list(
        db.session.scalars(
            select(SlaPolicy).where(SlaPolicy.active.is_(True)).order_by(SlaPolicy.position, SlaPolicy.id)
        )
    )


def match_policy(ticket: Ticket, policies: Iterable[SlaPolicy] | None = None) -> SlaPolicy | None:
    for policy in active_policies() if policies is None else policies:
        if policy.matches(category=ticket.category, priority=ticket.priority, channel=ticket.channel):
            return policy
    return None


# --- the per-ticket clock ---------------------------------------------------------------------


@dataclass
class _Recorded:
    target: str
    kind: str


def _fresh_flags(ticket: Ticket) -> None:
    """Re-read the warned/breached flags: the sweep sets them with plain UPDATEs. Not for a
    ticket inserted in this very transaction (:mod:`app.core.fresh`): no sweep can have seen
    it, and reading would be a statement more on every call that opens a ticket."""
    if ticket.id is None or inserted_in_this_transaction(ticket):
        return
    with db.session.no_autoflush:
        row = db.session.execute(
            select(
                Ticket.first_response_warned,
                Ticket.first_response_breached,
                Ticket.resolution_warned,
                Ticket.resolution_breached,
            ).where(Ticket.id == ticket.id)
        ).first()
    if row is None:
        return
    for name, value in zip(
        ("first_response_warned", "first_response_breached", "resolution_warned", "resolution_breached"),
        row,
        strict=True,
    ):
        if bool(getattr(ticket, name)) != bool(value):
            setattr(ticket, name, bool(value))


def reconcile(ticket: Ticket, *, now: datetime | None = None, rematch: bool = False) -> None:
    """Bring the ticket's SLA columns in line with its current state (see the module doc)."""
    now = now or utcnow()
    _fresh_flags(ticket)
    with db.session.no_autoflush:
        policy = db.session.get(SlaPolicy, ticket.sla_policy_id) if ticket.sla_policy_id else None
        matched = match_policy(ticket) if policy is None or rematch else policy
    if policy is None or rematch:
        if matched is None:
            _clear(ticket)
            return
        if policy is None or matched.id != policy.id:
            policy = matched
            ticket.sla_policy_id = policy.id
        ticket.first_response_target_seconds = policy.first_response_minutes * 60
        ticket.resolution_target_seconds = policy.resolution_minutes * 60
    with db.session.no_autoflush:  # the calendar does not depend on the ticket's pending changes
        calendar = calendar_of(policy, now)
    running = ticket.status in RUNNING_STATUSES
    started = ticket.sla_clock_started_at

    # The running segment ends (pause or stop): bank its business time.
    if started is not None and not running:
        ticket.sla_clock_seconds = int(ticket.sla_clock_seconds or 0) + round(calendar.between(started, now))
        ticket.sla_clock_started_at = started = None

    # Achievements, counted up to the moment they happened.
    recorded: list[_Recorded] = []
    fr_target = ticket.first_response_target_seconds or 0
    if ticket.first_response_at is not None and ticket.first_response_seconds is None:
        used = int(ticket.sla_clock_seconds or 0)
        if started is not None:
            used += round(calendar.between(started, ticket.first_response_at))
        ticket.first_response_seconds = used
        ticket.first_response_margin_seconds = fr_target - used
        if used > fr_target and not ticket.first_response_breached:
            ticket.first_response_breached = True
            recorded.append(_Recorded("first_response", "breach"))
    res_target = ticket.resolution_target_seconds or 0
    if ticket.status in STOPPED_STATUSES and ticket.resolution_seconds is None:
        used = int(ticket.sla_clock_seconds or 0)
        ticket.resolution_seconds = used
        ticket.resolution_margin_seconds = res_target - used
        if used > res_target and not ticket.resolution_breached:
            ticket.resolution_breached = True
            recorded.append(_Recorded("resolution", "breach"))

    # Reopened after a resolution: a new cycle with a fresh resolution promise.
    if running and ticket.resolution_seconds is not None:
        ticket.sla_cycle = int(ticket.sla_cycle or 0) + 1
        ticket.sla_clock_seconds = 0
        ticket.resolution_seconds = ticket.resolution_margin_seconds = None
        ticket.resolution_warned = ticket.resolution_breached = False

    if running and started is None:
        ticket.sla_clock_started_at = started = now

    _schedule(ticket, calendar, policy, started)
    for item in recorded:
        _record(ticket, policy, item.target, item.kind, at=now)


def _schedule(ticket: Ticket, calendar: Calendar, policy: SlaPolicy, started: datetime | None) -> None:
    """Due and warning times, the next sweep moment and the summary status."""
    used = int(ticket.sla_clock_seconds or 0)
    share = policy.warn_percent / 100.0
    fr_pending = ticket.first_response_at is None and ticket.status not in STOPPED_STATUSES
    if started is None:
        # Paused or stopped: nothing comes due until the clock runs again.
        if ticket.status in PAUSED_STATUSES:
            ticket.first_response_due_at = ticket.resolution_due_at = None
        ticket.first_response_warn_at = ticket.resolution_warn_at = None
        ticket.sla_check_at = None
    else:
        fr_target = ticket.first_response_target_seconds or 0
        res_target = ticket.resolution_target_seconds or 0
        if fr_pending:
            ticket.first_response_due_at = calendar.add(started, max(0, fr_target - used))
            ticket.first_response_warn_at = calendar.add(started, max(0.0, share * fr_target - used))
        else:
            ticket.first_response_warn_at = None
        ticket.resolution_due_at = calendar.add(started, max(0, res_target - used))
        ticket.resolution_warn_at = calendar.add(started, max(0.0, share * res_target - used))
        moments = []
        if fr_pending:
            if not ticket.first_response_warned:
                moments.append(ticket.first_response_warn_at)
            if not ticket.first_response_breached:
                moments.append(ticket.first_response_due_at)
        if not ticket.resolution_warned:
            moments.append(ticket.resolution_warn_at)
        if not ticket.resolution_breached:
            moments.append(ticket.resolution_due_at)
        ticket.sla_check_at = min((m for m in moments if m is not None), default=None)
    ticket.sla_status = status_of(ticket)


def status_of(ticket: Ticket) -> str | None:
    """ok / at_risk / breached while open; met / breached once stopped (the sweep's SQL twin:
    :func:`app.sla.sweep.status_sql`)."""
    if ticket.sla_policy_id is None:
        return None
    breached = bool(ticket.resolution_breached) or bool(ticket.first_response_breached)
    if ticket.status in STOPPED_STATUSES:
        return "breached" if breached else "met"
    if breached:
        return "breached"
    fr_pending = ticket.first_response_at is None
    if (fr_pending and ticket.first_response_warned) or ticket.resolution_warned:
        return "at_risk"
    return "ok"


def _clear(ticket: Ticket) -> None:
    ticket.sla_policy_id = None
    ticket.first_response_target_seconds = ticket.resolution_target_seconds = None
    ticket.first_response_due_at = ticket.resolution_due_at = None
    ticket.first_response_warn_at = ticket.resolution_warn_at = None
    ticket.sla_clock_started_at = None
    ticket.sla_check_at = None
    ticket.sla_status = None


def _record(ticket: Ticket, policy: SlaPolicy, target: str, kind: str, *, at: datetime) -> bool:
    """One SLA event (once per ticket/target/kind/cycle) with its timeline entry."""
    due = ticket.first_response_due_at if target == "first_response" else ticket.resolution_due_at
    try:
        with db.session.begin_nested():
            db.session.add(
                SlaEvent(
                    ticket_id=ticket.id,
                    policy_id=policy.id,
                    target=target,
                    kind=kind,
                    cycle=ticket.sla_cycle or 0,
                    due_at=due,
                    at=at,
                )
            )
    except IntegrityError:
        return False
    db.session.add(
        TicketEvent(
            ticket_id=ticket.id,
            kind="sla_breach" if kind == "breach" else "sla_warning",
            data={"target": target, "due_at": due.isoformat() if due else None, "cycle": ticket.sla_cycle},
            created_at=at,
        )
    )
    realtime.publish(
        "sla.alert",
        {"ticket_id": ticket.id, "reference": ticket.reference, "target": target, "kind": kind},
        room="supervisors",
    )
    return True


# --- reading ----------------------------------------------------------------------------------


def remaining_seconds(ticket: Ticket, target: str, now: datetime | None = None) -> int | None:
    """Business seconds left on a target (negative when late); None without one."""
    if ticket.sla_policy_id is None:
        return None
    total = ticket.first_response_target_seconds if target == "first_response" else ticket.resolution_target_seconds
    if total is None:
        return None
    achieved = ticket.first_response_seconds if target == "first_response" else ticket.resolution_seconds
    if achieved is not None:
        return int(total - achieved)
    policy = db.session.get(SlaPolicy, ticket.sla_policy_id)
    used = int(ticket.sla_clock_seconds or 0)
    if ticket.sla_clock_started_at is not None:
        used += round(calendar_of(policy, now).between(ticket.sla_clock_started_at, now or utcnow()))
    return int(total - used)


def summary(ticket: Ticket, now: datetime | None = None) -> dict[str, Any] | None:
    """What the ticket page shows about the promise."""
    if ticket.sla_policy_id is None:
        return None
    now = now or utcnow()
    policy = db.session.get(SlaPolicy, ticket.sla_policy_id)
    def said(seconds: int | None) -> str | None:
        # "4 business hours", "5 business days": the promise as the policy's form states it.
        return describe(seconds // 60, policy.calendar if policy else None) if seconds else None

    return {
        "policy": policy.name if policy else None,
        "status": ticket.sla_status,
        "paused": ticket.status in PAUSED_STATUSES,
        "cycle": ticket.sla_cycle,
        "targets": [
            {
                "target": "first_response",
                "target_seconds": ticket.first_response_target_seconds,
                "target_text": said(ticket.first_response_target_seconds),
                "due_at": ticket.first_response_due_at,
                "achieved_seconds": ticket.first_response_seconds,
                "remaining_seconds": remaining_seconds(ticket, "first_response", now)
                if ticket.first_response_at is None and ticket.status not in STOPPED_STATUSES
                else None,
                "margin_seconds": ticket.first_response_margin_seconds,
                "warned": ticket.first_response_warned,
                "breached": ticket.first_response_breached,
            },
            {
                "target": "resolution",
                "target_seconds": ticket.resolution_target_seconds,
                "target_text": said(ticket.resolution_target_seconds),
                "due_at": ticket.resolution_due_at,
                "achieved_seconds": ticket.resolution_seconds,
                "remaining_seconds": remaining_seconds(ticket, "resolution", now)
                if ticket.resolution_seconds is None
                else None,
                "margin_seconds": ticket.resolution_margin_seconds,
                "warned": ticket.resolution_warned,
                "breached": ticket.resolution_breached,
            },
        ],
    }


# --- defaults ---------------------------------------------------------------------------------


def install_defaults(calendars: Iterable[Mapping[str, Any]] | None = None,
                     policies: Iterable[Mapping[str, Any]] | None = None) -> int:
    """Create the default calendars and policies that do not exist yet (by name). Returns how many."""
    from app.sla import defaults

    created = 0
    by_name: dict[str, BusinessCalendar] = {
        row.name: row for row in db.session.scalars(select(BusinessCalendar))
    }
    for spec in defaults.CALENDARS if calendars is None else calendars:
        if spec["name"] in by_name:
            continue
        row = BusinessCalendar(**{k: spec[k] for k in (
            "name", "timezone", "always_open", "holiday_country", "closed_on_cuti_bersama", "weekly")})
        db.session.add(row)
        by_name[row.name] = row
        created += 1
    db.session.flush()
    existing = set(db.session.scalars(select(SlaPolicy.name)))
    for spec in defaults.POLICIES if policies is None else policies:
        if spec["name"] in existing:
            continue
        calendar = by_name.get(spec["calendar"]) if spec.get("calendar") else None
        db.session.add(
            SlaPolicy(
                name=spec["name"],
                position=spec["position"],
                categories=list(spec["categories"]),
                priorities=list(spec["priorities"]),
                channels=list(spec["channels"]),
                first_response_minutes=spec["first_response_minutes"],
                resolution_minutes=spec["resolution_minutes"],
                calendar_id=calendar.id if calendar is not None else None,
                warn_percent=spec["warn_percent"],
                escalate_priority=spec.get("escalate_priority"),
            )
        )
        created += 1
    db.session.flush()
    return created
