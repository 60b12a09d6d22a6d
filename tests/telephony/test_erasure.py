"""Erasure and retention reach the call side of a case (issue 12, item 8): the caller's number,
the KPJ she keyed, the raw webhooks, call-back requests and recordings — the call log stays."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.core.audit import AuditEvent
from app.core.jobs import OutboxIntent, run_intent
from app.core.time import utcnow
from app.extensions import db
from app.telephony.erasure import DELETED
from app.telephony.models import Call, CallbackRequest, CallEvent, CallRequest, RawWebhook, Recording
from app.telephony.tasks import housekeeping
from app.telephony.twilio_provider import TwilioProvider
from app.tickets import erasure, services
from tests.factories import make_member, make_user
from tests.telephony.oai import OpenAPICheckedHttpClient

CALLER = "+85291234567"
KPJ = "12345678901"
CONFIG = {
    "TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_API_KEY": "SK" + "b" * 32,
    "TWILIO_API_SECRET": "secret",
}


@pytest.fixture
def fake(app):
    client = OpenAPICheckedHttpClient()
    app.extensions["telephony_provider"] = TwilioProvider(CONFIG, http_client=client)
    yield client
    app.extensions.pop("telephony_provider", None)


def _call_with_everything(ticket_id, member_id, n=1):
    request_row = CallRequest(
        identity=f"worker:{n:032x}", kpj=KPJ, member_id=member_id, ip_hash="h" * 64,
        expires_at=utcnow() + timedelta(minutes=5),
    )
    db.session.add(request_row)
    db.session.flush()
    call = Call(
        call_sid=f"CA{n:032x}", direction="inbound", from_number=CALLER, caller_country="HK",
        topic="claim_jkk", kpj=KPJ, member_id=member_id, ticket_id=ticket_id, status="completed",
        call_request_id=request_row.id, recording_sid=f"RE{n:032x}",
    )
    db.session.add(call)
    db.session.flush()
    db.session.add(CallEvent(key=f"{call.id}:created", call_id=call.id, kind="created", data={"direction": "inbound"}))
    db.session.add(RawWebhook(key=f"kpj:{call.call_sid}", kind="voice", call_sid=call.call_sid,
                              payload={"CallSid": call.call_sid, "Digits": KPJ}))
    db.session.add(Recording(sid=f"RE{n:032x}", call_id=call.id, kind="voicemail", status="completed"))
    callback = CallbackRequest(phone=CALLER, phone_hash="p" * 64, kpj=KPJ, nik_hash="n" * 64,
                               member_id=member_id, ticket_id=ticket_id, status="pending", ip_hash="i" * 64)
    db.session.add(callback)
    db.session.flush()
    return call.id, callback.id, request_row.id


def test_erasing_a_case_erases_its_calls_call_backs_webhooks_and_recordings(app, fake):
    agent = make_user()
    member = make_member(kpj=KPJ)
    ticket = services.open_ticket(channel="phone", category="claim_jkk", subject="x",
                                  requester_phone=CALLER, member_id=member.id)
    db.session.flush()
    call_id, callback_id, request_id = _call_with_everything(ticket.id, member.id)
    services.change_status(ticket, "resolved", actor_id=agent.id)
    db.session.commit()

    summary = erasure.erase_requester(ticket.id, actor_id=agent.id)
    db.session.commit()
    assert summary is not None
    assert (summary["calls"], summary["callbacks"], summary["recordings"], summary["webhooks"]) == (1, 1, 1, 1)

    db.session.expire_all()
    call = db.session.get(Call, call_id)
    assert (call.from_number, call.from_hash, call.kpj, call.member_id, call.recording_sid) == (None,) * 5
    assert (call.caller_country, call.topic, call.status) == ("HK", "claim_jkk", "completed")  # the figures stay
    assert db.session.scalar(select(CallEvent.kind).where(CallEvent.call_id == call_id)) == "created"
    callback = db.session.get(CallbackRequest, callback_id)
    assert (callback.phone, callback.phone_hash, callback.kpj, callback.nik_hash, callback.member_id) == (None,) * 5
    assert callback.status == "cancelled" and callback.ip_hash is None
    request_row = db.session.get(CallRequest, request_id)
    assert (request_row.kpj, request_row.member_id, request_row.ip_hash) == (None, None, None)
    raw = db.session.scalar(select(RawWebhook).where(RawWebhook.call_sid == call.call_sid))
    assert KPJ not in str(raw.payload)
    assert db.session.scalar(select(Recording.status).where(Recording.call_id == call_id)) == DELETED
    audit = db.session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "ticket.erase"))
    assert audit["calls"] == 1 and audit["recordings"] == 1

    # The media goes at the provider through the outbox (a Twilio outage only delays it).
    [intent] = db.session.scalars(select(OutboxIntent).where(OutboxIntent.func.like("%delete_recording"))).all()
    run_intent(intent.id)
    [request] = [r for r in fake.requests if r["method"] == "DELETE"]
    assert request["url"].endswith(f"/Recordings/RE{1:032x}.json")


def test_a_recording_already_gone_at_twilio_counts_as_deleted(app, fake):
    from app.telephony.erasure import delete_recording

    recording = Recording(sid="RE" + "7" * 32, kind="voicemail", status=DELETED)
    db.session.add(recording)
    db.session.commit()
    fake.fail_next(404, 20404, "not found")
    delete_recording(recording.id)  # no exception: nothing left to delete


def test_retention_erases_old_calls_and_call_backs_no_ticket_holds(app):
    app.config.update(TICKETS_RETENTION_DAYS=30)
    old_call, old_callback, _ = _call_with_everything(None, None, n=1)
    new_call, new_callback, _ = _call_with_everything(None, None, n=2)
    for row in (db.session.get(Call, old_call), db.session.get(CallbackRequest, old_callback)):
        row.created_at = utcnow() - timedelta(days=31)
    db.session.commit()

    counts = housekeeping()
    assert counts["erased_calls"] == 1 and counts["erased_callbacks"] == 1
    db.session.expire_all()
    assert db.session.get(Call, old_call).from_number is None
    assert db.session.get(CallbackRequest, old_callback).phone_hash is None
    assert db.session.get(Call, new_call).from_number == CALLER
    assert db.session.get(CallbackRequest, new_callback).kpj == KPJ
    assert housekeeping()["erased_calls"] == 0  # a blank record is not picked again
