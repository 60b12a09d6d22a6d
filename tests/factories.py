"""Factories: valid domain objects with overridable fields, committed to the test database."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from app.agents.models import User
from app.extensions import db
from app.records.models import Claim, Member

_seq = itertools.count(1)


def make_user(role: str = "agent", password: str = "correct horse battery", **kwargs: Any) -> User:  # noqa: S107
    n = next(_seq)
    user = User(
        email=kwargs.pop("email", f"{role}{n}@example.test"),
        name=kwargs.pop("name", f"{role.title()} {n}"),
        role=role,
        # Tests read English text; the Indonesian default is covered by tests/test_i18n.py.
        language=kwargs.pop("language", "en"),
        **kwargs,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def make_member(**kwargs: Any) -> Member:
    n = next(_seq)
    values: dict[str, Any] = {
        "kpj": f"{n:011d}",
        "name": f"Siti Aminah {n}",
        "name_key": f"siti aminah {n}",
        "birth_date": date(1990, 5, 17),
        "sex": "F",
        "nik": f"3201015705900{n:03d}"[-16:],
        "phone_abroad": "+85291234567",
        "placement_country": "HK",
        "phase": "PMI",
        "programs": ["JKK", "JKM"],
        "membership_status": "active",
    }
    values.update(kwargs)
    member = Member(**values)
    db.session.add(member)
    db.session.commit()
    return member


def make_claim(member: Member, **kwargs: Any) -> Claim:
    n = next(_seq)
    values: dict[str, Any] = {
        "claim_number": f"CLM-2026-{n:06d}",
        "member_id": member.id,
        "program": "JKK",
        "benefit_type": "medical_abroad",
        "status": "verifying",
        "incident_date": date(2026, 3, 2),
        "amount": 12_500_000,
    }
    values.update(kwargs)
    claim = Claim(**values)
    db.session.add(claim)
    db.session.commit()
    return claim
