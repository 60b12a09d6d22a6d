"""What the worker reads on her phone from the service (WhatsApp/SMS answers), in her language.

Messages are composed by jobs and webhooks, not for the page's reader, so each is rendered with
the worker's language forced (``force_locale``): the catalogue's Indonesian or the English
source. The service hours come from the call centre's business calendar (``TELEPHONY_CALENDAR``,
edited at ``/admin/sla``), so the first answer names the hours the IVR keeps: the SLA package,
which owns the calendars and sits above tickets, words them (``app.sla.hours``), and the factory
lends that function to this module as ``app.extensions[SERVICE_HOURS]``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from app.core.dates import format_when
from app.core.i18n import LANGUAGES
from app.tickets.attachments import max_bytes

# app.extensions key of the function that words the service hours (set by the factory).
SERVICE_HOURS = "halopmi.service_hours"

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
            values["hours"] = current_app.extensions[SERVICE_HOURS]()
        if kind == "media_too_large" and "mb" not in values:
            values["mb"] = max(1, max_bytes() // (1024 * 1024))
        if kind == "callback_refused" and "link" not in values:
            base = current_app.config.get("PUBLIC_BASE_URL") or ""
            values["link"] = f"{str(base).rstrip('/')}/call" if base else "/call"
        return str(TEXTS[kind]) % values


def when_text(at: datetime | None, language: str | None, zone: str | None = None) -> str:
    with force_locale(language_of(language)):
        return format_when(at, zone=zone)
