"""Click-to-call: browser voice tokens bound to a call request, and "call me back".

Callbacks are agent-first: a request goes into the live queue (``routing.enqueue(kind=
"callback")``); when an agent accepts, routing records ``tasks.place_callback`` and the worker is
dialled and bridged into the agent's conference. Unanswered attempts are retried, spaced per
``CALLBACK_RETRY_MINUTES`` inside the worker's preferred window (their local time), then the
worker gets an SMS and the ticket a note.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import delete, select

from app.core.crypto import blind_index
from app.core.dates import zone_for_country
from app.core.jobs import record_intent
from app.core.phone import parse_phone
from app.core.schemas import validate
from app.extensions import db
from app.telephony import calllog, integration
from app.telephony.calllog import log_event, seconds
from app.telephony.models import (
    TERMINAL_STATUSES,
    Call,
    CallbackAttempt,
    CallbackQuota,
    CallbackRequest,
    CallRequest,
)
from app.telephony.prompts import language_or_default, text
from app.telephony.schemas import CallbackCreate, VoiceTokenCreate

log = logging.getLogger(__name__)


class CallbackRefused(ValueError):
    """A callback request that cannot be taken; ``fields`` maps field → reason code."""

    def __init__(self, fields: dict[str, str], status: int = 422) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields
        self.status = status


def _now() -> datetime:
    return calllog.now()


def timezone_for(country: str | None, given: str | None = None) -> str:
    if given:
        try:
            ZoneInfo(given)
            return given
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return zone_for_country(country) or "Asia/Jakarta"


def validate_callback(payload: dict[str, Any]) -> dict[str, Any]:
    """Check an API callback request; raises :class:`CallbackRefused` with a reason per field."""
    result = validate(CallbackCreate, payload)
    if not result.ok:
        raise CallbackRefused(result.errors)
    checked: CallbackCreate = result.model
    parsed = parse_phone(checked.phone)
    window = checked.preferred_window
    return {
        "phone": parsed.e164,
        "country": parsed.country,
        "language": checked.language,
        "topic": checked.topic,
        "kpj": checked.kpj,
        "nik": checked.nik,
        "window_start": window.start if window else None,
        "window_end": window.end if window else None,
        "timezone": timezone_for(parsed.country, window.timezone if window else None),
    }


def ip_hash(ip: str | None) -> str | None:
    return blind_index("ip", ip) if ip else None


def take_quota(phone: str, limit: int, today: date | None = None) -> bool:
    """Count one call-back against this number's cap for today (UTC); False when it is used up.

    One statement, atomic on PostgreSQL and SQLite alike: insert the day's counter at 1, or add
    one to it only while it is below ``limit`` (``ON CONFLICT … DO UPDATE … WHERE``); no row
    comes back when the cap is reached. Simultaneous requests queue on the row, so a cap of 3
    lets exactly 3 through. The count rolls back with a request that fails later.
    """
    if limit <= 0:
        return False
    day = today or _now().date()
    key = blind_index("phone", phone)
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(CallbackQuota)
        .values(phone_hash=key, day=day, used=1)
        .on_conflict_do_update(
            index_elements=[CallbackQuota.phone_hash, CallbackQuota.day],
            set_={"used": CallbackQuota.used + 1},
            where=CallbackQuota.used < limit,
        )
        .returning(CallbackQuota.used)
    )
    return db.session.execute(statement).first() is not None


def forget_old_quotas(before: date) -> int:
    """Drop the counters of days before ``before`` (telephony housekeeping; the caller commits)."""
    result = db.session.execute(delete(CallbackQuota).where(CallbackQuota.day < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def request_callback(payload: dict[str, Any], ip: str | None) -> CallbackRequest:
    """The public API's callback request: validated, limited per number, ticketed and queued."""
    values = validate_callback(payload)
    limit = int(current_app.config["CALLBACK_LIMIT_PER_NUMBER_PER_DAY"])
    if not take_quota(values["phone"], limit):
        raise CallbackRefused({"phone": "too_many_requests_for_number"}, status=429)
    member_id = None
    if values["kpj"] or values["nik"]:
        from app.records.services import find_members

        matches = [
            m
            for m in find_members(kpj=values["kpj"], nik=values["nik"], lenient=True)
            if m.confidence == "exact"
        ]
        member_id = matches[0].member.id if len(matches) == 1 else None
    return create_callback(
        phone=values["phone"],
        language=values["language"],
        topic=values["topic"],
        kpj=values["kpj"],
        nik=values["nik"],
        member_id=member_id,
        window_start=values["window_start"],
        window_end=values["window_end"],
        timezone=values["timezone"],
        source="api",
        ip=ip,
        identity_proven=False,  # a KPJ or NIK typed into a public form proves nothing
    )


def create_callback(
    *,
    phone: str,
    language: str,
    topic: str,
    kpj: str | None = None,
    nik: str | None = None,
    member_id: int | None = None,
    ticket_id: int | None = None,
    window_start: str | None = None,
    window_end: str | None = None,
    timezone: str | None = None,
    source: str = "api",
    call_id: int | None = None,
    ip: str | None = None,
    not_before: datetime | None = None,
    identity_proven: bool = True,
) -> CallbackRequest:
    country = parse_phone(phone).country
    callback = CallbackRequest(
        phone=phone,
        country=country,
        language=language_or_default(language),
        topic=topic,
        kpj=kpj,
        nik_hash=blind_index("nik", nik) if nik else None,
        member_id=member_id,
        source=source,
        window_start=window_start,
        window_end=window_end,
        timezone=timezone or timezone_for(country),
        status="pending",
        attempts=0,
        ticket_id=ticket_id,
        call_id=call_id,
        ip_hash=ip_hash(ip),
        created_at=_now(),
    )
    db.session.add(callback)
    db.session.flush()
    if callback.ticket_id is None:
        callback.ticket_id = integration.open_or_reuse_ticket(
            channel="callback",
            category=topic,
            language=callback.language,
            country=country,
            member_id=member_id,
            phone=phone,
            subject=integration.ticket_title("callback", topic, country),
            kpj=kpj,
            identity_proven=identity_proven,
        )
    earliest = max(callback.created_at, not_before) if not_before else callback.created_at
    first = next_in_window(earliest, callback.timezone, window_start, window_end)
    if first > callback.created_at:
        # Outside the worker's preferred hours: queue it for agents when the window opens.
        callback.status, callback.next_attempt_at = "scheduled", first
        record_intent(
            "app.telephony.tasks.retry_callback",
            callback.id,
            queue="telephony",
            run_after=first,
            key=f"callback:{callback.id}:window",
        )
    else:
        _enqueue(callback)
    return callback


def _enqueue(callback: CallbackRequest) -> None:
    integration.enqueue(
        "callback",
        callback.id,
        language=callback.language,
        topic=callback.topic,
        country=callback.country,
        ticket_id=callback.ticket_id,
        member_id=callback.member_id,
    )


# --- retries inside the preferred window ---------------------------------------------------


def next_in_window(candidate: datetime, tz: str, start: str | None, end: str | None) -> datetime:
    """``candidate`` if it falls in the local window [start, end), else the window's next opening."""
    if not start or not end:
        return candidate
    zone = ZoneInfo(tz)
    local = candidate.astimezone(zone)
    opening, closing = time.fromisoformat(start), time.fromisoformat(end)
    now_t = local.time()
    inside = opening <= now_t < closing if opening < closing else (now_t >= opening or now_t < closing)
    if inside:
        return candidate
    day = local.date() if now_t < opening else local.date() + timedelta(days=1)
    return datetime.combine(day, opening, tzinfo=zone).astimezone(candidate.tzinfo)


def callback_leg_ended(call: Call, status: str) -> None:
    """The outbound leg of a callback ended: done if answered, else retry or give up."""
    callback = db.session.get(CallbackRequest, call.callback_id)
    if callback is None:
        return
    attempt = db.session.scalar(select(CallbackAttempt).where(CallbackAttempt.call_sid == call.call_sid))
    if call.answered_at is not None:
        if attempt is not None:
            attempt.status = "answered"
        callback.status = "completed"
        log_event(
            call,
            "completed",
            at=call.ended_at,
            agent_id=call.agent_id,
            talk_seconds=seconds(call.answered_at, call.ended_at),
        )
        integration.complete("callback", callback.id)
        return
    if attempt is not None:
        attempt.status = status if status in TERMINAL_STATUSES else "failed"
    log_event(call, "failed", at=call.ended_at, data={"status": status, "attempt": callback.attempts})
    integration.cancel("callback", callback.id, f"attempt_{status}")
    schedule_retry(callback)


def schedule_retry(callback: CallbackRequest) -> None:
    config = current_app.config
    if callback.attempts >= int(config["CALLBACK_MAX_ATTEMPTS"]):
        give_up(callback)
        return
    spacing = list(config["CALLBACK_RETRY_MINUTES"]) or [15]
    minutes = spacing[min(callback.attempts - 1, len(spacing) - 1)] if callback.attempts else spacing[0]
    at = next_in_window(
        _now() + timedelta(minutes=minutes), callback.timezone, callback.window_start, callback.window_end
    )
    callback.status, callback.next_attempt_at = "scheduled", at
    record_intent(
        "app.telephony.tasks.retry_callback",
        callback.id,
        queue="telephony",
        run_after=at,
        key=f"callback:{callback.id}:retry:{callback.attempts}",
    )


def give_up(callback: CallbackRequest) -> None:
    """After the last attempt: an SMS to the worker and a note on the ticket."""
    callback.status, callback.next_attempt_at = "failed", None
    record_intent(
        "app.telephony.tasks.send_callback_sms",
        callback.id,
        queue="notifications",
        key=f"callback:{callback.id}:sms",
    )
    if callback.ticket_id:
        integration.ticket_note(
            callback.ticket_id,
            "internal_note",
            {"callback_id": callback.id, "outcome": "unreachable", "attempts": callback.attempts},
        )


def sms_body(callback: CallbackRequest) -> str:
    # The ticket's reference is what the worker can follow on the portal; CB-<id> only if the
    # ticket could not be opened.
    reference = integration.ticket_reference(callback.ticket_id) if callback.ticket_id else None
    return text("callback_sms", callback.language, reference=reference or f"CB-{callback.id}")


# --- voice tokens ------------------------------------------------------------------------------


def create_call_request(payload: dict[str, Any], ip: str | None) -> CallRequest:
    result = validate(VoiceTokenCreate, payload)
    if not result.ok:
        raise CallbackRefused(result.errors)
    checked: VoiceTokenCreate = result.model
    language, topic, kpj = checked.language, checked.topic, checked.kpj
    ttl = int(current_app.config["VOICE_TOKEN_TTL_SECONDS"])
    request_ = CallRequest(
        identity=f"worker:{uuid.uuid4().hex}",
        language=language,
        topic=topic,
        kpj=kpj or None,
        ip_hash=ip_hash(ip),
        expires_at=_now() + timedelta(seconds=ttl),
    )
    db.session.add(request_)
    db.session.flush()
    return request_


def voice_tokens_possible() -> bool:
    """With a Twilio account, tokens need the API key, its secret and the TwiML App."""
    from app.telephony.signature import twilio_configured

    config = current_app.config
    if not twilio_configured():
        return True  # the simulator accepts its own tokens
    return bool(
        config.get("TWILIO_API_KEY")
        and config.get("TWILIO_API_SECRET")
        and config.get("TWILIO_TWIML_APP_SID")
    )


def softphone_provider() -> str:
    """Which softphone the agent console uses: Twilio's Voice SDK, or the simulator's."""
    from app.telephony.signature import twilio_configured

    return "twilio" if twilio_configured() else "simulator"


def access_token(identity: str, ttl: int, *, incoming: bool = False) -> str:
    """A Voice SDK access token that may call out only through our TwiML App. ``incoming``
    (agents' softphones, identity ``agent:<id>``) lets the Device register for calls; workers'
    tokens never do."""
    from twilio.jwt.access_token import AccessToken
    from twilio.jwt.access_token.grants import VoiceGrant

    from app.telephony.signature import webhook_token

    config = current_app.config
    account = config.get("TWILIO_ACCOUNT_SID") or "AC" + "0" * 32
    key = config.get("TWILIO_API_KEY") or "SK" + "0" * 32
    # Without an API key (the simulator), sign with a secret only this deployment knows.
    secret = config.get("TWILIO_API_SECRET") or hashlib.sha256(webhook_token().encode()).hexdigest()
    token = AccessToken(account, key, secret, identity=identity, ttl=ttl)
    token.add_grant(
        VoiceGrant(
            outgoing_application_sid=config.get("TWILIO_TWIML_APP_SID") or "AP" + "0" * 32,
            incoming_allow=incoming,
        )
    )
    return str(token.to_jwt())
