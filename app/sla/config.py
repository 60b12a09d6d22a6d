"""Administrators edit SLA policies and business calendars: validation and saving.

Every change is audited. A policy edit applies to tickets that choose a policy from now on
(created, or their category/priority changed); tickets keep the promise they were given, as the
worker was told it. A calendar edit moves the due times of running tickets the next time each
is touched, or at once with ``flask sla recompute``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.agents.models import User
from app.core import audit
from app.core.time import utcnow
from app.extensions import db
from app.sla import targets
from app.sla.calendar import CalendarError, format_hhmm, parse_windows
from app.sla.models import BusinessCalendar, CalendarOverride, SlaPolicy
from app.tickets.models import CATEGORIES, CHANNELS, PRIORITIES

_RANGE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")
MAX_TARGET_MINUTES = 366 * 24 * 60


@dataclass
class ConfigError(Exception):
    """Field → message for the form; nothing was saved."""

    fields: dict[str, str] = field(default_factory=dict)


def windows_text(pairs: list[list[str]] | None) -> str:
    """``[["08:00", "12:00"], ["13:00", "16:30"]]`` → ``"08:00-12:00, 13:00-16:30"``."""
    return ", ".join(f"{start}-{end}" for start, end in (pairs or []))


def parse_windows_text(text: str) -> list[list[str]]:
    """The inverse of :func:`windows_text`; raises CalendarError on anything else."""
    pairs: list[list[str]] = []
    for chunk in (text or "").split(","):
        if not chunk.strip():
            continue
        match = _RANGE.match(chunk)
        if not match:
            raise CalendarError(f"not a time range: {chunk.strip()!r}")
        pairs.append([_pad(match.group(1)), _pad(match.group(2))])
    windows = parse_windows(pairs)  # validates order and overlaps
    return [[format_hhmm(start), format_hhmm(end)] for start, end in windows]


def _pad(hhmm: str) -> str:
    hours, minutes = hhmm.split(":")
    return f"{int(hours):02d}:{minutes}"


def _int(form: Mapping[str, Any], name: str, errors: dict[str, str], *, low: int, high: int) -> int:
    raw = str(form.get(name, "")).strip()
    try:
        value = int(raw)
    except ValueError:
        errors[name] = str(_l("Enter a whole number."))
        return low
    if not low <= value <= high:
        errors[name] = str(_l("Enter a number from %(low)d to %(high)d.", low=low, high=high))
    return value


def _choices(form: Mapping[str, Any], name: str, allowed: tuple[str, ...], errors: dict[str, str]) -> list[str]:
    values = form.getlist(name) if hasattr(form, "getlist") else list(form.get(name) or [])
    unknown = [v for v in values if v not in allowed]
    if unknown:
        errors[name] = str(_l("Unknown value: %(value)s", value=", ".join(unknown)))
    return [v for v in allowed if v in values]  # canonical order


def _target(form: Mapping[str, Any], prefix: str, calendar: BusinessCalendar | None, errors: dict[str, str]) -> int:
    try:
        minutes = targets.read_target(form, prefix, calendar)
    except targets.TargetError as exc:
        errors[f"{prefix}_amount"] = str(exc)
        return 1
    if minutes > MAX_TARGET_MINUTES:
        errors[f"{prefix}_amount"] = str(_l("This target is too long."))
    return minutes


def save_policy(policy: SlaPolicy | None, form: Mapping[str, Any], *, actor_id: int | None) -> SlaPolicy:
    errors: dict[str, str] = {}
    name = str(form.get("name", "")).strip()
    if not name or len(name) > 120:
        errors["name"] = str(_l("Give the policy a name (at most 120 characters)."))
    elif db.session.scalar(select(SlaPolicy.id).where(SlaPolicy.name == name, SlaPolicy.id != (policy.id if policy else -1))):
        errors["name"] = str(_l("Another policy already has this name."))
    position = _int(form, "position", errors, low=0, high=100_000)
    calendar_id: int | None = None
    calendar: BusinessCalendar | None = None
    raw_calendar = str(form.get("calendar_id", "")).strip()
    if raw_calendar:
        calendar = db.session.get(BusinessCalendar, int(raw_calendar)) if raw_calendar.isdigit() else None
        if calendar is None:
            errors["calendar_id"] = str(_l("Choose one of the calendars."))
        else:
            calendar_id = calendar.id
    # Targets come in minutes, hours or days; a day is a business day of the chosen calendar.
    first = _target(form, "first_response", calendar, errors)
    resolution = _target(form, "resolution", calendar, errors)
    if "first_response_amount" not in errors and "resolution_amount" not in errors and resolution < first:
        errors["resolution_amount"] = str(_l("The resolution target cannot be shorter than the first response."))
    warn = _int(form, "warn_percent", errors, low=1, high=99)
    categories = _choices(form, "categories", CATEGORIES, errors)
    priorities = _choices(form, "priorities", PRIORITIES, errors)
    channels = _choices(form, "channels", CHANNELS, errors)
    escalate_priority = str(form.get("escalate_priority", "")).strip() or None
    if escalate_priority is not None and escalate_priority not in PRIORITIES:
        errors["escalate_priority"] = str(_l("Choose one of the priorities."))
    escalate_to_id: int | None = None
    raw_lead = str(form.get("escalate_to_id", "")).strip()
    if raw_lead:
        lead = db.session.get(User, int(raw_lead)) if raw_lead.isdigit() else None
        if lead is None or not lead.active or lead.role not in ("supervisor", "admin"):
            errors["escalate_to_id"] = str(_l("Choose an active supervisor."))
        else:
            escalate_to_id = lead.id
    if errors:
        raise ConfigError(errors)
    created = policy is None
    if policy is None:
        policy = SlaPolicy()
        db.session.add(policy)
    before = _policy_state(policy) if not created else None
    policy.name = name
    policy.position = position
    policy.active = bool(form.get("active"))
    policy.categories, policy.priorities, policy.channels = categories, priorities, channels
    policy.first_response_minutes, policy.resolution_minutes = first, resolution
    policy.warn_percent = warn
    policy.calendar_id = calendar_id
    policy.escalate_priority = escalate_priority
    policy.escalate_to_id = escalate_to_id
    policy.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "sla.policy_created" if created else "sla.policy_changed",
        "sla_policy",
        policy.id,
        {"before": before, "after": _policy_state(policy)},
        actor_id=actor_id,
    )
    return policy


def _policy_state(policy: SlaPolicy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "active": policy.active,
        "position": policy.position,
        "categories": policy.categories,
        "priorities": policy.priorities,
        "channels": policy.channels,
        "first_response_minutes": policy.first_response_minutes,
        "resolution_minutes": policy.resolution_minutes,
        "calendar_id": policy.calendar_id,
        "warn_percent": policy.warn_percent,
        "escalate_priority": policy.escalate_priority,
        "escalate_to_id": policy.escalate_to_id,
    }


def save_calendar(calendar: BusinessCalendar | None, form: Mapping[str, Any], *, actor_id: int | None) -> BusinessCalendar:
    errors: dict[str, str] = {}
    name = str(form.get("name", "")).strip()
    if not name or len(name) > 120:
        errors["name"] = str(_l("Give the calendar a name (at most 120 characters)."))
    elif db.session.scalar(
        select(BusinessCalendar.id).where(BusinessCalendar.name == name, BusinessCalendar.id != (calendar.id if calendar else -1))
    ):
        errors["name"] = str(_l("Another calendar already has this name."))
    timezone = str(form.get("timezone", "")).strip()
    if timezone not in available_timezones():
        errors["timezone"] = str(_l("Choose a time zone such as Asia/Jakarta."))
    always_open = bool(form.get("always_open"))
    weekly: dict[str, list[list[str]]] = {}
    for day in range(7):
        try:
            pairs = parse_windows_text(str(form.get(f"day{day}", "")))
        except CalendarError:
            errors[f"day{day}"] = str(_l("Write opening hours as 08:00-12:00, 13:00-16:30 (no overlaps)."))
            continue
        if pairs:
            weekly[str(day)] = pairs
    if not always_open and not weekly and "day0" not in errors and not any(k.startswith("day") for k in errors):
        errors["day0"] = str(_l("Give at least one day opening hours, or make the calendar 24/7."))
    country = str(form.get("holiday_country", "")).strip().upper() or None
    if country is not None:
        from app.sla.services import _holiday_dates

        try:
            _holiday_dates(country, utcnow().year, False)
        except CalendarError:
            errors["holiday_country"] = str(_l("No public holiday data for this country."))
    if errors:
        raise ConfigError(errors)
    created = calendar is None
    if calendar is None:
        calendar = BusinessCalendar()
        db.session.add(calendar)
    calendar.name, calendar.timezone, calendar.always_open = name, timezone, always_open
    calendar.weekly = weekly
    calendar.holiday_country = country
    calendar.closed_on_cuti_bersama = bool(form.get("closed_on_cuti_bersama"))
    calendar.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "sla.calendar_created" if created else "sla.calendar_changed",
        "sla_calendar",
        calendar.id,
        {"name": name, "timezone": timezone, "always_open": always_open, "weekly": weekly,
         "holiday_country": country, "closed_on_cuti_bersama": calendar.closed_on_cuti_bersama},
        actor_id=actor_id,
    )
    return calendar


def add_override(calendar: BusinessCalendar, form: Mapping[str, Any], *, actor_id: int | None) -> CalendarOverride:
    errors: dict[str, str] = {}
    try:
        day = date.fromisoformat(str(form.get("day", "")).strip())
    except ValueError:
        errors["day"] = str(_l("Enter a date (YYYY-MM-DD)."))
        day = date.min
    try:
        windows = parse_windows_text(str(form.get("windows", "")))
    except CalendarError:
        errors["windows"] = str(_l("Write opening hours as 08:00-12:00, 13:00-16:30 (no overlaps)."))
        windows = []
    note = str(form.get("note", "")).strip()[:200] or None
    if errors:
        raise ConfigError(errors)
    override = db.session.scalar(
        select(CalendarOverride).where(CalendarOverride.calendar_id == calendar.id, CalendarOverride.day == day)
    )
    if override is None:
        override = CalendarOverride(calendar_id=calendar.id, day=day)
        db.session.add(override)
    override.windows, override.note = windows, note
    calendar.updated_at = utcnow()  # the engine's cache key
    db.session.flush()
    audit.record("sla.override_set", "sla_calendar", calendar.id,
                 {"day": day.isoformat(), "windows": windows, "note": note}, actor_id=actor_id)
    return override


def delete_override(calendar: BusinessCalendar, override_id: int, *, actor_id: int | None) -> bool:
    override = db.session.get(CalendarOverride, override_id)
    if override is None or override.calendar_id != calendar.id:
        return False
    audit.record("sla.override_removed", "sla_calendar", calendar.id, {"day": override.day.isoformat()},
                 actor_id=actor_id)
    db.session.delete(override)
    calendar.updated_at = utcnow()
    db.session.flush()
    return True
