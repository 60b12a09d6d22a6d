"""rq jobs of the telephony edge, run through the outbox (``app.core.jobs.record_intent``).

``connect_agent`` and ``place_callback`` are recorded by routing when an agent accepts
(docs/call-flow.md). Jobs with an effect at the provider never repeat it blindly:

* ``place_callback`` commits its attempt row (:class:`~app.telephony.models.CallbackAttempt`,
  ``dialing``) before the provider is asked. An attempt still ``dialing`` after
  ``CALLBACK_DIAL_GRACE_SECONDS`` (the worker died mid-dial, or the provider gave no clear
  answer) is settled by :func:`recover_stalled_dials`, which asks the provider: adopt the call
  or retry, never a second call blind;
* ``send_callback_sms`` goes through :func:`app.core.jobs.effect` (marker, look-up);
* ``connect_agent`` (a redirect) and the erasure's recording deletion are idempotent at the
  provider: repeating them changes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from app.core.jobs import checkpoint, record_intent
from app.extensions import db
from app.telephony import calllog, integration, supervision, twiml
from app.telephony.clicktocall import (
    _enqueue,
    create_callback,
    forget_old_quotas,
    give_up,
    schedule_retry,
    sms_body,
)
from app.telephony.erasure import erase_expired
from app.telephony.message_status import replay_message_status
from app.telephony.messaging import send_sms_once
from app.telephony.models import (
    TERMINAL_STATUSES,
    Call,
    CallbackAttempt,
    CallbackRequest,
    Recording,
    Supervision,
)
from app.telephony.paths import CALLBACK_ANSWER_PATH, STATUS_PATH, absolute
from app.telephony.provider import ProviderError
from app.telephony.providers import get_provider
from app.telephony.selfservice import forget_expired_guards
from app.telephony.selfservice import sms_body as self_service_sms_body
from app.telephony.services import (
    ensure_ticket,
    replay_raw,
    should_record,
    start_call,
)

log = logging.getLogger(__name__)



def connect_agent(work_item_id: int) -> None:
    """Move the waiting caller out of the queue into conference ``call-<id>``, where the
    accepting agent's softphone joins them (through the TwiML App's client URL)."""
    item = integration.work_item(work_item_id)
    if item is None or item.kind != "call":
        return
    call = db.session.get(Call, item.ref_id)
    if call is None or call.status in TERMINAL_STATUSES:
        log.info("connect_agent: call %s already ended", item.ref_id)
        return
    call.agent_id = item.agent_id
    record = twiml.recording_callback(call.id) if should_record(call) else None
    document = twiml.conference(
        call.conference_name(item.id, item.offers),
        language=call.language,
        agent=False,
        record_callback=record,
    )
    try:
        get_provider().update_call(call.call_sid, twiml=str(document))
    except ProviderError as exc:
        if exc.permanent:  # the caller hung up meanwhile (e.g. 21220): the status callback tells
            log.warning("connect_agent: call %s not redirected: %s", call.id, exc)
            return
        raise  # transient: rq retries; redirecting twice is harmless


def place_callback(work_item_id: int) -> None:
    """Dial the worker for an accepted callback and bridge them into the agent's conference."""
    item = integration.work_item(work_item_id)
    if item is None or item.kind != "callback":
        return
    callback = db.session.get(CallbackRequest, item.ref_id)
    if callback is None or callback.status in ("completed", "failed", "cancelled") or not callback.phone:
        return  # done, or erased (no number left to ring)
    if db.session.scalar(select(CallbackAttempt.id).where(CallbackAttempt.work_item_id == work_item_id)):
        return  # this acceptance was already dialled (a redelivered job)
    attempt = CallbackAttempt(
        callback_id=callback.id,
        attempt_no=callback.attempts + 1,
        work_item_id=work_item_id,
        agent_id=item.agent_id,
        status="dialing",
    )
    db.session.add(attempt)
    callback.attempts = attempt.attempt_no
    callback.status = "dialing"
    # The attempt row is our marker: durable before the provider is asked, so a crash after
    # dialling can never lead to a second call (the unique (callback, attempt_no) backs it).
    # A crash before the answer below is written leaves it "dialing": recover_stalled_dials.
    checkpoint()
    caller_id = caller_number()
    try:
        sid = get_provider().create_call(
            to=callback.phone,
            from_=caller_id,
            url=absolute(f"{CALLBACK_ANSWER_PATH}?callback={callback.id}"),
            status_callback=absolute(STATUS_PATH),
            timeout=30,
        )
    except ProviderError as exc:
        if not exc.not_done:
            # No clear answer (a time-out, a 5xx): the call may have been placed. Left
            # "dialing", as after a crash, for recover_stalled_dials to ask the provider once the
            # grace period is over; a new attempt now could ring her phone twice.
            attempt.error = str(exc)[:500]
            log.warning("callback attempt %s: the provider gave no clear answer (%s); asked later", attempt.id, exc)
            return
        attempt.status, attempt.error = "error", str(exc)[:500]
        integration.cancel("callback", callback.id, "provider_error")
        if exc.permanent:
            give_up(callback)
        else:
            schedule_retry(callback)
        return
    _dialled(attempt, callback, sid)


def caller_number() -> str:
    return str(current_app.config.get("TWILIO_CALLER_ID") or "+62215550000")


def _dialled(attempt: CallbackAttempt, callback: CallbackRequest, sid: str) -> None:
    """The provider placed call ``sid`` for ``attempt``: our Call row, its ticket link, and any
    status callbacks that arrived before the row (kept raw until now)."""
    attempt.status, attempt.call_sid = "dialed", sid
    call = start_call(
        {"CallSid": sid, "From": callback.phone or "", "To": caller_number(), "CallStatus": "queued"},
        direction="outbound",
        callback_id=callback.id,
        language=callback.language,
        topic=callback.topic,
        kpj=callback.kpj,
        member_id=callback.member_id,
        ticket_id=callback.ticket_id,
        agent_id=attempt.agent_id,
    )
    call.enqueued_at = callback.created_at
    db.session.flush()
    if callback.ticket_id is not None:
        integration.link_call(callback.ticket_id, call.id)
    else:
        ensure_ticket(call, "callback")
    replay_raw(call)


# Provider clocks and ours differ a little: a call created this much before the attempt row
# still counts as that attempt's (retries are minutes apart, so no earlier attempt is taken).
CLOCK_SKEW = timedelta(seconds=60)


def recover_stalled_dials(at: datetime | None = None) -> dict[str, int]:
    """Call-back attempts left "dialing" past the grace period (the worker died between writing
    the attempt and recording the provider's answer).

    For each, the provider is asked whether a call to the worker's number was placed since the
    attempt was written. If one was (and is not already some other attempt's), the attempt
    adopts it: the call happened and must not be placed again. If none was, the attempt is an
    error, the acceptance ends and a retry is scheduled as for any failed attempt. If the
    provider cannot say (an outage), the attempt is left for the next pass: never dial twice.
    The decision is a conditional UPDATE on ``status = 'dialing'``, so two housekeeping
    processes cannot both act on one attempt.
    """
    at = at or calllog.now()
    cutoff = at - timedelta(seconds=int(current_app.config.get("CALLBACK_DIAL_GRACE_SECONDS", 120)))
    stalled = db.session.scalars(
        select(CallbackAttempt)
        .where(CallbackAttempt.status == "dialing", CallbackAttempt.created_at < cutoff)
        .order_by(CallbackAttempt.id)
        .limit(50)
    ).all()
    counts = {"adopted": 0, "retried": 0, "unknown": 0}
    for attempt in stalled:
        callback = db.session.get(CallbackRequest, attempt.callback_id)
        if callback is None or not callback.phone:
            continue
        try:
            placed = get_provider().find_calls(
                to=callback.phone, from_=caller_number(), since=attempt.created_at - CLOCK_SKEW
            )
        except ProviderError as exc:
            log.warning("callback attempt %s: provider cannot say whether it dialled: %s", attempt.id, exc)
            counts["unknown"] += 1
            continue
        known = set(
            db.session.scalars(select(Call.call_sid).where(Call.call_sid.in_([c["sid"] for c in placed])))
        )
        candidates = [c for c in placed if c["sid"] not in known]
        outcome = "dialed" if candidates else "error"
        if not _claim(attempt, outcome):
            continue  # another housekeeping pass decided meanwhile
        if candidates:
            oldest = min(candidates, key=_created)
            log.warning("callback attempt %s: the crashed dial did happen (%s): adopted", attempt.id, oldest["sid"])
            _dialled(attempt, callback, str(oldest["sid"]))
            counts["adopted"] += 1
        else:
            attempt.error = "stopped before the provider was asked: no call placed"
            integration.cancel("callback", callback.id, "dial_lost")
            schedule_retry(callback)
            counts["retried"] += 1
    return counts


def _created(call: dict[str, Any]) -> datetime:
    return call.get("created_at") or datetime.max.replace(tzinfo=calllog.now().tzinfo)


def _claim(attempt: CallbackAttempt, outcome: str) -> bool:
    result: Any = db.session.execute(
        update(CallbackAttempt)
        .where(CallbackAttempt.id == attempt.id, CallbackAttempt.status == "dialing")
        .values(status=outcome)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        return False
    db.session.refresh(attempt)
    return True


def housekeeping() -> dict[str, int]:
    """One pass of telephony upkeep in its own transaction (stalled call-back dials, the
    per-number call-back counters of days before yesterday, the self-service counters of wrong
    birth dates whose window is over): the periodic job ``telephony``,
    every ``TELEPHONY_HOUSEKEEPING_SECONDS``."""
    try:
        counts = recover_stalled_dials()
        counts["quotas_dropped"] = forget_old_quotas((calllog.now() - timedelta(days=2)).date())
        counts["self_service_guards_dropped"] = forget_expired_guards(calllog.now())
        for name, value in erase_expired(calllog.now()).items():  # retention of calls no ticket holds
            counts[f"erased_{name}"] = value
        db.session.commit()
        return counts
    except Exception:
        db.session.rollback()
        raise
    finally:
        db.session.remove()


def retry_callback(callback_id: int) -> None:
    """A scheduled retry is due: back into the live queue (agent-first again)."""
    callback = db.session.get(CallbackRequest, callback_id)
    if callback is None or callback.status != "scheduled":
        return
    callback.status, callback.next_attempt_at = "pending", None
    _enqueue(callback)


def schedule_callback(kind: str, ref_id: int, at_iso: str, agent_id: int) -> None:
    """An agent promised the worker a call back at ``at_iso`` (recorded by the console).

    For a call, a CallbackRequest to the caller's number is scheduled for then (agent-first
    like any other); for a callback, the same request is rescheduled. Both re-enter the live
    queue through :func:`retry_callback` when the time comes.
    """
    at = datetime.fromisoformat(at_iso)
    if kind == "callback":
        callback = db.session.get(CallbackRequest, ref_id)
        if callback is None:
            return
        callback.status, callback.next_attempt_at = "scheduled", at
        record_intent(
            "app.telephony.tasks.retry_callback",
            callback.id,
            queue="telephony",
            run_after=at,
            key=f"callback:{callback.id}:agent:{at_iso}",
        )
    else:
        call = db.session.get(Call, ref_id)
        if call is None or not (call.from_number or "").startswith("+"):
            # A browser call has no number to ring back; the console says so before this.
            log.warning("call %s: no phone number to call back (agent %s)", ref_id, agent_id)
            return
        callback = create_callback(
            phone=call.from_number or "",
            language=call.language,
            topic=call.topic or "other",
            kpj=call.kpj,
            member_id=call.member_id,
            ticket_id=call.ticket_id,
            source="agent",
            call_id=call.id,
            not_before=at,
        )
    if callback.ticket_id:
        integration.ticket_note(
            callback.ticket_id,
            "internal_note",
            {"text": f"Call-back scheduled for {at.isoformat()}", "callback_id": callback.id, "agent_id": agent_id},
        )


def send_callback_sms(callback_id: int) -> None:
    """The SMS after the last call-back attempt failed: once (:func:`messaging.send_sms_once`)."""
    callback = db.session.get(CallbackRequest, callback_id)
    if callback is None or not callback.phone:
        return
    try:
        send_sms_once(
            f"callback-sms:{callback.id}",
            to=callback.phone,
            from_=current_app.config.get("TWILIO_CALLER_ID") or "BPJSTK",
            body=sms_body(callback),
        )
    except ProviderError as exc:
        if not exc.permanent:
            raise
        log.warning("callback %s: SMS refused: %s", callback.id, exc)


def send_self_service_sms(call_id: int) -> None:
    """The claim status she asked for at the end of self-service, by SMS to the number she
    called from, in her language. Recorded once per call (the outbox key); nothing is sent
    if the number has been erased meanwhile."""
    call = db.session.get(Call, call_id)
    if call is None or not call.from_number or call.self_service not in ("verified", "agent"):
        return
    body = self_service_sms_body(call)
    if body is None:
        return
    try:
        get_provider().send_sms(
            to=call.from_number, from_=current_app.config.get("TWILIO_CALLER_ID") or "BPJSTK", body=body
        )
    except ProviderError as exc:
        if not exc.permanent:
            raise
        log.warning("call %s: self-service SMS refused: %s", call.id, exc)


def fetch_recording(recording_id: int) -> None:
    """Confirm a recording with the provider; we keep our reference, the media stays there."""
    recording = db.session.get(Recording, recording_id)
    if recording is None:
        return
    info = get_provider().fetch_recording(recording.sid)
    if info.get("duration") not in (None, ""):
        recording.duration = int(info["duration"])
    recording.status = str(info.get("status") or recording.status)
    recording.fetched_at = calllog.now()


def replay_message_statuses(message_sid: str) -> None:
    """Recorded by the ticket notification job once it has the message id (runs after it
    commits): delivery reports that overtook that commit are applied now."""
    replay_message_status(message_sid)


def apply_supervision(supervision_id: int) -> None:
    """Tell the provider a supervisor's mode (listen: muted; whisper: coaching the agent's leg;
    barge: neither): recorded by ``supervision.change_mode`` and when a leg joins after a change.
    It applies the mode wanted *now*, so intents run late or out of order converge; a leg gone
    meanwhile (a 4xx) changes nothing: its leave callback ends the supervision."""
    row = db.session.get(Supervision, supervision_id)
    if row is None or row.status != "joined" or not row.conference_sid or not row.call_sid:
        return
    if row.mode == row.applied_mode:
        return
    mode = row.mode
    try:
        get_provider().update_participant(
            row.conference_sid, row.call_sid, **supervision.participant_settings(mode, row.agent_call_sid)
        )
    except ProviderError as exc:
        if exc.permanent:
            log.warning("supervision %s: mode %s not applied: %s", row.id, mode, exc)
            return
        raise  # transient: rq retries
    supervision.applied(row, mode)


def remove_supervisor(supervision_id: int) -> None:
    """Take a supervisor's leg out of the conference they left (their browser may not have hung
    up: this is the server's word). A leg already gone is fine."""
    row = db.session.get(Supervision, supervision_id)
    if row is None or row.status != "left" or not row.conference_sid or not row.call_sid:
        return
    try:
        get_provider().remove_participant(row.conference_sid, row.call_sid)
    except ProviderError as exc:
        if exc.permanent:
            log.warning("supervision %s: leg not removed: %s", row.id, exc)
            return
        raise
