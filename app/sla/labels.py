"""Labels of the ticket codes the SLA pages show (priorities, channels), id/en.

The SLA policy form and list name what a policy matches by label, never by code
(``browser_call``). Categories use the tickets' own table (``app.tickets.labels``).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from app.tickets.models import CHANNELS, PRIORITIES

PRIORITY_LABELS: dict[str, Any] = {"low": _l("Low"), "normal": _l("Normal"), "high": _l("High"), "urgent": _l("Urgent")}
CHANNEL_LABELS: dict[str, Any] = {
    "phone": _l("Phone call"),
    "browser_call": _l("Call from the browser or app"),
    "callback": _l("Call-back"),
    "voicemail": _l("Voicemail"),
    "portal": _l("Complaint form on the website"),
    "api": _l("Mobile app (API)"),
    "email": _l("Email"),
}


def priority_choices() -> list[tuple[str, str]]:
    return [(code, str(PRIORITY_LABELS.get(code, code))) for code in PRIORITIES]


def channel_choices() -> list[tuple[str, str]]:
    return [(code, str(CHANNEL_LABELS.get(code, code))) for code in CHANNELS]


def priority_label(code: str | None) -> str:
    return str(PRIORITY_LABELS.get(code or "", code or ""))


def channel_label(code: str | None) -> str:
    return str(CHANNEL_LABELS.get(code or "", code or ""))
