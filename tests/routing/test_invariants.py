"""The live queue's invariants are enforced by the database itself, not only by the router."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from app.agents import routing
from app.agents.models import WorkItem
from app.extensions import db


def test_the_database_refuses_a_second_held_item_for_one_agent(app, agent_factory):
    agent = agent_factory(available=False)
    first = routing.enqueue("call", 1, language="id", topic="other")
    second = routing.enqueue("call", 2, language="id", topic="other")
    db.session.commit()
    # A naive writer, bypassing the router's conditional updates entirely.
    db.session.execute(
        update(WorkItem).where(WorkItem.id == first.id).values(status="offered", agent_id=agent.id)
    )
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(
            update(WorkItem).where(WorkItem.id == second.id).values(status="connected", agent_id=agent.id)
        )
        db.session.commit()
    db.session.rollback()


def test_a_finished_item_does_not_count_as_held(app, agent_factory):
    agent = agent_factory(available=False)
    first = routing.enqueue("call", 1, language="id", topic="other")
    second = routing.enqueue("call", 2, language="id", topic="other")
    db.session.commit()
    db.session.execute(update(WorkItem).where(WorkItem.id == first.id).values(status="completed"))
    db.session.execute(
        update(WorkItem).where(WorkItem.id == second.id).values(status="offered", agent_id=agent.id)
    )
    db.session.commit()


def test_an_item_cannot_be_held_without_an_agent(app):
    work = routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(update(WorkItem).where(WorkItem.id == work.id).values(status="offered"))
        db.session.commit()
    db.session.rollback()


def test_the_database_refuses_two_live_items_for_one_call(app):
    routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.add(
            WorkItem(
                kind="call",
                ref_id=1,
                status="waiting",
                language="id",
                topic="other",
                priority=10,
                excluded_agents=[],
            )
        )
        db.session.commit()
    db.session.rollback()


def test_offering_an_item_already_offered_changes_nothing(app, agent_factory):
    first = agent_factory()
    second = agent_factory()
    work = routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    assert work.agent_id == first.id
    assert routing.offer(work.id, second.id) is False  # conditional UPDATE: status is not 'waiting'
    db.session.commit()
    db.session.refresh(work)
    assert work.agent_id == first.id
