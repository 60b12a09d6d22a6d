"""Demo data: realistic, varied, and safe to load twice."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.agents.routing.presence import agent_languages
from app.core.phone import parse_phone
from app.demo import seed
from app.records.identifiers import cross_check_nik
from app.records.models import CLAIM_STATUSES, Claim, Member
from app.staff.models import User


def test_seed_is_varied_consistent_and_idempotent(app, db, tmp_path):
    app.config["DEMO_LOGINS_FILE"] = str(tmp_path / "logins.json")

    first = seed(members=60, history_days=7)
    again = seed(members=60, history_days=7)

    assert (first.members, again.members, again.staff, again.tickets) == (60, 0, 0, 0)
    assert db.session.scalar(select(func.count(Member.id))) == 60
    statuses = set(db.session.scalars(select(Claim.status)))
    assert statuses == set(CLAIM_STATUSES)
    members = db.session.scalars(select(Member)).all()
    assert len({m.placement_country for m in members}) >= 4
    for member in members:
        assert not cross_check_nik(member.nik, member.birth_date, member.sex)  # no warnings
        if member.phone_abroad:
            assert parse_phone(member.phone_abroad).country == member.placement_country
    logins = json.loads((tmp_path / "logins.json").read_text())
    assert len(logins) == db.session.scalar(select(func.count(User.id))) == 6
    agent = db.session.scalar(select(User).where(User.email == "agent3@halopmi.local"))
    assert set(agent_languages(agent.id)) == {"id", "en", "yue"}


def test_demo_history_goes_through_the_sla_engine(app, db, tmp_path):
    from app.sla import reports
    from app.sla.models import SlaEvent
    from app.tickets.models import Ticket

    app.config["DEMO_LOGINS_FILE"] = str(tmp_path / "logins.json")
    report = seed(members=30, history_days=14)
    assert report.tickets >= 14 * 5
    tickets = db.session.scalars(select(Ticket)).all()
    assert all(t.sla_policy_id is not None for t in tickets)
    assert {t.status for t in tickets} >= {"open", "resolved"}
    answered = [t for t in tickets if t.first_response_seconds is not None]
    assert answered and any(t.first_response_margin_seconds < 0 for t in answered)  # some late
    assert any(t.first_response_margin_seconds >= 0 for t in answered)  # most on time
    assert db.session.scalar(select(func.count(SlaEvent.id)).where(SlaEvent.kind == "breach")) > 0
    period = reports.parse_period(None, None)
    total = reports.totals(reports.compliance("category", period))
    assert total["tickets"] > 0 and 0 < total["fr_rate"] < 100
