"""Administrators edit SLA policies and business calendars: saving what the forms submit.

The forms are validated by :mod:`app.sla.schemas` (pydantic); nothing is saved when a field is
wrong (:class:`ConfigError` maps each field to its message). Every change is audited. A policy edit applies to tickets that choose a policy from now on
(created, or their category/priority changed); tickets keep the promise they were given, as the
worker was told it. A calendar edit moves the due times of running tickets the next time each
is touched, or at once with ``flask sla recompute``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.core import audit
from app.core.schemas import Schema, validate
from app.core.time import utcnow
from app.extensions import db
from app.sla.models import BusinessCalendar, CalendarOverride, SlaPolicy
from app.sla.schemas import CalendarForm, OverrideForm, PolicyForm, read_form
from app.sla.schemas import windows_text as windows_text  # noqa: F401  (the routes show stored hours with it)


@dataclass
class ConfigError(Exception):
    """Field → message for the form; nothing was saved."""

    fields: dict[str, str] = field(default_factory=dict)


def _checked(model: type[Schema], form: Mapping[str, Any], exclude_id: int | None = None) -> Any:
    result = validate(model, form, read=read_form, context={"exclude_id": exclude_id})
    if not result.ok:
        raise ConfigError(result.errors)
    return result.model


def save_policy(policy: SlaPolicy | None, form: Mapping[str, Any], *, actor_id: int | None) -> SlaPolicy:
    """Create or change a policy from its submitted form (:class:`PolicyForm`); audited."""
    checked: PolicyForm = _checked(PolicyForm, form, policy.id if policy else None)
    created = policy is None
    if policy is None:
        policy = SlaPolicy()
        db.session.add(policy)
    before = _policy_state(policy) if not created else None
    policy.name = checked.name
    policy.position = checked.position
    policy.active = checked.active
    policy.categories, policy.priorities, policy.channels = checked.categories, checked.priorities, checked.channels
    policy.first_response_minutes = checked.first_response_amount
    policy.resolution_minutes = checked.resolution_amount
    policy.warn_percent = checked.warn_percent
    policy.calendar_id = checked.calendar_id
    policy.escalate_priority = checked.escalate_priority
    policy.escalate_to_id = checked.escalate_to_id
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
    """Create or change a calendar from its submitted form (:class:`CalendarForm`); audited."""
    checked: CalendarForm = _checked(CalendarForm, form, calendar.id if calendar else None)
    created = calendar is None
    if calendar is None:
        calendar = BusinessCalendar()
        db.session.add(calendar)
    calendar.name, calendar.timezone, calendar.always_open = checked.name, checked.timezone, checked.always_open
    calendar.weekly = checked.weekly
    calendar.holiday_country = checked.holiday_country
    calendar.closed_on_cuti_bersama = checked.closed_on_cuti_bersama
    calendar.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "sla.calendar_created" if created else "sla.calendar_changed",
        "sla_calendar",
        calendar.id,
        {"name": checked.name, "timezone": checked.timezone, "always_open": checked.always_open,
         "weekly": checked.weekly, "holiday_country": checked.holiday_country,
         "closed_on_cuti_bersama": checked.closed_on_cuti_bersama},
        actor_id=actor_id,
    )
    return calendar


def add_override(calendar: BusinessCalendar, form: Mapping[str, Any], *, actor_id: int | None) -> CalendarOverride:
    """Opening hours for one date of ``calendar`` (:class:`OverrideForm`); audited."""
    checked: OverrideForm = _checked(OverrideForm, form)
    day, windows, note = checked.day, checked.windows, checked.note
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
