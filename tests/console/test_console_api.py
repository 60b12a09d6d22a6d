"""The console's JSON endpoints: state, presence, offers, screen pop, wrap-up, transfer."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.agents import routing
from app.agents.models import AgentPresence, WorkItem
from app.agents.routing import presence as presence_svc
from app.core.jobs import OutboxIntent
from app.extensions import db
from tests.factories import make_claim, make_member


def login_agent(auth, **kwargs):  # type: ignore[no-untyped-def]
    user = auth.login_as("agent", **kwargs)
    presence_svc.set_skills(user.id, languages=["id", "en"])
    db.session.commit()
    return user


def test_the_console_page_needs_the_console_permission(client, auth):
    assert client.get("/console/").status_code == 302  # to the login page
    auth.login_as("admin")
    assert client.get("/console/").status_code == 403
    assert client.get("/console/api/state", headers={"Accept": "application/json"}).status_code == 403


def test_an_agent_sees_the_console(client, auth):
    auth.login_as("agent")
    html = client.get("/console/").get_data(as_text=True)
    assert 'id="queue"' in html and "js/console/console.js" in html


def test_state_lists_the_queue_with_the_callers_local_time(client, auth, console):
    login_agent(auth)
    routing.enqueue("call", 1, language="en", topic="claim_jkk", country="HK")
    routing.enqueue("call", 2, language="ko", topic="other", country="KR")  # not this agent's language
    db.session.commit()

    data = console.get("api/state").get_json()

    assert [item["ref_id"] for item in data["queue"]] == [1]
    item = data["queue"][0]
    assert item["local_time"]["zone"] == "Asia/Hong_Kong"
    assert item["priority"] == routing.topic_priority("claim_jkk")
    assert data["seq"] == routing.current_seq() > 0
    assert data["me"]["presence"]["state"] == "offline"


def test_going_available_rings_the_agent_with_the_screen_pop(client, auth, console):
    agent = login_agent(auth)
    member = make_member(name="Siti Rahayu", phase="PMI")
    make_claim(member, claim_number="CLM-2026-777777", status="verifying")
    routing.enqueue("call", 1, language="id", topic="claim_jkk", country="TW", member_id=member.id)
    db.session.commit()

    response = console.post("api/presence", {"state": "available"})
    assert response.status_code == 200

    data = console.get("api/state").get_json()
    assert data["me"]["presence"]["state"] == "offered"
    pop = data["offer"]["screen_pop"]
    assert pop["member"]["name"] == "Siti Rahayu"
    assert [c["claim_number"] for c in pop["member"]["claims"]] == ["CLM-2026-777777"]
    assert data["offer"]["work_item"]["agent_id"] == agent.id


def test_accept_connects_and_decline_passes_it_on(client, auth, console, agent_factory):
    login_agent(auth)
    console.post("api/presence", {"state": "available"})
    work = routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()

    accepted = console.post(f"api/work/{work.id}/accept")
    assert accepted.status_code == 200
    assert accepted.get_json()["work_item"]["status"] == "connected"
    assert db.session.scalars(select(OutboxIntent.func)).all() == ["app.telephony.tasks.connect_agent"]
    # Accepting twice: the offer is gone.
    assert console.post(f"api/work/{work.id}/accept").status_code == 409


def test_decline_sends_the_offer_to_someone_else(client, auth, console, agent_factory):
    me = login_agent(auth)
    console.post("api/presence", {"state": "available"})
    work = routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    other = agent_factory()

    assert console.post(f"api/work/{work.id}/decline").status_code == 200
    db.session.expire_all()
    assert db.session.get(WorkItem, work.id).agent_id == other.id  # type: ignore[union-attr]
    assert db.session.get(AgentPresence, me.id).state == "available"  # type: ignore[union-attr]


def test_someone_elses_screen_pop_is_refused(client, auth, console, agent_factory):
    agent_factory()
    work = routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    login_agent(auth)
    assert console.get(f"api/work/{work.id}").status_code == 403


def test_wrap_up_needs_a_known_disposition_and_makes_the_agent_available(client, auth, console):
    me = login_agent(auth)
    console.post("api/presence", {"state": "available"})
    work = routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    console.post(f"api/work/{work.id}/accept")
    routing.complete("call", 1)
    db.session.commit()
    state = console.get("api/state").get_json()
    assert state["me"]["presence"]["state"] == "wrap_up"
    assert state["wrap_up"]["work_item"]["id"] == work.id

    assert console.post(f"api/work/{work.id}/wrap-up", {"disposition": "nonsense"}).status_code == 400
    assert console.post(f"api/work/{work.id}/wrap-up", {"disposition": "resolved"}).status_code == 200
    db.session.expire_all()
    assert db.session.get(AgentPresence, me.id).state == "available"  # type: ignore[union-attr]
    assert db.session.get(WorkItem, work.id).disposition == "resolved"  # type: ignore[union-attr]


def test_transfer_to_a_queue_requeues_the_call(client, auth, console):
    login_agent(auth)
    console.post("api/presence", {"state": "available"})
    work = routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    console.post(f"api/work/{work.id}/accept")

    assert console.post(f"api/work/{work.id}/transfer", {"language": "xx"}).status_code == 400
    response = console.post(f"api/work/{work.id}/transfer", {"language": "ko"})
    assert response.status_code == 200
    assert response.get_json()["work_item"] | {} and response.get_json()["work_item"]["language"] == "ko"
    assert response.get_json()["work_item"]["status"] == "waiting"


def test_scheduling_a_callback_records_the_telephony_job(client, auth, console):
    login_agent(auth)
    console.post("api/presence", {"state": "available"})
    work = routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    console.post(f"api/work/{work.id}/accept")

    assert (
        console.post(f"api/work/{work.id}/callback", {"at": "2020-01-01T00:00:00+00:00"}).status_code == 400
    )
    future = date.today().replace(year=date.today().year + 1).isoformat() + "T09:00:00+08:00"
    assert console.post(f"api/work/{work.id}/callback", {"at": future}).status_code == 202
    funcs = db.session.scalars(select(OutboxIntent.func)).all()
    assert "app.telephony.tasks.schedule_callback" in funcs


def test_state_switch_to_an_unknown_state_is_refused(client, auth, console):
    login_agent(auth)
    assert console.post("api/presence", {"state": "on_call"}).status_code == 409


@pytest.mark.parametrize("country", ["HK", "SA", "PL"])
def test_local_time_comes_from_the_country(country):
    from app.console import local_time

    assert local_time(country) is not None
    assert local_time(None) is None


def test_voice_token_is_for_signed_in_console_users_only(client, auth, console):
    anonymous = client.post("/console/api/voice-token", headers={"Accept": "application/json"})
    assert anonymous.status_code in (400, 401)  # no CSRF token / not signed in
    agent = login_agent(auth)
    response = console.post("api/voice-token")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["identity"] == f"agent:{agent.id}"
    assert response.get_json()["token"].count(".") == 2  # a JWT


def test_voice_token_is_503_when_telephony_cannot_issue_one(client, auth, console, monkeypatch):
    from app.telephony import clicktocall

    monkeypatch.setattr(clicktocall, "voice_tokens_possible", lambda: False)
    login_agent(auth)
    response = console.post("api/voice-token")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "telephony_not_configured"


def test_logout_takes_the_agent_offline_at_once(client, auth, console):
    me = login_agent(auth)
    console.post("api/presence", {"state": "available"})
    auth.logout()
    db.session.expire_all()
    assert db.session.get(AgentPresence, me.id).state == "offline"  # type: ignore[union-attr]


def test_the_screen_pop_shows_the_calls_ticket_and_the_members_other_tickets(client, auth, console):
    from app.tickets import services as tickets

    login_agent(auth)
    member = make_member(name="Dewi Kartika")
    older = tickets.open_ticket(
        channel="portal", category="claim_jht", subject="JHT payout delayed", member_id=member.id
    )
    current = tickets.open_ticket(
        channel="phone",
        category="claim_jkk",
        subject="Call about JKK claim",
        description="Caller chose topic claim_jkk",
        member_id=member.id,
    )
    db.session.commit()
    work = routing.enqueue(
        "call", 1, language="id", topic="claim_jkk", member_id=member.id, ticket_id=current.id
    )
    db.session.commit()
    console.post("api/presence", {"state": "available"})

    pop = console.get(f"api/work/{work.id}").get_json()

    assert pop["tickets"]["available"] is True
    assert pop["tickets"]["current"]["subject"] == "Call about JKK claim"
    assert pop["tickets"]["current"]["description"] == "Caller chose topic claim_jkk"
    assert [t["id"] for t in pop["tickets"]["open"]] == [older.id]


def test_supervisors_set_agent_skills_and_routing_follows(client, auth, console, agent_factory):
    agent = agent_factory(languages=["id"])
    auth.login_as("supervisor")
    assert console.post(f"api/agents/{agent.id}/skills", {"languages": ["klingon"]}).status_code == 400
    response = console.post(
        f"api/agents/{agent.id}/skills", {"languages": ["id", "ko"], "topics": ["claim_jkk"]}
    )
    assert response.status_code == 200
    assert response.get_json()["skills"] == {"language": ["id", "ko"], "topic": ["claim_jkk"]}
    listed = {a["id"]: a for a in console.get("api/agents").get_json()["agents"]}
    assert listed[agent.id]["skills"]["language"] == ["id", "ko"]

    work = routing.enqueue("call", 1, language="ko", topic="claim_jkk")
    db.session.commit()
    assert work.agent_id == agent.id


def test_agents_cannot_change_skills(client, auth, console, agent_factory):
    other = agent_factory()
    auth.login_as("agent")
    assert console.post(f"api/agents/{other.id}/skills", {"languages": ["en"]}).status_code == 403
