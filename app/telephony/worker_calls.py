"""A worker's own call and call-back as the public Click-to-Call page shows them to her.

The page knows her call only by the call request's identity (kept in her signed session) and
her call-back only by its id (inside a signed token): nothing here lists or finds anybody
else's. Positions and waits come from routing, as the IVR's wait URL says them
(:func:`app.telephony.services.wait_state`); times are in the worker's own zone, named.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel.dates import format_datetime, get_timezone, get_timezone_name
from flask import current_app
from sqlalchemy import select

from app.core.phone import PhoneError, parse_phone
from app.extensions import db
from app.telephony import integration
from app.telephony.clicktocall import CallbackRefused, request_callback
from app.telephony.models import TERMINAL_STATUSES, Call, CallbackRequest, CallRequest

# The call-back's stored status → what the worker is told (waiting / calling you / done / …).
CALLBACK_PHASES = {
    "pending": "waiting",
    "scheduled": "waiting",
    "dialing": "calling",
    "connected": "calling",
    "completed": "done",
    "failed": "unreachable",
    "cancelled": "cancelled",
}
CANCELLABLE = frozenset({"pending", "scheduled"})
CANCEL_REASON = "worker_cancelled"


# --- the browser call ------------------------------------------------------------------------


def call_request(identity: str | None) -> CallRequest | None:
    if not identity:
        return None
    return db.session.scalar(select(CallRequest).where(CallRequest.identity == identity))


def call_status(identity: str | None) -> dict[str, Any] | None:
    """Where her browser call is: ``starting`` (not reached us yet), ``ivr``, ``queued`` (with
    position and the estimate in minutes, None when there is no basis for one), ``connected``
    (an agent joined) or ``ended``. None: no such call request."""
    request_ = call_request(identity)
    if request_ is None:
        return None
    call = db.session.get(Call, request_.call_id) if request_.call_id else None
    if call is None:
        return {"phase": "starting"}
    if call.status in TERMINAL_STATUSES:
        return {"phase": "ended", "reason": _ended_reason(call)}
    if call.answered_at is not None:
        return {"phase": "connected"}
    if call.enqueued_at is None:
        return {"phase": "ivr"}
    position, estimate = integration.position("call", call.id)
    if not position:
        return {"phase": "ivr"}  # between the queue and an agent's conference, or left it
    return {
        "phase": "queued",
        "position": position,
        # 0: an agent is being offered the call; else at least a minute, as the IVR says it.
        "minutes": (max(1, round(estimate / 60)) if estimate else 0) if estimate is not None else None,
    }


def _ended_reason(call: Call) -> str:
    if call.answered_at is not None:
        return "completed"
    return "not_answered" if call.enqueued_at is not None else "ended"


# --- call me back ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackForm:
    country: str
    number: str
    language: str
    topic: str
    kpj: str
    window_start: str
    window_end: str


def full_number(country: str, number: str) -> str:
    """The number as she typed it, read in the chosen country (``+…`` and ``00…`` as given).
    Raises :class:`CallbackRefused` with the phone's reason when it is not a number at all."""
    raw = (number or "").strip()
    try:
        return parse_phone(raw, region=country or "ID").e164
    except PhoneError as exc:
        raise CallbackRefused({"phone": "empty_phone" if exc.code == "empty" else "invalid_phone"}) from exc


def request_from_portal(form: CallbackForm, ip: str | None) -> CallbackRequest:
    """The portal's "call me back": the API's rules (toll-fraud guard, limits), then an SMS
    confirming it to the worker through the ticket's notifications."""
    from app.tickets.services import notify_callback_requested

    payload: dict[str, Any] = {
        "phone": full_number(form.country, form.number),
        "language": form.language,
        "topic": form.topic,
        "kpj": form.kpj or None,
    }
    if form.window_start or form.window_end:
        payload["preferred_window"] = {"start": form.window_start, "end": form.window_end}
    callback = request_callback(payload, ip)
    callback.source = "portal"
    if callback.ticket_id is not None:
        notify_callback_requested(callback.ticket_id, callback.id)
    return callback


def _local(at: datetime | None, zone: str, locale: str) -> str | None:
    if at is None:
        return None
    return str(format_datetime(at, "EEEE d MMMM, HH:mm", tzinfo=get_timezone(zone), locale=locale))


def callback_call(callback: CallbackRequest) -> Call | None:
    """The latest leg we dialled to her for this call-back."""
    return db.session.scalar(
        select(Call).where(Call.callback_id == callback.id).order_by(Call.id.desc()).limit(1)
    )


def callback_view(callback: CallbackRequest, locale: str) -> dict[str, Any]:
    """Everything her status page shows, times in her zone with the zone named."""
    phase = CALLBACK_PHASES.get(callback.status, "waiting")
    call = callback_call(callback) if phase == "calling" else None
    if call is not None and call.answered_at is not None and call.status not in TERMINAL_STATUSES:
        phase = "connected"
    return {
        "id": callback.id,
        "status": callback.status,
        "phase": phase,
        "attempts": callback.attempts,
        "max_attempts": int(current_app.config["CALLBACK_MAX_ATTEMPTS"]),
        "next_attempt": _local(callback.next_attempt_at, callback.timezone, locale),
        "requested": _local(callback.created_at, callback.timezone, locale),
        "zone": str(get_timezone_name(get_timezone(callback.timezone), "long", locale=locale)),
        "window": (callback.window_start, callback.window_end) if callback.window_start else None,
        "phone": _masked(callback.phone or ""),
        "reference": integration.ticket_reference(callback.ticket_id) if callback.ticket_id else None,
        "cancellable": callback.status in CANCELLABLE,
    }


def _masked(phone: str) -> str:
    return phone[:4] + "•" * max(0, len(phone) - 7) + phone[-3:] if len(phone) > 7 else phone


class NotCancellable(ValueError):
    """The call-back is already being dialled, done or cancelled."""


def cancel_callback(callback_id: int) -> CallbackRequest:
    """The worker no longer wants the call: out of the queue, no retry, a note on the ticket."""
    callback = db.session.get(CallbackRequest, callback_id, with_for_update=True)
    if callback is None:
        raise LookupError(callback_id)
    if callback.status == "cancelled":
        return callback  # the same press twice
    if callback.status not in CANCELLABLE:
        raise NotCancellable(callback.status)
    callback.status, callback.next_attempt_at = "cancelled", None
    integration.cancel("callback", callback.id, CANCEL_REASON)
    if callback.ticket_id:
        integration.ticket_note(
            callback.ticket_id,
            "internal_note",
            {"callback_id": callback.id, "outcome": "cancelled_by_worker"},
        )
    return callback
