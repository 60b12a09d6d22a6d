"""The whole call path through the simulator: signed webhooks, real TwiML, routing, tickets, jobs."""

from __future__ import annotations

from sqlalchemy import select

from app.agents import routing
from app.agents.models import WorkItem
from app.agents.routing.presence import set_skills, set_state
from app.core.jobs import OutboxIntent, run_intent
from app.extensions import db
from app.telephony.models import Call, CallbackAttempt, CallbackRequest, CallEvent
from app.telephony.prompts import text
from app.tickets.models import TicketEvent
from tests.factories import make_user

TOPICS = [
    "membership",
    "contribution",
    "claim_jkk",
    "claim_jkm",
    "claim_jht",
    "benefit_info",
    "other",
    "emergency",
]


def _available_agent():
    agent = make_user("agent")
    set_skills(agent.id, languages=["id", "en"], topics=TOPICS)
    set_state(agent.id, "available")
    db.session.commit()
    return agent.id  # an id: jobs close the session and detach objects


def _run_jobs(func: str) -> int:
    ran = 0
    for intent_id in db.session.scalars(
        select(OutboxIntent.id).where(OutboxIntent.func == func, OutboxIntent.status == "pending")
    ).all():
        assert run_intent(intent_id) == "done"
        ran += 1
    return ran


def _accept(agent_id: int, kind: str, ref_id: int) -> WorkItem:
    item = db.session.scalar(
        select(WorkItem).where(WorkItem.kind == kind, WorkItem.ref_id == ref_id).order_by(WorkItem.id.desc())
    )
    if item.status == "waiting":
        routing.route()
        db.session.refresh(item)
    assert item.status == "offered" and item.agent_id == agent_id
    routing.accept(agent_id, item.id)
    db.session.commit()
    return item


def test_worker_calls_waits_is_answered_and_the_call_is_logged(sim, clock):
    agent_id = _available_agent()
    phone = sim.dial_in("+85291234567")
    assert phone.state == "gather"
    phone.press("2")  # English
    assert phone.last_said() == text("kpj_menu", "en")
    phone.press("#")  # no KPJ
    phone.press("3")  # JHT
    assert phone.state == "queued"
    assert text("queued", "en") in phone.said()
    assert text("press_for_callback", "en") in phone.said()

    call = db.session.scalar(select(Call).where(Call.call_sid == phone.sid))
    clock.advance(30)
    item = _accept(agent_id, "call", call.id)
    item_id, call_id, ticket_id = item.id, call.id, call.ticket_id
    assert _run_jobs("app.telephony.tasks.connect_agent") == 1
    sim.poll()
    assert phone.state == "conference"
    conference = f"call-{call_id}-{item_id}-1"  # one conference per acceptance
    assert phone.dialled[-1].text == conference

    softphone = sim.agent_softphone(agent_id, item_id)
    assert softphone.state == "conference"
    assert {leg.sid for leg in sim.in_conference(conference)} == {phone.sid, softphone.sid}

    clock.advance(125)
    softphone.hangup()  # the agent ends the conference: the worker's leg ends too
    assert phone.state == "ended"

    events = {e.kind: e for e in db.session.scalars(select(CallEvent).where(CallEvent.call_id == call_id))}
    assert set(events) == {"created", "queued", "offered", "answered", "agent_joined", "agent_left", "completed"}
    assert events["agent_joined"].data["call_sid"] == events["agent_left"].data["call_sid"] == softphone.sid
    assert events["offered"].agent_id == agent_id and events["offered"].data["work_item_id"] == item_id
    assert events["answered"].wait_seconds == 30 and events["answered"].agent_id == agent_id
    assert events["completed"].talk_seconds == 125
    assert db.session.get(WorkItem, item_id).status == "completed"
    links = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "call_linked")
    ).all()
    assert [e.data["call_id"] for e in links] == [call_id]


def test_worker_hangs_up_in_the_queue(sim, clock):
    phone = sim.dial_in("+85291234567")
    phone.press("1")
    phone.timeout()  # says nothing at the KPJ prompt
    phone.press("4")
    clock.advance(50)
    phone.hangup()
    event = db.session.scalar(select(CallEvent).where(CallEvent.kind == "abandoned"))
    assert event.wait_seconds == 50
    assert db.session.scalar(select(WorkItem.status)) == "cancelled"


def test_someone_elses_softphone_cannot_join_the_call(sim, clock):
    agent_id, other_id = _available_agent(), make_user("agent").id
    phone = sim.dial_in("+85291234567")
    phone.press("1")
    phone.press("#")
    phone.press("1")
    call = db.session.scalar(select(Call))
    item = _accept(agent_id, "call", call.id)
    intruder = sim.agent_softphone(other_id, item.id)
    assert intruder.state == "ended" and intruder.conference is None
    assert "Hangup" in [h.verb for h in intruder.heard]


def test_callback_requested_dialled_answered_and_bridged(sim, clock, client):
    agent_id = _available_agent()
    response = client.post(
        "/api/v1/callbacks", json={"phone": "+886912345678", "language": "id", "topic": "claim_jkm"}
    )
    assert response.status_code == 201, response.get_json()
    callback_id = response.get_json()["id"]
    item = _accept(agent_id, "callback", callback_id)
    item_id = item.id
    assert _run_jobs("app.telephony.tasks.place_callback") == 1
    [leg] = sim.poll()
    assert leg.to == "+886912345678"
    softphone = sim.agent_softphone(agent_id, item_id)
    assert softphone.state == "conference"
    leg.answer()
    assert leg.said()[:1] == [text("callback_greeting", "id")]
    assert leg.state == "conference"
    clock.advance(90)
    leg.hangup()
    callback = db.session.get(CallbackRequest, callback_id)
    assert callback.status == "completed" and callback.attempts == 1
    call = db.session.scalar(select(Call).where(Call.callback_id == callback_id))
    completed = db.session.scalar(
        select(CallEvent).where(CallEvent.call_id == call.id, CallEvent.kind == "completed")
    )
    assert completed.talk_seconds == 90


def test_unanswered_callback_is_retried_then_sms_and_a_ticket_note(sim, clock, client, app):
    app.config["CALLBACK_MAX_ATTEMPTS"] = 2
    agent_id = _available_agent()
    response = client.post(
        "/api/v1/callbacks", json={"phone": "+886912345678", "language": "en", "topic": "other"}
    )
    callback_id = response.get_json()["id"]
    for attempt in (1, 2):
        _accept(agent_id, "callback", callback_id)
        assert _run_jobs("app.telephony.tasks.place_callback") == 1
        [leg] = sim.poll()
        leg.no_answer()
        callback = db.session.get(CallbackRequest, callback_id)
        assert callback.attempts == attempt
        if attempt == 1:
            assert callback.status == "scheduled" and callback.next_attempt_at is not None
            assert _run_jobs("app.telephony.tasks.retry_callback") == 1
            routing.finish_wrap_up(agent_id)
            db.session.commit()
    assert db.session.get(CallbackRequest, callback_id).status == "failed"
    assert len(db.session.scalars(select(CallbackAttempt)).all()) == 2
    assert _run_jobs("app.telephony.tasks.send_callback_sms") == 1
    sim.poll()
    assert [m["to"] for m in sim.messages] == ["+886912345678"]
    callback = db.session.get(CallbackRequest, callback_id)
    notes = db.session.scalars(
        select(TicketEvent).where(
            TicketEvent.ticket_id == callback.ticket_id, TicketEvent.kind == "internal_note"
        )
    ).all()
    assert any(n.data.get("outcome") == "unreachable" for n in notes)


def test_connect_agent_runs_through_the_outbox_and_a_real_rq_worker(sim, clock, redis_conn):
    from rq import Queue, SimpleWorker

    from app.core import outbox

    agent_id = _available_agent()
    phone = sim.dial_in("+85291234567")
    phone.press("1")
    phone.press("#")
    phone.press("2")
    call_id = db.session.scalar(select(Call.id))
    item_id = _accept(agent_id, "call", call_id).id
    assert outbox.dispatch_pending(redis_conn) >= 1
    SimpleWorker([Queue("telephony", connection=redis_conn)], connection=redis_conn).work(burst=True)
    sim.poll()
    assert phone.state == "conference" and phone.dialled[-1].text == f"call-{call_id}-{item_id}-1"
