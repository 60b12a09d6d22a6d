"""The one vocabulary: what a person reads for each code the system stores (id/en).

Pages never print a stored code (``active``, ``paid``, ``SA``, ``pending_worker``, a queue
priority of 50): templates call the ``label`` filter (``{{ ticket.status|label('ticket_status') }}``)
and ``country_name``; JavaScript renderers read the same tables from the JSON block that
``vocabulary_json`` renders. Labels are lazy strings, so each one is translated when shown, in
the reader's language. ``codes()`` lists every code that has a label: the vocabulary test fails
when one of them appears as text on a page, so the list cannot drift from the tables.

Each table is named by a *kind*. Ticket statuses and categories have two phrasings: ``staff``
for the workspace and ``public`` for workers on the portal, who are spoken to ("Waiting for
your answer").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from app.core import dates

TICKET_STATUS = {
    "new": _l("New"),
    "open": _l("Open"),
    "pending_worker": _l("Waiting for the worker"),
    "pending_third_party": _l("Waiting for a third party"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
}
TICKET_STATUS_PUBLIC = {
    "new": _l("Received"),
    "open": _l("Being handled"),
    "pending_worker": _l("Waiting for your answer"),
    "pending_third_party": _l("Waiting for another office"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
}
PRIORITY = {"low": _l("Low"), "normal": _l("Normal"), "high": _l("High"), "urgent": _l("Urgent")}
CHANNEL = {
    "phone": _l("Phone call"),
    "browser_call": _l("Call from the browser"),
    "callback": _l("Call-back"),
    "voicemail": _l("Voicemail"),
    "portal": _l("Web form"),
    "api": _l("Partner app"),
    "email": _l("Email"),
    "whatsapp": _l("WhatsApp"),
    "sms": _l("SMS"),
}
EVENT = {
    "created": _l("Created"),
    "assigned": _l("Assigned"),
    "status": _l("Status / fields changed"),
    "public_reply": _l("Reply"),
    "internal_note": _l("Internal note"),
    "call_linked": _l("Call linked"),
    "sla_warning": _l("SLA warning"),
    "sla_breach": _l("SLA breached"),
    "merged": _l("Merged"),
    "viewed_pii": _l("Personal data viewed"),
    "member_linked": _l("Member linked"),
    "claim_linked": _l("Claim linked"),
    "attachment": _l("Files attached"),
    "csat": _l("Rating"),
    "tagged": _l("Tags changed"),
    "erased": _l("Personal data erased"),
    "wrap_up": _l("Call wrap-up"),
    "media_refused": _l("File not kept"),
    "opted_out": _l("Opted out (STOP)"),
    "opted_in": _l("Opted in again (START)"),
}
CATEGORY = {
    "membership": _l("Membership / registration"),
    "contribution": _l("Contributions / payment"),
    "claim_jkk": _l("JKK claim (work accident)"),
    "claim_jkm": _l("JKM claim (death benefit)"),
    "claim_jht": _l("JHT claim (old-age savings)"),
    "benefit_info": _l("Benefit information"),
    "data_correction": _l("Data correction"),
    "app_access": _l("App or account access"),
    "service_complaint": _l("Service complaint"),
    "emergency": _l("Emergency"),
    "other": _l("Other"),
}
CATEGORY_PUBLIC = {
    "membership": _l("Membership / registration"),
    "contribution": _l("Contribution / payment"),
    "claim_jkk": _l("Work accident claim (JKK)"),
    "claim_jkm": _l("Death benefit claim (JKM)"),
    "claim_jht": _l("Old-age savings claim (JHT)"),
    "benefit_info": _l("Benefit information"),
    "data_correction": _l("Correcting my data"),
    "app_access": _l("App or account access"),
    "service_complaint": _l("Complaint about our service"),
    "emergency": _l("Emergency (accident, death, violence, detention, lost contact, unpaid wages)"),
    "other": _l("Other"),
}
MEMBERSHIP = {
    "active": _l("Active"),
    "inactive": _l("Inactive"),
    "expired": _l("Expired"),
    "pending": _l("Pending"),
}
CLAIM_STATUS = {
    "reported": _l("Reported"),
    "submitted": _l("Submitted"),
    "documents_incomplete": _l("Documents incomplete"),
    "verifying": _l("Verifying"),
    "medical_assessment": _l("Medical assessment"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "paid": _l("Paid"),
    "closed": _l("Closed"),
}
PHASE = {
    "CPMI": _l("CPMI (before placement)"),
    "PMI": _l("PMI (working abroad)"),
    "PURNA": _l("Purna PMI (returned)"),
}
PROGRAM = {
    "JKK": _l("JKK (work accident)"),
    "JKM": _l("JKM (death benefit)"),
    "JHT": _l("JHT (old-age savings)"),
}
BENEFIT = {
    "medical_abroad": _l("Medical care abroad"),
    "disability": _l("Disability benefit"),
    "transport": _l("Transport costs"),
    "failed_departure": _l("Failed departure"),
    "scholarship": _l("Scholarship for children"),
    "death_benefit": _l("Death benefit"),
    "funeral": _l("Funeral costs"),
    "periodic": _l("Periodic payments"),
    "balance": _l("Savings balance"),
}
DOCUMENT = {
    "death_certificate": _l("death certificate"),
    "heir_certificate": _l("certificate of heirs"),
    "medical_report": _l("medical report"),
    "police_report": _l("police report"),
    "passport": _l("passport copy"),
    "id_card": _l("identity card (KTP)"),
    "family_card": _l("family card (KK)"),
    "bank_book": _l("bank book"),
    "employment_contract": _l("employment contract"),
}
SCHEME = {
    "P3MI": _l("Through a placement agency (P3MI)"),
    "G2G": _l("Government to government (G2G)"),
    "PERSEORANGAN": _l("Independent"),
    "COMPANY": _l("For a company's own use"),
}
CONFIDENCE = {
    "exact": _l("exact match"),
    "probable": _l("probable match"),
    "confirmed": _l("confirmed by staff"),
}
AGENT_STATE = {
    "offline": _l("Offline"),
    "available": _l("Available"),
    "offered": _l("Ringing"),
    "on_call": _l("On call"),
    "wrap_up": _l("Wrap-up"),
    "away": _l("Break / away"),
}
WORK_KIND = {"call": _l("Call"), "callback": _l("Call-back")}
# A supervisor on a live call: muted, heard by the agent only, heard by both.
SUPERVISION_MODE = {"listen": _l("Listen"), "whisper": _l("Whisper"), "barge": _l("Barge in")}
ROLE = {"agent": _l("Agent"), "supervisor": _l("Supervisor"), "admin": _l("Admin")}
SLA_TARGET = {"first_response": _l("First response"), "resolution": _l("Resolution")}
SLA_STATUS = {
    "ok": _l("On track"),
    "at_risk": _l("At risk"),
    "breached": _l("Breached"),
    "met": _l("Met"),
}
NOTIFICATION = {
    "whatsapp": _l("WhatsApp to the worker"),
    "sms": _l("SMS to the worker"),
    "email": _l("Email to the worker"),
}
# Why a message to the worker was not sent (Notification.last_error of a skipped one).
SKIP_REASON = {
    "opted_out": _l("the worker opted out (STOP)"),
    "whatsapp_window_closed": _l("WhatsApp's 24-hour window is closed and no approved template fits"),
}
# Why a file a worker sent by WhatsApp/SMS was not kept.
MEDIA_REFUSAL = {
    "too_large": _l("too large"),
    "unsupported": _l("a kind of file we do not accept"),
    "failed": _l("could not be fetched from the provider"),
}
# What an approved WhatsApp template is for, and what fills its variables.
TEMPLATE_PURPOSE = {
    "message": _l("An agent's answer outside the 24-hour window"),
    "created": _l("Case received"),
    "reply": _l("New reply on the case"),
    "resolved": _l("Case resolved"),
    "callback": _l("Call-back request received"),
}
TEMPLATE_FIELD = {
    "reference": _l("Case reference"),
    "status": _l("Case status"),
    "link": _l("Link to the case page"),
    "name": _l("Worker's name"),
}
SEND_STATUS = {
    "pending": _l("not sent yet"),
    "sent": _l("handed to the provider"),
    "failed": _l("sending failed"),
    "skipped": _l("not sent (skipped)"),
}
CARRIER_STATUS = {
    "accepted": _l("Accepted"),
    "scheduled": _l("Scheduled"),
    "queued": _l("Queued at the carrier"),
    "sending": _l("Sending"),
    "sent": _l("Sent by the carrier"),
    "delivered": _l("Delivered"),
    "undelivered": _l("Not delivered"),
    "failed": _l("Delivery failed"),
    "canceled": _l("Cancelled"),
    "partially_delivered": _l("Partly delivered"),
    "read": _l("Read"),
}
# Languages are named in themselves (as a worker looks for her own), the way switchers do.
LANGUAGE = {
    "id": "Bahasa Indonesia", "en": "English", "jv": "Basa Jawa", "su": "Basa Sunda",
    "sas": "Sasak", "mad": "Madura", "zh-TW": "中文 (臺灣)", "yue": "粵語", "ko": "한국어",
    "ar": "العربية", "ms": "Bahasa Melayu", "ja": "日本語",
}  # fmt: skip

VOCABULARY: dict[str, Mapping[str, Any]] = {
    "ticket_status": TICKET_STATUS,
    "ticket_status_public": TICKET_STATUS_PUBLIC,
    "priority": PRIORITY,
    "channel": CHANNEL,
    "event": EVENT,
    "category": CATEGORY,
    "category_public": CATEGORY_PUBLIC,
    "membership": MEMBERSHIP,
    "claim_status": CLAIM_STATUS,
    "phase": PHASE,
    "program": PROGRAM,
    "benefit": BENEFIT,
    "document": DOCUMENT,
    "scheme": SCHEME,
    "confidence": CONFIDENCE,
    "agent_state": AGENT_STATE,
    "work_kind": WORK_KIND,
    "supervision_mode": SUPERVISION_MODE,
    "role": ROLE,
    "sla_target": SLA_TARGET,
    "sla_status": SLA_STATUS,
    "notification": NOTIFICATION,
    "skip_reason": SKIP_REASON,
    "media_refusal": MEDIA_REFUSAL,
    "template_purpose": TEMPLATE_PURPOSE,
    "template_field": TEMPLATE_FIELD,
    "send_status": SEND_STATUS,
    "carrier_status": CARRIER_STATUS,
    "language": LANGUAGE,
}
# Queue priorities of the router (app.agents.routing: emergency 100, claims 50, the rest 10)
# read as words: the highest threshold a number reaches names it.
QUEUE_PRIORITY = ((100, _l("Emergency")), (50, _l("High")), (0, _l("Normal")))


def label(code: object, kind: str) -> str:
    """What a reader sees for ``code`` of ``kind``, in the page's language. An unknown code
    reads as words ("medical_abroad" → "medical abroad") rather than as a code; no code is ''."""
    if code is None or code == "":
        return ""
    if kind == "country":
        return country_name(str(code))
    if kind == "queue_priority":
        return queue_priority(code)
    table = VOCABULARY.get(kind)
    if table is None:
        raise KeyError(f"no vocabulary named {kind!r}")
    text = table.get(str(code))
    if text is None:
        return str(code).replace("_", " ")
    return str(text)


def labels(kind: str) -> dict[str, str]:
    """The whole table of ``kind`` translated now (for selects and for JavaScript)."""
    return {code: str(text) for code, text in VOCABULARY[kind].items()}


def choices(kind: str, codes: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """(code, label) pairs in the table's order, or for ``codes`` in their order."""
    return [(code, label(code, kind)) for code in (codes if codes is not None else VOCABULARY[kind])]


def queue_priority(value: object) -> str:
    try:
        number = int(str(value))
    except ValueError:
        return str(value)
    for threshold, text in QUEUE_PRIORITY:
        if number >= threshold:
            return str(text)
    return str(QUEUE_PRIORITY[-1][1])


country_name = dates.country_name  # SA → Arab Saudi / Saudi Arabia


def for_js(*kinds: str) -> dict[str, dict[str, str]]:
    """Tables for a page's JavaScript renderers (countries included as ``country``)."""
    out = {kind: labels(kind) for kind in kinds if kind in VOCABULARY}
    if "country" in kinds:
        locale = get_locale()
        territories = dict(locale.territories) if locale is not None else {}
        out["country"] = {
            code: dates.SHORT_COUNTRY_NAMES.get(code) or str(name)
            for code, name in territories.items()
            if len(code) == 2 and code.isalpha()
        }
    if "queue_priority" in kinds:
        out["queue_priority"] = {str(threshold): str(text) for threshold, text in QUEUE_PRIORITY}
    return out


def codes() -> dict[str, set[str]]:
    """Every labelled code by kind (what must never be read as text on a page)."""
    return {kind: set(table) for kind, table in VOCABULARY.items()}
