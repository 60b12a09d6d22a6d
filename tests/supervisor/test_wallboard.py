"""The wallboard snapshot, its page and API (who may see them), and the coalescing pusher."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.agents.models import AgentPresence, WorkItem
from app.supervisor import kpis, wallboard
from app.telephony.models import CallbackRequest
from tests.factories import TicketFactory, make_user
from tests.supervisor.calllog import Spec, add_call, wib

NOW = wib("12:00")
SETTINGS = kpis.KpiSettings(answer_target=20, short_abandon=5, timezone="Asia/Jakarta")


TICKETS = [
    # (case, ticket status, the SLA engine's sla_status, expected on the wallboard)
    ("breached, still open", "new", "breached", "breached"),
    ("breached, waiting on the worker", "pending_worker", "breached", "breached"),
    ("warned, still open", "open", "at_risk", "at_risk"),
    ("on track", "open", "ok", None),
    ("resolved late is history, not the floor", "resolved", "breached", None),
    ("closed tickets are not counted", "closed", "breached", None),
    ("no policy", "open", None, None),
]


@pytest.mark.parametrize(("case", "status", "sla_status", "expected"), TICKETS, ids=[t[0] for t in TICKETS])
def test_ticket_sla_counts(db, case, status, sla_status, expected):
    TicketFactory(status=status, sla_status=sla_status, commit=False)
    db.session.commit()
    counts = wallboard.ticket_sla_counts(NOW)
    assert counts == {
        "breached": 1 if expected == "breached" else 0,
        "at_risk": 1 if expected == "at_risk" else 0,
    }


def _item(db, ref_id, status, language="id", enqueued_at=NOW, agent_id=None, kind="call"):
    item = WorkItem(
        kind=kind,
        ref_id=ref_id,
        status=status,
        language=language,
        topic="other",
        agent_id=agent_id,
        excluded_agents=[],
        enqueued_at=enqueued_at,
        version=1,
    )
    db.session.add(item)
    return item


def test_snapshot_counts_the_live_queue_agents_callbacks_and_today(db):
    a1, a2, a3 = make_user(), make_user(), make_user()
    _item(db, 1, "waiting", "id", NOW - 90 * timedelta(seconds=1))
    _item(db, 2, "offered", "id", NOW - 30 * timedelta(seconds=1), agent_id=a1.id)  # ringing: still waiting
    _item(db, 3, "connected", "id", NOW - 300 * timedelta(seconds=1), agent_id=a2.id)  # talking: not waiting
    _item(db, 4, "waiting", "en", NOW - 10 * timedelta(seconds=1))
    _item(db, 5, "waiting", "id", NOW - 999 * timedelta(seconds=1), kind="callback")  # not a call
    db.session.add_all(
        [
            AgentPresence(agent_id=a1.id, state="offered", version=1),
            AgentPresence(agent_id=a2.id, state="on_call", version=1),
            AgentPresence(agent_id=a3.id, state="available", version=1),
        ]
    )
    for status in ("pending", "scheduled", "completed", "failed", "dialing"):
        db.session.add(CallbackRequest(phone="+85291234567", status=status))
    add_call(Spec("09:00", answer=10, talk=100))
    add_call(Spec("09:05", answer=40, talk=100))
    add_call(Spec("09:10", language="en", abandon=30))
    add_call(Spec("09:00", day=(2026, 3, 1), abandon=30))  # yesterday
    db.session.commit()

    data = wallboard.snapshot(NOW, SETTINGS)

    queues = {q["queue"]: q for q in data["queues"]}
    assert queues["id"]["waiting"] == 2
    assert datetime.fromisoformat(queues["id"]["oldest_since"]) == NOW - timedelta(seconds=90)
    assert queues["en"]["waiting"] == 1
    assert data["waiting"] == 3
    assert (
        data["agents"]["available"] == 1 and data["agents"]["on_call"] == 1 and data["agents"]["offered"] == 1
    )
    assert data["callbacks_pending"] == 2
    assert data["today"]["offered"] == 3
    assert data["today"]["service_level"] == pytest.approx(1 / 3)  # 1 in time of 2 answered + 1 abandoned
    assert data["today"]["asa"] == pytest.approx(25)
    assert data["today"]["aht"] == pytest.approx(100)
    assert data["today"]["abandon_rate"] == pytest.approx(1 / 3)
    assert queues["en"]["today"]["abandoned"] == 1
    assert data["day"] == "2026-03-02"


def test_the_fingerprint_ignores_the_clock_but_not_a_change(db):
    _item(db, 1, "waiting", "id", NOW - timedelta(seconds=30))
    db.session.commit()
    first = wallboard.snapshot(NOW, SETTINGS)
    later = wallboard.snapshot(NOW + timedelta(seconds=5), SETTINGS)
    assert first["fingerprint"] == later["fingerprint"]
    assert first["generated_at"] != later["generated_at"]
    _item(db, 2, "waiting", "id", NOW)
    db.session.commit()
    assert wallboard.snapshot(NOW + timedelta(seconds=6), SETTINGS)["fingerprint"] != first["fingerprint"]


@pytest.mark.parametrize(("role", "status"), [("agent", 403), ("supervisor", 200), ("admin", 200)])
@pytest.mark.parametrize("path", ["/supervisor/wallboard", "/supervisor/api/wallboard", "/supervisor/"])
def test_only_supervisors_and_admins_see_the_wallboard(client, auth, role, status, path):
    auth.login_as(role)
    assert client.get(path).status_code == status


def test_anonymous_wallboard_api_is_401_and_page_goes_to_login(client):
    assert client.get("/supervisor/api/wallboard", headers={"Accept": "application/json"}).status_code == 401
    response = client.get("/supervisor/wallboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_wallboard_page_shows_the_snapshot(db, client, auth):
    auth.login_as("supervisor")
    _item(db, 1, "waiting", "en", NOW)
    db.session.commit()
    html = client.get("/supervisor/wallboard").get_data(as_text=True)
    assert 'data-field="waiting">1<' in html
    assert "English" in html  # queue names, not codes
    assert "/supervisor/api/wallboard" in html


def test_api_returns_the_snapshot_json(db, client, auth):
    auth.login_as("supervisor")
    _item(db, 1, "waiting", "id", NOW)
    db.session.commit()
    data = client.get("/supervisor/api/wallboard").get_json()
    assert data["waiting"] == 1
    assert set(data) >= {
        "queues",
        "agents",
        "today",
        "callbacks_pending",
        "tickets",
        "fingerprint",
        "generated_at",
    }
