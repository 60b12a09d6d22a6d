"""Demo data: realistic, varied, and safe to load twice."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.agents.models import User
from app.agents.presence import agent_languages
from app.core.phone import parse_phone
from app.demo import seed
from app.records.identifiers import cross_check_nik
from app.records.models import CLAIM_STATUSES, Claim, Member


def test_seed_is_varied_consistent_and_idempotent(app, db, tmp_path):
    app.config["DEMO_LOGINS_FILE"] = str(tmp_path / "logins.json")

    first = seed(members=60)
    again = seed(members=60)

    assert (first.members, again.members, again.staff) == (60, 0, 0)
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
