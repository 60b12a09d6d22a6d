"""routing_event: receivers hear the kinds they are connected for, in routing's transaction;
a failing one is undone (its savepoint) unless marked has_own_savepoints, and never undoes the
routing decision."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.agents import routing
from app.agents.models import AgentSkill, WorkItem
from app.extensions import db
from tests.routing.conftest import make_agent


def test_a_receiver_hears_the_kinds_it_is_connected_for(app):
    heard: list[tuple[str, int, str]] = []

    def receiver(kind: str, *, item: Any, event: Any) -> None:
        heard.append((kind, item.id, event.kind))

    with routing.routing_event.connected_to(receiver, sender="offered"):
        agent = make_agent()
        item = routing.enqueue("callback", 7, language="id", topic="other")
        routing.accept(agent.id, item.id)
    db.session.commit()
    assert heard == [("offered", item.id, "offered")]  # not "enqueued", not "accepted"


def test_a_failing_receiver_is_undone_and_the_decision_stands(app):
    def failing(kind: str, *, item: Any, event: Any) -> None:
        db.session.add(AgentSkill(agent_id=item.agent_id, kind="topic", value="undone"))
        raise RuntimeError("down")

    agent = make_agent()
    with routing.routing_event.connected_to(failing, sender="offered"):
        routing.enqueue("callback", 8, language="id", topic="other")
    db.session.commit()
    item = db.session.scalar(select(WorkItem).where(WorkItem.ref_id == 8))
    assert item is not None and item.status == "offered" and item.agent_id == agent.id
    assert db.session.scalar(select(AgentSkill).where(AgentSkill.value == "undone")) is None


def test_a_receiver_with_its_own_savepoints_runs_without_one(app):
    def own(kind: str, *, item: Any, event: Any) -> None:
        db.session.add(AgentSkill(agent_id=item.agent_id, kind="topic", value="kept"))
        raise RuntimeError("down after writing")

    agent = make_agent()
    with routing.routing_event.connected_to(routing.has_own_savepoints(own), sender="offered"):
        routing.enqueue("callback", 9, language="id", topic="other")
    db.session.commit()
    # Nothing wrapped it: what it wrote before failing stays, as the mark promises.
    assert db.session.scalar(select(AgentSkill.agent_id).where(AgentSkill.value == "kept")) == agent.id
