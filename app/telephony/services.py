"""The call path behind the webhooks: IVR state, queue, call log, status callbacks, voicemail.

Routes translate a webhook into one of these functions and the answer into TwiML. Each function
takes the provider's form values (plain strings) and leaves the commit to the route. Webhooks
arrive at least once and in any order: raw events are stored under a unique key, statuses only
move forward, and every call-log fact has a unique key (replays add nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from app.core.once import insert_once
from app.core.phone import PhoneError, parse_phone
from app.extensions import db
from app.telephony import calllog, integration
from app.telephony.calllog import log_event, seconds, store_raw
from app.telephony.clicktocall import callback_leg_ended, create_callback
from app.telephony.models import (
    TERMINAL_STATUSES,
    Call,
    CallEvent,
    RawWebhook,
)
from app.telephony.prompts import TOPIC_KEYS
from app.telephony.schemas import phone_problem

log = logging.getLogger(__name__)

CHANNEL_BY_DIRECTION = {"inbound": "phone", "browser": "browser_call", "outbound": "callback"}


# --- calls ------------------------------------------------------------------------------------


def get_call(call_sid: str | None) -> Call | None:
    if not call_sid:
        return None
    return db.session.scalar(select(Call).where(Call.call_sid == call_sid))


def _caller(raw: str | None) -> tuple[str | None, str | None]:
    """The caller's E.164 number and country, or (raw, None) for anonymous/client callers."""
    if not raw:
        return None, None
    try:
        phone = parse_phone(raw)
    except PhoneError:
        return raw[:64], None
    return phone.e164, phone.country


def start_call(form: Mapping[str, str], direction: str = "inbound", **values: Any) -> Call:
    """The Call for this CallSid, created with its ``created`` log entry on first sight.

    The call's first webhook is the common case, so the row is inserted straight away (one
    statement, see :func:`app.core.once.insert_once`); a replayed or concurrent first webhook
    conflicts on ``call_sid`` and reads the stored call instead."""
    call_sid = form["CallSid"]
    number, country = _caller(form.get("From"))
    call = Call(
        call_sid=call_sid,
        parent_call_sid=form.get("ParentCallSid") or None,
        direction=direction,
        from_number=number,
        to_number=(form.get("To") or "")[:64] or None,
        caller_country=country or (form.get("FromCountry") or None),
        status="queued",
        **values,
    )
    call.move_to(form.get("CallStatus") or "ringing")
    stored = insert_once(call, unique="call_sid")
    if stored is None:
        existing = get_call(call_sid)
        assert existing is not None
        return existing
    log_event(stored, "created", data={"direction": direction})
    return stored


def require_call(form: Mapping[str, str]) -> Call:
    """The call a follow-up webhook is about (recreated if its first webhook was lost)."""
    return get_call(form.get("CallSid")) or start_call(form)


def business_hours(at: datetime | None = None) -> bool:
    """Whether the call centre is open at ``at``.

    The business calendar named by TELEPHONY_CALENDAR (administrators edit it at /admin/sla:
    windows, public holidays, dated overrides) decides; without one, TELEPHONY_HOURS every day
    in TELEPHONY_TIMEZONE.
    """
    config = current_app.config
    at = at or calllog.now()
    name = str(config.get("TELEPHONY_CALENDAR") or "")
    if name:
        from app.sla.services import calendar_named

        calendar = calendar_named(name, at)
        if calendar is not None:
            return calendar.is_open(at)
    opening, _, closing = str(config["TELEPHONY_HOURS"]).partition("-")
    local = at.astimezone(ZoneInfo(config["TELEPHONY_TIMEZONE"])).time()
    start, end = time.fromisoformat(opening.strip()), time.fromisoformat(closing.strip())
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # hours across midnight


def choose_language(form: Mapping[str, str]) -> Call:
    call = require_call(form)
    call.language = "en" if form.get("Digits") == "2" else "id"
    return call


def enter_kpj(form: Mapping[str, str]) -> tuple[Call, bool | None]:
    """Match keyed-in KPJ digits to a member: True found, False not found, None skipped."""
    call = require_call(form)
    digits = "".join(ch for ch in (form.get("Digits") or "") if ch.isdigit())
    if not digits:
        return call, None
    from app.records.services import find_members

    matches = [m for m in find_members(kpj=digits, lenient=True) if m.confidence == "exact"]
    if len(matches) != 1:
        return call, False
    call.kpj = digits[:11]
    call.member_id = matches[0].member.id
    return call, True


def choose_topic(form: Mapping[str, str], call: Call | None = None) -> Call:
    """The topic key; then the queue, or (outside hours) a voicemail filed under that topic, so
    an emergency message left at night still makes an urgent ticket. With call recording on,
    the caller first hears the recording notice (:func:`needs_consent`); the queue comes after
    their answer (:func:`give_consent`), so no agent joins before it is known. ``call``: the
    webhook's call when the route has read it already."""
    call = call or require_call(form)
    call.topic = TOPIC_KEYS.get((form.get("Digits") or "")[:1], "other")
    if business_hours():
        if not needs_consent(call):
            queue_call(call)
    elif call.exit_reason is None:
        call.exit_reason = "closed"
    return call


# --- call recording with consent ----------------------------------------------------------


def recording_enabled() -> bool:
    return bool(current_app.config.get("TELEPHONY_RECORD_CALLS"))


def needs_consent(call: Call) -> bool:
    """Recording is on and this caller has not yet heard the notice."""
    return recording_enabled() and call.record_consent is None


def give_consent(form: Mapping[str, str]) -> Call:
    """The caller's answer to the notice: any key declines, silence accepts. The first answer
    stands (a replayed or repeated webhook does not change it)."""
    call = require_call(form)
    if call.record_consent is None:
        call.record_consent = "declined" if (form.get("Digits") or "").strip() else "accepted"
    return call


def should_record(call: Call) -> bool:
    """Record this call's conference: recording is on and the caller did not decline."""
    return recording_enabled() and call.record_consent == "accepted"


def _subject(call: Call, channel: str) -> str:
    return integration.ticket_title(channel, call.topic, call.caller_country)


def ensure_ticket(call: Call, channel: str | None = None) -> int:
    """Open (or reuse the worker's open) ticket for the call and link the call to it."""
    if call.ticket_id is None:
        phone = call.from_number if call.from_number and call.from_number.startswith("+") else None
        channel = channel or CHANNEL_BY_DIRECTION.get(call.direction, "phone")
        call.ticket_id = integration.open_or_reuse_ticket(
            channel=channel,
            category=call.topic or "other",
            language=call.language,
            country=call.caller_country,
            member_id=call.member_id,
            phone=phone,
            subject=_subject(call, channel),
            kpj=call.kpj,
            call_id=call.id,
        )
        if call.self_service is not None:
            _self_service_note(call, call.ticket_id)
    return call.ticket_id


def _self_service_note(call: Call, ticket_id: int) -> None:
    """Tell the agent what the IVR's self-service established: whether she proved who she is
    (a caller refused after wrong birth dates is not verified, whatever she says next)."""
    outcome = {"verified": "verified", "agent": "verified", "verifying": "unverified"}.get(call.self_service or "")
    refused = db.session.scalar(select(CallEvent.data).where(CallEvent.key == f"{call.id}:ss_refused"))
    if refused:
        outcome = str(refused.get("reason") or "tries")
    elif call.self_service == "agent":
        verified = db.session.scalar(select(CallEvent.id).where(CallEvent.key == f"{call.id}:ss_verified"))
        outcome = "verified" if verified is not None else "unverified"
    if outcome:
        integration.ticket_note(ticket_id, "internal_note", {"call_id": call.id, "self_service": outcome})


def queue_call(call: Call) -> None:
    """Ticket first (it must exist whatever fails next), then the live queue.

    A call that has ended is never queued (a replayed IVR webhook must not ring an agent)."""
    if call.status in TERMINAL_STATUSES:
        return
    ensure_ticket(call)
    if call.enqueued_at is None:
        call.enqueued_at = calllog.now()
    integration.enqueue(
        "call",
        call.id,
        language=call.language,
        topic=call.topic or "other",
        country=call.caller_country,
        ticket_id=call.ticket_id,
        member_id=call.member_id,
    )
    log_event(call, "queued", data={"topic": call.topic, "language": call.language})


def wait_state(form: Mapping[str, str]) -> tuple[Call, int | None, int | None, bool]:
    """For the hold TwiML: position, estimated wait, and whether the maximum wait is past."""
    call = require_call(form)
    position, estimate = integration.position("call", call.id)
    waited = seconds(call.enqueued_at, calllog.now()) or 0
    too_long = waited >= int(current_app.config["TELEPHONY_MAX_WAIT_SECONDS"])
    if too_long and call.exit_reason is None:
        call.exit_reason = "max_wait"
    return call, (position or None), estimate, too_long


def callback_possible(call: Call) -> bool:
    if not call.from_number or not call.from_number.startswith("+"):
        return False
    return phone_problem(call.from_number) is None


def request_callback_from_queue(form: Mapping[str, str]) -> bool:
    """The caller pressed 1 while waiting: keep their number, leave the queue, call back later."""
    call = require_call(form)
    if call.exit_reason == "callback":
        return True  # the same key press delivered twice
    if (form.get("Digits") or "")[:1] != "1" or not callback_possible(call):
        return False
    if call.status in TERMINAL_STATUSES or call.exit_reason is not None:
        return False  # a replayed key press after the call ended, or after it left the queue
    call.exit_reason = "callback"
    assert call.from_number is not None
    create_callback(
        phone=call.from_number,
        language=call.language,
        topic=call.topic or "other",
        kpj=call.kpj,
        member_id=call.member_id,
        ticket_id=call.ticket_id,
        source="queue",
        call_id=call.id,
    )
    return True


def abandon(call: Call, reason: str, at: datetime) -> None:
    """The caller hung up while queued (``reason`` ``hangup``): an abandon in the call log."""
    if call.answered_at is not None or call.enqueued_at is None:
        return
    if log_event(
        call, "abandoned", at=at, wait_seconds=seconds(call.enqueued_at, at), data={"reason": reason}
    ):
        integration.cancel("call", call.id, reason)


def left_for_callback(call: Call, at: datetime) -> bool:
    """The caller who pressed for a call-back left the queue: an ``abandoned`` fact with reason
    ``callback`` (not counted as an abandon). False if it was logged already."""
    if log_event(
        call,
        "abandoned",
        suffix="callback",
        at=at,
        wait_seconds=seconds(call.enqueued_at, at),
        data={"reason": "callback"},
    ):
        integration.cancel("call", call.id, "callback")
        return True
    return False


def log_completed(call: Call, at: datetime, agent_id: int | None, data: dict[str, Any]) -> None:
    """An answered call ended: its talk time (from the answer) and wait, once."""
    log_event(
        call,
        "completed",
        at=at,
        agent_id=agent_id,
        talk_seconds=seconds(call.answered_at, at),
        wait_seconds=seconds(call.enqueued_at, call.answered_at),
        data=data,
    )


def queue_exit(form: Mapping[str, str]) -> str:
    """Enqueue's action URL: what happens after the caller left the queue.

    Returns ``"callback"`` (goodbye), ``"voicemail"`` (record a message), ``"conference"`` (join
    the accepting agent) or ``"done"``.
    """
    call = require_call(form)
    result = form.get("QueueResult") or ""
    at = calllog.now()
    if (
        result in ("redirected", "redirected-from-bridged")
        and call.status not in TERMINAL_STATUSES
        and connected_item(call) is not None
    ):
        # Moved out by connect_agent: should Twilio run this answer rather than the redirect's
        # TwiML, it leads to the same conference.
        return "conference"
    if result in ("bridged", "bridging-in-process", "redirected", "redirected-from-bridged"):
        return "done"
    if result == "leave" and call.exit_reason == "callback":
        left_for_callback(call, at)
        return "callback"
    if result == "hangup":
        abandon(call, "hangup", at)
        return "done"
    # leave after the maximum wait, queue-full, error, system-error: take a message instead.
    reason = call.exit_reason or result or "error"
    left_queue(call, reason, at)
    integration.cancel("call", call.id, reason)
    return "voicemail"


def left_queue(call: Call, reason: str, at: datetime) -> None:
    """The caller left the queue unanswered without hanging up (to voicemail): her wait ends
    now, as Asterisk's EXITWITHTIMEOUT counts it, not when her message ends minutes later."""
    if call.answered_at is not None or call.enqueued_at is None:
        return
    log_event(call, "left_queue", at=at, wait_seconds=seconds(call.enqueued_at, at), data={"reason": reason})


def apply_status(form: Mapping[str, str]) -> bool:
    """A status callback: store raw under its key, then move the call forward (never back).

    Returns False for a duplicate. Terminal statuses end the routing item: ``complete`` after
    an answered call, ``cancel`` (abandoned) for one that waited and was never answered.
    """
    call_sid = form.get("CallSid") or ""
    status = form.get("CallStatus") or ""
    sequence = form.get("SequenceNumber")
    key = f"status:{call_sid}:{sequence}" if sequence not in (None, "") else f"status:{call_sid}:{status}"
    if not store_raw("status", key, form):
        return False
    call = get_call(call_sid)
    if call is None:
        return True  # kept raw; replayed when the call row appears (see replay_raw)
    _apply_status(call, status, form)
    return True


def _apply_status(call: Call, status: str, form: Mapping[str, str]) -> None:
    if not call.move_to(status):
        return
    at = calllog.now()
    if status == "in-progress" and call.direction == "outbound" and call.answered_at is None:
        call.answered_at = at
        log_event(call, "answered", at=at, agent_id=call.agent_id)
        integration.conversation_started(call.ticket_id, at, call.agent_id)
    if status not in TERMINAL_STATUSES:
        return
    call.ended_at = at
    if call.self_service == "verified":
        # Ended in self-service, her claims heard, no agent asked for: contained.
        log_event(call, "contained", at=at, data={"language": call.language})
    if call.callback_id is not None:
        callback_leg_ended(call, status)
        return
    if call.answered_at is not None:
        log_completed(call, at, call.agent_id, {"duration": form.get("CallDuration")})
        integration.complete("call", call.id)
    elif call.exit_reason is None:
        abandon(call, "hangup", at)
    else:
        integration.cancel("call", call.id, call.exit_reason)


def replay_raw(call: Call) -> None:
    """Apply status callbacks that arrived before the call row existed, in sequence order."""
    rows = db.session.scalars(
        select(RawWebhook).where(RawWebhook.call_sid == call.call_sid, RawWebhook.kind == "status")
    ).all()
    for row in sorted(rows, key=lambda r: int(r.payload.get("SequenceNumber") or 0)):
        _apply_status(call, row.payload.get("CallStatus", ""), row.payload)


def agent_joined(call: Call, agent_id: int, at: datetime | None = None) -> None:
    """The agent's softphone reached the call's conference: the call is answered."""
    if call.answered_at is None:
        at = at or calllog.now()
        call.answered_at = at
        call.agent_id = agent_id
        log_event(call, "answered", at=at, agent_id=agent_id, wait_seconds=seconds(call.enqueued_at, at))
        integration.conversation_started(call.ticket_id, at, agent_id)


def connected_item(call: Call) -> Any:
    """The call's routing item if an agent has accepted it (``connected``), else None."""
    kind, ref = ("callback", call.callback_id) if call.callback_id is not None else ("call", call.id)
    item = integration.current_item(kind, ref)
    return item if item is not None and item.status == "connected" else None
