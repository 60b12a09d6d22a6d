"""Administration of SLA policies and business calendars (``/admin/sla``).

Thin routes: the form goes to :mod:`app.sla.config`, which validates, saves and audits; a
refusal re-renders the form with a 422 and a message per field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.core import vocabulary
from app.core.policy import require
from app.extensions import db
from app.sla import config, services, targets
from app.sla.calendar import WEEKDAYS, CalendarError
from app.sla.models import BusinessCalendar, SlaPolicy
from app.staff.models import User
from app.tickets.models import CATEGORIES, CHANNELS, PRIORITIES

bp = Blueprint("sla", __name__, url_prefix="/admin/sla")
# The ticket page shows the promise (templates/tickets/_sla.html); the tickets package does not
# import the SLA engine, so the engine lends the page this function.
bp.add_app_template_global(services.summary, "sla_summary")


def _calendars() -> list[BusinessCalendar]:
    return list(db.session.scalars(select(BusinessCalendar).order_by(BusinessCalendar.name)))


def _leads() -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(User.active.is_(True), User.role.in_(("supervisor", "admin"))).order_by(User.name)
        )
    )


@bp.get("/")
@require("sla.manage")
def index():
    policies = db.session.scalars(select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id)).all()
    return render_template(
        "sla/index.html",
        policies=policies,
        calendars={c.id: c for c in _calendars()},
        leads={u.id: u for u in _leads()},
    )


def _policy_form(policy: SlaPolicy | None, values: dict[str, Any], errors: dict[str, str], status: int = 200):
    calendars = _calendars()
    return (
        render_template(
            "sla/policy.html",
            policy=policy,
            values=values,
            errors=errors,
            calendars=calendars,
            # What a "day" is on each calendar, so the administrator knows what they enter.
            calendar_days=[(c.name, targets.day_minutes(c)) for c in calendars if targets.business_time(c)],
            leads=_leads(),
            categories=CATEGORIES,
            priorities=vocabulary.choices("priority", PRIORITIES),
            channels=vocabulary.choices("channel", CHANNELS),
            units=targets.UNITS,
            unit_labels=targets.UNIT_LABELS,
        ),
        status,
    )


def _policy_values(policy: SlaPolicy | None) -> dict[str, Any]:
    if policy is None:
        # A new policy: one business day to answer, five to resolve, on the office calendar.
        return {"position": 100, "active": True, "warn_percent": 80, "categories": [], "priorities": [],
                "channels": [], "first_response_amount": "1", "first_response_unit": "days",
                "resolution_amount": "5", "resolution_unit": "days"}
    values = {**config._policy_state(policy), "calendar_id": policy.calendar_id}
    for prefix in ("first_response", "resolution"):
        amount, unit = targets.split(getattr(policy, f"{prefix}_minutes"), policy.calendar)
        values[f"{prefix}_amount"], values[f"{prefix}_unit"] = amount, unit
    return values


def _form_values() -> dict[str, Any]:
    values: dict[str, Any] = dict(request.form.items())
    for name in ("categories", "priorities", "channels"):
        values[name] = request.form.getlist(name)
    values["active"] = bool(request.form.get("active"))
    return values


@bp.route("/policies/new", methods=["GET", "POST"])
@bp.route("/policies/<int:policy_id>", methods=["GET", "POST"])
@require("sla.manage")
def policy(policy_id: int | None = None):
    row = db.session.get(SlaPolicy, policy_id) if policy_id is not None else None
    if policy_id is not None and row is None:
        abort(404)
    if request.method == "GET":
        return _policy_form(row, _policy_values(row), {})
    saved, refused = _save(config.save_policy, row, lambda fields: _policy_form(row, _form_values(), fields, 422))
    if saved is None:
        return refused
    flash(_("Policy “%(name)s” saved. It applies to tickets that choose a policy from now on.", name=saved.name))
    return redirect(url_for("sla.index"))


def _save(save: Any, row: Any, refuse: Any) -> tuple[Any, Any]:
    """``save(row, form)`` committed, or the form again with the fields it refused (nothing kept)."""
    try:
        saved = save(row, request.form, actor_id=current_user.id)
    except config.ConfigError as exc:
        db.session.rollback()
        return None, refuse(exc.fields)
    db.session.commit()
    return saved, None


def _calendar_form(calendar: BusinessCalendar | None, values: dict[str, Any], errors: dict[str, str],
                   status: int = 200, override_errors: dict[str, str] | None = None):
    zone = str(values.get("timezone") or "")
    zone = zone if zone in available_timezones() else "Asia/Jakarta"
    year = datetime.now(ZoneInfo(zone)).year
    holidays: list[tuple[date, str]] = []
    preview: list[dict[str, Any]] = []
    if calendar is not None:
        if calendar.holiday_country:
            try:
                holidays = services.holiday_names(
                    calendar.holiday_country, year, bool(calendar.closed_on_cuti_bersama),
                    "id" if str(getattr(current_user, "language", "id")) == "id" else "en_US",
                )
            except CalendarError:
                holidays = []
        preview = _preview(calendar)
    return (
        render_template(
            "sla/calendar.html",
            calendar=calendar,
            values=values,
            errors=errors,
            override_errors=override_errors or {},
            weekdays=list(enumerate(WEEKDAYS)),
            holidays=holidays,
            year=year,
            preview=preview,
        ),
        status,
    )


def _preview(calendar: BusinessCalendar) -> list[dict[str, Any]]:
    """Due times of a few targets counted from now, so an administrator sees what a change does."""
    engine = services.build_calendar(calendar)
    zone = ZoneInfo(calendar.timezone)
    start = datetime.now(zone)
    rows = []
    for minutes in (15, 120, 450, 3 * 450):
        try:
            due = engine.add(start, minutes * 60).astimezone(zone)
        except CalendarError:
            continue
        rows.append({"minutes": minutes, "due": due})
    return rows


def _calendar_values(calendar: BusinessCalendar | None) -> dict[str, Any]:
    if calendar is None:
        return {"timezone": "Asia/Jakarta", "holiday_country": "ID", "closed_on_cuti_bersama": True,
                **{f"day{d}": "08:00-12:00, 13:00-16:30" for d in range(5)}}
    values: dict[str, Any] = {
        "name": calendar.name,
        "timezone": calendar.timezone,
        "always_open": calendar.always_open,
        "holiday_country": calendar.holiday_country or "",
        "closed_on_cuti_bersama": calendar.closed_on_cuti_bersama,
    }
    for day in range(7):
        values[f"day{day}"] = config.windows_text((calendar.weekly or {}).get(str(day)))
    return values


@bp.route("/calendars/new", methods=["GET", "POST"])
@bp.route("/calendars/<int:calendar_id>", methods=["GET", "POST"])
@require("sla.manage")
def calendar(calendar_id: int | None = None):
    row = db.session.get(BusinessCalendar, calendar_id) if calendar_id is not None else None
    if calendar_id is not None and row is None:
        abort(404)
    if request.method == "GET":
        return _calendar_form(row, _calendar_values(row), {})

    def refuse(fields: dict[str, str]) -> Any:
        values: dict[str, Any] = dict(request.form.items())
        values["always_open"] = bool(request.form.get("always_open"))
        values["closed_on_cuti_bersama"] = bool(request.form.get("closed_on_cuti_bersama"))
        return _calendar_form(row, values, fields, 422)

    saved, refused = _save(config.save_calendar, row, refuse)
    if saved is None:
        return refused
    flash(_("Calendar “%(name)s” saved.", name=saved.name))
    return redirect(url_for("sla.calendar", calendar_id=saved.id))


@bp.post("/calendars/<int:calendar_id>/overrides")
@require("sla.manage")
def add_override(calendar_id: int):
    row = db.session.get(BusinessCalendar, calendar_id) or abort(404)
    try:
        config.add_override(row, request.form, actor_id=current_user.id)
    except config.ConfigError as exc:
        db.session.rollback()
        return _calendar_form(row, _calendar_values(row), {}, 422, override_errors=exc.fields)
    db.session.commit()
    flash(_("Date saved."))
    return redirect(url_for("sla.calendar", calendar_id=row.id))


@bp.post("/calendars/<int:calendar_id>/overrides/<int:override_id>/delete")
@require("sla.manage")
def delete_override(calendar_id: int, override_id: int):
    row = db.session.get(BusinessCalendar, calendar_id) or abort(404)
    if not config.delete_override(row, override_id, actor_id=current_user.id):
        abort(404)
    db.session.commit()
    flash(_("Date removed."))
    return redirect(url_for("sla.calendar", calendar_id=row.id))


# Jinja helpers for these pages.
@bp.app_template_filter("duration_minutes")
def duration_minutes(minutes: int | None) -> str:
    """450 → "7 h 30 min"; 2250 → "37 h 30 min" (business time, so no days)."""
    if minutes is None:
        return "—"
    hours, rest = divmod(int(minutes), 60)
    if hours and rest:
        return _("%(h)d h %(m)d min", h=hours, m=rest)
    if hours:
        return _("%(h)d h", h=hours)
    return _("%(m)d min", m=rest)


@bp.app_template_filter("duration_seconds")
def duration_seconds(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    sign = "−" if seconds < 0 else ""
    return sign + duration_minutes(abs(int(seconds)) // 60)




@bp.app_template_filter("sla_target")
def sla_target(minutes: int | None, calendar: BusinessCalendar | None = None) -> str:
    """A policy's target as people say it: "1 day", "4 business hours" (see app.sla.targets)."""
    return targets.describe(minutes, calendar)

