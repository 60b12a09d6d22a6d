"""Conference status callbacks (signed, idempotent): the agent's leg joining and leaving, the
call ending when the agent's leg drops, transfers that survive the first agent hanging up, and
replayed webhooks that change nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sqlalchemy import func, select

from app.agents import routing
from app.agents.models import AgentPresence, WorkItem
from app.extensions import db
from app.telephony.models import Call, CallbackRequest, CallEvent, RawWebhook
from app.telephony.prompts import text
from app.telephony.signature import sign, webhook_token
from tests.telephony.conftest import call_params
from tests.telephony.test_end_to_end import _accept, _available_agent, _run_jobs

CONFERENCE_URL = "/telephony/voice/conference"


def _answered_call(sim, clock):  # type: ignore[no-untyped-def]
    """A worker in conference with the agent who accepted them."""
    agent_id = _available_agent()
    phone = sim.dial_in("+85291234567")
    phone.press("1")
    phone.press("#")
    phone.press("5")
    call_id = db.session.scalar(select(Call.id).where(Call.call_sid == phone.sid))
    clock.advance(20)
    item_id = _accept(agent_id, "call", call_id).id
    _run_jobs("app.telephony.tasks.connect_agent")
    sim.poll()
    softphone = sim.agent_softphone(agent_id, item_id)
    assert phone.state == softphone.state == "conference"
    return agent_id, call_id, item_id, phone, softphone


def _log(call_id: int, kind: str) -> list[CallEvent]:
    return list(
        db.session.scalars(
            select(CallEvent).where(CallEvent.call_id == call_id, CallEvent.kind == kind).order_by(CallEvent.id)
        )
    )


def test_every_leg_asks_for_conference_events_and_says_who_it_is(sim, clock):
    agent_id, _call_id, _item_id, phone, softphone = _answered_call(sim, clock)
    for leg, label in ((phone, "caller"), (softphone, f"agent-{agent_id}")):
        conference = leg.dialled[-1].attrs
        assert conference["statusCallback"].endswith(CONFERENCE_URL)
        assert conference["statusCallbackEvent"] == "start end join leave"
        assert conference["participantLabel"] == label


def test_the_caller_leg_asks_what_next_when_the_conference_ends(post, clock, app):
    from app.telephony import twiml

    with app.test_request_context():
        root = ET.fromstring(str(twiml.conference("call-1-2-1", language="en", agent=False)))
    assert [child.tag for child in root] == ["Say", "Dial", "Redirect"]
    assert root.find("Redirect").text == "/telephony/voice/after-conference?lang=en&conference=call-1-2-1"


def test_the_agent_joining_is_logged_once_however_often_it_is_delivered(sim, clock, post):
    agent_id, call_id, _item_id, _phone, softphone = _answered_call(sim, clock)
    [joined] = _log(call_id, "agent_joined")
    assert joined.agent_id == agent_id and joined.data["call_sid"] == softphone.sid
    raw = db.session.scalars(
        select(RawWebhook).where(
            RawWebhook.kind == "conference", RawWebhook.payload["StatusCallbackEvent"].as_string() == "participant-join"
        )
    ).all()
    payload = next(r.payload for r in raw if r.payload.get("CallSid") == softphone.sid)
    for _ in range(3):  # Twilio retrying, or someone replaying the signed request
        assert post(CONFERENCE_URL, payload).status_code == 204
    assert len(_log(call_id, "agent_joined")) == 1
    assert db.session.scalar(select(func.count(RawWebhook.id)).where(RawWebhook.key == raw[0].key)) == 1


def test_an_answered_call_is_the_tickets_first_response_and_opens_it(sim, clock):
    from app.tickets.models import Ticket

    agent_id, call_id, _item_id, _phone, _softphone = _answered_call(sim, clock)
    call = db.session.get(Call, call_id)
    ticket = db.session.get(Ticket, call.ticket_id)
    # The agent is talking with her: the SLA clock must not count her as unanswered.
    assert ticket.first_response_at == call.answered_at
    assert ticket.status == "open"
    [opened] = [event for event in ticket.events if event.kind == "status"]
    assert opened.data == {"from": "new", "to": "open"} and opened.actor_id == agent_id


def test_unsigned_and_tampered_conference_callbacks_are_refused(client, app, clock):
    data = {
        "ConferenceSid": "CF" + "1" * 32,
        "FriendlyName": "call-1-1-1",
        "StatusCallbackEvent": "participant-leave",
        "CallSid": "CA" + "2" * 32,
        "ParticipantLabel": "agent-1",
        "SequenceNumber": "3",
    }
    assert client.post(CONFERENCE_URL, data=data).status_code == 403
    signature = sign(f"http://localhost{CONFERENCE_URL}", data, webhook_token(app))
    tampered = {**data, "ParticipantLabel": "agent-2"}
    response = client.post(CONFERENCE_URL, data=tampered, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert db.session.scalars(select(RawWebhook)).all() == []


def test_when_the_agent_leg_drops_the_call_ends_at_once(sim, clock, post):
    agent_id, call_id, item_id, phone, softphone = _answered_call(sim, clock)
    clock.advance(70)
    # The agent's browser disappears: Twilio reports the leg leaving. The caller's own status
    # callback has not come (yet): the call is over for the centre all the same.
    phone.send_status = lambda status: None  # the worker's status callbacks are late
    softphone.hangup()
    [left] = _log(call_id, "agent_left")
    assert left.agent_id == agent_id
    [completed] = _log(call_id, "completed")
    assert completed.talk_seconds == 70 and completed.data["ended_by"] == "agent"
    assert db.session.get(WorkItem, item_id).status == "completed"
    assert db.session.get(AgentPresence, agent_id).state == "wrap_up"
    # The caller's leg ends later: one "completed" in the log, the call's status follows.
    post("/telephony/voice/status", call_params(phone.sid, CallStatus="completed", SequenceNumber="9"))
    assert len(_log(call_id, "completed")) == 1
    assert db.session.get(Call, call_id).status == "completed"


def test_the_caller_hears_goodbye_when_the_agent_hangs_up(sim, clock):
    _agent_id, _call_id, _item_id, phone, softphone = _answered_call(sim, clock)
    softphone.hangup()
    assert phone.state == "ended"
    assert phone.last_said() == text("goodbye", "id")


def test_a_cold_transfer_survives_the_first_agent_hanging_up(sim, clock):
    first_id, call_id, item_id, phone, softphone = _answered_call(sim, clock)
    second_id = _available_agent()  # free now, so the transfer goes to them
    routing.transfer(first_id, item_id, to_agent_id=second_id)
    db.session.commit()
    softphone.hangup()  # the first agent hangs up at once
    assert phone.state == "queued"  # back on hold, not cut off
    assert text("transferring", "id") in phone.said()
    item = db.session.get(WorkItem, item_id)
    assert item.status == "offered" and item.agent_id == second_id
    assert _log(call_id, "completed") == []

    routing.accept(second_id, item_id)
    db.session.commit()
    _run_jobs("app.telephony.tasks.connect_agent")
    sim.poll()
    second = sim.agent_softphone(second_id, item_id)
    assert phone.state == second.state == "conference"
    assert phone.dialled[-1].text == f"call-{call_id}-{item_id}-2"
    clock.advance(30)
    second.hangup()
    [completed] = _log(call_id, "completed")
    assert completed.agent_id == second_id
    assert [e.agent_id for e in _log(call_id, "agent_left")] == [first_id, second_id]
    assert [e.agent_id for e in _log(call_id, "transferred")] == [first_id]


def test_a_warm_transfer_moves_the_caller_to_a_new_conference(sim, clock):
    first_id, call_id, item_id, phone, softphone = _answered_call(sim, clock)
    second_id = _available_agent()
    routing.transfer(first_id, item_id, to_agent_id=second_id)
    routing.accept(second_id, item_id)
    db.session.commit()
    _run_jobs("app.telephony.tasks.connect_agent")
    sim.poll()  # the caller leaves the first agent's conference for the second's
    second = sim.agent_softphone(second_id, item_id)
    assert {leg.sid for leg in sim.in_conference(f"call-{call_id}-{item_id}-2")} == {phone.sid, second.sid}
    softphone.hangup()  # the first agent, still alone in the old conference, leaves late
    assert phone.state == second.state == "conference"
    assert db.session.get(WorkItem, item_id).status == "connected"
    assert _log(call_id, "completed") == []


def test_a_replayed_topic_webhook_after_the_call_ended_rings_nobody(post, clock):
    sid = "CA" + "8" * 32
    post("/telephony/voice/inbound", call_params(sid))
    post("/telephony/voice/status", call_params(sid, CallStatus="completed", SequenceNumber="5"))
    response = post("/telephony/voice/topic?lang=id", call_params(sid, Digits="1"))
    assert response.status_code == 200
    assert db.session.scalars(select(WorkItem)).all() == []
    assert _log(db.session.scalar(select(Call.id)), "queued") == []


def test_a_replayed_callback_key_press_after_the_call_ended_asks_for_nothing(sim, clock, post):
    phone = sim.dial_in("+85291234567")
    phone.press("1")
    phone.press("#")
    phone.press("4")
    phone.hangup()
    response = post("/telephony/voice/wait-key?lang=id", call_params(phone.sid, Digits="1"))
    assert response.status_code == 200
    assert db.session.scalars(select(CallbackRequest)).all() == []


def test_if_the_next_agent_accepted_first_the_caller_goes_straight_to_them(sim, clock):
    first_id, call_id, item_id, phone, softphone = _answered_call(sim, clock)
    second_id = _available_agent()
    routing.transfer(first_id, item_id, to_agent_id=second_id)
    routing.accept(second_id, item_id)
    db.session.commit()
    softphone.hangup()  # before the connect job has moved the caller
    assert phone.state == "conference" and phone.dialled[-1].text == f"call-{call_id}-{item_id}-2"
    second = sim.agent_softphone(second_id, item_id)
    assert {leg.sid for leg in sim.in_conference(f"call-{call_id}-{item_id}-2")} == {phone.sid, second.sid}
