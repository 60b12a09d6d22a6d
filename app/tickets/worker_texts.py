"""What the worker reads on her phone from the service (WhatsApp/SMS answers), in her language.

Messages are composed by jobs and webhooks, not for the page's reader, so each is rendered with
the worker's language forced (``force_locale``): the catalogue's Indonesian or the English
source. The service hours come from the call centre's business calendar (``TELEPHONY_CALENDAR``,
edited at ``/admin/sla``), so the first answer names the hours the IVR keeps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.dates import get_day_names
from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from app.core.dates import format_when, zone_name
from app.core.i18n import LANGUAGES
from app.core.time import utcnow
from app.sla.calendar import format_hhmm
from app.sla.services import calendar_named
from app.tickets.attachments import max_bytes

# The short commands a worker may send (one word, any case); each answer lists them.
TEXTS = {
    "first_reply": _l(
        "BPJS Ketenagakerjaan: we received your message. Your case number is %(reference)s. "
        "Our agents answer %(hours)s, here in this chat. Reply STATUS for the status of your case, "
        "AGENT to be called back by an agent, STOP to receive no more messages."
    ),
    "menu": _l(
        "BPJS Ketenagakerjaan: write your question and an agent will answer you here (%(hours)s). "
        "Reply STATUS for the status of your case, AGENT to be called back by an agent, STOP to "
        "receive no more messages."
    ),
    "status": _l("BPJS Ketenagakerjaan: case %(reference)s is %(status)s (last change %(when)s)."),
    "status_none": _l(
        "BPJS Ketenagakerjaan: you have no open case with us on this number. "
        "Write your question here and we will open one."
    ),
    "opted_out": _l(
        "BPJS Ketenagakerjaan: you will receive no more messages from us on this number. "
        "Reply START to receive them again."
    ),
    "opted_in": _l(
        "BPJS Ketenagakerjaan: you will receive our messages on this number again. "
        "Reply STOP to stop them."
    ),
    "callback_refused": _l(
        "BPJS Ketenagakerjaan: we cannot call this number back. Please write your question here, "
        "or call us from the page %(link)s."
    ),
    "media_too_large": _l(
        "BPJS Ketenagakerjaan: the file you sent is too large for us to keep: files may be "
        "at most %(mb)s MB. Please send a smaller photo or PDF."
    ),
    "media_unsupported": _l(
        "BPJS Ketenagakerjaan: we cannot open the kind of file you sent. Please send a photo "
        "(JPG or PNG), a PDF or a voice message."
    ),
    "media_failed": _l(
        "BPJS Ketenagakerjaan: we could not receive the file you sent. Please send it again."
    ),
}


def language_of(language: str | None) -> str:
    return language if language in LANGUAGES else "id"


def worker_text(kind: str, language: str | None, **values: Any) -> str:
    """The message ``kind`` in the worker's ``language`` (Bahasa Indonesia unless English),
    with its values filled in; ``hours`` is added when the text names the service hours."""
    with force_locale(language_of(language)):
        if kind in ("first_reply", "menu") and "hours" not in values:
            values["hours"] = service_hours()
        if kind == "media_too_large" and "mb" not in values:
            values["mb"] = max(1, max_bytes() // (1024 * 1024))
        if kind == "callback_refused" and "link" not in values:
            base = current_app.config.get("PUBLIC_BASE_URL") or ""
            values["link"] = f"{str(base).rstrip('/')}/call" if base else "/call"
        return str(TEXTS[kind]) % values


def when_text(at: datetime | None, language: str | None, zone: str | None = None) -> str:
    with force_locale(language_of(language)):
        return format_when(at, zone=zone)


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
