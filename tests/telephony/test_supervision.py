"""Supervisors on live calls, through the simulator against the real webhook URLs (issue 15):
who hears whom when a supervisor listens, whispers, barges in, switches and leaves; what the
TwiML App's client URL answers each identity; the audit; what the agent is shown.

The supervisor's softphone is the simulator's client leg (identity ``supervisor:<id>``, as the
wallboard's Twilio Device), the mode switches and the leave go to the simulated provider as
participant updates (run as the worker runs the outbox), and the conference's status callbacks
come back signed to ``/telephony/voice/conference``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from sqlalchemy import select

from app.core import realtime
from app.core.audit import AuditEvent
from app.extensions import db
from app.telephony import supervision
from app.telephony.models import Supervision
from app.telephony.prompts import text
from tests.factories import make_user
from tests.telephony.test_conference import _answered_call
from tests.telephony.test_end_to_end import _run_jobs

APPLY, REMOVE = "app.telephony.tasks.apply_supervision", "app.telephony.tasks.remove_supervisor"


def _supervisor(role: str = "supervisor", **kwargs: Any) -> int:
    user = make_user(role, **kwargs)
    db.session.commit()
    return user.id


def _join(sim, supervisor_id: int, call_id: int, mode: str):  # type: ignore[no-untyped-def]
    """The wallboard's button, then the supervisor's softphone calling the TwiML App."""
    row = supervision.start(supervisor_id, call_id, mode)
    db.session.commit()
    leg = sim.browser_call(f"supervisor:{supervisor_id}", {"SupervisionId": str(row.id)})
    return row.id, leg


def _row(supervision_id: int) -> Supervision:
    db.session.expire_all()
    return db.session.get(Supervision, supervision_id)


def _switch(sim, supervisor_id: int, mode: str) -> None:
    supervision.change_mode(supervisor_id, mode)
    db.session.commit()
    _run_jobs(APPLY)  # the worker tells the provider
    sim.poll()  # the provider applies it


def _audit(call_id: int) -> list[tuple[str, dict[str, Any]]]:
    rows = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "call", AuditEvent.entity_id == str(call_id))
        .order_by(AuditEvent.id)
    )
    return [(row.action, row.detail) for row in rows]


@pytest.fixture
def live(sim, clock):  # type: ignore[no-untyped-def]
    agent_id, call_id, item_id, phone, softphone = _answered_call(sim, clock)
    return {"agent_id": agent_id, "call_id": call_id, "item_id": item_id, "caller": phone, "agent": softphone}


def test_listening_the_supervisor_hears_both_and_nobody_hears_them(sim, live):
    boss = _supervisor()
    supervision_id, me = _join(sim, boss, live["call_id"], "listen")
    caller, agent = live["caller"], live["agent"]
    assert me.state == "conference"
    assert sim.hears(me) == {caller.sid, agent.sid}
    assert sim.hears(caller) == {agent.sid}
    assert sim.hears(agent) == {caller.sid}
    # The TwiML the app answered: muted, never starting or ending the agent's conference.
    noun = me.dialled[-1]
    assert noun.text == f"call-{live['call_id']}-{live['item_id']}-1"
    assert noun.attrs["muted"] == "true" and "coach" not in noun.attrs
    assert noun.attrs["startConferenceOnEnter"] == "false" and noun.attrs["endConferenceOnExit"] == "false"
    assert noun.attrs["participantLabel"] == f"supervision-{supervision_id}"
    # The conference's status callback said the leg is in.
    row = _row(supervision_id)
    assert row.status == "joined" and row.applied_mode == "listen"
    assert row.call_sid == me.sid and row.conference_sid.startswith("CF")
    assert row.agent_call_sid == agent.sid


def test_whispering_only_the_agent_hears_the_supervisor(sim, live):
    boss = _supervisor()
    _supervision_id, me = _join(sim, boss, live["call_id"], "whisper")
    caller, agent = live["caller"], live["agent"]
    assert me.dialled[-1].attrs["coach"] == agent.sid
    assert sim.hears(agent) == {caller.sid, me.sid}
    assert sim.hears(caller) == {agent.sid}
    assert sim.hears(me) == {caller.sid, agent.sid}


def test_barging_in_both_hear_the_supervisor(sim, live):
    boss = _supervisor()
    _supervision_id, me = _join(sim, boss, live["call_id"], "barge")
    caller, agent = live["caller"], live["agent"]
    assert me.dialled[-1].attrs["muted"] == "false" and "coach" not in me.dialled[-1].attrs
    assert sim.hears(caller) == {agent.sid, me.sid}
    assert sim.hears(agent) == {caller.sid, me.sid}


def test_the_supervisor_moves_between_the_three_and_the_provider_follows(sim, live):
    boss = _supervisor()
    supervision_id, me = _join(sim, boss, live["call_id"], "listen")
    caller, agent = live["caller"], live["agent"]

    supervision.change_mode(boss, "whisper")
    db.session.commit()
    assert sim.hears(agent) == {caller.sid}  # not before the provider is told
    assert _row(supervision_id).applied_mode == "listen"
    assert _run_jobs(APPLY) == 1
    sim.poll()
    assert sim.hears(agent) == {caller.sid, me.sid} and sim.hears(caller) == {agent.sid}
    assert _row(supervision_id).applied_mode == "whisper"

    _switch(sim, boss, "barge")
    assert sim.hears(caller) == {agent.sid, me.sid} and sim.hears(agent) == {caller.sid, me.sid}
    _switch(sim, boss, "listen")
    assert sim.hears(caller) == {agent.sid} and sim.hears(agent) == {caller.sid}
    assert sim.hears(me) == {caller.sid, agent.sid}
    # The same mode again is no change: nothing audited, nothing sent.
    supervision.change_mode(boss, "listen")
    db.session.commit()
    assert _run_jobs(APPLY) == 0

    actions = [(action, detail.get("mode"), detail.get("previous")) for action, detail in _audit(live["call_id"])]
    assert actions == [
        ("call.supervise.join", "listen", None),
        ("call.supervise.mode", "whisper", "listen"),
        ("call.supervise.mode", "barge", "whisper"),
        ("call.supervise.mode", "listen", "barge"),
    ]


def test_switches_run_late_or_twice_converge_on_the_mode_wanted_now(sim, live):
    boss = _supervisor()
    supervision_id, me = _join(sim, boss, live["call_id"], "listen")
    supervision.change_mode(boss, "barge")
    supervision.change_mode(boss, "whisper")
    db.session.commit()
    assert _run_jobs(APPLY) == 2  # both intents run: the first applies "whisper", the second nothing
    sim.poll()
    assert sim.hears(live["caller"]) == {live["agent"].sid}
    assert sim.hears(live["agent"]) == {live["caller"].sid, me.sid}
    assert _row(supervision_id).applied_mode == "whisper"


def test_a_switch_made_before_the_leg_was_in_is_applied_when_it_joins(sim, live, post, app, monkeypatch):
    boss = _supervisor()
    row = supervision.start(boss, live["call_id"], "listen")
    db.session.commit()
    row_id, conference = row.id, row.conference
    # The softphone's TwiML is fetched (listen) …
    answer = supervision.client_leg(boss, str(row_id), "CA" + "9" * 32)
    assert answer is not None and answer.muted
    db.session.commit()
    # … the supervisor presses "whisper" before the conference says the leg is in …
    supervision.change_mode(boss, "whisper")
    db.session.commit()
    assert _run_jobs(APPLY) == 0  # no leg in a conference yet: nothing to update
    # … then the leg joins: the change is sent now.
    response = post(
        "/telephony/voice/conference",
        {
            "ConferenceSid": "CF" + "2" * 32,
            "FriendlyName": conference,
            "StatusCallbackEvent": "participant-join",
            "CallSid": "CA" + "9" * 32,
            "ParticipantLabel": f"supervision-{row_id}",
            "SequenceNumber": "7",
        },
    )
    assert response.status_code == 204
    assert _row(row_id).status == "joined"
    sent: list[tuple[Any, ...]] = []

    class Recorder:
        def update_participant(self, *args: Any, **kwargs: Any) -> None:
            sent.append((*args, kwargs))

    monkeypatch.setitem(app.extensions, "telephony_provider", Recorder())
    assert _run_jobs(APPLY) == 1
    assert sent == [("CF" + "2" * 32, "CA" + "9" * 32, {"muted": False, "coaching": True, "coach": live["agent"].sid})]
    assert _row(row_id).applied_mode == "whisper"


def test_leaving_takes_the_supervisor_out_and_the_call_goes_on(sim, live):
    boss = _supervisor()
    supervision_id, me = _join(sim, boss, live["call_id"], "barge")
    supervision.leave(boss)
    db.session.commit()
    assert _row(supervision_id).status == "left"
    assert _run_jobs(REMOVE) == 1  # the server's word: out of the conference …
    sim.poll()
    assert me.state == "ended" and sim.hears(me) == set()  # … and the softphone's call ends
    caller, agent = live["caller"], live["agent"]
    assert caller.state == agent.state == "conference"
    assert sim.hears(caller) == {agent.sid} and sim.hears(agent) == {caller.sid}
    row = _row(supervision_id)
    assert row.end_reason == "left" and row.ended_at is not None
    assert [a for a, _ in _audit(live["call_id"])] == ["call.supervise.join", "call.supervise.leave"]
    # Nobody on the call any more: leaving again is refused, not a second audit.
    with pytest.raises(supervision.SupervisionError) as refused:
        supervision.leave(boss)
    assert refused.value.code == "none"


def test_when_the_agent_hangs_up_the_supervisor_drops_out_and_it_is_recorded(sim, live):
    boss = _supervisor()
    supervision_id, me = _join(sim, boss, live["call_id"], "listen")
    live["agent"].hangup()  # the agent's leg ends the conference
    assert me.state == "ended"
    row = _row(supervision_id)
    assert row.status == "left" and row.end_reason == "call_ended"
    assert [a for a, _ in _audit(live["call_id"])] == ["call.supervise.join", "call.supervise.ended"]


def test_the_caller_hanging_up_does_not_leave_the_agent_talking_to_the_supervisor(sim, live):
    """The agent's simulated softphone hangs up once the caller is gone, supervisor or not."""
    from app.telephony import softphone

    boss = _supervisor()
    _supervision_id, me = _join(sim, boss, live["call_id"], "listen")
    live["caller"].hangup()
    softphone.refresh(sim, live["agent_id"], holds_call=False)
    assert live["agent"].state == "ended" and me.state == "ended"


def test_a_supervisor_is_on_one_call_at_a_time(sim, live, clock):
    boss = _supervisor()
    first_id, first_leg = _join(sim, boss, live["call_id"], "listen")
    # A second call, answered by another agent.
    _agent2, call2, _item2, caller2, agent2 = _answered_call(sim, clock)
    second_id, second_leg = _join(sim, boss, call2, "whisper")
    assert _run_jobs(REMOVE) == 1
    sim.poll()
    assert first_leg.state == "ended" and _row(first_id).end_reason == "replaced"
    assert _row(second_id).status == "joined"
    assert sim.hears(agent2) == {caller2.sid, second_leg.sid}


# --- refusals ------------------------------------------------------------------------------------


def test_joining_a_call_no_agent_is_on_is_refused(sim, clock):
    boss = _supervisor()
    phone = sim.dial_in("+85291234567")
    phone.press("1")
    phone.press("#")
    phone.press("5")  # waiting in the queue: no agent yet
    from app.telephony.models import Call

    call_id = db.session.scalar(select(Call.id).where(Call.call_sid == phone.sid))
    with pytest.raises(supervision.SupervisionError) as refused:
        supervision.start(boss, call_id, "listen")
    assert refused.value.code == "not_live"
    with pytest.raises(supervision.SupervisionError) as refused:
        supervision.start(boss, 999_999, "listen")
    assert refused.value.code == "not_live"


def test_an_unknown_mode_is_refused(live):
    boss = _supervisor()
    with pytest.raises(supervision.SupervisionError) as refused:
        supervision.start(boss, live["call_id"], "shout")
    assert refused.value.code == "mode"


@pytest.mark.parametrize("who", ["agent", "another supervisor", "deactivated supervisor", "agent as a supervisor"])
def test_the_twiml_app_admits_a_supervisor_leg_only_for_its_own_supervision(sim, live, who):
    boss = _supervisor()
    row = supervision.start(boss, live["call_id"], "listen")
    db.session.commit()
    if who == "agent":
        # An agent's softphone naming a supervision: agents join only the contacts routing gave them.
        leg = sim.browser_call(f"agent:{live['agent_id']}", {"SupervisionId": str(row.id)})
    elif who == "another supervisor":
        leg = sim.browser_call(f"supervisor:{_supervisor()}", {"SupervisionId": str(row.id)})
    elif who == "deactivated supervisor":
        from app.staff.models import User

        db.session.get(User, boss).active = False
        db.session.commit()
        leg = sim.browser_call(f"supervisor:{boss}", {"SupervisionId": str(row.id)})
    else:  # an agent's account under a supervisor identity (a token we would never issue)
        agent_row = Supervision(
            call_id=live["call_id"], work_item_id=live["item_id"], agent_id=live["agent_id"],
            supervisor_id=live["agent_id"], conference=row.conference, agent_call_sid=row.agent_call_sid,
            mode="listen", status="joining", version=1,
        )  # fmt: skip
        db.session.add(agent_row)
        db.session.commit()
        leg = sim.browser_call(f"supervisor:{live['agent_id']}", {"SupervisionId": str(agent_row.id)})
    assert leg.state == "ended"
    assert leg.last_said() == text("not_allowed", "id")
    assert sim.hears(live["caller"]) == {live["agent"].sid} and sim.hears(live["agent"]) == {live["caller"].sid}
    assert len(sim.in_conference(row.conference)) == 2


def test_a_supervision_that_ended_does_not_let_its_leg_in(sim, live):
    boss = _supervisor()
    row = supervision.start(boss, live["call_id"], "listen")
    db.session.commit()
    supervision.leave(boss)
    db.session.commit()
    leg = sim.browser_call(f"supervisor:{boss}", {"SupervisionId": str(row.id)})
    assert leg.state == "ended" and len(sim.in_conference(row.conference)) == 2


def test_a_supervisor_cannot_join_after_the_call_ended(sim, live):
    boss = _supervisor()
    row = supervision.start(boss, live["call_id"], "listen")
    db.session.commit()
    live["agent"].hangup()  # the call ends before the softphone connects
    leg = sim.browser_call(f"supervisor:{boss}", {"SupervisionId": str(row.id)})
    assert leg.state == "ended"
    ended = _row(row.id)
    assert ended.status == "left" and ended.end_reason == "call_ended"


# --- what the agent is shown ------------------------------------------------------------------------


def _seen(agent_id: int) -> list[tuple[str, str]]:
    db.session.expire_all()
    return [(s["name"], s["mode"]) for s in supervision.agent_view(agent_id)["supervisors"]]


def test_the_agent_sees_the_supervisor_once_in_and_the_mode_in_effect(sim, live, monkeypatch):
    emitted: list[tuple[str, dict[str, Any], str]] = []
    monkeypatch.setattr(realtime, "emit_now", lambda event, data, room: emitted.append((event, data, room)))
    boss = _supervisor(name="Ratna Dewi")
    supervision.start(boss, live["call_id"], "listen")
    db.session.commit()
    assert _seen(live["agent_id"]) == []  # asked, not in yet
    sim.browser_call(f"supervisor:{boss}", {"SupervisionId": str(_row_id(boss))})
    assert _seen(live["agent_id"]) == [("Ratna Dewi", "listen")]
    told = [data for event, data, room in emitted if event == supervision.EVENT and room == f"user:{live['agent_id']}"]
    assert told[-1]["supervisors"][0]["mode"] == "listen"

    supervision.change_mode(boss, "whisper")
    db.session.commit()
    assert _seen(live["agent_id"]) == [("Ratna Dewi", "listen")]  # still listening until applied
    _run_jobs(APPLY)
    assert _seen(live["agent_id"]) == [("Ratna Dewi", "whisper")]

    supervision.leave(boss)
    db.session.commit()
    assert _seen(live["agent_id"]) == []
    told = [data for event, data, room in emitted if event == supervision.EVENT and room == f"user:{live['agent_id']}"]
    assert told[-1] == {"supervisors": []}


def _row_id(supervisor_id: int) -> int:
    row = supervision.active_for(supervisor_id)
    assert row is not None
    return row.id


def test_silent_listening_stays_silent_where_the_policy_says_so(sim, live, app, monkeypatch):
    monkeypatch.setitem(app.config, "SUPERVISION_SHOWN_TO_AGENT", ("whisper", "barge"))
    emitted: list[tuple[str, dict[str, Any], str]] = []
    monkeypatch.setattr(realtime, "emit_now", lambda event, data, room: emitted.append((event, data, room)))
    boss = _supervisor(name="Ratna Dewi")
    supervision_id, _me = _join(sim, boss, live["call_id"], "listen")
    assert _seen(live["agent_id"]) == []
    assert all(data == {"supervisors": []} for event, data, _room in emitted if event == supervision.EVENT)
    _switch(sim, boss, "whisper")  # the agent hears them now: shown
    assert _seen(live["agent_id"]) == [("Ratna Dewi", "whisper")]
    # Audited all the same.
    assert [a for a, _ in _audit(live["call_id"])] == ["call.supervise.join", "call.supervise.mode"]
    assert _row(supervision_id).status == "joined"


def test_nothing_is_shown_where_the_policy_says_none(sim, live, app, monkeypatch):
    monkeypatch.setitem(app.config, "SUPERVISION_SHOWN_TO_AGENT", ())
    boss = _supervisor()
    _join(sim, boss, live["call_id"], "barge")
    assert _seen(live["agent_id"]) == []


def test_a_call_back_is_supervised_too_though_its_agent_joined_before_the_worker_was_dialled(sim, clock, client):
    """The console joins the agent on accept, before the dial job has made the worker's call:
    the agent's leg is found when the worker's leg joins, so whispering can coach it."""
    from tests.telephony.test_end_to_end import _accept, _available_agent

    agent_id = _available_agent()
    response = client.post("/api/v1/callbacks", json={"phone": "+886912345678", "language": "id", "topic": "claim_jkm"})
    callback_id = response.get_json()["id"]
    item_id = _accept(agent_id, "callback", callback_id).id
    agent = sim.agent_softphone(agent_id, item_id)  # first: no call to log it on yet
    assert _run_jobs("app.telephony.tasks.place_callback") == 1
    [worker] = sim.poll()
    worker.answer()
    assert worker.state == agent.state == "conference"
    from app.telephony.models import Call

    call_id = db.session.scalar(select(Call.id).where(Call.callback_id == callback_id))
    live = supervision.live_call(call_id)
    assert live is not None and live.agent_leg == agent.sid and live.conference == f"callback-{callback_id}"

    boss = _supervisor()
    _supervision_id, me = _join(sim, boss, call_id, "whisper")
    assert sim.hears(agent) == {worker.sid, me.sid} and sim.hears(worker) == {agent.sid}


@pytest.mark.parametrize(
    ("identity", "params"),
    [
        ("client:supervisor:99999999999", {"SupervisionId": "1"}),
        ("client:supervisor:{boss}", {"SupervisionId": "99999999999999"}),
        ("client:supervisor:{boss}", {"SupervisionId": "x1"}),
        ("client:agent:{boss}", {"WorkItemId": "99999999999999"}),
    ],
)
def test_ids_past_a_database_integer_are_refused_not_a_server_error(post, clock, identity, params):
    boss = _supervisor()
    data = {
        "CallSid": "CA" + "4" * 32, "AccountSid": "AC" + "0" * 32, "From": identity.format(boss=boss),
        "To": "", "CallStatus": "ringing", "Direction": "inbound", **params,
    }  # fmt: skip
    response = post("/telephony/voice/client", data)
    assert response.status_code == 200
    assert [child.tag for child in ET.fromstring(response.get_data(as_text=True))] == ["Say", "Hangup"]
