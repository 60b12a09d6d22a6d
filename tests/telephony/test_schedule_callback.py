"""The console's "call the worker back at …" becomes a scheduled CallbackRequest."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.core.jobs import OutboxIntent
from app.core.time import utcnow
from app.telephony import tasks
from app.telephony.models import Call, CallbackRequest


def _call(db, **kwargs):
    call = Call(call_sid="CA" + "1" * 32, direction="inbound", from_number="+85291234567",
                language="id", topic="claim_jkk", **kwargs)
    db.session.add(call)
    db.session.commit()
    return call


def test_a_call_gets_a_callback_scheduled_for_the_promised_time(db):
    call = _call(db)
    at = (utcnow() + timedelta(hours=3)).replace(microsecond=0)

    tasks.schedule_callback("call", call.id, at.isoformat(), agent_id=7)
    db.session.commit()

    callback = db.session.scalar(select(CallbackRequest))
    assert callback.phone == "+85291234567"
    assert callback.status == "scheduled"
    assert callback.next_attempt_at == at
    assert callback.call_id == call.id and callback.source == "agent"
    retry = db.session.scalar(select(OutboxIntent).where(OutboxIntent.func == "app.telephony.tasks.retry_callback"))
    assert retry is not None and retry.args == [callback.id] and retry.run_after == at


def test_a_browser_call_without_a_number_schedules_nothing(db):
    call = _call(db)
    call.from_number = "client:worker:" + "a" * 32
    db.session.commit()

    tasks.schedule_callback("call", call.id, (utcnow() + timedelta(hours=1)).isoformat(), agent_id=7)

    assert db.session.scalar(select(CallbackRequest)) is None


def test_a_callback_is_rescheduled_in_place(db):
    call = _call(db)
    first = utcnow() + timedelta(hours=1)
    tasks.schedule_callback("call", call.id, first.isoformat(), agent_id=7)
    db.session.commit()
    callback = db.session.scalar(select(CallbackRequest))
    later = (utcnow() + timedelta(days=1)).replace(microsecond=0)

    tasks.schedule_callback("callback", callback.id, later.isoformat(), agent_id=7)
    db.session.commit()

    db.session.refresh(callback)
    assert callback.status == "scheduled" and callback.next_attempt_at == later
    assert db.session.scalar(select(CallbackRequest.id).where(CallbackRequest.id != callback.id)) is None


def test_the_unreachable_sms_quotes_the_ticket_reference(db):
    from app.telephony.clicktocall import sms_body
    from app.tickets.models import Ticket

    call = _call(db)
    tasks.schedule_callback("call", call.id, (utcnow() + timedelta(hours=1)).isoformat(), agent_id=7)
    db.session.commit()
    callback = db.session.scalar(select(CallbackRequest))
    reference = db.session.get(Ticket, callback.ticket_id).reference

    assert reference in sms_body(callback)
    assert f"CB-{callback.id}" not in sms_body(callback)
