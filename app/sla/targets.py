"""SLA targets as people think of them: "4 business hours", "3 business days", "1 day".

Policies store their targets in minutes of the policy's calendar (business minutes), or of the
clock when the policy runs round the clock. Administrators enter and read them in minutes, hours
or days; a *business day* is the usual length of an open day on the policy's calendar (the most
common weekday length: 7 h 30 min on the office calendar, whose Friday is shorter), and a day
round the clock is 24 hours. What is stored does not change: minutes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from app.sla.calendar import CalendarError, parse_windows
from app.sla.models import BusinessCalendar

UNITS = ("minutes", "hours", "days")
_AMOUNT = re.compile(r"^[0-9]{1,7}(?:[.,][0-9]{1,4})?$")
DAY_MINUTES = 24 * 60
UNIT_LABELS = {"minutes": _l("minutes"), "hours": _l("hours"), "days": _l("days")}
BUSINESS_UNIT_LABELS = {"minutes": _l("business minutes"), "hours": _l("business hours"), "days": _l("business days")}


class TargetError(ValueError):
    """A target that cannot be stored; the message is for the administrator."""


def business_time(calendar: BusinessCalendar | None) -> bool:
    return calendar is not None and not calendar.always_open


def day_minutes(calendar: BusinessCalendar | None) -> int:
    """Minutes in one day of ``calendar``: 1440 round the clock, else its usual open day."""
    if not business_time(calendar):
        return DAY_MINUTES
    assert calendar is not None
    lengths: Counter[int] = Counter()
    for pairs in (calendar.weekly or {}).values():
        try:
            total = sum(end - start for start, end in parse_windows(pairs))
        except CalendarError:
            continue
        if total:
            lengths[total] += 1
    if not lengths:
        return DAY_MINUTES
    # The most common length; on a tie the longer day (fewer surprises: a "day" is not short).
    return max(lengths.items(), key=lambda item: (item[1], item[0]))[0]


def split(minutes: int | None, calendar: BusinessCalendar | None) -> tuple[str, str]:
    """Stored minutes → (amount, unit) for the form, in the largest unit that says it exactly."""
    if minutes is None:
        return "", "hours"
    day = day_minutes(calendar)
    if minutes % day == 0:
        return str(minutes // day), "days"
    if minutes % 60 == 0:
        return str(minutes // 60), "hours"
    if minutes % 15 == 0 and minutes > 60:
        return _plain(Decimal(minutes) / 60), "hours"  # 450 → 7.5 hours
    return str(minutes), "minutes"


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def to_minutes(amount: Any, unit: Any, calendar: BusinessCalendar | None) -> int:
    """(amount, unit) from the form → whole minutes; :class:`TargetError` when impossible."""
    text = str(amount or "").strip()
    if not text:
        raise TargetError(str(_l("Enter a target.")))
    # Plain digits with an optional decimal point or comma (1,5 in Indonesian): no exponents,
    # signs, "NaN" or other scripts' digits, which Decimal would otherwise accept.
    if not _AMOUNT.match(text):
        raise TargetError(str(_l("Enter a number, such as 4 or 1.5.")))
    value = Decimal(text.replace(",", "."))
    if value <= 0:
        raise TargetError(str(_l("Enter a number greater than zero.")))
    if unit not in UNITS:
        raise TargetError(str(_l("Choose minutes, hours or days.")))
    per_unit = {"minutes": 1, "hours": 60, "days": day_minutes(calendar)}[unit]
    minutes = value * per_unit
    if minutes != minutes.to_integral_value():
        raise TargetError(str(_l("The target must come to whole minutes.")))
    return int(minutes)


def read_target(
    form: Mapping[str, Any], prefix: str, calendar: BusinessCalendar | None
) -> int:
    """The target ``prefix`` (``first_response`` or ``resolution``) of a submitted policy form.

    The form sends ``<prefix>_amount`` and ``<prefix>_unit``; a client that sends the stored
    value directly (``<prefix>_minutes``, as scripts did before units existed) still works.
    """
    if f"{prefix}_amount" not in form and f"{prefix}_minutes" in form:
        return to_minutes(form.get(f"{prefix}_minutes"), "minutes", calendar)
    return to_minutes(form.get(f"{prefix}_amount"), form.get(f"{prefix}_unit"), calendar)


def describe(minutes: int | None, calendar: BusinessCalendar | None) -> str:
    """Stored minutes as a person says them: "1 day", "4 business hours", "2 h 30 min"."""
    if minutes is None:
        return "—"
    business = business_time(calendar)
    day = day_minutes(calendar)
    if minutes % day == 0:
        n = minutes // day
        if business:
            return ngettext("%(num)d business day", "%(num)d business days", n)
        return ngettext("%(num)d day", "%(num)d days", n)
    if minutes % 60 == 0:
        n = minutes // 60
        if business:
            return ngettext("%(num)d business hour", "%(num)d business hours", n)
        return ngettext("%(num)d hour", "%(num)d hours", n)
    hours, rest = divmod(minutes, 60)
    if business:
        if hours:
            return str(_l("%(h)d h %(m)d min of business time", h=hours, m=rest))
        return ngettext("%(num)d business minute", "%(num)d business minutes", rest)
    if hours:
        return str(_l("%(h)d h %(m)d min", h=hours, m=rest))
    return ngettext("%(num)d minute", "%(num)d minutes", rest)
