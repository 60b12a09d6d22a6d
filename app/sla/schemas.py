"""What the SLA administration forms accept: policies, calendars and one-day overrides.

pydantic models (:mod:`app.core.schemas`) with the messages the forms show under each field.
Rules that need the database (a name another policy has, a calendar or supervisor that exists)
are validators too, reading ``info.context``: ``exclude_id`` is the row being edited. Targets
are entered in minutes, hours or days (:mod:`app.sla.targets`), and a day is a business day of
the chosen calendar, so they are read after ``calendar_id``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any
from zoneinfo import available_timezones

import holidays as holidays_lib
from flask_babel import lazy_gettext as _l
from pydantic import BeforeValidator, Field, ValidationInfo, field_validator
from sqlalchemy import select

from app.core.schemas import MAX_ID, Message, OneOf, Schema, fail, text
from app.extensions import db
from app.sla import targets
from app.sla.calendar import CalendarError, format_hhmm, parse_windows
from app.sla.models import BusinessCalendar, SlaPolicy
from app.staff.models import User
from app.tickets.models import CATEGORIES, CHANNELS, PRIORITIES

_RANGE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")
MAX_TARGET_MINUTES = 366 * 24 * 60
NAME_MAX = 120
WINDOWS_MESSAGE = _l("Write opening hours as 08:00-12:00, 13:00-16:30 (no overlaps).")


def windows_text(pairs: list[list[str]] | None) -> str:
    """``[["08:00", "12:00"], ["13:00", "16:30"]]`` → ``"08:00-12:00, 13:00-16:30"``."""
    return ", ".join(f"{start}-{end}" for start, end in (pairs or []))


def parse_windows_text(text_: str) -> list[list[str]]:
    """The inverse of :func:`windows_text`; raises CalendarError on anything else."""
    pairs: list[list[str]] = []
    for chunk in (text_ or "").split(","):
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


def read_form(form: Mapping[str, Any], name: str) -> Any:
    """One field of a submitted form; a multi-select (``getlist``) for the list fields."""
    if name in ("categories", "priorities", "channels"):
        return form.getlist(name) if hasattr(form, "getlist") else list(form.get(name) or [])
    return form.get(name)


def _whole_number(value: Any) -> int:
    try:
        return int(str("" if value is None else value).strip())
    except ValueError:
        fail(_l("Enter a whole number."), "whole_number")


def _row_id(message: Message) -> BeforeValidator:
    """The id of a row chosen from a list (blank for none); the row's existence is checked later."""

    def check(value: Any) -> int | None:
        raw = str("" if value is None else value).strip()
        if not raw:
            return None
        if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
            fail(message, "unknown_choice")
        return int(raw)

    return BeforeValidator(check)


def _checkbox(value: Any) -> bool:
    return bool(value)


def _choices(allowed: tuple[str, ...]) -> BeforeValidator:
    """Values of a multi-select, each one of ``allowed``, in ``allowed``'s order."""

    def check(values: Any) -> list[str]:
        values = list(values or [])
        unknown = [str(v) for v in values if v not in allowed]
        if unknown:
            fail(_l("Unknown value: %(value)s", value=", ".join(unknown)), "not_allowed")
        return [v for v in allowed if v in values]

    return BeforeValidator(check)


def _range(low: int, high: int) -> dict[str, Message]:
    message = _l("Enter a number from %(low)d to %(high)d.", low=low, high=high)
    return {"greater_than_equal": message, "less_than_equal": message}


def _target(prefix: str) -> BeforeValidator:
    """``<prefix>_amount`` and ``<prefix>_unit`` (or ``<prefix>_minutes``, as scripts send) → minutes."""

    def check(value: Any, info: ValidationInfo) -> int:
        calendar_id = info.data.get("calendar_id")
        calendar = db.session.get(BusinessCalendar, calendar_id) if calendar_id else None
        try:
            minutes = targets.read_target((info.context or {})["data"], prefix, calendar)
        except targets.TargetError as exc:
            fail(str(exc), "target")
        if minutes > MAX_TARGET_MINUTES:
            fail(_l("This target is too long."), "target")
        return minutes

    return BeforeValidator(check)


Position = Annotated[int, Field(ge=0, le=100_000), BeforeValidator(_whole_number)]
Percent = Annotated[int, Field(ge=1, le=99), BeforeValidator(_whole_number)]


class PolicyForm(Schema):
    """An SLA policy as the administrator submits it."""

    name: Annotated[str, Field(min_length=1, max_length=NAME_MAX), text()]
    position: Position
    calendar_id: Annotated[int | None, _row_id(_l("Choose one of the calendars."))] = None
    first_response_amount: Annotated[int, _target("first_response")]
    resolution_amount: Annotated[int, _target("resolution")]
    warn_percent: Percent
    categories: Annotated[list[str], _choices(CATEGORIES)] = []
    priorities: Annotated[list[str], _choices(PRIORITIES)] = []
    channels: Annotated[list[str], _choices(CHANNELS)] = []
    escalate_priority: Annotated[str | None, OneOf(PRIORITIES), text(None)] = None
    escalate_to_id: Annotated[int | None, _row_id(_l("Choose an active supervisor."))] = None
    active: Annotated[bool, BeforeValidator(_checkbox)] = False

    messages = {
        "name": {"*": _l("Give the policy a name (at most 120 characters).")},
        "position": _range(0, 100_000),
        "warn_percent": _range(1, 99),
        "escalate_priority": {"not_allowed": _l("Choose one of the priorities.")},
    }

    @field_validator("name")
    @classmethod
    def _unique_name(cls, name: str, info: ValidationInfo) -> str:
        other = (info.context or {}).get("exclude_id") or -1
        if db.session.scalar(select(SlaPolicy.id).where(SlaPolicy.name == name, SlaPolicy.id != other)):
            fail(_l("Another policy already has this name."), "name_taken")
        return name

    @field_validator("calendar_id")
    @classmethod
    def _calendar_exists(cls, calendar_id: int | None) -> int | None:
        if calendar_id is not None and db.session.get(BusinessCalendar, calendar_id) is None:
            fail(_l("Choose one of the calendars."), "unknown_choice")
        return calendar_id

    @field_validator("resolution_amount")
    @classmethod
    def _resolution_after_first_response(cls, resolution: int, info: ValidationInfo) -> int:
        first = info.data.get("first_response_amount")
        if first is not None and resolution < first:
            fail(_l("The resolution target cannot be shorter than the first response."), "target_order")
        return resolution

    @field_validator("escalate_to_id")
    @classmethod
    def _active_lead(cls, lead_id: int | None) -> int | None:
        if lead_id is None:
            return None
        lead = db.session.get(User, lead_id)
        if lead is None or not lead.active or lead.role not in ("supervisor", "admin"):
            fail(_l("Choose an active supervisor."), "unknown_choice")
        return lead_id


def _windows(value: Any) -> list[list[str]]:
    try:
        return parse_windows_text(str("" if value is None else value))
    except CalendarError:
        fail(WINDOWS_MESSAGE, "windows")


Windows = Annotated[list[list[str]], BeforeValidator(_windows)]


def _holiday_country(value: Any) -> str | None:
    country = str("" if value is None else value).strip().upper() or None
    if country is not None and country not in holidays_lib.list_supported_countries():
        fail(_l("No public holiday data for this country."), "holiday_country")
    return country


class CalendarForm(Schema):
    """A business calendar: time zone, weekly opening hours (``day0`` = Monday), holidays."""

    name: Annotated[str, Field(min_length=1, max_length=NAME_MAX), text()]
    timezone: Annotated[str, text()]
    always_open: Annotated[bool, BeforeValidator(_checkbox)] = False
    day0: Windows = []
    day1: Windows = []
    day2: Windows = []
    day3: Windows = []
    day4: Windows = []
    day5: Windows = []
    day6: Windows = []
    holiday_country: Annotated[str | None, BeforeValidator(_holiday_country)] = None
    closed_on_cuti_bersama: Annotated[bool, BeforeValidator(_checkbox)] = False

    messages = {"name": {"*": _l("Give the calendar a name (at most 120 characters).")}}

    @property
    def weekly(self) -> dict[str, list[list[str]]]:
        days = (self.day0, self.day1, self.day2, self.day3, self.day4, self.day5, self.day6)
        return {str(day): pairs for day, pairs in enumerate(days) if pairs}

    @field_validator("name")
    @classmethod
    def _unique_name(cls, name: str, info: ValidationInfo) -> str:
        other = (info.context or {}).get("exclude_id") or -1
        taken = select(BusinessCalendar.id).where(BusinessCalendar.name == name, BusinessCalendar.id != other)
        if db.session.scalar(taken):
            fail(_l("Another calendar already has this name."), "name_taken")
        return name

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        if zone not in available_timezones():
            fail(_l("Choose a time zone such as Asia/Jakarta."), "timezone")
        return zone

    @field_validator("day6")
    @classmethod
    def _open_some_day(cls, day6: list[list[str]], info: ValidationInfo) -> list[list[str]]:
        # Only when every day was readable (a day with an error is not in info.data).
        days = [info.data.get(f"day{day}") for day in range(6)]
        if info.data.get("always_open") or day6 or any(d is None or d for d in days):
            return day6
        fail(_l("Give at least one day opening hours, or make the calendar 24/7."), "no_hours", field="day0")


def _day(value: Any) -> date:
    try:
        return date.fromisoformat(str("" if value is None else value).strip())
    except ValueError:
        fail(_l("Enter a date (YYYY-MM-DD)."), "date_format")


class OverrideForm(Schema):
    """Opening hours for one date (a holiday the library lacks, a special opening); empty = closed."""

    day: Annotated[date, BeforeValidator(_day)]
    windows: Windows = []
    note: Annotated[str | None, BeforeValidator(lambda value: str(value or "").strip()[:200] or None)] = None
