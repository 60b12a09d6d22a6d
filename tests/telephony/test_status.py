"""Status callbacks: stored raw under a unique key, forward-only, duplicate- and order-tolerant."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.telephony import services
from app.telephony.models import Call, CallEvent, RawWebhook, can_move
from tests.telephony.conftest import call_params

SID = "CA" + "d" * 32


def _status(post, status, seq=None, sid=SID, **more):
    form = call_params(sid, CallStatus=status, **more)
    if seq is not None:
        form["SequenceNumber"] = str(seq)
    response = post("/telephony/voice/status", form)
    assert response.status_code == 204
    return response


def _call(post):
    post("/telephony/voice/inbound", call_params(SID))
    return db.session.scalar(select(Call).where(Call.call_sid == SID))


def test_forward_only_rank():
    assert can_move("ringing", "in-progress")
    assert not can_move("in-progress", "ringing")
    assert not can_move("completed", "busy")
    assert not can_move("no-answer", "in-progress")
    assert not can_move("ringing", "bogus")


def test_duplicate_callback_is_stored_once_and_applied_once(post, clock):
    _call(post)
    _status(post, "completed", 3)
    _status(post, "completed", 3)
    assert db.session.scalar(select(func.count(RawWebhook.id))) == 1
    assert db.session.scalar(select(Call.status)) == "completed"


def test_out_of_order_callbacks_end_in_the_right_state(post, clock):
    _call(post)
    _status(post, "completed", 3, CallDuration="30")
    _status(post, "ringing", 1)
    _status(post, "in-progress", 2)
    call = db.session.scalar(select(Call))
    db.session.refresh(call)
    assert call.status == "completed" and call.ended_at is not None
    assert db.session.scalar(select(func.count(RawWebhook.id))) == 3


def test_terminal_status_is_never_overwritten(post, clock):
    _call(post)
    _status(post, "no-answer")
    _status(post, "completed")
    _status(post, "busy")
    assert db.session.scalar(select(Call.status)) == "no-answer"


def test_without_sequence_number_the_key_is_sid_and_status(post, clock):
    _call(post)
    _status(post, "completed")
    _status(post, "completed")
    keys = db.session.scalars(select(RawWebhook.key)).all()
    assert keys == [f"status:{SID}:completed"]


def test_raw_event_keeps_no_plain_phone_number(post, clock):
    _call(post)
    _status(post, "completed", 1)
    payload = db.session.scalar(select(RawWebhook.payload))
    assert payload["CallStatus"] == "completed"
    assert "91234567" not in payload["From"]


def test_status_before_the_call_exists_is_kept_and_replayed(post, clock):
    _status(post, "completed", 4)
    assert db.session.scalar(select(Call)) is None
    call = services.start_call(call_params(SID, CallStatus="queued"), "outbound")
    services.replay_raw(call)
    assert call.status == "completed"


def _queued_call(post):
    post("/telephony/voice/inbound", call_params(SID))
    post("/telephony/voice/language", call_params(SID, Digits="1"))
    post("/telephony/voice/kpj?lang=id", call_params(SID, Digits="#"))
    post("/telephony/voice/topic?lang=id", call_params(SID, Digits="4"))
    return db.session.scalar(select(Call))


def test_hang_up_before_an_agent_answers_is_abandoned_with_its_wait(post, clock):
    _queued_call(post)
    clock.advance(75)
    _status(post, "completed", 5)
    _status(post, "completed", 5)
    events = db.session.scalars(select(CallEvent).where(CallEvent.kind == "abandoned")).all()
    assert [(e.wait_seconds, e.data["reason"]) for e in events] == [(75, "hangup")]


def test_answered_call_completes_with_talk_time(post, clock):
    call = _queued_call(post)
    clock.advance(20)
    services.agent_joined(call, agent_id=None)  # type: ignore[arg-type]
    db.session.commit()
    clock.advance(200)
    _status(post, "completed", 7, CallDuration="220")
    events = {e.kind: e for e in db.session.scalars(select(CallEvent))}
    assert events["answered"].wait_seconds == 20
    assert events["completed"].talk_seconds == 200 and events["completed"].wait_seconds == 20
    assert "abandoned" not in events
