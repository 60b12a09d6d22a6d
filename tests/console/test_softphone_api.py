"""The console's simulator softphone: the agent joins the caller from the console, no work-item
id typed anywhere; only the signed-in agent's own leg, for a contact they hold.

The caller's leg is placed through the same simulator the console uses (this process's, in
``app.extensions``): dial in, answer the IVR with keys, wait in the queue. The ``connect_agent``
job that moves the caller into the conference runs as the worker would run it (from the outbox).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from app.agents.models import AgentPresence, WorkItem
from app.agents.routing import presence as presence_svc
from app.core.jobs import OutboxIntent, run_intent
from app.extensions import db
from app.telephony.models import Call, CallEvent
from app.telephony.softphone import get_simulator
from app.tickets.models import TicketEvent
from tests.conftest import csrf_token
from tests.console.conftest import ConsoleApi

# A Monday morning in Jakarta: the call centre is open, so the IVR queues the call.
OPEN_HOURS = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))


@pytest.fixture
def open_hours():  # type: ignore[no-untyped-def]
    # Moved before anyone signs in (a session signed "in the future" would be refused).
    with time_machine.travel(OPEN_HOURS, tick=True) as traveller:
        yield traveller


@pytest.fixture
def sim(app, client, redis_conn, open_hours):  # type: ignore[no-untyped-def]
    return get_simulator(app)


def _agent(auth, console: ConsoleApi):  # type: ignore[no-untyped-def]
    user = auth.login_as("agent")
    presence_svc.set_skills(user.id, languages=["id", "en"])
    db.session.commit()
    assert console.post("api/presence", {"state": "available"}).status_code == 200
    return user.id  # an id: jobs close the session and detach objects


def _caller(sim, number: str = "+85291234567"):  # type: ignore[no-untyped-def]
    with sim.lock:
        phone = sim.dial_in(number)
        phone.press("1")  # Bahasa Indonesia
        phone.press("#")  # no KPJ
        phone.press("1")  # membership
    assert phone.state == "queued"
    return phone


def _run_connect_jobs() -> int:
    ran = 0
    for intent_id in db.session.scalars(
        select(OutboxIntent.id).where(
            OutboxIntent.func == "app.telephony.tasks.connect_agent", OutboxIntent.status == "pending"
        )
    ).all():
        assert run_intent(intent_id) == "done"
        ran += 1
    return ran


def _offered_to_me(console: ConsoleApi) -> dict[str, Any]:
    offer = console.get("api/state").get_json()["offer"]
    assert offer is not None, "the console did not ring"
    return offer


def _connected(sim, auth, console):  # type: ignore[no-untyped-def]
    """An agent accepts a ringing call and joins it from the console; both legs are bridged."""
    me = _agent(auth, console)
    phone = _caller(sim)
    offer = _offered_to_me(console)
    item_id = offer["work_item"]["id"]
    assert console.post(f"api/work/{item_id}/accept").status_code == 200
    assert _run_connect_jobs() == 1
    response = console.post("api/softphone/join", {"work_item_id": item_id})
    assert response.status_code == 200, response.get_json()
    return me, phone, item_id, response.get_json()["softphone"]


def _events(call_id: int) -> dict[str, CallEvent]:
    db.session.expire_all()
    return {e.kind: e for e in db.session.scalars(select(CallEvent).where(CallEvent.call_id == call_id))}


@pytest.mark.committed  # the simulator's webhooks write in their own sessions
def test_accepting_and_joining_from_the_console_bridges_the_caller_and_logs_the_answer(sim, auth, console):
    me, phone, item_id, leg = _connected(sim, auth, console)
    assert leg["state"] == "in_call" and leg["work_item_id"] == item_id
    call = db.session.scalar(select(Call).where(Call.call_sid == phone.sid))
    conference = f"call-{call.id}-{item_id}-1"
    agents_legs = [s for s in sim.legs.values() if s.from_ == f"client:agent:{me}"]
    assert len(agents_legs) == 1
    assert {s.sid for s in sim.in_conference(conference)} == {phone.sid, agents_legs[0].sid}
    events = _events(call.id)
    assert events["agent_joined"].agent_id == me  # the conference callback came
    assert events["answered"].agent_id == me
    assert "abandoned" not in events
    # A reload: the console's state says the agent has a live leg, on the call.
    state = console.get("api/state").get_json()
    assert state["softphone"]["state"] == "in_call" and state["softphone"]["work_item_id"] == item_id
    # Joining again (a second tab, a reload mid-join) does not place a second leg.
    assert console.post("api/softphone/join", {"work_item_id": item_id}).status_code == 200
    assert len([s for s in sim.legs.values() if s.from_ == f"client:agent:{me}"]) == 1


@pytest.mark.committed  # the simulator's webhooks write in their own sessions
def test_the_caller_hanging_up_ends_the_agents_leg_and_the_agent_wraps_up(sim, auth, console):
    me, phone, item_id, _ = _connected(sim, auth, console)
    call_id = db.session.scalar(select(Call.id).where(Call.call_sid == phone.sid))
    with sim.lock:
        phone.hangup()
    assert console.post("api/softphone/sync").get_json()["softphone"]["state"] == "ended"
    events = _events(call_id)
    assert "completed" in events and "abandoned" not in events
    state = console.get("api/state").get_json()
    assert state["me"]["presence"]["state"] == "wrap_up"
    assert state["wrap_up"]["work_item"]["id"] == item_id
    assert state["wrap_up"]["screen_pop"]["work_item"]["id"] == item_id  # the pop stays up

    note = "Asked about JHT balance; explained the app.\nFollow up by SMS."
    response = console.post(f"api/work/{item_id}/wrap-up", {"disposition": "information_given", "note": note})
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    call = db.session.get(Call, call_id)
    assert call.disposition == "information_given"
    wrap = _events(call_id)["wrap_up"]
    assert (
        wrap.agent_id == me and wrap.data["note"] == note and wrap.data["disposition"] == "information_given"
    )
    timeline = db.session.scalar(
        select(TicketEvent).where(TicketEvent.ticket_id == call.ticket_id, TicketEvent.kind == "wrap_up")
    )
    assert timeline.body == note and timeline.data["disposition"] == "information_given"
    assert timeline.actor_id == me and timeline.public is False and timeline.data["call_id"] == call_id
    assert db.session.get(AgentPresence, me).state == "available"


@pytest.mark.committed  # the simulator's webhooks write in their own sessions
def test_the_agent_hanging_up_from_the_console_ends_the_callers_leg(sim, auth, console):
    me, phone, item_id, _ = _connected(sim, auth, console)
    response = console.post("api/softphone/hangup")
    assert response.status_code == 200 and response.get_json()["softphone"]["state"] == "ended"
    assert phone.state == "ended"
    call_id = db.session.scalar(select(Call.id).where(Call.call_sid == phone.sid))
    events = _events(call_id)
    assert events["completed"].data.get("ended_by") == "agent"
    assert console.get("api/state").get_json()["me"]["presence"]["state"] == "wrap_up"


def test_mute_and_keypad_act_on_the_agents_own_leg(sim, auth, console):
    me, phone, item_id, _ = _connected(sim, auth, console)
    assert console.post("api/softphone/mute", {"muted": True}).get_json()["softphone"]["muted"] is True
    assert console.post("api/softphone/digits", {"digits": "12#"}).status_code == 200
    [leg] = [s for s in sim.legs.values() if s.from_ == f"client:agent:{me}"]
    assert leg.muted is True and leg.sent_digits == "12#"


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("api/softphone/join", {"work_item_id": "abc"}, "work_item_id"),
        ("api/softphone/join", {"work_item_id": True}, "work_item_id"),
        ("api/softphone/join", {}, "work_item_id"),
        ("api/softphone/join", {"work_item_id": 2**40}, "work_item_id"),
        ("api/softphone/join", {"work_item_id": -3}, "work_item_id"),
        ("api/softphone/mute", {"muted": "yes"}, "muted"),
        ("api/softphone/digits", {"digits": "12x"}, "digits"),
        ("api/softphone/digits", {"digits": ["1"]}, "digits"),
    ],
)
def test_bad_input_is_a_400_not_a_500(sim, auth, console, path, body, code):
    _agent(auth, console)
    response = console.post(path, body)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.get_json()["error"]["code"] == code


def test_without_a_leg_the_actions_say_so(sim, auth, console):
    _agent(auth, console)
    for path in ("api/softphone/hangup", "api/softphone/digits"):
        response = console.post(path, {"digits": "1"})
        assert response.status_code == 409 and response.get_json()["error"]["code"] == "no_leg"
    assert console.post("api/softphone/sync").get_json()["softphone"] is None


def test_another_agent_cannot_join_or_act_on_the_leg(sim, auth, console, client):
    me, phone, item_id, _ = _connected(sim, auth, console)
    auth.logout()
    other = ConsoleApi(client)
    intruder = _agent(auth, other)
    response = other.post("api/softphone/join", {"work_item_id": item_id})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "refused"
    assert other.post("api/softphone/hangup").status_code == 409  # no leg of theirs to hang up
    assert not [s for s in sim.legs.values() if s.from_ == f"client:agent:{intruder}"]
    [mine] = [s for s in sim.legs.values() if s.from_ == f"client:agent:{me}"]
    assert mine.state == "conference" and phone.state == "conference"


def test_a_worker_or_staff_without_the_console_cannot_use_it(sim, auth, console, client):
    token = csrf_token(client)  # a worker's browser: a valid CSRF token, no staff session
    response = client.post(
        "/console/api/softphone/join",
        json={"work_item_id": 1},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )
    assert response.status_code == 401  # not signed in: no leg for anyone
    assert not sim.legs
    auth.login_as("admin")
    response = ConsoleApi(client).post("api/softphone/sync")
    assert response.status_code == 403


def test_csrf_is_required(sim, auth, console, client):
    _agent(auth, console)
    for path in ("join", "sync", "hangup", "mute", "digits"):
        response = client.post(
            f"/console/api/softphone/{path}", json={}, headers={"Accept": "application/json"}
        )
        assert response.status_code == 400, path


def test_with_twilio_the_simulator_softphone_is_not_there(sim, auth, console, app):
    _agent(auth, console)
    app.config.update(TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_AUTH_TOKEN="secret-token-for-tests")
    assert console.post("api/softphone/sync").status_code == 404
    assert console.get("api/state").get_json()["softphone"] is None


def test_a_wrap_up_is_only_for_the_agent_who_handled_the_contact(sim, auth, console, client):
    _, phone, item_id, _ = _connected(sim, auth, console)
    console.post("api/softphone/hangup")
    auth.logout()
    other = ConsoleApi(client)
    _agent(auth, other)
    response = other.post(f"api/work/{item_id}/wrap-up", {"disposition": "resolved", "note": "not mine"})
    assert response.status_code == 403
    assert db.session.get(WorkItem, item_id).disposition is None
    assert other.post("api/work/999999/wrap-up", {"disposition": "resolved"}).status_code == 404


def test_a_wrap_up_note_must_be_text_of_reasonable_length(sim, auth, console):
    _, phone, item_id, _ = _connected(sim, auth, console)
    console.post("api/softphone/hangup")
    too_long = console.post(f"api/work/{item_id}/wrap-up", {"disposition": "resolved", "note": "x" * 2001})
    assert too_long.status_code == 400 and too_long.get_json()["error"]["code"] == "note"
    not_text = console.post(f"api/work/{item_id}/wrap-up", {"disposition": "resolved", "note": 5})
    assert not_text.status_code == 400


def test_the_callers_country_and_local_time_come_from_the_number_when_no_member_matches(sim, auth, console):
    _agent(auth, console)
    _caller(sim, "+85291234567")  # a Hong Kong mobile, no KPJ given: no member
    pop = _offered_to_me(console)["screen_pop"]
    assert pop["member"] is None
    caller = pop["caller"]
    assert caller["country"] == "HK" and caller["source"] == "number"
    assert "Hong Kong" in caller["country_name"]
    assert caller["local_time"]["zone"] == "Asia/Hong_Kong"
    hong_kong_now = datetime.now(ZoneInfo("Asia/Hong_Kong"))  # the travelled clock
    assert caller["local_time"]["time"] in {
        hong_kong_now.strftime("%H:%M"),
        (hong_kong_now - timedelta(minutes=1)).strftime("%H:%M"),
    }


def test_a_matched_members_placement_country_comes_before_the_numbers(sim, auth, console):
    from app.agents import routing
    from tests.factories import make_member

    _agent(auth, console)
    member = make_member(name="Siti Aminah", placement_country="SA", phase="PMI")
    routing.enqueue("call", 77, language="id", topic="membership", country="HK", member_id=member.id)
    db.session.commit()
    pop = _offered_to_me(console)["screen_pop"]
    assert pop["caller"]["country"] == "SA" and pop["caller"]["source"] == "member"
    assert pop["caller"]["local_time"]["zone"] == "Asia/Riyadh"
    assert pop["member"]["url"] == f"/records/members/{member.id}"


@pytest.mark.committed  # the simulator's webhooks write in their own sessions
def test_the_supervisors_reports_count_the_console_answered_call(sim, auth, console):
    from app.supervisor import call_log, reports

    _, phone, item_id, _ = _connected(sim, auth, console)
    with sim.lock:
        phone.hangup()
    console.post("api/softphone/sync")
    assert console.post(f"api/work/{item_id}/wrap-up", {"disposition": "resolved"}).status_code == 200
    day = OPEN_HOURS.date().isoformat()
    period = reports.parse_period({"start": day, "end": day, "interval": "day"})
    overall = reports.call_kpis(period).overall
    assert (overall.offered, overall.answered, overall.abandoned) == (1, 1, 0)
    assert call_log.dispositions(period) == [("resolved", 1)]


def test_after_a_transfer_the_agents_hang_up_puts_the_caller_back_in_the_queue(sim, auth, console):
    me, phone, item_id, _ = _connected(sim, auth, console)
    response = console.post(f"api/work/{item_id}/transfer", {"language": "en"})
    assert response.status_code == 200, response.get_json()
    # The console hangs up its leg when the transfer is done (halopmi:transferred).
    assert console.post("api/softphone/hangup").get_json()["softphone"]["state"] == "ended"
    assert phone.state == "queued"  # holding for the next agent, not hung up on
    call_id = db.session.scalar(select(Call.id).where(Call.call_sid == phone.sid))
    events = _events(call_id)
    assert "transferred" in events and "completed" not in events and "abandoned" not in events
    assert console.get("api/state").get_json()["me"]["presence"]["state"] == "wrap_up"
