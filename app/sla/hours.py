"""The call centre's opening hours in words, for what the worker reads (first answer, menu).

From the business calendar named by ``TELEPHONY_CALENDAR`` (the IVR's hours), else the plain
``TELEPHONY_HOURS`` setting; in the current (forced) locale. The factory lends
:func:`service_hours` to ``app.tickets.worker_texts`` (tickets do not import the SLA package).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.dates import get_day_names
from flask import current_app
from flask_babel import lazy_gettext as _l

from app.core.dates import zone_name
from app.core.time import utcnow
from app.sla.calendar import format_hhmm
from app.sla.services import calendar_named


def service_hours(at: datetime | None = None) -> str:
    """The call centre's opening hours in words, in the current (forced) locale: "Senin–Jumat
    08.00–17.00, Sabtu 08.00–12.00 WIB" from the business calendar; "24 jam" when always open."""
    config = current_app.config
    name = str(config.get("TELEPHONY_CALENDAR") or "")
    calendar = calendar_named(name, at or utcnow()) if name else None
    if calendar is None:
        opening, _sep, closing = str(config.get("TELEPHONY_HOURS") or "06:00-22:00").partition("-")
        zone = str(config.get("TELEPHONY_TIMEZONE") or "Asia/Jakarta")
        every_day = {day: ((_minutes(opening), _minutes(closing)),) for day in range(7)}
        return _describe(every_day, zone)
    if calendar.always_open:
        return str(_l("24 hours a day, every day"))
    return _describe(calendar.weekly, calendar.timezone)


def _minutes(text: str) -> int:
    hours, _sep, minutes = text.strip().partition(":")
    return int(hours or 0) * 60 + int(minutes or 0)


def _describe(weekly: Any, zone: str) -> str:
    from flask_babel import get_locale

    locale = get_locale()
    language = locale.language if locale is not None else "id"
    days = get_day_names("wide", locale=language)
    separator = "." if language == "id" else ":"
    groups: list[tuple[int, int, tuple[tuple[int, int], ...]]] = []
    for day in range(7):
        windows = tuple(weekly.get(day, ()))
        if not windows:
            continue
        if groups and groups[-1][1] == day - 1 and groups[-1][2] == windows:
            groups[-1] = (groups[-1][0], day, windows)
        else:
            groups.append((day, day, windows))
    parts = []
    for first, last, windows in groups:
        span = days[first] if first == last else f"{days[first]}–{days[last]}"
        hours = ", ".join(
            f"{format_hhmm(start).replace(':', separator)}–{format_hhmm(end).replace(':', separator)}"
            for start, end in windows
        )
        parts.append(f"{span} {hours}")
    return ", ".join(parts) + f" {zone_name(zone)}"
