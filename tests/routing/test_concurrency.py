"""Routing under real concurrency on PostgreSQL: racing routers and a router killed mid-offer.

SQLite has one writer and ignores FOR UPDATE, so these tests only run on PostgreSQL
(``TEST_DATABASE_URL=postgresql+psycopg://…``; CI runs them).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.agents import routing
from app.agents.models import AgentPresence, AgentStateEvent, RoutingEvent, WorkItem
from app.core.time import utcnow
from app.extensions import db

# Several connections race on committed rows.
pytestmark = [pytest.mark.postgres, pytest.mark.committed]
ROOT = Path(__file__).resolve().parents[2]


def race(app, workers: int, fn) -> list[BaseException]:  # type: ignore[no-untyped-def]
    """Run ``fn`` in ``workers`` threads, each with its own app context (own session and
    connection), released together by a barrier. Returns the errors raised."""
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                fn()
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def assert_invariants(expected_offers: int) -> None:
    db.session.expire_all()
    held = db.session.execute(
        select(WorkItem.agent_id, func.count())
        .where(WorkItem.status.in_(("offered", "connected")))
        .group_by(WorkItem.agent_id)
    ).all()
    assert all(count == 1 for _agent, count in held), held
    offers_per_item = Counter(
        db.session.scalars(select(RoutingEvent.work_item_id).where(RoutingEvent.kind == "offered"))
    )
    assert offers_per_item and max(offers_per_item.values()) == 1, offers_per_item
    offers_per_agent = Counter(
        db.session.scalars(select(AgentStateEvent.agent_id).where(AgentStateEvent.to_state == "offered"))
    )
    assert max(offers_per_agent.values()) == 1, offers_per_agent
    assert sum(offers_per_item.values()) == expected_offers
    offered_agents = set(
        db.session.scalars(select(AgentPresence.agent_id).where(AgentPresence.state == "offered"))
    )
    assert offered_agents == {agent for agent, _count in held}


def test_racing_routers_never_offer_an_item_twice_nor_give_an_agent_two(app, agent_factory):
    for _ in range(12):
        agent_factory()
    for n in range(30):
        routing.enqueue("call", 1000 + n, language="id", topic="other")  # agents are busy after 12
    db.session.commit()
    db.session.execute(
        text(
            "UPDATE work_items SET status='waiting', agent_id=NULL, offers=0, "
            "offer_expires_at=NULL WHERE status='offered'"
        )
    )
    db.session.execute(text("UPDATE agent_presence SET state='available'"))
    db.session.execute(text("DELETE FROM routing_events WHERE kind='offered'"))
    db.session.execute(text("DELETE FROM agent_state_events WHERE to_state='offered'"))
    db.session.commit()

    errors = race(app, 16, routing.route)

    assert errors == []
    assert_invariants(expected_offers=12)


def test_threads_offering_one_item_to_different_agents_have_one_winner(app, agent_factory):
    agents = [agent_factory(available=False) for _ in range(12)]
    work = routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    db.session.execute(text("UPDATE agent_presence SET state='available'"))
    db.session.commit()
    work_id = work.id  # threads must not touch this session's objects
    picks = iter([agent.id for agent in agents])
    lock = threading.Lock()
    wins: list[bool] = []

    def offer_to_next_agent() -> None:
        with lock:
            agent_id = next(picks)
        wins.append(routing.offer(work_id, agent_id))

    errors = race(app, len(agents), offer_to_next_agent)

    assert errors == []
    assert wins.count(True) == 1
    assert_invariants(expected_offers=1)


def test_threads_offering_different_items_to_one_agent_have_one_winner(app, agent_factory):
    agent = agent_factory(available=False)
    items = [routing.enqueue("call", n, language="id", topic="other") for n in range(12)]
    db.session.commit()
    db.session.execute(text("UPDATE agent_presence SET state='available'"))
    db.session.commit()
    agent_id = agent.id  # threads must not touch this session's objects
    picks = iter([work.id for work in items])
    lock = threading.Lock()
    wins: list[bool] = []

    def offer_next_item() -> None:
        with lock:
            work_id = next(picks)
        wins.append(routing.offer(work_id, agent_id))

    errors = race(app, len(items), offer_next_item)

    assert errors == []
    assert wins.count(True) == 1
    assert_invariants(expected_offers=1)


def test_racing_enqueues_each_find_their_own_agent(app, agent_factory):
    for _ in range(10):
        agent_factory()
    counter = iter(range(100))
    lock = threading.Lock()

    def enqueue_one() -> None:
        with lock:
            ref = next(counter)
        routing.enqueue("call", ref, language="id", topic="other")

    errors = race(app, 20, enqueue_one)

    assert errors == []
    assert db.session.scalar(select(func.count(WorkItem.id))) == 20
    # Ten agents, twenty calls: ten offers (any not made at enqueue is made by the next tick).
    routing.route()
    db.session.commit()
    assert_invariants(expected_offers=10)


CHILD = """
import os, sys, time
from app import create_app
from config import TestingConfig
from app.extensions import db
from app.agents import routing
app = create_app(TestingConfig)
with app.app_context():
    item_id, agent_id, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    assert routing.offer(item_id, agent_id)
    if mode == "commit":
        db.session.commit()
    print("claimed", flush=True)
    time.sleep(600)
"""


def _router_process(item_id: int, agent_id: int, mode: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", CHILD, str(item_id), str(agent_id), mode],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "claimed":
        process.kill()
        raise AssertionError(
            f"router process failed: {line!r} {process.stderr.read() if process.stderr else ''}"
        )
    return process


def _kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def test_a_router_killed_before_commit_leaves_the_item_waiting_and_it_is_offered(app, agent_factory):
    first = agent_factory(available=False)
    work = routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    routing_agent = agent_factory()  # available now, but the item was enqueued before
    db.session.execute(
        text("UPDATE work_items SET status='waiting', agent_id=NULL WHERE id=:id"), {"id": work.id}
    )
    db.session.execute(
        text("UPDATE agent_presence SET state='available' WHERE agent_id=:a"), {"a": routing_agent.id}
    )
    db.session.commit()
    other = agent_factory()

    child = _router_process(work.id, routing_agent.id, "hold")
    try:
        # While the dying router holds its locks, another router skips them instead of waiting
        # (SKIP LOCKED) and cannot offer the locked item to anyone.
        db.session.execute(text("SET LOCAL lock_timeout = '3s'"))  # a regression fails, not hangs
        made = routing.route()
        db.session.commit()
        assert work.id not in [item_id for item_id, _agent in made]
    finally:
        _kill(child)

    # The killed transaction is rolled back by PostgreSQL: nothing of it remains.
    db.session.expire_all()
    assert db.session.get(WorkItem, work.id).status == "waiting"  # type: ignore[union-attr]
    assert db.session.get(AgentPresence, routing_agent.id).state == "available"  # type: ignore[union-attr]
    made = routing.route()
    db.session.commit()
    assert [item_id for item_id, _agent in made] == [work.id]
    assert_invariants(expected_offers=1)
    assert first.id not in [a for _i, a in made] and other.id is not None


def test_a_router_killed_after_its_offer_committed_is_recovered_by_the_offer_timeout(app, agent_factory):
    app.config["PRESENCE_GRACE_SECONDS"] = 600
    silent = agent_factory(available=False)
    work = routing.enqueue("call", 1, language="id", topic="other")
    db.session.commit()
    db.session.execute(
        text("UPDATE agent_presence SET state='available' WHERE agent_id=:a"), {"a": silent.id}
    )
    db.session.commit()

    _kill(_router_process(work.id, silent.id, "commit"))  # offered, but nobody was told

    next_agent = agent_factory()
    db.session.expire_all()
    assert db.session.get(WorkItem, work.id).agent_id == silent.id  # type: ignore[union-attr]
    result = routing.tick(now=utcnow() + timedelta(seconds=21))
    db.session.commit()
    assert result["expired_offers"] == [work.id]
    db.session.expire_all()
    assert db.session.get(WorkItem, work.id).agent_id == next_agent.id  # type: ignore[union-attr]
    assert db.session.get(AgentPresence, silent.id).state == "away"  # type: ignore[union-attr]


def test_racing_enqueues_of_one_call_make_one_live_item(app):
    """The same call enqueued by eight webhooks at once (replays racing): one INSERT wins on the
    partial unique index, the others find its item; nobody fails."""
    ids: list[int] = []

    def enqueue() -> None:
        ids.append(routing.enqueue("call", 4242, language="id", topic="other").id)

    errors = race(app, 8, enqueue)
    assert errors == []
    db.session.expire_all()
    live = db.session.scalars(select(WorkItem.id).where(WorkItem.ref_id == 4242)).all()
    assert len(live) == 1 and set(ids) == set(live)
    enqueued = db.session.scalar(
        select(func.count()).select_from(RoutingEvent).where(RoutingEvent.work_item_id == live[0], RoutingEvent.kind == "enqueued")
    )
    assert enqueued == 1
