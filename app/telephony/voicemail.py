"""Voicemail and recordings: our reference to the provider's recording, a ticket, a callback task.

The media stays with the provider; a job (``tasks.fetch_recording``) confirms it and fills in the
duration. Recording callbacks are stored raw under ``RecordingSid`` + status, so replays add nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core.jobs import record_intent
from app.extensions import db
from app.telephony import integration
from app.telephony.models import Call, Recording
from app.telephony.prompts import language_or_default
from app.telephony.services import (
    callback_possible,
    ensure_ticket,
    get_call,
    log_event,
    require_call,
    store_raw,
)


def _recording(form: Mapping[str, str], call: Call | None, kind: str) -> Recording | None:
    sid = form.get("RecordingSid")
    if not sid:
        return None
    recording = db.session.scalar(select(Recording).where(Recording.sid == sid))
    if recording is None:
        duration = form.get("RecordingDuration")
        recording = Recording(
            sid=sid,
            call_id=call.id if call else None,
            kind=kind,
            status=form.get("RecordingStatus") or "completed",
            duration=int(duration) if duration and duration.isdigit() else None,
        )
        try:
            with db.session.begin_nested():
                db.session.add(recording)
        except IntegrityError:
            return db.session.scalar(select(Recording).where(Recording.sid == sid))
        record_intent(
            "app.telephony.tasks.fetch_recording",
            recording.id,
            queue="telephony",
            key=f"recording:{sid}:fetch",
        )
    return recording


def voicemail_left(form: Mapping[str, str]) -> Call:
    """The caller finished a voicemail: our reference to it, a ticket and a callback task."""
    call = require_call(form)
    if form.get("lang"):
        call.language = language_or_default(form.get("lang"))
    recording = _recording(form, call, "voicemail")
    if recording is not None:
        call.recording_sid = recording.sid
    if log_event(call, "voicemail", data={"recording_id": recording.id if recording else None}):
        ticket_id = ensure_ticket(call, "voicemail")
        integration.ticket_note(
            ticket_id,
            "internal_note",
            {"voicemail_recording_id": recording.id if recording else None, "call_id": call.id},
        )
        if callback_possible(call):
            from app.telephony.clicktocall import create_callback

            assert call.from_number is not None
            create_callback(
                phone=call.from_number,
                language=call.language,
                topic=call.topic or "other",
                kpj=call.kpj,
                member_id=call.member_id,
                ticket_id=ticket_id,
                source="voicemail",
                call_id=call.id,
            )
    return call


def recording_status(form: Mapping[str, str], call_id: int | None = None) -> bool:
    """Recording status callback: one row per RecordingSid; the media stays with the provider.

    ``call_id`` (from the callback URL our conference TwiML gave) marks a recorded agent call
    (``kind="call"``); conference recordings carry a ConferenceSid, not the caller's CallSid.
    """
    sid = form.get("RecordingSid") or ""
    if not store_raw("recording", f"recording:{sid}:{form.get('RecordingStatus', '')}", form):
        return False
    if call_id is not None:
        call, kind = db.session.get(Call, call_id), "call"
    else:
        call, kind = get_call(form.get("CallSid")), "voicemail"
    recording = _recording(form, call, kind)
    if recording is not None and form.get("RecordingDuration", "").isdigit():
        recording.duration = int(form["RecordingDuration"])
    return True
