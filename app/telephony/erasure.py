"""Erasure and retention on the call side of a case: calls, call-back requests, browser call
requests, the raw webhooks they came in, and recordings.

When a ticket's requester is erased (on request or by retention, :mod:`app.tickets.erasure`),
the ``requester_erased`` signal names the tickets; :func:`erase_for_tickets` (connected in the
application factory) then erases the calls and call-back requests those tickets hold. Calls and
call-back requests that no ticket holds are erased by retention on their own
(:func:`erase_expired`, from telephony housekeeping), ``TICKETS_RETENTION_DAYS`` after they
were made.

What goes: the caller's number (and its search hash), the KPJ typed or said, the NIK hash, the
link to the member, the hashed IP, the raw webhook payloads of those calls (they hold the digits
the caller keyed), and the recordings: each is marked ``deleted`` at once (no longer playable)
and its media is deleted at the provider by an outbox job (:func:`delete_recording`), so a
Twilio outage delays the deletion but never loses it. What stays, for the call-centre figures:
the skeleton — direction, country, language, topic, times, status, agent, disposition and the
call log (``call_events`` holds no personal data).

Services never commit: the caller (the erasing request or housekeeping) does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from app.core.jobs import record_intent
from app.extensions import db
from app.telephony.models import Call, CallbackRequest, CallRequest, RawWebhook, Recording
from app.telephony.providers import get_provider
from app.tickets.settings import retention_batch, retention_days

DELETED = "deleted"


def _blank_call(call: Call) -> dict[str, int]:
    counts = {"calls": 1, "recordings": 0, "webhooks": 0}
    call.from_number = None  # the model's validator clears from_hash with it
    call.kpj = None
    call.member_id = None
    if call.call_request_id is not None:
        request_row = db.session.get(CallRequest, call.call_request_id)
        if request_row is not None:
            request_row.kpj = None
            request_row.member_id = None
            request_row.ip_hash = None
    sids = [call.call_sid] + ([call.parent_call_sid] if call.parent_call_sid else [])
    for raw in db.session.scalars(select(RawWebhook).where(RawWebhook.call_sid.in_(sids))):
        if raw.payload != {"erased": True}:
            raw.payload = {"erased": True}
            counts["webhooks"] += 1
    for recording in db.session.scalars(select(Recording).where(Recording.call_id == call.id)):
        if recording.status != DELETED:
            recording.status = DELETED
            record_intent(delete_recording, recording.id, queue="telephony", key=f"recording:{recording.sid}:delete")
            counts["recordings"] += 1
    call.recording_sid = None
    return counts


def _blank_callback(callback: CallbackRequest) -> None:
    callback.phone = None
    callback.phone_hash = None
    callback.kpj = None
    callback.nik_hash = None
    callback.member_id = None
    callback.ip_hash = None
    if callback.status in ("pending", "scheduled"):
        callback.status = "cancelled"  # nobody is left to ring


def _add(totals: dict[str, int], counts: dict[str, int]) -> None:
    for key, value in counts.items():
        totals[key] = totals.get(key, 0) + value


def erase_calls(calls: Iterable[Call], callbacks: Iterable[CallbackRequest]) -> dict[str, int]:
    totals = {"calls": 0, "callbacks": 0, "recordings": 0, "webhooks": 0}
    for call in calls:
        _add(totals, _blank_call(call))
    for callback in callbacks:
        _blank_callback(callback)
        totals["callbacks"] += 1
    return totals


def erase_for_tickets(sender: Any, ticket_ids: list[int], **_ignored: Any) -> dict[str, int]:
    """Receiver of ``requester_erased``: erase what the calls and call-backs of these tickets
    say about the caller. Returns the counts (merged into the erasure's audit entry)."""
    if not ticket_ids:
        return {}
    calls = db.session.scalars(select(Call).where(Call.ticket_id.in_(ticket_ids))).all()
    callbacks = db.session.scalars(select(CallbackRequest).where(CallbackRequest.ticket_id.in_(ticket_ids))).all()
    # A call-back's own call (the dial to the worker) belongs to the case too.
    callback_ids = [c.id for c in callbacks]
    if callback_ids:
        seen = {c.id for c in calls}
        calls = [*calls, *(c for c in db.session.scalars(select(Call).where(Call.callback_id.in_(callback_ids))) if c.id not in seen)]
    return erase_calls(calls, callbacks)


def erase_expired(now: datetime, batch: int | None = None) -> dict[str, int]:
    """Retention for call records no ticket holds: those made more than
    ``TICKETS_RETENTION_DAYS`` ago lose the caller's data (at most one batch of each per pass;
    a record already blank is never picked again)."""
    days = retention_days()
    if days <= 0:
        return {"calls": 0, "callbacks": 0, "recordings": 0, "webhooks": 0}
    cutoff = now - timedelta(days=days)
    limit = batch if batch is not None else retention_batch()
    calls = db.session.scalars(
        select(Call)
        .where(
            Call.ticket_id.is_(None),
            Call.created_at < cutoff,
            or_(Call.from_number.is_not(None), Call.kpj.is_not(None), Call.member_id.is_not(None)),
        )
        .order_by(Call.id)
        .limit(limit)
    ).all()
    callbacks = db.session.scalars(
        select(CallbackRequest)
        .where(
            CallbackRequest.ticket_id.is_(None),
            CallbackRequest.created_at < cutoff,
            or_(CallbackRequest.phone_hash.is_not(None), CallbackRequest.kpj.is_not(None),
                CallbackRequest.nik_hash.is_not(None), CallbackRequest.member_id.is_not(None)),
        )
        .order_by(CallbackRequest.id)
        .limit(limit)
    ).all()
    return erase_calls(calls, callbacks)


def delete_recording(recording_id: int) -> None:
    """Outbox job: delete an erased recording's media at the provider (idempotent: a recording
    already gone there counts as deleted)."""
    recording = db.session.get(Recording, recording_id)
    if recording is None:
        return
    get_provider().delete_recording(recording.sid)
    recording.status = DELETED
