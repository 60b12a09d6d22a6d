"""Supervisors on live calls through the real routes (issue 15): the wallboard lists the call an
agent is on, a supervisor joins it from there (listen, whisper, barge), switches and leaves with
the JSON API, and the agent's console shows it; agents and anonymous visitors are refused.

The call runs in this process's telephony simulator (the one the console and these routes use):
a worker dials in, an agent accepts and joins from the console; jobs run as the worker runs them.
"""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select

from app.core.audit import AuditEvent
from app.core.jobs import OutboxIntent, run_intent
from app.extensions import db
from app.telephony.models import Call, Supervision
from app.telephony.softphone import get_simulator
from tests.conftest import Auth, RequestScopedClient, csrf_token
from tests.console.conftest import ConsoleApi
from tests.console.test_softphone_api import OPEN_HOURS, _connected

pytestmark = pytest.mark.committed  # the simulator's webhooks write in their own sessions

API = "/supervisor/api/"


class SupervisorApi:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.token = csrf_token(client, "/supervisor/wallboard") if client is not None else ""

    def get(self, path: str) -> Any:
        return self.client.get(API + path, headers={"Accept": "application/json"})

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(
            API + path, json=body or {}, headers={"X-CSRFToken": self.token, "Accept": "application/json"}
        )


@pytest.fixture
def sim(app, client, redis_conn):  # type: ignore[no-untyped-def]
    # A Monday morning in Jakarta (the centre is open), before anyone signs in.
    with time_machine.travel(OPEN_HOURS, tick=True):
        yield get_simulator(app)


@pytest.fixture
def console(client: Any) -> ConsoleApi:
    return ConsoleApi(client)


def _client(app: Flask) -> Any:
    app.test_client_class = RequestScopedClient
    return app.test_client()


def _signed_in(app: Flask, role: str, **kwargs: Any) -> tuple[Any, int]:
    """A signed-in client and the user's id (an id: jobs close the session)."""
    client = _client(app)
    user = Auth(client).login_as(role, **kwargs)
    return client, int(user.id)


def _run(func: str) -> int:
    ran = 0
    for intent_id in db.session.scalars(
        select(OutboxIntent.id).where(OutboxIntent.func == func, OutboxIntent.status == "pending")
    ).all():
        assert run_intent(intent_id) == "done"
        ran += 1
    return ran


@pytest.fixture
def on_call(app, sim, auth, console):  # type: ignore[no-untyped-def]
    """An agent on a call with a worker, joined from the console."""
    agent_id, phone, item_id, _leg = _connected(sim, auth, console)
    call_id = db.session.scalar(select(Call.id).where(Call.call_sid == phone.sid))
    return {"agent_id": agent_id, "caller": phone, "item_id": item_id, "call_id": call_id}


def _agent_leg(sim, agent_id: int):  # type: ignore[no-untyped-def]
    return next(leg for leg in sim.legs.values() if leg.from_ == f"client:agent:{agent_id}")


def test_the_wallboard_lists_the_call_and_a_supervisor_whispers_switches_and_leaves(app, sim, on_call, console):
    client, boss = _signed_in(app, "supervisor", name="Ratna Dewi")
    api = SupervisorApi(client)
    snapshot = client.get("/supervisor/api/wallboard").get_json()
    [row] = snapshot["calls"]
    assert row["call_id"] == on_call["call_id"] and row["agent_id"] == on_call["agent_id"]
    assert row["language"] == "id" and row["topic"] == "claim_jkk" and row["country"] == "HK"
    assert row["supervisors"] == []

    response = api.post(f"calls/{on_call['call_id']}/supervise", {"mode": "whisper"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["provider"] == "simulator"
    assert body["supervision"]["status"] == "joined" and body["supervision"]["mode"] == "whisper"
    assert body["softphone"]["state"] == "in_call"
    assert body["softphone"]["hears"] == ["agent", "caller"] and body["softphone"]["heard_by"] == ["agent"]
    caller, agent = on_call["caller"], _agent_leg(sim, on_call["agent_id"])
    me = next(leg for leg in sim.legs.values() if leg.from_ == f"client:supervisor:{boss}")
    assert sim.hears(agent) == {caller.sid, me.sid} and sim.hears(caller) == {agent.sid}

    # The agent's console shows it (state after a reload, as the event says it live).
    state = console.get("api/state").get_json()
    assert state["supervision"]["supervisors"] == [
        {"supervision_id": body["supervision"]["id"], "name": "Ratna Dewi", "mode": "whisper",
         "since": state["supervision"]["supervisors"][0]["since"]}
    ]  # fmt: skip
    # The wallboard names the supervisor on that call.
    [row] = client.get("/supervisor/api/wallboard").get_json()["calls"]
    assert row["supervisors"] == [{"id": boss, "name": "Ratna Dewi", "mode": "whisper", "status": "joined"}]

    # Barge in: the worker now hears the supervisor too (once the worker has told the provider).
    assert api.post("supervision/mode", {"mode": "barge"}).status_code == 200
    assert _run("app.telephony.tasks.apply_supervision") == 1
    body = api.post("supervision/sync").get_json()
    assert body["supervision"]["applied_mode"] == "barge"
    assert body["softphone"]["heard_by"] == ["agent", "caller"]
    assert sim.hears(caller) == {agent.sid, me.sid}
    assert console.get("api/state").get_json()["supervision"]["supervisors"][0]["mode"] == "barge"

    # Leave: out of the conference at once; the agent's console no longer shows anyone.
    body = api.post("supervision/leave").get_json()
    assert body["supervision"] is None and body["softphone"]["state"] == "ended"
    assert me.state == "ended" and sim.hears(caller) == {agent.sid}
    assert console.get("api/state").get_json()["supervision"] == {"supervisors": []}
    actions = db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.entity_type == "call", AuditEvent.entity_id == str(on_call["call_id"]))
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["call.supervise.join", "call.supervise.mode", "call.supervise.leave"]
    assert db.session.scalar(select(AuditEvent.actor_id).where(AuditEvent.action == "call.supervise.join")) == boss


def test_an_admin_may_listen_too(app, sim, on_call):
    client, _admin = _signed_in(app, "admin")
    body = SupervisorApi(client).post(f"calls/{on_call['call_id']}/supervise", {"mode": "listen"}).get_json()
    assert body["supervision"]["status"] == "joined" and body["softphone"]["heard_by"] == []


def test_bad_requests_are_4xx_with_a_reason(app, sim, on_call):
    client, _boss = _signed_in(app, "supervisor")
    api = SupervisorApi(client)
    for body in ({}, {"mode": "shout"}, {"mode": 3}, {"mode": None}):
        response = api.post(f"calls/{on_call['call_id']}/supervise", body)
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "mode", body
    response = api.post("calls/99999999/supervise", {"mode": "listen"})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "not_live"
    assert api.post("calls/99999999999999999999/supervise", {"mode": "listen"}).status_code == 404
    for path in ("supervision/mode", "supervision/leave"):
        response = api.post(path, {"mode": "listen"})
        assert response.status_code == 409 and response.get_json()["error"]["code"] == "none", path
    # Without the CSRF token, nothing happens.
    response = client.post(f"{API}calls/{on_call['call_id']}/supervise", json={"mode": "listen"})
    assert response.status_code == 400
    assert db.session.scalars(select(Supervision)).all() == []


@pytest.mark.parametrize("who", ["anonymous", "agent"])
def test_agents_and_anonymous_visitors_are_refused_every_supervision_route(app, sim, on_call, who):
    if who == "anonymous":
        client = _client(app)
        token = csrf_token(client)
        expected = 401
    else:
        client, _agent = _signed_in(app, "agent")
        token = csrf_token(client, "/staff/")
        expected = 403
    headers = {"X-CSRFToken": token, "Accept": "application/json"}
    requests = [
        ("GET", "supervision"),
        ("POST", "supervision/sync"),
        ("POST", f"calls/{on_call['call_id']}/supervise"),
        ("POST", "supervision/mode"),
        ("POST", "supervision/leave"),
        ("POST", "voice-token"),
    ]
    for method, path in requests:
        response = client.open(API + path, method=method, json={"mode": "listen"}, headers=headers)
        assert response.status_code == expected, (method, path, response.status_code)
    assert db.session.scalars(select(Supervision)).all() == []
    # The call goes on untouched: nobody else in the conference.
    conference = f"call-{on_call['call_id']}-{on_call['item_id']}-1"
    assert len(sim.in_conference(conference)) == 2


def test_the_agent_on_the_call_cannot_join_it_even_as_a_supervisor(app, sim, auth, console):
    """A supervisor who takes calls (console) cannot listen to their own."""
    client = auth.client
    user = auth.login_as("supervisor")
    from app.agents.routing import presence as presence_svc

    presence_svc.set_skills(user.id, languages=["id", "en"])
    db.session.commit()
    assert console.post("api/presence", {"state": "available"}).status_code == 200
    from tests.console.test_softphone_api import _caller, _offered_to_me, _run_connect_jobs

    phone = _caller(sim)
    item_id = _offered_to_me(console)["work_item"]["id"]
    assert console.post(f"api/work/{item_id}/accept").status_code == 200
    _run_connect_jobs()
    assert console.post("api/softphone/join", {"work_item_id": item_id}).status_code == 200
    call_id = db.session.scalar(select(Call.id).where(Call.call_sid == phone.sid))
    response = SupervisorApi(client).post(f"calls/{call_id}/supervise", {"mode": "listen"})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "own_call"


def test_the_supervisors_voice_token_names_them_and_only_calls_out(app, sim):
    import jwt

    client, boss = _signed_in(app, "supervisor")
    body = SupervisorApi(client).post("voice-token").get_json()
    assert body["identity"] == f"supervisor:{boss}"
    grants = jwt.decode(body["token"], options={"verify_signature": False})["grants"]
    assert grants["identity"] == f"supervisor:{boss}"
    assert grants["voice"].get("incoming", {}).get("allow") in (None, False)


def test_the_wallboard_page_offers_the_three_modes_in_the_readers_language(app, sim, on_call):
    client, _boss = _signed_in(app, "supervisor", language="en")
    page = client.get("/supervisor/wallboard").get_data(as_text=True)
    assert f'data-call="{on_call["call_id"]}"' in page
    for word in ("Listen", "Whisper", "Barge in", "Calls in progress", "Leave the call"):
        assert word in page, word
    assert "Hong Kong" in page  # the caller's country by its name
