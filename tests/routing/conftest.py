"""Fixtures for the live queue: agents with skills and presence, a clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from app.agents.models import AVAILABLE
from app.agents.routing import presence as presence_svc
from app.core.time import utcnow
from app.extensions import db
from tests.factories import make_user


def make_agent(
    *,
    languages: list[str] | None = None,
    topics: list[str] | None = None,
    available: bool = True,
    idle_since: datetime | None = None,
    role: str = "agent",
    **kwargs: Any,
):  # type: ignore[no-untyped-def]
    """An agent with skills; available (idle since ``idle_since``) unless told otherwise."""
    user = make_user(role=role, **kwargs)
    presence_svc.set_skills(user.id, languages=languages or ["id"], topics=topics or [])
    presence_svc.get_presence(user.id)
    presence_svc.console_seen([user.id])
    if available:
        presence_svc.transition(user.id, AVAILABLE, "test")
        if idle_since is not None:
            presence_svc.get_presence(user.id).last_idle_since = idle_since
    db.session.commit()
    return user


@pytest.fixture
def agent_factory(app):  # type: ignore[no-untyped-def]
    return make_agent


@pytest.fixture
def later():  # type: ignore[no-untyped-def]
    """``later(seconds)``: a time that many seconds from now (for time-outs without sleeping)."""

    def _later(seconds: float) -> datetime:
        return utcnow() + timedelta(seconds=seconds)

    return _later
